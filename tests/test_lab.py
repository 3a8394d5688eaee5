"""The PSM lab's explorer: one setting, the grid, and the live widget driven through its callbacks."""

from dataclasses import replace

import numpy as np
import pytest

from psmbook.analysis import sensitivity
from psmbook.cohort.synthetic import generate_cohort
from psmbook.cohort.truth import true_marginal_hr
from psmbook.lab import explorer as lab
from psmbook.lab import widgets
from psmbook.present.format import hr_ci_text
from psmbook.study.description import load_study

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def study():
    return load_study()


@pytest.fixture(scope="module")
def cohort(study):
    return generate_cohort().set_index(study.id_column)


@pytest.fixture(scope="module")
def book(study):
    """The Matching chapter's default settings."""
    return lab.MatchSettings(covariates=tuple(v.column for v in study.psm_covariates))


@pytest.mark.parametrize(
    "change", [{}, {"caliper": None}, {"ratio": 2}, {"replace": True}, {"caliper": 0.05, "order": "random"}]
)
def test_explore_estimates_what_the_sensitivity_analysis_estimates(cohort, study, book, change):
    settings = replace(book, **change)
    found = lab.explore(cohort, study, settings, seed=11, with_balance=False).estimate
    expected = sensitivity.matched_estimate(
        cohort,
        study,
        label="x",
        covariates=list(settings.covariates),
        caliper=settings.caliper,
        ratio=settings.ratio,
        replace=settings.replace,
        order=settings.order,
        seed=11,
    )
    assert (found.hr, found.ci_low, found.ci_high, found.treated, found.controls, found.method) == (
        expected.hr,
        expected.ci_low,
        expected.ci_high,
        expected.treated,
        expected.controls,
        expected.method,
    )


def test_default_setting_keeps_68_of_76_and_targets_the_matched_treated(cohort, study, book):
    r = lab.explore(cohort, study, book, seed=1)
    assert (r.treated, r.controls, r.unmatched) == (68, 68, 8)
    assert r.truth == pytest.approx(true_marginal_hr(r.sample, study))
    everyone = lab.explore(cohort, study, replace(book, caliper=None), seed=1)
    assert everyone.treated == 76
    assert everyone.truth == pytest.approx(true_marginal_hr(cohort, study))


def test_balance_covers_the_number_of_nodes_with_the_unmatched_sd(cohort, study, book):
    """SMD of 'multiple nodes' after 1:1 matching, by hand: difference in proportions among the matched
    over the pooled SD of the unmatched arms (the pooled-SD convention; MatchIt divides by the treated SD)."""
    r = lab.explore(cohort, study, book, seed=1)
    x = (cohort["nodes_group"] == "multiple").astype(float)
    treated = cohort["arm"] == "anlotinib"
    pooled = np.sqrt((x[treated].var(ddof=1) + x[~treated].var(ddof=1)) / 2)
    m = r.sample
    m_treated = m["arm"] == "anlotinib"
    by_hand = (
        (m.loc[m_treated, "nodes_group"] == "multiple").mean() - (m.loc[~m_treated, "nodes_group"] == "multiple").mean()
    ) / pooled
    assert r.balance.loc["nodes_group=multiple", "smd_after"] == pytest.approx(by_hand)
    # nodes are not in the paper's score: they count among the covariates left out, not in max_smd
    assert r.max_smd_other >= abs(by_hand)
    in_score = r.balance.loc[[i for i in r.balance.index if i.split("=")[0] in book.covariates], "smd_after"]
    assert r.max_smd == pytest.approx(in_score.abs().max())
    assert r.imbalanced == int((in_score.abs() >= 0.1).sum())


def test_grid_holds_every_setting_once_and_marks_the_base(cohort, study, book):
    grid = lab.explore_grid(cohort, study, book, seed=1)
    assert len(grid) == 5 * 2 * 2
    assert int(grid["is_base"].sum()) == 1
    base = grid[grid["is_base"]].iloc[0]
    assert (base["caliper"], base["ratio"], bool(base["replace"]), base["treated"]) == (0.2, 1, False, 68)
    table = lab.grid_table(grid)
    assert table.index.names == ["Replacement", "Ratio", "Caliper (SD)"]
    assert table.loc[("no", "1:1", "0.2"), "HR of death (95% CI)"] == hr_ci_text(
        base["hr"], base["ci_low"], base["ci_high"], nowrap=True
    )
    assert "68 / 68" in table["Treated / controls matched"].tolist()
    fig = lab.plot_grid(grid, conditional_truth=0.596)
    assert len(fig.axes) == 6
    # a caliper outside the grid is added so that the chapter's own setting is always shown
    odd = lab.explore_grid(cohort, study, replace(book, caliper=0.3), ratios=(1,), replaces=(False,), seed=1)
    assert len(odd) == 6 and odd["is_base"].sum() == 1


