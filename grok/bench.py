"""Speed benchmark: `python -m grok.bench [--quick] [--json] [--threads N] [--checkpoint PATH]`.

Budgets (../shared/DESIGN.md) are measured here, never asserted in tests:
- training step: our fast step at least 4x faster than the plain full-sequence step, same
  logits to 1e-5. Both run in ONE process, interleaved (alternating blocks of repeats, the
  order swapped every round, median over rounds after a warm-up), so drift in machine load
  (other jobs, CPU frequency) hits both sides alike instead of biasing the ratio;
- full-grid analysis of one checkpoint under 1 s;
- evaluation (with the progress measures) under 10 % of training time at eval_every=100.

The plain step is the reference a reader would write from TransformerLens: all three positions
through attention, MLP and unembedding, then the last position's logits, and the loss of Nanda
et al.'s code (a float64 log-softmax). It lives here, not in the library, because nothing but
this comparison should ever train that way. The fast step's own loss (grok.stablemax.
softmax_xent: as exact, in float32) is one of its levers.
"""
from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time
from typing import Callable

import torch

from . import compiled, measures, stablemax
from .config import ModelConfig, TrainConfig
from .fastbag import make_plan
from .data import Dataset, make_dataset
from .model import Transformer, loss_fn
from .train import evaluate

LOGIT_TOL = 1e-5
ANALYSIS_BUDGET_MS = 1000.0
EVAL_BUDGET_PCT = 10.0


# ---------------------------------------------------------------- the two training steps
def make_opt(model: Transformer, cfg: TrainConfig, fused: bool = False) -> torch.optim.Optimizer:
    """AdamW as a TransformerLens user gets it (torch's default, foreach), or fused as the trainer
    uses it (one kernel for all tensors: measured 8-20x faster per step on this CPU)."""
    kw = {"fused": True} if fused else {}
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.wd, betas=(cfg.beta1, cfg.beta2), **kw)


def plain_step(model: Transformer, opt: torch.optim.Optimizer, tokens: torch.Tensor, labels: torch.Tensor) -> float:
    """Reference: tokens [B, 3] through every position (TransformerLens' way), loss on the last."""
    loss = stablemax.float64_xent(model(tokens)[:, -1], labels)  # model(tokens): [B, 3, p]; the paper's loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def fast_loss_fn(cfg: ModelConfig, tokens: torch.Tensor, labels: torch.Tensor) -> Callable[[Transformer], torch.Tensor]:
    """The trainer's forward + loss for a fixed batch: the exact last-position fast path with
    its index plan built once (see model.py, fastbag.py). A function of the model only: the
    thing grok.compiled compiles."""
    x, y = tokens[:, 0], tokens[:, 1]
    plan = make_plan(x, y, cfg.p, cfg.n_heads)

    def loss_of(model: Transformer) -> torch.Tensor:
        return loss_fn(model.fast_logits(x, y, plan), labels)  # logits [B, p] -> scalar

    return loss_of


def fast_step(model: Transformer, opt: torch.optim.Optimizer, tokens: torch.Tensor, labels: torch.Tensor,
              loss_of: Callable[[Transformer], torch.Tensor] | None = None) -> float:
    """The trainer's step: the exact last-position fast path (see model.py), fused AdamW."""
    loss = (loss_of or fast_loss_fn(model.cfg, tokens, labels))(model)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def copy_model(model: Transformer) -> Transformer:
    """An independent copy (own parameters), so each path trains its own weights."""
    m = Transformer(model.cfg, seed=None)
    m.load_state_dict(model.state_dict())
    return m


@torch.no_grad()
def max_logit_diff(model: Transformer, tokens: torch.Tensor) -> float:
    """max |full path - fast path| of the last-position logits over `tokens` [B, 3]."""
    full = model(tokens)[:, -1]
    fast = model.fast_logits(tokens[:, 0], tokens[:, 1])
    return (full - fast).abs().max().item()


