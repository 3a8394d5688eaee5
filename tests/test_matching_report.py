"""The matching chapter's sample, figures and balance table (psmbook.matching.report), on the default
synthetic cohort: 291 patients, 76 treated, 68 pairs with the default caliper of 0.2 SD."""

from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.cohort.validation import MatchingError
from psmbook.matching import report
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.score import fit_propensity
from psmbook.study.description import load_study

matplotlib.use("Agg")
STUDY = load_study()


@pytest.fixture(scope="module")
def match():
    cohort = generate_cohort(DEFAULT_SEED).set_index(STUDY.id_column)
    covariates = [v.column for v in STUDY.psm_covariates]
    model = fit_propensity(cohort, STUDY.treatment.column, STUDY.treatment.treated, covariates)
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    return cohort, model, result, report.matched_sample(cohort, model, result, 0.2)


def test_matched_sample_holds_the_pairs_with_their_scores(match):
    cohort, model, result, matched = match
    arm = matched[STUDY.treatment.column]
    assert len(matched) == 136 and (arm == "anlotinib").sum() == 68 and (arm == "crt").sum() == 68
    assert matched.index.isin(cohort.index).all()
    assert np.allclose(matched["ps"], model.scores.loc[matched.index])
    assert np.allclose(matched["logit_ps"], model.logit.loc[matched.index])
    assert set(matched.index) == set(result.matched_treated) | set(result.matched_controls)


def test_matched_sample_refuses_a_match_that_kept_nobody():
    data = pd.DataFrame({"x": [0, 1, 2]}, index=["t", "c1", "c2"])
    logit = pd.Series([5.0, 0.0, 0.1], index=data.index)
    treated = pd.Series([True, False, False], index=data.index)
    model = SimpleNamespace(logit=logit, scores=1 / (1 + np.exp(-logit)), treated=treated)
    result = nearest_neighbour_match(logit, treated, caliper_sd=0.01)
    assert len(result.matched_treated) == 0
    with pytest.raises(MatchingError, match=r"of 1\) found a control within the caliper 0.01 SD of the logit score"):
        report.matched_sample(data, model, result, 0.01)


def test_flow_figure_ends_in_the_matched_arms(match):
    cohort, _, result, _ = match
    fig = report.plot_flow(cohort, STUDY, result, ratio=1)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(STUDY.population in t and "n = 291" in t for t in texts)
    assert sum("Propensity-score matched\nn = 68" in t for t in texts) == 2
    assert "1:1 propensity-score matching" in texts
    assert any(t.startswith("CRT + Anlotinib\nn = 76") for t in texts)


def test_the_pooled_sd_table_keeps_every_level_and_the_score(match, summary):
    cohort, model, _, matched = match
    pooled = report.balance_before_after(cohort, matched, model.logit, STUDY)
    assert list(pooled.index) == list(summary.index) and pooled.index[-1] == "logit_ps"
    # the same numbers as the pooled-SD column of the balance report
    assert np.allclose(pooled["smd_after"], summary["smd_pooled_after"])
    assert np.allclose(pooled["smd_before"], summary["smd_pooled_before"])


def test_overlap_figure_counts_every_patient_and_the_matched_ones(match):
    _, model, _, matched = match
    fig = report.plot_overlap(model, matched, STUDY)
    everyone, kept = fig.axes
    assert (everyone.get_title(), kept.get_title()) == ("All patients", "Matched patients")

    def heights(ax):
        bars = [p.get_height() for p in ax.patches]
        return sum(h for h in bars if h > 0), -sum(h for h in bars if h < 0)

    assert heights(everyone) == (76, 215)
    assert heights(kept) == (68, 68)
    assert [t.get_text() for t in everyone.get_legend().get_texts()] == ["CRT + Anlotinib", STUDY.arm_label("crt")]


# ----------------------------------------------------------------------------------------------------
# Balance as MatchIt's summary and cobalt's bal.tab show it (numbers against MatchIt: test_r_matchit.py)


def _with_age_in_years(study):
    from psmbook.study.description import Variable

    age = Variable(column="age_years", label="Age", kind="continuous", unit="years")
    return study.model_copy(update={"covariates": (*study.covariates, age)})


@pytest.fixture(scope="module")
def summary(match):
    cohort, model, _, matched = match
    return report.balance_report(cohort, matched, model.logit, STUDY)


def test_balance_report_divides_by_the_treated_sd_of_all_patients(match, summary):
    cohort, _, _, matched = match
    assert len(summary) == sum(len(v.levels) for v in STUDY.covariates) + 1 and summary.index[-1] == "logit_ps"
    yes = cohort["consolidation_chemo"].eq("yes")
    treated = cohort[STUDY.treatment.column].eq("anlotinib")
    p = yes[treated].mean()
    kept = yes.loc[matched.index]
    arm = matched[STUDY.treatment.column].eq("anlotinib")
    by_hand = (kept[arm].mean() - kept[~arm].mean()) / np.sqrt(p * (1 - p))  # 1:1: the weights are all 1
    assert summary.loc["consolidation_chemo=yes", "smd_after"] == pytest.approx(by_hand)
    assert summary.loc["consolidation_chemo=yes", "difference_after"] == pytest.approx(
        kept[arm].mean() - kept[~arm].mean()
    )


