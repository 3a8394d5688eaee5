"""The median survival convention (R survfit's) and the confidence transform, on hand-made curves.

R's ``quantile.survfit`` (``findq``) takes the first time the Kaplan–Meier curve is at or below 0.5,
except where the curve sits exactly at 0.5 over an interval: then the midpoint between the time it
reached 0.5 and the next event time (or, when the curve ends at 0.5, the last follow-up time). The
values below are worked by hand; tests/test_r_survival.py checks the same curves against R itself.
"""

import math

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from scipy import stats

from psmbook.analysis import km

Z = stats.norm.ppf(0.975)


def fit(times, events):
    return KaplanMeierFitter().fit(times, events)


# (times, events, median by hand)
CURVES = {
    # S(1) = 3/4, S(2) = 1/2 exactly, S(4) = 1/4: flat at 1/2 on [2, 4) -> (2 + 4) / 2
    "flat at one half": ([1, 2, 4, 9], [1, 1, 1, 0], 3.0),
    # S = 1/2 from 2 on; the censoring at 3 does not end the flat, the death at 5 does -> 3.5
    "censoring inside the flat": ([1, 2, 3, 5], [1, 1, 0, 1], 3.5),
    # the curve ends at 1/2 (censored at 5 and 7): midpoint of 2 and the last follow-up, 7
    "ends at one half": ([1, 2, 5, 7], [1, 1, 0, 0], 4.5),
    # S(3) = 2/3, S(5) = 4/9: no flat at 1/2, the first time at or below it
    "crosses one half": ([2, 3, 3, 5, 6, 8], [1, 1, 0, 1, 0, 1], 5.0),
    # 15 patients, censored at 6 and 7: S(9) = 1/2 as a fraction, 0.5000000000000001 as a float product;
    # R's tolerance sees the flat from 9 to the next death at 10 -> 9.5 (not 10)
    "one half up to rounding": (list(range(1, 16)), [1] * 5 + [0, 0] + [1] * 8, 9.5),
}


@pytest.mark.parametrize("name", CURVES)
def test_median_follows_rs_midpoint_rule(name):
    times, events, expected = CURVES[name]
    median, _, _ = km.median_survival(fit(times, events))
    assert median == pytest.approx(expected), name


def test_the_rounding_case_really_is_off_one_half_in_floating_point():
    s = km.kaplan_meier(fit(*CURVES["one half up to rounding"][:2]))["survival"]
    assert s.loc[9.0] > 0.5 and s.loc[9.0] - 0.5 < 1e-15  # "first time <= 0.5" would say 10


def test_a_curve_that_stays_above_one_half_has_no_median():
    median, low, high = km.median_survival(fit([1, 2, 3, 4, 5], [1, 0, 0, 0, 0]))
    assert math.isinf(median) and math.isinf(high)


def test_the_limits_are_where_the_band_crosses_one_half():
    # 20 patients, one death at each of 1..10, the other 10 censored at 20
    times, events = list(range(1, 11)) + [20] * 10, [1] * 10 + [0] * 10
    band = km.confidence_band(fit(times, events), "log-log")
    median, low, high = km.median_survival(fit(times, events), "log-log")
    assert median == pytest.approx(15.0)  # S = 10/20 exactly from 10 until the last follow-up at 20
    first_lower = band.index[(band["lower"] <= 0.5).to_numpy()][0]
    assert low == first_lower  # the lower band crosses 0.5 between events, not on a flat
    assert math.isinf(high)  # the upper band never reaches 0.5


def test_log_log_and_log_limits_by_hand():
    # six patients: deaths at 2, 3, 5, 8, censored at 3 and 6; at t = 5, S = 4/9, Var(log S) = 1/4
    f = fit([2, 3, 3, 5, 6, 8], [1, 1, 0, 1, 0, 1])
    s, se = 4 / 9, 0.5
    theta, half = math.log(-math.log(s)), Z * se / abs(math.log(s))
    expected = {
        "log-log": (math.exp(-math.exp(theta + half)), math.exp(-math.exp(theta - half))),
        "log": (s * math.exp(-Z * se), min(1.0, s * math.exp(Z * se))),
        "plain": (max(0.0, s - Z * se * s), min(1.0, s + Z * se * s)),
    }
    for transform, (low, high) in expected.items():
        assert km.survival_ci_at(f, 5.5, transform) == pytest.approx((100 * s, 100 * low, 100 * high)), transform


def test_limits_are_undefined_where_r_leaves_them_na():
    band = km.confidence_band(fit([1, 2, 3], [0, 1, 1]), "log-log")
    assert np.isnan(band.loc[1.0, "lower"])  # S = 1: log(-log S) is not finite
    assert np.isnan(band.loc[3.0, "upper"])  # S = 0
    assert km.confidence_band(fit([1, 2, 3], [0, 1, 1]), "log").loc[1.0, "lower"] == 1.0


def test_transform_is_named_once_and_refused_when_unknown():
    assert km.CI_TRANSFORM in km.TRANSFORMS
    text = km.ci_transform_text()
    assert f'conf.type = "{km.CI_TRANSFORM}"' in text and 'default is `"log"`' in text
    with pytest.raises(ValueError, match="conf.type"):
        km.survival_ci_at(fit([1, 2], [1, 1]), 1, "logit")


def test_weighted_fits_are_refused():
    weighted = KaplanMeierFitter().fit([1, 2, 3], [1, 1, 0], weights=[1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="weights"):
        km.median_survival(weighted)


def test_the_chapter_names_its_conventions_from_the_constants():
    from psmbook.analysis.survival import km_report

    numbers = km_report.convention_numbers()
    assert numbers["ci_transform"] == km.ci_transform_text(km.CI_TRANSFORM)
    assert "midpoint" in numbers["median_rule"] and "R survfit" in numbers["median_rule"]
    assert km_report.convention_numbers("log")["ci_transform"].startswith(km.TRANSFORMS["log"])
