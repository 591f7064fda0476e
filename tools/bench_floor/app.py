"""The app benchmark's floor: the least a Streamlit round trip can cost (a title, a number input
and one line of text that follows it). `python -m tools.bench_app` drives it in the same run as the
app, so each interaction also reads as a ratio to Streamlit's own cost on the machine at hand."""
import streamlit as st

st.title("Floor")
n = st.number_input("n", min_value=0, max_value=1000, value=10, step=1)
st.write(f"value {n}")
