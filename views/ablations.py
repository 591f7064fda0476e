"""Frequency ablations: remove (or keep only) Fourier frequencies at the embedding, the neurons or
the logits, and see which sums break; restricted / excluded loss of this checkpoint. Click a bar
of the per-frequency chart to toggle it in the set; click a cell of the grid to ask about it."""
import streamlit as st

import ui
from components import grid
from components.bars import bar_keys
from components.freqs import freq_keys
from grok import ablate, fourier, palette
from grok import query_view as qv
from grok.images import category_image, cell_size

st.title("Frequency ablations")
run, shared_step = ui.current()
step = ui.weight_step(run, shared_step)
p = run.config.model.p
a = ui.analysis(run, step)
verdict = qv.clock_verdict(a)
keys = verdict.key_freqs
ks = qv.shown_freqs(a)
preset = list(ks) or list(a.key_freqs)  # without a clock: the strongest frequencies, not called key
K = fourier.n_freqs(p)
st.caption("**Try this:** click single frequency keys (or bars of the excluded-loss chart at the bottom) to remove one "
           "frequency at a time, and watch which sums break; then switch to 'keep only these'.")
ui.caption_checkpoint(run, shared_step)
st.markdown(
    "If the model really adds numbers with a few waves, cutting those waves should break it, and cutting any other "
    f"frequency should not. Choose frequencies k (1..{K}, angular frequency w_k = 2πk/{p}), where to cut them and how; "
    + (f"the key frequencies of this checkpoint (step {step:,}) are **{', '.join(map(str, keys))}**." if keys else
       f"step {step:,} has no clock, so the preset is its strongest frequencies ({', '.join(map(str, preset))}), not key ones.")
)
if not verdict.has_clock:
    st.info(verdict.text, icon=":material/schedule:")


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
def toggle_freq(k: int) -> None:
    """A click on a bar of the per-frequency chart: add its k to the ablation set, or take it out."""
    set_freqs(sorted(set(int(j) for j in st.session_state.get("w_freqs", preset)) ^ {int(k)}))


def chosen_freqs() -> list[int]:
    """The ablation set: a link's ?freqs=, else this session's (the keys, the bar chart and the
    Neurons page all write it), else the preset."""
    key = ui.synced_key("freqs", parse_freqs, sorted(preset), options=range(1, K + 1))
    ui.publish("freqs", st.session_state[key], ablate.freqs_text)
    return [int(k) for k in st.session_state[key]]


def set_freqs(new: list[int]) -> None:
    """A change of the set (a key, a bar): shared with the URL, the bar chart and the Neurons page."""
    ui.set_synced("freqs", new, ablate.freqs_text)


