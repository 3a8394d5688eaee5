"""Survival analyses against independent computations on small, hand-checked data.

Every reference value below is computed here, by hand or with statsmodels, never with lifelines (which
the module uses).
"""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from statsmodels.duration.hazard_regression import PHReg

from psmbook.analysis import survival
from psmbook.analysis.km import fit_by_arm, survival_ci_at
from psmbook.cohort.truth import limiting_cox_hr, true_hazard_ratio_table
from psmbook.study.description import load_study

STUDY = load_study()
A, C = STUDY.treatment.treated, STUDY.treatment.control
Z = stats.norm.ppf(0.975)


def frame(groups):
    """{arm: (times, events)} -> a cohort-like frame with `arm`, `t`, `e`."""
    rows = [(arm, t, e) for arm, (times, events) in groups.items() for t, e in zip(times, events)]
    return pd.DataFrame(rows, columns=["arm", "t", "e"])


# ----------------------------------------------------------------------------------------------------
# Kaplan–Meier, Greenwood, medians

# Six patients: deaths at 2, 3, 5, 8; censored at 3 (after the death at 3) and at 6.
#   t=2: 6 at risk, 1 death -> S = 5/6
#   t=3: 5 at risk, 1 death -> S = 5/6 * 4/5 = 2/3      (the censored 3 is still at risk at 3)
#   t=5: 3 at risk, 1 death -> S = 2/3 * 2/3 = 4/9
#   t=8: 1 at risk, 1 death -> S = 0
KM_TIMES, KM_EVENTS = [2, 3, 3, 5, 6, 8], [1, 1, 0, 1, 0, 1]


def km_fit():
    data = frame({A: (KM_TIMES, KM_EVENTS), C: ([1, 2], [1, 1])})
    return fit_by_arm(data, STUDY, "t", "e")[A]


def test_kaplan_meier_by_hand_with_a_censored_time():
    fit = km_fit()
    for t, expected in [(1.9, 1.0), (2, 5 / 6), (3, 2 / 3), (4.99, 2 / 3), (5, 4 / 9), (7, 4 / 9), (8, 0.0)]:
        assert survival_ci_at(fit, t)[0] == pytest.approx(100 * expected), t


def test_greenwood_log_log_interval_at_one_time():
    # Greenwood's sum at t = 5: 1/(6*5) + 1/(5*4) + 1/(3*2) = 1/4 = Var(log S).
    s, var_log_s = 4 / 9, 1 / (6 * 5) + 1 / (5 * 4) + 1 / (3 * 2)
    assert var_log_s == pytest.approx(0.25)
    theta, se = math.log(-math.log(s)), math.sqrt(var_log_s) / abs(math.log(s))
    low, high = math.exp(-math.exp(theta + Z * se)), math.exp(-math.exp(theta - Z * se))
    estimate, ci_low, ci_high = survival_ci_at(km_fit(), 5.5)
    assert (estimate, ci_low, ci_high) == pytest.approx((100 * s, 100 * low, 100 * high))


def test_landmark_table_carries_ids_and_published_values():
    data = frame({A: (KM_TIMES, KM_EVENTS), C: ([1, 2, 4, 9], [1, 1, 1, 0])})

    class Entry:
        value = 60.0

    table = survival.landmark_table(
        {"after": fit_by_arm(data, STUDY, "t", "e")}, "pfs", {f"text.survival.pfs.after.6m.{A}": Entry()}
    )
    row = table.set_index("id").loc[f"text.survival.pfs.after.6m.{A}"]
    assert row["survival"] == pytest.approx(100 * 4 / 9)
    assert row["published"] == 60.0 and row["difference"] == pytest.approx(100 * 4 / 9 - 60)
    assert row["at_risk"] == 1  # only the patient at 8 is beyond 6 months
    control_12m = table.set_index("id").loc[f"text.survival.pfs.after.12m.{C}"]
    assert np.isnan(control_12m["published"]) and control_12m["survival"] == pytest.approx(25.0)


def test_median_is_the_first_time_survival_drops_to_half_or_below():
    data = frame({A: (KM_TIMES, KM_EVENTS), C: ([1, 2, 4, 9], [1, 1, 1, 0])})
    medians = survival.median_table(fit_by_arm(data, STUDY, "t", "e"))
    assert medians.loc[A, "median"] == 5  # S(3) = 2/3 > 1/2, S(5) = 4/9
    assert medians.loc[C, "median"] == 3  # S = 1/2 exactly from 2 to 4: R's midpoint (tests/test_km_median.py)
    assert medians.loc[A, "events"] == 4 and medians.loc[A, "n"] == 6


