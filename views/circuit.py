"""Circuit: one (x, y) followed through the whole model at the selected checkpoint (embedding,
attention, neurons, W_L, logits and the ideal clock), then the evidence over the grid: sparse
probes (and when the replay finds each wave), periodic neurons (IPR) with live pruning,
leak-free test accuracy and the clock-or-pizza test. Maths in grok.circuit / attention / ipr /
leakfree / pizza / probes; every "key frequency" label follows grok.verdict."""
from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import ui
from components.bars import bar_keys
from components.circles import number_circles
from components.votes import votes_chart
from grok import attention, charts, circuit, measures, palette, probes
from grok import query_view as qv
from grok.images import grid_image, png_bytes
from grok.replay import circle_coords

SITE_NAMES = {"resid": "embedding (residual at x)", "attn": "attention output at '='", "neurons": "neurons at '='"}


# ---------------------------------------------------------------- cached per checkpoint / run
@st.cache_resource(max_entries=6, show_spinner="Measuring the circuit on the whole grid...")
def _circuit(path: str, mtime: float, step: int, ks: tuple[int, ...]) -> dict:
    a = ui._analysis(path, mtime, step)
    return circuit.measures_of(a.model, a.ds, a.acts, list(ks))


@st.cache_resource(max_entries=6, show_spinner=False)
def _fit(path: str, mtime: float, step: int, ks: tuple[int, ...]) -> circuit.ClockFit:
    return circuit.clock_fit(ui._analysis(path, mtime, step).acts.logits, list(ks))


@st.cache_resource(max_entries=6, show_spinner=False)
def _grid_attention(path: str, mtime: float, step: int) -> tuple[np.ndarray, np.ndarray]:
    a = ui._analysis(path, mtime, step)
    pat = a.acts.pattern.reshape(a.p, a.p, -1, 3).numpy()  # [p, p, H, 3]
    return pat, attention.ov_freq_norms(a.model).numpy()  # [H, K]


@st.cache_resource(max_entries=6, show_spinner=False)
def _circles(path: str, mtime: float, step: int, ks: tuple[int, ...]) -> np.ndarray:
    return circle_coords(ui._analysis(path, mtime, step).model, list(ks)).numpy()  # [K, p, 2]


# Per (checkpoint, pair): a visitor who comes back to this page, or moves between pairs already
# seen, gets the walk from these caches instead of recomputing it (~0.1 s of server time a visit).
@st.cache_resource(max_entries=64, show_spinner=False)
def _pair_clusters(path: str, mtime: float, step: int, ks: tuple[int, ...], x: int, y: int) -> tuple[dict, list]:
    """{k: (cluster size, its 2-D Fourier terms at (x, y))} and each cluster's output over c."""
    a = ui._analysis(path, mtime, step)
    cl, W_L = a.clusters, measures.W_L(a.model)
    terms, outs = {}, []
    for k in ks:
        members = [n for n in range(cl.freq.numel()) if int(cl.freq[n]) == k and bool(cl.clustered[n])]
        if members:
            terms[k] = (len(members), circuit.cluster_terms(a.acts.post, a.p, members, k, x, y))
            outs.append(circuit.cluster_output(a.acts.post, W_L, members, k, x, y))
    return terms, outs


