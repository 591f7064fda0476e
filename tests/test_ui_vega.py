"""The app's chart path (ui_vega) draws what st.altair_chart would: the same Vega-Lite spec
without the validation, templates plus data equal to the whole chart, and a cache that keys on
the arguments' contents."""
from __future__ import annotations

import numpy as np
import pandas as pd

import ui_vega
from grok import charts


def _inline(spec: dict) -> dict:
    """spec with its DataFrame datasets as records, for comparing with Altair's own to_dict."""
    out = dict(spec)
    out["datasets"] = {n: (d.to_dict("records") if isinstance(d, pd.DataFrame) else d) for n, d in spec.get("datasets", {}).items()}
    return out


def test_to_spec_is_altairs_spec_with_the_data_moved_to_named_datasets():
    chart = charts.spectrum(np.arange(1.0, 7.0), [2, 5], "norm", title="t", selected=[2], select="bar")
    ref = chart.to_dict()  # validated, data inline under hashed names
    spec = ui_vega.to_spec(chart)
    assert list(spec["datasets"]) == ["data-0"] and isinstance(spec["datasets"]["data-0"], pd.DataFrame)
    (ref_name, ref_rows), = ref["datasets"].items()
    assert spec["datasets"]["data-0"].to_dict("records") == ref_rows
    assert spec["data"] == {"name": "data-0"} and ref["data"] == {"name": ref_name}
    strip = lambda d: {k: v for k, v in d.items() if k not in ("datasets", "data", "config", "$schema")}  # noqa: E731
    assert strip(spec) == strip(ref)


def test_cached_spec_keys_on_contents_not_identity():
    calls = []

    def builder(values, keys, title=""):
        calls.append(1)
        return charts.spectrum(values, keys, "v", title=title)

    a = ui_vega.cached_spec(builder, np.arange(1.0, 6.0), [1], title="x")
    b = ui_vega.cached_spec(builder, np.arange(1.0, 6.0), [1], title="x")  # equal contents, new objects
    assert len(calls) == 1 and a == b and a is not b  # a shallow copy each time: Streamlit pops keys from it
    ui_vega.cached_spec(builder, np.arange(1.0, 6.0) * 2, [1], title="x")
    ui_vega.cached_spec(builder, np.arange(1.0, 6.0), [2], title="x")
    ui_vega.cached_spec(builder, np.arange(1.0, 6.0), [1], title="y")
    assert len(calls) == 4
    assert ui_vega.key_of(builder, (pd.DataFrame({"a": [1, 2]}),), {}) != ui_vega.key_of(builder, (pd.DataFrame({"a": [1, 3]}),), {})


def test_altairs_from_dict_is_patched_and_still_builds_the_same_channels():
    import altair as alt
    assert ui_vega.FROM_DICT_CACHED
    enc = alt.Chart(pd.DataFrame({"a": [1]})).mark_point().encode(x="a:Q", tooltip=["a:Q"]).to_dict()["encoding"]
    assert enc["x"] == {"field": "a", "type": "quantitative"} and enc["tooltip"] == [{"field": "a", "type": "quantitative"}]


def test_arrow_datasets_reach_the_page_exactly_as_the_dataframes_would():
    """A cached spec keeps its data as Arrow bytes: Streamlit must send the same chart proto as
    for the DataFrames (it passes bytes through and converts DataFrames on every call)."""
    from streamlit.elements import vega_charts
    from streamlit.proto.VegaLiteChart_pb2 import VegaLiteChart

    df = pd.DataFrame({"k": np.arange(1, 6), "value": np.linspace(0.5, 2.5, 5), "kind": list("aabba")})
    spec = ui_vega.to_spec(charts.spectrum(df["value"].to_numpy(), [2], "norm"))
    spec["datasets"]["inline"] = [{"a": 1}]  # records stay records
    fast = ui_vega.with_arrow_datasets(spec)
    assert isinstance(fast["datasets"]["data-0"], bytes) and fast["datasets"]["inline"] == [{"a": 1}]
    assert isinstance(spec["datasets"]["data-0"], pd.DataFrame)  # the input is not changed
    protos = []
    for s in (spec, fast):
        proto = VegaLiteChart()
        vega_charts._marshall_chart_data(proto, {**s, "datasets": dict(s["datasets"])})
        protos.append(proto)
    assert protos[0].SerializeToString() == protos[1].SerializeToString()
    assert ui_vega.with_arrow_datasets({"mark": "bar"}) == {"mark": "bar"}
