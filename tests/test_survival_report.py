"""What the survival chapter says and records: analysis/survival's km_report, cox_report and results.

The module fixture runs the chapter's analysis on the default synthetic cohort matched as the matching
chapter does (68 pairs, caliper 0.2 SD): the numbers asserted are the ones the book prints and writes to
results/survival.json, so a change that moves one of them fails here first. Small hand-made tables check
the branches the default cohort does not take.
"""

from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from psmbook.analysis import survival
from psmbook.analysis.survival import cox_report, km_report
from psmbook.analysis.survival import results as survival_results
from psmbook.cohort import truth as truth_table
from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import matched_cohort
from psmbook.matching.score import fit_propensity
from psmbook.study import published
from psmbook.study.description import load_study

matplotlib.use("Agg")
STUDY = load_study()
PUB = published.load_published()
T3 = published.select("table3.")
ARM_ID = "arm.anlotinib"


@pytest.fixture(scope="module")
def book():
    """The survival chapter's objects for the paper's study, as its cells compute them."""
    cohort = generate_cohort(DEFAULT_SEED)
    data = cohort.set_index(STUDY.id_column)
    covariates = [v.column for v in STUDY.psm_covariates]
    model = fit_propensity(data, STUDY.treatment.column, STUDY.treatment.treated, covariates)
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    matched = matched_cohort(data.assign(ps=model.scores, logit_ps=model.logit), result).reset_index()
    cohorts = {"before": cohort, "after": matched}
    endpoints = km_report.endpoints_of(STUDY)
    fits, logrank = km_report.fit_all(cohorts, STUDY)
    landmarks = pd.concat([survival.landmark_table(fits[e], e, PUB) for e in endpoints], ignore_index=True)
    events, event_numbers = km_report.event_numbers(cohorts, STUDY, PUB)
    factors = survival.table3_factors(STUDY)
    univariate = survival.cox_univariate(matched, factors, "os_months", "os_event")
    selected = survival.select_factors(univariate, 0.05)
    multivariable = survival.cox_multivariable(
        matched, [f for f in factors if f.column in selected], "os_months", "os_event"
    )
    paper_columns = {k.split(".")[2] for k in published.select("table3.multivariate.")}
    paper_model = survival.cox_multivariable(
        matched, [f for f in factors if f.column in paper_columns], "os_months", "os_event", model="paper's factors"
    )
    return SimpleNamespace(
        cohort=cohort,
        matched=matched,
        cohorts=cohorts,
        endpoints=endpoints,
        fits=fits,
        logrank=logrank,
        landmarks=landmarks,
        events=events,
        event_numbers=event_numbers,
        medians=km_report.median_rows(fits, STUDY),
        pair_models=cox_report.pair_models_by_endpoint(matched, STUDY, endpoints),
        factors=factors,
        univariate=univariate,
        selected=selected,
        multivariable=multivariable,
        paper_model=paper_model,
        response=survival.response_groups(matched, STUDY),
    )


# --- the Kaplan-Meier side -------------------------------------------------------------------------


def test_time_text_and_logrank_text():
    days = SimpleNamespace(time_unit="days")
    months = SimpleNamespace(time_unit="months")
    assert km_report.time_text(12.345, months) == "12.3"
    assert km_report.time_text(412.6, days) == "413"
    assert km_report.time_text(np.inf, months) == km_report.time_text(np.nan, days) == "not reached"
    tests = {("os", "before"): SimpleNamespace(p=0.0123), ("os", "after"): SimpleNamespace(p=0.2)}
    assert km_report.logrank_text(tests, STUDY) == (
        "Overall survival before matching: p = 0.012; Overall survival after matching: p = 0.200"
    )


def test_log_rank_p_values_and_the_papers_figure1_bound(book):
    assert set(book.logrank) == {(e, p) for e in ("pfs", "os") for p in ("before", "after")}
    assert book.logrank[("os", "after")].p == pytest.approx(0.008443747383229621, rel=1e-9)
    numbers = km_report.logrank_numbers(book.logrank)
    assert numbers == {
        "p_logrank_pfs_before": "0.016",
        "p_logrank_pfs_after": "0.026",
        "p_logrank_os_before": "0.006",
        "p_logrank_os_after": "0.008",
        "figure1_bound": "< 0.05",
        "figure1_verdict": "all four computed p-values are below 0.05 too (the largest is 0.026)",
    }
    text = km_report.logrank_text(book.logrank, STUDY)
    assert text.count("; ") == 3 and text.endswith("Overall survival after matching: p = 0.008")


