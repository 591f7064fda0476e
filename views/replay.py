"""Replay: scrub or play through training and watch the clock circuit form, frame by frame.

Every frame travels to the browser once, in one Vega-Lite chart (grok/replay_spec.py); the
player (components/player.py) moves it with no server round trip. Python hears from the page
only when the visitor settles on a frame: the player reports its step, which becomes the
shared step every page follows. The chart carries no current frame, so it is the same on every
rerun and is never re-drawn from scratch.
"""
import re

import streamlit as st

import ui
from components.player import player
from grok import checkpoint as ckpt
from grok import replay as replay_mod
from grok import replay_spec
from grok import replay_views as rv
from grok import runs as runs_mod

CHART_KEY = "replay_chart"


def cmp_key(name: str) -> str:
    """Widget key (and CSS class st-key-...) of a compared run's chart: letters, digits, _ and -."""
    return "replay_cmp_" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


st.title("Replay")
st.markdown(
    "Each frame is a checkpoint saved during training (dense early, sparse late), analysed on the whole grid. "
    "**Play**, drag the slider or press the arrow keys: all frames are already in your browser, so every panel "
    "moves together and at once. Where you stop becomes the step the other pages show."
)
run, shared_step = ui.current()

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


@st.cache_resource(max_entries=8, show_spinner="Packing every frame for your browser...")
def _maps(path: str, mtime: float):
    return rv.maps_strips(ui.replay(runs_mod.open_run(path)))


@st.cache_resource(max_entries=12, show_spinner="Packing every frame for your browser...")
def _chart(path: str, mtime: float, compact: bool, columns: int) -> dict:
    """The run's replay chart as its Vega-Lite spec (built ~1 s and converted ~0.1 s at p = 113,
    once per run, file stamp and layout, not on every rerun)."""
    r = runs_mod.open_run(path)
    rpl = ui.replay(r)
    if compact:
        return ui.vega_spec(replay_spec.build_compare(rpl, ui.phases(r), r.metrics, title=r.name))
    return ui.vega_spec(replay_spec.build(rpl, ui.phases(r), r.metrics, strips=_maps(path, mtime), columns=columns))


def chart_of(r: runs_mod.Run, compact: bool = False):
    return _chart(str(r.path), ui.stamp(r.path), compact, 1 if ui.on_phone() else 3)


