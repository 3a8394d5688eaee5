"""Cox models: Table 3 (univariate, then the factors below the entry p in one model), the matched
pairs' models, and Schoenfeld tests of proportional hazards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from lifelines.statistics import proportional_hazard_test
from scipy import stats

from psmbook.analysis.survival.factors import Factor, contrast_indicators, table3_factors
from psmbook.analysis.survival.fastcox import cox_fit
from psmbook.analysis.survival.largecox import LARGE, FastCoxFitter
from psmbook.analysis.survival.schoenfeld import scaled_schoenfeld
from psmbook.cohort.validation import AnalysisError


def _complete(df: pd.DataFrame, factors: Sequence[Factor]) -> pd.DataFrame:
    return df.dropna(subset=[f.column for f in factors])


def check_estimable(
    df: pd.DataFrame, factors: Sequence[Factor], event: str, what: str = "", arms: str = "", per_level: bool = True
) -> None:
    """AnalysisError, naming what to change, when a Cox model of ``factors`` cannot be estimated on ``df``:
    no event at all, or a level of a factor with no patients (no hazard ratio) or, with ``per_level``, no events
    (a hazard ratio of zero or infinity: monotone likelihood, where lifelines stops, or prints 10^7 with a 0 to
    infinity interval). ``arms``: the treatment column, whose levels are arms (a remedy of their own)."""
    where = f" ({what})" if what else ""
    if int(df[event].sum()) == 0:
        raise AnalysisError(
            f"no patient of the {len(df)} analysed{where} has an event (`{event}` is 0 for every one), so no "
            "hazard ratio can be estimated; check that the study description's endpoint names the event column "
            "(or its `event_codes`), or follow the patients up for longer"
        )
    for f in factors:
        if f.continuous:
            continue
        counts = df.groupby(df[f.column].astype(object))[event].agg(["size", "sum"])
        empty = []
        for level, label in f.levels.items():
            n, d = (int(x) for x in (counts.loc[level] if level in counts.index else (0, 0)))
            if n == 0 or (d == 0 and per_level):
                what_lacks = "no patients" if n == 0 else f"no events among its {n} patients"
                empty.append(f"{f.label}: {label} has {what_lacks}")
        if not empty:
            continue
        remedy = (
            "a hazard ratio needs events in both arms: keep more patients in the match (a wider `caliper`) or "
            "follow them up for longer"
            if f.column == arms
            else "merge each such level with a neighbouring one: for a measurement cut into levels, wider `bins` "
            "in the study description; for codes, recode the data file (a description's `levels` cannot join two codes)"
        )
        raise AnalysisError(
            f"the hazard ratio of {f.label} cannot be estimated{where}: {'; '.join(empty)} (against a level "
            f"without events a hazard ratio is zero or infinite, and a level without patients has none); {remedy}"
        )


#: lifelines' Newton–Raphson stops one step short of the maximum by default (its Newton decrement below
#: 1e-7), which can leave a log hazard ratio 1e-4 away from R's ``coxph``; these tolerances converge it.
LIFELINES_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 1e-13}


def _fit(design: pd.DataFrame, time: pd.Series, event: pd.Series, **kwargs) -> CoxPHFitter:
    """lifelines' Cox model; above :data:`largecox.LARGE` patients (without options) the book's O(n log n) fit,
    handed on as lifelines' (:class:`largecox.FastCoxFitter`)."""
    if len(design) > LARGE and not kwargs:
        return FastCoxFitter(design, time, event)
    data = design.assign(_time=time.to_numpy(), _event=event.to_numpy())
    return CoxPHFitter().fit(data, "_time", "_event", fit_options=LIFELINES_FIT_OPTIONS, **kwargs)


def _joint_wald_p(fitter: CoxPHFitter, terms: Sequence[str]) -> float:
    """Wald test that all of a factor's log-hazard ratios are zero (SPSS's line for a categorical)."""
    b = fitter.params_.loc[list(terms)].to_numpy()
    v = fitter.variance_matrix_.loc[list(terms), list(terms)].to_numpy()
    w = float(b @ np.linalg.solve(v, b))
    return float(stats.chi2.sf(w, len(terms)))


def _rows(fitter: CoxPHFitter, factors: Sequence[Factor], n: int, events: int, model: str) -> list[dict]:
    summary = fitter.summary
    rows = []
    for f in factors:
        factor_p = _joint_wald_p(fitter, [f.term(level) for level in f.contrasts])
        for level, level_label in f.levels.items():
            row = {
                "model": model,
                "factor": f.column,
                "factor_label": f.label,
                "level": level,
                "level_label": level_label,
                "id": f.term(level),
                "reference": level == f.reference,
                "n": n,
                "events": events,
                "factor_p": factor_p,
                "hr": 1.0 if level == f.reference else np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p": np.nan,
                "log_hr": 0.0 if level == f.reference else np.nan,
                "se": np.nan,
            }
            if level != f.reference:
                s = summary.loc[f.term(level)]
                row.update(
                    hr=float(s["exp(coef)"]),
                    ci_low=float(s["exp(coef) lower 95%"]),
                    ci_high=float(s["exp(coef) upper 95%"]),
                    p=float(s["p"]),
                    log_hr=float(s["coef"]),
                    se=float(s["se(coef)"]),
                )
            rows.append(row)
    return rows