def test_event_counts_reproduce_the_papers(book):
    assert book.event_numbers["n_event_counts"] == book.event_numbers["n_event_counts_equal"] == 4
    events = book.events.set_index("id")
    assert events.loc["text.survival.pfs.before.events.anlotinib", ["events", "n", "paper"]].tolist() == [60, 76, 60]
    assert events.loc["text.survival.pfs.after.events.anlotinib", "events"] == 53
    assert np.isnan(events.loc["text.survival.pfs.after.events.anlotinib", "paper"])
    table = book.event_numbers["events_table"]
    assert table.loc[("Progression-free survival", "before matching"), ("CRT + Anlotinib", "This book")] == (
        "60/76 (78.9%)"
    )
    assert table.loc[("Progression-free survival", "after matching"), ("CRT + Anlotinib", "Paper")] == "—"


def test_landmark_numbers_and_the_marks_on_figure1(book):
    numbers = km_report.landmark_numbers(book.landmarks, STUDY, book.matched)
    table = numbers.pop("landmark_table")
    assert numbers == {
        "worst_before_pp": "0.1",
        "worst_after_pp": "0.1",
        "n_landmarks": 16,
        "n_landmarks_inside": 16,
        "n_pairs": 68,
        "ci_width_after": "21",
        "pfs12_after": "47.1% vs 32.4%",
        "pfs12_after_paper": "47.1% vs 32.4%",
    }
    assert table.shape == (8, 4) and table.index.names == ["Endpoint", "Cohort", "Landmark"]
    assert table.loc[("PFS", "after matching", "12 months"), ("CRT", "Paper, %")] == "32.4"
    marks = km_report.published_marks(book.landmarks)
    assert marks[("os", "after")] == {"anlotinib": {12.0: 79.4, 36.0: 42.7}, "crt": {12.0: 61.8, 36.0: 23.5}}
    assert marks[("pfs", "before")]["crt"] == {6.0: 67.4, 12.0: 32.1}


def test_medians_their_table_and_prose(book):
    medians = book.medians
    assert len(medians) == 8
    row = medians[(medians["_e"] == "os") & (medians["_period"] == "after") & (medians["_arm"] == "anlotinib")]
    assert row["_median"].item() == pytest.approx(26.145)  # R survfit: the midpoint where the curve sits at 0.5
    shown = km_report.shown(medians)
    assert list(shown.columns) == ["Events / patients", "Median, months (95% CI)"]
    assert shown.loc[("PFS", "before matching", "CRT + Anlotinib")].tolist() == ["60 / 76", "10.6 (8.4–12.9)"]
    numbers = km_report.median_numbers(medians, STUDY)
    assert numbers["os_median_after"] == "26.1 and 18.7 months"
    assert numbers["pfs_median_after"] == "11.2 and 8.3 months"
    assert list(numbers["median_table"].columns) == ["Median, months (95% CI)"]


def test_what_the_papers_p_values_test(book):
    numbers = km_report.paper_p_numbers(book.fits, book.logrank, book.medians, STUDY, PUB)
    table = numbers.pop("p_table")
    assert numbers == {
        "paper_n_after": 68,
        "paper_landmark_p_pfs": "0.081",
        "paper_p_pfs_after": "0.026",
        "paper_landmark_p_os": "0.018",
        "paper_p_os_after": "0.008",
        "progression_tests": "Pearson χ² 0.031, Fisher's exact test 0.051, Yates-corrected χ² 0.050, "
        "likelihood-ratio χ² 0.038",
        "paper_p_pfs_before": "0.016",
        "direction_text": "In the synthetic cohort, as in the paper, CRT + anlotinib has the longer median in all "
        "four comparisons",
    }
    assert table.loc[("OS", "after matching")].tolist()[1:] == ["0.008", "0.008", "0.018", "0.018"]
    assert table.loc[("PFS", "before matching"), "Landmark test p (this book)"] == "—"


