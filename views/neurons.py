"""Trigonometric neurons: the embedding's frequencies, neurons clustered by frequency, one neuron
read as cos(a)cos(b) - sin(a)sin(b) = cos(a + b) with its own numbers, and W_L's sparse spectrum."""
import pandas as pd
import streamlit as st

import ui
from grok import charts, fourier, measures, neurons as nmod
from grok.replay import circle_coords

st.title("Trigonometric neurons")
run, step = ui.current()
p = run.config.model.p
a = ui.analysis(run, step)
ks, cl = a.key_freqs, a.clusters
n_neurons = cl.freq.numel()
n_clustered = int(cl.clustered.sum())
st.markdown(
    f"A grokked model represents each number x as waves cos(w_k x), sin(w_k x) at a few **key frequencies** k "
    f"(w_k = 2πk/{p}), and its MLP neurons multiply the waves of x and y so that the logits can use "
    f"cos(a)cos(b) − sin(a)sin(b) = cos(a + b). Step {step}; key frequencies of this checkpoint: "
    f"**{', '.join(map(str, ks))}** (the frequencies carrying the logits, rule in `grok/measures.py`)."
)

left, right = st.columns(2)
with left:
    st.altair_chart(charts.spectrum(a.embed_norms.numpy(), ks, "norm in W_E", title="Embedding W_E: Fourier norm per frequency", height=300), width="stretch")
    st.caption("Each bar is how much of the embedding of the numbers 0..p−1 is the wave pair cos / sin(w_k x). "
               f"Grokked, a few frequencies stand out (Gini {a.metrics['gini_embed']:.2f}; 0 = flat, 1 = one frequency); "
               "at initialisation every frequency carries about the same.")
with right:
    counts = {**cl.counts(), "unclustered": n_neurons - n_clustered}
    n_in_keys = sum(n for k, n in cl.counts().items() if k in ks)
    st.altair_chart(charts.counts(counts, ks, title="MLP neurons per frequency", height=300), width="stretch")
    st.caption(f"{n_clustered} of {n_neurons} neurons have at least {cl.threshold:.0%} of their (centred) activation "
               "variance in the terms of one frequency: const, cos/sin(w_k x), cos/sin(w_k y) and their products. "
               f"In a grokked model the clustered neurons sit on the key frequencies (red; here {n_in_keys} of {n_clustered}); "
               "the paper's run clustered 433 of 512, ours fewer: the rest mix frequencies or carry little signal.")

with st.expander("The numbers on a circle, in each key frequency's plane of W_E"):
    circ = circle_coords(a.model, ks).numpy()  # [len(ks), p, 2]
    df = pd.DataFrame([{"k": k, "a": circ[i, x, 0], "b": circ[i, x, 1], "x": x} for i, k in enumerate(ks) for x in range(p)])
    st.altair_chart(charts.number_circle(df, size=150, columns=4), width="content")
    st.caption("Each dot is a number x (coloured by its value), its embedding projected on the two directions of W_E that carry "
               "cos(w_k x) and sin(w_k x). Grokked, the numbers lie on a circle, x at angle w_k·x: a number is a rotation, "
               "which is what lets the model add numbers by adding angles.")

members = {k: nmod.ranked_members(cl.freq, cl.frac, k) for k in ks}  # each key cluster, best explained first
options = ["all"] + [k for k in ks if members[k]]
default_neuron = members[ks[0]][0] if members.get(ks[0]) else int(cl.frac.argmax())


