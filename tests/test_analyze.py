"""python -m grok.analyze on a saved clock model, a bare state dict, a small trained run folder,
and bad paths."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grok import analyze, checkpoint
from grok.config import ModelConfig, TrainConfig
from grok.train import train

try:
    from clock import clock_model
except ImportError:  # tests/ imported as a package
    from tests.clock import clock_model

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"accuracy", "key_frequencies", "restricted_loss", "excluded_loss", "train_loss", "test_loss",
            "gini_embed", "gini_unembed", "weight_norm", "neuron_clusters", "split"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("analyze")
    model = clock_model(23, [3, 7])
    checkpoint.save_model(d / "clock.safetensors", model, TrainConfig(model=model.cfg, frac_train=0.4, seed=2), step=123)
    checkpoint.save_tensors(d / "bare.safetensors", model.state_dict())  # no config: a TransformerLens dict
    cfg = TrainConfig(model=ModelConfig(p=23, d_model=32, n_heads=2, d_head=16, d_mlp=64), frac_train=0.5, seed=3,
                      steps=20, eval_every=10)
    train(cfg, d / "run", progress=False)
    (d / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    (d / "empty_folder").mkdir()
    return d


def run_main(capsys, *argv):
    code = analyze.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_clock_file(files, capsys):
    code, out, err = run_main(capsys, files / "clock.safetensors", "--json")
    assert code == 0, err
    r = last_json(out)
    assert REQUIRED <= set(r)
    assert r["accuracy"] == 1.0 and r["test_acc"] == 1.0
    assert r["key_frequencies"] in ([3, 7], [7, 3])
    assert r["neuron_clusters"] == {"3": 529, "7": 529}
    assert r["restricted_loss"] == pytest.approx(r["train_loss"], rel=1e-3)
    assert r["excluded_loss"] == pytest.approx(math.log(23), abs=1e-3)
    assert set(r["excluded_loss_per_freq"]) == {"3", "7"}
    assert r["split"] == {"frac_train": 0.4, "seed": 2, "source": "run", "n_train": int(0.4 * 529), "n_test": 529 - int(0.4 * 529)}
    assert r["step"] == 123
    assert r["probes"]["resid"]["3"]["cos"] > 0.999
    assert r["logit_var_explained"] > 0.999
    assert "the run's own split: frac_train 0.4, seed 2" in out
    assert "key frequencies: 3, 7" in out or "key frequencies: 7, 3" in out
    assert str(files / "clock.safetensors") in out


def test_without_json_prints_no_json(files, capsys):
    code, out, _ = run_main(capsys, files / "clock.safetensors")
    assert code == 0 and "{" not in out.strip().splitlines()[-1]


def test_bare_state_dict_uses_default_split(files, capsys):
    code, out, _ = run_main(capsys, files / "bare.safetensors", "--json")
    assert code == 0
    r = last_json(out)
    assert r["split"]["source"] == "default" and r["split"]["frac_train"] == 0.3 and r["split"]["seed"] == 0
    assert "the default split" in out and "inferred from tensor shapes" in out
    code, out, _ = run_main(capsys, files / "bare.safetensors", "--json", "--split-seed", "5")
    r = last_json(out)
    assert r["split"]["source"] == "override" and r["split"]["seed"] == 5 and r["split"]["frac_train"] == 0.3
    assert "given on the command line" in out


def test_run_folder(files, capsys):
    code, out, err = run_main(capsys, files / "run", "--json", "--probe-dims", "3")
    assert code == 0, err
    r = last_json(out)
    assert REQUIRED <= set(r)
    assert r["split"]["source"] == "run" and r["split"]["frac_train"] == 0.5 and r["split"]["seed"] == 3
    assert r["step"] == 20
    # the numbers agree with the trainer's own last metrics row (same split, same model)
    last = checkpoint.read_metrics(files / "run")[-1]
    for k in ("train_loss", "test_loss", "restricted_loss", "excluded_loss", "gini_embed", "gini_unembed", "weight_norm"):
        assert r[k] == pytest.approx(last[k], rel=1e-5), k
    assert r["accuracy"] == pytest.approx(last["all_acc"])
    assert r["key_frequencies"] == last["key_frequencies"]
    assert all(len(v["dims"]) == 3 for v in r["probes"]["neurons"].values())


def test_analyze_function_is_pure(files):
    loaded = checkpoint.load(files / "clock.safetensors")
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    r = analyze.analyze(loaded)
    assert isinstance(r["neuron_clusters"], dict) and all(isinstance(k, int) for k in r["neuron_clusters"])
    assert all(torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())
    assert analyze.analyze(loaded, frac_train=0.6)["split"]["n_train"] == int(0.6 * 529)


@pytest.mark.parametrize("name,msg", [
    ("missing.safetensors", "no such file"),
    ("junk.safetensors", "not a safetensors file"),
    ("empty_folder", "config.json"),
])
def test_bad_paths(files, capsys, name, msg):
    code, out, err = run_main(capsys, files / name)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and msg in err and "Traceback" not in err


def test_bad_override(files, capsys):
    code, _, err = run_main(capsys, files / "clock.safetensors", "--frac-train", "1.5")
    assert code == 2 and err.startswith("error: ") and "frac_train" in err


def test_cli_subprocess(files):
    """The real entry point: exit codes, stderr without traceback, JSON on the last line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    bad = subprocess.run([sys.executable, "-m", "grok.analyze", str(files / "nope")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == f"error: {files / 'nope'}: no such file or folder"
    good = subprocess.run([sys.executable, "-m", "grok.analyze", str(files / "run"), "--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert good.returncode == 0, good.stderr
    assert last_json(good.stdout)["split"]["source"] == "run"


def test_circuit_keys_on_the_clock(files, capsys):
    code, out, err = run_main(capsys, files / "clock.safetensors", "--json")
    assert code == 0, err
    c = last_json(out)["circuit"]
    assert c["freqs"] == [3, 7] and c["clock_state"] == "clock"
    for site in ("resid", "attn", "neurons"):
        for k in ("3", "7"):
            v = c["probes_by_dims"][site][k]
            assert v["n"] == [1, 2, 4, 8] and min(v["cos"][-1], v["sin"][-1]) > 0.99
    assert c["clock_fit"]["var_explained"] > 0.999999 and c["clock_fit"]["a"] == pytest.approx([20.0, 20.0], rel=1e-5)
    assert c["clock_or_pizza"]["verdict"] == "clock"
    assert c["test_acc_novel"] == 1.0 and c["n_test_novel"] > 0
    assert c["ipr"]["hist"][-1] == 2 * 23 * 23  # every used neuron is single-frequency: IPR 1
    assert c["pruning_curve"]["n_pruned"][0] == 0 and c["pruning_curve"]["test_acc"][0] == 1.0
    assert "leak-free test accuracy" in out and "clock or pizza: Clock" in out and "ideal clock" in out


def test_replay_flag_needs_a_run_folder_with_a_replay(files, capsys):
    code, _, err = run_main(capsys, files / "clock.safetensors", "--replay")
    assert code == 2 and "run folder" in err
    code, _, err = run_main(capsys, files / "run", "--replay")
    assert code == 2 and "replay.safetensors" in err
