"""The crashes issue 17 found on data that passed validation, and those the property test
(tests/test_property.py) found, each as a case of its own: the chapter now runs, or stops with the book's
AnalysisError, whose sentence names the covariate and level (or the arm, or the endpoint) and what to change."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from psmbook.analysis import association, survival
from psmbook.analysis.survival import cox_report, plots
from psmbook.cohort.validation import AnalysisError
from psmbook.matching import balance_summary, psmpy_compare
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.score import fit_propensity
from test_property import Plan, cohort_chapter, cohort_of, matching_chapter, run_chapters, study_of, survival_chapter

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parents[1]


def _plan(**changes) -> Plan:
    """150 patients, half treated, one two-level covariate, OS and PFS in months, some events."""
    base = dict(
        seed=3, n=150, treated_share=0.5, levels=(2,), covariate_kind=("random",), continuous=False,
        endpoints=("pfs", "os"), times="spread", events="some", response=0, not_evaluable=False, toxicity=0,
        deaths=False, caliper=0.2, ratio=1, replace=False,
    )  # fmt: skip
    return Plan(**{**base, **changes})


def _matched(plan: Plan):
    study = study_of(plan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort = cohort_chapter(cohort_of(plan), study)
        return study, cohort, matching_chapter(cohort, study, caliper=plan.caliper)


# ----------------------------------------------------------------------------------------------------
# Survival: no events, none in an arm, none in a reference level


def test_no_events_at_all_stops_the_survival_chapter_naming_the_event_column():
    study, cohort, matched = _matched(_plan(events="none"))
    with pytest.raises(AnalysisError, match=r"no patient of the \d+ analysed .* has an event \(`pfs_event` is 0"):
        survival_chapter(cohort, matched, study)


def test_no_events_in_one_arm_names_the_arm():
    study, cohort, matched = _matched(_plan(events="none_treated"))
    n_treated = int((matched["arm"] == "t").sum())
    with pytest.raises(AnalysisError) as stop:
        survival_chapter(cohort, matched, study)
    message = str(stop.value)
    assert f"Treatment: New has no events among its {n_treated} patients" in message
    assert "wider `caliper`" in message


def test_a_reference_level_without_events_names_the_covariate_and_level():
    """Issue 17: after matching, the reference level of a covariate had no deaths; lifelines printed a hazard
    ratio of 1.4e7 with a 0 to infinity interval and the forest plot stopped with "Axis limits cannot be NaN
    or Inf". Now the univariate model stops first, naming the level."""
    study, cohort, matched = _matched(_plan(events="none_in_reference"))
    n_reference = int((matched["x0"] == "l0").sum())
    with pytest.raises(AnalysisError) as stop:
        survival.cox_univariate(matched, survival.covariate_factors(study), "os_time", "os_event")
    message = str(stop.value)
    assert "the hazard ratio of Factor 0 cannot be estimated (univariate model of `os_time`)" in message
    assert f"Factor 0: Level 0 has no events among its {n_reference} patients" in message
    assert "merge each such level with a neighbouring one: for a measurement cut into levels, wider `bins`" in message
    assert "recode the data file" in message  # a description's `levels` cannot join two codes


def test_the_forest_plot_draws_an_infinite_interval_off_the_axis():
    """The forest plot itself no longer needs finite limits: a 0 to infinity interval runs off the axis."""
    table = pd.DataFrame(
        {
            "id": ["x.a", "x.b", "arm.t"], "reference": [True, False, False], "factor_label": ["X", "X", "Arm"],
            "level_label": ["A", "B", "New"], "hr": [1.0, 1.4e7, 0.7], "ci_low": [np.nan, 0.0, 0.5],
            "ci_high": [np.nan, np.inf, 0.98],
        }
    )  # fmt: skip
    fig = plots.forest_plot(table, table)
    low, high = fig.axes[0].get_xlim()
    assert math.isfinite(low) and math.isfinite(high) and low <= 0.2 and high >= 5
    fig.savefig(__import__("io").BytesIO(), format="png", dpi=20)