def test_event_table_counts_and_percentages():
    data = frame({A: (KM_TIMES, KM_EVENTS), C: ([1, 2, 4, 9], [1, 1, 1, 0])})
    table = survival.event_table(data.rename(columns={"e": "pfs_event"}), STUDY, "pfs_event")
    assert table.loc[A, "events"] == 4 and table.loc[A, "pct"] == pytest.approx(400 / 6)
    assert table.loc[C, "events"] == 3 and table.loc[C, "n"] == 4


# ----------------------------------------------------------------------------------------------------
# Log-rank


def logrank_by_formula(t_a, e_a, t_b, e_b):
    """Sum over distinct death times of O - E for arm A and the hypergeometric variance."""
    t = np.r_[t_a, t_b]
    e = np.r_[e_a, e_b]
    in_a = np.r_[np.ones(len(t_a), bool), np.zeros(len(t_b), bool)]
    o_minus_e = var = 0.0
    for time in np.unique(t[e == 1]):
        at_risk = t >= time
        n, n_a = at_risk.sum(), (at_risk & in_a).sum()
        d = ((t == time) & (e == 1)).sum()
        d_a = ((t == time) & (e == 1) & in_a).sum()
        o_minus_e += d_a - d * n_a / n
        var += n_a * (n - n_a) * d * (n - d) / (n**2 * (n - 1)) if n > 1 else 0.0
    return o_minus_e**2 / var


def test_logrank_on_a_four_patient_example_worked_by_hand():
    # Deaths at 1 (A), 2 (B), 3 (A); B censored at 4.
    #   t=1: 4 at risk, 2 in A: E_A = 1/2, V = 2*2*1*3/(16*3) = 1/4
    #   t=2: 3 at risk, 1 in A: E_A = 1/3, V = 1*2*1*2/(9*2) = 2/9
    #   t=3: 2 at risk, 1 in A: E_A = 1/2, V = 1/4
    # O_A - E_A = 2 - 4/3 = 2/3; V = 13/18; chi2 = (4/9) / (13/18) = 8/13.
    data = frame({A: ([1, 3], [1, 1]), C: ([2, 4], [1, 0])})
    result = survival.logrank(data, STUDY, "t", "e")
    assert result.chi2 == pytest.approx(8 / 13)
    assert result.p == pytest.approx(stats.chi2.sf(8 / 13, 1))


def test_logrank_with_ties_and_censoring_matches_the_formula():
    rng = np.random.default_rng(3)
    t_a, t_b = rng.integers(1, 15, 30), rng.integers(1, 12, 25)  # many tied times
    e_a, e_b = rng.random(30) < 0.7, rng.random(25) < 0.8
    data = frame({A: (t_a, e_a.astype(int)), C: (t_b, e_b.astype(int))})
    assert survival.logrank(data, STUDY, "t", "e").chi2 == pytest.approx(
        logrank_by_formula(t_a, e_a.astype(int), t_b, e_b.astype(int))
    )


def test_landmark_test_without_censoring_equals_the_test_on_rates():
    # Nobody censored before t = 10: Greenwood's variance reduces to (1 - S) / (n S).
    data = frame(
        {
            A: ([2, 4, 11, 12, 13, 14, 15, 16], [1, 1, 1, 0, 1, 1, 0, 1]),
            C: ([1, 3, 5, 6, 12, 15, 18], [1, 1, 1, 1, 1, 0, 1]),
        }
    )
    fits = fit_by_arm(data, STUDY, "t", "e")
    p = survival.landmark_test(fits[A], fits[C], 10)
    assert p == pytest.approx(survival.landmark_test_rates(6 / 8, 8, 3 / 7, 7))
    # and by hand: log(-log S) difference over its Greenwood SE
    va, vb = (1 - 6 / 8) / (8 * 6 / 8), (1 - 3 / 7) / (7 * 3 / 7)
    z = (math.log(-math.log(6 / 8)) - math.log(-math.log(3 / 7))) / math.sqrt(
        va / math.log(6 / 8) ** 2 + vb / math.log(3 / 7) ** 2
    )
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)))


# ----------------------------------------------------------------------------------------------------
# Cox models