@st.fragment
def ablation_view() -> None:
    """The ablation controls and everything they drive rerun alone (a fragment)."""
    freqs = chosen_freqs()
    freq_keys("abl_keys", K, freqs, keys=keys, candidates=verdict.freqs if verdict.state == "forming" else (), preset=preset,
              label="Frequencies k: click to add or take out (outlined: key frequencies; the chart's bars toggle them too)",
              preset_label="key set" if keys else "strongest", on_change=set_freqs)
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
    verb = "remove" if mode == "remove" else "keep only"
    st.subheader(f"Result: {verb} {chosen} at the {SITE_LABELS[site]}")
    b, f = ab.metrics_before, ab.metrics_after
    # Fewer, larger elements: every element a fragment redraws costs the browser a React pass per
    # delta (README, "Speed"), so the losses and the outcome counts are text, not metrics and a table.
    with st.container(horizontal=True, gap="small"):
        for split in ("train", "test", "all"):
            st.metric(f"{split} accuracy", f"{f[f'{split}_acc']:.1%}", delta=f"{(f[f'{split}_acc'] - b[f'{split}_acc']) * 100:+.1f} points",
                      help=f"before: {b[f'{split}_acc']:.1%}", width="content")
    before, after = ab.correct_before.numpy(), ab.correct.numpy()
    n_broken, n_fixed = int((before & ~after).sum()), int((~before & after).sum())
    losses = ", ".join(f"{split} {b[f'{split}_loss']:.3g} → **{f[f'{split}_loss']:.3g}**" for split in ("train", "test", "all"))
    st.caption(f"To {verb} {chosen} at the {SITE_LABELS[site]} takes test accuracy from {b['test_acc']:.1%} to {f['test_acc']:.1%} "
               f"and train accuracy from {b['train_acc']:.1%} to {f['train_acc']:.1%}: {n_broken:,} sums break, {n_fixed:,} are fixed. "
               f"Loss (before → after): {losses}. "
               f"Training pairs: {int(a.ds.train_mask.sum()):,}, test pairs: {p * p - int(a.ds.train_mask.sum()):,}.")

    left, right = st.columns([3, 2])
    with left:
        names = list(palette.OUTCOMES)  # still right, broken, was wrong, fixed
        codes = (before & after) * 0 + (before & ~after) * 1 + (~before & ~after) * 2 + (~before & after) * 3
        x, y = int(ui.url_value("x", ui.int_in(0, p - 1), min(41, p - 1))[0]), int(ui.url_value("y", ui.int_in(0, p - 1), min(87, p - 1))[0])
        legend = " · ".join(f"<span style='color:{palette.OUTCOMES[n]}'>■</span> {n}" for n in names)
        st.markdown(f"**Which sums break: all {p}×{p} pairs** <small>({legend}; click a cell to pick it)</small>", unsafe_allow_html=True)
        grid.grid("ablation_grid", category_image(codes, [palette.OUTCOMES[n] for n in names], 1), p, p,
                  values=codes.ravel(), names=names, highlight=(x, y), width=p * cell_size(p, 420),
                  alt="ablation outcome of every pair", on_click=grid.select_pair)
        if st.button(f"Ask the model about {x} + {y}", key="ablations_ask", icon=":material/calculate:"):
            st.switch_page("views/query.py")
    with right:
        train = a.ds.train_mask.reshape(p, p).numpy()
        bt, bs = int((before & ~after & train).sum()), int((before & ~after & ~train).sum())
        counts = [("still right", int((before & after).sum())), ("broken (right → wrong)", n_broken),
                  ("fixed (wrong → right)", n_fixed), ("was wrong (and still is)", int((~before & ~after).sum()))]
        st.markdown("| pairs | count |\n|:--|--:|\n" + "\n".join(f"| {n} | {c:,} |" for n, c in counts) + "\n\n"
                    f"<small style='opacity:0.7'>Rows are x, columns y; the outlined cell is ({x}, {y}), the pair selected on Ask. "
                    f"Of the {n_broken:,} broken sums, {bt:,} are training pairs and {bs:,} test pairs"
                    + (f"; pair ({x}, {y}) is {names[int(codes[x, y])]}." if 0 <= x < p and 0 <= y < p else ".") + "</small>",
                    unsafe_allow_html=True)

    excl = ui.excluded_per_freq(run, step)
    # an SVG component, not a Vega chart: in this fragment a Vega chart cost ~45 ms of the browser per toggle (README, "Speed")
    bar_keys("abl_bars", excl, keys, "train loss without k (log)", title="Excluded loss per frequency (click a bar)", height=300,
             log_y=True, candidates=verdict.freqs if verdict.state == "forming" else (), selected=freqs, on_click=toggle_freq)
    worst = max(range(len(excl)), key=lambda i: excl[i]) + 1
    st.caption(f"Each bar is the training loss after removing only cos / sin(w_k(x+y)) of frequency k from the logits, on a log "
               f"scale (train loss without ablation: {a.metrics['train_loss']:.3g}); outlined bars are in the set above. Removing "
               f"k = {worst} alone costs the most: {excl[worst - 1]:.3g}.")


ablation_view()

# Not in the fragment: these do not change with the ablation set, and every element a fragment redraws costs
# the browser ~2.5 ms per interaction (measured: the repaint follows the last of the fragment's deltas).
st.subheader("Progress measures: restricted and excluded loss")
with st.container(horizontal=True, gap="small"):
    st.metric("train loss", f"{a.metrics['train_loss']:.3g}", width="content")
    st.metric("test loss", f"{a.metrics['test_loss']:.3g}", width="content")
    st.metric("restricted loss (all pairs)", f"{a.metrics['restricted_loss']:.3g}", width="content",
              help="Loss when the logits keep only their key-frequency part cos / sin(w_k(x+y)) plus each class's mean.")
    st.metric("excluded loss (train pairs)", f"{a.metrics['excluded_loss']:.3g}", width="content",
              help="Training loss when the key-frequency part is removed from the logits (no mean added back).")
st.caption(f"Nanda et al.'s progress measures, on this checkpoint with its {'key' if keys else 'strongest'} frequencies "
           f"({', '.join(map(str, preset))}): restricted loss {a.metrics['restricted_loss']:.3g} against test loss "
           f"{a.metrics['test_loss']:.3g}, excluded loss {a.metrics['excluded_loss']:.3g} against train loss {a.metrics['train_loss']:.3g}.")
