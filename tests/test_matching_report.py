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


def test_balance_display_labels_and_rounds(match):
    cohort, model, _, matched = match
    smd = report.balance_before_after(cohort, matched, model.logit, STUDY)
    shown = report.balance_display(smd, report.level_labels(STUDY))
    assert list(shown.columns) == ["smd_before", "smd_after", "variance_ratio_before", "variance_ratio_after"]
    assert len(shown) == len(smd) and shown.index[-1] == "Propensity score (logit)"
    assert shown.loc["Propensity score (logit)", "smd_after"] == round(smd.loc["logit_ps", "smd_after"], 3)
    first = STUDY.covariates[0]
    label = f"{first.label}: {next(iter(first.levels.values()))}"
    assert shown.loc[label, "smd_before"] == round(smd.iloc[0]["smd_before"], 3)


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