COX = pd.DataFrame(
    {
        "t": [5, 8, 12, 3, 9, 15, 2, 7, 11, 4, 6, 14, 10, 1, 13],
        "e": [1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1],
        "arm": [A, A, A, C, A, A, C, C, A, C, C, A, C, C, A],
        "stage": [
            "ib_iia",
            "iib_iii",
            "ib_iia",
            "iib_iii",
            "ib_iia",
            "iib_iii",
            "iib_iii",
            "ib_iia",
            "iib_iii",
            "ib_iia",
            "iib_iii",
            "ib_iia",
            "ib_iia",
            "iib_iii",
            "iib_iii",
        ],
        "location": [
            "upper",
            "middle",
            "lower",
            "middle",
            "middle",
            "lower",
            "upper",
            "lower",
            "middle",
            "middle",
            "lower",
            "upper",
            "middle",
            "lower",
            "upper",
        ],
    }
)


def neg_partial_loglik(beta, t, e, x):
    """Cox's partial likelihood with distinct event times (no ties), for one covariate."""
    eta = beta * x
    return -sum(eta[i] - np.log(np.exp(eta[t >= t[i]]).sum()) for i in np.flatnonzero(e))


def test_cox_hazard_ratio_by_partial_likelihood_and_statsmodels():
    factors = survival.table3_factors(STUDY)
    arm_factor = [f for f in factors if f.column == "arm"]
    table = survival.cox_univariate(COX, arm_factor, "t", "e").set_index("id").loc[f"arm.{A}"]
    x = (COX["arm"] == A).to_numpy(float)
    t, e = COX["t"].to_numpy(float), COX["e"].to_numpy()
    beta = optimize.minimize_scalar(
        neg_partial_loglik, args=(t, e, x), bounds=(-5, 5), method="bounded", options={"xatol": 1e-10}
    ).x
    assert table["hr"] == pytest.approx(math.exp(beta), rel=1e-5)
    ref = PHReg(t, x[:, None], status=e, ties="efron").fit()
    se = float(ref.bse[0])
    assert table["se"] == pytest.approx(se, rel=1e-4)
    assert table["ci_low"] == pytest.approx(math.exp(ref.params[0] - Z * se), rel=1e-4)
    assert table["ci_high"] == pytest.approx(math.exp(ref.params[0] + Z * se), rel=1e-4)
    assert table["p"] == pytest.approx(float(ref.pvalues[0]), rel=1e-4)  # Wald p, as SPSS prints


def test_three_level_factor_has_a_joint_wald_p_and_its_reference():
    location = [f for f in survival.table3_factors(STUDY) if f.column == "location"]
    table = survival.cox_univariate(COX, location, "t", "e").set_index("id")
    assert table.loc["location.upper", "reference"] and table.loc["location.upper", "hr"] == 1.0
    x = np.column_stack([(COX["location"] == lv).to_numpy(float) for lv in ("middle", "lower")])
    ref = PHReg(COX["t"].to_numpy(float), x, status=COX["e"].to_numpy(), ties="efron").fit()
    b, v = ref.params, ref.cov_params()
    wald = float(b @ np.linalg.solve(v, b))
    assert table.loc["location.middle", "factor_p"] == pytest.approx(stats.chi2.sf(wald, 2), rel=1e-3)
    assert table.loc["location.middle", "hr"] == pytest.approx(math.exp(ref.params[0]), rel=1e-4)


def test_multivariable_model_matches_statsmodels_and_drops_missing_response():
    data = COX.assign(
        response_group=[
            "cr",
            "less_than_cr",
            None,
            "cr",
            "less_than_cr",
            "less_than_cr",
            "cr",
            "less_than_cr",
            "cr",
            "less_than_cr",
            None,
            "cr",
            "less_than_cr",
            "less_than_cr",
            "cr",
        ]
    )
    factors = [f for f in survival.table3_factors(STUDY) if f.column in ("response_group", "arm")]
    model = survival.cox_multivariable(data, factors, "t", "e")
    assert model.dropped == 2 and model.table["n"].iloc[0] == 13
    kept = data.dropna(subset=["response_group"])
    x = np.column_stack([(kept["response_group"] == "less_than_cr"), (kept["arm"] == A)]).astype(float)
    ref = PHReg(kept["t"].to_numpy(float), x, status=kept["e"].to_numpy(), ties="efron").fit()
    table = model.table.set_index("id")
    assert table.loc["response_group.less_than_cr", "hr"] == pytest.approx(math.exp(ref.params[0]), rel=1e-4)
    assert table.loc[f"arm.{A}", "hr"] == pytest.approx(math.exp(ref.params[1]), rel=1e-4)
    # the univariate response model also leaves out the two patients without a response
    uni = survival.cox_univariate(data, factors, "t", "e").set_index("id")
    assert uni.loc["response_group.less_than_cr", "n"] == 13 and uni.loc[f"arm.{A}", "n"] == 15


