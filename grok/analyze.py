"""Analyse one model: `python -m grok.analyze PATH [--json] [--frac-train F] [--split-seed S]`.

PATH is a model file (ours, or a bare TransformerLens state dict) or a run folder (its final
model, else its latest snapshot), read by grok.checkpoint.load. The report gives accuracy and
loss on the train / test split, the key frequencies, neuron clusters, restricted / excluded
loss, Gini coefficients, weight norm, logit variance explained and the sparse probes, and the
circuit measures of grok.circuit.measures_of: leak-free test accuracy, probes at the
embedding / attention output / neurons with 1, 2, 4, 8 directions, neuron IPR and the pruning
curve, clock-or-pizza metrics and the ideal-clock fit (keys: the README, "JSON keys").
With --replay (a run folder with replay.safetensors) it also runs the 2-direction probes at
every weight step of the replay and says when each wave is first found (R^2 >= 0.9 for both
cos and sin) beside when test accuracy first reaches 90 %.

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
from . import circuit, measures, probes
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
        "circuit": circuit.measures_of(model, ds, acts, ks),
    }


FOUND_R2 = 0.9


def replay_timeline(folder, ks=None) -> dict:
    """The probe timeline over a run folder's replay weights (2 directions per probe), with,
    per site and frequency, the first step at which both waves are found (R^2 >= 0.9), and
    the first step with test accuracy >= 90 %."""
    from . import runs

    run = runs.open_run(folder)
    if not run.has_replay:
        raise ckpt.CheckpointError(f"{folder}: no {ckpt.REPLAY_FILE} (build it with python -m grok.replay {folder})")
    rp = run.replay()
    ks = sorted(rp.key_freqs) if ks is None else sorted(int(k) for k in ks)
    t = probes.probe_timeline(rp.path, run.config, rp.weight_steps, ks)
    acc_step = next((s for s, a in zip(t["steps"], t["test_acc"]) if a >= 0.9), None)
    found = {site: {k: probes.first_found(t["steps"], t[site][k], FOUND_R2) for k in ks} for site in probes.SITES}
    return {"freqs": ks, "found_r2": FOUND_R2, "first_found": found, "test_acc_90_step": acc_step, "timeline": t}


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
    lines += circuit_report(r["circuit"])
    if "replay_probes" in r:
        rp = r["replay_probes"]
        lines.append(f"probes over the replay (2 directions; a wave is found when cos and sin both reach R^2 {rp['found_r2']}): "
                     f"test accuracy first >= 90 % at step {rp['test_acc_90_step']}")
        for k in rp["freqs"]:
            f = {s: rp["first_found"][s][k] for s in probes.SITES}
            lines.append(f"  k={k}: embedding {f['resid']}, attention output {f['attn']}, neurons {f['neurons']}")
    return "\n".join(lines)


def circuit_report(c: dict) -> list[str]:
    """Text lines for grok.circuit.measures_of's dict."""
    lines = [f"leak-free test accuracy (test pairs whose swap is untrained too, {c['n_test_novel']:,} pairs): "
             + ("n/a" if c["test_acc_novel"] is None or (isinstance(c["test_acc_novel"], float) and math.isnan(c["test_acc_novel"]))
                else _pct(c["test_acc_novel"]))]
    lines.append("probes, R^2 of cos / sin(w_k x) with 1, 2, 4, 8 directions:")
    names = {"resid": "embedding", "attn": "attention output", "neurons": "neurons"}
    for k in c["freqs"]:
        parts = []
        for site, name in names.items():
            v = c["probes_by_dims"][site][k]
            parts.append(f"{name} " + " ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(v["cos"], v["sin"])))
        lines.append(f"  k={k}: " + "; ".join(parts))
    ip = c["ipr"]
    lines.append(f"neuron IPR (Doshi et al., r = 2): mean {ip['mean']:.3f}, median {ip['median']:.3f}, "
                 f"quartiles {ip['q25']:.3f} / {ip['q75']:.3f}, {ip['frac_above_0.5']:.0%} above 0.5")
    pc = c["pruning_curve"]
    pts = [i for i in range(len(pc["n_pruned"])) if i % 4 == 0 or i == len(pc["n_pruned"]) - 1]
    lines.append("pruning the least periodic neurons (removed: train / test accuracy): "
                 + ", ".join(f"{pc['n_pruned'][i]}: {pc['train_acc'][i]:.1%} / {pc['test_acc'][i]:.1%}" for i in pts))
    cp = c["clock_or_pizza"]
    lines.append(f"clock or pizza: {cp['text']}")
    f = c["clock_fit"]
    lines.append(f"ideal clock sum_k a_k cos(w_k(x+y-c)) fitted at k = {', '.join(map(str, f['freqs']))}: "
                 f"a_k = {', '.join(f'{a:.2f}' for a in f['a'])}; variance explained {_pct(f['var_explained'])}, "
                 f"cosine {f['cosine']:.3f}, mean per-pair cosine {f['mean_pair_cosine']:.3f}")
    return lines


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
    ap.add_argument("--replay", action="store_true", help="also probe every weight step of the run folder's replay (~30 checkpoints)")
    a = ap.parse_args(argv)
    try:
        if a.probe_dims < 1:
            raise ConfigError(f"--probe-dims must be >= 1, got {a.probe_dims}")
        loaded = ckpt.load(a.path)
        r = analyze(loaded, a.frac_train, a.split_seed, a.probe_dims)
        if a.replay:
            if not os.path.isdir(a.path):
                raise ConfigError("--replay needs a run folder (with replay.safetensors), not a model file")
            r["replay_probes"] = replay_timeline(a.path)
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
