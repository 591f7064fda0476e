"""Trigonometric neurons: the embedding's frequencies, neurons clustered by frequency, one neuron
read as cos(a)cos(b) - sin(a)sin(b) = cos(a + b) with its own numbers, and W_L's sparse spectrum.
Every "key frequency" label follows grok.verdict: a checkpoint without a clock gets none."""
import numpy as np
import streamlit as st

import ui
from components import grid
from components.bars import bar_keys
from components.circles import number_circles
from grok import ablate, charts, fourier, measures, neurons as nmod
from grok import query_view as qv
from grok.images import cell_size, grid_image
from grok.replay import circle_coords

st.title("Trigonometric neurons")
run, shared_step = ui.current()
step = ui.weight_step(run, shared_step)
p = run.config.model.p
a = ui.analysis(run, step)
verdict = qv.clock_verdict(a)
keys = verdict.key_freqs  # labelled "key frequency" only under a clock
ks = qv.shown_freqs(a)  # key frequencies, or the candidates of a forming clock, or none
cands = verdict.freqs if verdict.state == "forming" else ()
cl = a.clusters
n_neurons = cl.freq.numel()
n_clustered = int(cl.clustered.sum())
st.caption("**Try this:** click a bright blob of the neuron's activation map to read the identity there, then pick another "
           "cluster: each key frequency has its own lattice." if verdict.has_clock else
           "**Try this:** click a cell of the neuron's activation map, then switch the sidebar to a run with weight decay at its "
           "final step and compare the same view there.")
ui.caption_checkpoint(run, shared_step)
if verdict.has_clock:
    st.markdown(
        f"A grokked model represents each number x as waves cos(w_k x), sin(w_k x) at a few **key frequencies** k "
        f"(w_k = 2πk/{p}), and its MLP neurons multiply the waves of x and y so that the logits can use "
        f"cos(a)cos(b) − sin(a)sin(b) = cos(a + b). Step {step:,}; key frequencies of this checkpoint: "
        f"**{', '.join(map(str, keys))}** ({verdict.share:.0%} of the logits' variance; rule in `grok/verdict.py`)."
    )
else:
    st.markdown(f"A grokked model represents each number as waves at a few key frequencies and its neurons multiply them. "
                f"Step {step:,} of this run has no clock yet, so nothing below is labelled a key frequency.")
    st.info(verdict.text, icon=":material/schedule:")

def ablation_set() -> list[int]:
    """The Frequency ablations page's set (shared through the URL store), or its preset."""
    def parse(s: str) -> list[int]:
        return ablate.check_freqs(p, [int(t) for t in s.split(",") if t.strip()])
    return [int(k) for k in ui.url_value("freqs", parse, sorted(ks or a.key_freqs))[0]]


def toggle_embed_bar(k: int) -> None:
    """A click on a bar of the embedding spectrum toggles that k in the ablation set."""
    ui.set_synced("freqs", sorted(set(ablation_set()) ^ {int(k)}), ablate.freqs_text)


left, right = st.columns(2)
with left:
    @st.fragment
    def embedding_spectrum() -> None:
        chosen = ablation_set()
        # SVG bars (components/bars.py, the Ablations page's clickable chart), not a Vega view: one less to mount per visit
        bar_keys("embed_bars", a.embed_norms.numpy(), keys, "norm in W_E", title="Embedding W_E: Fourier norm per frequency", height=300,
                 candidates=cands, selected=chosen, on_click=toggle_embed_bar)
        st.page_link("views/ablations.py", label=f"Ablation set (click bars to change): k = {', '.join(map(str, chosen)) or 'none'}",
                     icon=":material/content_cut:")

    embedding_spectrum()
    en = a.embed_norms.numpy()  # [(p-1)/2]
    top = sorted(range(len(en)), key=lambda i: -en[i])[:3]
    top_share = float((en[top] ** 2).sum() / max((en ** 2).sum(), 1e-12))
    gini = a.metrics["gini_embed"]
    st.caption("Each bar is how much of the embedding of the numbers 0..p−1 is the wave pair cos / sin(w_k x). Here the three "
               f"largest (k = {', '.join(str(i + 1) for i in sorted(top))}) hold {top_share:.0%} of it (Gini {gini:.2f}; 0 = flat, "
               "1 = one frequency): " + ("a few frequencies stand out." if gini >= 0.5 else "no few frequencies stand out, as at initialisation."))
