"""tools.thin_replay: fewer float16 weight frames, the rest of the replay untouched."""
import shutil

import torch

from grok import checkpoint as ckpt, replay
from tools.thin_replay import thin


def test_thin_keeps_first_last_and_evenly_spaced_frames(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    path = replay.build(run, n_weights=6, progress=False)
    before = replay.load(path)
    assert len(before.weight_steps) == 6
    assert thin(path, 3) == (6, 3)
    after = replay.load(path)
    ws = before.weight_steps
    assert after.weight_steps == [ws[0], ws[3], ws[5]]  # round(i * 5 / 2) for i = 0, 1, 2
    assert after.steps == before.steps and torch.equal(after.maps, before.maps)
    t, _ = ckpt.read_tensors(path)
    assert {k.split(".")[1] for k in t if k.startswith("w.")} == {str(s) for s in after.weight_steps}
    cfg = ckpt.load_config(run)
    assert torch.equal(replay.load_weights(path, ws[3], cfg).embed.W_E, replay.load_weights(path, ws[3], cfg).embed.W_E)
    assert thin(path, 10) == (3, 3)  # asking for more frames than stored changes nothing
