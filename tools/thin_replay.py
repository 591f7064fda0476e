"""Keep fewer float16 weight frames in a shipped replay, so pretrained/ stays under 60 MB.

    python -m tools.thin_replay pretrained/mod113-no-wd --keep 16

The weight frames are ~0.45 MB each at p = 113 (226k parameters in float16) and make up most
of a replay; the per-frame data (metrics, spectra, neuron maps) is kept whole. Kept frames are
evenly spaced over the stored ones, always with the first and the last.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from grok import checkpoint as ckpt, replay


def thin(path: Path, keep: int) -> tuple[int, int]:
    t, meta = ckpt.read_tensors(path)
    steps = t["weight_steps"].tolist()
    if keep >= len(steps):
        return len(steps), len(steps)
    idx = sorted({round(i * (len(steps) - 1) / (keep - 1)) for i in range(keep)})
    kept = [steps[i] for i in idx]
    drop = {s for s in steps if s not in kept}
    t = {k: v for k, v in t.items() if not (k.startswith("w.") and int(k.split(".")[1]) in drop)}
    t["weight_steps"] = torch.tensor(kept, dtype=torch.int64)
    ckpt.save_tensors(path, t, meta)  # atomic (tmp + rename)
    replay.load(path)  # still a complete replay
    return len(steps), len(kept)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.thin_replay", description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--keep", type=int, default=16)
    a = ap.parse_args(argv)
    path = a.run / ckpt.REPLAY_FILE
    before = path.stat().st_size
    n0, n1 = thin(path, max(2, a.keep))
    print(f"{path}: {n0} -> {n1} weight frames, {before / 1e6:.1f} -> {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