# --- the Cox side ----------------------------------------------------------------------------------


def test_pair_models_by_endpoint_are_the_pair_aware_fits(book):
    assert list(book.pair_models) == ["pfs", "os"]
    os_direct = survival.pair_aware_cox(book.matched, STUDY, "os_months", "os_event", pair="pair")
    pd.testing.assert_frame_equal(book.pair_models["os"], os_direct)
    assert book.pair_models["os"].loc["robust", "hr"] == pytest.approx(0.609454958622834, rel=1e-9)
    numbers = cox_report.pair_numbers(book.pair_models["os"])
    assert {k: numbers[k] for k in ("os_independent_hr", "os_robust_ci", "os_robust_se", "os_independent_se")} == {
        "os_independent_hr": "0.609",
        "os_robust_ci": "0.433–0.858",
        "os_robust_se": "0.175",
        "os_independent_se": "0.191",
    }
    assert (numbers["os_stratified_hr"], numbers["os_stratified_p"]) == ("0.585", "0.037")
    assert (numbers["os_pairs_used"], numbers["os_pairs"], numbers["os_pairs_lost"]) == (65, 68, 3)
    assert numbers["robust_direction"] == "smaller"
    assert numbers["stratified_here"].startswith("Here, as expected, the stratified estimate lies further from 1")


def test_pair_numbers_other_branches():
    t = pd.DataFrame(
        {
            "hr": [0.7, 0.7, 0.8],
            "ci_low": [0.5, 0.4, 0.3],
            "ci_high": [0.98, 1.2, 0.83],
            "log_hr": np.log([0.7, 0.7, 0.8]),
            "se": [0.17, 0.27, 0.26],
            "p": [0.04, 0.2, 0.007],
            "pairs": [50, 50, 50],
            "pairs_used": [50, 50, 44],
        },
        index=["independent", "robust", "stratified"],
    )
    numbers = cox_report.pair_numbers(t)
    assert numbers["robust_direction"] == "larger" and numbers["robust_reason"].startswith("the pairs add little")
    assert numbers["stratified_here"].startswith("Here the stratified estimate lands closer to 1 than the marginal one")
    assert (numbers["os_pairs_lost"], numbers["os_stratified_ci"], numbers["os_robust_p"]) == (
        6,
        "0.300–0.830",
        "0.200",
    )


def test_covariate_factors_take_each_covariates_first_level_as_reference():
    factors = survival.covariate_factors(STUDY)
    assert [f.column for f in factors] == [v.column for v in STUDY.covariates] + ["arm"]
    assert [f.reference for f in factors[:-1]] == [next(iter(v.levels)) for v in STUDY.covariates]
    assert (factors[-1].reference, factors[-1].contrasts) == ("crt", ("anlotinib",))


def test_univariate_numbers_beside_the_paper(book):
    assert book.selected == ["age_group", "stage", "nodes_group", "response_group", "arm"]  # the paper's five
    numbers = cox_report.univariate_numbers(
        PUB, STUDY, book.matched, book.response, book.factors, book.univariate, book.selected, 0.05
    )
    assert numbers == {
        "entry_p_paper": "0.05",
        "entry_p_text": "0.05",
        "n_ne_matched": 0,
        "n_ne_matched_treated": 0,
        "n_ne_matched_control": 0,
        "n_paper_assessed": 136,
        "selection_text": "5 factors enter this cohort's multivariable model — age, stage of primary tumor, number of "
        "recurrent lymph nodes, tumor response after CRT and treatment group; the same factors as the paper's (age, "
        "stage of primary tumor, number of recurrent lymph nodes, tumor response after CRT and treatment group)",
        "arm_uni": "0.609 (95% CI 0.419–0.886, p = 0.009)",  # the generator's outcome search
        "arm_uni_paper": "0.609 (95% CI 0.419–0.886, p = 0.009)",
        "n_deaths_matched": 112,
    }


