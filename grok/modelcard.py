"""Ship a trained run into pretrained/: copy what the app needs and write its model card.

Only final weights, config, metrics and the replay file travel (snapshots/ and the resume
state stay behind), so the shipped folder is small; the card is generated from the files, so
its numbers are the files' numbers.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from . import checkpoint as ckpt
from . import measures, phases
from .data import make_dataset
from .runs import open_run

SHIP_FILES = (ckpt.CONFIG_FILE, ckpt.METRICS_FILE, ckpt.MODEL_FILE, ckpt.REPLAY_FILE)


def tl_snippet(rel_path: str, cfg) -> str:
    m = cfg.model
    return f"""```python
from safetensors.torch import load_file
from transformer_lens import HookedTransformer, HookedTransformerConfig
cfg = HookedTransformerConfig(n_layers=1, d_model={m.d_model}, n_heads={m.n_heads}, d_head={m.d_head}, d_mlp={m.d_mlp}, act_fn="relu", normalization_type=None, d_vocab={m.p + 1}, d_vocab_out={m.p}, n_ctx=3)
model = HookedTransformer(cfg)
model.load_state_dict(load_file("{rel_path}"), strict=True)
```"""


def _grokfast(cfg) -> str:
    if cfg.grokfast:
        return f"EMA, alpha {cfg.grokfast_alpha:g}, lambda {cfg.grokfast_lambda:g}"
    if cfg.grokfast_ma:
        return f"MA, window {cfg.grokfast_window}, lambda {cfg.grokfast_lambda:g}"
    return "off"


def card(run_dir, name: str, command: str = "", notes: str = "") -> str:
    run = open_run(run_dir, name)
    cfg = run.config
    rows = run.metrics
    last = rows[-1]
    model = run.model_at(None)
    ds = make_dataset(cfg.model.p, cfg.frac_train, cfg.seed)
    acts = measures.grid_activations(model)
    la = measures.loss_acc(acts.logits, ds)
    ks = measures.key_frequencies(acts.logits)
    cl = measures.neuron_clusters(acts.post, cfg.model.p)
    ph = phases.detect(rows)
    g = phases.grokked_step(rows)
    n_train = int(ds.train_mask.sum())
    lines = [
        f"# {name}", "",
        f"A one-layer transformer (TransformerLens layout, {cfg.model.n_heads} heads, d_model {cfg.model.d_model}, d_mlp {cfg.model.d_mlp}, no LayerNorm) "
        f"trained on (x + y) mod {cfg.model.p}, full batch, {n_train} training pairs of {cfg.model.p ** 2}.", "",
        "## Recipe", "",
        "| setting | value |", "| --- | --- |",
        f"| optimiser | AdamW, lr {cfg.lr:g}, weight decay {cfg.wd:g}, betas ({cfg.beta1:g}, {cfg.beta2:g}), eps {cfg.adam_eps:g}, warm-up {cfg.warmup} steps |",
        f"| loss | {'StableMax' if cfg.loss == 'stablemax' else 'softmax'} cross-entropy in float{cfg.softmax_precision} |",
        f"| gradient | {'perpendicular to the weights, per tensor (--orthograd)' if cfg.orthograd else 'plain'} |",
        f"| split | {cfg.frac_train:g} train, seed {cfg.seed} |",
        f"| steps | {last['step']} of {cfg.steps} |",
        f"| Grokfast | {_grokfast(cfg)} |",
        f"| wall time | {last.get('wall_time', 0):.0f} s on 2 CPU cores (shared machine) |", "",
    ]
    if command:
        lines += ["Reproduce:", "", "```bash", command, "```", ""]
    lines += [
        "## Final metrics (recomputed from model.safetensors)", "",
        "| | train | test | all |", "| --- | --- | --- | --- |",
        f"| loss | {la['train_loss']:.3g} | {la['test_loss']:.3g} | {la['all_loss']:.3g} |",
        f"| accuracy | {la['train_acc']:.2%} | {la['test_acc']:.2%} | {la['all_acc']:.2%} |", "",
        f"- test accuracy first reached 100 % at step: **{g if g is not None else 'never'}**",
        f"- key frequencies: **{', '.join(map(str, ks))}** (rule in `grok.measures.key_frequencies`)",
        f"- restricted loss {measures.restricted_loss(acts.logits, ds, ks):.3g}, excluded loss {measures.excluded_loss(acts.logits, ds, ks):.3g}",
        f"- Gini of embedding / W_L Fourier norms: {measures.gini(measures.embed_freq_norms(model)):.3f} / {measures.gini(measures.unembed_freq_norms(model)):.3f}",
        f"- total squared weight norm {measures.weight_norm(model):.1f}",
        f"- neurons clustered by one frequency (>= 85 % variance): {int(cl.clustered.sum())} of {cl.freq.numel()}: "
        + ", ".join(f"k={k}: {n}" for k, n in cl.counts().items()), "",
        "## Phases (grok.phases.detect on metrics.jsonl)", "",
        "| phase | from step | to step | note |", "| --- | --- | --- | --- |",
        *[f"| {p.name} | {p.start} | {p.end} | {p.note} |" for p in ph], "",
        "## Files", "",
        "- `model.safetensors`: final weights, TransformerLens names, config in the metadata",
        "- `config.json`, `metrics.jsonl` (one row per eval, with the progress measures)",
        "- `replay.safetensors`: per-frame replay data and float16 weight snapshots (`grok.replay`)", "",
        "## Load it in TransformerLens", "",
        tl_snippet(f"pretrained/{name}/model.safetensors", cfg), "",
        "Or with this project: `grok.checkpoint.load(\"pretrained/%s\")`." % name, "",
    ]
    if notes:
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def ship(run_dir, dest, command: str = "", notes: str = "") -> Path:
    run_dir, dest = Path(run_dir), Path(dest)
    for f in SHIP_FILES:
        if not (run_dir / f).exists():
            raise ckpt.CheckpointError(f"{run_dir / f}: missing, cannot ship the run (build the replay first)")
    dest.mkdir(parents=True, exist_ok=True)
    for f in SHIP_FILES:
        tmp = dest / f".{f}.tmp"
        shutil.copyfile(run_dir / f, tmp)
        tmp.replace(dest / f)
    from . import atomic

    atomic.write_text(dest / "README.md", card(dest, dest.name, command, notes))
    return dest
