"""The book's analysis steps on a registry-sized cohort: propensity-score fit, matching, balance table,
Cox models. Each function here is one measurement, run in its own process by ``bench_matching.py``
(through ``harness.run_task``).

The cohort: synthetic cohorts of seeds 0-19 (291 patients each, the book's generator) pooled, and
``n`` patients drawn from the pool with replacement under new ids. Its covariates, treatment and
outcomes are the book's; its scores take as many distinct values as the pool has covariate patterns,
so the matcher meets large groups of tied scores, as a categorical score model gives at this size.
Steps read the previous step's output from a cache in the temporary directory (``PSMBOOK_BENCH_CACHE``),
prepared outside the timed call when missing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from harness import measure

CACHE = Path(os.environ.get("PSMBOOK_BENCH_CACHE", Path(tempfile.gettempdir()) / "psmbook-bench"))
POOL_SEEDS = range(20)


def _study():
    from psmbook.study.description import load_study

    return load_study()


def big_cohort(n: int, seed: int = 20250531) -> pd.DataFrame:
    path = CACHE / f"cohort_{n}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    from psmbook.cohort.synthetic import generate_cohort

    pool = pd.concat([generate_cohort(s) for s in POOL_SEEDS], ignore_index=True)
    rows = np.random.default_rng(seed).integers(0, len(pool), size=n)
    cohort = pool.iloc[rows].reset_index(drop=True)
    cohort["patient_id"] = [f"B{i:07d}" for i in range(1, n + 1)]
    cohort = cohort.set_index("patient_id")
    CACHE.mkdir(parents=True, exist_ok=True)
    cohort.to_parquet(path)
    return cohort


def _covariates(study) -> list[str]:
    return [v.column for v in study.psm_covariates]


def _scores(n: int) -> pd.DataFrame:
    """Propensity score, logit and treatment indicator of every patient (the ps step's output)."""
    path = CACHE / f"scores_{n}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    from psmbook.matching.score import fit_propensity

    study = _study()
    model = fit_propensity(big_cohort(n), study.treatment.column, study.treatment.treated, _covariates(study))
    return _save_scores(n, model)


def _save_scores(n, model) -> pd.DataFrame:
    scores = pd.DataFrame({"ps": model.scores, "logit_ps": model.logit, "treated": model.treated})
    scores.to_parquet(CACHE / f"scores_{n}.parquet")
    return scores


def _matched(n: int) -> pd.DataFrame:
    path = CACHE / f"matched_{n}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    from psmbook.matching import nearest as matching
    from psmbook.matching.result import matched_cohort

    cohort, scores = big_cohort(n), _scores(n)
    result = matching.nearest_neighbour_match(scores["logit_ps"], scores["treated"], caliper_sd=0.2)
    matched = matched_cohort(cohort.assign(ps=scores["ps"], logit_ps=scores["logit_ps"]), result)
    matched.to_parquet(path)
    return matched


def _summary(m: dict, **extra) -> dict:
    m.pop("value", None)
    m.update(extra)
    return m


def prepare(n: int) -> dict:
    """Build and cache the cohort (not a measurement: the other steps' setup)."""
    cohort = big_cohort(n)
    study = _study()
    treated = cohort[study.treatment.column].eq(study.treatment.treated)
    return {
        "patients": len(cohort),
        "treated": int(treated.sum()),
        "columns": cohort.shape[1],
        "distinct_patients": int(cohort.drop_duplicates(subset=_covariates(study)).shape[0]),
    }


def ps_fit(n: int, repeats: int = 2) -> dict:
    """The chapter's score model: unpenalised logistic regression on the 11 covariates (statsmodels)."""
    from psmbook.matching.score import fit_propensity

    study = _study()
    cohort = big_cohort(n)
    m = measure(
        lambda: fit_propensity(cohort, study.treatment.column, study.treatment.treated, _covariates(study)),
        repeats=repeats,
        budget_s=60,
    )
    model = m["value"]
    _save_scores(n, model)
    return _summary(m, terms=int(len(model.result.params)), distinct_scores=int(model.logit.nunique()))


def match(n: int, repeats: int = 3) -> dict:
    """1:1 caliper-0.2 matching on the logit score, then the matched cohort (as the chapter does)."""
    from psmbook.matching import nearest as matching
    from psmbook.matching.result import matched_cohort

    cohort, scores = big_cohort(n), _scores(n)
    m = measure(
        lambda: matching.nearest_neighbour_match(scores["logit_ps"], scores["treated"], caliper_sd=0.2),
        repeats=repeats,
    )
    result = m["value"]
    data = cohort.assign(ps=scores["ps"], logit_ps=scores["logit_ps"])
    mc = measure(lambda: matched_cohort(data, result), repeats=repeats, trace=False)
    mc["value"].to_parquet(CACHE / f"matched_{n}.parquet")
    return _summary(
        m,
        matcher=result.settings["matcher"],
        pairs=len(result.pairs),
        unmatched_treated=len(result.unmatched_treated),
        matched_cohort=_summary(mc),
    )


def balance_table(n: int, repeats: int = 2) -> dict:
    """Indicators of every covariate level before and after matching, and the SMD table."""
    from psmbook.matching import balance

    study = _study()
    cohort, scores, matched = big_cohort(n), _scores(n), _matched(n)
    arm, treated = study.treatment.column, study.treatment.treated
    levels = {v.column: list(v.levels) for v in study.covariates}
    columns = [v.column for v in study.covariates]

    def step():
        before = balance.indicators(cohort, columns, levels).assign(logit_ps=scores["logit_ps"])
        after = balance.indicators(matched, columns, levels).assign(logit_ps=matched["logit_ps"])
        return balance.balance_table(
            before,
            cohort[arm].eq(treated),
            after,
            matched[arm].eq(treated),
            weights_after=matched["match_weight"],
        )

    m = measure(step, repeats=repeats)
    table = m["value"]
    return _summary(m, rows=len(table), max_abs_smd_after=float(table["smd_after"].abs().max()))


def cox(n: int, model: str, repeats: int = 2) -> dict:
    """A Cox model of overall survival in the matched cohort, as the Survival chapter fits it:
    ``independent`` / ``robust`` (SE clustered on pairs) / ``stratified`` (on pairs) treatment-only
    models (``survival.pair_aware_cox``), or ``multivariable`` (Table 3's factors)."""
    from lifelines import CoxPHFitter

    from psmbook.analysis import survival

    study = _study()
    matched = _matched(n)
    os_ = study.outcome("os")
    if model == "multivariable":
        matched = matched.assign(response_group=survival.response_groups(matched, study))
        factors = survival.table3_factors(study)

        def step():
            return survival.cox_multivariable(matched, factors, os_.time, os_.event).fitter
    else:
        arm = matched[study.treatment.column].eq(study.treatment.treated).astype(float)
        data = pd.DataFrame(
            {
                "treated": arm,
                "_time": matched[os_.time].to_numpy(),
                "_event": matched[os_.event].to_numpy(),
                "_pair": matched["pair"].to_numpy(),
            }
        )
        options = {
            "independent": dict(df=data.drop(columns="_pair")),
            "robust": dict(df=data, cluster_col="_pair"),
            "stratified": dict(df=data, strata=["_pair"]),
        }[model]

        def step():
            return CoxPHFitter().fit(duration_col="_time", event_col="_event", **options)

    m = measure(step, repeats=repeats, budget_s=60, trace_limit=60)
    fitter = m["value"]
    hr = float(np.exp(fitter.params_.iloc[-1] if model == "multivariable" else fitter.params_["treated"]))
    return _summary(
        m,
        patients=int(fitter._n_examples),
        events=int(fitter.event_observed.sum()),
        terms=int(len(fitter.params_)),
        hr_last_term=hr,
    )


def informative_pairs(n: int) -> dict:
    """The Survival chapter's count of pairs a stratified model can use (a Python loop over pairs)."""
    from psmbook.analysis import survival

    study = _study()
    matched = _matched(n)
    os_ = study.outcome("os")
    m = measure(lambda: survival.informative_pairs(matched, study, os_.time, os_.event), repeats=1, trace=False)
    return _summary(m, pairs=int(matched["pair"].nunique()), informative=int(m["value"]))
