"""Replay data: everything the replay views need, precomputed per frame, in one safetensors file.

Frames are the run's weight snapshots (dense early, sparse late). Per frame we store the
metrics recomputed from the weights on the whole grid, restricted / excluded loss with the
FINAL model's key frequencies (as the paper's curves do), the embedding and W_L spectra,
each neuron's frequency and fraction explained, the number circle in each key plane, and the
activation maps of a few representative neurons (uint8 with a per-map range). A subset of the
snapshots is kept as full float16 weights so any analysis can run at those steps once the
snapshots/ folder is gone (as in pretrained/).

`python -m grok.replay RUN [--ship DEST]` builds RUN/replay.safetensors; with --ship it also
copies the shippable files of the run into DEST and writes its model card.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from . import checkpoint as ckpt
from . import fourier, measures
from .config import TrainConfig
from .data import make_dataset
from .model import Transformer

METRIC_KEYS = (
    "train_loss", "test_loss", "all_loss", "train_acc", "test_acc", "all_acc", "restricted_loss", "excluded_loss",
    "gini_embed", "gini_unembed", "weight_norm", "clustered_fraction", "logit_var_explained",
)


@dataclass
class Replay:
    steps: list[int]  # [F] frame steps
    key_freqs: list[int]  # the final model's key frequencies
    neurons: list[int]  # neurons whose maps are stored
    weight_steps: list[int]  # steps with full weights inside the file
    metrics: dict[str, torch.Tensor]  # name -> [F] float64
    embed_norms: torch.Tensor  # [F, K]
    unembed_norms: torch.Tensor  # [F, K]
    neuron_freq: torch.Tensor  # [F, N] uint8 (1..K)
    neuron_frac: torch.Tensor  # [F, N] float16
    circle: torch.Tensor  # [F, len(key_freqs), p, 2] float16
    excluded_per_freq: torch.Tensor  # [F, len(key_freqs)]
    maps: torch.Tensor  # [F, M, p, p] uint8
    map_range: torch.Tensor  # [F, M, 2] float32 (lo, hi)
    path: Path

    def neuron_map(self, frame: int, j: int) -> torch.Tensor:
        """[p, p] float activation map of stored neuron j at frame `frame`."""
        lo, hi = self.map_range[frame, j].tolist()
        return lo + self.maps[frame, j].float() / 255 * (hi - lo)

    def frame_of(self, step: int) -> int:
        """Index of the last frame at or before `step`."""
        i = 0
        for j, s in enumerate(self.steps):
            if s <= step:
                i = j
        return i


@torch.no_grad()
def circle_coords(model: Transformer, ks) -> torch.Tensor:
    """[len(ks), p, 2]: each number's embedding projected on the unit directions of W_E that
    carry cos(w_k x) and sin(w_k x); a grokked model puts the numbers on a circle."""
    p = model.cfg.p
    WE = model.embed.W_E[:p].double()  # [p, d]
    C = fourier.transform(WE)  # [p, d] coefficients: row 2k-1 = direction of cos k
    out = []
    for k in ks:
        u = torch.stack([C[2 * k - 1], C[2 * k]])  # [2, d]
        u = u / u.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append(WE @ u.T)
    return torch.stack(out).float()


def pick_neurons(post: torch.Tensor, p: int, ks, n: int) -> list[int]:
    """The best-explained neuron of each key frequency (round robin), n in all."""
    cl = measures.neuron_clusters(post, p)
    by_k = {k: [] for k in ks}
    for i in torch.argsort(cl.frac, descending=True).tolist():
        k = int(cl.freq[i])
        if k in by_k:
            by_k[k].append(i)
    out: list[int] = []
    while len(out) < n and any(by_k.values()):
        for k in ks:
            if by_k[k] and len(out) < n:
                out.append(by_k[k].pop(0))
    for i in torch.argsort(cl.frac, descending=True).tolist():  # fewer key neurons than n
        if len(out) >= n:
            break
        if i not in out:
            out.append(i)
    return out


@torch.no_grad()
def build(folder, n_weights: int = 32, n_neurons: int = 3, progress: bool = True) -> Path:
    """Compute the replay of the run in `folder` from its snapshots; writes replay.safetensors."""
    folder = Path(folder)
    cfg = ckpt.load_config(folder)
    steps = ckpt.snapshot_steps(folder)
    if len(steps) < 2:
        raise ckpt.CheckpointError(f"{folder}: needs at least 2 weight snapshots to build a replay, found {len(steps)}")
    p = cfg.model.p
    ds = make_dataset(p, cfg.frac_train, cfg.seed)
    final = ckpt.load_snapshot(folder, steps[-1], cfg)
    facts = measures.grid_activations(final)
    ks = measures.key_frequencies(facts.logits)
    neurons = pick_neurons(facts.post, p, ks, n_neurons)
    n_w = min(n_weights, len(steps))
    w_idx = sorted({round(i * (len(steps) - 1) / max(n_w - 1, 1)) for i in range(n_w)})
    weight_steps = [steps[i] for i in w_idx]

    cols: dict[str, list] = {k: [] for k in ("embed", "unembed", "nfreq", "nfrac", "circle", "excl", "maps", "range")}
    mets: dict[str, list] = {k: [] for k in METRIC_KEYS}
    tensors: dict[str, torch.Tensor] = {}
    it = steps
    if progress:
        from tqdm import tqdm
        it = tqdm(steps, desc=f"replay {folder.name}", unit="frame")
    for s in it:
        model = ckpt.load_snapshot(folder, s, cfg)
        acts = measures.grid_activations(model)
        row = {**measures.loss_acc(acts.logits, ds), "weight_norm": measures.weight_norm(model)}
        row.update(measures.progress_measures(model, ds, ks=ks, acts=acts))
        for k in METRIC_KEYS:
            mets[k].append(float(row[k]))
        cols["embed"].append(measures.embed_freq_norms(model))
        cols["unembed"].append(measures.unembed_freq_norms(model))
        cl = measures.neuron_clusters(acts.post, p)
        cols["nfreq"].append(cl.freq.to(torch.uint8))
        cols["nfrac"].append(cl.frac.half())
        cols["circle"].append(circle_coords(model, ks).half())
        cols["excl"].append(torch.tensor([measures.excluded_loss(acts.logits, ds, [k]) for k in ks]))
        m = acts.post[:, neurons].T.reshape(len(neurons), p, p)  # [M, p, p]
        lo, hi = m.amin((1, 2)), m.amax((1, 2))
        q = ((m - lo[:, None, None]) / (hi - lo).clamp_min(1e-12)[:, None, None] * 255).round().to(torch.uint8)
        cols["maps"].append(q)
        cols["range"].append(torch.stack([lo, hi], 1))
        if s in weight_steps:
            for name, w in model.weights().items():
                tensors[f"w.{s}.{name}"] = w.half()
    tensors.update({
        "steps": torch.tensor(steps, dtype=torch.int64),
        "key_freqs": torch.tensor(ks, dtype=torch.int64),
        "neurons": torch.tensor(neurons, dtype=torch.int64),
        "weight_steps": torch.tensor(weight_steps, dtype=torch.int64),
        "embed_norms": torch.stack(cols["embed"]),
        "unembed_norms": torch.stack(cols["unembed"]),
        "neuron_freq": torch.stack(cols["nfreq"]),
        "neuron_frac": torch.stack(cols["nfrac"]),
        "circle": torch.stack(cols["circle"]),
        "excluded_per_freq": torch.stack(cols["excl"]).float(),
        "maps": torch.stack(cols["maps"]),
        "map_range": torch.stack(cols["range"]).float(),
        **{f"m.{k}": torch.tensor(v, dtype=torch.float64) for k, v in mets.items()},
    })
    out = folder / ckpt.REPLAY_FILE
    ckpt.save_tensors(out, tensors, {"kind": "replay", "config": cfg.to_dict()})
    return out


def load(path) -> Replay:
    """Read and validate a replay file; CheckpointError names the file and the problem."""
    path = Path(path)
    t, meta = ckpt.read_tensors(path)
    need = ("steps", "key_freqs", "neurons", "weight_steps", "embed_norms", "unembed_norms", "neuron_freq",
            "neuron_frac", "circle", "excluded_per_freq", "maps", "map_range") + tuple(f"m.{k}" for k in METRIC_KEYS)
    missing = [k for k in need if k not in t]
    if missing:
        raise ckpt.CheckpointError(f"{path}: not a complete replay file, missing: {', '.join(missing)}")
    F = t["steps"].shape[0]
    for k in need[4:]:
        if t[k].shape[0] != F:
            raise ckpt.CheckpointError(f"{path}: {k} has {t[k].shape[0]} frames, steps has {F}")
    return Replay(
        steps=t["steps"].tolist(), key_freqs=t["key_freqs"].tolist(), neurons=t["neurons"].tolist(),
        weight_steps=t["weight_steps"].tolist(), metrics={k: t[f"m.{k}"] for k in METRIC_KEYS},
        embed_norms=t["embed_norms"].float(), unembed_norms=t["unembed_norms"].float(), neuron_freq=t["neuron_freq"],
        neuron_frac=t["neuron_frac"], circle=t["circle"], excluded_per_freq=t["excluded_per_freq"], maps=t["maps"],
        map_range=t["map_range"], path=path,
    )


def load_weights(path, step: int, config: TrainConfig) -> Transformer:
    """The full weights stored in a replay file at `step` (float16 -> float32)."""
    path = Path(path)
    t, _ = ckpt.read_tensors(path)
    prefix = f"w.{step}."
    w = {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
    if not w:
        raise ckpt.CheckpointError(f"{path}: holds no weights at step {step}")
    return ckpt.build_model(ckpt.validate_weights(path, w, config.model), config.model)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m grok.replay", description="Build a run's replay file (and ship it with --ship).")
    ap.add_argument("run", help="run folder with snapshots/")
    ap.add_argument("--n-weights", type=int, default=32, help="full float16 weight snapshots to keep (default 32)")
    ap.add_argument("--n-neurons", type=int, default=3, help="neurons whose activation maps are stored per frame (default 3)")
    ap.add_argument("--ship", metavar="DEST", help="copy model, config, metrics and replay into DEST and write its model card")
    ap.add_argument("--command", default="", help="the training command, for the model card")
    ap.add_argument("--notes", default="", help="a Markdown file whose text is appended to the model card")
    a = ap.parse_args(argv)
    try:
        out = build(a.run, a.n_weights, a.n_neurons)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
        if a.ship:
            from .modelcard import ship
            dest = ship(a.run, a.ship, command=a.command, notes=Path(a.notes).read_text() if a.notes else "")
            print(f"shipped to {dest}")
    except ckpt.CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
