"""Frequency ablations: remove (or keep only) Fourier frequencies at the embedding, the neurons or
the logits, and see which sums break; restricted / excluded loss of this checkpoint."""
import pandas as pd
import streamlit as st

import ui
from grok import ablate, charts, fourier

st.title("Frequency ablations")
run, step = ui.current()
p = run.config.model.p
a = ui.analysis(run, step)
ks = a.key_freqs
K = fourier.n_freqs(p)
st.markdown(
    "If the model really adds numbers with a few waves, cutting those waves should break it, and cutting any other "
    f"frequency should not. Choose frequencies k (1..{K}, angular frequency w_k = 2πk/{p}), where to cut them and how; "
    f"the key frequencies of this checkpoint (step {step}) are **{', '.join(map(str, ks))}**."
)


def parse_freqs(s: str) -> list[int]:
    out = []
    for tok in (t.strip() for t in s.split(",")):
        if not tok:
            continue
        try:
            out.append(int(tok))
        except ValueError:
            raise ValueError(f"'{tok}' is not a frequency (whole numbers 1..{K}, comma separated)") from None
    return ablate.check_freqs(p, out)


def choice(allowed):
    def parse(s: str) -> str:
        if s not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return s
    return parse


SITE_LABELS = {"embedding": "embedding W_E", "neurons": "MLP neurons", "logits": "logits"}
MODE_LABELS = {"remove": "remove these", "keep": "keep only these"}
freqs = ui.synced("freqs", st.multiselect, parse_freqs, sorted(ks), fmt=lambda v: ",".join(map(str, sorted(v))),
                  label="Frequencies k", options=list(range(1, K + 1)), format_func=lambda k: f"{k} (key)" if k in ks else str(k),
                  help="Preselected: this checkpoint's key frequencies. The link keeps your choice as ?freqs=14,35,41.")
c1, c2 = st.columns(2)
with c1:
    site = ui.synced("site", st.radio, choice(ablate.SITES),
                     "logits", label="Where to cut", options=list(ablate.SITES), format_func=SITE_LABELS.get, horizontal=True,
                     help="embedding: project the frequencies out of W_E's number rows and rerun the model. neurons: remove them from "
                          "the MLP activations over (x, y). logits: remove their cos / sin(w(x+y)) directions from the logits.")
with c2:
    mode = ui.synced("mode", st.radio, choice(ablate.MODES),
                     "remove", label="How", options=list(ablate.MODES), format_func=MODE_LABELS.get, horizontal=True)
freqs = [int(k) for k in freqs]
if not freqs:
    st.info("No frequency chosen: 'remove' changes nothing, 'keep only' keeps just the constant part.", icon="ℹ️")

ab = ui.ablation(run, step, site, mode, freqs)
chosen = f"k = {', '.join(map(str, freqs))}" if freqs else "no frequency"
st.subheader(f"Result: {'remove' if mode == 'remove' else 'keep only'} {chosen} at the {SITE_LABELS[site]}")
cols = st.columns(6)
for i, split in enumerate(("train", "test", "all")):
    b, f = ab.metrics_before, ab.metrics_after
    cols[i].metric(f"{split} accuracy", f"{f[f'{split}_acc']:.1%}", delta=f"{(f[f'{split}_acc'] - b[f'{split}_acc']) * 100:+.1f} points",
                   help=f"before: {b[f'{split}_acc']:.1%}")
    cols[3 + i].metric(f"{split} loss", f"{f[f'{split}_loss']:.3g}", delta=f"{f[f'{split}_loss'] - b[f'{split}_loss']:+.3g}", delta_color="inverse",
                       help=f"before: {b[f'{split}_loss']:.3g}")
b = ab.metrics_before
st.caption(f"Deltas are against this checkpoint without ablation: accuracy train {b['train_acc']:.1%}, test {b['test_acc']:.1%}; "
           f"loss train {b['train_loss']:.3g}, test {b['test_loss']:.3g}. Training pairs: {int(a.ds.train_mask.sum())}, "
           f"test pairs: {p * p - int(a.ds.train_mask.sum())}.")

left, right = st.columns([3, 2])
with left:
    st.altair_chart(charts.outcome_grid(ab.correct_before.numpy(), ab.correct.numpy(), size=420,
                                        title=f"Which sums break: all {p}×{p} pairs"), width="content")
with right:
    before, after = ab.correct_before, ab.correct
    st.dataframe(pd.DataFrame([
        {"pairs": "still right", "count": int((before & after).sum())},
        {"pairs": "broken (right → wrong)", "count": int((before & ~after).sum())},
        {"pairs": "fixed (wrong → right)", "count": int((~before & after).sum())},
        {"pairs": "was wrong (and still is)", "count": int((~before & ~after).sum())},
    ]), hide_index=True, width="stretch")
    st.caption("Rows are x, columns y. Removing the key frequencies of a grokked model breaks almost every pair, "
               "training pairs included; removing other frequencies breaks none. Keeping only the key frequencies leaves it "
               "right almost everywhere: the clock is the whole algorithm. Before grokking, the memorised training pairs do not "
               "depend on any few frequencies.")

st.subheader("Progress measures: restricted and excluded loss")
m1, m2, m3, m4 = st.columns(4)
m1.metric("train loss", f"{a.metrics['train_loss']:.3g}")
m2.metric("test loss", f"{a.metrics['test_loss']:.3g}")
m3.metric("restricted loss (all pairs)", f"{a.metrics['restricted_loss']:.3g}",
          help="Loss when the logits keep only their key-frequency part cos / sin(w_k(x+y)) plus each class's mean.")
m4.metric("excluded loss (train pairs)", f"{a.metrics['excluded_loss']:.3g}",
          help="Training loss when the key-frequency part is removed from the logits (no mean added back).")
st.caption("Nanda et al.'s progress measures, on this checkpoint with its own key frequencies (the logits site above, keep "
           "only / remove, gives the same two numbers). Restricted loss falls long before test loss does; excluded loss "
           "rises during circuit formation while train loss stays low: the model comes to rely on the key frequencies.")
excl = ui.excluded_per_freq(run, step)
st.altair_chart(charts.spectrum(excl, ks, "train loss without k (log)", title="Excluded loss per frequency: remove one k from the logits",
                                height=300, log_y=True), width="stretch")
st.caption(f"Each bar is the training loss after removing only cos / sin(w_k(x+y)) of frequency k from the logits, on a log scale "
           f"(train loss without ablation: {a.metrics['train_loss']:.3g}). Removing a frequency the model does not use leaves the "
           "loss where it was; the key frequencies (red) raise it. Each key frequency alone is partly redundant with the others, "
           "so removing all of them together (the excluded loss above) costs far more than removing any one.")
