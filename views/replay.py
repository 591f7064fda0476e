"""Replay: scrub or play through training and watch the clock circuit form, frame by frame."""
import altair as alt
import streamlit as st

import ui
from grok import charts
from grok import checkpoint as ckpt
from grok import replay as replay_mod
from grok import replay_views as rv
from grok import runs as runs_mod

st.title("Replay")
st.markdown(
    "Each frame is a checkpoint saved during training (dense early, sparse late), analysed on the whole grid. "
    "Drag the step slider, or press **Play**, and watch the loss curves, the embedding's frequencies, the "
    "circle of numbers and the neuron clusters change together."
)
run = st.session_state.get("run")
if run is None:
    st.stop()

# ---------------------------------------------------------------- a run without a replay file
if not run.has_replay:
    n = len(run.snapshot_steps)
    job = st.session_state.get("train_job")
    training = job is not None and job.is_alive() and job.out.resolve() == run.path.resolve()
    st.info(f"Run **{run.name}** has no replay yet: building it analyses each of its {n} saved checkpoints "
            "on the whole grid once (seconds for a small p, a few minutes for p = 113).", icon=":material/info:")
    if training:
        st.warning("This run is still training: build its replay once it has finished (Train your own page).", icon=":material/hourglass_top:")
    if st.button("Build replay", key="replay_build", type="primary", disabled=n < 2 or training):
        with st.status(f"Building the replay of {run.name} from {n} checkpoints...", expanded=True) as status:
            try:
                out = replay_mod.build(run.path, progress=False)
            except ckpt.CheckpointError as e:
                status.update(label="Could not build the replay", state="error")
                st.error(str(e))
                st.stop()
            status.update(label=f"Replay built ({out.stat().st_size / 1e6:.1f} MB)", state="complete")
        st.rerun()
    if n < 2:
        st.caption("A replay needs at least two saved checkpoints; this run has fewer.")
    st.stop()

try:
    rp = ui.replay(run)
except ckpt.CheckpointError as e:
    st.error(f"The replay file of run **{run.name}** cannot be read: {e}", icon=":material/error:")
    st.stop()
steps = rp.steps
ph = ui.phases(run)

# ---------------------------------------------------------------- playback controls (full reruns)
SPEEDS = {"slow": 2.0, "normal": 1.0, "fast": 0.5}
if st.session_state.pop("_replay_finished", False):  # the player reached the last frame
    st.session_state["replay_play"] = False


def rewind_if_at_end() -> None:
    """Pressing Play shows the current frame first (the next tick advances), or the first frame
    if the slider is at the last one."""
    st.session_state["_replay_shown"] = None
    if st.session_state.get("replay_play") and st.session_state.get("w_frame_step") == steps[-1]:
        st.session_state["w_frame_step"] = steps[0]


c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="bottom")
with c1:
    playing = st.toggle("Play", key="replay_play", on_change=rewind_if_at_end, help="Advance one frame per tick; the charts below update in place.")
with c2:
    speed = st.select_slider("Speed", options=list(SPEEDS), value="normal", key="replay_speed",
                             format_func=lambda s: f"{s} ({SPEEDS[s]:g} s per frame)")
with c3:
    loop = st.checkbox("Loop", key="replay_loop", help="At the last frame, start again instead of stopping.")


