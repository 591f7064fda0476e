"""Home: grokking told as a story through the sidebar's run (memorise -> wait -> clean-up ->
grokked), each stage a button into the view that shows it, and the run's curves.

Torch-free imports only (ui is imported by app.py anyway): the story and the curves come from
the run's metrics.jsonl, so Home paints without loading a model."""
from pathlib import Path

import streamlit as st

import ui
from components.curves import curves_chart
from grok import curves
from grok import phases as phases_mod
from grok import story

st.title("grok-explorer")
run, step = ui.current()
p = run.config.model.p
rows = run.metrics
st.markdown(
    f"**Grokking** is a network first memorising its training data, then, long after its training loss has flattened, "
    f"suddenly generalising to data it never saw. Here a one-layer transformer learns `(x + y) mod {p}` from "
    f"{run.config.frac_train:.0%} of the {p * p:,} sums. Nanda et al. (2023) showed how the grokked model works: it builds a "
    "*clock*, representing numbers as rotations cos(w x), sin(w x) at a few key frequencies and adding them with "
    "trigonometric identities. Below is the story of the run **" + run.name + "**, told from its own numbers."
)
st.caption("**Try this:** press the second stage's button, then move the sidebar's step: every page follows it.")
if not rows:
    st.info("This run has no metrics yet. Train one on the **Train your own** page.")
    st.stop()

stages = story.stages(rows, p)
here = story.where(stages, int(step))


def open_stage(s: story.Stage, w: int) -> None:
    ui.set_shared_step(w)
    st.switch_page(s.page)


cols = st.columns(len(stages)) if len(stages) > 1 else [st.container()]
for col, s in zip(cols, stages):
    w = ui.weight_step(run, s.step)
    with col.container(border=True):
        st.markdown(f"**{s.title}**" + ("  ·  *you are here*" if s is here else ""))
        st.markdown(s.text)
        if st.button(s.button.format(step=w), key=f"story_{s.name}", width="stretch"):
            open_stage(s, w)
if here is not None:
    st.caption(f"The sidebar's step {int(step):,} lies in the **{here.title.split('· ')[-1].lower()}** stage "
               f"(steps {here.start:,}–{min(here.end, rows[-1]['step']):,}). Stages come from the rule in `grok/phases.py`.")

# ---------------------------------------------------------------- the curves
g = phases_mod.grokked_step(rows)
last = rows[-1]
with st.container(horizontal=True, gap="medium"):
    st.metric("Test accuracy reaches 100 % at step", f"{g:,}" if g is not None else "never", width="content")
    st.metric("Final test accuracy", f"{last.get('test_acc', float('nan')):.1%}", width="content")
    st.metric("Training time (2 CPU cores)", f"{last.get('wall_time', 0) / 60:.1f} min", width="content")


contrast_rows = []
if run.config.wd > 0 and run.name != ui.CONTRAST_RUN:
    path = Path(ui.run_roots()[0]) / ui.CONTRAST_RUN
    contrast_rows = story.read_metrics(path) if path.is_dir() else []
c1, c2 = st.columns(2)
with c1:
    log_x = st.segmented_control("Step axis", ["log", "linear"], default="log", key="home_axis",
                                 help="Linear shows the long wait of grokking at its real length.") != "linear"
with c2:
    show_contrast = bool(contrast_rows) and st.toggle("Overlay the run without weight decay", value=True, key="home_contrast")
shown = [(run.name, rows)] + ([(ui.CONTRAST_RUN, contrast_rows)] if show_contrast else [])
x_max = max(r[-1]["step"] for _, r in shown)
ph = ui.phases(run)
loss_rows = [row for n, r in shown for row in curves.long_rows(r, {"train_loss": "train", "test_loss": "test"}, run=n)]
acc_rows = [row for n, r in shown for row in curves.long_rows(r, {"train_acc": "train", "test_acc": "test"}, run=n)]
# SVG components, not Vega: no Vega on the first page a visitor opens (components/curves.py says why)
curves_chart("home_loss", curves.layout(loss_rows, "loss (log)", phases=ph, dash_field="run" if show_contrast else None, title="Loss",
                                        marker=int(step), log_x=log_x, x_max=x_max), height=300)
r_end = rows[-1]
mem = next((x for x in ph if x.name == "memorisation"), None)
st.caption(f"Train loss ends at {r_end['train_loss']:.3g}, test loss at {r_end['test_loss']:.3g}"
           + (f"; train accuracy reached 99 % at step {mem.end:,}" if mem and len(ph) > 1 else "")
           + (f", test accuracy 100 % at step {g:,}." if g is not None else ", and test accuracy never reached 100 %.")
           + " Shaded bands are the phases; the black rule is the sidebar's step"
           + (f"; the dashed run ({ui.CONTRAST_RUN}, no weight decay) ends at test accuracy {contrast_rows[-1].get('test_acc', 0):.1%}." if show_contrast else "."))
curves_chart("home_acc", curves.layout(acc_rows, "accuracy", log_y=False, phases=ph, dash_field="run" if show_contrast else None,
                                       title="Accuracy", marker=int(step), log_x=log_x, x_max=x_max), height=260)
st.caption(f"Chance is 1/{p} = {1 / p:.1%}. Training accuracy ends at {r_end['train_acc']:.1%}, test accuracy at {r_end['test_acc']:.1%}.")

st.subheader("Explore")
links = [
    ("views/query.py", "Ask the model", "Type x and y, or click the table; see each frequency vote and the model's own clock."),
    ("views/neurons.py", "Trigonometric neurons", "Neurons that compute cos(w(x+y)) from products of waves."),
    ("views/ablations.py", "Frequency ablations", "Remove frequencies and watch which sums break."),
    ("views/replay.py", "Replay", "Scrub through training and see the circuit form."),
    ("views/train.py", "Train your own", "Change p, weight decay or Grokfast and train live."),
]
with st.container(horizontal=True, gap="medium"):
    for path, label, text in links:
        with st.container(width=220):
            st.page_link(path, label=label)
            st.caption(text)
