"""Run discovery and access for the app and the CLIs: one `Run` object per folder, whether it
is a live run in runs/ (weights in snapshots/) or a shipped one in pretrained/ (weights inside
replay.safetensors). Corrupt runs are reported per run and never stop the others from loading.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import checkpoint as ckpt
from . import replay as replay_mod
from .config import TrainConfig
from .model import Transformer

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "pretrained"
USER_RUNS = ROOT / "runs"


@dataclass
class Run:
    name: str
    path: Path
    config: TrainConfig
    metrics: list[dict]
    final_step: int | None
    snapshot_steps: list[int] = field(default_factory=list)
    replay_weight_steps: list[int] = field(default_factory=list)
    shipped: bool = False

    @property
    def has_replay(self) -> bool:
        return (self.path / ckpt.REPLAY_FILE).exists()

    def weight_steps(self) -> list[int]:
        """Every step at which full weights can be had, ascending."""
        s = set(self.snapshot_steps) | set(self.replay_weight_steps)
        if self.final_step is not None:
            s.add(self.final_step)
        return sorted(s)

    def model_at(self, step: int | None = None) -> Transformer:
        """Weights at `step` (None = final): the final model file, a snapshot, or the replay's copy."""
        if step is None or step == self.final_step:
            if (self.path / ckpt.MODEL_FILE).exists():
                return ckpt.load_model_file(self.path / ckpt.MODEL_FILE, fallback_config=self.config).model
            step = self.weight_steps()[-1]
        if step in self.snapshot_steps:
            return ckpt.load_snapshot(self.path, step, self.config)
        if step in self.replay_weight_steps:
            return replay_mod.load_weights(self.path / ckpt.REPLAY_FILE, step, self.config)
        raise ckpt.CheckpointError(f"{self.path}: no weights at step {step}; available: {self.weight_steps()[:5]}...")

    def replay(self) -> replay_mod.Replay:
        return replay_mod.load(self.path / ckpt.REPLAY_FILE)


def open_run(path, name: str | None = None) -> Run:
    """Read a run folder's config and metrics and list its weights; CheckpointError if unusable."""
    path = Path(path)
    cfg = ckpt.load_config(path)
    metrics = ckpt.read_metrics(path)
    snaps = ckpt.snapshot_steps(path)
    final = None
    if (path / ckpt.MODEL_FILE).exists():
        _, meta = ckpt.read_tensors(path / ckpt.MODEL_FILE)
        final = int(meta["step"]) if meta.get("step", "").isdigit() else None
    rw: list[int] = []
    if (path / ckpt.REPLAY_FILE).exists():
        from safetensors import safe_open

        try:
            with safe_open(str(path / ckpt.REPLAY_FILE), "pt") as f:
                rw = f.get_tensor("weight_steps").tolist()
        except Exception as e:  # noqa: BLE001 - any failure here means an unusable replay file
            raise ckpt.CheckpointError(f"{path / ckpt.REPLAY_FILE}: unreadable replay file ({e})") from None
    if final is None and not snaps and not rw:
        raise ckpt.CheckpointError(f"{path}: run folder has no weights yet (no {ckpt.MODEL_FILE}, snapshots or replay)")
    if final is None and metrics:
        final = max(s for s in snaps + rw) if (snaps or rw) else None
    return Run(name or path.name, path, cfg, metrics, final, snaps, rw, shipped=path.parent.resolve() == PRETRAINED.resolve())


def discover(roots=(PRETRAINED, USER_RUNS)) -> dict[str, Path]:
    """{name: folder} of every folder with a config.json under the roots; pretrained first.
    User runs are named 'runs/NAME' so they never shadow a shipped run."""
    out: dict[str, Path] = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if d.is_dir() and (d / ckpt.CONFIG_FILE).exists():
                name = d.name if root.resolve() == PRETRAINED.resolve() else f"{root.name}/{d.name}"
                out[name] = d
    return out
