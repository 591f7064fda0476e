"""Streamlit components of the app (st.components.v2): browser-side code the pages mount.

Kept apart from grok/ (the library never imports streamlit) and from views/ (pages stay thin).
"""


def plain(data: dict) -> list:
    """[data]: how every component here passes its data (the JavaScript reads `component.data[0]`).

    Why a list: Streamlit scans a dict's values for dataframes, which imports pandas and pyarrow
    the first time (~0.7 s of CPU on a 2-core machine, before Home's first chart: pandas-free
    until then) and costs ~1 ms a call after; a list goes out as plain JSON, unscanned."""
    return [data]
