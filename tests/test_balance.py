"""Standardised mean differences against a hand computation."""

import numpy as np
import pandas as pd
import pytest

from psmbook.matching.balance import balance_table, indicators


def test_smd_uses_the_unmatched_pooled_sd_before_and_after():
    # Treated: 3 of 4 have x=1 (p=0.75, var 0.25 with n-1: 0.75*0.25*4/3 = 0.25);
    # controls: 1 of 4 (p=0.25, var 0.25). Pooled SD = 0.5; SMD before = (0.75-0.25)/0.5 = 1.0.
    before = pd.DataFrame({"x": [1, 1, 1, 0, 1, 0, 0, 0]}, dtype=float)
    treated = pd.Series([True] * 4 + [False] * 4)
    # After matching: treated 2 of 3, controls 1 of 3 -> difference 1/3, same denominator 0.5.
    after = pd.DataFrame({"x": [1, 1, 0, 1, 0, 0]}, dtype=float)
    treated_after = pd.Series([True] * 3 + [False] * 3)
    table = balance_table(before, treated, after, treated_after)
    assert table.loc["x", "smd_before"] == pytest.approx(1.0)
    assert table.loc["x", "smd_after"] == pytest.approx((2 / 3 - 1 / 3) / 0.5)
    assert not table.loc["x", "balanced_after"]
    assert np.isnan(table.loc["x", "variance_ratio_before"])  # not given for a 0/1 indicator


def test_indicators_one_column_per_level_in_study_order():
    data = pd.DataFrame({"g": ["b", "a", "b"], "age": [50, 60, 70]})
    frame = indicators(data, ["g", "age"], {"g": ["b", "a"]})
    assert list(frame.columns) == ["g=b", "g=a", "age"]
    assert frame["g=b"].tolist() == [1.0, 0.0, 1.0]