def parse_frame(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise ValueError("not an integer step") from None
    if not steps[0] <= v <= steps[-1]:
        raise ValueError(f"must be between {steps[0]} and {steps[-1]}")
    return v


# An old deep link ?frame_step=N still opens the replay at step N (it sets the shared step).
linked, from_url = ui.url_value("frame_step", parse_frame, None)
if from_url and linked is not None:
    ui.set_shared_step(steps[rv.nearest_frame(steps, linked)])
    shared_step = st.session_state.get("step", linked)
    del st.query_params["frame_step"]  # from now on ?step= says where we are
start = rv.nearest_frame(steps, steps[-1] if shared_step is None else shared_step)
verdict = rv.final_verdict(rp)
jumps = rv.jump_points(ph, run.metrics, steps)
found = runs_mod.discover(ui.run_roots())
options = rv.replay_runs(found, exclude=run.path)
followers = []
for n in options:  # every run the side-by-side section may show follows the player
    try:
        followers.append({"target": f".st-key-{cmp_key(n)}", "steps": ui.open_run(found[n]).replay_steps})
    except ckpt.CheckpointError:
        pass  # the section says why it cannot be compared

# ---------------------------------------------------------------- what the final model is
if verdict.has_clock:
    st.caption(f"{verdict.text} The circles, the blue bars and 'key' below use these, the FINAL model's key "
               "frequencies, at every frame; the readout above the charts says whether that frame has a clock yet.")
else:
    st.warning(f"This run memorises: its final model has no clock. {verdict.text} The circles and counts below use the "
               "final model's strongest frequencies only to show that nothing forms.", icon=":material/info:")


# ---------------------------------------------------------------- the player (the only part that reruns)
@st.fragment
def controls() -> None:
    """Only this fragment reruns when the player reports a step: the big chart is not re-sent."""
    settled = player(steps, start, jumps, target=f".st-key-{CHART_KEY}", followers=followers)
    if settled is not None:
        ui.set_shared_step(settled)


controls()
with st.container(key=CHART_KEY):  # the container's class st-key-replay_chart is how the player finds the chart
    st.vega_lite_chart(chart_of(run), width="content")

# ---------------------------------------------------------------- captions, from this run's data
bounds = ", ".join(f"{p.name} from step {p.start:,}" for p in ph) or "no phases detected"
keys_txt = ", ".join(map(str, rp.key_freqs))
st.caption(
    f"**Loss, accuracy and the progress measures**: the black line is the frame; the bands are this run's phases ({bounds}). "
    "Restricted loss keeps only the final model's frequencies and falls before the test loss when a circuit forms; excluded "
    "loss removes them. The Gini coefficient of the frequency norms of W_E and W_L = W_out W_U rises as the weights "
    "concentrate on a few frequencies. "
    + (f"Weight decay ({run.config.wd:g}) shrinks the total squared weight once the memorising solution goes."
       if run.config.wd > 0 else "This run has no weight decay: nothing pulls its total squared weight back down.")
)
if verdict.has_clock:
    st.caption(
        f"**Spectrum, circles and neurons**: each bar is the norm of frequency k in the embedding W_E (the y axis is fixed "
        f"across frames; blue: the final model's key frequencies k = {keys_txt}). Each number x is drawn at its embedding's "
        f"coordinates along cos and sin of a key frequency: a cloud early, a circle ordered like a clock once grokked. "
        f"The three maps are the final model's best-explained neurons over (x, y) (rows x, columns y), titled with their "
        f"best frequency at the frame and the share of variance it explains; 'Neurons per frequency' counts neurons that "
        f"one frequency explains at least 85 % of."
    )
else:
    st.caption(
        f"**Spectrum, number planes and neurons**: no frequency is labelled key, because the final model has no clock "
        f"(its strongest frequencies k = {keys_txt} explain {verdict.share:.1%} of the logit variance). The spectrum stays "
        "spread, the numbers stay a cloud in those frequencies' planes and few neurons are explained by one frequency: "
        "this run answers the training pairs from memory."
    )
st.caption("Each panel's title says its step: they always agree, because one parameter in your browser drives them all. "
           "The clock readout per frame follows the app's one rule (grok/verdict.py) on the logit variance the final "
           "model's frequencies explain at that frame: none below 10 %, forming below 50 %, clock from 50 %.")


# ---------------------------------------------------------------- side by side with other runs
@st.fragment
def side_by_side() -> None:
    if not options:
        st.subheader("Side by side")
        st.caption("No other run has a replay to compare with yet.")
        return
    # Opened on demand (a lazy expander: its content runs and is sent only while it is open): a compared run's chart is a
    # second Vega view, ~135 ms more of the browser's time on every visit to this page (README, "Speed").
    first = ui.CONTRAST_RUN if ui.CONTRAST_RUN in options else options[0]
    box = st.expander(f"**Side by side**: {run.name} next to other runs at the same step (e.g. {first})", key="replay_side",
                      on_change="rerun", icon=":material/compare:")
    with box:
        if box.open:
            compare()


def compare() -> None:
    if "replay_contrast" not in st.session_state:
        st.session_state["replay_contrast"] = [ui.CONTRAST_RUN] if ui.CONTRAST_RUN in options else []
    st.session_state["replay_contrast"] = [n for n in st.session_state["replay_contrast"] if n in options]
    chosen = st.multiselect("Compare with", options, key="replay_contrast", max_selections=3,
                            help="Runs that have a replay; each follows the player, at its frame nearest to this step.")
    if not chosen:
        st.caption("Pick one or more runs to see them next to this one at the same step.")
        return
    shown = []
    for n in chosen:  # a broken run in the list gets its own error, never the page's exception
        try:
            r = ui.open_run(found[n])
            shown.append((n, r, chart_of(r, compact=True)))
        except ckpt.CheckpointError as e:
            st.error(f"Run **{n}** cannot be compared: {e}", icon=":material/error:")
    for col, (n, r, ch) in zip(st.columns(max(len(shown), 2)), shown):
        with col:
            st.markdown(f"**{n}**: weight decay {r.config.wd:g}, p = {r.config.model.p}")
            with st.container(key=cmp_key(n)):
                st.vega_lite_chart(ch, width="content")
    st.caption("Same step, different runs (each at its frame nearest to the player's step): compare where each run is in "
               "its phases, how concentrated its embedding spectrum is and whether its numbers sit on circles."
               + "".join(f" **{n}** has no clock at its last step (weight decay {r.config.wd:g}): it memorises, so its spectrum "
                         "stays spread and its numbers stay a cloud." for n, r, _ in shown if not rv.final_verdict(ui.replay(r)).has_clock))


side_by_side()
