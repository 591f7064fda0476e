"""tools.thin_replay: fewer float16 weight frames, the rest of the replay untouched."""
import shutil

import torch

from grok import checkpoint as ckpt, replay
from tools.thin_replay import thin


def test_thin_keeps_first_last_and_evenly_spaced_frames(tiny_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    path = replay.build(run, n_weights=4, progress=False)
    before = replay.load(path)
    ws = before.weight_steps
    assert ws == [0, 10, 20, 30]
    cfg = ckpt.load_config(run)
    w20 = replay.load_weights(path, 20, cfg).embed.W_E.clone()
    assert thin(path, 3) == (4, 3)
    after = replay.load(path)
    assert after.weight_steps == [0, 20, 30]  # round(i * 3 / 2) for i = 0, 1, 2
    assert after.steps == before.steps and torch.equal(after.maps, before.maps)
    t, _ = ckpt.read_tensors(path)
    assert {k.split(".")[1] for k in t if k.startswith("w.")} == {str(s) for s in after.weight_steps}
    assert torch.equal(replay.load_weights(path, 20, cfg).embed.W_E, w20)  # kept frames unchanged
    assert thin(path, 10) == (3, 3)  # asking for more frames than stored changes nothing
