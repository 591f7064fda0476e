"""Checkpoint files: every bad input is refused with a message naming the file and the problem;
good ones (ours, or a bare TransformerLens state dict) load exactly."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from grok import atomic
from grok import checkpoint as ckpt
from grok.checkpoint import CheckpointError
from grok.config import FORMAT_VERSION, ModelConfig, TrainConfig
from grok.model import Transformer

P = 23


@pytest.fixture
def model() -> Transformer:
    return Transformer(ModelConfig(p=P), seed=5)


@pytest.fixture
def good_file(tmp_path, model) -> Path:
    path = tmp_path / "model.safetensors"
    ckpt.save_model(path, model, TrainConfig(model=model.cfg), step=7)
    return path


def _meta(path: Path) -> dict:
    """The raw safetensors header metadata (strings) of a file."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]).get("__metadata__", {})


def _rewrite(path: Path, edit) -> None:
    """Load a good file with plain safetensors, let `edit` change the dict, save it back
    with the original metadata."""
    tensors = load_file(str(path))
    edit(tensors)
    save_file(tensors, str(path), metadata=_meta(path))


def _refused(path: Path, *words: str, target=None) -> str:
    with pytest.raises(CheckpointError) as e:
        ckpt.load(target if target is not None else path)
    msg = str(e.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, msg
    return msg


# ---------------------------------------------------------------- one test per bad input
def test_missing_file(tmp_path):
    _refused(tmp_path / "nope.safetensors", "no such file")


def test_truncated_file(good_file):
    data = good_file.read_bytes()
    good_file.write_bytes(data[: len(data) // 2])
    _refused(good_file, "truncated")


def test_file_cut_inside_the_header(good_file):
    good_file.write_bytes(good_file.read_bytes()[:100])
    _refused(good_file, "truncated")


def test_not_safetensors_bytes(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"PK\x03\x04 this is a zip file, or a pickle, anything but safetensors" * 3)
    _refused(path, "not a safetensors file")


def test_not_safetensors_small_header_garbage(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes((20).to_bytes(8, "little") + b"{this is not json!!}" + b"\0" * 64)
    _refused(path, "not a valid safetensors file")


def test_missing_tensor(good_file):
    _rewrite(good_file, lambda t: t.pop("blocks.0.mlp.b_in"))
    _refused(good_file, "missing tensors", "blocks.0.mlp.b_in")


def test_unexpected_tensor(good_file):
    _rewrite(good_file, lambda t: t.update({"blocks.1.mlp.W_in": torch.zeros(128, 512)}))
    _refused(good_file, "unexpected tensors", "blocks.1.mlp.W_in")


def test_wrong_shape_for_the_config(tmp_path):
    path = tmp_path / "model.safetensors"
    big = Transformer(ModelConfig(p=29), seed=0)  # weights of p=29 under a p=23 config
    ckpt.save_model(path, big, TrainConfig(model=ModelConfig(p=P)))
    _refused(path, "has shape", "expected", "p=23")


def test_nan_weight(good_file):
    def edit(t):
        t["blocks.0.mlp.W_out"][3, 4] = float("nan")

    _rewrite(good_file, edit)
    _refused(good_file, "blocks.0.mlp.W_out", "NaN")


def test_inf_weight(good_file):
    def edit(t):
        t["embed.W_E"][0, 0] = float("-inf")

    _rewrite(good_file, edit)
    _refused(good_file, "embed.W_E", "inf")


def test_newer_format_version(good_file):
    tensors = load_file(str(good_file))
    meta = _meta(good_file)
    meta["format_version"] = str(FORMAT_VERSION + 1)
    save_file(tensors, str(good_file), metadata=meta)
    _refused(good_file, "newer", f"format_version {FORMAT_VERSION + 1}")


def test_bad_config_json_in_run_folder(tiny_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ckpt.MODEL_FILE).write_bytes((tiny_run / ckpt.MODEL_FILE).read_bytes())
    (run / ckpt.CONFIG_FILE).write_text('{"model": {"p": 23}, "frac_train": 0.3,')  # torn JSON
    _refused(run / ckpt.CONFIG_FILE, "not valid JSON", target=run)


def test_invalid_setting_in_config_json(tiny_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / ckpt.MODEL_FILE).write_bytes((tiny_run / ckpt.MODEL_FILE).read_bytes())
    cfg = json.loads((tiny_run / ckpt.CONFIG_FILE).read_text())
    cfg["model"]["p"] = 24
    (run / ckpt.CONFIG_FILE).write_text(json.dumps(cfg))
    _refused(run / ckpt.CONFIG_FILE, "bad config", "p must be an odd integer", target=run)


def test_unknown_key_in_config_json(tiny_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    cfg = json.loads((tiny_run / ckpt.CONFIG_FILE).read_text())
    cfg["learning_rate"] = 0.1  # a typo for "lr" must not pass silently
    (run / ckpt.CONFIG_FILE).write_text(json.dumps(cfg))
    _refused(run / ckpt.CONFIG_FILE, "unknown config keys", "learning_rate", target=run)


# ---------------------------------------------------------------- good inputs
def test_bare_transformerlens_state_dict_loads(tmp_path):
    model = Transformer(ModelConfig(p=31, d_model=64, n_heads=2, d_head=16, d_mlp=96), seed=2)
    path = tmp_path / "tl.safetensors"
    sd = model.state_dict()
    assert "blocks.0.attn.mask" in sd and "blocks.0.attn.IGNORE" in sd
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path))  # plain safetensors, no metadata
    assert _meta(path) == {}
    loaded = ckpt.load(path)
    assert loaded.inferred == ["p", "d_model", "n_heads", "d_head", "d_mlp"]
    assert loaded.config.model == model.cfg
    assert loaded.config_from_run is False
    assert loaded.step is None
    assert "inferred" in loaded.report()
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k


def test_save_load_round_trip_is_exact(good_file, model):
    loaded = ckpt.load(good_file)
    assert loaded.step == 7 and loaded.inferred == [] and loaded.config_from_run
    assert loaded.config == TrainConfig(model=model.cfg)
    sd = loaded.model.state_dict()
    assert set(sd) == set(model.state_dict())
    for k, v in model.state_dict().items():
        assert sd[k].dtype == v.dtype and torch.equal(sd[k], v), k
    assert "inferred" not in loaded.report()


def test_run_folder_loads_its_final_model(tiny_run):
    loaded = ckpt.load(tiny_run)
    assert loaded.step == 30 and loaded.config == ckpt.load_config(tiny_run)
    assert loaded.path == tiny_run / ckpt.MODEL_FILE


# ---------------------------------------------------------------- metrics
def _write_metrics(folder: Path, lines: list[str]) -> None:
    (folder / ckpt.METRICS_FILE).write_text("\n".join(lines))


def test_read_metrics_skips_torn_last_line(tmp_path):
    _write_metrics(tmp_path, ['{"step": 0, "train_loss": 4.6}', '{"step": 100, "train_loss": 1.2}', '{"step": 200, "tr'])
    rows = ckpt.read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [0, 100]
    assert rows[1]["train_loss"] == 1.2


def test_read_metrics_refuses_torn_middle_line(tmp_path):
    _write_metrics(tmp_path, ['{"step": 0, "train_loss": 4.6}', '{"step": 100, "tr', '{"step": 200, "train_loss": 0.1}'])
    with pytest.raises(CheckpointError) as e:
        ckpt.read_metrics(tmp_path)
    assert str(tmp_path / ckpt.METRICS_FILE) in str(e.value) and "line 2" in str(e.value)


def test_read_metrics_of_the_tiny_run(tiny_run):
    assert [r["step"] for r in ckpt.read_metrics(tiny_run)] == [0, 10, 20, 30]


# ---------------------------------------------------------------- atomic writes
def test_atomic_write_failure_keeps_old_content_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    atomic.write_text(path, "old content\n")

    def boom(fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(atomic.os, "fsync", boom)  # the data is written, the rename not yet done
    with pytest.raises(OSError, match="simulated"):
        atomic.write_jsonl(path, [{"step": 1}] * 1000)
    monkeypatch.undo()
    assert path.read_text() == "old content\n"
    assert sorted(os.listdir(tmp_path)) == ["metrics.jsonl"]


def test_atomic_model_save_failure_keeps_old_model(good_file, model, monkeypatch):
    before = good_file.read_bytes()

    def boom(src, dst):
        raise KeyboardInterrupt  # the user hits Ctrl-C just before the rename

    monkeypatch.setattr(atomic.os, "replace", boom)
    other = Transformer(ModelConfig(p=P), seed=99)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_model(good_file, other, TrainConfig(model=other.cfg), step=8)
    monkeypatch.undo()
    assert good_file.read_bytes() == before
    assert os.listdir(good_file.parent) == [good_file.name]
    assert ckpt.load(good_file).step == 7


def test_atomic_write_success_replaces_content(tmp_path):
    path = tmp_path / "a.json"
    atomic.write_json(path, {"a": 1})
    atomic.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(tmp_path) == ["a.json"]
