"""Home: what grokking is, the shipped run's story, and the way into each view."""
import pandas as pd
import streamlit as st

import ui
from grok import charts, phases as phases_mod, runs as runs_mod

st.title("grok-explorer")
st.markdown(
    "**Grokking** is a network first memorising its training data, then, long after its training "
    "loss has flattened, suddenly generalising to data it never saw. A one-layer transformer trained on "
    "`(x + y) mod 113` with weight decay does exactly this: it memorises 30 % of the 12,769 sums, sits at "
    "chance on the rest for thousands of steps, then jumps to 100 %. Nanda et al. (2023) showed why: the "
    "network slowly builds a *clock*, representing numbers as rotations cos(w x), sin(w x) at a few key "
    "frequencies and adding them with trigonometric identities, and weight decay then cleans the memorised "
    "solution away. This app lets you ask the model, read its neurons, cut its frequencies and replay the whole thing."
)

found = runs_mod.discover(ui.run_roots())
run = ui.open_run(found[ui.DEFAULT_RUN]) if ui.DEFAULT_RUN in found else st.session_state.get("run")
if run is None or not run.metrics:
    st.info("No run with metrics yet. Train one on the **Train your own** page.")
    st.stop()

rows = run.metrics
ph = ui.phases(run)
g = phases_mod.grokked_step(rows)
last = rows[-1]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Run", run.name)
c2.metric("Test accuracy reaches 100 % at step", f"{g:,}" if g is not None else "never")
c3.metric("Final test accuracy", f"{last['test_acc']:.1%}")
c4.metric("Training time (2 CPU cores)", f"{last.get('wall_time', 0) / 60:.1f} min")


def long(run_, keys, label_fmt):
    df = pd.DataFrame(run_.metrics)
    return pd.concat([pd.DataFrame({"step": df["step"], "value": df[k], "series": label_fmt(k), "run": run_.name}) for k in keys if k in df])


contrast = ui.open_run(found[ui.CONTRAST_RUN]) if ui.CONTRAST_RUN in found and ui.CONTRAST_RUN != run.name else None
show_contrast = contrast is not None and st.toggle("Overlay the run without weight decay", value=True, key="home_contrast")
runs_shown = [run] + ([contrast] if show_contrast else [])
loss_df = pd.concat([long(r, ["train_loss", "test_loss"], lambda k: k.replace("_loss", "")) for r in runs_shown])
acc_df = pd.concat([long(r, ["train_acc", "test_acc"], lambda k: k.replace("_acc", "")) for r in runs_shown])
st.altair_chart(charts.curves(loss_df, "loss (log)", phases=ph, dash_field="run", title="Loss", height=260), width="stretch")
st.caption("Train loss falls within a few hundred steps (memorisation); test loss rises, then collapses thousands "
           "of steps later. Shaded bands are the phases detected from these curves; the dashed run has no weight decay and never generalises.")
st.altair_chart(charts.curves(acc_df, "accuracy", log_y=False, phases=ph, dash_field="run", title="Accuracy", height=200), width="stretch")
st.caption(f"Training accuracy hits 100 % early; test accuracy stays near chance (1/{run.config.model.p}) until the clean-up phase, then jumps to 100 %.")

if ph:
    st.markdown("**Phases of this run** (rule in `grok/phases.py`): " + "; ".join(f"{p.name} {p.start:,}–{p.end:,}" for p in ph))

st.subheader("Explore")
cols = st.columns(5)
links = [
    ("views/query.py", "Ask the model", "Type x and y; see each frequency vote and the clock turn."),
    ("views/neurons.py", "Trigonometric neurons", "Neurons that compute cos(w(x+y)) from products of waves."),
    ("views/ablations.py", "Frequency ablations", "Remove frequencies and watch which sums break."),
    ("views/replay.py", "Replay", "Scrub through training and see the circuit form."),
    ("views/train.py", "Train your own", "Change p, weight decay or Grokfast and train live."),
]
for col, (path, label, text) in zip(cols, links):
    with col:
        st.page_link(path, label=label)
        st.caption(text)
