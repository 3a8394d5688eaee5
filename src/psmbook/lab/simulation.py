"""Methods against the truth, once and many times: a simulation study on the synthetic cohort.

The synthetic cohort knows its treatment effect, which no real study does. Two true values matter,
because the methods do not estimate the same quantity (the hazard ratio is non-collapsible):

* the **conditional** hazard ratio of the generator's proportional-hazards model
  (:func:`psmbook.cohort.synthetic.true_hazard_ratios`): what a correctly specified multivariable Cox model
  estimates;
* the **marginal** hazard ratio in the treated (:func:`psmbook.cohort.truth.true_marginal_hr`): the limit of
  a Cox model of treatment alone if the treated patients were observed under both treatments; what
  matching and ATT weighting estimate (for caliper matching, in the treated patients it keeps).

:func:`estimate_methods` applies every method to one cohort and sets each estimate beside the truth of
its estimand (its Cox models are the book's own fit, R ``coxph``'s numbers); :func:`one_repetition` does it
for the cohort of one seed; :func:`run_simulation` repeats it over seeds derived from one master seed with
``numpy.random.SeedSequence.spawn``, in this process, with joblib's workers or on a Dask cluster, and
returns the same table whatever the number of workers (:func:`run_designs`: several ways of drawing
survival on the same cohorts at once);
:func:`summarise` gives each method's bias, empirical and model standard errors and coverage, with
Monte Carlo standard errors (Morris, White and Crowther 2019, *Stat Med* 38:2074).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from psmbook.lab.explorer import MatchSettings, explore, extra_covariates

__all__ = [
    "METHODS",
    "OUTCOMES",
    "Method",
    "MatchSettings",
    "conditional_truth",
    "estimate_methods",
    "redraw_survival",
    "one_repetition",
    "one_repetition_designs",
    "repetition_seeds",
    "run_designs",
    "run_simulation",
    "summarise",
    "summary_table",
]

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Method:
    """An analysis of the treatment effect and the true value it is judged against."""

    key: str
    label: str
    short: str  # for tables and figures
    estimand: str  # "conditional" or "marginal"
    estimand_text: str


METHODS: tuple[Method, ...] = (
    Method(
        "naive",
        "Naive Cox (treatment only, all patients)",
        "Naive Cox",
        "marginal",
        "marginal, in the treated",
    ),
    Method(
        "multivariable",
        "Multivariable Cox (the generator's factors)",
        "Multivariable Cox",
        "conditional",
        "conditional on nodes, response, age and stage",
    ),
    Method("psm_book", "PSM, this book's settings", "PSM (book)", "marginal", "marginal, in the matched treated"),
    Method(
        "psm_psmpy",
        "PSM, psmpy's defaults",
        "PSM (psmpy defaults)",
        "marginal",
        "marginal, in the matched treated",
    ),
    Method(
        "psm_nodes",
        "PSM, this book's settings + number of nodes",
        "PSM (book) + nodes",
        "marginal",
        "marginal, in the matched treated",
    ),
    Method("ipw", "Inverse-probability weighting (ATT)", "IPW (ATT)", "marginal", "marginal, in the treated"),
)
_BY_KEY = {m.key: m for m in METHODS}


def _se_from_ci(low: float, high: float) -> float:
    """Standard error of the log hazard ratio recovered from a 95% Wald interval."""
    return (math.log(high) - math.log(low)) / (2 * Z95)


def conditional_truth(study) -> float:
    """The generator's true conditional OS hazard ratio of treatment."""
    from psmbook.cohort.synthetic import true_hazard_ratios

    return float(true_hazard_ratios()[f"{study.treatment.column}.{study.treatment.treated}"])


def _cox(time, event, x, term: str, *, weights=None, cluster=None) -> tuple[float, float, float, float]:
    """Hazard ratio of ``term`` with its 95% Wald CI and the SE of its log, from the book's Cox fit
    (:func:`psmbook.analysis.survival.fastcox.cox_fit`: R ``coxph``'s numbers, Efron's ties); the SE is
    robust, clustered on ``cluster`` (or on each patient), when there are weights or clusters."""
    from psmbook.analysis.survival import cox_fit

    robust = weights is not None or cluster is not None
    terms = None if isinstance(x, pd.DataFrame) else [term]
    fit = cox_fit(time, event, x, terms=terms, weights=weights, cluster=cluster, robust=robust)
    i = fit.terms.index(term)
    b, se = float(fit.coef[i]), float(fit.se[i])
    return math.exp(b), math.exp(b - Z95 * se), math.exp(b + Z95 * se), se