@st.cache_resource(max_entries=64, show_spinner=False)
def _head_pngs(path: str, mtime: float, step: int, x: int, y: int) -> list[tuple[bytes, bytes]]:
    """Per head, its attention-to-x and attention-to-y maps over (x, y) as PNG bytes, the pair outlined."""
    pat, _ = _grid_attention(path, mtime, step)
    cell = max(2, 160 // pat.shape[0])
    return [tuple(png_bytes(grid_image(pat[:, :, h, j], cell=cell, lo=0, hi=1, highlight=(x, y))) for j in (0, 1))
            for h in range(pat.shape[2])]


@st.cache_data(max_entries=4, show_spinner="Probing every weight step of the replay (about half a minute)...")
def _timeline(path: str, mtime: float) -> dict:
    from grok import runs

    run = runs.open_run(path)
    rp = run.replay()
    t = probes.probe_timeline(rp.path, run.config, rp.weight_steps, sorted(rp.key_freqs))
    t["freqs"] = sorted(rp.key_freqs)
    return t


# ---------------------------------------------------------------- the page
st.title("Circuit")
run, shared_step = ui.current()
step = ui.weight_step(run, shared_step)
p = run.config.model.p
path, mtime = str(run.path), ui.stamp(run.path)
a = ui.analysis(run, step)
verdict = qv.clock_verdict(a)
ks = tuple(sorted(a.key_freqs))
words = {"clock": "key frequencies", "forming": "candidate frequencies", "none": "strongest frequencies (no clock)"}[verdict.state]
c = _circuit(path, mtime, step, ks)
fit = _fit(path, mtime, step, ks)

st.markdown(
    "The whole computation of the one-layer transformer for one pair, in order: the **embedding** puts x and y on "
    "circles, the **attention** heads at '=' copy them into the last position, the **MLP neurons** multiply their waves, "
    "**W_L** turns each frequency cluster into a vote cos(w(x + y − c)) over the answer c, and the **logits** add the votes."
)
ui.caption_checkpoint(run, shared_step)
if verdict.state == "clock":
    st.success(verdict.text, icon="🕰️")
else:
    st.info(verdict.text, icon="🕰️")

m1, m2, m3, m4 = st.columns(4)
m1.metric("Test accuracy", f"{a.metrics['test_acc']:.1%}")
m2.metric("Leak-free test accuracy", "n/a" if c["n_test_novel"] == 0 else f"{c['test_acc_novel']:.1%}",
          help=f"Only the {c['n_test_novel']:,} test pairs whose swap (y, x) is untrained too: x + y = y + x, so a test pair "
               "whose swap was trained is not really unseen (grokking-tda's test_acc_novel).")
m3.metric("Ideal clock fit", f"{fit.var_explained:.1%}",
          help="Fraction of the centred logits' variance that sum_k a_k cos(w_k(x + y − c)) explains, a_k fitted.")
m4.metric("Clock or pizza", c["clock_or_pizza"]["verdict"])


@st.fragment
def walk() -> None:
    """The per-pair walk reruns alone (a fragment) when x or y changes."""
    st.header("One pair through the model")
    c1, c2 = st.columns(2)
    with c1:
        x = int(ui.synced("x", st.number_input, ui.int_in(0, p - 1), min(17, p - 1), label="x", min_value=0, max_value=p - 1, step=1))
    with c2:
        y = int(ui.synced("y", st.number_input, ui.int_in(0, p - 1), min(42, p - 1), label="y", min_value=0, max_value=p - 1, step=1))
    i = x * p + y
    answer = (x + y) % p
    pred = int(a.acts.logits[i].argmax())
    st.caption(f"{x} + {y} mod {p} = **{answer}**; the model says **{pred}** ({'right' if pred == answer else 'wrong'}). "
               f"The pair is a {'training' if bool(a.ds.train_mask[i]) else 'test'} pair. The same x and y as on the Ask page.")
    if not ks:
        return

    # 1. embedding
    st.subheader("1. Embedding: x and y on each frequency's circle")
    # one SVG component for every frequency's plane (it wraps on a phone), not a Vega view per k (README, "Speed")
    number_circles("circuit_circles", _circles(path, mtime, step, ks), ks, x=x, y=y)
    st.caption(f"Blue: x = {x}; green: y = {y}; grey: the other numbers. Each dot is a number, its embedding W_E[n] projected on the two directions of W_E that carry cos(w_k n) and "
               f"sin(w_k n) for this checkpoint's {words}. On a clock the numbers lie on a circle at angle w_k·n, so x and y "
               "are two rotations; the rest of the network adds the angles.")

    # 2. attention
    st.subheader("2. Attention: whom '=' reads, and what the heads write")
    pat, ovn = _grid_attention(path, mtime, step)
    H = pat.shape[2]
    heads = st.columns(min(H, 4))
    pngs = _head_pngs(path, mtime, step, x, y)
    for h in range(H):
        with heads[h % len(heads)]:
            st.markdown(f"**Head {h}** · x {pat[x, y, h, 0]:.0%} · y {pat[x, y, h, 1]:.0%} · = {pat[x, y, h, 2]:.0%}",
                        help="This pair's attention from '=' to x, to y and to '=' itself.")
            st.image(pngs[h][0], caption=f"head {h}: attention to x over (x, y)")
            st.image(pngs[h][1], caption=f"head {h}: attention to y over (x, y)")
    share = c["attention"]["periodic_share_x"]
    st.caption(
        "Rows are x, columns y, dark 0 to yellow 1; the outlined cell is this pair. Why the pattern is periodic: the query at "
        "'=' is a constant vector, so a head's score of the x position is q·k(x) with k(x) = (W_E[x] + W_pos[0]) W_K, a "
        f"function of x's embedding, which is made of the waves cos / sin(w_k x): the scores and their softmax are waves of x "
        f"and y too. Share of each head's attention-to-x map carried by the {words}' terms: "
        + ", ".join(f"head {h} {s:.0%}" for h, s in enumerate(share)) + ".")
    ov_cols = st.columns(2)  # one small chart per head in two columns (stacked on a phone), SVG bars, not Vega views
    for h in range(H):
        with ov_cols[h % 2]:
            bar_keys(f"circuit_ov_{h}", ovn[h], ks if verdict.has_clock else (), "Fourier norm", title=f"head {h}", height=140,
                     candidates=() if verdict.has_clock else ks)
    st.caption("What each head writes when it attends to number n (its OV output (W_E[n] + W_pos) W_V W_O), as Fourier norms over n: "
               "on a clock the heads pass the embedding's waves on, so the same frequencies stand out.")

    # 3. neurons and 4. W_L
    st.subheader("3. Neurons: each cluster's activation as products of waves")
    terms, outs = _pair_clusters(path, mtime, step, ks, x, y)
    if terms:
        # a column per cluster, "value · share" in each cell: fits a phone's width
        head = ["term"] + [f"k = {k} ({n} neurons): value · share" for k, (n, _) in terms.items()]
        body = [[name] + [f"{t[i]['value at (x, y)']:.3f} · {t[i]['share of energy']:.3f}" for _, t in terms.values()]
                for i, name in enumerate(circuit.TERMS)]
        st.markdown(ui.html_table(head, body), unsafe_allow_html=True)  # HTML, not st.table: lighter for the browser
        st.caption("For each cluster of neurons (those with at least 85 % of their variance in one frequency): the value at this (x, y) "
                   "of the 2-D Fourier terms of its frequency (w = 2πk/p), then (after the ·) the share of the cluster's centred "
                   "activation energy along each term over the whole grid. cos(a)cos(b) − sin(a)sin(b) = cos(a + b): a cluster that carries "
                   "cos x cos y and sin x sin y can hand cos(w(x + y)) to W_L.")
    else:
        st.caption(f"No neuron is clustered on the {words} at this checkpoint.")

    st.subheader("4. W_L: each cluster's vote over the answer c")
    if outs:
        cols = st.columns(min(len(outs), 4))
        for j, o in enumerate(outs):
            gap = math.degrees((o["theta"] - o["w(x+y)"] + math.pi) % (2 * math.pi) - math.pi)
            cols[j % len(cols)].metric(f"k = {o['k']}: peak vs w(x+y)", f"{gap:+.1f}°",
                                       help=f"The cluster writes A cos(wc) + B sin(wc) = R cos(wc − θ) with R = {o['R']:.3g}; "
                                            f"{o['share']:.0%} of its output over c lies along cos / sin(wc). θ − w(x+y) mod 360°.")
        # the Ask page's votes chart (SVG): a line per cluster over c, the true answer marked
        votes_chart("circuit_cluster_votes", charts.votes_layout(np.stack([np.asarray(o["output"], dtype=float) for o in outs]),
                                                                 [o["k"] for o in outs], answer), height=240)
        st.caption(f"Each cluster's output sum_n post_n W_L[n, c] at this pair, over c; the dashed line is the true answer {answer}. "
                   "Read along cos(w c) and sin(w c) it is R cos(w c − θ): a clock puts θ at w(x + y), so every cluster peaks at "
                   "c = x + y (mod p): the angle gap above is 0° (as in the hand-built clock of tests/). A trained model's clusters are off by "
                   "some degrees each; their sum with the rest of the logits (step 5) peaks at the answer.")

    # 5. logits and the ideal clock
    st.subheader("5. Logits: the votes added, against the ideal clock")
    d = circuit.pair_logits(a.acts.logits, fit, x, y)
    model_c = (d["model"] - d["model"].mean()).numpy()
    abar = float(np.mean(fit.a)) if fit.a else 1.0
    votes_chart("circuit_pair_logits", charts.pair_logits_layout(model_c, d["ideal"].numpy(), abar * d["sum_cos"].numpy(), answer), height=260)
    q1, q2, q3, q4 = st.columns(4)
    q1.metric("This pair: cosine", f"{d['cosine']:.3f}", help="Cosine similarity of the pair's centred logits with the fitted clock's, over c.")
    q2.metric("This pair: R²", f"{d['r2']:.3f}")
    q3.metric("Grid: variance explained", f"{fit.var_explained:.1%}")
    q4.metric("Grid: mean per-pair cosine", f"{fit.pair_cosine.mean().item():.3f}")
    st.caption("The ideal clock is sum_k a_k cos(w_k(x + y − c)) with a_k fitted by least squares to the centred grid logits: "
               + ", ".join(f"a_{k} = {v:.2f}" for k, v in zip(fit.ks, fit.a)) + ". The grey curve is the unweighted sum "
               f"sum_k cos(w_k(x + y − c)), scaled by the mean a_k ({abar:.2f}). Over the grid the fit's cosine with the logits is "
               f"{fit.cosine:.3f} (the square root of the variance explained, for a least-squares fit).")


walk()

# ---------------------------------------------------------------- probes
st.header("Sparse linear probes")
pb = c["probes_by_dims"]
rows = [[name, k] + [f"{cc:.2f} / {s:.2f}" for cc, s in zip(pb[site][k]["cos"], pb[site][k]["sin"])] for site, name in SITE_NAMES.items() for k in ks]
if rows:
    dims = pb[next(iter(SITE_NAMES))][ks[0]]["n"]
    st.markdown(ui.html_table(["site", "k"] + [f"{n} dir." for n in dims], rows, align="lr" + "r" * len(dims)), unsafe_allow_html=True)
st.caption(
    f"R² of cos(w_k x) / sin(w_k x) read linearly from n directions of each site, for the {words}. Embedding and attention "
    "output: n principal components (the residual basis is not privileged); neurons: n neurons. Directions chosen greedily "
    "(grok/probes.py). A trained attention output carries x's and y's waves in the same directions (it writes their sum), so "
    "cos(w x) alone tops out near 0.5 there; the neurons mix x and y too.")


@st.fragment
def timeline() -> None:
    if not run.has_replay:
        st.caption("This run has no replay file, so the probes cannot be followed over training.")
        return
    if not st.toggle("Follow the probes over the replay (probes every replay checkpoint: about half a minute the first time)", key="circuit_timeline"):
        return
    t = _timeline(path, mtime)
    rows = [{"step": s, "series": "test accuracy", "value": acc} for s, acc in zip(t["steps"], t["test_acc"])]
    for site, name in SITE_NAMES.items():
        for k in t["freqs"]:
            rows += [{"step": s, "series": f"{name.split(' ')[0]} k={k}", "value": v} for s, v in zip(t["steps"], t[site][k])]
    df = pd.DataFrame(rows)
    df["step1"] = df["step"].clip(lower=1)
    ui.chart(charts.fit_x(alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("step1:Q", title="step (log)", scale=alt.Scale(type="log")), y=alt.Y("value:Q", title="R² (2 directions) / accuracy"),
        color=alt.Color("series:N", legend=alt.Legend(orient="right", title=None)), tooltip=["series", "step", alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=300)), width="stretch")
    found = {site: {k: probes.first_found(t["steps"], t[site][k], 0.9) for k in t["freqs"]} for site in SITE_NAMES}
    acc90 = next((s for s, v in zip(t["steps"], t["test_acc"]) if v >= 0.9), None)
    st.caption("The weaker of the two waves' R² (2 directions) at each replay checkpoint, with the final model's key frequencies. "
               f"Test accuracy first reaches 90 % at step {acc90 if acc90 is not None else 'never'}; the embedding first finds a wave (R² ≥ 0.9) "
               + ", ".join(f"k={k} at step {found['resid'][k]}" for k in t["freqs"]) + ".")


timeline()

# ---------------------------------------------------------------- IPR and pruning
st.header("Periodic and memorising neurons")
ip, pc = c["ipr"], c["pruning_curve"]
left, right = st.columns(2)
with left:
    edges = np.linspace(0, 1, ip["hist_bins"] + 1)
    hdf = pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "neurons": ip["hist"]})
    ui.chart(charts.fit_x(alt.Chart(hdf).mark_bar(color=palette.KEY).encode(
        x=alt.X("lo:Q", bin="binned", title="IPR (1 = one frequency)"), x2="hi:Q", y=alt.Y("neurons:Q"),
        tooltip=[alt.Tooltip("lo:Q", format=".2f"), alt.Tooltip("hi:Q", format=".2f"), "neurons:Q"]).properties(height=240, title="Neuron IPR")),
        width="stretch")
    st.caption(f"Inverse participation ratio (Doshi et al. 2023) of each neuron: sum_j (|F_j| / ||F||)^4 of the rfft over Z_p of its "
               f"input weights from x and from y (through the heads) and its output weights W_L, averaged. Median {ip['median']:.2f}, "
               f"{ip['frac_above_0.5']:.0%} above 0.5. High: a periodic (generalising) neuron; low: spread over many frequencies (memorising).")


