"""The survival chapter's Cox models on a registry: above ``largecox.LARGE`` patients the Table 3 models are
fitted by the book's O(n log n) fit (``largecox.FastCoxFitter``) instead of lifelines', and the scaled
Schoenfeld residuals behind the tests of proportional hazards and their plot are computed in O(n log n)
(``schoenfeld.scaled_schoenfeld``). Both are held to lifelines on the same data, and the large model to R's
``coxph`` to 4 decimals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test

from psmbook.analysis import survival
from psmbook.analysis.survival import largecox
from psmbook.analysis.survival.cox import LIFELINES_FIT_OPTIONS
from psmbook.analysis.survival.factors import Factor
from psmbook.analysis.survival.schoenfeld import scaled_schoenfeld
from rbridge import needs_r, run_r

FACTORS = [
    Factor("arm", "Arm", "control", {"control": "Control", "treated": "Treated"}),
    Factor("stage", "Stage", "i", {"i": "I", "ii": "II", "iii": "III"}),
    Factor("age", "Age", "", {"continuous": "per 10 years"}, continuous=True, per=10.0),
]


def cohort(n: int, seed: int = 1) -> pd.DataFrame:
    """Patients with a treatment, a 3-level stage and age; times rounded to 0.1 (many ties)."""
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.4
    stage = rng.choice(["i", "ii", "iii"], n, p=[0.3, 0.4, 0.3])
    age = rng.normal(65, 10, n)
    lp = -0.3 * treated + np.select([stage == "ii", stage == "iii"], [0.4, 0.9], 0.0) + 0.03 * (age - 65)
    t = np.round(rng.exponential(np.exp(-lp)) * 12, 1) + 0.1
    c = rng.uniform(0, 30, n)
    return pd.DataFrame(
        {
            "arm": np.where(treated, "treated", "control"),
            "stage": stage,
            "age": age,
            "time": np.minimum(t, c),
            "event": (t <= c).astype(int),
        }
    )


@pytest.fixture(scope="module")
def large():
    data = cohort(largecox.LARGE + 5_000)
    return data, survival.cox_multivariable(data, FACTORS, "time", "event")


def test_scaled_schoenfeld_residuals_are_lifelines(large):
    data = cohort(largecox.LARGE - 500, seed=2)  # below the threshold: lifelines' own fit, and its residuals to compare
    model = survival.cox_multivariable(data, FACTORS, "time", "event")
    assert isinstance(model.fitter, CoxPHFitter)
    theirs = model.fitter.compute_residuals(model.data, kind="scaled_schoenfeld")
    ours = scaled_schoenfeld(model.fitter, model.data)
    assert set(ours.index) == set(theirs.index) and list(ours.columns) == list(theirs.columns)
    np.testing.assert_allclose(ours.to_numpy(), theirs.loc[ours.index].to_numpy(), rtol=0, atol=1e-10)
    for transform in ("rank", "km"):
        a = proportional_hazard_test(model.fitter, model.data, time_transform=transform).summary
        b = proportional_hazard_test(model.fitter, model.data, time_transform=transform, precomputed_residuals=ours)
        np.testing.assert_allclose(b.summary["test_statistic"], a["test_statistic"], rtol=1e-10)


def test_above_the_threshold_the_fast_fit_gives_lifelines_numbers(large):
    data, model = large
    assert isinstance(model.fitter, largecox.FastCoxFitter)
    small = survival.cox_multivariable(data.iloc[: largecox.LARGE], FACTORS, "time", "event")
    assert isinstance(small.fitter, CoxPHFitter)  # at or below it, lifelines as before
    design = model.data.drop(columns=["_time", "_event"])
    reference = CoxPHFitter().fit(model.data, "_time", "_event", fit_options=LIFELINES_FIT_OPTIONS)
    ours, theirs = model.fitter.summary, reference.summary.loc[design.columns]
    for column in ("coef", "se(coef)", "exp(coef) lower 95%", "exp(coef) upper 95%", "z"):
        np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-6, err_msg=column)
    np.testing.assert_allclose(ours["p"], theirs["p"], rtol=1e-4, atol=1e-300)
    ph = survival.ph_tests(model)  # the tests of proportional hazards read the fast fit as lifelines'
    expected = proportional_hazard_test(reference, model.data, time_transform="rank").summary["test_statistic"]
    np.testing.assert_allclose(ph["chi2_rank"].to_numpy(), expected.loc[ph.index].to_numpy(), rtol=1e-5)


@needs_r
def test_the_large_model_is_r_coxph_to_4_decimals(large):
    data, model = large
    out = run_r(
        """
        d$stage <- factor(d$stage, levels = c("i", "ii", "iii"))
        d$arm <- factor(d$arm, levels = c("control", "treated"))
        fit <- coxph(Surv(time, event) ~ arm + stage + I(age / 10), data = d, ties = "efron")
        out$coef <- unname(coef(fit)); out$se <- unname(sqrt(diag(vcov(fit))))
        """,
        packages=["survival"],
        d=data,
    )
    table = model.table.dropna(subset=["se"])
    assert np.allclose(table["log_hr"], out["coef"], rtol=0, atol=5e-5)
    assert np.allclose(table["se"], out["se"], rtol=0, atol=5e-5)
