import streamlit as st
st.title("neurons")
st.info("Coming soon.")
