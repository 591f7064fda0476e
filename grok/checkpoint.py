"""Save, load and validate model files, run folders and replay snapshots (safetensors + JSON).

No pickle anywhere. Every loader checks what it reads and raises `CheckpointError` with one
sentence naming the file and what is wrong, so the CLI and the app can show it as it is.

A run folder (written by `python -m grok.train`):
    config.json          TrainConfig.to_dict()
    metrics.jsonl        one JSON object per eval step
    model.safetensors    final (or latest, for a stopped run) weights; metadata: format, config, step
    state.safetensors    resume state: weights, AdamW moments, Grokfast EMA, RNG, step
    snapshots/step_XXXXXXXX.safetensors   weights along training, for replay
    replay.safetensors   precomputed replay frames (grok.replay)
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from . import atomic
from .config import FORMAT_VERSION, ConfigError, ModelConfig, TrainConfig
from .model import BUFFER_SUFFIXES, Transformer

FORMAT = "grok-explorer"


# The torch-free readers of a run folder live in grok/runfiles.py (the app's sidebar and Home
# page use them before torch is imported); they and the run folder's file names are re-exported here.
from .runfiles import (  # noqa: E402,F401
    CONFIG_FILE, METRICS_FILE, MODEL_FILE, REPLAY_FILE, SNAPSHOT_DIR, STATE_FILE,
    CheckpointError, check_version, load_config, read_metrics, snapshot_path, snapshot_steps,
)


# ---------------------------------------------------------------- raw safetensors I/O
def save_tensors(path, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Atomic safetensors write; metadata values are JSON-encoded strings."""
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION)}
    for k, v in (metadata or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v)
    data = st_save({k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}, metadata=meta)
    atomic.write_bytes(path, data)


