"""One meaning per colour, the same on every page, readable with any colour vision.

Built on the Okabe-Ito palette (colour-blind safe). Each name is a meaning, not a hue: a page
that wants "key frequency" asks for KEY, never for "red". The Streamlit theme's accent
(.streamlit/config.toml primaryColor = ACCENT) is kept apart from every data meaning, so a
highlighted button never reads as a "broken" sum or a key frequency.
"""
ACCENT = "#5B4BB7"  # UI chrome only (theme primaryColor): buttons, sliders, focus

# frequencies
KEY = "#0072B2"  # a key frequency (only where grok.verdict says there is a clock)
CANDIDATE = "#56B4E9"  # the strongest frequencies of a checkpoint whose clock is still forming
OTHER = "#BBBBBB"  # any other frequency
UNCLUSTERED = "#E0E0E0"  # neurons no single frequency explains

# right / wrong (a blue / vermillion pair: distinct for every common colour-vision deficiency)
RIGHT = "#0072B2"
WRONG = "#D55E00"
OUTCOMES = {"still right": "#9DC3E6", "broken": WRONG, "was wrong": "#555555", "fixed": "#009E73"}

# training curves: one colour per series everywhere
SERIES = {
    "train": "#0072B2", "test": "#D55E00", "restricted": "#009E73", "excluded": "#CC79A7",
    "test (leak-free)": "#E69F00",
}

# the query pair on clocks and grids
POINT_X, POINT_Y, POINT_SUM, POINT_ANSWER = "#0072B2", "#009E73", "#000000", "#D55E00"
HIGHLIGHT = "#000000"  # the outline of the selected (x, y) cell on a grid image
