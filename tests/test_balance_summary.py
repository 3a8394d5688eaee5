"""MatchIt's balance statistics (psmbook.matching.balance_summary) against hand computations: the ATT
SMD over the treated SD of all patients (sqrt(p(1 - p)) for a 0/1 row), the variance ratio, the eCDF
distances at every distinct value, MatchIt's fallback when the treated SD is zero, and the verdicts.
The same numbers against MatchIt itself: tests/test_r_matchit.py."""

import numpy as np
import pandas as pd
import pytest

from psmbook.matching import balance_summary as bs
from psmbook.matching.balance import balance_table

TREATED = pd.Series([True] * 4 + [False] * 4)


def test_binary_row_divides_by_the_treated_sd_of_all_patients_before_and_after():
    # treated 3 of 4 (p = 0.75, SD sqrt(0.75 * 0.25) = 0.4330, no n - 1), controls 1 of 4
    X = pd.DataFrame({"x": [1, 1, 1, 0, 1, 0, 0, 0]}, dtype=float)
    weights = pd.Series([1, 1, 0, 1, 0, 1, 1, 1], dtype=float)  # the matched: treated 2 of 3, controls 0 of 3
    table = bs.before_after(X, TREATED, weights)
    sd = np.sqrt(0.75 * 0.25)
    row = table.loc["x"]
    assert row["binary"]
    assert row["smd_before"] == pytest.approx(0.5 / sd) and row["smd_after"] == pytest.approx((2 / 3) / sd)
    assert (row["mean_treated_after"], row["mean_control_after"]) == pytest.approx((2 / 3, 0.0))
    # eCDF mean and max of a 0/1 row are the difference in proportions; no variance ratio
    assert row["ecdf_mean_before"] == row["ecdf_max_before"] == pytest.approx(0.5)
    assert np.isnan(row["variance_ratio_before"]) and row["variance_balanced_after"] is None
    # cobalt's default for a binary row: the raw difference; Austin's pooled SD of the unmatched arms
    assert row["difference_after"] == pytest.approx(2 / 3)
    pooled = balance_table(X, TREATED, X[weights > 0], TREATED[weights > 0], weights_after=weights[weights > 0])
    assert row["smd_pooled_after"] == pytest.approx(pooled.loc["x", "smd_after"])
    assert row["smd_pooled_before"] == pytest.approx(0.5 / np.sqrt((0.25 + 0.25) / 2))  # n - 1 variances
    assert not row["balanced_before"] and not row["balanced_after"]


def test_continuous_row_variance_ratio_and_ecdf_at_every_distinct_value():
    X = pd.DataFrame({"age": [1, 2, 2, 4, 2, 3, 3, 6]}, dtype=float)
    row = bs.summarise(X, TREATED).loc["age"]
    # treated mean 2.25, variance 4.75 / 3; controls mean 3.5, variance 9 / 3
    assert row["smd"] == pytest.approx(-1.25 / np.sqrt(4.75 / 3))
    assert row["variance_ratio"] == pytest.approx((4.75 / 3) / 3)
    # eCDFs at 1, 2, 3, 4, 6: treated .25 .75 .75 1 1, controls 0 .25 .75 .75 1
    assert row["ecdf_mean"] == pytest.approx((0.25 + 0.5 + 0 + 0.25 + 0) / 5)
    assert row["ecdf_max"] == pytest.approx(0.5)


def test_weighted_variance_is_matchits_reliability_weights_variance():
    x, w = np.array([1.0, 2.0, 4.0]), np.array([2.0, 1.0, 1.0])
    p = w / w.sum()
    mean = (p * x).sum()
    assert bs.weighted_variance(x, w, False) == pytest.approx((p * (x - mean) ** 2).sum() / (1 - (p**2).sum()))
    assert bs.weighted_variance(x, np.ones(3), False) == pytest.approx(np.var(x, ddof=1))
    assert bs.weighted_variance(np.array([1.0, 0, 0, 0]), np.ones(4), True) == pytest.approx(0.25 * 0.75)


