"""Train your own: pick p, the split, weight decay or Grokfast, and train live in the background.

The training runs in a thread of the server (grok/jobs.py), one per session and at most
GROK_MAX_JOBS on the whole server. The live view below refreshes once a second; each refresh is
also a heartbeat: when the tab is closed the beats stop, and the job stops itself after
GROK_HEARTBEAT_SECONDS (default 90 s), leaving a valid partial run. The sidebar shows the
training on the other pages and keeps the heartbeat going there (ui.training_status).
"""
import streamlit as st

import ui
from grok import charts, curves, jobs, live, presets
from grok import replay_views as rv
from grok.config import ConfigError, ModelConfig, TrainConfig

# measured with `python -m grok.train --preset watch --seed S` (the README, "Presets", has the table)
WATCH_MEASURED = ("Measured on this project's 2-core machine over seeds 0, 1 and 2: it grokked on all three, train accuracy "
                  "100 % from step 75 while test accuracy stood at 43–50 %, then 100 % test accuracy at steps 975, 550 "
                  "and 1,025, after 12.8, 12.3 and 13.6 s of training (2 torch threads, the machine otherwise idle).")
LIM = jobs.limits()
WATCH = presets.get("watch").settings
WATCH_P = min(WATCH["p"], LIM.max_p - 1 + LIM.max_p % 2)  # the largest odd p the limits allow, up to the preset's
DEFAULTS = dict(p=WATCH_P, frac_train=WATCH["frac_train"], wd=WATCH["wd"], lr=WATCH["lr"], seed=0,
                steps=min(WATCH["steps"], LIM.max_steps), eval_every=min(WATCH["eval_every"], LIM.max_steps))

job: jobs.TrainingJob | None = st.session_state.get("train_job")
running = job is not None and job.is_alive()


def run_link_name(j: jobs.TrainingJob) -> str:
    """The name grok.runs.discover gives this run (the sidebar's ?run= value)."""
    return f"{j.out.parent.name}/{j.out.name}"


def start(cfg: TrainConfig) -> None:
    """Start `cfg` as this session's job (or say why not) and redraw the page."""
    if running:
        st.warning("A training from this session is still running: stop it first.", icon=":material/hourglass_top:")
        return
    root = ui.user_runs_dir()
    root.mkdir(parents=True, exist_ok=True)
    if LIM.demo:
        jobs.prune_runs(root, LIM.keep_runs - 1, protect=tuple(j.out for j in jobs.REGISTRY.running()))
    new = jobs.TrainingJob(cfg, jobs.new_run_dir(root, cfg), max_seconds=LIM.max_seconds, max_steps=LIM.max_steps,
                           heartbeat_timeout=LIM.heartbeat_seconds)
    try:
        new.start()
    except jobs.BusyError as e:
        st.warning(f"Not started: {e}.", icon=":material/hourglass_top:")
    else:
        st.session_state["train_job"] = new
        st.session_state["_train_seen_alive"] = True
        st.rerun()


st.title("Train your own")
st.subheader("Watch it grok")
st.markdown(
    f"Press **Watch it grok** to train the one-layer transformer on `(x + y) mod {WATCH_P}` right here: half of the pairs "
    f"for training, learning rate {WATCH['lr']:g}, weight decay {WATCH['wd']:g} (`python -m grok.train --preset watch`). "
    "While it trains, the panels below are drawn from its newest checkpoint: test accuracy against the memorised train "
    "accuracy, the embedding spectrum, the numbers in the planes of its strongest frequencies and the neurons per "
    "frequency. The train accuracy reaches 100 % first while the test accuracy stalls; then the spectrum thins out to a "
    "few key frequencies, the numbers fall onto circles, the neurons cluster and the test accuracy jumps. When the run "
    "ends, its replay is built, ready on the Replay page."
)
if WATCH_P == WATCH["p"]:
    st.caption(WATCH_MEASURED)
if st.button("Watch it grok", type="primary", icon=":material/play_arrow:", key="train_watch", disabled=running):
    start(presets.config("watch", p=WATCH_P, steps=DEFAULTS["steps"], eval_every=DEFAULTS["eval_every"]))
st.info(
    f"**Limits on this server:** at most {LIM.max_steps:,} steps and {LIM.max_seconds:g} s of training per run, "
    f"p ≤ {LIM.max_p}, {LIM.max_concurrent} training{'s' if LIM.max_concurrent > 1 else ''} at a time, one per visitor. "
    + (f"This is a shared demo: only the {LIM.keep_runs} newest visitor runs are kept. " if LIM.demo else "")
    + f"A run stops by itself about {LIM.heartbeat_seconds:g} s after its browser tab is closed.",
    icon=":material/info:",
)