@torch.no_grad()
def float64_errors(model: Transformer, tokens: torch.Tensor) -> tuple[float, float]:
    """(full path, fast path) max |float32 logits - float64 full-path logits|. A trained model's
    logits reach ~120, where float32 rounding alone is ~1e-5: then "equal to 1e-5" asks too
    much of either path, and what matters is that the fast path is as exact as the full one."""
    ref = copy_model(model).double()(tokens)[:, -1]
    full = model(tokens)[:, -1].double()
    fast = model.fast_logits(tokens[:, 0], tokens[:, 1]).double()
    return (full - ref).abs().max().item(), (fast - ref).abs().max().item()


# ---------------------------------------------------------------- timing
def interleaved(fns: dict[str, Callable[[], object]], rounds: int, repeats: int, warmup: int) -> dict[str, float]:
    """Median ms per call of each function, timed in alternating blocks of `repeats` calls."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            t0 = time.perf_counter()
            for _ in range(repeats):
                fns[n]()
            times[n].append((time.perf_counter() - t0) / repeats * 1000)
    return {n: statistics.median(v) for n, v in times.items()}


def timed(fn: Callable[[], object], repeats: int, warmup: int) -> tuple[float, object]:
    """(median ms of `repeats` calls after `warmup` untimed ones, the last call's result)."""
    for _ in range(warmup):
        fn()
    ts, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts), out