def _multivariable(cohort: pd.DataFrame, study) -> tuple[float, float, float, float, pd.DataFrame]:
    """Cox model of OS on the generator's factors, which are the paper's multivariable Table 3 (a
    correctly specified model), fitted like the Survival chapter's to the patients with a response
    assessment (those who died during CRT have none): the same design and checks as
    :func:`psmbook.analysis.survival.cox_multivariable`, fitted by the book's Cox fit (the same numbers)."""
    from psmbook.analysis import survival
    from psmbook.analysis.survival.cox import check_estimable
    from psmbook.cohort.synthetic import OS_FACTORS

    columns = {column for _, column, _ in OS_FACTORS}
    factors = survival.table3_factors(study, [(c, r) for c, r in survival.TABLE3 if c is None or c in columns])
    os_ = study.outcome("os")
    data = cohort.assign(response_group=survival.response_groups(cohort, study))
    used = data.dropna(subset=[f.column for f in factors])
    design = survival.contrast_indicators(used, factors)
    check_estimable(used, factors, os_.event, f"multivariable model of `{os_.time}`", per_level=False)
    term = f"{study.treatment.column}.{study.treatment.treated}"
    hr, low, high, se = _cox(used[os_.time], used[os_.event], design, term)
    return hr, low, high, se, used