@st.fragment
def pruning() -> None:
    n_max = pc["n_pruned"][-1]
    stp = pc["n_pruned"][1] - pc["n_pruned"][0] if len(pc["n_pruned"]) > 1 else 1
    n = st.slider("Prune the n least periodic neurons", 0, n_max, 0, step=stp, key="circuit_prune")
    j = min(range(len(pc["n_pruned"])), key=lambda t: abs(pc["n_pruned"][t] - n))
    k1, k2, k3 = st.columns(3)
    k1.metric("Train, pruned", f"{pc['train_acc'][j]:.1%}", delta=f"{pc['train_acc'][j] - pc['train_acc'][0]:+.1%}", delta_color="off")
    k2.metric("Test, pruned", f"{pc['test_acc'][j]:.1%}", delta=f"{pc['test_acc'][j] - pc['test_acc'][0]:+.1%}", delta_color="off")
    nov = pc["test_acc_novel"][j]
    k3.metric("Leak-free, pruned", "n/a" if nov is None or (isinstance(nov, float) and math.isnan(nov)) else f"{nov:.1%}")
    # SVG lines (the votes component), not a Vega view: the slider redraws it on every move
    votes_chart("circuit_pruning", charts.pruning_layout(pc["n_pruned"], pc["train_acc"], pc["test_acc"], j), height=220)
    st.caption("Pruning zeroes a neuron's activation (its term post_n W_L[n] leaves the logits), on the whole grid; precomputed every "
               f"{stp} neurons. Doshi et al. find that pruning the least periodic neurons of a memorising network first raises its "
               "accuracy on clean data; in a grokked model few memorising neurons are left, so pruning costs accuracy early.")