def test_selection_text_and_treatment_text_branches(book):
    factors = book.factors
    assert cox_report.selection_text([], ["arm"], factors, 0.01) == (
        "no factor has a univariate p below 0.01, so this cohort selects no multivariable model "
        "(the paper's selected treatment group)"
    )
    assert cox_report.selection_text(["ecog"], ["arm"], factors, 0.05).endswith(
        "none of them entered the paper's (treatment group)"
    )
    assert cox_report.selection_text(["arm"], ["arm"], factors, 0.05) == (
        "1 factor enter this cohort's multivariable model — treatment group; the same factors as the paper's "
        "(treatment group)"
    )
    row = pd.Series({"hr": 0.5, "ci_low": 0.25, "ci_high": 1.0, "p": 0.05})
    assert cox_report.treatment_text(None, row, None) == (
        "With the paper's factors the treatment hazard ratio is 0.500 (95% CI 0.250–1.000, p = 0.050)"
    )
    assert cox_report.treatment_text(None, row, object()).startswith("Treatment did not enter the model selected")


def test_treatment_rows_and_multivariable_numbers(book):
    arm_mv, arm_pm = cox_report.treatment_rows(STUDY, book.multivariable, book.paper_model)
    assert arm_mv["p"] == pytest.approx(0.0068636064138179985, rel=1e-9)
    assert arm_pm["hr"] == pytest.approx(0.594774572005117, rel=1e-9)  # the same model: the paper's factors
    numbers = cox_report.multivariable_numbers(PUB, STUDY, arm_mv, arm_pm, book.multivariable, book.paper_model)
    assert numbers == {
        "arm_mv_text": "In the model selected here treatment has a hazard ratio of 0.595 (95% CI 0.408–0.867, "
        "p = 0.007); with the paper's factors it is 0.595 (95% CI 0.408–0.867, p = 0.007)",
        "arm_mv_paper": "0.596 (95% CI 0.408–0.871, p = 0.007)",
        "n_mv": 136,
        "n_mv_dropped": 0,
        "typo_table": "2.258",
        "typo_text": "1.258",
        "typo_hr": "2.023",
    }
    # treatment outside the selected model, or no selected model: no row of its own
    no_arm = survival.cox_multivariable(book.matched, [book.factors[0]], "os_months", "os_event")
    assert cox_report.treatment_rows(STUDY, no_arm, book.paper_model)[0] is None
    assert cox_report.treatment_rows(STUDY, None, book.paper_model)[0] is None


def test_ph_numbers_name_every_failing_term():
    ph = pd.DataFrame(
        {
            "chi2_rank": [5.0, 0.5],
            "p_rank": [0.0253, 0.48],
            "chi2_km": [4.2, 0.4],
            "p_km": [0.0404, 0.53],
            "fails": [True, False],
        },
        index=["ecog.1", ARM_ID],
    )
    labels = {"ecog.1": "ECOG: 1"}
    numbers = cox_report.ph_numbers(ph, labels, 0.05)
    assert numbers["alpha_text"] == "0.05"
    assert numbers["ph_verdict"].startswith("**1 term(s) fail**: ECOG: 1 (p = 0.025). ")
    assert list(numbers["ph_table"].index) == ["ECOG: 1", ARM_ID]
    assert numbers["ph_table"].iloc[0].tolist() == ["5.00", "0.025", "4.20", "0.040", "rejected"]
    assert list(cox_report.ph_table(ph, labels).columns) == ["p (rank)", "p (KM)", "Proportional hazards"]


def test_estimates_and_the_generators_truth(book):
    os_pairs = book.pair_models["os"]
    arm_mv, arm_pm = cox_report.treatment_rows(STUDY, book.multivariable, book.paper_model)
    truth = truth_table.true_hazard_ratio_table()
    marginal = truth_table.true_marginal_hr(book.matched, STUDY)
    assert marginal == pytest.approx(0.6299873548493515, rel=1e-6)
    table = cox_report.estimates_table(
        STUDY,
        truth,
        marginal,
        os_pairs,
        {"selected": book.multivariable, "paper": book.paper_model},
        {"selected": arm_mv, "paper": arm_pm},
        T3,
        book.factors,
    )
    assert len(table) == 9
    assert table.loc["Generator: true conditional HR", "HR (95% CI)"] == "0.596"
    assert table.loc["Univariate Cox, matched, robust SE"].tolist() == [
        "marginal (ATT)",
        "0.609 (0.433–0.858)",
        "0.630",
    ]
    assert table.loc["Multivariable Cox, the paper's factors", "True value of its estimand"] == "0.596"
    assert table.loc["Paper, univariate", "HR (95% CI)"] == "0.609 (0.419–0.886)"
    labels = cox_report.term_labels(book.factors)
    numbers = cox_report.truth_numbers(
        STUDY, truth, marginal, os_pairs, book.univariate, book.paper_model, arm_pm, T3, labels
    )
    assert numbers["truth_factors"].shape == (5, 4)
    assert "is **0.596**" in numbers["truth_text"] and "is **0.630**" in numbers["truth_text"]
    assert "(0.433–0.858) contains it" in numbers["truth_text"]
    real = SimpleNamespace(synthetic=False)
    unknown = cox_report.truth_numbers(real, None, None, os_pairs, None, None, None, T3, labels)
    assert unknown["truth_factors"].empty and unknown["truth_text"].startswith("With a real cohort")


