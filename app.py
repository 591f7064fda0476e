"""grok-explorer: `streamlit run app.py`. Navigation, page config and the shared sidebar.

Nothing here or in ui.py imports torch: the first page paints before the model code loads
(see ui.py and DESIGN.md, "Speed")."""
import streamlit as st
from streamlit import delta_generator

import ui

# Streamlit checks once per process, on the first element, whether it runs in a REPL: it walks
# inspect.stack(), reading the source of every frame and resolving the path of every imported
# module (~90 ms of the first visitor's first paint, profiled). This file only ever runs under
# `streamlit run`, so the answer is known; on a Streamlit without the flag this sets an unused one.
delta_generator._use_warning_has_been_displayed = True

st.set_page_config(page_title="grok-explorer", page_icon=":material/schedule:", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/query.py", title="Ask the model", icon=":material/calculate:", url_path="ask"),
    st.Page("views/neurons.py", title="Trigonometric neurons", icon=":material/waves:", url_path="neurons"),
    st.Page("views/circuit.py", title="Circuit", icon=":material/account_tree:", url_path="circuit"),
    st.Page("views/ablations.py", title="Frequency ablations", icon=":material/content_cut:", url_path="ablations"),
    st.Page("views/replay.py", title="Replay", icon=":material/play_circle:", url_path="replay"),
    st.Page("views/train.py", title="Train your own", icon=":material/model_training:", url_path="train"),
]
page = st.navigation(PAGES)
st.session_state["run"], st.session_state["step"] = ui.sidebar(page.url_path)
if page.url_path != "train":  # the Train page shows (and heartbeats) its own live view
    ui.training_status()
page.run()
ui.freeze_after_first_run(page.url_path)  # once per page per process (see ui.freeze_heap)
ui.warm_up()  # once per process, after the first page is drawn: load the default run's analysis in a thread
ui.trim_memory_periodically()  # once per process: the C heap's free pages back to the OS (see ui.py)