def parse_cluster(s: str):
    if s == "all":
        return "all"
    try:
        k = int(s)
    except ValueError:
        raise ValueError("not a frequency") from None
    if k not in options:
        raise ValueError(f"k = {k} is not a key frequency with neurons at this step ({', '.join(map(str, options[1:])) or 'none'})")
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

    c1, c2, c3, c4 = st.columns(4)
    with c1:
        cluster = st.selectbox("Frequency cluster", options, key="w_cluster",
                               format_func=lambda k: "all neurons" if k == "all" else f"k = {k} ({counts.get(k, 0)} clustered of {len(members[k])})",
                               help="Pick a key frequency to list the neurons whose best frequency it is, best explained first "
                                    f"(clustered: at least {cl.threshold:.0%} explained).")
    with c2:
        if cluster == "all":
            neuron = st.number_input(f"Neuron (0–{n_neurons - 1})", min_value=0, max_value=n_neurons - 1, step=1, key="w_neuron")
        else:
            neuron = st.selectbox("Neuron, best explained first", members[cluster], key="w_neuron",
                                  format_func=lambda i: f"#{i}: {cl.frac[i].item():.0%} explained")
    ui.publish("cluster", cluster, str)
    neuron = int(neuron)
    ui.publish("neuron", neuron)
    with c3:
        x = int(ui.synced("x", st.number_input, ui.int_in(0, p - 1), min(41, p - 1), label="x", min_value=0, max_value=p - 1, step=1))
    with c4:
        y = int(ui.synced("y", st.number_input, ui.int_in(0, p - 1), min(87, p - 1), label="y", min_value=0, max_value=p - 1, step=1))

    act = a.acts.post[:, neuron].reshape(p, p)  # [p, p] post-ReLU activation over (x, y)
    k, frac = int(cl.freq[neuron]), cl.frac[neuron].item()
    d = nmod.trig_terms(act, k, x, y)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Neuron", f"#{neuron}")
    m2.metric("Its frequency", f"k = {k}", delta="key frequency" if k in ks else "not a key frequency", delta_color="off")
    m3.metric("Fraction explained", f"{frac:.0%}", delta="clustered" if frac >= cl.threshold else f"below {cl.threshold:.0%}: unclustered",
              delta_color="normal" if frac >= cl.threshold else "inverse")
    m4.metric(f"Activation at ({x}, {y})", f"{d.actual:.3g}")

    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.natural_size(charts.heatmap(act.numpy(), color_title="activation", highlight=(x, y), size=340,
                                                           title=f"Neuron {neuron} after ReLU, over all (x, y)")), width="content")
        st.caption(f"Rows are x, columns y; the magenta square is ({x}, {y}). A pure cos(w_k(x+y)) would be constant along the "
                   "anti-diagonals x + y = const: diagonal stripes, wrapping around mod p. A ReLU of a sum of waves of x and of y "
                   "mixes in the x − y direction as well, so most neurons show a lattice of blobs along both diagonals, "
                   "with the negative half clipped to 0.")
    with right:
        C = nmod.centred_spectrum(act).numpy()  # [p, p]
        labels = fourier.basis_labels(p)
        whole = st.toggle(f"Whole {p}×{p} spectrum", value=False, key="neurons_whole_spectrum",
                          help="Off: only the constant and the cos / sin rows of the key frequencies and of this neuron's own.")
        if whole:
            st.altair_chart(charts.natural_size(charts.heatmap(C, x_title="basis function of y", y_title="basis function of x", color_title="coefficient",
                                                               scheme="redblue", diverging=True, row_labels=labels, col_labels=labels, size=340,
                                                               title=f"2-D Fourier coefficients of neuron {neuron}")), width="content")
        else:
            rows = nmod.spectrum_rows(p, list(ks) + [k])
            st.altair_chart(charts.labelled_heatmap(C[rows][:, rows], [f"{labels[i]} (x)" for i in rows], [f"{labels[i]} (y)" for i in rows],
                                                    x_title="basis function of y", y_title="basis function of x", color_title="coefficient",
                                                    cell=max(12, min(26, 340 // len(rows))),
                                                    title=f"2-D Fourier coefficients of neuron {neuron}"), width="content")
        st.caption("Coefficient of (basis function of x) × (basis function of y) in the neuron's centred activation (orthonormal "
                   "basis: 'cos k' is cos(w_k ·)/√(p/2)). A clustered neuron lights up only the cells of its own frequency. "
                   "cos k(x)·cos k(y) and sin k(x)·sin k(y) with **opposite** signs make cos(w_k(x+y)) (stripes along x + y); "
                   "equal signs would make cos(w_k(x−y)). The compact view shows the constant and the key frequencies only; "
                   "the toggle shows every coefficient (hover for the basis names).")

    st.markdown(f"**The identity at x = {x}, y = {y}, with this neuron's numbers** (k = {k}, w = 2π·{k}/{p})")
    s = (x + y) % p
    st.latex(
        r"\underbrace{\cos(wx)}_{%.3f}\,\underbrace{\cos(wy)}_{%.3f} - \underbrace{\sin(wx)}_{%.3f}\,\underbrace{\sin(wy)}_{%.3f}"
        r" = %.3f = \cos\!\left(w \cdot %d\right),\quad %d = (%d + %d) \bmod %d"
        % (d.cos_x, d.cos_y, d.sin_x, d.sin_y, d.cos_x * d.cos_y - d.sin_x * d.sin_y, s, s, x, y, p)
    )
    st.latex(
        r"\begin{aligned}\text{activation} \approx\ & %.3f %+.3f\,\cos(w(x{+}y)) %+.3f\,\sin(w(x{+}y))\\ & %+.3f\,\cos(w(x{-}y)) %+.3f\,\sin(w(x{-}y))"
        r" + \text{single waves of } x \text{ and of } y\end{aligned}"
        % (d.mean, d.sum_cos, d.sum_sin, d.diff_cos, d.diff_sin)
    )
    tl, tr = st.columns([3, 2])
    with tl:
        table = pd.DataFrame([{"term": t.name, "coefficient α": t.coef, f"value at ({x}, {y})": t.value, "α × value": t.contribution} for t in d.terms])
        st.dataframe(table, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3,
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in table.columns[1:]})
        st.markdown(f"mean activation **{d.mean:.4f}** + Σ α × value **{d.fitted - d.mean:+.4f}** = fitted **{d.fitted:.4f}**; "
                    f"actual activation (after ReLU) **{d.actual:.4f}**")
    with tr:
        st.caption(
            f"The neuron's activation is its mean plus Σ α·(wave of x)·(wave of y) over all frequencies; the table keeps the "
            f"terms of k = {k}, which hold {d.frac:.0%} of its variance, so 'fitted' is close to 'actual' when that fraction is high "
            "(the rest is mostly ReLU harmonics 2k, 3k, …). Regrouping with the identity, α_cc·cos·cos + α_ss·sin·sin = "
            "(α_cc − α_ss)/2 · cos(w(x+y)) + (α_cc + α_ss)/2 · cos(w(x−y)): the second line above. The x + y parts are "
            "what W_L turns into logits cos(w(x+y−c)); the x − y parts have phases that differ from neuron to neuron and largely "
            "cancel when a cluster's neurons are summed."
        )


one_neuron()

st.subheader("W_L = W_out · W_U: what the neurons write to the logits")
WLn = nmod.wl_freq_norms(measures.W_L(a.model))  # [d_mlp, (p-1)/2]
order = nmod.cluster_order(cl.freq, cl.frac, cl.clustered, ks)
left, right = st.columns(2)
with left:
    st.altair_chart(charts.spectrum(a.unembed_norms.numpy(), ks, "norm in W_L", title="W_L over the output c: Fourier norm per frequency", height=300), width="stretch")
    st.caption(f"W_L [d_mlp, p] maps neuron activations to the logit of each output c. Transformed over c, a grokked model's "
               f"W_L is sparse: only the key frequencies carry weight (Gini {a.metrics['gini_unembed']:.2f}).")
with right:
    names = [f"#{i}, " + (f"cluster k = {int(cl.freq[i])}" if bool(cl.clustered[i]) else "unclustered") for i in order]
    st.altair_chart(charts.labelled_heatmap(WLn[order].numpy(), names, [f"k = {j}" for j in range(1, WLn.shape[1] + 1)],
                                            x_title="frequency k over the output c", y_title="neurons, grouped by cluster", color_title="norm",
                                            scheme="blues", diverging=False, width=340, height=340, axis_labels=False,
                                            title="Each neuron's row of W_L, per frequency"), width="content")
    st.caption(f"One row per neuron, grouped by cluster (key frequencies {', '.join(map(str, ks))} first, then other clusters, "
               "unclustered at the bottom; best explained first within a group); hover for the neuron. A neuron of cluster k "
               "writes only cos / sin(w_k c): one bright column per group, the same k that its activation uses.")
