"""The simulation study: seeds, one repetition, the runner on joblib and Dask, the summary measures."""

import math

import numpy as np
import pandas as pd
import pytest

from psmbook.cohort.synthetic import (
    DAYS_PER_MONTH,
    GeneratorSpec,
    baseline_cumulative_hazard,
    generate_cohort,
    load_targets,
    os_linear_predictor,
)
from psmbook.lab import simulation, simulation_plots
from psmbook.lab.explorer import MatchSettings
from psmbook.study.description import load_study
from rbridge import needs_r, run_r

BOOK = MatchSettings(
    covariates=(
        "age_group",
        "sex",
        "ecog",
        "location",
        "differentiation",
        "stage",
        "previous_treatment",
        "recurrence_site",
        "node_diameter",
        "concurrent_chemo",
        "radiation_dose",
    )
)
FAST = ["naive", "multivariable", "psm_book"]


@pytest.fixture(scope="module")
def study():
    return load_study()


def test_repetition_seeds_are_spawned_children_and_extend_a_shorter_run():
    seeds = simulation.repetition_seeds(7, 5)
    children = np.random.SeedSequence(7).spawn(5)
    assert seeds == [int(c.generate_state(1, dtype=np.uint64)[0]) for c in children]
    assert simulation.repetition_seeds(7, 3) == seeds[:3]
    assert len(set(seeds)) == 5 and simulation.repetition_seeds(8, 5) != seeds
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            simulation.repetition_seeds(7, bad)


def test_one_repetition_gives_every_method_against_its_own_truth():
    table = simulation.one_repetition(123, BOOK)
    assert list(table["method"]) == [m.key for m in simulation.METHODS]
    assert (table["error"] == "").all() and (table["seed"] == 123).all()
    t = table.set_index("method")
    assert t.loc["multivariable", "truth"] == pytest.approx(0.596)  # the generator's conditional HR
    assert t.loc["psm_psmpy", "treated"] == 76  # no caliper: every treated
    assert t.loc["naive", "truth"] == t.loc["ipw", "truth"] == t.loc["psm_psmpy", "truth"]
    assert (t["ci_low"] < t["hr"]).all() and (t["hr"] < t["ci_high"]).all()
    # SE of the log HR recovered from the 95% CI
    r = t.loc["psm_book"]
    assert r["se"] == pytest.approx((math.log(r["ci_high"]) - math.log(r["ci_low"])) / (2 * 1.959964), rel=1e-6)
    again = simulation.one_repetition(123, BOOK)
    pd.testing.assert_frame_equal(table, again)


def test_calibrated_outcomes_are_the_generated_cohort(study):
    table = simulation.one_repetition(5, BOOK, methods=["naive"], outcomes="calibrated")
    cohort = generate_cohort(5, GeneratorSpec(match_design=False)).set_index("patient_id")  # the lab's latent cohort
    direct = simulation.estimate_methods(cohort, study, BOOK, seed=5, methods=["naive"])
    assert table.loc[0, "hr"] == direct.loc[0, "hr"]
    with pytest.raises(ValueError, match="outcomes"):
        simulation.one_repetition(5, BOOK, outcomes="observed")


def test_redrawn_survival_follows_the_model_without_conditioning(study):
    cohort = generate_cohort(3).set_index("patient_id")
    ne = cohort["response"] == study.response.not_evaluable
    first = simulation.redraw_survival(cohort, study, np.random.default_rng(1))
    assert first["os_months"][ne].equals(cohort["os_months"][ne])  # deaths during CRT kept
    assert (first.loc[~ne, "os_months"] >= cohort.loc[~ne, "response_assessment_months"] - 0.01).all()
    # expected deaths by hand: 1 - exp(-(H0(f) - H0(a)) exp(b'x)) for each evaluable patient
    followup = (
        (pd.Timestamp(load_targets().cutoff) - pd.to_datetime(cohort["crt_start_date"])).dt.days / DAYS_PER_MONTH
    ).to_numpy()
    risk = np.exp(os_linear_predictor(cohort).to_numpy())
    a = cohort["response_assessment_months"].to_numpy()
    p = 1 - np.exp(-(baseline_cumulative_hazard(followup) - baseline_cumulative_hazard(a)) * risk)
    expected, sd = p[~ne].sum(), math.sqrt((p[~ne] * (1 - p[~ne])).sum())
    draws = [
        simulation.redraw_survival(cohort, study, np.random.default_rng(s))["os_event"][~ne].sum() for s in range(200)
    ]
    assert np.mean(draws) == pytest.approx(expected, abs=4 * sd / math.sqrt(200))
    assert np.std(draws) == pytest.approx(sd, rel=0.25)  # not pinned to a total
    censored = first["os_event"] == 0
    assert np.allclose(first.loc[censored & ~ne, "os_months"], np.round(followup[(censored & ~ne).to_numpy()], 2))


