"""Read what a run folder says about itself without importing torch: config.json, metrics.jsonl,
snapshot names, and the JSON header of a safetensors file (plus its small integer tensors, such
as a replay's frame steps).

Why: importing torch costs 1-1.5 s on the 2-core demo host. The app's sidebar and Home page only
need a run's config, metrics and step lists, so with this module the first page paints before
torch is loaded (grok/runs.py imports the torch side lazily, when weights are wanted).

A safetensors file is an 8-byte little-endian header length, a JSON header
{name: {dtype, shape, data_offsets}, "__metadata__": {...}} and the raw tensor bytes; the
header alone gives the metadata (a model file's step) and where each tensor lies.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

from .config import FORMAT_VERSION, ConfigError, TrainConfig

MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
SNAPSHOT_DIR = "snapshots"
REPLAY_FILE = "replay.safetensors"

MAX_HEADER = 100 * 2**20  # bytes; safetensors' own limit for a header
# safetensors integer dtypes -> little-endian struct formats (read with struct, not numpy: the
# sidebar opens every run before the first page paints, and numpy's import is ~75 ms of that)
_INT_DTYPES = {"I64": "q", "I32": "i", "I16": "h", "I8": "b", "U8": "B", "U16": "H", "U32": "I", "U64": "Q"}


class CheckpointError(Exception):
    """A file could not be used; the message names it and says why."""


# ---------------------------------------------------------------- safetensors headers
def read_header(path) -> tuple[dict, int]:
    """(header without "__metadata__" plus that key, byte offset of the tensor data) of a
    safetensors file, checking that every tensor's bytes are inside the file (a copy cut short
    fails here, not later when a page loads the weights)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not a safetensors file ({size} bytes, too short for a header)")
            n = int.from_bytes(head, "little")
            if n > min(size - 8, MAX_HEADER):
                raise CheckpointError(f"{path}: not a safetensors file or truncated (header claims {n} bytes, file has {size - 8})")
            raw = f.read(n)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, expected a .safetensors file") from None
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a valid safetensors file (header is not an object)")
    end = 0
    for k, v in header.items():
        if k == "__metadata__":
            continue
        try:
            a, b = v["data_offsets"]
            end = max(end, int(b))
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(f"{path}: not a valid safetensors file (tensor {k!r} has no data_offsets)") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: truncated ({size} bytes, its header needs {8 + n + end})")
    return header, 8 + n


def metadata(path) -> dict[str, str]:
    """The "__metadata__" strings of a safetensors file; refuses files from a newer format."""
    header, _ = read_header(path)
    return check_version(path, header.get("__metadata__") or {})


def check_version(path, meta: dict[str, str]) -> dict[str, str]:
    """`meta` itself, once its format_version is one this code reads (CheckpointError if not)."""
    version = meta.get("format_version")
    if version is not None:
        try:
            v = int(version)
        except ValueError:
            raise CheckpointError(f"{path}: format_version {version!r} is not an integer") from None
        if v > FORMAT_VERSION:
            raise CheckpointError(f"{path}: written by a newer grok-explorer (format_version {v}, this code reads up to {FORMAT_VERSION}); update grok-explorer")
    return meta


def read_int_tensor(path, name: str) -> list[int]:
    """One small integer tensor of a safetensors file as a flat list (a replay's `steps`)."""
    header, base = read_header(path)
    spec = header.get(name)
    if not isinstance(spec, dict) or spec.get("dtype") not in _INT_DTYPES:
        raise CheckpointError(f"{path}: no integer tensor {name!r}")
    a, b = (int(x) for x in spec["data_offsets"])
    with open(path, "rb") as f:
        f.seek(base + a)
        data = f.read(b - a)
    fmt = _INT_DTYPES[spec["dtype"]]
    n = math.prod(int(d) for d in (spec.get("shape") or [1]))
    if len(data) != n * struct.calcsize(fmt):
        raise CheckpointError(f"{path}: tensor {name!r} has {len(data)} bytes, its shape {spec.get('shape')} and dtype {spec['dtype']} need {n * struct.calcsize(fmt)}")
    return list(struct.unpack(f"<{n}{fmt}", data))


# ---------------------------------------------------------------- run folders
def load_config(folder) -> TrainConfig:
    path = Path(folder) / CONFIG_FILE
    if not path.exists():
        raise CheckpointError(f"{path}: no such file (is {folder} a run folder?)")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{path}: bad config ({e})") from None


def read_metrics(folder) -> list[dict]:
    """Metrics rows in step order. A torn last line (a run being written) is skipped."""
    path = Path(folder) / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise CheckpointError(f"{path}: line {i + 1} is not valid JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            raise CheckpointError(f"{path}: line {i + 1} has no integer 'step'")
        rows.append(row)
    return rows


def snapshot_path(folder, step: int) -> Path:
    return Path(folder) / SNAPSHOT_DIR / f"step_{step:08d}.safetensors"


def snapshot_steps(folder) -> list[int]:
    d = Path(folder) / SNAPSHOT_DIR
    if not d.is_dir():
        return []
    steps = []
    for f in d.glob("step_*.safetensors"):
        try:
            steps.append(int(f.stem.split("_")[1]))
        except (IndexError, ValueError):
            continue
    return sorted(steps)