def parse_frame(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise ValueError("not an integer step") from None
    if not steps[0] <= v <= steps[-1]:
        raise ValueError(f"must be between {steps[0]} and {steps[-1]}")
    return v


def frame_slider() -> int:
    """The step scrubber, synced to ?frame_step=; while playing, each tick moves it one frame."""
    key = "w_frame_step"
    default = steps[rv.nearest_frame(steps, st.session_state.get("step") or steps[-1])]
    v, from_url = ui.url_value("frame_step", parse_frame, default)
    if from_url or st.session_state.get(key) not in steps:
        st.session_state[key] = steps[rv.nearest_frame(steps, v)]
    elif playing and st.session_state[key] == st.session_state.get("_replay_shown"):  # a tick, not a drag
        i, keep = rv.next_frame(steps.index(st.session_state[key]), len(steps), loop)
        if not keep:
            st.session_state["_replay_finished"] = True
            st.rerun()  # whole page: the Play toggle turns off
        st.session_state[key] = steps[i]
    step = st.select_slider("Training step", options=steps, key=key, format_func=lambda s: f"{s:,}",
                            help=f"{len(steps)} frames from step {steps[0]:,} to {steps[-1]:,}; the link remembers the step.")
    ui.publish("frame_step", step)
    st.session_state["_replay_shown"] = step
    return step


# The same colours for train / test as the Loss chart above (Streamlit's palette), in the
# alphabetical order Vega-Lite gives the series: excluded, restricted, test, train.
PROGRESS_COLORS = ["#ff2b2b", "#29b09d", "#0068c9", "#83c9ff"]


def loss_chart(r: runs_mod.Run, replay: replay_mod.Replay, step: int, phases, height: int, title: str = "Loss"):
    df = rv.rows_long(r.metrics, rv.LOSS_SERIES)
    if df.empty:
        df = rv.replay_long(replay, rv.LOSS_SERIES)
    return charts.curves(df, "loss (log)", phases=phases, marker=step, height=height, title=title)


def spectrum_chart(replay: replay_mod.Replay, frame: int, height: int, title: str = ""):
    top = rv.spectrum_max(replay)
    return charts.spectrum(replay.embed_norms[frame].numpy(), replay.key_freqs, "norm in W_E", title=title, height=height).encode(
        y=alt.Y("value:Q", title="norm in W_E", scale=alt.Scale(domain=[0, top])))


# ---------------------------------------------------------------- the scrubbed views
@st.fragment(run_every=SPEEDS[speed] if playing else None)
def scrubbed() -> None:
    step = frame_slider()
    f = steps.index(step)
    s = rv.frame_summary(rp, f)
    m = st.columns(5)
    m[0].metric("Step", f"{step:,}")
    m[1].metric("Train loss", f"{s['train_loss']:.2e}")
    m[2].metric("Test loss", f"{s['test_loss']:.2e}")
    m[3].metric("Test accuracy", f"{s['test_acc']:.1%}")
    m[4].metric("Clustered neurons", f"{s['clustered']} / {s['neurons']}")

    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(charts.fit_x(loss_chart(run, rp, step, ph, 220)), width="stretch")
        st.caption("The black line is this frame. Train loss falls first (memorisation); test loss stays high through circuit "
                   "formation, then collapses in the clean-up phase. Bands are the detected phases.")
    with right:
        st.altair_chart(charts.fit_x(spectrum_chart(rp, f, 220, f"Embedding spectrum at step {step:,}")), width="stretch")
        st.caption(f"Norm of each frequency k in the embedding W_E (fixed scale across frames). At first all frequencies are "
                   f"alike; as the clock forms, the key frequencies (red: {', '.join(map(str, rp.key_freqs))}) stand out and weight decay shrinks the rest.")

    st.markdown("**The number circle**")
    st.altair_chart(charts.number_circle(rv.circle_frame(rp, f), size=150, columns=min(len(rp.key_freqs), 5)), width="content")
    st.caption("Each number x is drawn at its embedding's coordinates along the cos and sin directions of a key frequency k "
               "(the final model's). Early on the points are a cloud; once grokked they sit on a circle ordered like a clock, "
               "x going round k times.")

    st.markdown("**Stored neurons' activations over (x, y)**")
    cell = max(1, 220 // run.config.model.p)
    for col, n in zip(st.columns(len(rp.neurons)), rv.neuron_panels(rp, f)):
        with col:
            st.markdown(f"neuron {n['neuron']}: k = {n['freq']}, {n['frac']:.0%} explained")
            # an image, not a Vega heatmap: p x p rects per neuron per frame are too slow to animate
            st.image(rv.viridis_image(n["map"], cell), caption=f"activation {n['map'].min():.2g} (purple) to {n['map'].max():.2g} (yellow)")
    st.caption("Rows are x, columns y. These neurons are the final model's best-explained neurons of its key frequencies; each "
               "title gives the neuron's best frequency at this step and the share of its variance that frequency explains. "
               "A trigonometric neuron shows stripes along the diagonals x + y = const.")

    left, right = st.columns(2)
    with left:
        counts = rv.cluster_counts(rp, f)
        chart = charts.counts(counts, rp.key_freqs, title="Neurons per frequency", height=200).encode(
            y=alt.Y("neurons:Q", title="neurons", scale=alt.Scale(domain=[0, rv.max_cluster_count(rp)])))
        st.altair_chart(charts.fit_x(chart), width="stretch")
        st.caption("An MLP neuron joins frequency k when the terms of k explain at least 85 % of its activation's variance over the "
                   "grid; 'other' counts neurons clustered on a non-key frequency. Watch the grey 'unclustered' bar drain into "
                   "the key frequencies as the circuit forms.")
    with right:
        chart = charts.curves(rv.replay_long(rp, rv.PROGRESS_LOSS_SERIES), "loss (log)", phases=ph, marker=step, height=200,
                              title="Restricted and excluded loss")
        st.altair_chart(charts.fit_x(chart).configure_range(category=PROGRESS_COLORS), width="stretch")
        st.caption("Restricted: the loss when only the key frequencies are kept; it falls well before the test loss. Excluded: the "
                   "training loss with them removed; it rises during circuit formation, as the model comes to rely on them.")
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.fit_x(charts.curves(rv.replay_long(rp, rv.GINI_SERIES), "Gini coefficient", log_y=False, phases=ph, marker=step,
                                            height=200, title="Sparsity in the Fourier basis")), width="stretch")
        st.caption("Gini coefficient of the frequency norms of the embedding W_E and of the neuron-to-logit map "
                   "W_L = W_out W_U: it rises as the representation concentrates on a few frequencies.")
    with right:
        st.altair_chart(charts.fit_x(charts.curves(rv.replay_long(rp, rv.NORM_SERIES), "sum of squared weights", log_y=False, phases=ph, marker=step,
                                            height=200, title="Weight norm")), width="stretch")
        st.caption("Weight decay at work: the total squared weight falls during clean-up, as the memorising solution is removed.")

    # ------------------------------------------------------------ side by side with other runs
    st.subheader("Side by side")
    found = runs_mod.discover(ui.run_roots())
    options = rv.replay_runs(found, exclude=run.path)
    if not options:
        st.caption("No other run has a replay to compare with yet.")
        return
    if "replay_contrast" not in st.session_state:
        st.session_state["replay_contrast"] = [ui.CONTRAST_RUN] if ui.CONTRAST_RUN in options else []
    st.session_state["replay_contrast"] = [n for n in st.session_state["replay_contrast"] if n in options]
    chosen = st.multiselect("Compare with", options, key="replay_contrast", max_selections=3,
                            help="Runs that have a replay; each shows its frame nearest to this step.")
    if not chosen:
        st.caption("Pick one or more runs to see them next to this one at the same step.")
        return
    here = next((n for n, d in found.items() if d.resolve() == run.path.resolve()), run.name)
    shown = [(here, run, rp)]
    for n in chosen:  # a broken run in the list gets its own error, never the page's exception
        try:
            r = ui.open_run(found[n])
            shown.append((n, r, ui.replay(r)))
        except ckpt.CheckpointError as e:
            st.error(f"Run **{n}** cannot be compared: {e}", icon=":material/error:")
    for col, (name, r, rpl) in zip(st.columns(len(shown)), shown):
        fr = rv.nearest_frame(rpl.steps, step)
        with col:
            st.markdown(f"**{name}**  \nweight decay {r.config.wd:g}, p = {r.config.model.p}, frame at step {rpl.steps[fr]:,}")
            st.altair_chart(charts.fit_x(loss_chart(r, rpl, rpl.steps[fr], ui.phases(r), 150, title="")), width="stretch")
            st.altair_chart(charts.fit_x(spectrum_chart(rpl, fr, 110)), width="stretch")
            st.altair_chart(charts.number_circle(rv.circle_frame(rpl, fr), size=90, columns=3), width="content")
    st.caption("Same step, different runs: compare where each run is in its phases, how concentrated its embedding spectrum "
               "is and whether its numbers sit on circles."
               + (" A run without weight decay memorises and stays there: its spectrum stays spread over all frequencies and "
                  "its numbers stay a cloud." if any(r.config.wd == 0 for _, r, _ in shown) else ""))


scrubbed()