def estimate_methods(
    cohort: pd.DataFrame,
    study,
    settings: MatchSettings,
    *,
    seed: int | None = None,
    methods: Sequence[str] | None = None,
    truth_treated: float | None = None,
) -> pd.DataFrame:
    """Every method on one cohort (indexed by patient id): one row per method with the hazard ratio,
    its 95% CI, the SE of its log, the patients it compares, and the true value of its estimand.
    ``truth_treated``: the true marginal hazard ratio in all the cohort's treated patients when it is
    already known (it depends on their covariates, not on their outcomes).

    ``settings`` are the book's matching settings (PSM and the covariates of the weighting model);
    ``seed`` orders the treated patients when the matching order is random. ``psm_nodes`` adds the
    number of recurrent nodes to the score (by default only when the data hold it). A method that
    fails on this cohort gets a row with missing estimates and the error in ``error``.
    """
    from psmbook.analysis.sensitivity import att_weights
    from psmbook.cohort.truth import true_marginal_hr
    from psmbook.lab.explorer import score_model
    from psmbook.matching.psmpy_compare import psmpy_default_match
    from psmbook.matching.score import default_formula, fit_propensity

    arm, treated_code = study.treatment.column, study.treatment.treated
    os_ = study.outcome("os")
    time, event = cohort[os_.time].to_numpy(float), cohort[os_.event].to_numpy(float)
    is_treated = cohort[arm] == treated_code
    synthetic = study.synthetic
    truth_conditional = conditional_truth(study) if synthetic else np.nan
    if truth_treated is None:
        truth_treated = true_marginal_hr(cohort, study) if synthetic else np.nan
    scores = {}  # the book's score model, fitted once for PSM (book) and IPW

    def book_score():
        if "book" not in scores:
            scores["book"] = score_model(cohort, study, settings)
        return scores["book"]

    def naive():
        hr, low, high, se = _cox(time, event, is_treated.to_numpy(float), "treated")
        return hr, low, high, se, int(is_treated.sum()), int((~is_treated).sum()), truth_treated

    def multivariable():
        hr, low, high, se, used = _multivariable(cohort, study)
        used_treated = used[study.treatment.column] == treated_code
        return hr, low, high, se, int(used_treated.sum()), int((~used_treated).sum()), truth_conditional

    def psm(extra=()):
        formula = settings.formula and settings.formula + "".join(f" + C({c})" for c in extra)
        r = explore(
            cohort,
            study,
            replace(settings, covariates=settings.covariates + tuple(extra), formula=formula or None),
            seed=seed,
            with_balance=False,
            with_truth=synthetic,
            model=None if extra else book_score(),
        )
        e = r.estimate
        return (
            e.hr,
            e.ci_low,
            e.ci_high,
            _se_from_ci(e.ci_low, e.ci_high),
            r.treated,
            r.controls,
            (r.truth if synthetic else np.nan),
        )

    def psm_psmpy():
        import matplotlib

        with matplotlib.rc_context():  # importing psmpy applies seaborn's global style: keep the caller's
            pairs, _ = psmpy_default_match(cohort, arm, treated_code, list(settings.covariates), caliper=None)
        pairs = pairs.reset_index(drop=True)
        sample = pd.concat(
            [
                cohort.loc[pairs["treated_id"]].assign(pair=pairs.index.to_numpy()),
                cohort.loc[pairs["control_id"]].assign(pair=pairs.index.to_numpy()),
            ]
        )
        hr, low, high, se = _cox(
            sample[os_.time].to_numpy(float),
            sample[os_.event].to_numpy(float),
            (sample[arm] == treated_code).to_numpy(float),
            "treated",
            cluster=sample["pair"].to_numpy(),
        )
        kept = pairs["treated_id"].unique()
        if not synthetic:
            truth = np.nan
        elif len(kept) == int(is_treated.sum()):  # every treated patient matched: the truth in the treated
            truth = truth_treated
        else:
            truth = true_marginal_hr(cohort.loc[kept], study)
        return hr, low, high, se, pairs["treated_id"].nunique(), pairs["control_id"].nunique(), truth

    def ipw():  # psmbook.analysis.sensitivity.weighted_estimate: main effects of the covariates, ATT weights
        covariates = list(settings.covariates)
        model = book_score()
        if model.formula != default_formula(covariates, study):  # a formula, or continuous covariates
            model = fit_propensity(cohort, arm, treated_code, covariates, study=study)
        treated = model.treated.to_numpy()
        weights = att_weights(model.scores, model.treated).to_numpy()
        hr, low, high, se = _cox(time, event, treated.astype(float), "treated", weights=weights)
        return hr, low, high, se, int(treated.sum()), int((~treated).sum()), truth_treated

    nodes = list(extra_covariates(settings, cohort))
    runners = {
        "naive": naive,
        "multivariable": multivariable,
        "psm_book": psm,
        "psm_psmpy": psm_psmpy,
        "psm_nodes": lambda: psm(nodes),
        "ipw": ipw,
    }
    if methods is None:
        methods = [m.key for m in METHODS if m.key != "psm_nodes" or nodes]
    rows = []
    for key in methods:
        method = _BY_KEY[key]
        row = {"method": key, "label": method.label, "short": method.short, "estimand": method.estimand}
        try:
            hr, low, high, se, treated, controls, truth = runners[key]()
            row.update(
                hr=hr,
                ci_low=low,
                ci_high=high,
                log_hr=math.log(hr),
                se=se,
                treated=treated,
                controls=controls,
                truth=truth,
                error="",
            )
        except Exception as error:  # one failed analysis must not stop a simulation: it is counted
            missing = ("hr", "ci_low", "ci_high", "log_hr", "se", "treated", "controls", "truth")
            row.update(dict.fromkeys(missing, np.nan), error=f"{type(error).__name__}: {error}")
        rows.append(row)
    return pd.DataFrame(rows)


#: How a repetition's overall survival is drawn (see :func:`one_repetition`).
OUTCOMES = ("model", "calibrated")


def redraw_survival(cohort: pd.DataFrame, study, rng: np.random.Generator) -> pd.DataFrame:
    """The cohort with overall survival drawn afresh from the generator's proportional-hazards model,
    with nothing conditioned on: no exact death totals, no landmark window, no stratified uniforms.

    Patients who died during CRT keep their death (it is part of their course); every other patient
    survives to the response assessment a_i, then dies at T_i with H0(T_i) = H0(a_i) + E_i exp(-b'x_i),
    E_i ~ Exp(1), and is censored at the censoring date if T_i is later (the generator's model and
    follow-up, the assumptions of :func:`psmbook.cohort.truth.true_marginal_hr`). Progression-free
    survival is left as it was and no longer agrees with OS: only OS is analysed here.
    """
    from psmbook.cohort.synthetic import (
        DAYS_PER_MONTH,
        GeneratorSpec,
        baseline_cumulative_hazard,
        inverse_cumulative_hazard,
        load_targets,
        os_linear_predictor,
    )

    spec = GeneratorSpec()
    time, event = study.outcome("os").time, study.outcome("os").event
    cutoff = pd.Timestamp(load_targets().cutoff)
    followup = ((cutoff - pd.to_datetime(cohort["crt_start_date"])).dt.days / DAYS_PER_MONTH).to_numpy()
    evaluable = (cohort[study.response.column] != study.response.not_evaluable).to_numpy()
    entry = cohort["response_assessment_months"].to_numpy(dtype=float)
    risk = np.exp(os_linear_predictor(cohort, spec).to_numpy())
    draw = rng.standard_exponential(len(cohort))
    death = inverse_cumulative_hazard(baseline_cumulative_hazard(entry, spec) + draw / risk, spec)
    dies = death < followup
    out = cohort.copy()
    out[time] = np.where(evaluable, np.round(np.where(dies, death, followup), 2), cohort[time])
    out[event] = np.where(evaluable, dies.astype(int), cohort[event]).astype(int)
    return out


