"""A Cox model in O(n log n): strata, case weights, Efron or Breslow ties, and the robust (sandwich)
variance clustered on any grouping, as R survival's ``coxph`` computes them.

The patients are sorted once (stratum, time, deaths first); every risk-set sum is then a cumulative sum
within the stratum, so a Newton step costs O(n p²) and a stratum of two patients costs no more than one
of a million: no loop over patients or strata in Python, no n x n matrix. The robust variance uses the
score residuals of every patient (R's ``coxscore2``, vectorised), summed within clusters: D'D, with D
the dfbeta residuals (score residuals times the model-based variance) of each cluster (Lin and Wei 1989).
lifelines computes the same sandwich with a loop whose i-th step sums over the i earlier patients, and
fits a stratified model one stratum at a time in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

#: How tied event times enter the partial likelihood (R ``coxph``'s ``ties``; its default is Efron's).
TIES = ("efron", "breslow")


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model: log hazard ratios ``coef`` of the ``terms``, their variance ``var`` (robust
    when ``robust``, else model-based) and the model-based ``naive_var``; the log partial likelihood at
    zero and at the estimate; patients, events, strata and clusters used."""

    terms: tuple[str, ...]
    coef: np.ndarray
    var: np.ndarray
    naive_var: np.ndarray
    loglik: tuple[float, float]
    n: int
    events: int
    n_strata: int
    n_clusters: int
    robust: bool
    iterations: int
    ties: str

    @property
    def se(self) -> np.ndarray:
        """Standard errors of the log hazard ratios (robust when the fit is)."""
        return np.sqrt(np.diag(self.var))

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """One row per term: log HR, SE, HR with its Wald CI, z and two-sided p (R ``summary(coxph)``)."""
        z_level = stats.norm.ppf(1 - (1 - level) / 2)
        se = self.se
        z = self.coef / se
        return pd.DataFrame(
            {
                "log_hr": self.coef,
                "se": se,
                "hr": np.exp(self.coef),
                "ci_low": np.exp(self.coef - z_level * se),
                "ci_high": np.exp(self.coef + z_level * se),
                "z": z,
                "p": 2 * stats.norm.sf(np.abs(z)),
            },
            index=pd.Index(self.terms, name="term"),
        )


@dataclass
class _Sorted:
    """The data sorted by stratum, time and deaths first, with the boundaries of strata and time groups."""

    x: np.ndarray  # n x p, centred
    event: np.ndarray
    weight: np.ndarray
    order: np.ndarray  # sorted position -> input row
    group_start: np.ndarray  # first row of each (stratum, time) group
    group_of: np.ndarray  # row -> its group
    stratum_end: np.ndarray  # row -> one past the last row of its stratum
    group_stratum_start: np.ndarray  # group -> first group of its stratum


def _segment_scan(values: np.ndarray, bound: np.ndarray, reverse: bool) -> np.ndarray:
    """Sums of ``values`` over each row's segment (rows sorted by segment) from the row to the segment's
    end (``reverse``; ``bound`` one past its last row) or from its start (``bound`` its first row).

    One segment: a cumulative sum. Several: a segmented doubling scan (Hillis and Steele), ceil(log2 of
    the largest segment) vectorised passes, which adds within each segment only: a global cumulative sum
    minus its value at the segment's edge would leave a pair's sum with the rounding error of a sum over
    every patient.
    """
    rows = np.arange(len(values))
    if (bound == bound[0]).all():  # one segment
        return np.cumsum(values[::-1], axis=0)[::-1] if reverse else np.cumsum(values, axis=0)
    out, shift = values.copy(), 1
    while True:
        partner = rows + shift if reverse else rows - shift
        inside = np.flatnonzero(partner < bound if reverse else partner >= bound)
        if not len(inside):
            return out
        out[inside] = out[inside] + out[partner[inside]]  # right-hand side read before the write
        shift *= 2


def _segment_reverse_cumsum(values: np.ndarray, segment_end: np.ndarray) -> np.ndarray:
    """Sum of ``values`` from each row to the end of its segment (rows sorted by segment)."""
    return _segment_scan(values, segment_end, reverse=True)