def test_bal_tab_display_shows_the_verdict_after_matching(summary):
    labels = report.level_labels(STUDY)
    shown = report.bal_tab_display(summary, labels)
    assert list(shown.columns) == [
        "Type",
        "Diff.Un",
        "Diff.Adj",
        "M.Threshold",
        "V.Ratio.Un",
        "V.Ratio.Adj",
        "V.Threshold",
    ]
    rows = summary.index != "logit_ps"
    expected = np.where(summary.loc[rows, "balanced_after"], "Balanced, <0.1", "Not Balanced, >0.1")
    assert shown.loc[rows, "M.Threshold"].tolist() == expected.tolist()
    assert "Not Balanced, >0.1" in expected and "Balanced, <0.1" in expected
    score = shown.loc["Propensity score (logit)"]
    assert score["Type"] == "Distance" and score["M.Threshold"] == "" and score["V.Ratio.Adj"] != ""
    assert set(shown.loc[rows, "Type"]) == {"Binary"} and (shown.loc[rows, "V.Threshold"] == "").all()


def test_balance_tally_counts_the_covariate_rows(summary):
    labels = report.level_labels(STUDY)
    numbers = report.balance_numbers(summary, labels, [v.column for v in STUDY.psm_covariates])
    tally = report.balance_tally(summary)
    assert list(tally.index) == ["Mean differences: balanced, <0.1", "Mean differences: not balanced, >0.1"]
    assert (tally.sum() == numbers["n_levels"]).all()
    assert tally.loc["Mean differences: not balanced, >0.1", "After matching"] == numbers["n_imbalanced_after"]
    assert tally.loc["Mean differences: not balanced, >0.1", "Before matching"] == numbers["n_imbalanced_before"]
    assert numbers["max_smd_after_label"] == "Previous Treatment: Chemotherapy"  # 8/68 vs 5/68, as in the paper


def test_matchit_display_is_matchits_table(summary):
    shown = report.matchit_display(summary, report.level_labels(STUDY), "after")
    assert list(shown.data.columns) == [
        "Means Treated", "Means Control", "Std. Mean Diff.", "Var. Ratio", "eCDF Mean", "eCDF Max"
    ]  # fmt: skip
    text = shown.to_string(delimiter=";")
    assert "Age: < 65 years;" in text and ";." in text  # NA printed as MatchIt prints it
    value = summary.loc["logit_ps", "smd_after"]
    assert f"{value:.4f}" in text
    with pytest.raises(ValueError, match="'before' or 'after'"):
        report.matchit_display(summary, {}, "during")


def test_conventions_show_the_rows_whose_verdict_depends_on_the_convention(summary):
    shown = report.conventions_display(summary, report.level_labels(STUDY))
    numbers = report.convention_numbers(summary)
    assert len(shown) == numbers["n_convention_rows"] > 0
    after = shown["After matching"]
    assert list(after.columns) == list(report.CONVENTIONS.values())
    row = after.loc["Previous Treatment: Chemotherapy"]
    # imbalanced by either SMD, balanced by cobalt's raw difference in proportions
    assert abs(row.iloc[0]) >= 0.1 and abs(row.iloc[1]) >= 0.1 and abs(row.iloc[2]) < 0.1
    assert row.iloc[2] == round(summary.loc["previous_treatment=chemotherapy", "difference_after"], 3)
    assert numbers["n_imbalanced_after_cobalt"] < numbers["n_imbalanced_after_treated_sd"]


def test_a_continuous_covariate_is_one_row_with_its_variance_ratio(match):
    cohort, model, _, matched = match
    study = _with_age_in_years(STUDY)
    summary = report.balance_report(cohort, matched, model.logit, study)
    labels = report.level_labels(study)
    assert labels["age_years"] == "Age (years)" and not summary.loc["age_years", "binary"]
    treated = cohort[STUDY.treatment.column].eq("anlotinib")
    age = cohort["age_years"]
    assert summary.loc["age_years", "smd_before"] == pytest.approx(
        (age[treated].mean() - age[~treated].mean()) / age[treated].std(ddof=1)
    )
    assert summary.loc["age_years", "variance_ratio_before"] == pytest.approx(age[treated].var() / age[~treated].var())
    shown = report.bal_tab_display(summary, labels)
    assert shown.loc["Age (years)", "Type"] == "Contin." and shown.loc["Age (years)", "V.Threshold"].startswith(
        "Balanced"
    )
    tally = report.balance_tally(summary)
    assert tally.loc["Variance ratios: balanced, <2"].tolist() == [1, 1]


def test_the_verdict_names_a_variance_ratio_beyond_the_thresholds():
    smd = pd.DataFrame(
        {
            "smd_before": [0.3, 0.5],
            "smd_after": [0.02, 0.01],
            "variance_ratio_after": [3.0, 1.1],
            "variance_balanced_after": [False, True],
        },
        index=["age", "logit_ps"],
    )
    numbers = report.balance_numbers(smd, {"age": "Age (years)"}, ["age"])
    assert numbers["n_imbalanced_after"] == 0
    assert numbers["verdict"].startswith("**Verdict: 1 continuous covariate(s) have a variance ratio beyond 1/2 to 2**")
    assert "Age (years) (variance ratio 3.00)" in numbers["verdict"]
