"""What the Ask page (and the other per-checkpoint pages) show about one (x, y), computed from
the model itself: the clock verdict, where its OWN embedding puts x, y and its answer on each
frequency's circle, the votes of each frequency with their sum, and a top-predictions table
that stays informative when probabilities round to 100 % / 0 %.

Why not exact arithmetic: a clock drawn at w_k x, w_k y, w_k (x + y) lands on the right answer
even when the model answers something else, or has no clock at all. Here every point is read
off the model's weights and logits, so a memoriser's "clock" looks like what it is.
Pure torch / numpy; no Streamlit.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import measures
from . import verdict as verdict_mod
from .replay import circle_coords
from .snapshot import SnapshotAnalysis, freq_votes


def clock_verdict(a: SnapshotAnalysis) -> verdict_mod.ClockVerdict:
    """grok.verdict's rule on this checkpoint's grid logits and key-frequency candidates
    (computed once per cached analysis: stored on the object)."""
    v = a.__dict__.get("_clock_verdict")
    if v is None:
        v = verdict_mod.verdict(measures.logit_var_explained(a.acts.logits, a.key_freqs), a.key_freqs)
        a.__dict__["_clock_verdict"] = v
    return v


def shown_freqs(a: SnapshotAnalysis) -> tuple[int, ...]:
    """The frequencies a page may label: the key frequencies under a clock, the candidates
    while one is forming, none for a memoriser."""
    v = clock_verdict(a)
    return v.freqs if v.state in ("clock", "forming") else ()


def embedding_angles(a: SnapshotAnalysis, ks) -> tuple[np.ndarray, np.ndarray]:
    """(angle [K, p], radius [K, p]) of each number in frequency k's plane of W_E, measured
    from where the model puts 0 (so a clock reads angle(x) ~ +-w_k x) and radius relative to
    the numbers' mean radius (a clean circle is radius 1 for every number)."""
    c = a.__dict__.setdefault("_circle", {})
    key = tuple(int(k) for k in ks)
    if key not in c:
        xy = circle_coords(a.model, key).double().numpy() if key else np.zeros((0, a.p, 2))  # [K, p, 2]
        ang = np.arctan2(xy[..., 1], xy[..., 0])
        ang = np.mod(ang - ang[:, :1], 2 * np.pi)
        rad = np.hypot(xy[..., 0], xy[..., 1])
        rad = rad / np.maximum(rad.mean(axis=1, keepdims=True), 1e-12)
        c[key] = (ang, rad)
    return c[key]


def model_answer(a: SnapshotAnalysis, x: int, y: int) -> int:
    return int(a.acts.logits[x * a.p + y].argmax())


def angle_gap(u: float, v: float) -> float:
    """Smallest angle between two angles, in radians (0..pi)."""
    d = abs(math.remainder(u - v, 2 * math.pi))
    return d


def clock_points(a: SnapshotAnalysis, ks, x: int, y: int) -> list[dict]:
    """Rows (k, point, value, cos, sin, degrees) for the clock chart: x, y and the model's
    answer where its embedding puts them, and x's and y's angles added (on the unit circle)."""
    ang, rad = embedding_angles(a, ks)
    c = model_answer(a, x, y)
    rows = []
    for i, k in enumerate(ks):
        s = (ang[i, x] + ang[i, y]) % (2 * math.pi)
        for label, v, t, r in (("x", x, ang[i, x], rad[i, x]), ("y", y, ang[i, y], rad[i, y]),
                               ("angles of x and y added", None, s, 1.0), ("model's answer", c, ang[i, c], rad[i, c])):
            rows.append({"k": int(k), "point": label, "value": "" if v is None else str(v), "cos": r * math.cos(t),
                         "sin": r * math.sin(t), "degrees": round(math.degrees(t), 1)})
    return rows


def clock_agreement(a: SnapshotAnalysis, ks, x: int, y: int) -> list[tuple[int, float]]:
    """[(k, degrees between x's and y's angles added and the model's answer)] per frequency:
    small when the model's own circle adds the numbers."""
    ang, _ = embedding_angles(a, ks)
    c = model_answer(a, x, y)
    return [(int(k), math.degrees(angle_gap(ang[i, x] + ang[i, y], ang[i, c]))) for i, k in enumerate(ks)]


def circle_roundness(a: SnapshotAnalysis, ks) -> list[tuple[int, float]]:
    """[(k, spread)]: the relative spread of the numbers' radii in k's plane (0 = a perfect
    circle). A memoriser's numbers scatter; a clock's lie on a ring."""
    _, rad = embedding_angles(a, ks)
    return [(int(k), float(rad[i].std())) for i, k in enumerate(ks)]


def votes(a: SnapshotAnalysis, ks, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """([K, p] each frequency's part of the logits of (x, y) over the output c, [p] their sum)."""
    ks = list(ks)
    v = freq_votes(a.acts.logits, ks, x, y, a.vote_projections(ks)).numpy()  # [K, p]
    return v, v.sum(axis=0) if len(v) else np.zeros(a.p)


def fmt_prob(q: float) -> str:
    """A probability that never prints as a bare 100 % or 0 % unless it is exactly that."""
    if q >= 1.0:
        return "100 %"
    if q > 0.9995:
        return f"1 − {1 - q:.1e}"
    if q < 0.0005:
        return f"{q:.1e}" if q > 0 else "0"
    return f"{q:.1%}".replace("%", " %")


def top_table(a: SnapshotAnalysis, x: int, y: int, n: int = 5) -> list[dict]:
    """The n most likely answers with probability, log-probability and logit: when one answer
    has ~100 %, the log-probabilities and logit gaps still say how sure and what comes next."""
    p = a.p
    lg = a.acts.logits[x * p + y].double()  # [p]
    lp = lg.log_softmax(-1)
    v, i = lp.topk(min(n, p))
    ans = (x + y) % p
    return [{"answer": int(c), "correct": int(c) == ans, "probability": fmt_prob(math.exp(l)), "log-probability": round(float(l), 4),
             "logit": round(float(lg[c]), 3)} for l, c in zip(v.tolist(), i.tolist())]