@functools.lru_cache(maxsize=1)
def _study():
    """The book's study description, read once per process (every repetition a worker runs uses it)."""
    from psmbook.study.description import load_study

    return load_study()


def one_repetition(
    seed: int, settings: MatchSettings, methods: Sequence[str] | None = None, outcomes: str = "model"
) -> pd.DataFrame:
    """Generate the synthetic cohort of ``seed`` and apply every method: deterministic in ``seed``.

    ``outcomes="model"`` (the default) redraws overall survival from the generator's model with
    nothing conditioned on (:func:`redraw_survival`, random stream ``[seed, 1]``): each repetition is
    a new study of the same design. ``"calibrated"`` analyses the cohort as
    :func:`psmbook.cohort.synthetic.generate_cohort` gives it, whose survival is conditioned on the paper's
    death totals and landmarks, so that it varies far less between seeds than a new study would.
    Repetitions use the generator's latent covariates (``GeneratorSpec(match_design=False)``): the matched
    design only rearranges one cohort's covariates so that the paper's matching selects the paper's matched
    tables; the generating model, and so the true treatment effect, is the same with or without it.
    Linear algebra runs on one thread, so that the numbers do not depend on how many threads the
    worker that runs it has (and parallel workers do not compete for cores).
    """
    return one_repetition_designs(seed, settings, {outcomes: methods})[outcomes]


def _check_designs(designs: dict) -> dict:
    if not designs or any(outcomes not in OUTCOMES for outcomes in designs):
        raise ValueError(f"designs must map outcomes, each one of {OUTCOMES}, to methods; got {designs!r}")
    return dict(designs)


def one_repetition_designs(seed: int, settings: MatchSettings, designs: dict) -> dict[str, pd.DataFrame]:
    """:func:`one_repetition` for several ways of drawing survival on the same cohort, generated once:
    ``designs`` maps ``outcomes`` (``"model"``, ``"calibrated"``) to the methods (None: all) applied;
    returns one table per outcomes, each the one :func:`one_repetition` gives."""
    from threadpoolctl import threadpool_limits

    from psmbook.cohort.synthetic import GeneratorSpec, SurvivalDrawError, generate_cohort
    from psmbook.cohort.truth import true_marginal_hr

    designs, seed = _check_designs(designs), int(seed)
    tables = {}
    with threadpool_limits(limits=1):
        study = _study()
        try:
            generated = generate_cohort(seed, GeneratorSpec(match_design=False)).set_index(study.id_column)
        except SurvivalDrawError as error:
            generated, failure = None, f"SurvivalDrawError: {error}"
        else:  # the same for every way of drawing survival: it depends on the covariates only
            truth = true_marginal_hr(generated, study) if study.synthetic else np.nan
        for outcomes, methods in designs.items():
            if generated is None:
                keys = methods or [m.key for m in METHODS]
                table = pd.DataFrame(
                    [{"method": k, **{a: getattr(_BY_KEY[k], a) for a in ("label", "short", "estimand")}} for k in keys]
                ).assign(error=failure)
            else:
                cohort = generated
                if outcomes == "model":
                    cohort = redraw_survival(generated, study, np.random.default_rng([seed, 1]))
                table = estimate_methods(cohort, study, settings, seed=seed, methods=methods, truth_treated=truth)
            table.insert(0, "seed", seed)
            tables[outcomes] = table
    return tables


