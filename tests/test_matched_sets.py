"""The treatment's Cox model after 1:1, 1:k and with-replacement matching: the robust SE is clustered on
the matched sets (analysis/survival/matched_sets.py). tests/test_r_survival.py checks it against R."""

import numpy as np
import pandas as pd
import pytest

from psmbook.analysis import survival
from psmbook.analysis.sensitivity import matched_estimate
from psmbook.analysis.survival.fastcox import cox_fit
from psmbook.analysis.survival.matched_sets import METHODS, matched_set_cox, matched_sets
from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import MatchResult, matched_cohort
from psmbook.matching.score import fit_propensity
from psmbook.study.description import load_study

STUDY = load_study()
COVARIATES = [v.column for v in STUDY.psm_covariates]


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(DEFAULT_SEED).set_index(STUDY.id_column)


def match(cohort, ratio=1, replace=False):
    model = fit_propensity(cohort, STUDY.treatment.column, STUDY.treatment.treated, COVARIATES, study=STUDY)
    return nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2, ratio=ratio, replace=replace)


def test_matched_sets_are_get_matches_rows_by_hand():
    # T1 took C1 and C2, T2 took C2 again (replacement), T3 took C3
    pairs = pd.DataFrame(
        {
            "treated_id": ["T1", "T1", "T2", "T3"],
            "control_id": ["C1", "C2", "C2", "C3"],
            "distance": [0.1, 0.2, 0.1, 0.3],
            "pair": [1, 1, 2, 3],
        }
    )
    result = MatchResult(pairs, ["T1", "T2", "T3"], ["C1", "C2", "C3", "C4"], None)
    data = pd.DataFrame({"age": [60, 61, 62, 70, 71, 72, 73]}, index=["T1", "T2", "T3", "C1", "C2", "C3", "C4"])
    rows = matched_sets(data, result)
    assert rows[["id", "subclass", "weights"]].values.tolist() == [
        ["T1", 1, 1.0],
        ["C1", 1, 0.5],
        ["C2", 1, 0.5],
        ["T2", 2, 1.0],
        ["C2", 2, 1.0],
        ["T3", 3, 1.0],
        ["C3", 3, 1.0],
    ]
    assert rows.loc[rows["id"] == "C2", "age"].tolist() == [71, 71]  # the patient's data on every row


def test_one_to_one_is_the_pair_clustered_model_of_the_survival_chapter(cohort):
    result = match(cohort)
    fit = matched_set_cox(cohort, result, STUDY, "os_months", "os_event", replace=False)
    sample = matched_cohort(cohort, result).reset_index()
    robust = survival.pair_aware_cox(sample, STUDY, "os_months", "os_event").loc["robust"]
    assert fit["method"] == METHODS["pairs"] and fit["sets"] == 68 and fit["rows"] == 136
    for field in ("hr", "ci_low", "ci_high", "se", "p"):
        assert fit[field] == pytest.approx(robust[field], rel=1e-12)


def test_one_to_k_weights_the_controls_and_clusters_on_the_sets(cohort):
    result = match(cohort, ratio=2)
    fit = matched_set_cox(cohort, result, STUDY, "os_months", "os_event", replace=False)
    sample = matched_cohort(cohort, result)
    treated = (sample["arm"] == STUDY.treatment.treated).to_numpy(dtype=float)
    assert not np.all(sample["match_weight"] == 1)  # sets of 1 and 2 controls: unequal weights
    unclustered = cox_fit(sample["os_months"], sample["os_event"], treated, weights=sample["match_weight"])
    clustered = cox_fit(
        sample["os_months"], sample["os_event"], treated, weights=sample["match_weight"], cluster=sample["pair"]
    )
    assert fit["method"] == METHODS["sets"]
    assert fit["se"] == pytest.approx(clustered.se[0], rel=1e-12)
    assert fit["log_hr"] == pytest.approx(unclustered.coef[0], rel=1e-12)
    assert abs(fit["se"] - unclustered.se[0]) > 1e-3  # the clustering changes the SE
    estimate = matched_estimate(cohort, STUDY, label="1:2", covariates=COVARIATES, ratio=2)
    assert (estimate.hr, estimate.ci_low, estimate.ci_high, estimate.method) == (
        fit["hr"],
        fit["ci_low"],
        fit["ci_high"],
        METHODS["sets"],
    )


def test_with_replacement_a_reused_control_counts_in_every_set(cohort):
    result = match(cohort, ratio=2, replace=True)
    reused = result.pairs["control_id"].duplicated().sum()
    assert reused > 0
    fit = matched_set_cox(cohort, result, STUDY, "os_months", "os_event", replace=True)
    assert fit["method"] == METHODS["replacement"]
    assert fit["rows"] == len(result.pairs) + len(result.matched_treated)  # one row per patient per set
    assert fit["sets"] == len(result.matched_treated)
    assert 0 < fit["ci_low"] < fit["hr"] < fit["ci_high"]


def test_the_survival_chapters_pair_models_use_the_matching_weights(cohort):
    from psmbook.analysis.survival import cox_report

    one = matched_cohort(cohort, match(cohort)).reset_index()
    two = matched_cohort(cohort, match(cohort, ratio=2)).reset_index()
    assert cox_report.pair_weights_text(one).startswith("Every matched patient has weight 1")
    assert "weighted by MatchIt's matching weight" in cox_report.pair_weights_text(two)
    numbers = cox_report.pair_method_numbers(two)
    assert set(numbers) == {"pair_weights", "robust_r", "stratified_r", "pair_engine"}
    assert "cluster(pair)" in numbers["robust_r"] and "strata(pair)" in numbers["stratified_r"]
    models = cox_report.pair_models_by_endpoint(two, STUDY, ["os"])["os"]
    treated = (two["arm"] == STUDY.treatment.treated).to_numpy(dtype=float)
    w = two["match_weight"]
    expected = {
        "independent": cox_fit(two["os_months"], two["os_event"], treated, weights=w),
        "robust": cox_fit(two["os_months"], two["os_event"], treated, weights=w, cluster=two["pair"]),
        "stratified": cox_fit(two["os_months"], two["os_event"], treated, weights=w, strata=two["pair"]),
    }
    for method, fit in expected.items():
        assert models.loc[method, "log_hr"] == pytest.approx(fit.coef[0], rel=1e-12)
        assert models.loc[method, "se"] == pytest.approx(fit.se[0], rel=1e-12)
    unweighted = survival.pair_aware_cox(two, STUDY, "os_months", "os_event")
    assert abs(unweighted.loc["robust", "log_hr"] - models.loc["robust", "log_hr"]) > 1e-3