def test_same_results_with_one_and_two_joblib_workers():
    one = simulation.run_simulation(3, 2025, BOOK, n_jobs=1, progress=False)
    two = simulation.run_simulation(3, 2025, BOOK, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert list(one["repetition"].unique()) == [0, 1, 2]
    assert list(one["seed"].unique()) == simulation.repetition_seeds(2025, 3)
    assert (one["error"] == "").all()


def test_same_results_on_a_local_dask_cluster():
    distributed = pytest.importorskip("distributed")
    local = simulation.run_simulation(3, 99, BOOK, n_jobs=1, methods=FAST, progress=False)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = simulation.run_simulation(
            3, 99, BOOK, scheduler=cluster.scheduler_address, methods=FAST, progress=False
        )
    pd.testing.assert_frame_equal(local, remote, check_exact=True)


def test_runner_checks_its_arguments_and_shows_progress(capsys):
    with pytest.raises(ValueError, match="backend"):
        simulation.run_simulation(2, 1, BOOK, backend="spark")
    with pytest.raises(ValueError, match="scheduler"):
        simulation.run_simulation(2, 1, BOOK, backend="dask")
    with pytest.raises(ValueError, match="n_jobs"):
        simulation.run_simulation(2, 1, BOOK, n_jobs=0)
    simulation.run_simulation(1, 1, BOOK, n_jobs=1, methods=["naive"])
    assert "repetitions" in capsys.readouterr().err


def test_summary_measures_on_a_hand_made_table():
    rows = [  # method a: truth 1 (log 0), errors 0.1, -0.1, 0.3, 0.1; one failed repetition
        ("a", 0.1, 0.1, 0.9, 1.3, 1.0, 70, 70),
        ("a", -0.1, 0.2, 0.6, 1.2, 1.0, 68, 68),
        ("a", 0.3, 0.2, 1.05, 1.9, 1.0, 66, 66),  # misses the truth
        ("a", 0.1, 0.1, 0.95, 1.4, 1.0, 68, 68),
        ("a", np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan),
        # method b: a different truth in each repetition, errors 0 and log(0.5)
        ("b", math.log(0.5), 0.3, 0.3, 0.9, 0.5, 76, 215),
        ("b", math.log(0.4), 0.3, 0.2, 0.7, 0.8, 76, 215),  # misses
    ]
    table = pd.DataFrame(rows, columns=["method", "log_hr", "se", "ci_low", "ci_high", "truth", "treated", "controls"])
    s = simulation.summarise(table)
    a, b = s.loc["a"], s.loc["b"]
    assert (a["repetitions"], a["failed"], b["repetitions"], b["failed"]) == (4, 1, 2, 0)
    assert a["bias"] == pytest.approx(0.1)
    emp = math.sqrt((0 + 0.04 + 0.04 + 0) / 3)
    assert a["empirical_se"] == pytest.approx(emp)
    assert a["bias_mcse"] == pytest.approx(emp / 2)
    assert a["empirical_se_mcse"] == pytest.approx(emp / math.sqrt(6))
    assert a["model_se"] == pytest.approx(math.sqrt((0.01 + 0.04 + 0.04 + 0.01) / 4))
    assert a["coverage"] == pytest.approx(0.75)
    assert a["coverage_mcse"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert a["treated"] == pytest.approx(68) and a["truth"] == pytest.approx(1.0)
    assert b["bias"] == pytest.approx(math.log(0.5) / 2)
    assert b["empirical_se"] == pytest.approx(abs(math.log(0.5)) / math.sqrt(2))
    assert b["truth"] == pytest.approx(math.sqrt(0.5 * 0.8))  # geometric mean
    assert b["coverage"] == pytest.approx(0.5)
    shown = simulation.summary_table(s)
    assert "Repetitions (failed)" in shown.columns and shown.loc["a", "Coverage, %"] == "75 (22)"


def test_summary_of_a_real_run_orders_methods_and_has_no_failures():
    estimates = simulation.run_simulation(2, 3, BOOK, n_jobs=1, methods=FAST, progress=False)
    s = simulation.summarise(estimates)
    assert list(s.index) == FAST and (s["failed"] == 0).all() and (s["repetitions"] == 2).all()
    fig = simulation_plots.plot_simulation(estimates, s)
    assert len(fig.axes) == 1
    methods = simulation.estimate_methods(generate_cohort().set_index("patient_id"), load_study(), BOOK, methods=FAST)
    fig = simulation_plots.plot_methods(methods, conditional=0.596, marginal=0.623)
    assert len(fig.axes) == 1


def _repetition_cohorts(study, seed):
    """The cohort of one repetition as generated (calibrated survival) and with survival redrawn."""
    generated = generate_cohort(seed, GeneratorSpec(match_design=False)).set_index(study.id_column)
    return generated, simulation.redraw_survival(generated, study, np.random.default_rng([seed, 1]))


def test_designs_run_together_give_what_each_gives_alone(study):
    designs = {"model": ["naive", "psm_book"], "calibrated": ["naive"]}
    runs = simulation.run_designs(2, 7, BOOK, designs, n_jobs=1, progress=False)
    seed = simulation.repetition_seeds(7, 2)[1]
    generated, redrawn = _repetition_cohorts(study, seed)
    for outcomes, cohort in (("model", redrawn), ("calibrated", generated)):
        alone = simulation.estimate_methods(cohort, study, BOOK, seed=seed, methods=designs[outcomes])  # own truth
        got = runs[outcomes][runs[outcomes]["repetition"] == 1].drop(columns=["repetition", "seed"])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), alone)
    assert list(runs["model"].columns[:3]) == ["repetition", "seed", "method"]
    assert runs["model"].loc[0, "hr"] != runs["calibrated"].loc[0, "hr"]  # the same cohort, survival drawn twice
    with pytest.raises(ValueError, match="designs must map outcomes"):
        simulation.run_designs(1, 1, BOOK, {"observed": None}, n_jobs=1)


