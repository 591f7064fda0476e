"""Ask the model: x + y, its answer, how each key frequency votes, the clock, the whole table."""
import pandas as pd
import streamlit as st

import ui
from grok import charts
from grok.images import grid_image
from grok.snapshot import clock_angles, freq_votes, top_predictions

st.title("Ask the model")
run, step = ui.current()
p = run.config.model.p
a = ui.analysis(run, step)

c1, c2 = st.columns(2)
with c1:
    x = ui.synced("x", st.number_input, ui.int_in(0, p - 1), min(41, p - 1), label="x", min_value=0, max_value=p - 1, step=1)
with c2:
    y = ui.synced("y", st.number_input, ui.int_in(0, p - 1), min(87, p - 1), label="y", min_value=0, max_value=p - 1, step=1)
x, y = int(x), int(y)
answer = (x + y) % p
top = top_predictions(a.acts.logits, x, y)
pred, conf = top[0]
split = "training" if bool(a.ds.train_mask[x * p + y]) else "test (never seen in training)"

m1, m2, m3 = st.columns(3)
m1.metric(f"{x} + {y} mod {p}", f"{answer}")
m2.metric("Model says", f"{pred}", delta="correct" if pred == answer else "wrong", delta_color="normal" if pred == answer else "inverse")
m3.metric("Confidence", f"{conf:.1%}")
st.caption(f"Step {step}. This pair is in the {split} set.")

left, right = st.columns([1, 2])
with left:
    st.markdown("**Top predictions**")
    st.dataframe(pd.DataFrame([{"answer": c, "probability": f"{q:.2%}", "correct": c == answer} for c, q in top]), hide_index=True, width="stretch")
with right:
    ks = a.key_freqs
    v = freq_votes(a.acts.logits, ks, x, y).numpy()
    df = pd.concat([pd.DataFrame({"c": range(p), "value": v[i], "k": str(k)}) for i, k in enumerate(ks)])
    st.markdown("**How each key frequency votes**")
    st.altair_chart(charts.votes(df, answer), width="stretch")
    st.caption("Each line is the part of the model's logits that lives on cos(w_k(x+y)) and sin(w_k(x+y)) over the grid: for a "
               "clock it is a cosine wave cos(w_k(x+y−c)) over the output c. All waves peak together only at the true answer (dashed), which is why the sum picks it.")

st.markdown("**The clock**")
st.altair_chart(charts.clock(pd.DataFrame(clock_angles(p, ks, x, y))), width="content")
st.caption("For each key frequency k, x and y are rotations by angle w_k·x and w_k·y (w_k = 2πk/p); adding angles lands on "
           "x + y (red). The model computes this rotation with cos(a)cos(b) − sin(a)sin(b) = cos(a + b).")

mode = st.radio("Colour the table by", ["correct or not", "confidence in the right answer"], horizontal=True, key="query_table_mode")
cell = max(2, 460 // p)
if mode == "correct or not":
    img, legend = grid_image(a.correct.float().numpy(), cell, 0, 1, "redgreen", highlight=(x, y)), "green = right, red = wrong"
else:
    img, legend = grid_image(a.probs_correct.numpy(), cell, 0, 1, "viridis", highlight=(x, y)), "P(right answer): 0 dark purple .. 1 yellow"
st.markdown(f"**All {p}×{p} sums at step {step}** ({legend})")
st.image(img, width=img.shape[1])
st.caption(f"Rows are x, columns y; the magenta square is {x} + {y}. A memorising model is right only on the 30 % training pairs "
           f"(a speckle); a grokked one is right everywhere. Here: train {a.metrics['train_acc']:.1%}, test {a.metrics['test_acc']:.1%}.")
