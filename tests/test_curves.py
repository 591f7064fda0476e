"""grok.curves: the training curves as plain Vega-Lite dicts (Home's first chart, the Train page)."""
import altair as alt
import pytest

from grok import curves
from grok.phases import Phase

ROWS = [{"step": 0, "train_loss": 4.7, "test_loss": 4.7, "train_acc": 0.01},
        {"step": 100, "train_loss": 0.5, "test_loss": None, "train_acc": 0.9},
        {"step": 23000, "train_loss": 1e-7, "test_loss": 0.0, "train_acc": 1.0}]
PHASES = [Phase("memorisation", 0, 100), Phase("clean-up", 100, 5000), Phase("converged", 5000, 23000)]


def _layer(spec, mark):
    return next(l for l in spec["layer"] if l["mark"]["type"] == mark)


@pytest.mark.parametrize("log_x", [True, False])
@pytest.mark.parametrize("dash", [None, "run"])
def test_the_dicts_are_valid_vega_lite(log_x, dash):
    rows = curves.long_rows(ROWS, {"train_loss": "train", "test_loss": "test"}, run="mod113")
    spec = curves.curves(rows, "loss (log)", phases=PHASES, marker=150, dash_field=dash, title="Loss", log_x=log_x, x_max=23000)
    alt.LayerChart.from_dict(spec, validate=True)  # raises on any schema error


def test_long_rows_skip_missing_values_per_series_and_keep_the_run():
    rows = curves.long_rows(ROWS, {"train_loss": "train", "test_loss": "test"}, run="a")
    assert [(r["step"], r["series"]) for r in rows] == [(0, "train"), (100, "train"), (23000, "train"), (0, "test"), (23000, "test")]
    assert {r["run"] for r in rows} == {"a"} and "run" not in curves.long_rows(ROWS, {"train_acc": "train"})[0]


@pytest.mark.parametrize("log_x", [True, False])
def test_the_step_axis_ends_at_the_last_step_and_the_marker_sits_on_it(log_x):
    spec = curves.curves(curves.long_rows(ROWS, {"train_loss": "train"}), "loss", marker=0, log_x=log_x)
    x = _layer(spec, "line")["encoding"]["x"]
    assert x["scale"]["domain"] == [1 if log_x else 0, 23000] and x["scale"]["nice"] is False
    assert x["scale"].get("type") == ("log" if log_x else None)
    assert _layer(spec, "rule")["data"]["values"] == [{"step1": 1 if log_x else 0}]  # step 0 has no place on a log axis
    assert [v["step1"] for v in _layer(spec, "line")["data"]["values"]] == ([1, 100, 23000] if log_x else [0, 100, 23000])


def test_a_log_loss_axis_drops_zero_losses_and_a_linear_one_keeps_them():
    rows = curves.long_rows(ROWS, {"test_loss": "test"})
    assert [v["value"] for v in _layer(curves.curves(rows, "loss"), "line")["data"]["values"]] == [4.7]
    assert [v["value"] for v in _layer(curves.curves(rows, "loss", log_y=False), "line")["data"]["values"]] == [4.7, 0.0]


def test_phase_bands_list_the_phases_present_in_order_with_their_colours():
    band = _layer(curves.curves(curves.long_rows(ROWS, {"train_loss": "train"}), "loss", phases=PHASES[::-1]), "rect")
    scale = band["encoding"]["color"]["scale"]
    assert scale["domain"] == ["memorisation", "clean-up", "converged"]
    assert scale["range"] == [curves.PHASE_COLORS[n] for n in scale["domain"]]
    assert band["data"]["values"][-1] == {"phase": "memorisation", "start": 1, "end": 100}  # clipped to the log axis


def test_known_series_keep_their_palette_colour_and_the_data_stays_inline():
    from grok import palette

    spec = curves.curves(curves.long_rows(ROWS, {"train_loss": "train", "test_loss": "test"}), "loss")
    color = _layer(spec, "line")["encoding"]["color"]
    assert color["scale"]["range"] == [palette.SERIES["train"], palette.SERIES["test"]]
    # layer-level inline rows: Streamlit keeps them in the spec's JSON (no Arrow, no pandas)
    assert "data" not in spec and "datasets" not in spec and all("values" in l["data"] for l in spec["layer"])


# ---------------------------------------------------------------- the SVG component's layout (Home)
def test_layout_has_one_line_per_series_and_run_with_the_second_run_dashed():
    from grok import palette

    rows = (curves.long_rows(ROWS, {"train_loss": "train", "test_loss": "test"}, run="a")
            + curves.long_rows(ROWS[:2], {"train_loss": "train"}, run="b"))
    lay = curves.layout(rows, "loss (log)", phases=PHASES, marker=0, dash_field="run", title="Loss", x_max=23000)
    assert [(s["name"], s["run"], s["dash"]) for s in lay["series"]] == [("train", "a", False), ("test", "a", False), ("train", "b", True)]
    assert lay["series"][0]["colour"] == palette.SERIES["train"] and lay["series"][1]["colour"] == palette.SERIES["test"]
    assert lay["series"][0]["points"] == [[0, 4.7], [100, 0.5], [23000, 1e-7]]  # real steps; step 0 is drawn at the axis' 1
    assert lay["series"][1]["points"] == [[0, 4.7]]  # a log axis drops the zero loss, like the Vega form
    assert lay["runs"] == ["a", "b"] and lay["title"] == "Loss" and lay["x_title"] == "step (log)"
    assert lay["x_domain"] == [1, 23000] and lay["marker"] == 1
    assert lay["y_domain"] == [1e-7, 10.0]  # whole decades around 1e-7 .. 4.7


def test_layout_axes_bands_and_phase_legend():
    rows = curves.long_rows(ROWS, {"train_acc": "train"})
    lin = curves.layout(rows, "accuracy", log_y=False, log_x=False, phases=PHASES[::-1], marker=150)
    assert lin["x_domain"] == [0, 23000] and lin["y_domain"] == [0.01, 1.0] and lin["marker"] == 150 and not lin["log_x"]
    assert [p["name"] for p in lin["phases"]] == ["memorisation", "clean-up", "converged"]  # canonical order, not the input's
    assert all(p["colour"] == curves.PHASE_COLORS[p["name"]] for p in lin["phases"])
    assert {b["phase"]: (b["start"], b["end"]) for b in lin["bands"]} == {"memorisation": (0, 100), "clean-up": (100, 5000), "converged": (5000, 23000)}
    log = curves.layout(rows, "accuracy", log_y=False, phases=PHASES)
    assert log["bands"][0]["start"] == 1  # clipped to the log axis
    assert log["runs"] == [] and all(not s["dash"] for s in log["series"])
    flat = curves.layout(curves.long_rows([{"step": 0, "a": 0.5}, {"step": 9, "a": 0.5}], {"a": "x"}), "y", log_y=False)
    assert flat["y_domain"] == [-0.5, 1.5]  # a constant line still has an axis
    empty = curves.layout([], "loss")
    assert empty["series"] == [] and empty["y_domain"] == [1e-3, 1.0]
