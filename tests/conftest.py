"""Shared fixtures: one tiny trained run (p=23, 30 steps) reused by every test that only reads
a run folder, plus small helpers to build models and call the CLIs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grok.config import ModelConfig, TrainConfig
from grok.model import Transformer

REPO = Path(__file__).resolve().parents[1]
TINY_STEPS = 30


def tiny_config(**kw) -> TrainConfig:
    """p=23 with the canonical widths: trains in milliseconds per step on one core."""
    model = ModelConfig(p=kw.pop("p", 23))
    base = dict(model=model, steps=TINY_STEPS, eval_every=10)
    base.update(kw)
    return TrainConfig(**base).validate()


def random_biases(model: Transformer, seed: int = 1, scale: float = 0.5) -> Transformer:
    """Give every bias a random non-zero value: the reference init leaves them all zero, which
    would hide any bias term a forward path forgets."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if ".b_" in name:
                prm.copy_(torch.randn(prm.shape, generator=g) * scale)
    return model


def cli_env() -> dict:
    """Environment for CLI subprocesses: one thread (bit-identical runs, small CPU use),
    the repo importable."""
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_module(module: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m module args...` from the repo root, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


# The helpers as fixtures, so test files never `import conftest` (ambiguous once sub-folders
# such as tests/app grow their own conftest.py).
@pytest.fixture(scope="session")
def make_config():
    return tiny_config


@pytest.fixture(scope="session")
def with_random_biases():
    return random_biases


@pytest.fixture(scope="session")
def run_cli():
    return run_module


@pytest.fixture(scope="session")
def start_cli():
    """Start `python -m module args...` in the background (to signal it); returns the Popen."""

    def start(module: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO, env=cli_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    return start


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished run folder: p=23, 30 steps, evaluated every 10 (metrics rows 0, 10, 20, 30).
    Read-only for the tests: copy it before changing anything."""
    from grok.train import train

    out = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny_config(), out, progress=False)
    return out


@pytest.fixture(scope="session")
def replay_run_p23(tmp_path_factory) -> Path:
    """A finished p = 23 run with its replay (50 % split, 200 steps, evals every 50), trained
    once for the page tests that need a small run with a replay. Read-only: copy it
    (shutil.copytree) into the runs folder a test shows."""
    from grok import replay as replay_mod
    from grok.train import train

    out = tmp_path_factory.mktemp("replayrun") / "r23"
    cfg = TrainConfig(model=ModelConfig(p=23), frac_train=0.5, steps=200, eval_every=50).validate()
    train(cfg, out, progress=False)
    replay_mod.build(out, progress=False)
    return out


def require_chromium_or_skip() -> None:
    """Skip where Debian's chromium is missing, but FAIL under CI=true: a browser test that
    silently skips in CI tests nothing."""
    from tools import appdriver as drv

    why = drv.chromium_missing()
    if why is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {why}", pytrace=False)
    pytest.skip(f"no browser here: {why}")


@pytest.fixture(scope="session")
def require_chromium():
    return require_chromium_or_skip


@pytest.fixture(scope="session")
def clock23():
    """(the hand-built clock at p = 23 with key frequencies 3 and 7, its grid activations)."""
    try:
        from clock import clock_and_acts
    except ImportError:  # tests/ imported as a package
        from tests.clock import clock_and_acts
    return clock_and_acts(23, [3, 7])
