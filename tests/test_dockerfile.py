"""The container for the hosted demo, checked without a Docker engine (none on these machines).

First the Dockerfile and .streamlit/config.toml are parsed for what a public demo needs: the
CPU-only torch wheel at requirements.txt's pin, a non-root user, a health check on Streamlit's
/_stcore/health, the port, the start command; headless, no usage statistics, small limits.
Then the image's commands are run for real in a fresh virtualenv: `pip install -r
requirements.txt`, the CMD with the image's ENV from the repo root, and the HEALTHCHECK command.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tools import appdriver as drv

REPO = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PIP_TIMEOUT = 15 * 60  # seconds: a fresh install of torch and streamlit on a busy 2-core machine
WAIT = 120  # seconds for the server to answer its health check


# ---------------------------------------------------------------- parsing
def instructions(text: str) -> list[tuple[str, str]]:
    """[(INSTRUCTION, arguments)] of a Dockerfile: continuation lines joined, comments dropped
    (Docker drops comment lines inside a continued instruction too)."""
    out, buf = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.endswith("\\"):
            buf += s[:-1].rstrip() + " "
            continue
        buf += s
        op, _, args = buf.partition(" ")
        out.append((op.upper(), args.strip()))
        buf = ""
    assert not buf, f"Dockerfile ends inside a continued line: {buf!r}"
    return out


def env_values(args: str) -> dict[str, str]:
    """ENV's key=value form (several pairs per instruction)."""
    pairs = shlex.split(args)
    assert all("=" in p for p in pairs), f"ENV uses the legacy 'key value' form: {args!r}"
    return dict(p.split("=", 1) for p in pairs)


def requirement_pin(name: str) -> str:
    for line in (REPO / "requirements.txt").read_text().splitlines():
        m = re.fullmatch(rf"\s*{name}\s*==\s*([\w.]+)\s*(#.*)?", line)
        if m:
            return m.group(1)
    raise AssertionError(f"requirements.txt does not pin {name}==...")


class Image:
    """What the Dockerfile says, in the pieces the tests need."""

    def __init__(self, text: str):
        self.ops = instructions(text)
        self.env: dict[str, str] = {}
        for op, args in self.ops:
            if op == "ENV":
                self.env.update(env_values(args))
        self.runs = [args for op, args in self.ops if op == "RUN"]

    def one(self, op: str) -> str:
        found = [args for o, args in self.ops if o == op]
        assert len(found) == 1, f"expected one {op}, found {len(found)}"
        return found[0]

    def index(self, op: str) -> int:
        return next(i for i, (o, _) in enumerate(self.ops) if o == op)

    @property
    def cmd(self) -> list[str]:
        args = self.one("CMD")
        assert args.startswith("["), "CMD should use the exec form (JSON list), so the server gets the container's signals"
        return json.loads(args)

    @property
    def port(self) -> int:
        (port,) = self.one("EXPOSE").split()
        return int(port.split("/")[0])

    @property
    def healthcheck(self) -> list[str]:
        """The HEALTHCHECK's command as argv (its options before CMD dropped)."""
        _, sep, command = self.one("HEALTHCHECK").partition(" CMD ")
        assert sep, "HEALTHCHECK has no CMD"
        return shlex.split(command)


@pytest.fixture(scope="module")
def image() -> Image:
    return Image((REPO / "Dockerfile").read_text())


# ---------------------------------------------------------------- the Dockerfile
def test_parser_joins_continuations_and_skips_comments():
    ops = instructions("FROM x\n# c\nRUN a \\\n  # inner comment\n && b\nENV A=1 \\\n    B=\"two words\"\n")
    assert ops == [("FROM", "x"), ("RUN", "a && b"), ("ENV", 'A=1 B="two words"')]
    assert env_values(ops[2][1]) == {"A": "1", "B": "two words"}


def test_torch_is_the_cpu_wheel_at_the_requirements_pin(image):
    pin = requirement_pin("torch")
    assert pin == "2.13.0"
    torch_installs = [r for r in image.runs if re.search(r"pip install\b[^&]*\btorch==", r)]
    assert torch_installs, "no RUN installs torch"
    first = torch_installs[0]
    assert f"--index-url {CPU_INDEX}" in first, "torch must come from PyTorch's CPU index (PyPI's Linux wheel is the CUDA build)"
    assert re.search(rf"\btorch=={re.escape(pin)}(\s|$)", first)
    # ... and before requirements.txt, whose torch==pin the CPU build (2.13.0+cpu) already satisfies.
    joined = " ; ".join(image.runs)
    assert joined.index(f"torch=={pin}") < joined.index("pip install -r requirements.txt")
    assert image.one("FROM").startswith(f"python:{sys.version_info.major}.{sys.version_info.minor}")


def test_runs_as_a_non_root_user_with_pretrained_read_only(image):
    user = image.one("USER").split(":")[0]
    assert user not in ("root", "0")
    assert any(re.search(rf"useradd\b.*\b{re.escape(user)}\b", r) for r in image.runs), f"user {user} is never created"
    assert any("chmod -R a-w" in r and "pretrained" in r for r in image.runs)
    assert image.index("COPY") < image.index("USER")  # the code is copied as root, then the app runs as the user
    assert image.env.get("GROK_DEMO") == "1"
    assert image.env.get("MALLOC_ARENA_MAX") == "2"  # two C heaps, not 16: the server's RSS (README, "Load")