# ---------------------------------------------------------------- the form
form_box = st.expander("Or choose your own settings", expanded=False, icon=":material/tune:")
with form_box, st.form("train_form"):
    c = st.columns(4)
    p = c[0].number_input("p (odd modulus)", min_value=3, max_value=LIM.max_p, value=DEFAULTS["p"], step=2, key="train_p",
                          help=f"Numbers 0..p-1; p² pairs in all. Must be odd (the Fourier analysis needs it); at most {LIM.max_p} here.")
    frac = c[1].slider("Training fraction", min_value=0.1, max_value=0.9, value=DEFAULTS["frac_train"], step=0.05, key="train_frac",
                       help="Share of the p² pairs the model trains on; the rest is the test set. The paper uses 0.3 with p = 113; small p needs more.")
    wd = c[2].number_input("Weight decay", min_value=0.0, max_value=10.0, value=DEFAULTS["wd"], step=0.1, key="train_wd",
                           help="AdamW weight decay. 1.0 in the paper; 0 memorises and never generalises.")
    lr = c[3].number_input("Learning rate", min_value=1e-5, max_value=1e-1, value=DEFAULTS["lr"], step=5e-4, format="%.4f", key="train_lr",
                           help="AdamW learning rate (1e-3 in the paper).")
    c = st.columns(4)
    seed = c[0].number_input("Seed", min_value=0, max_value=1_000_000, value=DEFAULTS["seed"], step=1, key="train_seed",
                             help="Seeds the initial weights and the train / test split.")
    steps = c[1].number_input("Steps", min_value=10, max_value=LIM.max_steps, value=DEFAULTS["steps"], step=100, key="train_steps",
                              help=f"Full-batch training steps, at most {LIM.max_steps:,} here.")
    eval_every = c[2].number_input("Evaluate every", min_value=1, max_value=LIM.max_steps, value=DEFAULTS["eval_every"], step=10, key="train_eval",
                                   help="Steps between two points of the live curves (each evaluates the whole grid).")
    c[3].empty()
    c = st.columns(4)
    alpha = c[0].number_input("Grokfast α", min_value=0.0, max_value=0.999, value=0.0, step=0.01, format="%.3f", key="train_gf_alpha",
                              help="Decay of the gradient moving average (e.g. 0.98). Grokfast is on when both α and λ are above 0.")
    lam = c[1].number_input("Grokfast λ", min_value=0.0, max_value=10.0, value=0.0, step=0.5, key="train_gf_lambda",
                            help="How much of the slow gradient average to add to each step (e.g. 2.0).")
    submitted = st.form_submit_button("Start training", disabled=running, key="train_start")
if running:
    st.caption("A training from this page is running: stop it below, or wait for it to finish, before starting another.")

if submitted:
    cfg = None
    if int(p) % 2 == 0:
        st.error(f"p must be odd, got {int(p)}: try {int(p) + 1}.")
    else:
        try:
            cfg = TrainConfig(model=ModelConfig(p=int(p)), frac_train=float(frac), wd=float(wd), lr=float(lr), seed=int(seed),
                              steps=int(steps), eval_every=int(eval_every), grokfast_alpha=float(alpha), grokfast_lambda=float(lam)).validate()
        except ConfigError as e:
            st.error(f"These settings cannot be trained: {e}")
    if cfg is not None and (0 < alpha) != (0 < lam):
        st.warning("Grokfast needs both α and λ above 0; training without it.", icon=":material/warning:")
    if cfg is not None:
        start(cfg)

if job is None:
    st.stop()

# ---------------------------------------------------------------- the live view
st.subheader(f"Run `{run_link_name(job)}`")
st.caption(f"p = {job.config.model.p}, training fraction {job.config.frac_train:g}, weight decay {job.config.wd:g}, "
           f"learning rate {job.config.lr:g}, seed {job.config.seed}"
           + (f", Grokfast α {job.config.grokfast_alpha:g} λ {job.config.grokfast_lambda:g}" if job.config.grokfast else "")
           + f". Saved in {job.out}.")


def live_frame(j: jobs.TrainingJob) -> live.LiveFrame | None:
    """The panels of the job's newest snapshot, computed once per snapshot (kept in the session)."""
    step = live.latest_step(j.out)
    if step is None:
        return None
    kept = st.session_state.get("_train_live")
    if kept is not None and kept[0] == str(j.out) and kept[1] == step:
        return kept[2]
    fr = live.frame(j.out, j.config)
    if fr is not None:
        st.session_state["_train_live"] = (str(j.out), fr.step, fr)
    return fr


