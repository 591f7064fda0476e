"""The load test's baseline: the least a five-page Streamlit app can do (a title, a number input
and a tiny chart per page). `python -m tools.load` runs it next to app.py so the real app's
latencies read as a ratio to what Streamlit itself costs on this machine."""
import altair as alt
import pandas as pd
import streamlit as st

st.set_page_config(page_title="baseline", layout="wide")


def make_page(i: int):
    def page() -> None:
        st.title(f"Baseline page {i}")
        n = st.number_input("n", min_value=0, max_value=1000, value=10 * i, step=1, key=f"n{i}")
        df = pd.DataFrame({"x": range(5), "y": [n * (j + 1) for j in range(5)]})
        st.altair_chart(alt.Chart(df).mark_bar().encode(x="x:O", y="y:Q").properties(height=150), width="stretch")
    return page


PAGES = [st.Page(make_page(i), title=f"Page {i}", url_path=f"page{i}", default=i == 1) for i in range(1, 6)]
st.navigation(PAGES).run()