def test_health_check_port_and_start_command_agree(image):
    port = image.port
    assert port == 8501
    hc = " ".join(image.healthcheck)
    assert f"127.0.0.1:{port}/_stcore/health" in hc or f"localhost:{port}/_stcore/health" in hc
    cmd = image.cmd
    assert cmd[:3] == ["streamlit", "run", "app.py"]
    assert f"--server.port={port}" in cmd
    assert "--server.address=0.0.0.0" in cmd  # reachable from outside the container


def test_dockerignore_keeps_runs_and_git_out_of_the_image():
    ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {"runs", ".git"} <= ignored


def test_streamlit_config_for_a_public_demo():
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    server = cfg["server"]
    assert server["headless"] is True
    assert cfg["browser"]["gatherUsageStats"] is False
    assert isinstance(server["maxUploadSize"], int) and 0 < server["maxUploadSize"] < 200  # below Streamlit's default
    assert isinstance(server["maxMessageSize"], int) and 0 < server["maxMessageSize"] < 200
    assert cfg["client"]["toolbarMode"] == "viewer"
    assert cfg["theme"] and {"base", "primaryColor"} & set(cfg["theme"])
    assert server["fileWatcherType"] == "none"  # no watcher threads per session in a deployed app (DESIGN.md, Speed)
    assert 10 <= server["disconnectedSessionTTL"] < 120  # departed visitors' sessions go sooner than Streamlit's 2 min (README, "Load")


def test_theme_colour_is_the_palette_accent():
    from grok import palette

    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert cfg["theme"]["primaryColor"].lower() == palette.ACCENT.lower()


# ---------------------------------------------------------------- the image's commands, in a venv
def run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)


def tail(text: str, n: int = 60) -> str:
    return "\n".join(text.splitlines()[-n:])


@pytest.mark.slow
def test_image_commands_in_a_fresh_venv(image, tmp_path):
    """The Dockerfile's RUN, CMD and HEALTHCHECK, minus Docker: a clean venv gets
    `pip install -r requirements.txt` (pip here finds torch 2.13.0 in the machine's local wheel
    folder, as the image gets it from the CPU index), then the CMD runs with the venv's
    streamlit, from the repo root, with the image's ENV; the HEALTHCHECK's own command must pass
    while the server is up and fail once it is down."""
    venv = tmp_path / "venv"
    try:
        r = run([sys.executable, "-m", "venv", str(venv)], timeout=300)
        assert r.returncode == 0, r.stderr
        py, streamlit = venv / "bin" / "python", venv / "bin" / "streamlit"
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        r = run([str(py), "-m", "pip", "install", "-r", str(REPO / "requirements.txt")], timeout=PIP_TIMEOUT, env=clean)
        if r.returncode != 0:
            pytest.fail(f"pip install -r requirements.txt failed ({r.returncode}):\n{tail(r.stdout)}\n{tail(r.stderr)}", pytrace=False)
        r = run([str(py), "-c", "import torch; print(torch.__version__)"], timeout=300, env=clean)
        assert r.returncode == 0 and r.stdout.strip().split("+")[0] == requirement_pin("torch"), r.stdout + r.stderr

        # The CMD on a free loopback port instead of 0.0.0.0:8501 (the port may be taken on a
        # shared machine, and nothing here should listen beyond loopback); the HEALTHCHECK gets
        # the same port. User runs in a temp folder instead of the image's /tmp/grok-runs.
        port = drv.free_port()
        cmd = [str(streamlit)] + image.cmd[1:]
        cmd = [a.replace(f"--server.port={image.port}", f"--server.port={port}").replace("--server.address=0.0.0.0", "--server.address=127.0.0.1")
               for a in cmd]
        assert f"--server.port={port}" in cmd and "--server.address=127.0.0.1" in cmd
        env = {**clean, **image.env, "GROK_RUNS_DIR": str(tmp_path / "grok-runs"), "OMP_NUM_THREADS": "1"}
        hc = image.healthcheck
        assert hc[0] == "python"
        hc = [str(py)] + [a.replace(f":{image.port}/", f":{port}/") for a in hc[1:]]
        log = (tmp_path / "server.log").open("wb")
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline, body = time.monotonic() + WAIT, None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                        body = resp.read().decode().strip()
                        break
                except OSError:
                    time.sleep(0.2)
            assert body == "ok", f"no health within {WAIT} s (exit code {proc.poll()}):\n{tail((tmp_path / 'server.log').read_text())}"
            r = run(hc, timeout=60, env=env)
            assert r.returncode == 0, r.stdout + r.stderr
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
            log.close()
        r = run(hc, timeout=60, env=env)
        assert r.returncode != 0, "the health check passes with the server down: it checks nothing"
    finally:
        shutil.rmtree(venv, ignore_errors=True)  # ~1 GB of torch and friends
