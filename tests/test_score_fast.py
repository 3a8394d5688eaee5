"""The score model reads its categorical covariates as pandas Categoricals (matching/score.py,
``as_categories``): patsy then codes them at once instead of value by value. These tests hold the fitted
model to the plain formula path on the same data: the same design matrix, bit for bit, so the same
coefficients and the same scores (exact equality, not a tolerance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from psmbook.matching import score
from psmbook.matching.score import TREATED, as_categories, default_formula, fit_propensity
from psmbook.study.description import load_study
from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def registry_module():
    return load_script("examples/registry.py")


def plain_formula_path(data: pd.DataFrame, arm: str, treated, formula: str):
    """The score as statsmodels' formula path gives it on the data as they are (text columns)."""
    frame = data.copy()
    frame[TREATED] = (frame[arm] == treated).astype(int)
    result = smf.logit(formula, data=frame, eval_env=vars(score)).fit(disp=False, maxiter=200)
    return result, np.asarray(result.predict(frame))


def assert_same_fit(model, reference, scores):
    assert list(model.result.params.index) == list(reference.params.index)
    np.testing.assert_array_equal(model.result.params.to_numpy(), reference.params.to_numpy())
    np.testing.assert_array_equal(model.scores.to_numpy(), scores)
    np.testing.assert_array_equal(model.result.bse.to_numpy(), reference.bse.to_numpy())


def test_default_synthetic_cohort_scores_are_identical_to_the_formula_path():
    from psmbook.cohort.synthetic import generate_cohort

    study = load_study()
    cohort = generate_cohort().set_index(study.id_column)
    covariates = [v.column for v in study.psm_covariates]
    arm, treated = study.treatment.column, study.treatment.treated
    model = fit_propensity(cohort, arm, treated, covariates, study=study)
    reference, scores = plain_formula_path(cohort, arm, treated, default_formula(covariates, study))
    assert_same_fit(model, reference, scores)


def test_registry_cohort_scores_are_identical_to_the_formula_path():
    study = load_study(ROOT / "examples" / "registry.yaml")
    cohort = registry_module().registry_cohort(5_000, seed=3).set_index(study.id_column)
    covariates = [v.column for v in study.psm_covariates]
    arm, treated = study.treatment.column, study.treatment.treated
    model = fit_propensity(cohort, arm, treated, covariates, study=study)
    reference, scores = plain_formula_path(cohort, arm, treated, default_formula(covariates, study))
    assert_same_fit(model, reference, scores)
    assert model.odds_ratios_by_level(study).index[0] == "Sex: Female (reference)"


@pytest.mark.parametrize(
    "formula",
    [
        "_treated ~ C(stage, Treatment('iii')) + C(sex) + ns(age, df=3)",  # another reference, a spline
        "_treated ~ C(stage) * C(ecog) + np.log(albumin)",  # an interaction, a function of a number
        "_treated ~ stage + C(region, levels=['west', 'east', 'north', 'south', 'central'])",  # no C(), own order
    ],
)
def test_formulas_beyond_the_default_give_identical_scores(formula):
    cohort = registry_module().registry_cohort(3_000, seed=4).set_index("patient_id")
    model = fit_propensity(cohort, "therapy", "new", [], formula=formula)
    reference, scores = plain_formula_path(cohort, "therapy", "new", formula)
    assert_same_fit(model, reference, scores)


def test_categories_are_patsys_levels_present_in_the_data_in_its_order():
    frame = pd.DataFrame(
        {"a": ["b", "a", None, "c", "a"], "n": [1.0, 2, 3, 4, 5], "f": [True, False, True, True, False]}
    )
    out = as_categories(frame, ["a", "n", "f", "absent"])
    assert list(out["a"].cat.categories) == ["a", "b", "c"]  # the missing value is not a level
    assert out["a"].isna().tolist() == [False, False, True, False, False]
    assert out["n"].dtype == float and out["f"].dtype == bool  # numbers and flags as they were
    assert frame["a"].dtype == object  # the caller's frame is left alone
