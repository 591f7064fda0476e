"""Analyse one model: `python -m grok.analyze PATH [--json] [--frac-train F] [--split-seed S]`.

PATH is a model file (ours, or a bare TransformerLens state dict) or a run folder (its final
model, else its latest snapshot), read by grok.checkpoint.load. The report gives accuracy and
loss on the train / test split, the key frequencies, neuron clusters, restricted / excluded
loss, Gini coefficients, weight norm, logit variance explained and the sparse probes.

Which split: a run's own (frac_train and seed from its config) when the file carries one, else
the default split (frac 0.3, seed 0), and the report says which; --frac-train / --split-seed
override either. The computation is the pure function `analyze(loaded) -> dict` (the app and
the benchmark reuse it); `report(result)` turns it into text. With --json, one JSON object is
printed on the last line. Bad paths: exit code 2 and `error: <message>` on stderr.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch

from . import checkpoint as ckpt
from . import measures, probes
from .config import ConfigError, TrainConfig
from .data import make_dataset

DEFAULT_SPLIT = TrainConfig()  # frac_train 0.3, seed 0


def choose_split(loaded: ckpt.Loaded, frac_train: float | None = None, seed: int | None = None) -> dict:
    """{"frac_train", "seed", "source"}: the run's own split, the default one, or an override."""
    if loaded.config_from_run:
        frac, s, source = loaded.config.frac_train, loaded.config.seed, "run"
    else:
        frac, s, source = DEFAULT_SPLIT.frac_train, DEFAULT_SPLIT.seed, "default"
    if frac_train is not None or seed is not None:
        frac = frac if frac_train is None else frac_train
        s = s if seed is None else seed
        source = "override"
    TrainConfig(model=loaded.config.model, frac_train=frac, seed=s).validate()  # ConfigError if out of range
    return {"frac_train": frac, "seed": s, "source": source}


@torch.no_grad()
def analyze(loaded: ckpt.Loaded, frac_train: float | None = None, split_seed: int | None = None, probe_dims: int = 2) -> dict:
    """Every measure of one checkpoint, as plain JSON-able values (frequency keys are ints)."""
    model = loaded.model
    p = model.cfg.p
    split = choose_split(loaded, frac_train, split_seed)
    ds = make_dataset(p, split["frac_train"], split["seed"])
    split["n_train"] = int(ds.train_mask.sum())
    split["n_test"] = p * p - split["n_train"]
    acts = measures.grid_activations(model)
    la = measures.loss_acc(acts.logits, ds)
    ks = measures.key_frequencies(acts.logits)
    cl = measures.neuron_clusters(acts.post, p)
    return {
        "path": str(loaded.path),
        "step": loaded.step,
        "config": loaded.config.to_dict(),
        "config_from_run": loaded.config_from_run,
        "inferred": list(loaded.inferred),
        "split": split,
        "accuracy": la["all_acc"],
        "train_acc": la["train_acc"],
        "test_acc": la["test_acc"],
        "train_loss": la["train_loss"],
        "test_loss": la["test_loss"],
        "all_loss": la["all_loss"],
        "key_frequencies": ks,
        "neuron_clusters": cl.counts(),
        "n_neurons": int(cl.freq.numel()),
        "clustered_fraction": cl.clustered.float().mean().item(),
        "restricted_loss": measures.restricted_loss(acts.logits, ds, ks),
        "excluded_loss": measures.excluded_loss(acts.logits, ds, ks),
        "excluded_loss_per_freq": measures.excluded_loss_per_freq(acts.logits, ds, ks),
        "gini_embed": measures.gini(measures.embed_freq_norms(model)).item(),
        "gini_unembed": measures.gini(measures.unembed_freq_norms(model)).item(),
        "weight_norm": measures.weight_norm(model),
        "logit_var_explained": measures.logit_var_explained(acts.logits, ks),
        "probe_dims": probe_dims,
        "probes": probes.probes(model, ks, probe_dims, acts),
    }


# ---------------------------------------------------------------- text
def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def split_line(split: dict) -> str:
    what = {
        "run": "the run's own split",
        "default": "the default split (the file carries no run config)",
        "override": "the split given on the command line",
    }[split["source"]]
    return (f"split: {what}: frac_train {split['frac_train']}, seed {split['seed']} "
            f"({split['n_train']:,} train / {split['n_test']:,} test pairs)")


