"""The grid's tooltip values travel packed (components/grid.py): integers in the smallest type
that holds them, floats as float32 shown to 3 significant figures; unpack reads what the
browser decodes."""
from __future__ import annotations

import numpy as np
import pytest

from components import grid


@pytest.mark.parametrize("values,dtype", [
    (np.arange(113), "u1"),            # a p = 113 grid's answers: one byte each
    (np.array([-1, 0, 400]), "i2"),
    (np.array([0, 2**20]), "i4"),
])
def test_integers_pack_into_the_smallest_type_and_round_trip(values, dtype):
    d = {"packed": grid.Packed(values).to_json()}
    assert d["packed"]["dtype"] == dtype
    assert grid.unpack(d) == [int(v) for v in values]


def test_floats_keep_three_significant_figures():
    v = np.array([[0.0, 1.23456], [-4.2e-5, 987.654]])
    d = {"packed": grid.compact(v).to_json()}
    assert d["packed"]["dtype"] == "f4" and grid.unpack(d) == [0.0, 1.23, -4.2e-05, 988.0]


def test_packing_is_smaller_than_the_json_list():
    import json
    answers = np.random.default_rng(0).integers(0, 113, 113 * 113)
    packed = len(json.dumps(grid.Packed(answers).to_json()))
    assert packed < 0.5 * len(json.dumps(answers.tolist()))
