"""Ask the model: x + y, its answer, how each frequency votes, the clock as the model's own
embedding draws it, and the whole table (click a cell to ask about it)."""
import streamlit as st

import ui
from components import grid
from components.clocks import clocks
from components.votes import votes_chart
from grok import charts, palette
from grok import query_view as qv
from grok.images import category_image, cell_size, grid_image

st.title("Ask the model")
run, shared_step = ui.current()
step = ui.weight_step(run, shared_step)
p = run.config.model.p
a = ui.analysis(run, step)
verdict = qv.clock_verdict(a)
ks = qv.shown_freqs(a)
st.caption("**Try this:** click a vermillion (wrong) cell of the table at the bottom, then move the sidebar's step back "
           "to the first checkpoint and watch the clock come apart.")
ui.caption_checkpoint(run, shared_step)
if verdict.state != "clock":
    st.info(verdict.text, icon=":material/schedule:")


@st.fragment
def ask() -> None:
    """Everything that follows x and y reruns alone (a fragment): the sidebar and the page's
    header are not redrawn when the pair changes."""
    with st.container(horizontal=True, gap="small"):  # one row block, not two columns: a message fewer per ask (README, "Speed")
        x = ui.synced("x", st.number_input, ui.int_in(0, p - 1), min(41, p - 1), label="x", min_value=0, max_value=p - 1, step=1)
        y = ui.synced("y", st.number_input, ui.int_in(0, p - 1), min(87, p - 1), label="y", min_value=0, max_value=p - 1, step=1)
    x, y = int(x), int(y)
    answer = (x + y) % p
    top = qv.top_table(a, x, y)
    pred = top[0]["answer"]
    split = "training" if bool(a.ds.train_mask[x * p + y]) else "test (never seen in training)"

    row = st.container(horizontal=True, gap="large")  # one row block, not three columns: fewer elements to redraw per ask
    row.metric(f"{x} + {y} mod {p}", f"{answer}", width="content")
    row.metric("Model says", f"{pred}", delta="right" if pred == answer else "wrong", delta_color="normal" if pred == answer else "inverse",
               width="content")
    row.metric("Confidence", top[0]["probability"], help=f"log-probability {top[0]['log-probability']:.3g}", width="content")
    st.caption(f"Step {step:,}. This pair is in the {split} set.")

    left, right = st.columns([2, 3])
    with left:
        # heading, table and note as one markdown element: the table was an st.table (a DataFrame, Arrow and a React
        # table) between two more elements, each one more message for the browser on every ask
        gap = top[0]["logit"] - top[1]["logit"] if len(top) > 1 else 0.0
        # a compact HTML table (a markdown one's padding overflows the column and a phone)
        table = ui.html_table(["answer", "correct", "probability", "log-probability", "logit"],
                              [[r["answer"], "✓" if r["correct"] else "", r["probability"], f"{r['log-probability'] + 0.0:.3g}",  # + 0.0: no "-0"
                                f"{r['logit']:.2f}"] for r in top], align="rcrrr")
        st.markdown(
            f"**Top predictions**\n\n{table}\n\n"
            f"<small style='opacity:0.7'>The model's answer {pred} beats the runner-up {top[1]['answer'] if len(top) > 1 else '–'} by "
            f"{gap:.2f} in logit (a factor e^{gap:.1f} ≈ {min(2.718281828 ** gap, 1e300):.3g} in probability); log-probabilities keep "
            "the ranking readable when the probabilities round to 100 % and 0 %.</small>", unsafe_allow_html=True)
    with right:
        if ks:
            v, total = qv.votes(a, ks, x, y)
            word = "key frequency" if verdict.has_clock else "candidate frequency (no clock yet)"
            st.markdown(f"**How each {word} votes**")
            # an SVG component, not a Vega view: ~46 ms less of the browser's time per ask (README, "Speed")
            votes_chart("ask_votes", charts.votes_layout(v, ks, answer, total=total, model_answer=pred))
            peak = int(total.argmax())
            agree = "the true answer" if peak == answer else f"not the true answer {answer}"
            st.caption(f"Each thin line is the part of the model's logits for ({x}, {y}) on cos / sin(w_k(x+y)) over the output c; "
                       f"the thick black line is their sum, which peaks at c = {peak}, {agree}"
                       + (f" (the model's own answer is {pred})." if peak != pred else ", where the model's answer is.")
                       + f" Together these frequencies carry {verdict.share:.0%} of the logits' variance.")
        else:
            st.markdown("**How the frequencies vote**")
            st.caption("Nothing to show: no set of frequencies carries this checkpoint's logits (see above), so its answer "
                       "is not a sum of waves. Compare the final checkpoint of a run with weight decay.")

    heading = "**The clock, as the model's own embedding draws it**"
    if ks:
        legend = " · ".join(f"<span style='color:{c}'>●</span> {n}" for n, c in charts.clock_legend().items())
        st.markdown(f"{heading}\n\n<small>{legend}</small>", unsafe_allow_html=True)  # one element, not two
        # one component draws every k's clock (SVG), wrapping on a narrow screen: it was a Vega view per k (README, "Speed")
        clocks("ask_clocks", qv.clock_points(a, ks, x, y), ks, size=130)
        gaps = qv.clock_agreement(a, ks, x, y)
        near = [k for k, d in gaps if d <= 180 / p * 2]
        rough = qv.circle_roundness(a, ks)
        st.caption(
            f"In each frequency's plane of W_E the numbers sit at an angle measured from where the model puts 0; here x = {x} "
            f"and y = {y} sit where the model's embedding puts them, and the ring marks their angles added. The diamond is the "
            f"model's answer {pred}. " + (
                f"Its angle matches the added angles (within two steps of 360°/{p}) at k = {', '.join(map(str, near))}"
                if near else "At no frequency does the answer land on the added angles") +
            f"; the numbers' radii vary by {min(r for _, r in rough):.0%}–{max(r for _, r in rough):.0%} around their mean "
            "(0 % is a perfect circle). The model turns the added angle into an answer with cos(a)cos(b) − sin(a)sin(b) = cos(a + b).")
    else:
        st.markdown(heading)
        st.caption("No clock is drawn: this checkpoint's numbers do not lie on circles that the logits use. The model answers "
                   "from memory; a run with weight decay builds its clock later (see Home).")

    mode = st.radio("Colour the table by", ["right or wrong", "confidence in the right answer"], horizontal=True, key="query_table_mode")
    cell = cell_size(p)
    preds = a.predictions().numpy()  # [p*p] the model's answer to every pair
    if mode == "right or wrong":
        img = category_image(a.correct.numpy().astype(int), [palette.WRONG, palette.RIGHT], 1)
        legend = (f"<span style='color:{palette.RIGHT}'>■</span> right · <span style='color:{palette.WRONG}'>■</span> wrong")
        values, label = preds, "model says"
    else:
        img = grid_image(a.probs_correct.numpy(), 1, 0, 1, "viridis")
        legend = "P(right answer): 0 dark purple … 1 yellow"
        values, label = grid.compact(a.probs_correct.numpy()), "P(right) ="
    st.markdown(f"**All {p}×{p} sums at step {step:,}** <small>({legend}; click a cell to ask about it)</small>", unsafe_allow_html=True)
    grid.grid("ask_table", img, p, p, values=values, label=label, highlight=(x, y), width=p * cell,
              alt=f"the model's answers to all {p}x{p} pairs", on_click=grid.select_pair)
    frac = run.config.frac_train
    st.caption(f"Rows are x, columns y; the outlined cell is {x} + {y}. {frac:.0%} of the pairs are training pairs. Here the model "
               f"is right on {a.metrics['train_acc']:.1%} of the training pairs and {a.metrics['test_acc']:.1%} of the test pairs: "
               + ("a grokked model is right everywhere." if a.metrics["test_acc"] > 0.99 else
                  "right on the pairs it memorised, a speckle elsewhere." if a.metrics["train_acc"] > 0.99 else
                  "it has not even memorised its training pairs yet."))


ask()
