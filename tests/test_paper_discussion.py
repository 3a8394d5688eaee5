"""The discussion chapter's tables and figures (psmbook.paper.discussion)."""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from psmbook.analysis import sensitivity
from psmbook.cohort.synthetic import true_hazard_ratios
from psmbook.paper import audit, discussion


def _estimates():
    return [
        sensitivity.Estimate("Main analysis", 0.5, 0.3, 0.8, 0.004, 68, 68, "Cox"),
        sensitivity.Estimate("No caliper", 0.7, 0.45, 1.1, 0.1, 76, 76, "Cox"),
    ]


def test_comparison_listing_indexes_by_id_and_rounds():
    table = pd.DataFrame(
        {
            "id": ["table2.after.orr.p", "table1.before.n.crt"],
            "section": ["Table 2", "Table 1"],
            "where": ["Table 2", "Table 1"],
            "kind": ["p", "count"],
            "published": [0.0123, 215.0],
            "computed": [0.04567, 215.0],
            "difference": [0.03337, 0.0],
            "tolerance": ["same side of 0.05", "exact"],
            "agrees": [True, True],
            "calibrated": [False, True],
            "chapter": ["response", "cohort"],
        }
    )
    listing = discussion.comparison_listing(table)
    # the loose agreement is labelled as such (the strict one sits beside it when given)
    assert list(listing.columns) == [c if c != "agrees" else "agrees loosely" for c in discussion.LISTING_COLUMNS]
    assert listing.loc["table2.after.orr.p", "computed"] == 0.046
    assert listing.loc["table2.after.orr.p", "difference"] == 0.033
    assert listing.loc["table1.before.n.crt", "calibrated"]
    real = discussion.comparison_listing(table.assign(calibrated=False))  # real data: no calibrated column
    assert "calibrated" not in real.columns and "agrees loosely" in real.columns


def test_findings_listing_keeps_the_problems_only():
    frame = pd.DataFrame(
        {
            "check": ["p-value", "percentage", "date"],
            "where": ["Table 1", "Table 2", "Header"],
            "printed": ["p = 0.04", "55.0%", "2022"],
            "recomputed": ["p = 0.04", "54.9%", "2023"],
            "verdict": ["consistent", "inconsistent", "needs an unstated choice"],
            "explanation": ["ok", "rounds to 54.9%", "a release date"],
            "ids": ["a", "b", "c"],
            "key": ["k1", "k2", "k3"],
        }
    )
    styler = discussion.findings_listing(frame)
    assert list(styler.data.columns) == discussion.FINDING_COLUMNS
    assert styler.data["verdict"].tolist() == ["inconsistent", "needs an unstated choice"]
    assert styler.hide_index_ == [True]


def test_findings_listing_of_the_paper_shows_every_inconsistent_finding():
    frame = audit.audit_table(audit.run_audit())
    shown = discussion.findings_listing(frame).data
    assert len(shown) == int((frame["verdict"] != "consistent").sum()) > 0
    assert set(shown["verdict"]) == {"inconsistent", "needs an unstated choice"}


def test_not_checkable_listing_has_one_row_per_item():
    styler = discussion.not_checkable_listing()
    items = audit.not_checkable()
    assert list(styler.data.columns) == ["what", "why not"]
    assert len(styler.data) == len(items)
    assert styler.data.iloc[0, 0] == "The propensity-score model and the matching itself"


def test_sensitivity_table_has_one_row_per_analysis():
    table = discussion.sensitivity_table(_estimates())
    assert table.index.tolist() == ["Main analysis", "No caliper"]
    assert table.loc["No caliper", "hr"] == 0.7 and table.loc["Main analysis", "ci_high"] == 0.8
    assert table.loc["No caliper", "treated"] == 76


def test_true_treatment_hr_only_for_a_synthetic_study():
    hr = discussion.true_treatment_hr(SimpleNamespace(synthetic=True), "anlotinib")
    assert hr == pytest.approx(true_hazard_ratios()["arm.anlotinib"])
    assert 0 < hr < 1  # the generator's anlotinib lowers the hazard of death
    assert discussion.true_treatment_hr(SimpleNamespace(synthetic=False), "anlotinib") is None


def test_sensitivity_figure_draws_the_truth_as_a_reference():
    table = discussion.sensitivity_table(_estimates())
    fig = discussion.sensitivity_figure(table, truth=0.6)
    ax = fig.axes[0]
    assert ax.get_title() == "Hazard ratio of death under the analyst's choices"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["No caliper", "Main analysis"]
    vertical = [line.get_xdata()[0] for line in ax.get_lines() if len(set(line.get_xdata())) == 1]
    assert 0.6 in vertical and 1.0 in vertical
    assert ax.get_legend().get_texts()[0].get_text() == "true conditional HR of the synthetic cohort"
    plt.close(fig)
    fig = discussion.sensitivity_figure(table)
    assert fig.axes[0].get_legend() is None
    plt.close(fig)


def test_weighted_survival_figure_on_the_default_cohort():
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.study.description import load_study

    study = load_study()
    cohort = generate_cohort().set_index(study.id_column)
    covariates = [v.column for v in study.psm_covariates]
    fig = discussion.weighted_survival_figure(cohort, study, covariates)
    ax = fig.axes[0]
    assert ax.get_title() == "Overall survival, ATT-weighted (controls reweighted to the treated)"
    assert ax.get_ylabel() == "Overall survival (probability)"
    assert ax.get_xlim()[1] == pytest.approx(72)
    assert list(ax.get_xticks()) == list(range(0, 73, 12))
    plt.close(fig)