with right:
    counts = {**cl.counts(), "unclustered": n_neurons - n_clustered}
    n_in_keys = sum(n for k, n in cl.counts().items() if k in keys)
    ui.chart(charts.counts(counts, keys, title="MLP neurons per frequency", height=300), width="stretch")
    where = (f"{n_in_keys} of them on the key frequencies" if keys else "no key frequencies exist at this checkpoint to sit on")
    st.caption(f"{n_clustered} of {n_neurons} neurons have at least {cl.threshold:.0%} of their (centred) activation "
               "variance in the terms of one frequency: const, cos/sin(w_k x), cos/sin(w_k y) and their products; "
               f"here {where}. The paper's grokked run clustered 433 of 512.")

with st.expander("The numbers on a circle, in each frequency's plane of W_E"):
    if ks:
        # one SVG component for every plane, each number coloured by its value (was a Vega view per k)
        number_circles("neurons_circles", circle_coords(a.model, ks).numpy(), ks, size=140)  # [len(ks), p, 2]
        spread = qv.circle_roundness(a, ks)
        st.caption("Each dot is a number x (coloured by its value, red 0 … violet p−1), its embedding projected on the two directions "
                   "of W_E that carry cos(w_k x) and sin(w_k x). On a clean circle every number has the same radius; here the radii "
                   f"vary by {min(r for _, r in spread):.0%}–{max(r for _, r in spread):.0%} of their mean "
                   f"({'a clock' if verdict.has_clock else 'no clock yet'}).")
    else:
        st.caption("No frequency carries this checkpoint's logits, so there is no plane in which the numbers should form a circle.")

members = {k: nmod.ranked_members(cl.freq, cl.frac, k) for k in ks}  # each shown cluster, best explained first
options = ["all"] + [k for k in ks if members[k]]
default_neuron = members[ks[0]][0] if ks and members.get(ks[0]) else int(cl.frac.argmax())


def parse_cluster(s: str):
    if s == "all":
        return "all"
    try:
        k = int(s)
    except ValueError:
        raise ValueError("not a frequency") from None
    if k not in options:
        raise ValueError(f"k = {k} is not a shown frequency with neurons at this step ({', '.join(map(str, options[1:])) or 'none'})")
    return k


