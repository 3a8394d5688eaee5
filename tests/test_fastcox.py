"""The O(n log n) Cox model (analysis/survival/fastcox.py) without R: closed forms, identities of the
sandwich variance, and lifelines where lifelines computes the same thing (no tied times).

tests/test_r_survival.py checks it against R's coxph on the book's matched cohort and on 10^5 patients.
"""

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from psmbook.analysis import survival
from psmbook.analysis.survival.fastcox import cox_fit
from psmbook.analysis.survival.simulate import simulated_pairs
from psmbook.study.description import load_study

STUDY = load_study()


def untied(n_pairs=300, seed=5):
    """Simulated pairs with every time distinct (Efron = Breslow, and lifelines' sandwich is R's)."""
    data = simulated_pairs(n_pairs, seed=seed)
    data["time"] = data["time"] + np.random.default_rng(seed).uniform(0, 1e-3, len(data))
    assert not data["time"].duplicated().any()
    return data


def test_stratified_pairs_have_a_closed_form():
    # a pairs in which the treated patient dies first, b in which the control does: the conditional
    # likelihood is (e^b / (1 + e^b))^a (1 / (1 + e^b))^b, so beta = log(a / b), Var = 1/a + 1/b.
    # Pairs whose first time is a censoring, or with both censored, add nothing.
    a, b = 30, 12
    rows = []
    for k in range(a):
        rows += [(k, 1, 1.0 + k, 1), (k, 0, 2.0 + k, k % 2)]
    for k in range(a, a + b):
        rows += [(k, 1, 3.0 + k, k % 2), (k, 0, 1.5 + k, 1)]
    for k in range(a + b, a + b + 5):
        rows += [(k, 1, 1.0, 0), (k, 0, 4.0, 1), (k + 100, 1, 2.0, 0), (k + 100, 0, 3.0, 0)]
    data = pd.DataFrame(rows, columns=["pair", "treated", "time", "event"])
    fit = cox_fit(data["time"], data["event"], data[["treated"]], strata=data["pair"])
    assert fit.coef[0] == pytest.approx(math.log(a / b), abs=1e-9)
    assert fit.se[0] == pytest.approx(math.sqrt(1 / a + 1 / b), rel=1e-7)
    assert fit.n_strata == a + b + 10
    cohort = data.assign(arm=np.where(data["treated"] == 1, STUDY.treatment.treated, STUDY.treatment.control))
    assert survival.informative_pairs(cohort, STUDY, "time", "event") == a + b


def test_many_small_strata_keep_their_own_precision():
    # 250,000 pairs, the treated patient dying first in 150,000: beta = log(1.5) exactly. Risk-set sums
    # taken as a cohort-wide cumulative sum minus its value at the pair's edge carry the rounding error
    # of a sum over 500,000 patients (beta off by 1.5e-6 here); summed within each pair they do not.
    rng = np.random.default_rng(0)
    a, b = 150_000, 100_000
    base, gap = rng.uniform(1, 100, a + b), rng.uniform(0.01, 5, a + b)
    treated_first = np.r_[np.ones(a, bool), np.zeros(b, bool)]
    time = np.column_stack([np.where(treated_first, base, base + gap), np.where(treated_first, base + gap, base)])
    fit = cox_fit(time.ravel(), np.ones(2 * (a + b)), np.tile([1.0, 0.0], a + b), strata=np.repeat(np.arange(a + b), 2))
    assert abs(fit.coef[0] - math.log(a / b)) < 1e-10
    assert fit.se[0] == pytest.approx(math.sqrt(1 / a + 1 / b), rel=1e-10)


def test_without_ties_the_sandwich_equals_lifelines():
    data = untied()
    x = data[["treated", "z"]]
    ours = cox_fit(data["time"], data["event"], x, cluster=data["pair"])
    theirs = CoxPHFitter().fit(data[["time", "event", "treated", "z", "pair"]], "time", "event", cluster_col="pair")
    assert ours.coef == pytest.approx(theirs.params_.to_numpy(), abs=1e-7)
    assert ours.se == pytest.approx(theirs.standard_errors_.to_numpy(), rel=1e-6)
    weighted = cox_fit(data["time"], data["event"], x, weights=data["weight"])
    theirs = CoxPHFitter().fit(
        data[["time", "event", "treated", "z", "weight"]], "time", "event", weights_col="weight", robust=True
    )
    assert weighted.robust and weighted.n_clusters == len(data)  # non-integer weights: robust, as R
    assert weighted.se == pytest.approx(theirs.standard_errors_.to_numpy(), rel=1e-6)