def profile_step(fn: Callable[[], object], steps: int = 10, rows: int = 18) -> str:
    """torch.profiler's table of `steps` calls of fn, by self CPU time: where a step's ms go."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            fn()
    return f"profile of {steps} fast eager steps (self CPU time; divide by {steps} for one step):\n" + \
        prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=56)


# ---------------------------------------------------------------- what is timed besides the step
def full_analysis(model: Transformer, ds: Dataset) -> dict:
    """What the app computes for one checkpoint: grid activations, neuron clusters (2-D Fourier
    of every neuron), key frequencies, restricted / excluded loss, Fourier norms and Gini."""
    acts = measures.grid_activations(model)
    clusters = measures.neuron_clusters(acts.post, model.cfg.p)
    ks = measures.key_frequencies(acts.logits)
    return {
        "key_frequencies": ks,
        "clustered": int(clusters.clustered.sum()),
        "restricted_loss": measures.restricted_loss(acts.logits, ds, ks),
        "excluded_loss": measures.excluded_loss(acts.logits, ds, ks),
        "gini_embed": measures.gini(measures.embed_freq_norms(model)).item(),
        "gini_unembed": measures.gini(measures.unembed_freq_norms(model)).item(),
    }


def ablation_timings(model: Transformer, ds: Dataset, ks: list[int], repeats: int, warmup: int) -> dict[str, float] | None:
    """ms of one `grok.ablate.ablate(model, ds, site, freqs, mode)` call per site, or None
    when the module (or that function) is not there."""
    try:
        from . import ablate as ab
    except ImportError:
        return None
    fn = getattr(ab, "ablate", None)
    if not callable(fn) or not {"model", "ds", "site", "freqs", "mode"} <= set(inspect.signature(fn).parameters):
        return None
    sites = getattr(ab, "SITES", ("logits",))
    return {s: timed(lambda s=s: fn(model, ds, s, ks, "remove"), repeats, warmup)[0] for s in sites}


CIRCUIT_BUDGET_MS = 250.0


def circuit_timings(model: Transformer, ds: Dataset, repeats: int, warmup: int) -> tuple[float, dict[str, float]]:
    """(ms of grok.circuit.measures_of on one checkpoint, given its grid activations as the app
    has them cached; ms of each part): the Circuit page's and the CLI's new full-grid measures."""
    from . import circuit, ipr, leakfree, pizza, probes

    acts = measures.grid_activations(model)
    ks = sorted(measures.key_frequencies(acts.logits))
    W_L = measures.W_L(model)
    parts = {
        "leak-free": lambda: leakfree.novel_accuracy(acts.logits, ds),
        "probes": lambda: probes.probe_table(model, ks, acts=acts),
        "ipr+pruning": lambda: ipr.pruning_curve(acts, W_L, ds, ipr.neuron_ipr(model, acts.pattern)),
        "clock/pizza": lambda: (pizza.gradient_symmetricity(model), pizza.distance_irrelevance(acts.logits)),
        "clock fit": lambda: circuit.clock_fit(acts.logits, ks),
    }
    total, _ = timed(lambda: circuit.measures_of(model, ds, acts, ks), repeats, warmup)
    return total, {n: timed(f, repeats, warmup)[0] for n, f in parts.items()}


# ---------------------------------------------------------------- CLI
def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m grok.bench", description="Time the fast training step against the plain full-sequence one, the analysis and the evaluation.")
    ap.add_argument("--quick", action="store_true", help="few repeats (seconds; for tests)")
    ap.add_argument("--json", action="store_true", help="also print all results as one JSON object on the last line")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile timing (its compile takes ~30-60 s)")
    ap.add_argument("--profile", action="store_true", help="also print where the fast eager step's time goes (torch.profiler)")
    ap.add_argument("--checkpoint", default=None, help="model file or run folder to use instead of a random init")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    a = parse_args(argv)
    if a.threads is not None:
        if a.threads < 1:
            print("error: --threads must be >= 1", file=sys.stderr)
            return 2
        torch.set_num_threads(a.threads)
    if a.checkpoint:
        from .checkpoint import CheckpointError, load

        try:
            loaded = load(a.checkpoint)
        except CheckpointError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        cfg, model, source = loaded.config, loaded.model, str(loaded.path)
    else:
        cfg = TrainConfig()
        model, source = Transformer(cfg.model, seed=cfg.seed), f"random init (seed {cfg.seed})"
    ds = make_dataset(cfg.model.p, cfg.frac_train, cfg.seed)
    tokens, labels = ds.tokens[ds.train_mask], ds.labels[ds.train_mask]  # the full training batch
    rounds, repeats, warmup = (3, 1, 1) if a.quick else (7, 5, 3)
    print(f"grok.bench: p={cfg.model.p}, full batch of {tokens.shape[0]:,} training pairs, "
          f"{torch.get_num_threads()} threads, {source}{' (quick)' if a.quick else ''}")

    # correctness first: the two paths must give the same logits on the whole grid
    diff = max_logit_diff(model, ds.tokens)
    ok = diff <= LOGIT_TOL
    note = f"tolerance {LOGIT_TOL:g}"
    if not ok:  # large trained logits: compare each path with the float64 reference instead
        e_full, e_fast = float64_errors(model, ds.tokens)
        ok = e_fast <= 1.5 * e_full
        note = (f"over {LOGIT_TOL:g} because float32 rounding of logits up to "
                f"{model(ds.tokens)[:, -1].abs().max().item():.0f} is that large: vs float64, full path "
                f"{e_full:.2e}, fast path {e_fast:.2e} ({'as exact' if ok else 'less exact'})")
    print(f"logits: max abs diff full vs fast over all {ds.tokens.shape[0]:,} pairs {diff:.2e} "
          f"({'ok' if ok else 'FAIL'}, {note})")

    # training step, interleaved: plain (TransformerLens' way, default AdamW), the trainer's fast
    # step eager, and (unless --quick / --no-compile) the same step under torch.compile
    loss_of = fast_loss_fn(cfg.model, tokens, labels)
    m_plain, m_fast = copy_model(model), copy_model(model)
    o_plain, o_fast = make_opt(m_plain, cfg), make_opt(m_fast, cfg, fused=True)
    fns = {
        "plain": lambda: plain_step(m_plain, o_plain, tokens, labels),
        "eager": lambda: fast_step(m_fast, o_fast, tokens, labels, loss_of),
    }
    compile_s = compile_again_s = compiled_diff = None
    do_compile = not (a.quick or a.no_compile) and compiled.available()[0]
    if do_compile:
        m_comp = copy_model(model)
        o_comp = make_opt(m_comp, cfg, fused=True)
        t0 = time.perf_counter()
        comp = compiled.compile_fn(loss_of)
        fast_step(m_comp, o_comp, tokens, labels, comp)  # first call: the compile
        compile_s = time.perf_counter() - t0
        # a second compile of a fresh closure, as a new run or a new process would do: served by
        # dynamo's code cache and inductor's FX-graph cache, not compiled again
        t0 = time.perf_counter()
        comp2 = compiled.compile_fn(fast_loss_fn(cfg.model, tokens, labels))
        with torch.no_grad():
            compiled_diff = (comp2(copy_model(model)) - loss_of(copy_model(model))).abs().item()
        compile_again_s = time.perf_counter() - t0
        fns["compiled"] = lambda: fast_step(m_comp, o_comp, tokens, labels, comp)
    t = interleaved(fns, rounds, repeats, warmup)
    t["fast"] = min(t["eager"], t.get("compiled", float("inf")))
    ratio = t["plain"] / t["fast"]
    print(f"plain step (full sequence, TransformerLens' way): {t['plain']:8.1f} ms/step")
    print(f"fast step, eager:                                {t['eager']:8.1f} ms/step  (ratio {t['plain'] / t['eager']:.2f})")
    if do_compile:
        print(f"fast step, torch.compile:                        {t['compiled']:8.1f} ms/step  (ratio {t['plain'] / t['compiled']:.2f}; "
              f"compile {compile_s:.1f} s, again from the cache {compile_again_s:.1f} s; loss diff {compiled_diff:.1e})")
    else:
        print("fast step, torch.compile: not measured (" + ("--quick" if a.quick else "--no-compile" if a.no_compile else compiled.available()[1]) + ")")
    print(f"fast step:                                       {t['fast']:8.1f} ms/step  ({'compiled' if t['fast'] != t['eager'] else 'eager'}, the faster)")
    print(f"ratio: {ratio:.2f}")
    if a.profile:
        print(profile_step(fns["eager"]))

    # full-grid analysis of one checkpoint
    n_rep, n_warm = (1, 0) if a.quick else (5, 1)
    analysis_ms, result = timed(lambda: full_analysis(model, ds), n_rep, n_warm)
    ks = result["key_frequencies"]
    print(f"analysis: {analysis_ms:.0f} ms for one full-grid analysis (budget {ANALYSIS_BUDGET_MS:.0f} ms: "
          f"{'ok' if analysis_ms <= ANALYSIS_BUDGET_MS else 'over'})")

    # frequency ablation
    abl = ablation_timings(model, ds, ks, n_rep, n_warm)
    if abl is None:
        ablation_ms = None
        print("ablation: not available (grok.ablate.ablate(model, ds, site, freqs, mode) not found)")
    else:
        ablation_ms = max(abl.values())
        per_site = ", ".join(f"{s} {v:.0f} ms" for s, v in abl.items())
        print(f"ablation: {ablation_ms:.0f} ms for the slowest site, removing k={ks} ({per_site})")

    # the circuit measures (grok.circuit.measures_of: probes, IPR + pruning, clock/pizza, ideal clock, leak-free)
    circuit_ms, circuit_parts = circuit_timings(model, ds, n_rep, n_warm)
    print(f"circuit measures: {circuit_ms:.0f} ms per checkpoint from its grid activations (budget {CIRCUIT_BUDGET_MS:.0f} ms: "
          f"{'ok' if circuit_ms <= CIRCUIT_BUDGET_MS else 'over'}; " + ", ".join(f"{n} {v:.0f} ms" for n, v in circuit_parts.items()) + ")")

    # evaluation overhead at eval_every=100
    eval_ms, _ = timed(lambda: evaluate(model, ds), n_rep, n_warm)
    overhead = eval_ms / (100 * t["fast"]) * 100
    print(f"eval overhead: evaluate() {eval_ms:.0f} ms = {overhead:.1f} % of 100 fast steps "
          f"(budget {EVAL_BUDGET_PCT:.0f} % at eval_every=100: {'ok' if overhead <= EVAL_BUDGET_PCT else 'over'})")

    if a.json:
        print(json.dumps({
            "plain_ms": t["plain"], "fast_ms": t["fast"], "ratio": ratio, "eager_ms": t["eager"], "compiled_ms": t.get("compiled"),
            "compile_s": compile_s, "compile_again_s": compile_again_s, "max_logit_diff": diff, "logits_ok": ok,
            "analysis_ms": analysis_ms, "ablation_ms": ablation_ms, "ablation_site_ms": abl,
            "eval_ms": eval_ms, "eval_overhead_pct": overhead, "circuit_ms": circuit_ms, "circuit_part_ms": circuit_parts,
            "p": cfg.model.p, "batch": int(tokens.shape[0]), "threads": torch.get_num_threads(),
            "quick": a.quick, "rounds": rounds, "repeats": repeats, "source": source,
        }))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