def read_tensors(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a whole safetensors file, turning every failure into a CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, expected a .safetensors file")
    data = path.read_bytes()
    if len(data) < 8:
        raise CheckpointError(f"{path}: not a safetensors file ({len(data)} bytes, too short for a header)")
    header_len = int.from_bytes(data[:8], "little")
    if header_len > len(data) - 8:
        raise CheckpointError(f"{path}: not a safetensors file or truncated (header claims {header_len} bytes, file has {len(data) - 8})")
    try:
        header = json.loads(data[8 : 8 + header_len])
        tensors = st_load(data)
    except (SafetensorError, ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file or truncated ({e})") from None
    return tensors, check_version(path, header.get("__metadata__") or {})


def _meta_json(path, meta: dict, key: str):
    try:
        return json.loads(meta[key])
    except (KeyError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: metadata '{key}' is missing or not JSON ({e})") from None


# ---------------------------------------------------------------- model files
@dataclass
class Loaded:
    """A model read from disk, with where it came from and what had to be guessed."""

    model: Transformer
    config: TrainConfig
    step: int | None
    path: Path
    inferred: list[str] = field(default_factory=list)  # config fields read off tensor shapes
    config_from_run: bool = True  # False when the split/recipe are defaults, not the run's own

    def report(self) -> str:
        c = self.config.model
        s = f"{self.path}: p={c.p}, d_model={c.d_model}, heads={c.n_heads}x{c.d_head}, d_mlp={c.d_mlp}"
        if self.step is not None:
            s += f", step {self.step}"
        if self.inferred:
            s += f" (inferred from tensor shapes: {', '.join(self.inferred)})"
        return s


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in Transformer(cfg, seed=None).weights().items()}


def infer_model_config(path, tensors: dict[str, torch.Tensor]) -> ModelConfig:
    """Read a TransformerLens state dict's sizes off its tensors' shapes."""
    need = ("unembed.W_U", "embed.W_E", "blocks.0.attn.W_Q", "blocks.0.mlp.W_in", "pos_embed.W_pos")
    missing = [k for k in need if k not in tensors]
    if missing:
        raise CheckpointError(f"{path}: cannot infer the model config, missing tensors: {', '.join(missing)}")
    H, d, dh = tensors["blocks.0.attn.W_Q"].shape if tensors["blocks.0.attn.W_Q"].dim() == 3 else (None,) * 3
    if H is None:
        raise CheckpointError(f"{path}: blocks.0.attn.W_Q has shape {tuple(tensors['blocks.0.attn.W_Q'].shape)}, expected [n_heads, d_model, d_head]")
    try:
        return ModelConfig(
            p=int(tensors["unembed.W_U"].shape[-1]), d_model=int(d), n_heads=int(H), d_head=int(dh),
            d_mlp=int(tensors["blocks.0.mlp.W_in"].shape[-1]), n_ctx=int(tensors["pos_embed.W_pos"].shape[0]),
        ).validate()
    except ConfigError as e:
        raise CheckpointError(f"{path}: the tensors describe an unsupported model ({e})") from None


def validate_weights(path, tensors: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Check names, shapes and finiteness; TransformerLens buffers are dropped. Returns float32 weights."""
    weights = {k: v for k, v in tensors.items() if not k.endswith(BUFFER_SUFFIXES)}
    shapes = expected_shapes(cfg)
    missing = sorted(set(shapes) - set(weights))
    unexpected = sorted(set(weights) - set(shapes))
    if missing:
        raise CheckpointError(f"{path}: missing tensors: {', '.join(missing)}")
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensors: {', '.join(unexpected)}")
    for k, shape in shapes.items():
        if tuple(weights[k].shape) != shape:
            raise CheckpointError(f"{path}: tensor {k} has shape {list(weights[k].shape)}, expected {list(shape)} for p={cfg.p}")
        if not weights[k].is_floating_point():
            raise CheckpointError(f"{path}: tensor {k} has dtype {weights[k].dtype}, expected a float type")
        if not torch.isfinite(weights[k]).all():
            raise CheckpointError(f"{path}: tensor {k} contains NaN or inf values")
    return {k: v.float() for k, v in weights.items()}


def build_model(weights: dict[str, torch.Tensor], cfg: ModelConfig) -> Transformer:
    model = Transformer(cfg, seed=None)
    model.load_state_dict(weights, strict=False)  # buffers are rebuilt by the constructor
    model.eval()
    return model


def save_model(path, model: Transformer, config: TrainConfig, step: int | None = None, extra: dict | None = None, dtype=None) -> None:
    """Weights with TransformerLens names (+ its buffers, so strict loading works) and our config."""
    sd = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() and not k.endswith(BUFFER_SUFFIXES) else v) for k, v in model.state_dict().items()}
    meta = {"config": config.to_dict(), **({"step": step} if step is not None else {}), **(extra or {})}
    save_tensors(path, sd, meta)


def load_model_file(path, fallback_config: TrainConfig | None = None) -> Loaded:
    """A model file: ours (config in metadata) or a bare TransformerLens state dict."""
    path = Path(path)
    tensors, meta = read_tensors(path)
    inferred: list[str] = []
    from_run = True
    if "config" in meta:
        try:
            config = TrainConfig.from_dict(_meta_json(path, meta, "config"))
        except (ConfigError, TypeError) as e:
            raise CheckpointError(f"{path}: bad config in metadata ({e})") from None
    else:
        mcfg = infer_model_config(path, tensors)
        inferred = ["p", "d_model", "n_heads", "d_head", "d_mlp"]
        if fallback_config is not None and fallback_config.model == mcfg:
            config = fallback_config
        else:
            config = TrainConfig(model=mcfg)
            from_run = False
    weights = validate_weights(path, tensors, config.model)
    step = int(meta["step"]) if meta.get("step", "").lstrip("-").isdigit() else None
    return Loaded(build_model(weights, config.model), config, step, path, inferred, from_run)


# ---------------------------------------------------------------- run folders (readers: grok/runfiles.py)
def save_snapshot(folder, step: int, model: Transformer) -> None:
    save_tensors(snapshot_path(folder, step), model.weights(), {"step": step})


def load_snapshot(folder, step: int, config: TrainConfig) -> Transformer:
    path = snapshot_path(folder, step)
    tensors, _ = read_tensors(path)
    return build_model(validate_weights(path, tensors, config.model), config.model)


def load(path) -> Loaded:
    """Entry point: a model file, or a run folder (its final model, else its latest snapshot)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder")
    if path.is_dir():
        config = load_config(path)
        model_path = path / MODEL_FILE
        if model_path.exists():
            loaded = load_model_file(model_path, fallback_config=config)
            return loaded
        steps = snapshot_steps(path)
        if not steps:
            raise CheckpointError(f"{path}: run folder has neither {MODEL_FILE} nor snapshots")
        return Loaded(load_snapshot(path, steps[-1], config), config, steps[-1], snapshot_path(path, steps[-1]))
    return load_model_file(path)