def test_multivariable_model_is_the_survival_chapters_cox_model(study):
    from psmbook.analysis import survival
    from psmbook.cohort.synthetic import OS_FACTORS

    _, cohort = _repetition_cohorts(study, simulation.repetition_seeds(20250531, 1)[0])
    row = simulation.estimate_methods(cohort, study, BOOK, methods=["multivariable"]).iloc[0]
    columns = {column for _, column, _ in OS_FACTORS}
    factors = survival.table3_factors(study, [(c, r) for c, r in survival.TABLE3 if c is None or c in columns])
    data = cohort.assign(response_group=survival.response_groups(cohort, study))
    os_ = study.outcome("os")
    model = survival.cox_multivariable(data, factors, os_.time, os_.event)  # lifelines, converged tightly
    expected = model.table.set_index("id").loc[f"{study.treatment.column}.{study.treatment.treated}"]
    for column in ("hr", "ci_low", "ci_high", "se"):
        assert row[column] == pytest.approx(expected[column], rel=1e-7), column
    assert row["treated"] + row["controls"] == len(model.data) < len(cohort)  # those with a response assessment


def _cox_data(study, seed):
    """One repetition's data as R sees them: all patients with their ATT weights, and psmpy's pairs."""
    from psmbook.analysis.sensitivity import att_weights
    from psmbook.matching.psmpy_compare import psmpy_default_match
    from psmbook.matching.score import fit_propensity

    _, cohort = _repetition_cohorts(study, seed)
    arm, code, os_ = study.treatment.column, study.treatment.treated, study.outcome("os")
    scores = fit_propensity(cohort, arm, code, list(BOOK.covariates), study=study)
    everyone = pd.DataFrame(
        {
            "t": cohort[os_.time],
            "e": cohort[os_.event],
            "x": (cohort[arm] == code).astype(int),
            "w": att_weights(scores.scores, scores.treated).to_numpy(),
        }
    )
    pairs, _ = psmpy_default_match(cohort, arm, code, list(BOOK.covariates), caliper=None)
    matched = pd.concat(
        [
            everyone.loc[pairs["treated_id"]].assign(pair=pairs.index),
            everyone.loc[pairs["control_id"]].assign(pair=pairs.index),
        ]
    )
    return everyone, matched


@needs_r
def test_cox_models_of_a_repetition_are_r_coxph_with_tied_deaths(study):
    for seed in simulation.repetition_seeds(20250531, 40):  # the first of the book's run with tied deaths
        everyone, matched = _cox_data(study, seed)
        if matched.loc[matched["e"] == 1, "t"].duplicated().any():  # where lifelines' robust SE is not R's
            break
    else:
        pytest.fail("no repetition of the book's run has tied death times among psmpy's pairs")
    table = simulation.one_repetition(seed, BOOK, methods=["naive", "psm_psmpy", "ipw"]).set_index("method")
    r = run_r(
        "n <- coxph(Surv(t, e) ~ x, data = everyone)\n"
        "p <- coxph(Surv(t, e) ~ x, data = matched, cluster = pair)\n"
        "w <- coxph(Surv(t, e) ~ x, data = everyone, weights = w, robust = TRUE)\n"
        "out$coef <- unname(c(coef(n), coef(p), coef(w)))\n"
        "out$se <- unname(sqrt(c(n$var, p$var, w$var)))",
        packages=["survival"],
        everyone=everyone,
        matched=matched,
    )
    for i, key in enumerate(["naive", "psm_psmpy", "ipw"]):
        assert table.loc[key, "log_hr"] == pytest.approx(r["coef"][i], abs=1e-6), key
        assert table.loc[key, "se"] == pytest.approx(r["se"][i], abs=1e-6), key
