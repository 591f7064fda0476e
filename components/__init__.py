"""Streamlit components of the app (st.components.v2): browser-side code the pages mount.

Kept apart from grok/ (the library never imports streamlit) and from views/ (pages stay thin).
"""