def report(r: dict) -> str:
    c = r["config"]
    m = c["model"]
    lines = [f"model: {r['path']}" + (f" (step {r['step']})" if r["step"] is not None else "")]
    lines.append(f"architecture: p={m['p']}, d_model={m['d_model']}, heads={m['n_heads']}x{m['d_head']}, d_mlp={m['d_mlp']}"
                 + (f" (inferred from tensor shapes)" if r["inferred"] else ""))
    if r["config_from_run"]:
        lines.append(f"training config: steps {c['steps']}, lr {c['lr']}, wd {c['wd']}, frac_train {c['frac_train']}, seed {c['seed']}"
                     + (f", grokfast alpha {c['grokfast_alpha']} lambda {c['grokfast_lambda']}" if c["grokfast_alpha"] > 0 else ""))
    else:
        lines.append("training config: not stored with the model")
    lines.append(split_line(r["split"]))
    lines.append(f"accuracy: train {_pct(r['train_acc'])}, test {_pct(r['test_acc'])}, all pairs {_pct(r['accuracy'])}")
    lines.append(f"loss: train {r['train_loss']:.3e}, test {r['test_loss']:.3e}")
    lines.append("key frequencies: " + ", ".join(str(k) for k in r["key_frequencies"]))
    n_cl = sum(r["neuron_clusters"].values())
    counts = ", ".join(f"k={k}: {n}" for k, n in r["neuron_clusters"].items()) or "none"
    lines.append(f"neurons clustered (>= 85 % of variance in one frequency): {n_cl} of {r['n_neurons']} ({counts})")
    lines.append(f"restricted loss (key frequencies only, all pairs): {r['restricted_loss']:.3e}")
    per = ", ".join(f"k={k}: {v:.3e}" for k, v in r["excluded_loss_per_freq"].items())
    lines.append(f"excluded loss (key frequencies removed, train pairs): {r['excluded_loss']:.3e}; one at a time: {per}")
    lines.append(f"Gini of Fourier norms: embedding {r['gini_embed']:.3f}, W_L {r['gini_unembed']:.3f}")
    lines.append(f"weight norm (sum of squared weights): {r['weight_norm']:.2f}")
    lines.append(f"logit variance explained by the key cos(w(x+y-c)) terms: {_pct(r['logit_var_explained'])}")
    lines.append(f"probes (R^2 of cos / sin(w_k x) from {r['probe_dims']} directions):")
    for k in r["key_frequencies"]:
        rp, npb = r["probes"]["resid"][k], r["probes"]["neurons"][k]
        lines.append(f"  k={k}: residual at x {rp['cos']:.3f} / {rp['sin']:.3f} (PCs {rp['dims']}), "
                     f"neurons at '=' {npb['cos']:.3f} / {npb['sin']:.3f} (neurons {npb['dims']})")
    return "\n".join(lines)


def _jsonable(v):
    """Plain JSON: finite floats, None for NaN / inf, dict keys as strings (json does that)."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


# ---------------------------------------------------------------- CLI
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m grok.analyze", description="Progress measures and Fourier analysis of one model file or run folder.")
    ap.add_argument("path", help="a model .safetensors file or a run folder")
    ap.add_argument("--json", action="store_true", help="also print every number as one JSON object on the last line")
    ap.add_argument("--frac-train", type=float, default=None, help="override the split's training fraction")
    ap.add_argument("--split-seed", type=int, default=None, help="override the split's seed")
    ap.add_argument("--probe-dims", type=int, default=2, help="directions / neurons per sparse probe (default 2)")
    a = ap.parse_args(argv)
    try:
        if a.probe_dims < 1:
            raise ConfigError(f"--probe-dims must be >= 1, got {a.probe_dims}")
        loaded = ckpt.load(a.path)
        r = analyze(loaded, a.frac_train, a.split_seed, a.probe_dims)
    except (ckpt.CheckpointError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        print(report(r))
        if a.json:
            print(json.dumps(_jsonable(r), allow_nan=False))
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader left; silence the exit-time flush (Python docs recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