def cox_univariate(df: pd.DataFrame, factors: Sequence[Factor], time: str, event: str) -> pd.DataFrame:
    """One Cox model per factor (Table 3, univariate analysis): HR, 95% CI and Wald p of each level.

    Each model uses the patients with a known value of its factor (patients not evaluable for
    response have none, so they leave the response model only). ``factor_p`` is the joint Wald test
    of the factor's levels, which decides entry into the multivariable model; for a two-level factor
    it is the level's own p. Ties are handled by Efron's method (lifelines).
    """
    rows = []
    for f in factors:
        data = _complete(df, [f])
        design = contrast_indicators(data, [f])  # (a ValueError naming a value outside the levels)
        check_estimable(data, [f], event, f"univariate model of `{time}`")
        fitter = _fit(design, data[time], data[event])
        rows += _rows(fitter, [f], len(data), int(data[event].sum()), "univariate")
    return pd.DataFrame(rows)


def select_factors(univariate: pd.DataFrame, entry_p: float = 0.05) -> list[str]:
    """The factors whose univariate p is below ``entry_p`` (the paper: "variables showing p < 0.05 in
    univariate testing were included in the multivariate model"), in the table's order."""
    if not 0 < entry_p <= 1:
        raise ValueError(f"entry_p must be in (0, 1], got {entry_p}")
    first = univariate.drop_duplicates("factor")
    return first.loc[first["factor_p"] < entry_p, "factor"].tolist()


def adjusted_factors(factors: Sequence[Factor], selected: Sequence[str], treatment: str) -> list[Factor]:
    """The factors of the adjusted (multivariable) model: those ``selected`` by the entry rule and, always,
    the ``treatment`` column, whatever its univariate p (the model is there to adjust the treatment's
    hazard ratio; a rule that drops it leaves nothing to report), in the table's order."""
    chosen = [f for f in factors if f.column in selected or f.column == treatment]
    if not any(f.column == treatment for f in chosen):
        raise ValueError(f"no factor holds the treatment column {treatment!r}")
    return chosen


@dataclass
class CoxModel:
    """A fitted multivariable Cox model: the lifelines ``fitter``, the ``data`` it was fitted on
    (indicators + ``_time`` + ``_event``), the tidy ``table`` and the patients ``dropped`` for missing
    values."""

    fitter: CoxPHFitter
    data: pd.DataFrame
    table: pd.DataFrame
    dropped: int
    factors: list = field(default_factory=list)


def cox_multivariable(
    df: pd.DataFrame, factors: Sequence[Factor], time: str, event: str, model: str = "multivariable"
) -> CoxModel:
    """All ``factors`` in one Cox model (Table 3, multivariate analysis), on the complete cases."""
    if not factors:
        raise ValueError("a multivariable model needs at least one factor")
    data = _complete(df, factors)
    design = contrast_indicators(data, factors)
    # levels without events only where the univariate models did not look first (the lab's models of a whole
    # cohort, for the treatment's hazard ratio), then lifelines' own failure, named
    check_estimable(data, factors, event, f"{model} model of `{time}`", per_level=False)
    try:
        fitter = _fit(design, data[time], data[event])
    except ConvergenceError as error:
        raise AnalysisError(
            f"the {model} Cox model of `{time}` ({', '.join(f.label for f in factors)}) did not converge "
            f"(lifelines: {str(error).splitlines()[0]}); a level with few patients or events may predict "
            "the outcome: merge such levels (wider `bins`, or recode the data file), or give a smaller `entry_p` "
            "(fewer factors)"
        ) from None
    table = pd.DataFrame(_rows(fitter, factors, len(data), int(data[event].sum()), model))
    fitted = design.assign(_time=data[time].to_numpy(), _event=data[event].to_numpy())
    return CoxModel(fitter, fitted, table, len(df) - len(data), list(factors))


def informative_pairs(df: pd.DataFrame, study, time: str, event: str, pair: str = "pair") -> int:
    """Matched sets that contribute to a Cox model stratified on them.

    Within a set, the partial likelihood compares treated and control only at an event time at which
    patients of both arms are still at risk. A pair in which the first time is a censoring (or in
    which both are censored) contributes nothing: the stratified model discards it. Risk sets only
    shrink, so a set contributes exactly when both arms are still at risk at its first event time.
    """
    treated = (df[study.treatment.column] == study.treatment.treated).to_numpy()
    t = df[time].to_numpy(dtype=float)
    sets = pd.factorize(df[pair].to_numpy())[0]
    first_event = pd.Series(np.where(df[event].to_numpy() == 1, t, np.inf)).groupby(sets).min()
    last = pd.DataFrame({"set": sets, "treated": treated, "t": t}).groupby(["set", "treated"])["t"].max().unstack()
    last = last.reindex(columns=[False, True]).reindex(first_event.index)
    both_at_risk = (last[True] >= first_event) & (last[False] >= first_event) & np.isfinite(first_event)
    return int(both_at_risk.sum())