def test_selection_rule_keeps_factors_strictly_below_the_entry_level_in_table_order():
    univariate = pd.DataFrame(
        {
            "factor": [
                "age_group",
                "age_group",
                "sex",
                "sex",
                "location",
                "location",
                "location",
                "arm",
                "arm",
            ],
            "factor_p": [0.049, 0.049, 0.05, 0.05, 0.2, 0.2, 0.2, 0.001, 0.001],
        }
    )
    assert survival.select_factors(univariate, 0.05) == ["age_group", "arm"]
    assert survival.select_factors(univariate, 0.1) == ["age_group", "sex", "arm"]
    assert survival.select_factors(univariate, 1.0) == ["age_group", "sex", "location", "arm"]
    with pytest.raises(ValueError, match="entry_p"):
        survival.select_factors(univariate, 0)


def test_unknown_level_is_refused_with_the_column_named():
    bad = COX.assign(stage=["ib_iia"] * 14 + ["iv"])
    stage = [f for f in survival.table3_factors(STUDY) if f.column == "stage"]
    with pytest.raises(ValueError, match="stage.*iv"):
        survival.cox_univariate(bad, stage, "t", "e")


def test_table3_display_in_the_papers_layout():
    arm = [f for f in survival.table3_factors(STUDY) if f.column == "arm"]
    univariate = survival.cox_univariate(COX, arm, "t", "e")

    class Entry:
        def __init__(self, value):
            self.value = value

    published = {
        f"table3.univariate.arm.{A}.hr": Entry(0.609),
        f"table3.univariate.arm.{A}.ci_low": Entry(0.419),
        f"table3.univariate.arm.{A}.ci_high": Entry(0.886),
        f"table3.univariate.arm.{A}.p": Entry(0.009),
    }
    shown = survival.table3_display([("This book", univariate), ("Paper", "table3.univariate")], arm, published)
    reference = shown.loc[("Treatment Group", STUDY.arm_label(C))]
    assert reference[("This book", "HR (95% CI)")] == "1 (reference)" == reference[("Paper", "HR (95% CI)")]
    treated = shown.loc[("Treatment Group", STUDY.arm_label(A))]
    assert treated[("Paper", "HR (95% CI)")] == "0.609 (0.419–0.886)" and treated[("Paper", "p")] == "0.009"


# ----------------------------------------------------------------------------------------------------
# Paired data: robust and stratified fits


def paired_cohort(n_pairs=60, seed=11):
    """Pairs sharing a frailty (so outcomes within a pair are correlated), treatment HR 0.6."""
    rng = np.random.default_rng(seed)
    frailty = rng.gamma(2.0, 0.5, n_pairs)
    rows = []
    for pair, w in enumerate(frailty, start=1):
        for arm, hr in ((A, 0.6), (C, 1.0)):
            time = rng.exponential(1 / (0.05 * w * hr))
            censor = rng.uniform(10, 40)
            rows.append({"pair": pair, "arm": arm, "t": min(time, censor), "e": int(time <= censor)})
    return pd.DataFrame(rows)


def test_informative_pairs_by_hand():
    data = pd.DataFrame(
        {
            "pair": [1, 1, 2, 2, 3, 3, 4, 4],
            "arm": [A, C] * 4,
            "t": [3, 5, 4, 2, 6, 9, 7, 7],
            "e": [
                1,
                0,  # first time is a death: informative
                1,
                0,  # first time (2) is a censoring: no contrast
                0,
                0,  # both censored: no contrast
                1,
                0,
            ],
        }
    )  # death at 7, partner censored at 7 is still at risk: informative
    assert survival.informative_pairs(data, STUDY, "t", "e") == 2


