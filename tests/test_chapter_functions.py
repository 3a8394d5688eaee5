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


def test_table1_before_applies_the_papers_rule(cohort):
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


def test_response_prose_numbers_and_results(cohort, match):
    from psmbook.analysis import response, response_prose

    matched = match[4].reset_index()
    not_evaluable = {p: response.not_evaluable_counts(d, STUDY) for p, d in (("before", cohort), ("after", matched))}
    numbers = response_prose.evaluability_numbers(not_evaluable, matched, STUDY)
    assert numbers["n_matched_treated"] == 68 and numbers["pub_ne_treated"] == not_evaluable["before"]["anlotinib"]
    assert numbers["pub_unmatched_treated"] == 76 - published_value("table1.after.n.anlotinib")
    rows = response_prose.table2_rows(cohort, matched, STUDY)  # the paper's one test rule (test_paper_rule_response)
    assert rows["after"].attrs["test"] == "paper_rule" and rows["before"]["p_reproduces"].all()
    prose = response_prose.table2_numbers(rows)
    assert prose["n_categories"] == len(rows["before"]) and prose["before_counts_sentence"].startswith("The synthetic")
    assert prose["pub_before_pd_p"] == rows["before"].set_index("category").at["pd", "published_p"]
    rounding = response_prose.rounding_numbers(STUDY)
    assert rounding["pub_orr_after_N"] == published_value("table2.after.n.anlotinib")
    values = response_prose.response_values(rows, not_evaluable, STUDY)
    assert values["table2.before.pr.anlotinib.n"] == published_value("table2.before.pr.anlotinib.n")
    assert values["text.response.not_evaluable.n"] == sum(not_evaluable["before"].values())


def test_survival_chapter_functions(cohort, match):
    from psmbook.analysis import survival
    from psmbook.analysis.survival import cox_report, km_report
    from psmbook.analysis.survival import results as survival_results
    from psmbook.study.published import load_published, select

    pub = load_published()
    matched = match[4].reset_index()
    cohorts = {"before": cohort, "after": matched}
    assert km_report.endpoints_of(STUDY) == ("pfs", "os") and km_report.primary_endpoint(STUDY) == "os"
    fits, logrank = km_report.fit_all(cohorts, STUDY)
    assert set(logrank) == {(e, p) for e in ("pfs", "os") for p in ("before", "after")}
    numbers = km_report.logrank_numbers(logrank)
    assert numbers["p_logrank_os_after"] == f"{logrank[('os', 'after')].p:.3f}" or "<" in numbers["p_logrank_os_after"]
    events, event_numbers = km_report.event_numbers(cohorts, STUDY, pub)
    assert event_numbers["n_event_counts_equal"] <= event_numbers["n_event_counts"] == events["paper"].notna().sum()
    medians = km_report.median_rows(fits, STUDY)
    assert len(medians) == 8 and list(km_report.shown(medians, ["Median, months (95% CI)"]).columns) == [
        "Median, months (95% CI)"
    ]
    assert "months" in km_report.median_numbers(medians, STUDY)["os_median_after"]
    assert km_report.paper_p_numbers(fits, logrank, medians, STUDY, pub)["p_table"].shape[0] == 4
    pair_models = {
        e: survival.pair_aware_cox(matched, STUDY, STUDY.outcome(e).time, STUDY.outcome(e).event, pair="pair")
        for e in ("pfs", "os")
    }
    table = cox_report.pair_table(pair_models, STUDY, with_se=True)
    assert list(table.index) == list(cox_report.METHOD_LABELS.values())
    assert table[("Overall survival", "SE of log HR")].iloc[0] == f"{pair_models['os']['se'].iloc[0]:.3f}"
    assert cox_report.pair_numbers(pair_models["os"])["os_pairs"] == 68
    factors = survival.table3_factors(STUDY)
    t3 = select("table3.")
    paper_selected = cox_report.paper_selection(factors, t3, 0.05)
    assert "arm" in paper_selected
    assert cox_report.selection_text(paper_selected, paper_selected, factors, 0.05).endswith(
        f"the same factors as the paper's ({cox_report.factor_names(paper_selected, factors)})"
    )
    assert cox_report.factor_names([], factors) == "none"
    values = survival_results.other_study_values(
        logrank, pair_models, km_report.median_rows(fits, STUDY), *_cox_pair(matched, factors)
    )
    assert values["survival.os.after.hr_robust"] == pair_models["os"].loc["robust", "hr"]


def _cox_pair(matched, factors):
    from psmbook.analysis import survival

    univariate = survival.cox_univariate(matched, factors, "os_months", "os_event")
    return univariate, survival.cox_multivariable(
        matched, [f for f in factors if f.column == "arm"], "os_months", "os_event"
    )


def test_lab_report_functions(cohort, match):
    import pandas as pd

    from psmbook.lab import report as lab_report

    grid = pd.DataFrame(
        [
            {"caliper": c, "ratio": r, "replace": rep, "treated": t, "controls": t, "max_smd": 0.1, "hr": 0.6,
             "ci_low": 0.4, "ci_high": 0.9, "truth": 0.62}
            for c, t in ((0.05, 60), (0.1, 66), (0.2, 68), (None, 76))
            for r in (1, 2)
            for rep in (False, True)
        ]
    )  # fmt: skip
    settings = type("S", (), {"caliper": 0.2})()
    numbers = lab_report.grid_numbers(grid, settings)
    assert numbers["treated_tight_lost"] == 16 and numbers["truth_moves"] == "hardly moves"
    assert (numbers["grid_calipers"], numbers["tight_caliper"], numbers["next_caliper"]) == (
        "0.05 to 0.2",
        "0.05",
        "0.1",
    )
    assert numbers["treated_01"] == 66 and numbers["smd_threshold"] == "0.1"
    assert numbers["ratio_effect"].startswith("a second control per treated patient hardly changes the interval")
    values = lab_report.lab_values((0.6, 0.62), 40, grid, pd.DataFrame(columns=["method"]), {})
    assert values["lab.truth.conditional"] == 0.6 and values["lab.grid.00.treated"] == 60


def test_table1_after_uses_the_papers_rule_for_the_papers_study(match):
    from psmbook.study.published import select

    matched = match[4]
    rows = tables.table1_after(matched, STUDY)
    expected = tables.categorical_rows(
        matched, STUDY, test="paper_rule", published=select("table1.after."), period="after"
    )
    pd.testing.assert_frame_equal(rows, expected)
    assert rows.loc[rows["variable"] == "sex", "n_treated"].sum() == 68