def test_matching_weights_enter_means_variances_and_ecdfs():
    X = pd.DataFrame({"age": [1, 2, 2, 4, 2, 3, 3, 6]}, dtype=float)
    weights = np.array([1, 1, 1, 1, 2, 1, 1, 0], dtype=float)  # a control used twice, one unmatched
    row = bs.summarise(X, TREATED, weights).loc["age"]
    assert row["mean_control"] == pytest.approx((2 * 2 + 3 + 3) / 4)
    controls = np.array([2.0, 3, 3, 6])
    assert row["variance_ratio"] == pytest.approx(
        bs.weighted_variance(np.array([1.0, 2, 2, 4]), np.ones(4), False)
        / bs.weighted_variance(controls, weights[4:], False)
    )
    # the treated SD of all patients stays the denominator
    assert row["smd"] == pytest.approx((2.25 - 2.5) / np.sqrt(4.75 / 3))
    # controls' weighted eCDF at 1, 2, 3, 4, 6: 0 .5 1 1 1 (the unmatched 6 still marks a value)
    gaps = np.abs(np.array([0.25, 0.75, 0.75, 1, 1]) - np.array([0, 0.5, 1, 1, 1]))
    assert (row["ecdf_mean"], row["ecdf_max"]) == pytest.approx((gaps.mean(), gaps.max()))


def test_zero_treated_sd_falls_back_on_matchits_pooled_sd():
    X = pd.DataFrame({"x": [1, 1, 1, 0, 0, 0]}, dtype=float)
    treated = pd.Series([True, True, False, False, False, False])
    # every treated patient has x = 1: MatchIt's pooled_sd, sum over arms of sx (1 - sx / n_arm) / n
    sd = np.sqrt((2 * (1 - 2 / 2) + 1 * (1 - 1 / 4)) / 6)
    assert bs.summarise(X, treated).loc["x", "smd"] == pytest.approx(0.75 / sd)


def test_no_difference_is_an_smd_of_zero_not_a_division():
    X = pd.DataFrame({"x": [1, 0, 1, 0, 1, 0, 1, 0]}, dtype=float)
    row = bs.summarise(X, TREATED).loc["x"]
    assert row["smd"] == 0.0 and row["ecdf_max"] == 0.0


def test_verdicts_use_the_thresholds():
    X = pd.DataFrame(
        {
            "near": [1, 2, 3, 4, 1, 2, 3, 4.4],  # variance ratio about 0.8: within 1/2 to 2
            "spread": [2, 2.5, 3, 3.5, 0, 1, 5, 6],  # variance ratio far below 1/2
        }
    )
    table = bs.before_after(X, TREATED, pd.Series(1.0, index=X.index))
    assert table.loc["near", "variance_balanced_before"] is True
    assert table.loc["spread", "variance_balanced_before"] is False
    assert table["balanced_before"].tolist() == (table["smd_before"].abs() < bs.SMD_THRESHOLD).tolist()
    assert bs.SMD_THRESHOLD == 0.1 and bs.VARIANCE_RATIO_THRESHOLD == 2


def test_covariate_matrix_levels_in_the_given_order_and_numbers_as_they_are():
    data = pd.DataFrame({"g": ["b", "a", "b"], "age": [50, 61.5, 70]}, index=["p1", "p2", "p3"])
    X = bs.covariate_matrix(data, {"g": ["b", "a"], "age": None})
    assert list(X.columns) == ["g=b", "g=a", "age"]
    assert X["g=b"].tolist() == [1.0, 0.0, 1.0] and X["age"].tolist() == [50.0, 61.5, 70.0]


def test_covariate_matrix_names_what_it_cannot_use():
    data = pd.DataFrame({"g": ["b", "c", "b"], "age": [50, np.nan, 70], "s": ["x", "y", "z"]}, index=["p1", "p2", "p3"])
    with pytest.raises(
        ValueError,
        match=r"covariate 'g' holds values outside its levels \['a', 'b'\]: 1 patient\(s\), e\.g\. p2 \('c'\)",
    ):
        bs.covariate_matrix(data, {"g": ["a", "b"]})
    with pytest.raises(ValueError, match=r"continuous covariate 'age' is missing: 1 patient\(s\), e\.g\. p2"):
        bs.covariate_matrix(data, {"age": None})
    with pytest.raises(ValueError, match="continuous covariate 's' must hold numbers"):
        bs.covariate_matrix(data, {"s": None})
    with pytest.raises(KeyError, match="'nodes' is not a column"):
        bs.covariate_matrix(data, {"nodes": None})


def test_weights_must_be_one_per_patient_and_not_negative():
    X = pd.DataFrame({"x": [1.0, 0, 1, 0, 1, 0, 1, 0]})
    with pytest.raises(ValueError, match="not negative"):
        bs.before_after(X, TREATED, pd.Series([1.0, -1, 1, 1, 1, 1, 1, 1]))
    with pytest.raises(ValueError, match="one per patient"):
        bs.summarise(X, TREATED[:4])
