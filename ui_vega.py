"""Altair charts onto the page for less: `chart(altair_chart, **st_kwargs)` instead of
`st.altair_chart(altair_chart, **st_kwargs)`, and `cached(builder, *args)` for charts whose
inputs repeat.

Why: profiled on the Ask page, st.altair_chart spent over half of each interaction's script time
in Altair: `to_dict()` validates the whole spec against the Vega-Lite JSON schema every rerun
(jsonschema, ~50 % of the conversion) while holding a process-wide lock that every visitor's
charts queue on. Our builders (grok/charts.py) are tested to produce valid specs, so here the
spec is converted once without validation and handed to st.vega_lite_chart, which draws the
same chart (same theme, same selections). `cached` goes further for charts redrawn with inputs
seen before (an ablation's site or mode changes, its per-frequency chart does not): the finished
spec is kept, keyed by a fingerprint of the builder's arguments, so neither Altair's build nor its
conversion runs again.

One patch to Altair (6.x) itself, `_speed_up_from_dict`: every string shorthand in an encoding
("k:N", a tooltip list) goes through SchemaBase.from_dict, which rebuilds a table of the hashes of
all ~570 schema classes on every call (~5 ms each, 100 calls per Ask interaction). The table
depends only on the classes, so it is built once per class set. Without that private class the
patch is skipped and everything still works, only slower.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

_LOCK = threading.Lock()  # alt.data_transformers / alt.theme are process-global
_SPECS: OrderedDict[str, dict] = OrderedDict()
_SPECS_MAX = 256  # finished specs kept (small dicts plus their data as Arrow bytes)
_TRANSFORMER = "grok_named"


def _speed_up_from_dict() -> bool:
    """Cache altair.utils.schemapi._FromDict's class table (see the module doc)."""
    try:
        from altair.utils import schemapi
        cls = schemapi._FromDict
        original = cls.__init__
    except (ImportError, AttributeError):
        return False
    if getattr(original, "_grok_cached", False):
        return True
    tables: dict[tuple, Any] = {}

    def __init__(self, wrapper_classes, /) -> None:
        classes = tuple(wrapper_classes)
        table = tables.get(classes)
        if table is None:
            original(self, classes)
            tables[classes] = self.class_dict
        else:
            self.class_dict = table

    __init__._grok_cached = True
    cls.__init__ = __init__
    return True


FROM_DICT_CACHED = _speed_up_from_dict()


def to_spec(chart: alt.TopLevelMixin) -> dict:
    """The Vega-Lite dict of `chart`, unvalidated, its DataFrames moved to `datasets` under names
    given in order of appearance ("data-0", ...), so that a chart redrawn with new data keeps
    its spec text and Streamlit updates it in place instead of remounting it."""
    datasets: dict[str, pd.DataFrame] = {}
    names: dict[int, str] = {}

    def named(data: Any) -> dict:
        if isinstance(data, pd.DataFrame):
            if id(data) not in names:
                names[id(data)] = f"data-{len(names)}"
                datasets[names[id(data)]] = data
            return {"name": names[id(data)]}
        return data

    with _LOCK:  # registering is global too: another thread's `named` must not collect this chart's data
        alt.data_transformers.register(_TRANSFORMER, named)
        theme = alt.theme.enable("none") if alt.theme.active == "default" else None
        try:
            with alt.data_transformers.enable(_TRANSFORMER):
                spec = chart.to_dict(validate=False)
        finally:
            if theme is not None:
                alt.theme.enable("default")
    if datasets:
        spec["datasets"] = {**(spec.get("datasets") or {}), **datasets}
    return spec


def with_arrow_datasets(spec: dict) -> dict:
    """`spec` with its DataFrame datasets converted to Arrow IPC bytes, the form Streamlit sends.
    st.vega_lite_chart converts DataFrames on every call and passes bytes through as they are,
    so a spec that is cached and drawn again (the replay's 1,600-column frames: ~0.15 s a visit)
    pays the conversion once."""
    from streamlit import dataframe_util

    ds = spec.get("datasets")
    if not ds:
        return spec
    return {**spec, "datasets": {n: dataframe_util.convert_anything_to_arrow_bytes(d) if isinstance(d, pd.DataFrame) else d
                                 for n, d in ds.items()}}


def chart(c: alt.TopLevelMixin, **kwargs):
    """st.altair_chart(c, **kwargs), without the schema validation (see the module doc)."""
    return st.vega_lite_chart(to_spec(c), **kwargs)


def _fingerprint(x: Any, h) -> None:
    if isinstance(x, np.ndarray):
        h.update(f"nd{x.dtype}{x.shape}".encode())
        h.update(np.ascontiguousarray(x).tobytes())
    elif isinstance(x, pd.DataFrame):
        h.update(f"df{list(x.columns)}{list(x.dtypes)}{x.shape}".encode())
        h.update(pd.util.hash_pandas_object(x, index=True).to_numpy().tobytes())
    elif isinstance(x, dict):
        for k in sorted(x, key=str):
            h.update(f"k{k!r}".encode())
            _fingerprint(x[k], h)
    elif isinstance(x, (list, tuple, set, frozenset)):
        items = sorted(x, key=repr) if isinstance(x, (set, frozenset)) else x
        h.update(f"{type(x).__name__}{len(items)}".encode())
        for i in items:
            _fingerprint(i, h)
    elif hasattr(x, "numpy") and callable(x.numpy):  # a torch tensor
        _fingerprint(x.detach().cpu().numpy(), h)
    else:
        h.update(f"{type(x).__name__}:{x!r}".encode())


def key_of(builder: Callable, args: tuple, kwargs: dict) -> str:
    """A digest of the builder and its arguments' contents (not their identities)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{builder.__module__}.{builder.__qualname__}".encode())
    _fingerprint(args, h)
    _fingerprint(kwargs, h)
    return h.hexdigest()


def cached_spec(builder: Callable[..., alt.TopLevelMixin], *args, **kwargs) -> dict:
    """to_spec(builder(*args, **kwargs)), built once per distinct arguments (LRU of _SPECS_MAX)."""
    key = key_of(builder, args, kwargs)
    with _LOCK:
        spec = _SPECS.get(key)
        if spec is not None:
            _SPECS.move_to_end(key)
    if spec is None:
        spec = with_arrow_datasets(to_spec(builder(*args, **kwargs)))
        with _LOCK:
            _SPECS[key] = spec
            while len(_SPECS) > _SPECS_MAX:
                _SPECS.popitem(last=False)
    return {**spec}  # a shallow copy: Streamlit pops keys from it


def cached(builder: Callable[..., alt.TopLevelMixin], *args, st_kwargs: dict | None = None, **kwargs):
    """Draw builder(*args, **kwargs) (a grok.charts function) with Streamlit options st_kwargs,
    reusing the finished spec when the same arguments were drawn before."""
    return st.vega_lite_chart(cached_spec(builder, *args, **kwargs), **(st_kwargs or {}))