with right:
    pruning()

# ---------------------------------------------------------------- clock or pizza
st.header("Clock or pizza?")
cp = c["clock_or_pizza"]
g1, g2 = st.columns(2)
g1.metric("Gradient symmetricity", f"{cp['gradient_symmetricity']:.3f}")
dd = cp["distance_irrelevance"]
g2.metric("Distance irrelevance", "undefined" if dd is None or (isinstance(dd, float) and math.isnan(dd)) else f"{dd:.3f}")
st.markdown(cp["text"])
dd_ok = dd is not None and not (isinstance(dd, float) and math.isnan(dd))
st.markdown(ui.html_table(["models (Zhong et al. 2023, fjzzq2002/pizza)", "gradient symmetricity", "distance irrelevance"], [
    ["attention rate 0–0.1 (median of its runs)", "0.992", "0.650"],
    ["attention rate 0.9–1.0, standard attention (median)", "0.496", "0.860"],
    ["its verified pizza model", "0.994", "0.172"],
    ["this checkpoint", f"{cp['gradient_symmetricity']:.3f}", f"{dd:.3f}" if dd_ok else "–"],
]), unsafe_allow_html=True)
st.caption("Gradient symmetricity: mean over 100 seeded random (a, b, c) of the cosine between the gradients of logit c with respect to "
           "the embeddings of a and of b (a pizza adds the embeddings: ~1). Distance irrelevance: the correct logit arranged by "
           "(a + b, a − b), mean over a − b of its std over a + b, over its overall std (a clock's correct logit ignores a − b: ~1). "
           "Rule (grok/pizza.py): pizza at symmetricity ≥ 0.95 and distance irrelevance < 0.5, clock below 0.8 and at least 0.7.")