def panels(j: jobs.TrainingJob, rows: list) -> None:
    """Accuracy and loss curves, then the replay's three panels at the newest snapshot."""
    fr = live_frame(j)
    p = j.config.model.p
    left, right = st.columns(2)
    with left:
        ui.chart(curves.curves(curves.long_rows(rows, rv.ACC_SERIES), "accuracy", log_y=False, height=220, title="Accuracy"),
                 width="stretch")
        st.caption(f"Test accuracy against the memorised train accuracy. Chance is 1/p = {1 / p:.1%}; grokking is the test "
                   "curve jumping long after the train curve reached 100 %.")
    with right:
        ui.chart(curves.curves(curves.long_rows(rows, rv.LOSS_SERIES), "loss (log)", height=220, title="Loss"), width="stretch")
        st.caption("Train loss drops as the model memorises; the test loss rises, then falls if and when it generalises.")
    if fr is None:
        return
    v = fr.verdict
    cands = v.freqs if v.state == "forming" else ()
    st.markdown(f"**At step {fr.step:,}** (newest checkpoint) · {v.text}")
    a, b, c = st.columns(3)
    with a:
        ui.chart(charts.spectrum(fr.embed_norms, v.key_freqs, "norm", title="Embedding spectrum", height=200, candidates=cands),
                        width="stretch")
        st.caption("Norm of the embedding along each frequency's cos / sin directions: spread while memorising, a few "
                   "tall bars once the clock forms.")
    with b:
        if len(fr.circle):
            ui.chart(charts.number_circle(fr.circle, size=110, columns=3, legend=False).properties(
                title="Numbers in the strongest frequencies' planes"), width="content")
        st.caption("Each number's embedding in the (cos k, sin k) plane of the strongest frequencies: a cloud at first, "
                   "a circle in order 0, 1, 2, ... (rainbow colour) once that frequency is used.")
    with c:
        ui.chart(charts.counts(fr.counts, v.key_freqs, title="Neurons per frequency", height=200), width="stretch")
        st.caption(f"{fr.clustered} of {fr.neurons} MLP neurons are explained by one frequency "
                   "(at least half of their variance); the rest are unclustered.")


@st.fragment(run_every=1.0 if running else None)
def live_view() -> None:
    job.beat()
    alive = job.is_alive()
    if not alive and st.session_state.get("_train_seen_alive"):
        st.session_state["_train_seen_alive"] = False
        st.rerun()  # the whole page: the form unlocks, the sidebar lists the finished run
    step, total = job.progress
    phase = " · building its replay" if job.phase == "replay" else ""
    st.progress(min(step / max(total, 1), 1.0), text=f"step {step:,} of {total:,} · {job.elapsed:.0f} s"
                + (f" (stops at {LIM.max_seconds:g} s)" if alive and not phase else "") + phase)
    if alive and job.phase == "training" and st.button("Stop", icon=":material/stop:", key="train_stop",
                                                        help="Stop now; the run keeps its weights and curves up to this step."):
        job.stop()
    rows = job.rows
    if not rows:
        st.caption("Starting...")
        return
    last = rows[-1]
    m = st.columns(4)
    m[0].metric("Train accuracy", f"{last['train_acc']:.1%}")
    m[1].metric("Test accuracy", f"{last['test_acc']:.1%}")
    m[2].metric("Train loss", f"{last['train_loss']:.2e}")
    m[3].metric("Test loss", f"{last['test_loss']:.2e}")
    panels(job, rows)


live_view()

if job.status == jobs.DONE:
    last = job.rows[-1] if job.rows else {}
    g = (job.result or {}).get("grokked_step")
    st.success(f"Finished {job.step:,} steps in {job.elapsed:.0f} s: test accuracy {last.get('test_acc', float('nan')):.1%}"
               + (f", 100 % first reached at step {g:,}." if g is not None else ", 100 % not reached."), icon=":material/check_circle:")
elif job.status == jobs.STOPPED:
    st.warning(f"Stopped at step {job.step:,}: {job.error}. The run folder holds a valid partial run with its weights at that step.", icon=":material/stop_circle:")
elif job.status == jobs.FAILED:
    st.error(f"Training failed: {job.error}", icon=":material/error:")
if job.capped_steps:
    st.caption(f"Steps were capped at this server's limit of {LIM.max_steps:,}.")

if job.status in (jobs.DONE, jobs.STOPPED):
    st.markdown("**Open this run in the other pages** (it is also in the sidebar's run list):")
    q = {"run": run_link_name(job)}
    cols = st.columns(4)
    replay_label = "Replay" if live.replay_ready(job.out) else "Replay (build its replay there)"
    if job.replay_error:
        st.caption(f"Its replay could not be built: {job.replay_error}")
    links = [("views/replay.py", replay_label, ":material/play_circle:"), ("views/query.py", "Ask the model", ":material/calculate:"),
             ("views/neurons.py", "Trigonometric neurons", ":material/waves:"), ("views/ablations.py", "Frequency ablations", ":material/content_cut:")]
    for col, (path, label, icon) in zip(cols, links):
        col.page_link(path, label=label, icon=icon, query_params=q)
