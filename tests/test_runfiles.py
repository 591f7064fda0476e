"""grok/runfiles.py reads run folders without torch, and agrees with the torch readers; the app
shell (app.py's imports, ui.py, grok.runs) does not import torch; the shared-step helpers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grok import checkpoint as ckpt
from grok import runfiles
from grok.config import ModelConfig, TrainConfig
from grok.model import Transformer
from grok.runs import open_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """A run folder by hand: config, two metrics rows, a model file at step 40, two snapshots
    and a 'replay' file holding only the frame and weight step lists."""
    cfg = TrainConfig(model=ModelConfig(p=23))
    d = tmp_path / "r"
    d.mkdir()
    (d / ckpt.CONFIG_FILE).write_text(__import__("json").dumps(cfg.to_dict()))
    (d / ckpt.METRICS_FILE).write_text('{"step": 0, "test_acc": 0.1}\n{"step": 40, "test_acc": 0.9}\n')
    m = Transformer(cfg.model, seed=0)
    ckpt.save_model(d / ckpt.MODEL_FILE, m, cfg, step=40)
    ckpt.save_snapshot(d, 10, m)
    ckpt.save_snapshot(d, 30, m)
    ckpt.save_tensors(d / ckpt.REPLAY_FILE, {"steps": torch.tensor([0, 5, 10, 20, 30, 40]), "weight_steps": torch.tensor([0, 20])})
    return d


def test_headers_and_step_lists_match_the_torch_readers(run_dir):
    _, meta = ckpt.read_tensors(run_dir / ckpt.MODEL_FILE)
    assert runfiles.metadata(run_dir / ckpt.MODEL_FILE) == meta
    assert runfiles.read_int_tensor(run_dir / ckpt.REPLAY_FILE, "steps") == [0, 5, 10, 20, 30, 40]
    run = open_run(run_dir)
    assert run.final_step == 40
    assert run.snapshot_steps == [10, 30] and run.replay_weight_steps == [0, 20]
    assert run.weight_steps() == [0, 10, 20, 30, 40]
    assert run.frame_steps() == [0, 5, 10, 20, 30, 40]
    assert [r["step"] for r in run.metrics] == [0, 40]


def test_a_file_cut_short_is_refused_by_its_header(run_dir):
    f = run_dir / ckpt.MODEL_FILE
    data = f.read_bytes()
    f.write_bytes(data[: len(data) - 100])  # the header is whole, the last tensor is not
    with pytest.raises(runfiles.CheckpointError, match="truncated"):
        runfiles.metadata(f)
    with pytest.raises(ckpt.CheckpointError):  # one error class for both readers
        open_run(run_dir)
    f.write_bytes(b"\x05\x00")
    with pytest.raises(runfiles.CheckpointError, match="too short"):
        runfiles.read_header(f)


def test_a_non_integer_tensor_is_refused(run_dir):
    ckpt.save_tensors(run_dir / "x.safetensors", {"a": torch.zeros(3)})
    with pytest.raises(runfiles.CheckpointError, match="no integer tensor"):
        runfiles.read_int_tensor(run_dir / "x.safetensors", "a")


def test_the_app_shell_imports_neither_torch_nor_the_chart_stack():
    """What the sidebar and Home's first run need: ui (with its loaders), grok.runs opening the
    shipped run, its phases and story, Home's curves. Importing torch there costs 1-1.5 s of
    first paint; Altair, pandas and numpy another ~0.6 s (Home's curves are plain dicts)."""
    code = (
        "import sys, ui, grok.runs as r, grok.phases as ph, grok.story as story, grok.curves as cv\n"
        "run = r.open_run(r.PRETRAINED / 'mod113') if (r.PRETRAINED / 'mod113').exists() else None\n"
        "rows = run.metrics if run else []\n"
        "phases = ph.detect(rows); steps = run.frame_steps() if run else []\n"
        "story.stages(rows, 113) if rows else None\n"
        "cv.curves(cv.long_rows(rows, {'train_loss': 'train'}, run='a'), 'loss', phases=phases, marker=5, dash_field='run')\n"
        "bad = [m for m in ('torch', 'altair', 'pandas', 'numpy') if m in sys.modules]\n"
        "assert not bad, f'imported {bad}'\n"
        "print(len(steps))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8])
def test_integer_tensors_read_without_numpy_match_torch(tmp_path, dtype):
    info = torch.iinfo(dtype)
    values = torch.tensor([info.min, -1 if info.min < 0 else 0, 0, 7, info.max], dtype=dtype)
    ckpt.save_tensors(tmp_path / "t.safetensors", {"v": values.reshape(5, 1)})
    assert runfiles.read_int_tensor(tmp_path / "t.safetensors", "v") == values.tolist()


def test_an_integer_tensor_whose_shape_disagrees_with_its_bytes_is_refused(tmp_path):
    f = tmp_path / "t.safetensors"
    ckpt.save_tensors(f, {"v": torch.arange(4, dtype=torch.int64)})
    raw = f.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    text = raw[8:8 + n].decode().replace('"shape":[4]', '"shape":[5]')
    f.write_bytes(len(text.encode()).to_bytes(8, "little") + text.encode() + raw[8 + n:])
    with pytest.raises(runfiles.CheckpointError, match="its shape"):
        runfiles.read_int_tensor(f, "v")


def test_weight_step_and_checkpoint_note():
    import ui

    class R:  # the two methods the helpers read
        def weight_steps(self):
            return [0, 100, 300]

    assert ui.weight_step(R(), 100) == 100 and ui.checkpoint_note(R(), 100) is None
    assert ui.weight_step(R(), 260) == 300
    assert ui.weight_step(R(), 200) == 100  # a tie goes to the earlier checkpoint
    note = ui.checkpoint_note(R(), 260)
    assert "260" in note and "300" in note
    assert ui.nearest([0, 10, 20], 14) == 10 and ui.nearest([0, 10, 20], 999) == 20


def test_bad_link_values_are_echoed_short():
    import ui

    assert ui.echo("x" * 500) == "x" * 39 + "…"
    assert ui.echo("123") == "123"