def test_settings_are_checked_and_read_from_the_matching_parameters():
    with pytest.raises(ValueError, match="order"):
        lab.MatchSettings(covariates=("sex",), order="backwards")
    with pytest.raises(ValueError, match="covariate"):
        lab.MatchSettings(covariates=())
    s = lab.MatchSettings.from_parameters(
        {
            "covariates": ["sex", "ecog"],
            "caliper": None,
            "ratio": 2,
            "replace": True,
            "match_order": "data",
            "ps_formula": "",
        }
    )
    assert s == lab.MatchSettings(covariates=("sex", "ecog"), caliper=None, ratio=2, replace=True, order="data")


def test_widget_callbacks_recompute_everything(cohort, study, book):
    pytest.importorskip("ipywidgets")
    ex = widgets.build_explorer(cohort, study, book, seed=1, conditional_truth=0.596)
    c = ex.controls
    assert ex.updates == 1 and ex.last.treated == 68
    assert "68 of 76" in ex.summary.value and f"{ex.last.estimate.hr:.3f}" in ex.summary.value
    assert "0.596" in ex.summary.value
    assert [name for name, _ in ex.figures] == ["overlap", "love"]
    assert bytes(ex.overlap_image.value).startswith(PNG) and bytes(ex.love_image.value).startswith(PNG)
    love_before = bytes(ex.love_image.value)

    c["caliper"].value = "0.05"  # as a user drags the slider
    assert ex.updates == 2 and ex.last.settings.caliper == 0.05
    assert ex.last.treated < 68 and f"{ex.last.treated} of 76" in ex.summary.value  # a narrower caliper loses pairs
    assert bytes(ex.love_image.value) != love_before

    c["replace"].value = True
    assert ex.last.settings.replace and ex.last.estimate.method.startswith("weighted Cox")
    c["ratio"].value = 2
    assert ex.last.settings.ratio == 2 and len(ex.last.result.pairs) > ex.last.treated
    c["order"].value = "smallest"
    assert ex.last.settings.order == "smallest" and ex.updates == 5

    before = abs(ex.last.balance.loc["nodes_group=multiple", "smd_after"])
    c["covariates"].value = tuple(c["covariates"].value) + ("nodes_group",)
    assert "nodes_group" in ex.last.settings.covariates and "C(nodes_group)" in ex.last.model.formula
    assert abs(ex.last.balance.loc["nodes_group=multiple", "smd_after"]) != before  # match and balance recomputed

    c["covariates"].value = ()  # nothing to fit: a message, no crash
    assert ex.last is None and "Cannot match" in ex.summary.value and bytes(ex.overlap_image.value) == b""

    ex.reset()  # one recomputation back to the book's settings
    assert ex.last.settings == book and ex.last.treated == 68
    n = ex.updates
    ex.set(caliper=None, ratio=1, replace=False)
    assert ex.updates == n + 1 and ex.last.treated == 76 and "no caliper" in ex.summary.value


def test_widget_without_figures_updates_numbers_only(cohort, study, book):
    pytest.importorskip("ipywidgets")
    ex = widgets.Explorer(cohort, study, replace(book, caliper=0.3), figures=False)
    assert ex.figures == [] and bytes(ex.overlap_image.value) == b""
    assert "0.3" in ex.controls["caliper"].options  # a caliper outside the choices is offered
    ex.controls["caliper"].value = "none"
    assert ex.last.treated == 76 and ex.last.settings.caliper is None


def test_explore_reuses_a_fitted_score_only_for_its_own_settings(cohort, study, book):
    model = lab.score_model(cohort, study, book)
    for change in ({}, {"ratio": 2, "caliper": None}, {"replace": True}):  # what the grid varies
        settings = replace(book, **change)
        fresh = lab.explore(cohort, study, settings, seed=3)
        reused = lab.explore(cohort, study, settings, seed=3, model=model)
        assert reused.estimate == fresh.estimate and reused.truth == fresh.truth
        assert reused.balance.equals(fresh.balance)
    with pytest.raises(ValueError, match=r"need '_treated ~ .*C\(nodes_group\)'"):
        lab.explore(cohort, study, replace(book, covariates=book.covariates + ("nodes_group",)), model=model)
    with pytest.raises(ValueError, match="fitted with"):
        lab.explore(cohort.iloc[:-1], study, book, model=model)  # another cohort