@st.fragment
def one_neuron() -> None:
    """The neuron view reruns on its own when its widgets change (a fragment), so picking a
    neuron does not re-send the page's big charts."""
    st.subheader("One neuron")
    # The neuron and its cluster live in the URL (?neuron=N&cluster=k). A link to a neuron outside
    # the linked cluster shows all neurons; choosing a cluster jumps to its best-explained neuron.
    ss = st.session_state
    n_v, n_url = ui.url_value("neuron", ui.int_in(0, n_neurons - 1), default_neuron)
    c_v, c_url = ui.url_value("cluster", parse_cluster, "all")
    if n_url or not isinstance(ss.get("w_neuron"), int) or not 0 <= ss["w_neuron"] < n_neurons:
        ss["w_neuron"] = n_v if 0 <= n_v < n_neurons else default_neuron
    if c_url or ss.get("w_cluster") not in options:
        ss["w_cluster"] = c_v if c_v in options else "all"
    if ss["w_cluster"] != "all" and ss["w_neuron"] not in members[ss["w_cluster"]]:
        if n_url and not c_url:
            ss["w_cluster"] = "all"
        else:
            ss["w_neuron"] = members[ss["w_cluster"]][0]
    ss["w_cluster"], ss["w_neuron"] = ss["w_cluster"], int(ss["w_neuron"])  # set, not left over: the neuron widget changes kind with the cluster

    # One row block for the four inputs, not four columns: each block or element a fragment redraws is one
    # more websocket message the browser handles before it paints (README, "Speed").
    controls = st.container(horizontal=True, gap="small")
    with controls:
        cluster = st.selectbox("Frequency cluster", options, key="w_cluster",
                               format_func=lambda k: "all neurons" if k == "all" else f"k = {k} ({counts.get(k, 0)} clustered of {len(members[k])})",
                               help="Pick a key frequency to list the neurons whose best frequency it is, best explained first "
                                    f"(clustered: at least {cl.threshold:.0%} explained).")
        if cluster == "all":
            neuron = st.number_input(f"Neuron (0–{n_neurons - 1})", min_value=0, max_value=n_neurons - 1, step=1, key="w_neuron")
        else:
            neuron = st.selectbox("Neuron, best explained first", members[cluster], key="w_neuron",
                                  format_func=lambda i: f"#{i}: {cl.frac[i].item():.0%} explained")
        ui.publish("cluster", cluster, str)
        neuron = int(neuron)
        ui.publish("neuron", neuron)
        x = int(ui.synced("x", st.number_input, ui.int_in(0, p - 1), min(41, p - 1), label="x", min_value=0, max_value=p - 1, step=1))
        y = int(ui.synced("y", st.number_input, ui.int_in(0, p - 1), min(87, p - 1), label="y", min_value=0, max_value=p - 1, step=1))

    act = a.acts.post[:, neuron].reshape(p, p)  # [p, p] post-ReLU activation over (x, y)
    k, frac = int(cl.freq[neuron]), cl.frac[neuron].item()
    C_t = nmod.centred_spectrum(act)  # [p, p] once: the identity's terms and the spectrum view both read it
    d = nmod.trig_terms(act, k, x, y, spectrum=C_t)
    row = st.container(horizontal=True, gap="medium")  # one row block, not four columns: fewer elements to redraw
    badge = ("key frequency" if k in keys else "not a key frequency") if verdict.has_clock else (
        "candidate (no clock yet)" if k in cands else "no clock at this step")
    row.metric("Its frequency", f"k = {k}", delta=badge, delta_color="off", width="content")
    row.metric("Fraction explained", f"{frac:.0%}", delta="clustered" if frac >= cl.threshold else f"below {cl.threshold:.0%}: unclustered",
              delta_color="normal" if frac >= cl.threshold else "inverse", width="content")
    row.metric(f"Activation at ({x}, {y})", f"{d.actual:.3g}", width="content")

    left, right = st.columns(2)
    with left:
        st.markdown(f"**Neuron {neuron} after ReLU, over all (x, y)** <small>(dark purple {float(act.min()):.2g} … yellow "
                    f"{float(act.max()):.2g}; click a cell to pick that pair)</small>", unsafe_allow_html=True)
        # one pixel per cell, scaled up sharp by the browser, the pair outlined by the grid's overlay: the
        # image (9x fewer pixels to encode and send) does not change when only the pair does
        grid.grid("neuron_map", grid_image(act.numpy(), 1), p, p, values=grid.compact(act.numpy()), label="activation",
                  highlight=(x, y), width=p * cell_size(p, 340), alt=f"activation of neuron {neuron} over all pairs", on_click=grid.select_pair)
        if st.button(f"Ask the model about {x} + {y}", key="neurons_ask", icon=":material/calculate:"):
            st.switch_page("views/query.py")
        clustered = frac >= cl.threshold
        plus = float(np.hypot(d.sum_cos, d.sum_sin))
        minus = float(np.hypot(d.diff_cos, d.diff_sin))
        if plus > 2 * minus:
            look = "its x + y part dominates, so it shows stripes along the anti-diagonals x + y = const"
        elif minus > 2 * plus:
            look = "its x − y part dominates, so it shows stripes along the diagonals x − y = const"
        else:
            look = "its x + y and x − y parts are comparable, so it shows a lattice of blobs along both diagonals"
        if clustered:
            st.caption(f"Rows are x, columns y; the outlined cell is ({x}, {y}). At k = {k} this neuron's cos/sin(w(x+y)) amplitude is "
                       f"{plus:.3g} and its cos/sin(w(x−y)) amplitude {minus:.3g}: {look}, with the negative half clipped to 0 by the ReLU.")
        else:
            st.caption(f"Rows are x, columns y; the outlined cell is ({x}, {y}). Only {frac:.0%} of this neuron's variance is at its best "
                       f"frequency k = {k} (a clustered neuron has {cl.threshold:.0%}), so its map is no simple wave pattern: it mixes "
                       "frequencies, or memorises.")
    with right:
        C = C_t.numpy()  # [p, p]
        labels = fourier.basis_labels(p)
        whole = st.toggle(f"Whole {p}×{p} spectrum", value=False, key="neurons_whole_spectrum",
                          help="Off: only the constant and the cos / sin rows of the key frequencies and of this neuron's own.")
        if whole:  # a p x p grid: an image with a hover tooltip, not p * p Vega marks
            m = float(abs(C).max()) or 1.0
            st.markdown(f"**2-D Fourier coefficients of neuron {neuron}** <small>(blue −{m:.2g} … white 0 … vermillion +{m:.2g}; "
                        "rows: basis function of x, columns: of y)</small>", unsafe_allow_html=True)
            grid.grid("neuron_spectrum", grid_image(C, 1, -m, m, "diverging"), p, p, values=grid.compact(C), label="coefficient",
                      row="x basis", col="y basis", row_names=labels, col_names=labels, width=p * cell_size(p, 340),
                      alt=f"2-D Fourier coefficients of neuron {neuron}")
        else:
            rows = nmod.spectrum_rows(p, list(ks) + [k])
            sub = C[rows][:, rows]
            m = float(abs(sub).max()) or 1.0
            # a grid image with its basis names beside it, as the whole view but labelled: it was a Vega heatmap,
            # 48 ms more of the browser's time per pick (README, "Speed")
            st.markdown(f"**2-D Fourier coefficients of neuron {neuron}** <small>(blue −{m:.2g} … white 0 … vermillion +{m:.2g}; "
                        "rows: basis function of x, columns: of y; hover a cell for its value)</small>", unsafe_allow_html=True)
            names = [labels[i] for i in rows]
            grid.grid("neuron_spectrum_keys", grid_image(sub, 1, -m, m, "diverging"), len(rows), len(rows), values=grid.compact(sub),
                      label="coefficient", row="x basis", col="y basis", row_names=names, col_names=names, show_names=True,
                      width=len(rows) * max(12, min(26, 300 // len(rows))), alt=f"2-D Fourier coefficients of neuron {neuron} at the shown frequencies")
        st.caption("Coefficient of (basis function of x) × (basis function of y) in the neuron's centred activation (orthonormal "
                   "basis: 'cos k' is cos(w_k ·)/√(p/2)). A clustered neuron lights up only the cells of its own frequency. "
                   "cos k(x)·cos k(y) and sin k(x)·sin k(y) with **opposite** signs make cos(w_k(x+y)) (stripes along x + y); "
                   "equal signs would make cos(w_k(x−y)). The compact view shows the constant and the key frequencies only; "
                   "the toggle shows every coefficient (hover for the basis names).")

    s = (x + y) % p
    # One element with the terms' table below (each element a fragment redraws costs the browser a message and a React pass), in plain text
    # rather than KaTeX: 15 inline formulas typeset again on every neuron pick (README, "Speed").
    # Lines break between terms on a phone.
    def t(v: float) -> str:  # a signed term
        return f"{'+' if v >= 0 else '−'} {abs(v):.3f}"
    identity = (
        f"**The identity at x = {x}, y = {y}, with this neuron's numbers** (k = {k}, w = 2π·{k}/{p})\n\n"
        f"cos(*wx*) = {d.cos_x:.3f}, cos(*wy*) = {d.cos_y:.3f}, sin(*wx*) = {d.sin_x:.3f}, sin(*wy*) = {d.sin_y:.3f}\n\n"
        f"cos(*wx*)·cos(*wy*) − sin(*wx*)·sin(*wy*) = {d.cos_x * d.cos_y - d.sin_x * d.sin_y:.3f} = cos(*w*·{s}), "
        f"since {s} = ({x} + {y}) mod {p}\n\n"
        f"activation ≈ {d.mean:.3f} {t(d.sum_cos)}·cos(*w*(*x*+*y*)) {t(d.sum_sin)}·sin(*w*(*x*+*y*)) "
        f"{t(d.diff_cos)}·cos(*w*(*x*−*y*)) {t(d.diff_sin)}·sin(*w*(*x*−*y*)) + single waves of *x* and of *y*")
    # the terms as a markdown table with their sum and what it means, one element (it was a table, a sum line and a
    # caption in two columns: four elements and three blocks more, and st.table a DataFrame, Arrow and a React table)
    err = abs(d.fitted - d.actual)
    close = ("close to" if err <= 0.1 * max(abs(d.actual), abs(d.fitted), 1e-9) or err < 0.01 else "far from")
    st.markdown(
        identity + "\n\n"
        f"| term | α | at ({x},{y}) | α × value |\n|:--|--:|--:|--:|\n"
        + "\n".join(f"| {t.name} | {t.coef:.4f} | {t.value:.4f} | {t.contribution:.4f} |" for t in d.terms)
        + f"\n\nmean activation **{d.mean:.4f}** + Σ α × value **{d.fitted - d.mean:+.4f}** = fitted **{d.fitted:.4f}**; "
        f"actual activation (after ReLU) **{d.actual:.4f}**\n\n"
        "<small style='opacity:0.7'>"
        f"The neuron's activation is its mean plus Σ α·(wave of x)·(wave of y) over all frequencies; the table keeps the "
        f"terms of k = {k}, which hold {d.frac:.0%} of its variance. Here 'fitted' {d.fitted:.3f} is {close} 'actual' "
        f"{d.actual:.3f}" + (" (the ReLU clips this pair to 0 while the waves alone say otherwise)" if d.actual == 0 and close == "far from" else "")
        + ". Regrouping with the identity, α_cc·cos·cos + α_ss·sin·sin = (α_cc − α_ss)/2 · cos(w(x+y)) + "
        "(α_cc + α_ss)/2 · cos(w(x−y)): the lines above. The x + y parts are what W_L turns into logits cos(w(x+y−c)); "
        "the x − y parts differ from neuron to neuron and largely cancel when a cluster is summed.</small>",
        unsafe_allow_html=True)

one_neuron()

st.subheader("W_L = W_out · W_U: what the neurons write to the logits")
WLn = nmod.wl_freq_norms(measures.W_L(a.model)).numpy()  # [d_mlp, (p-1)/2]
order = nmod.cluster_order(cl.freq, cl.frac, cl.clustered, ks)
left, right = st.columns(2)
with left:
    un = a.unembed_norms.numpy()  # [(p-1)/2]
    bar_keys("wl_bars", un, keys, "norm in W_L", title="W_L over the output c: norm per frequency", height=300, candidates=cands)
    if ks:
        share = float((un[[k - 1 for k in ks]] ** 2).sum() / max((un ** 2).sum(), 1e-12))
        rest = [j for j in range(1, len(un) + 1) if j not in ks]
        big = max(rest, key=lambda j: un[j - 1]) if rest else None
        ratio = un[big - 1] / max(min(un[k - 1] for k in ks), 1e-12) if big else 0.0
        st.caption(f"W_L [d_mlp, p] maps neuron activations to the logit of each output c. Over c, the "
                   f"{'key' if keys else 'candidate'} frequencies {', '.join(map(str, ks))} hold {share:.0%} of W_L's squared norm"
                   + (f"; the largest other bar, k = {big}, is {ratio:.0%} as tall as the smallest of them" if big else "")
                   + f" (Gini {a.metrics['gini_unembed']:.2f}; 0 = flat, 1 = one frequency).")
    else:
        st.caption(f"W_L [d_mlp, p] maps neuron activations to the logit of each output c; without a clock no few frequencies "
                   f"stand out (Gini {a.metrics['gini_unembed']:.2f}; 0 = flat, 1 = one frequency).")
with right:
    M = WLn[order]  # [d_mlp, K] rows grouped by cluster
    cw, rh = max(2, 340 // M.shape[1]), max(1, min(6, 512 // M.shape[0]))
    img = np.repeat(np.repeat(grid_image(M, 1, 0, float(M.max()) or 1.0), rh, axis=0), cw, axis=1)
    freq_of, in_cluster = cl.freq.tolist(), cl.clustered.tolist()  # plain lists: a tensor index per tooltip cost ~0.1 s
    who = [f"neuron #{i} ({'cluster k = %d' % freq_of[i] if in_cluster[i] else 'unclustered'})" for i in order]
    st.markdown("**Each neuron's row of W_L, per frequency** <small>(dark purple 0 … yellow max)</small>", unsafe_allow_html=True)
    grid.grid("wl_rows", img, M.shape[0], M.shape[1], values=grid.compact(M), label="norm", row=None, col=None, width=img.shape[1],
              row_names=who, col_names=[f"k = {c + 1}" for c in range(M.shape[1])],
              alt="norm of each neuron's row of W_L per frequency")
    st.caption("One row per neuron (top to bottom), frequency k = 1… across; grouped by cluster ("
               + (f"frequencies {', '.join(map(str, ks))} first, " if ks else "") +
               "then other clusters, unclustered at the bottom); hover for the neuron. A neuron of cluster k that writes only "
               "cos / sin(w_k c) gives one bright column per group.")