def test_a_declared_level_without_patients_is_named_by_the_cox_model_and_left_out_of_table1_tests():
    """A level the description declares and no patient has: Table 1 tests the levels someone has (the Yates
    test of a 2 x 2 table of the others used to raise "Yates's continuity correction is for 2 x 2 tables"),
    and the hazard ratio of that level is named as not estimable."""
    study, cohort, matched = _matched(_plan(levels=(3,), covariate_kind=("empty_level",)))
    assert not (cohort["x0"] == "l2").any()
    with pytest.raises(AnalysisError, match=r"Factor 0: Level 2 has no patients"):
        survival.cox_univariate(matched, survival.covariate_factors(study), "os_time", "os_event")
    assert association.run_test(np.array([[3, 30], [10, 40], [0, 0]]), "yates") == pytest.approx(
        association.yates_chi2(np.array([[3, 30], [10, 40]]))
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's and matplotlib's overflow on the way, not an error
def test_times_up_to_the_largest_float_run():
    """Issue 17: a time of 1e308 stopped the survival chapter ("Maximum allowed size exceeded"); the largest
    float rounded up to a whole year overflowed to infinity in Figure 1's axis. Both now run."""
    for huge in (1e308, np.finfo(float).max):
        plan = _plan(time_unit="days")
        study, cohort, matched = _matched(plan)
        for frame in (cohort, matched):
            frame.loc[frame.index[::3], ["os_time", "pfs_time"]] = huge
        survival_chapter(cohort, matched, study)
        fig = survival.plot_figure1({"before": cohort}, study, p_values={("pfs", "before"): 0.5, ("os", "before"): 0.5})
        assert all(math.isfinite(x) for ax in fig.axes for x in ax.get_xlim())


# ----------------------------------------------------------------------------------------------------
# Matching: separation, psmpy on small data, no caliper, a constant control


def test_perfect_separation_names_the_covariate_and_level():
    """Issue 17: "a covariate level may perfectly predict treatment", naming nothing. Now the levels in one
    arm only are named, with their counts, and the remedy."""
    plan = _plan(n=200, levels=(3, 2), covariate_kind=("separated", "random"))
    study, data = study_of(plan), cohort_of(plan)
    n_separated = int((data["x0"] == "l2").sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AnalysisError) as stop:
            fit_propensity(data, "arm", "t", ["x0", "x1"], study=study)
    message = str(stop.value)
    assert f"Factor 0: Level 2 (all {n_separated} patients treated)" in message
    assert "merge each such level with a neighbouring one" in message and "`psm: false`" in message


def test_psmpy_failing_on_a_small_cohort_is_said_not_raised():
    """psmpy's own matcher fails on some small cohorts (its k-d tree: "Cannot take a larger sample than
    population"); the comparison then says so and keeps the book's row."""
    plan = _plan(n=20, levels=(2, 3, 3), covariate_kind=("random", "empty_level", "one_level_used"), caliper=None)
    study = study_of(plan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cohort = cohort_chapter(cohort_of(plan), study).set_index("row_id")
        covariates = ["x0", "x1", "x2"]
        model = fit_propensity(cohort, "arm", "t", covariates, study=study)
        result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=None)
        numbers = psmpy_compare.psmpy_not_run(cohort, study, result, model.logit, None, "on all", ValueError("boom"))
        assert numbers["kd_agreement"] == "psmpy could not be run on this cohort (ValueError in psmpy: boom)"
        assert list(numbers["psmpy_comparison"].index) == ["This book: ML score, no caliper"]
        full = psmpy_compare.psmpy_comparison(cohort, study, model, result, covariates, caliper=None, ratio=1,
                                              replace=False)  # fmt: skip
    assert "width (none)" in full["kd_agreement"] or "could not be run" in full["kd_agreement"]


def test_no_caliper_with_one_to_one_matching_describes_the_kd_tree_check():
    """caliper=none with 1:1 matching formatted the missing caliper width (TypeError on None)."""
    plan = _plan(n=150, caliper=None)
    study, cohort, matched = _matched(plan)
    data = cohort.set_index("row_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit_propensity(data, "arm", "t", ["x0"], study=study)
        result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=None)
        numbers = psmpy_compare.psmpy_comparison(data, study, model, result, ["x0"], caliper=None, ratio=1,
                                                 replace=False)  # fmt: skip
    assert "converted to an absolute width (none)" in numbers["kd_agreement"]


def test_a_constant_control_arm_gives_an_infinite_variance_ratio():
    """A continuous row whose matched controls all have one value: R's x / 0 = Inf, not ZeroDivisionError."""
    x = pd.DataFrame({"age": [50.0, 60.0, 70.0, 55.0, 55.0, 55.0]})
    treated = pd.Series([True, True, True, False, False, False])
    table = balance_summary.before_after(x, treated, pd.Series(np.ones(6)))
    assert table.loc["age", "variance_ratio_after"] == np.inf


# ----------------------------------------------------------------------------------------------------
# The property test's own worst cases, as fixed examples


@pytest.mark.parametrize(
    "changes",
    [
        dict(n=20, events="all", times="one_time"),
        dict(n=2000, levels=(9, 5), covariate_kind=("empty_level", "random"), treated_share=0.15, times="ties"),
        dict(n=37, events="only_reference", continuous=True, response=4, not_evaluable=True, toxicity=3, deaths=True),
    ],
)
def test_awkward_cohorts_run_or_stop_with_a_reason(changes):
    for chapter, result in run_chapters(_plan(**changes)).items():
        assert result == "ran" or ("; " in result and len(result) > 60), (chapter, result)


def test_pair_models_name_the_endpoint_when_an_arm_has_no_events():
    study, cohort, matched = _matched(_plan(events="none_control"))
    with pytest.raises(AnalysisError, match=r"the treatment's models of `pfs_time`.*Treatment: Old has no events"):
        cox_report.pair_models_by_endpoint(matched, study, ["pfs", "os"])


# ----------------------------------------------------------------------------------------------------
# The whole book: a stopped chapter's page says why, and the build goes on


@pytest.mark.book
def test_a_stopped_chapter_shows_its_reason_and_the_book_is_built(tmp_path):
    """A cohort whose treated patients have no events: the survival chapter stops with its AnalysisError, its
    page gives the chapter, the cause (the arm, its patients) and what to change, the other chapters run,
    and the build publishes the site."""
    import yaml

    from psmbook.book import pipeline
    from test_property import study_dict

    plan = _plan(events="none_treated", levels=(2, 3), covariate_kind=("random", "random"))
    data, description = tmp_path / "cohort.csv", tmp_path / "study.yaml"
    cohort_of(plan).to_csv(data, index=False)
    description.write_text(yaml.safe_dump(study_dict(plan), sort_keys=False))
    out = tmp_path / "book"
    index = pipeline.build({"data": str(data), "study": str(description)}, root=ROOT, out=out)
    assert index.is_file()
    html = out / "_build" / "html"
    page = (html / "04_survival.html").read_text()
    assert "The survival chapter stopped on" in page and "Property study" in page
    assert "the hazard ratio of Treatment cannot be estimated" in page
    assert "Treatment: New has no events among its" in page and "wider" in page and "caliper" in page
    assert not (out / "04_survival.ipynb").exists() and (out / "04_survival.md").is_file()
    matching = (html / "02_matching.html").read_text()
    assert "stopped on" not in matching and "Love plot" in matching or "love" in matching.lower()
    assert (out / "results" / "matching.json").is_file() and not (out / "results" / "survival.json").exists()
    opening = (html / "intro.html").read_text()  # the opening page says it stopped, and why
    assert "stopped (" in opening and "Treatment: New has no events among its" in opening


def test_a_stopped_chapter_stops_its_readers_and_leaves_a_page(tmp_path):
    """The build's bookkeeping (psmbook.book.stops): an AnalysisError in a chapter's kernel becomes
    ChapterStopped, a chapter that reads its results stops with it, and the stopped chapter's executed
    notebook gives way to a page with the chapter, the cause and the remedy; any other error is left alone."""
    import json
    from types import SimpleNamespace

    from psmbook.book import stops

    with pytest.raises(stops.ChapterStopped, match="chapter 'matching' stopped: the cause; the remedy"):
        stops.raise_if_stopped("matching", SimpleNamespace(ename="AnalysisError", evalue="the cause; the remedy"))
    stops.raise_if_stopped("matching", SimpleNamespace(ename="KeyError", evalue="'x'"))  # not ours: the build fails
    pending = {c: (i, None, None, reads) for i, (c, reads) in enumerate(
        [("cohort", []), ("matching", ["cohort"]), ("survival", ["cohort", "matching"]), ("lab", [])], start=1
    )}  # fmt: skip
    done = {"cohort": {"files": []}}
    line = stops.record(done, pending, stops.ChapterStopped("matching", "the cause; the remedy"), total=4)
    assert line == "  [2/4] matching     stopped: the cause; the remedy"
    assert stops.stop_readers(["survival", "lab"], done, pending) == ["lab"]
    assert done["survival"]["stopped"] == "it reads the results of the matching chapter, which stopped (see its page)"
    source = tmp_path / ".sources" / "02_matching.ipynb"
    source.parent.mkdir()
    source.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": ["# Matching\n"]}]}))
    (tmp_path / "02_matching.ipynb").write_text("{}")  # the executed notebook, failing cell included
    study = SimpleNamespace(name="My study")
    assert not stops.write_stopped_page(tmp_path, source, study, "lab", {"files": []})
    assert stops.write_stopped_page(tmp_path, source, study, "matching", done["matching"])
    assert not (tmp_path / "02_matching.ipynb").exists()
    page = (tmp_path / "02_matching.md").read_text()
    assert page.startswith("# Matching\n\n:::{warning}\nThe matching chapter stopped on **My study**: the cause; ")
    assert "the remedy.\n" in page