def repetition_seeds(seed: int, repetitions: int) -> list[int]:
    """The cohort seed of each repetition: children of ``SeedSequence(seed)``, one per repetition.

    Repetition i gets the same seed whatever the number of repetitions, so a longer run extends a
    shorter one.
    """
    if isinstance(repetitions, bool) or int(repetitions) != repetitions or repetitions < 1:
        raise ValueError(f"repetitions must be a whole number of at least 1, got {repetitions!r}")
    children = np.random.SeedSequence(int(seed)).spawn(int(repetitions))
    return [int(child.generate_state(1, dtype=np.uint64)[0]) for child in children]


def _run_joblib(seeds, settings, designs, n_jobs, bar) -> list[dict]:
    from joblib import Parallel, delayed

    results = []
    jobs = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(one_repetition_designs)(s, settings, designs) for s in seeds
    )
    for result in jobs:  # in the order of the seeds
        results.append(result)
        bar.update(1)
    return results


def _run_dask(seeds, settings, designs, scheduler, bar) -> list[dict]:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - distributed is pinned in requirements.txt
        raise ImportError("the dask backend needs the 'distributed' package") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = client.map(one_repetition_designs, seeds, settings=settings, designs=designs)
        for _ in as_completed(futures):
            bar.update(1)
        return client.gather(futures)  # in the order of the seeds
    finally:
        if client is not scheduler:
            client.close()  # the connection only: the cluster keeps running


def run_simulation(
    repetitions: int,
    seed: int,
    settings: MatchSettings,
    *,
    n_jobs: int = 2,
    scheduler=None,
    backend: str | None = None,
    methods: Sequence[str] | None = None,
    outcomes: str = "model",
    progress: bool = True,
) -> pd.DataFrame:
    """Repeat generate -> estimate ``repetitions`` times; one row per repetition and method.

    ``backend`` is ``"joblib"`` (local processes, ``n_jobs`` of them; -1 for every core; 1 runs the
    repetitions in this process, with no worker to start) or ``"dask"`` (the cluster whose scheduler
    address, or ``distributed.Client``, is ``scheduler``); by default Dask when a scheduler is given,
    joblib otherwise. Repetition i always analyses the cohort of ``repetition_seeds(seed, repetitions)[i]``,
    so the table is the same for any backend and number of workers. ``outcomes`` chooses how survival is
    drawn (:func:`one_repetition`). A progress bar (tqdm, on stderr) counts the finished repetitions.
    """
    if outcomes not in OUTCOMES:
        raise ValueError(f"outcomes must be one of {OUTCOMES}, got {outcomes!r}")
    return run_designs(
        repetitions,
        seed,
        settings,
        {outcomes: methods},
        n_jobs=n_jobs,
        scheduler=scheduler,
        backend=backend,
        progress=progress,
    )[outcomes]


def run_designs(
    repetitions: int,
    seed: int,
    settings: MatchSettings,
    designs: dict,
    *,
    n_jobs: int = 2,
    scheduler=None,
    backend: str | None = None,
    progress: bool = True,
) -> dict[str, pd.DataFrame]:
    """:func:`run_simulation` for several ways of drawing survival at once, each repetition's cohort
    generated once for all (:func:`one_repetition_designs`): ``designs`` maps ``outcomes`` to the methods
    (None: all); returns, per outcomes, the table :func:`run_simulation` gives for it."""
    from tqdm import tqdm

    designs = _check_designs(designs)
    seeds = repetition_seeds(seed, repetitions)
    backend = backend or ("dask" if scheduler else "joblib")
    if backend not in ("joblib", "dask"):
        raise ValueError(f"backend must be 'joblib' or 'dask', got {backend!r}")
    if backend == "dask" and not scheduler:
        raise ValueError("the dask backend needs a scheduler address, e.g. 'tcp://127.0.0.1:8786'")
    if backend == "joblib" and (isinstance(n_jobs, bool) or int(n_jobs) != n_jobs or n_jobs == 0 or n_jobs < -1):
        raise ValueError(f"n_jobs must be a positive whole number or -1 (every core), got {n_jobs!r}")
    with tqdm(total=len(seeds), desc="repetitions", unit="rep", disable=not progress) as bar:
        if backend == "joblib":
            results = _run_joblib(seeds, settings, designs, int(n_jobs), bar)
        else:
            results = _run_dask(seeds, settings, designs, scheduler, bar)
    out = {}
    for outcomes in designs:
        table = pd.concat([r[outcomes].assign(repetition=i) for i, r in enumerate(results)], ignore_index=True)
        first = ["repetition", "seed", "method"]
        out[outcomes] = table[first + [c for c in table.columns if c not in first]]
    return out