# --- the results -----------------------------------------------------------------------------------


def test_paper_study_values_keep_the_books_ids_and_values(book):
    arm_mv, _ = cox_report.treatment_rows(STUDY, book.multivariable, book.paper_model)
    ph = survival.ph_tests(book.multivariable, alpha=0.05)
    km = {
        "landmarks": book.landmarks,
        "events": book.events,
        "logrank": book.logrank,
        "medians": book.medians,
        "pair_models": book.pair_models,
    }
    cox = {
        "univariate": book.univariate,
        "multivariable": book.multivariable,
        "paper_model": book.paper_model,
        "arm_mv": arm_mv,
        "selected": book.selected,
        "response": book.response,
        "ph": ph,
        "failing": ph.index[ph["fails"]].tolist(),
        "truth": truth_table.true_hazard_ratio_table(),
        "marginal": truth_table.true_marginal_hr(book.matched, STUDY),
    }
    values = survival_results.paper_study_values(STUDY, PUB, cohort=book.cohort, km=km, cox=cox, alpha=0.05)
    assert len(values) == 277  # 5 selected factors (the paper's: age, stage, nodes, response, arm)
    expected = {
        "text.survival.os.after.3y.anlotinib": 42.64705882352939,
        "abstract.survival.os.after.3y.anlotinib": 42.64705882352939,
        "text.survival.pfs.before.events.anlotinib.n": 60,
        "survival.pfs.after.events.anlotinib.n": 53,
        "text.survival.os.after.p": 0.008443747383229621,
        "text.figure1.p": 0.025933861444317516,
        "survival.os.after.hr_robust": 0.609454958622834,
        "survival.os.after.pairs_used.n": 65,
        "table3.univariate.arm.anlotinib.hr": 0.609454958622834,
        "table3.multivariate.arm.anlotinib.p": 0.0068636064138179985,
        "abstract.cox.multivariate.arm.anlotinib.p": 0.0068636064138179985,
        "text.cox.multivariate.significant.n": 3,
        "survival.cox.selected.n": 5,
        "survival.cox.response_dropped.n": 0,
        "survival.ph.failing.n": 1,
        "survival.true_hr.arm.anlotinib": 0.596,
        "survival.true_marginal_hr.arm.anlotinib": 0.6299873548493515,
        "survival.os.after.median.anlotinib": 26.145,
        "survival.cox.paper_factors.arm.anlotinib.hr": 0.594774572005117,
    }
    assert {k: values[k] for k in expected} == pytest.approx(expected, rel=1e-6)


def test_other_study_values_use_survival_ids_only(book):
    factors = survival.covariate_factors(STUDY)
    univariate = survival.cox_univariate(book.matched, factors, "os_months", "os_event")
    model = survival.cox_multivariable(book.matched, [factors[-1]], "os_months", "os_event")
    values = survival_results.other_study_values(book.logrank, book.pair_models, book.medians, univariate, model)
    assert all(k.startswith("survival.") for k in values)
    assert values["survival.os.after.logrank_p"] == pytest.approx(0.008443747383229621, rel=1e-9)
    assert values["survival.os.after.hr_robust"] == pytest.approx(values[f"survival.cox.multivariable.{ARM_ID}.hr"])
    assert values["survival.os.after.median.anlotinib"] == pytest.approx(26.145)
    assert f"survival.cox.univariate.{ARM_ID}.p" in values and "survival.cox.univariate.ecog.0.hr" not in values
