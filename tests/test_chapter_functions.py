"""The functions the chapters call for their prose, figures and results, on the default synthetic cohort.

Each chapter shows these calls; the numbers asserted are the cohort's own (the paper's 291 patients, 76
treated; 68 matched pairs with the default caliper), so a change that moves them fails here first.
"""

import matplotlib
import pandas as pd
import pytest

from psmbook.analysis import characteristics, km, tables
from psmbook.cohort import calibration, flow
from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.matching import psmpy_compare, report
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import matched_cohort
from psmbook.matching.score import fit_propensity
from psmbook.study.description import load_study
from psmbook.study.published import published_value

matplotlib.use("Agg")
STUDY = load_study()


@pytest.fixture(scope="module")
def cohort():
    return generate_cohort(DEFAULT_SEED)


@pytest.fixture(scope="module")
def match(cohort):
    data = cohort.set_index(STUDY.id_column)
    covariates = [v.column for v in STUDY.psm_covariates]
    model = fit_propensity(data, STUDY.treatment.column, STUDY.treatment.treated, covariates)
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    matched = matched_cohort(data.assign(ps=model.scores, logit_ps=model.logit), result)
    return data, covariates, model, result, matched


def test_flow_counts_and_numbers(cohort):
    counts = flow.arm_counts(cohort, STUDY)
    assert (counts["n_total"], counts["n_treated"], counts["n_control"]) == (291, 76, 215)
    assert counts["ne_treated"] == published_value("text.response.not_evaluable.anlotinib.n")
    assert counts["evaluable_control"] == 215 - counts["ne_control"]
    numbers = flow.flow_numbers(counts, STUDY)
    assert numbers["treated_label"] == "CRT + Anlotinib" and numbers["evaluable_treated"] == 76 - counts["ne_treated"]
    treated, control = flow.arm_flows(counts, STUDY, matched={"anlotinib": 68, "crt": 68})
    assert (treated.allocated, treated.matched, control.evaluable) == (76, 68, counts["evaluable_control"])


def test_table1_before_recovers_the_papers_tests(cohort):
    rows = tables.table1_before(cohort, STUDY)
    numbers = tables.recovered_tests(rows, ["age_group"])
    assert numbers["n_characteristics"] == len(numbers["tests_used"]) == rows["test"].notna().sum()
    assert 0 < numbers["n_pearson"] <= numbers["n_characteristics"]
    assert numbers["p_age_group"].startswith("p ") and numbers["age_group_test"]
    smallest = tables.smallest_p(rows, "min_p")
    assert smallest["min_p_label"] in set(rows["variable_label"])
    values = characteristics.cohort_values(flow.arm_counts(cohort, STUDY), rows, STUDY)
    assert values["text.cohort.n"] == 291 and values["table1.before.n.anlotinib"] == 76
    assert values["table1.before.sex.male.anlotinib.n"] == published_value("table1.before.sex.male.anlotinib.n")


def test_calibration_numbers_and_landmarks(cohort):
    report_ = calibration.calibration_report(cohort)
    numbers = calibration.calibration_numbers(report_)
    assert numbers["n_calibrated"] == len(report_) and numbers["n_calibrated_pass"] == int(report_["passed"].sum())
    marks = calibration.published_landmarks(report_)
    assert marks["os"]["anlotinib"][36] == published_value("text.survival.os.before.3y.anlotinib")
    fig = km.plot_against_published_landmarks(cohort, STUDY, marks)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Progression-free survival, before matching", "Overall survival, before matching"]
    rows = tables.table1_before(cohort, STUDY)
    differ = characteristics.plot_arm_differences(cohort, rows, STUDY)
    assert len(differ.axes) == 4 and differ.axes[0].get_ylabel() == "Patients in the arm (%)"


def test_matching_report(match):
    data, covariates, model, result, matched = match
    counts = report.matched_counts(result)
    assert (counts["n_matched_treated"], counts["n_matched_control"], counts["n_unmatched_treated"]) == (68, 68, 8)
    numbers = report.match_numbers(result, caliper=0.2, ratio=1, replace=False, match_order="largest")
    assert numbers["ratio_text"] == "1:1 without replacement" and numbers["caliper_width"] == f"{result.caliper:.3f}"
    assert report.score_numbers(model)["c_statistic"] == f"{model.c_statistic():.3f}"
    smd = report.balance_before_after(data, matched, model.logit, STUDY)
    labels = report.level_labels(STUDY)
    balance_numbers = report.balance_numbers(smd, labels, covariates)
    assert balance_numbers["n_levels"] == sum(len(v.levels) for v in STUDY.covariates)
    assert balance_numbers["verdict"].startswith("**Verdict: ")
    values = report.matching_values(result, model, smd, STUDY)
    assert values["table1.after.n.crt"] == 68 and values["matching.unmatched.treated"] == 8
    assert values["matching.max_abs_smd_after"] == pytest.approx(float(balance_numbers["max_smd_after"]), abs=5e-4)


def test_psmpy_comparison(match):
    data, covariates, model, result, matched = match
    numbers = psmpy_compare.psmpy_comparison(
        data, STUDY, model, result, covariates, caliper=0.2, ratio=1, replace=False
    )
    table = numbers["psmpy_comparison"]
    assert isinstance(table, pd.DataFrame) and table.iloc[0]["treated matched"] == 68
    assert "pairs differ" in numbers["kd_agreement"] and "times" in numbers["literal_caliper"]
