"""Presets: every named recipe validates, options beside --preset override it, and
`--preset quick` trains end to end from the CLI (small p, few steps)."""
from __future__ import annotations

import json

import pytest

from grok import presets
from grok.config import ConfigError, TrainConfig
from grok.train import parse_args


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_validates_and_sets_what_it_says(name):
    cfg = presets.apply(name)
    assert isinstance(cfg, TrainConfig)
    for k, v in presets.get(name).settings.items():
        assert (cfg.model.p if k == "p" else getattr(cfg, k)) == v, k


def test_the_named_recipes():
    assert presets.apply("paper") == TrainConfig()  # the canonical recipe is the config's default
    q = presets.apply("quick")
    assert (q.model.p, q.frac_train, q.lr, q.wd) == (113, 0.3, 3e-3, 1.0)
    w = presets.apply("watch")
    assert w.model.p <= 59 and w.steps <= 3000  # inside the demo limits (grok/jobs.py)
    assert presets.apply("no-wd").wd == 0


def test_explicit_options_override_the_preset():
    a = parse_args(["--out", "x", "--preset", "quick", "--p", "23", "--lr", "1e-3"])
    assert a.given >= {"p", "lr", "preset", "out"} and "frac_train" not in a.given
    cfg = presets.apply(a.preset, TrainConfig(), keep=a.given - {"p", "lr"})  # nothing kept: the preset's values
    assert cfg.lr == 3e-3 and cfg.model.p == 113
    assert presets.config("quick", p=23, lr=1e-3).lr == 1e-3
    assert presets.config("quick", p=23).model.p == 23
    # an option equal to the default still counts as given: "--lr 1e-3" beats quick's 3e-3
    from grok.config import ModelConfig

    base = TrainConfig(model=ModelConfig(p=a.p), lr=a.lr)
    assert presets.apply("quick", base, keep=a.given).lr == 1e-3


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown preset 'fast'.*paper"):
        presets.apply("fast")


def test_cli_preset_quick_trains_with_overrides(run_cli, tmp_path):
    out = tmp_path / "q"
    r = run_cli("grok.train", "--preset", "quick", "--p", "23", "--steps", "60", "--eval-every", "20", "--out", str(out))
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["model"]["p"], cfg["steps"], cfg["eval_every"]) == (23, 60, 20)  # the overrides
    assert (cfg["frac_train"], cfg["lr"], cfg["stop_after_grokked"]) == (0.3, 3e-3, 300)  # the preset
    assert "step: eager (60 steps < 10,000" in r.stderr  # the compile choice is printed
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [0, 20, 40, 60]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]


def test_cli_refuses_an_unknown_preset(run_cli, tmp_path):
    r = run_cli("grok.train", "--preset", "nope", "--out", str(tmp_path / "n"))
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_help_lists_every_preset_and_option(run_cli):
    """--help is built from the presets' summaries, which contain '%': argparse must not choke on them."""
    r = run_cli("grok.train", "--help")
    assert r.returncode == 0, r.stderr
    for name in presets.names():
        assert name in r.stdout
    for opt in ("--preset", "--compile", "--loss", "--orthograd", "--softmax-precision", "--grokfast-window"):
        assert opt in r.stdout