def test_model_based_variance_equals_lifelines_and_efron_equals_breslow_without_ties():
    data = untied(seed=8)
    ours = cox_fit(data["time"], data["event"], data[["treated", "older"]])
    theirs = CoxPHFitter().fit(data[["time", "event", "treated", "older"]], "time", "event")
    assert not ours.robust
    assert ours.se == pytest.approx(theirs.standard_errors_.to_numpy(), rel=1e-5)
    breslow = cox_fit(data["time"], data["event"], data[["treated", "older"]], ties="breslow")
    assert breslow.coef == pytest.approx(ours.coef, abs=1e-12) and breslow.se == pytest.approx(ours.se, rel=1e-12)


def test_score_residuals_sum_to_zero_at_the_estimate():
    # one cluster holding everyone: the sandwich is the squared total score, zero at the maximum
    data = simulated_pairs(2_000, seed=3)  # with ties: Efron's residuals
    for ties in ("efron", "breslow"):
        one = cox_fit(data["time"], data["event"], data[["treated", "z"]], cluster=np.zeros(len(data)), ties=ties)
        assert one.n_clusters == 1 and np.abs(one.var).max() < 1e-18
        # each patient its own cluster = robust without a cluster
        alone = cox_fit(data["time"], data["event"], data[["treated", "z"]], cluster=np.arange(len(data)), ties=ties)
        plain = cox_fit(data["time"], data["event"], data[["treated", "z"]], robust=True, ties=ties)
        assert alone.var == pytest.approx(plain.var, rel=1e-12)


def test_row_order_and_stratum_labels_do_not_matter():
    data = simulated_pairs(500, seed=4)
    base = cox_fit(data["time"], data["event"], data[["treated"]], strata=data["pair"], cluster=data["pair"])
    shuffled = data.sample(frac=1.0, random_state=1)
    relabelled = shuffled.assign(pair="set-" + shuffled["pair"].astype(str))
    again = cox_fit(relabelled["time"], relabelled["event"], relabelled[["treated"]], strata=relabelled["pair"])
    assert again.coef == pytest.approx(base.coef, abs=1e-12) and again.se == pytest.approx(base.se, rel=1e-10)
    one = cox_fit(data["time"], data["event"], data[["treated"]], strata=np.ones(len(data)))
    none = cox_fit(data["time"], data["event"], data[["treated"]])
    assert one.coef == pytest.approx(none.coef, abs=1e-12)


def test_summary_is_a_wald_table():
    data = simulated_pairs(400, seed=6)
    table = cox_fit(data["time"], data["event"], data[["treated", "z"]], cluster=data["pair"]).summary()
    row = table.loc["treated"]
    assert row["hr"] == pytest.approx(math.exp(row["log_hr"]))
    assert row["ci_low"] == pytest.approx(math.exp(row["log_hr"] - 1.959963984540054 * row["se"]))
    assert row["z"] == pytest.approx(row["log_hr"] / row["se"])
    assert list(table.index) == ["treated", "z"]


def test_pair_aware_cox_uses_the_fast_fits():
    data = simulated_pairs(200, seed=7)
    cohort = data.assign(arm=np.where(data["treated"] == 1, STUDY.treatment.treated, STUDY.treatment.control))
    table = survival.pair_aware_cox(cohort, STUDY, "time", "event")
    robust = cox_fit(data["time"], data["event"], data[["treated"]], cluster=data["pair"]).summary().loc["treated"]
    strat = cox_fit(data["time"], data["event"], data[["treated"]], strata=data["pair"]).summary().loc["treated"]
    assert table.loc["robust", "se"] == robust["se"] and table.loc["stratified", "hr"] == strat["hr"]
    assert table.loc["independent", "log_hr"] == pytest.approx(robust["log_hr"], abs=1e-7)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"event": [0, 2, 1]}, "event must be 0"),
        ({"event": [0, 0, 0]}, "no events"),
        ({"time": [1.0, 2.0]}, "time has 2 values"),
        ({"weights": [1.0, 0.0, 1.0]}, "weights must be positive"),
        ({"ties": "exact"}, "ties must be one of"),
        ({"x": [0.0, np.nan, 1.0]}, "finite"),
        ({"cluster": [1, None, 2]}, "cluster must hold one value per patient"),
        ({"strata": [1, 2]}, "strata must hold one value per patient"),
    ],
)
def test_bad_input_is_named(kwargs, message):
    args = {"time": [1.0, 2.0, 3.0], "event": [1, 0, 1], "x": [0.0, 1.0, 1.0]} | kwargs
    with pytest.raises(ValueError, match=message):
        cox_fit(args.pop("time"), args.pop("event"), args.pop("x"), **args)