def _segment_cumsum(values: np.ndarray, segment_start: np.ndarray) -> np.ndarray:
    """Sum of ``values`` from the start of each row's segment to the row (rows sorted by segment)."""
    return _segment_scan(values, segment_start, reverse=False)


def _sum_by(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sums of ``values`` (rows) by ``index`` in 0..size-1 (``np.bincount`` per column)."""
    if values.ndim == 1:
        return np.bincount(index, weights=values, minlength=size)
    return np.column_stack([np.bincount(index, weights=col, minlength=size) for col in values.T])


def _prepare(time, event, x, strata, weights) -> _Sorted:
    stratum = np.zeros(len(time), dtype=np.int64) if strata is None else pd.factorize(np.asarray(strata))[0]
    order = np.lexsort((-event, time, stratum))
    t, s = time[order], stratum[order]
    new_stratum = np.r_[True, s[1:] != s[:-1]]
    new_group = new_stratum | np.r_[True, t[1:] != t[:-1]]
    stratum_starts = np.flatnonzero(new_stratum)
    stratum_ends = np.r_[stratum_starts[1:], len(t)]
    stratum_index = np.cumsum(new_stratum) - 1
    group_start = np.flatnonzero(new_group)
    group_stratum = stratum_index[group_start]
    first_group_of_stratum = np.searchsorted(group_start, stratum_starts)
    xs = x[order]
    return _Sorted(
        x=xs - xs.mean(axis=0),
        event=event[order],
        weight=weights[order],
        order=order,
        group_start=group_start,
        group_of=np.cumsum(new_group) - 1,
        stratum_end=stratum_ends[stratum_index],
        group_stratum_start=first_group_of_stratum[group_stratum],
    )


def _steps(d: _Sorted, beta: np.ndarray, ties: str):
    """Risk-set sums (of the weighted risk and risk times x) at every tied-event step (Efron: one step per
    death of a tie, with the tied deaths' share taken off in turn; Breslow: one step per event time)."""
    eta = d.x @ beta
    score = np.exp(eta)
    risk = d.weight * score
    moments = np.column_stack([risk, risk[:, None] * d.x])
    at_risk = _segment_reverse_cumsum(moments, d.stratum_end)[d.group_start]
    dying = np.add.reduceat(moments * d.event[:, None], d.group_start, axis=0)
    deaths = np.add.reduceat(d.event, d.group_start)
    death_weight = np.add.reduceat(d.weight * d.event, d.group_start)
    groups = np.flatnonzero(deaths > 0)
    if ties == "efron":
        counts = deaths[groups].astype(np.int64)
        step_group = np.repeat(groups, counts)
        offset = np.arange(len(step_group)) - np.repeat(np.cumsum(counts) - counts, counts)
        fraction = offset / deaths[step_group]
        mean_weight = death_weight[step_group] / deaths[step_group]
    else:
        step_group, fraction, mean_weight = groups, np.zeros(len(groups)), death_weight[groups]
    sums = at_risk[step_group] - fraction[:, None] * dying[step_group]
    return eta, score, sums, step_group, fraction, mean_weight, deaths


def _loglik_score_information(d: _Sorted, beta: np.ndarray, ties: str):
    """Log partial likelihood, score and information at ``beta``. The sums of risk and risk x are taken
    per (stratum, time) group first and summed over the risk sets group by group, and Efron's steps within
    a tie enter through five scalar sums per group (of 1/den, f/den, 1/den^2, f/den^2 and f^2/den^2, f the
    share of the tied deaths taken off). The information's sum of risk x x' / den over every death's risk
    set is one weighted x'x: a patient's risk x x' counts once per death before (or at) their time, so each
    patient carries the sum of those deaths' weights (a cumulative sum over the times) and the p x p
    matrix is a single product, of order n p^2; memory of order n p + groups x p."""
    eta = d.x @ beta
    risk = d.weight * np.exp(eta)
    starts = d.group_start
    n_groups = len(starts)
    group_end = d.group_of[d.stratum_end[starts] - 1] + 1  # group -> one past the last group of its stratum
    moments = np.column_stack([risk, risk[:, None] * d.x])  # risk and risk x, summed per group below
    at_risk1 = _segment_reverse_cumsum(np.add.reduceat(moments, starts, axis=0), group_end)
    dying1 = np.add.reduceat(moments * d.event[:, None], starts, axis=0)
    deaths = np.add.reduceat(d.event, starts)
    death_weight = np.add.reduceat(d.weight * d.event, starts)
    groups = np.flatnonzero(deaths > 0)
    a0, a1 = at_risk1[groups, 0], at_risk1[groups, 1:]
    d0, d1 = dying1[groups, 0], dying1[groups, 1:]
    if ties == "efron":
        counts = deaths[groups].astype(np.int64)
        step = np.repeat(np.arange(len(groups)), counts)
        f = (np.arange(len(step)) - np.repeat(np.cumsum(counts) - counts, counts)) / counts[step]
        den = a0[step] - f * d0[step]

        def per_group(values):
            return np.bincount(step, weights=values, minlength=len(groups))

        log_den, s0, s1 = per_group(np.log(den)), per_group(1 / den), per_group(f / den)
        t0, t1, t2 = per_group(1 / den**2), per_group(f / den**2), per_group(f**2 / den**2)
        weight = death_weight[groups] / counts
    else:
        log_den, s0, s1 = np.log(a0), 1 / a0, np.zeros(len(groups))
        t0, t1, t2 = 1 / a0**2, np.zeros(len(groups)), np.zeros(len(groups))
        weight = death_weight[groups]
    dead = d.weight * d.event
    loglik = float(dead @ eta - weight @ log_den)
    u = dead @ d.x - weight @ (a1 * s0[:, None] - d1 * s1[:, None])
    outer = (
        np.einsum("g,gi,gj->ij", weight * t0, a1, a1)
        - np.einsum("g,gi,gj->ij", weight * t1, a1, d1)
        - np.einsum("g,gi,gj->ij", weight * t1, d1, a1)
        + np.einsum("g,gi,gj->ij", weight * t2, d1, d1)
    )
    # sum over death groups g of weight_g (s0_g * risk-set sum of risk x x' - s1_g * dying sum of risk x x'),
    # regrouped by patient: the risk set of g holds the groups from g on, so a patient of group h carries the
    # cumulative sum of weight s0 over the death groups up to h (within its stratum)
    at_risk_weight, dying_weight = np.zeros(n_groups), np.zeros(n_groups)
    at_risk_weight[groups], dying_weight[groups] = weight * s0, weight * s1
    carried = _segment_cumsum(at_risk_weight, d.group_stratum_start)[d.group_of]
    patient = risk * (carried - d.event * dying_weight[d.group_of])
    information = (d.x * patient[:, None]).T @ d.x - outer
    return loglik, u, information


def _score_residuals(d: _Sorted, beta: np.ndarray, ties: str) -> np.ndarray:
    """Each patient's score residual (sorted order, unweighted), as R's ``residuals(fit, "score")``:
    the integral of (x_i - xbar(t)) over dN_i(t) - Y_i(t) exp(eta_i) dLambda(t), Efron-weighted at ties."""
    _, score, sums, step_group, fraction, mean_weight, deaths = _steps(d, beta, ties)
    p, n_groups = d.x.shape[1], len(d.group_start)
    hazard = mean_weight / sums[:, 0]
    mean_x = sums[:, 1 : 1 + p] / sums[:, :1]

    def per_group(values):
        return _sum_by(step_group, values, n_groups)

    cum_hazard = _segment_cumsum(per_group(hazard), d.group_stratum_start)
    cum_x_hazard = _segment_cumsum(per_group(mean_x * hazard[:, None]), d.group_stratum_start)
    share = np.where(deaths > 0, np.maximum(deaths, 1), 1) if ties == "efron" else np.ones(n_groups)
    mean_x_of_deaths = per_group(mean_x) / (share[:, None] if ties == "efron" else 1)
    charged_back = per_group(hazard * fraction)
    x_charged_back = per_group(mean_x * (hazard * fraction)[:, None])
    g = d.group_of
    at_risk_part = -score[:, None] * (d.x * cum_hazard[g][:, None] - cum_x_hazard[g])
    death_part = d.x - mean_x_of_deaths[g] + score[:, None] * (d.x * charged_back[g][:, None] - x_charged_back[g])
    return at_risk_part + d.event[:, None] * death_part


def cox_fit(
    time,
    event,
    x,
    *,
    terms: Optional[Sequence[str]] = None,
    strata=None,
    weights=None,
    cluster=None,
    robust: Optional[bool] = None,
    ties: str = "efron",
    max_iter: int = 30,
    eps: float = 1e-10,
) -> CoxFit:
    """Fit a Cox proportional-hazards model by Newton–Raphson from zero, as R's ``coxph``.

    ``x``: covariates (n, or n x p; a DataFrame names the terms); ``strata``: one baseline hazard per
    value (R ``strata()``); ``weights``: case weights; ``cluster``: groups whose score residuals are
    summed for the robust variance (R ``cluster()``). ``robust`` defaults as in R: on with a cluster or
    non-integer weights (then each patient is a cluster). Convergence: relative change of the log partial
    likelihood below ``eps`` (R uses 1e-9).
    """
    if ties not in TIES:
        raise ValueError(f"ties must be one of {TIES}, got {ties!r}")
    if isinstance(x, pd.DataFrame):
        terms = tuple(terms or x.columns)
    x = np.asarray(x, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    n, p = x.shape
    terms = tuple(terms or [f"x{i}" for i in range(p)])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    for name, values in (("time", time), ("event", event), ("weights", w)):
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} values for {n} patients")
    if not np.isfinite(x).all() or not np.isfinite(time).all():
        raise ValueError("time and covariates must be finite (drop or impute missing values first)")
    if not np.isin(event, (0, 1)).all():
        raise ValueError("event must be 0 (censored) or 1 (event)")
    if (w <= 0).any():
        raise ValueError("weights must be positive")
    if event.sum() == 0:
        raise ValueError("no events: a Cox model needs at least one")
    for name, values in (("strata", strata), ("cluster", cluster)):
        if values is not None and (len(values) != n or pd.isna(np.asarray(values, dtype=object)).any()):
            raise ValueError(f"{name} must hold one value per patient, none missing")
    d = _prepare(time, event, x, strata, w)
    beta = np.zeros(p)
    loglik, u, information = _loglik_score_information(d, beta, ties)
    loglik0, iterations = loglik, 0
    for iterations in range(1, max_iter + 1):
        step = np.linalg.solve(information, u)
        new_beta = beta + step
        new_loglik, new_u, new_information = _loglik_score_information(d, new_beta, ties)
        halvings = 0
        while new_loglik < loglik - 1e-12 * abs(loglik) and halvings < 30:  # R's step halving
            new_beta = (beta + new_beta) / 2
            new_loglik, new_u, new_information = _loglik_score_information(d, new_beta, ties)
            halvings += 1
        converged = abs(1 - loglik / new_loglik) <= eps if new_loglik != 0 else True
        beta, loglik, u, information = new_beta, new_loglik, new_u, new_information
        if converged:
            break
    naive_var = np.linalg.inv(information)
    if robust is None:
        robust = cluster is not None or bool(np.any(w != np.floor(w)))
    var, n_clusters = naive_var, 0
    if robust:
        residuals = _score_residuals(d, beta, ties) * d.weight[:, None]
        dfbeta = residuals @ naive_var
        if cluster is None:
            groups = np.arange(n)
        else:
            groups = pd.factorize(np.asarray(cluster)[d.order])[0]
        n_clusters = int(groups.max()) + 1
        collapsed = _sum_by(groups, dfbeta, n_clusters)
        var = collapsed.T @ collapsed
    n_strata = 1 if strata is None else int(pd.Series(np.asarray(strata)).nunique())
    return CoxFit(
        terms=terms,
        coef=beta,
        var=var,
        naive_var=naive_var,
        loglik=(loglik0, loglik),
        n=n,
        events=int(event.sum()),
        n_strata=n_strata,
        n_clusters=n_clusters,
        robust=bool(robust),
        iterations=iterations,
        ties=ties,
    )