def pair_aware_cox(
    df: pd.DataFrame, study, time: str, event: str, pair: str = "pair", weights: str | None = None
) -> pd.DataFrame:
    """The treatment hazard ratio in a matched cohort, three ways.

    * ``independent`` - a Cox model of treatment alone, patients taken as independent (the naive
      analysis, which matches the paper's Table 3 univariate row; lifelines);
    * ``robust`` - the same model and point estimate, with the Lin–Wei sandwich variance clustered on
      the matched pairs: the marginal HR with a pair-aware SE, Austin's (2014) recommendation;
    * ``stratified`` - a Cox model stratified on the pairs: each pair has its own baseline hazard, so
      the HR is conditional on the pair, and only pairs with an event-order contrast contribute.

    The robust and stratified models are :func:`psmbook.analysis.survival.fastcox.cox_fit` (O(n log n),
    R ``coxph(... + cluster(pair))`` and ``coxph(... + strata(pair))``, Efron's ties). ``weights`` names
    a column of matching weights (MatchIt's, after 1:k matching): when they are not all 1, every model is
    weighted, with R's default robust variance for non-integer weights where it is not clustered on the
    pairs. (A control re-used by matching with replacement is one row, in its first set: for that case
    :func:`psmbook.analysis.survival.matched_sets.matched_set_cox` clusters on every set it belongs to.)
    """
    arm_factor = table3_factors(study, [(None, None)])
    check_estimable(df, arm_factor, event, f"the treatment's models of `{time}`", arms=study.treatment.column)
    arm = (df[study.treatment.column] == study.treatment.treated).astype(float).to_numpy()
    t, e, pairs = df[time].to_numpy(dtype=float), df[event].to_numpy(dtype=float), df[pair].to_numpy()
    data = pd.DataFrame({"treated": arm, "_time": t, "_event": e})
    n_pairs = int(pd.Series(pairs).nunique())
    informative = informative_pairs(df, study, time, event, pair)
    w = None if weights is None else df[weights].to_numpy(dtype=float)
    weighted = w is not None and not np.all(w == 1)
    fits = (("robust", {"cluster": pairs}), ("stratified", {"strata": pairs}))
    rows = {}
    if weighted:
        fits = (("independent", {}),) + fits
    else:  # unweighted: the naive model is lifelines', as elsewhere in the chapter
        rows["independent"] = _fit(data[["treated"]], data["_time"], data["_event"]).summary.loc["treated"]
    for method, options in fits:
        fit = cox_fit(t, e, arm, terms=["treated"], weights=w if weighted else None, **options)
        rows[method] = fit.summary().loc["treated"].rename(LIFELINES_NAMES)
    out = []
    for method, s in rows.items():
        out.append(
            {
                "method": method,
                "hr": float(s["exp(coef)"]),
                "ci_low": float(s["exp(coef) lower 95%"]),
                "ci_high": float(s["exp(coef) upper 95%"]),
                "log_hr": float(s["coef"]),
                "se": float(s["se(coef)"]),
                "p": float(s["p"]),
                "n": len(data),
                "events": int(e.sum()),
                "pairs": n_pairs,
                "pairs_used": informative if method == "stratified" else n_pairs,
            }
        )
    return pd.DataFrame(out).set_index("method")


#: :meth:`CoxFit.summary` columns -> lifelines' summary names.
LIFELINES_NAMES = {
    "hr": "exp(coef)",
    "ci_low": "exp(coef) lower 95%",
    "ci_high": "exp(coef) upper 95%",
    "log_hr": "coef",
    "se": "se(coef)",
    "p": "p",
}


def ph_tests(model: CoxModel, alpha: float = 0.05, time_transforms: Sequence[str] = ("rank", "km")) -> pd.DataFrame:
    """Schoenfeld-residual tests of proportional hazards for each term of a Cox model.

    For each time transform g, the test asks whether the scaled Schoenfeld residuals of a term trend
    with g(t) (Grambsch and Therneau 1994; lifelines ``proportional_hazard_test``, the test
    ``check_assumptions`` runs, without its printed advice). ``fails`` marks a term with p < alpha
    under any transform.
    """
    out = {}
    residuals = scaled_schoenfeld(model.fitter, model.data)  # once, in O(n log n) (lifelines' own is quadratic)
    for transform in time_transforms:
        result = proportional_hazard_test(
            model.fitter, model.data, time_transform=transform, precomputed_residuals=residuals
        )
        summary = result.summary
        out[f"chi2_{transform}"] = summary["test_statistic"]
        out[f"p_{transform}"] = summary["p"]
    table = pd.DataFrame(out)
    table.index = [i[0] if isinstance(i, tuple) else i for i in table.index]
    table = table.reindex([t for t in model.fitter.params_.index if t in table.index])
    table["fails"] = (table[[f"p_{t}" for t in time_transforms]] < alpha).any(axis=1)
    return table