def summarise(estimates: pd.DataFrame) -> pd.DataFrame:
    """Performance of each method over the repetitions, on the log hazard ratio scale.

    With e_i = log HR_i - log(true HR_i), the error of repetition i against the truth of its own
    estimand and cohort, and n the repetitions with an estimate:

    * ``bias`` = mean of e_i, with Monte Carlo SE ``bias_mcse`` = empirical SE / sqrt(n);
    * ``empirical_se`` = standard deviation of e_i (n - 1 denominator), with MCSE
      empirical SE / sqrt(2 (n - 1)); with a fixed truth it is the SD of the estimates;
    * ``model_se`` = the root mean square of the model's standard errors, sqrt(mean SE_i^2)
      (the "average model SE" of Morris et al.);
    * ``coverage`` = share of 95% confidence intervals that contain the true value, MCSE
      sqrt(coverage (1 - coverage) / n);
    * ``treated``, ``controls``: mean patients compared (for matching, those matched);
    * ``truth``: geometric mean of the true values, ``failed``: repetitions without an estimate.
    """
    rows = []
    order = [m.key for m in METHODS if m.key in set(estimates["method"])]
    order += [k for k in dict.fromkeys(estimates["method"]) if k not in order]
    for key, part in ((k, estimates[estimates["method"] == k]) for k in order):
        ok = part[np.isfinite(part["log_hr"].astype(float)) & np.isfinite(part["truth"].astype(float))]
        n = len(ok)
        error = ok["log_hr"].astype(float) - np.log(ok["truth"].astype(float))
        covered = (ok["ci_low"] <= ok["truth"]) & (ok["truth"] <= ok["ci_high"])
        emp = float(error.std(ddof=1)) if n > 1 else np.nan
        coverage = float(covered.mean()) if n else np.nan
        method = _BY_KEY.get(key)
        rows.append(
            {
                "method": key,
                "label": method.label if method else key,
                "short": method.short if method else key,
                "estimand": method.estimand if method else "",
                "repetitions": n,
                "failed": len(part) - n,
                "truth": float(np.exp(np.log(ok["truth"].astype(float)).mean())) if n else np.nan,
                "mean_hr": float(np.exp(ok["log_hr"].astype(float).mean())) if n else np.nan,
                "bias": float(error.mean()) if n else np.nan,
                "bias_mcse": emp / math.sqrt(n) if n > 1 else np.nan,
                "empirical_se": emp,
                "empirical_se_mcse": emp / math.sqrt(2 * (n - 1)) if n > 1 else np.nan,
                "model_se": float(np.sqrt((ok["se"].astype(float) ** 2).mean())) if n else np.nan,
                "coverage": coverage,
                "coverage_mcse": math.sqrt(coverage * (1 - coverage) / n) if n else np.nan,
                "treated": float(ok["treated"].astype(float).mean()) if n else np.nan,
                "controls": float(ok["controls"].astype(float).mean()) if n else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("method")


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`summarise` as the book shows it (estimates with their Monte Carlo SE in brackets)."""

    def pm(value, mcse, digits=3):
        return "—" if np.isnan(value) else f"{value:+.{digits}f} ({mcse:.{digits}f})"

    shown = pd.DataFrame(
        {
            "Judged against": summary["estimand"]
            .map({"conditional": "conditional HR", "marginal": "marginal HR, treated"})
            .to_numpy(),
            "Mean true HR": [f"{v:.3f}" for v in summary["truth"]],
            "Bias, log HR": [pm(r.bias, r.bias_mcse) for r in summary.itertuples()],
            "Empirical SE": [pm(r.empirical_se, r.empirical_se_mcse).lstrip("+") for r in summary.itertuples()],
            "Model SE": [f"{v:.3f}" for v in summary["model_se"]],
            "Coverage, %": [f"{100 * r.coverage:.0f} ({100 * r.coverage_mcse:.0f})" for r in summary.itertuples()],
            "Treated / controls": [f"{r.treated:.1f} / {r.controls:.1f}" for r in summary.itertuples()],
        },
        index=pd.Index(summary["short"].to_numpy(), name="Method"),
    )
    if summary["failed"].any():
        shown["Repetitions (failed)"] = [f"{int(r.repetitions)} ({int(r.failed)})" for r in summary.itertuples()]
    return shown