def test_pair_aware_fits_run_and_agree_with_statsmodels():
    data = paired_cohort()
    fits = survival.pair_aware_cox(data, STUDY, "t", "e")
    naive, robust, strat = fits.loc["independent"], fits.loc["robust"], fits.loc["stratified"]
    assert naive["hr"] == pytest.approx(robust["hr"])  # same model, same estimate
    assert robust["se"] != pytest.approx(naive["se"], rel=1e-3)  # only the variance changes
    x = (data["arm"] == A).to_numpy(float)[:, None]
    t, e = data["t"].to_numpy(), data["e"].to_numpy()
    plain = PHReg(t, x, status=e, ties="efron").fit()
    clustered = PHReg(t, x, status=e, ties="efron").fit(groups=data["pair"].to_numpy())
    stratified = PHReg(t, x, status=e, ties="efron", strata=data["pair"].to_numpy()).fit()
    assert naive["hr"] == pytest.approx(math.exp(plain.params[0]), rel=1e-4)
    assert robust["se"] == pytest.approx(float(clustered.bse[0]), rel=0.02)
    assert strat["hr"] == pytest.approx(math.exp(stratified.params[0]), rel=1e-4)
    assert strat["se"] == pytest.approx(float(stratified.bse[0]), rel=1e-3)
    assert strat["pairs_used"] == survival.informative_pairs(data, STUDY, "t", "e") < strat["pairs"] == 60


# ----------------------------------------------------------------------------------------------------
# Proportional hazards and the generator's truth


def test_ph_tests_flag_a_hazard_ratio_that_changes_sign():
    rng = np.random.default_rng(5)
    n = 400
    x = rng.integers(0, 2, n)
    # x = 1: high hazard early, none after month 3; x = 0: constant hazard
    early = rng.exponential(1 / 0.6, n)
    t = np.where(x == 1, np.where(early < 3, early, 3 + rng.exponential(1 / 0.05, n)), rng.exponential(1 / 0.2, n))
    data = pd.DataFrame({"arm": np.where(x == 1, A, C), "t": np.minimum(t, 30), "e": (t < 30).astype(int)})
    arm = [f for f in survival.table3_factors(STUDY) if f.column == "arm"]
    model = survival.cox_multivariable(data, arm, "t", "e")
    ph = survival.ph_tests(model)
    assert ph.loc[f"arm.{A}", "fails"] and ph.loc[f"arm.{A}", "p_km"] < 0.001


def test_true_hazard_ratios_are_the_papers_multivariable_estimates():
    from psmbook.study.published import published_value

    truth = true_hazard_ratio_table()
    assert truth.loc[f"arm.{A}", "hr"] == published_value(f"table3.multivariate.arm.{A}.hr")
    assert set(truth.index) == {
        f"arm.{A}",
        "nodes_group.multiple",
        "response_group.less_than_cr",
        "age_group.ge65",
        "stage.iib_iii",
    }


def constant_hazard(rate):
    return (lambda t: np.full(np.shape(t), rate, float)), (lambda t: rate * np.asarray(t, float))


def test_marginal_hr_equals_the_conditional_one_without_heterogeneity():
    hazard, cumulative = constant_hazard(0.1)
    n = 50
    hr = limiting_cox_hr(hazard, cumulative, np.full(n, 0.5), np.full(n, 1.0), np.zeros(n), np.full(n, 20.0))
    assert hr == pytest.approx(0.5, abs=2e-3)


def test_marginal_hr_is_pulled_towards_one_and_matches_a_large_simulation():
    hazard, cumulative = constant_hazard(0.1)
    risk = np.r_[np.ones(50), np.full(50, math.exp(1.5))]  # two prognostic groups
    limit = limiting_cox_hr(hazard, cumulative, 0.5 * risk, risk, np.zeros(100), np.full(100, 20.0))
    assert 0.5 < limit < 0.95
    # an independent check: a big randomised trial in this population, fitted with statsmodels
    rng = np.random.default_rng(8)
    copies = 100  # 20,000 patients: SE of the HR about 0.01
    r = np.tile(risk, copies)
    times = np.r_[rng.exponential(1 / (0.1 * 0.5 * r)), rng.exponential(1 / (0.1 * r))]
    x = np.r_[np.ones(len(r)), np.zeros(len(r))][:, None]
    fit = PHReg(np.minimum(times, 20.0), x, status=(times <= 20.0).astype(int), ties="breslow").fit()
    assert limit == pytest.approx(math.exp(fit.params[0]), abs=0.03)
