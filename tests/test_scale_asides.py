"""What keeps the book linear-ish on a registry: the psmpy aside on a stated random sample above its limit,
the Schoenfeld plot as a density above its limit, and codes read once per distinct value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from psmbook.matching import psmpy_compare
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.score import fit_propensity
from psmbook.study.codes import as_code, as_codes, map_distinct
from psmbook.study.description import load_study
from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "registry.yaml"


def registry_cohort(n: int, seed: int = 11) -> pd.DataFrame:
    return load_script("examples/registry.py").registry_cohort(n, seed=seed).set_index("patient_id")


@pytest.fixture(scope="module")
def registry():
    study = load_study(STUDY)
    cohort = registry_cohort(3_000)
    covariates = [v.column for v in study.psm_covariates]
    model = fit_propensity(cohort, study.treatment.column, study.treatment.treated, covariates, study=study)
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    return study, cohort, covariates, model, result


def test_psmpy_runs_on_a_stated_random_sample_above_its_limit(registry):
    study, cohort, covariates, model, result = registry
    assert len(cohort) > psmpy_compare.PSMPY_LIMIT
    numbers = psmpy_compare.psmpy_comparison(
        cohort, study, model, result, covariates, caliper=0.2, ratio=1, replace=False
    )
    assert "simple random sample of 1,000 of the 3,000 patients (seed 20250531)" in numbers["psmpy_sample"]
    table = numbers["psmpy_comparison"]
    sample = psmpy_compare.psmpy_sample(cohort)
    n_treated = int(model.treated.loc[sample.index].sum())
    assert table["treated matched"].max() <= n_treated < result.pairs["treated_id"].nunique()
    # the book's row is the book's matcher repeated on the sample, with the same settings
    again = nearest_neighbour_match(model.logit.loc[sample.index], model.treated.loc[sample.index], caliper_sd=0.2)
    assert table.iloc[0]["treated matched"] == again.pairs["treated_id"].nunique()
    assert "0 of" in numbers["kd_agreement"] or "pairs differ" in numbers["kd_agreement"]
    repeat = psmpy_compare.psmpy_comparison(
        cohort, study, model, result, covariates, caliper=0.2, ratio=1, replace=False
    )
    pd.testing.assert_frame_equal(repeat["psmpy_comparison"], table)  # the same sample every run


def test_the_sample_is_the_cohort_itself_below_the_limit_and_fixed_above():
    small = pd.DataFrame({"x": range(500)})
    assert psmpy_compare.psmpy_sample(small) is small
    big = pd.DataFrame({"x": range(5_000)}, index=[f"p{i}" for i in range(5_000)])
    sample = psmpy_compare.psmpy_sample(big)
    assert len(sample) == psmpy_compare.PSMPY_LIMIT and sample.index.is_unique
    assert list(sample["x"]) == sorted(sample["x"])  # in the cohort's order
    assert sample.index.equals(psmpy_compare.psmpy_sample(big).index)


def test_schoenfeld_plot_is_a_density_above_its_limit():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import PathCollection, PolyCollection

    from psmbook.analysis import survival
    from psmbook.analysis.survival import plots
    from psmbook.analysis.survival.factors import Factor

    rng = np.random.default_rng(1)
    n = plots.SCATTER_LIMIT + 2_000
    x = rng.integers(0, 2, n)
    data = pd.DataFrame({"arm": np.where(x == 1, "b", "a"), "t": rng.exponential(1 / np.exp(0.5 * x)), "e": 1})
    factor = Factor("arm", "Arm", "a", {"a": "A", "b": "B"})
    model = survival.cox_multivariable(data, [factor], "t", "e")
    figure = plots.plot_schoenfeld(model)
    ax = figure.axes[0]
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # hexagonal bins
    assert not any(isinstance(c, PathCollection) for c in ax.collections)  # no dot per event
    smooth = ax.lines[0].get_ydata()
    assert len(smooth) == plots.RANK_BINS and np.all(np.isfinite(smooth))


@pytest.mark.parametrize(
    "values",
    [
        ["a", " b", None, "a", np.nan],
        [1, 0, 1],
        [1.0, np.nan, 0.0, 2.5],
        [True, False, True],
        pd.Series([1, True, "1", 1.0, None], dtype=object),  # mixed types: row by row (1 and True differ)
        pd.array([1, None, 0], dtype="Int64"),
        pd.Series(["yes", "no", None], dtype="string"),
    ],
)
def test_codes_of_distinct_values_are_the_codes_of_every_row(values):
    series = pd.Series(values)
    for function in (as_code, lambda v: {None: None, "1": 1, "0": 0}.get(as_code(v), -1)):
        pd.testing.assert_series_equal(map_distinct(series, function), series.map(function))


@pytest.mark.parametrize(
    "values",
    [["a", " b", None, "a", np.nan, "  "], ["R001", "R002"], [1, 2, None], pd.Series(["x", None], dtype="string")],
)
def test_text_codes_at_once_are_the_codes_of_every_row(values):
    series = pd.Series(values)
    pd.testing.assert_series_equal(as_codes(series), series.map(as_code))


@pytest.mark.parametrize("n, ticks", [(200, True), (5_000, False)])
def test_censoring_ticks_are_left_out_where_they_would_hide_the_curve(n, ticks):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from psmbook.analysis import km

    rng = np.random.default_rng(2)
    study = load_study(STUDY)
    data = pd.DataFrame(
        {
            study.treatment.column: np.where(rng.random(n) < 0.5, study.treatment.treated, study.treatment.control),
            "t": np.round(rng.exponential(20, n), 2) + 0.01,
            "e": (rng.random(n) < 0.5).astype(int),
        }
    )
    fits = km.fit_by_arm(data, study, "t", "e")
    many = max(int((f.event_table["censored"] > 0).sum()) for f in fits.values()) > km.MAX_CENSOR_MARKS
    assert many is not ticks
    figure, ax = plt.subplots()
    km.plot_by_arm(ax, fits, study, ylabel="Survival", at_risk=False)
    assert any(line.get_marker() == "|" for line in ax.lines) is ticks
    plt.close(figure)
