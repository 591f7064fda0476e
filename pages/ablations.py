import streamlit as st
st.title("ablations")
st.info("Coming soon.")
