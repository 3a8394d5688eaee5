"""The book's default propensity-score analysis as the generator runs it on coded covariates.

The matched design (:mod:`psmbook.cohort.synthetic.matchdesign`) must know which patients the book's
default matching will select: an unpenalised main-effects logistic model of treatment on the study's
propensity-score covariates, then 1:1 greedy nearest-neighbour matching on its logit, largest score
first, without replacement, caliper 0.2 SD of the logit over all patients (MatchIt's ``nearest``).
The cohort stage may not import the matching stage, so this module fits and matches on its own, on
integer-coded covariates; ``tests/test_synthetic_design.py`` holds it to the book's matcher.

Covariates are coded per patient as one integer per *coded variable*: the age band (< 65, 65 to the
S-1 age, S-1 age and over) carries both age_group and concurrent_chemo (S-1 if and only if in the
oldest band); every other propensity-score covariate is one variable with the study's levels.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np
from scipy.special import expit

BAND = "age_band"
BAND_LEVELS = ("lt65", "ge65_lt_s1", "s1_age")


@dataclass(frozen=True)
class Coding:
    """The coded variables of the propensity-score model: names, levels, and the design-matrix layout."""

    variables: tuple  # coded variable names (BAND first)
    levels: tuple  # per variable, its level codes
    offsets: tuple  # per variable, first design column of its non-reference levels
    n_columns: int

    @property
    def sizes(self) -> list[int]:
        return [len(lv) for lv in self.levels]

    def onehot_offsets(self) -> np.ndarray:
        """Start of each variable in the one-hot (all levels) layout."""
        return np.cumsum([0] + self.sizes)


@lru_cache(maxsize=None)
def coding() -> Coding:
    """The coding of the study's propensity-score covariates (age_group and concurrent_chemo as one band)."""
    from psmbook.study.description import load_study

    study = load_study()
    variables, levels = [BAND], [BAND_LEVELS]
    for var in study.psm_covariates:
        if var.column in ("age_group", "concurrent_chemo"):
            continue
        variables.append(var.column)
        levels.append(tuple(var.codes))
    offsets, col = [], 1
    for lv in levels:
        offsets.append(col)
        col += len(lv) - 1
    return Coding(tuple(variables), tuple(levels), tuple(offsets), col)


def encode(base: dict) -> np.ndarray:
    """Integer codes (patients x coded variables) from the generator's categorical columns: the age band
    from ``base["age"]`` (band labels ``BAND_LEVELS``) or from age_group and concurrent_chemo."""
    cd = coding()
    n = len(base["arm"])
    out = np.zeros((n, len(cd.variables)), dtype=np.int64)
    if "age" in base:
        index = {lv: i for i, lv in enumerate(BAND_LEVELS)}
        out[:, 0] = [index[v] for v in base["age"]]
    else:
        age_group, chemo = np.asarray(base["age_group"]), np.asarray(base["concurrent_chemo"])
        out[:, 0] = np.where(age_group == "lt65", 0, np.where(chemo == "s1", 2, 1))
    for k, name in enumerate(cd.variables[1:], 1):
        index = {lv: i for i, lv in enumerate(cd.levels[k])}
        out[:, k] = [index[v] for v in base[name]]
    return out


def decode(codes: np.ndarray) -> dict:
    """The categorical columns (age_group, concurrent_chemo and the others) of integer codes."""
    cd = coding()
    band = codes[:, 0]
    out = {
        "age_group": np.where(band == 0, "lt65", "ge65").astype(object),
        "concurrent_chemo": np.where(band == 2, "s1", "docetaxel_cisplatin").astype(object),
    }
    for k, name in enumerate(cd.variables[1:], 1):
        out[name] = np.array(cd.levels[k], dtype=object)[codes[:, k]]
    return out


def design_matrix(codes: np.ndarray) -> np.ndarray:
    """Intercept and indicators of every non-reference level (the first level of each variable is the
    reference; fitted probabilities do not depend on that choice)."""
    cd = coding()
    codes = np.asarray(codes)
    x = np.zeros((len(codes), cd.n_columns))
    x[:, 0] = 1.0
    rows, k = np.nonzero(codes > 0)
    x[rows, np.asarray(cd.offsets)[k] + codes[rows, k] - 1] = 1.0
    return x


def onehot(codes: np.ndarray) -> np.ndarray:
    """Indicators of every level of every variable (patients x all levels): the Table 1 margins."""
    cd = coding()
    cols = [(codes[:, k][:, None] == np.arange(len(lv))[None, :]) for k, lv in enumerate(cd.levels)]
    return np.hstack(cols).astype(float)


def pattern_ids(codes: np.ndarray) -> np.ndarray:
    """One integer per covariate pattern (equal patterns, equal ids)."""
    sizes = coding().sizes
    mult = np.cumprod([1] + sizes[::-1][:-1])[::-1]
    return np.asarray(codes) @ mult


@lru_cache(maxsize=None)
def all_patterns() -> np.ndarray:
    """Every covariate pattern (rows in pattern-id order)."""
    return np.array(list(product(*[range(n) for n in coding().sizes])), dtype=np.int64)


def level_effects(beta: np.ndarray) -> np.ndarray:
    """The model's effect of every level (one-hot layout; reference levels 0, the band's middle level 0)."""
    cd = coding()
    eff = np.zeros(sum(cd.sizes))
    start = cd.onehot_offsets()
    for k, off in enumerate(cd.offsets):
        eff[start[k] + 1 : start[k + 1]] = beta[off : off + cd.sizes[k] - 1]
    band = eff[start[0] : start[1]]
    eff[start[0] : start[1]] = band - band[1]
    return eff


def newton(x: np.ndarray, y: np.ndarray, beta: np.ndarray | None = None, steps: int = 50, tol: float = 1e-11):
    """Maximum-likelihood logistic regression by Newton's method (from `beta`, or the null model)."""
    if beta is None:
        beta = np.zeros(x.shape[1])
        beta[0] = np.log(y.mean() / (1 - y.mean()))
    beta = np.array(beta, dtype=float)
    for _ in range(steps):
        p = expit(x @ beta)
        g = x.T @ (y - p)
        h = (x * (p * (1 - p))[:, None]).T @ x
        step = np.linalg.solve(h, g)
        beta = beta + step
        if np.abs(step).max() < tol:
            break
    return beta


def greedy_match(score: np.ndarray, treated: np.ndarray, caliper_sd: float = 0.2) -> np.ndarray:
    """Who the book's default matching selects: 1:1 nearest neighbour on `score`, largest first, without
    replacement, caliper `caliper_sd` SD of the score (ties: first in data order). Boolean mask."""
    score = np.asarray(score, dtype=float)
    treated = np.asarray(treated, dtype=bool)
    caliper = caliper_sd * float(np.std(score, ddof=1))
    tpos = np.flatnonzero(treated)
    cpos = np.flatnonzero(~treated)
    order = tpos[np.argsort(-score[tpos], kind="stable")]
    available = np.ones(len(cpos), dtype=bool)
    cs = score[cpos]
    matched = np.zeros(len(score), dtype=bool)
    for t in order:
        gap = np.where(available, np.abs(cs - score[t]), np.inf)
        j = int(np.argmin(gap))
        if gap[j] <= caliper:
            available[j] = False
            matched[t] = matched[cpos[j]] = True
    return matched


def nearest_in_sorted(values: list[float], x: float) -> tuple[float, int]:
    """Distance from ``x`` to the nearest of the ascending ``values``, and its position (inf, -1 if empty);
    a tie goes to the lower value, as the greedy match's first-in-order rule does for sorted controls."""
    p = bisect.bisect_left(values, x)
    d, j = np.inf, -1
    if p > 0:
        d, j = x - values[p - 1], p - 1
    if p < len(values) and values[p] - x < d:
        d, j = values[p] - x, p
    return d, j


def paper_match(df) -> np.ndarray:
    """Who the paper's matching (the book's default: 11 covariates, unpenalised logit, 1:1 nearest
    neighbour without replacement, largest score first, caliper 0.2 SD) selects in a synthetic cohort,
    by the generator's own copy of it (the tests check it against the book's matcher). Boolean mask."""
    codes = encode({c: df[c].to_numpy() for c in df.columns})
    treated = (df["arm"] == "anlotinib").to_numpy()
    x = design_matrix(codes)
    return greedy_match(x @ newton(x, treated.astype(float)), treated)


#: Group codes of the matched design: matched treated, unmatched treated, matched control, unmatched control.
TM, TU, CM, CU = 0, 1, 2, 3


class MatchedSequence:
    """The part of :func:`design_penalty` that depends only on the matched patients' scores: each
    matched-treated patient's nearest designed control at its turn, and the designed controls still
    available at each unmatched-treated patient's turn. With the score model fixed, moves among the
    unmatched patients leave it unchanged, and :meth:`penalty` is then cheap."""

    def __init__(self, score, group):
        s = np.asarray(score, dtype=float)
        tidx = np.flatnonzero(group <= TU)
        order = tidx[np.argsort(-s[tidx], kind="stable")]
        cm = sorted(s[group == CM].tolist())
        best, tu_avail, tm_x, tu_x = [], [], [], []
        for t in order.tolist():
            x = s[t]
            if group[t] == TM:
                d, j = nearest_in_sorted(cm, x)
                best.append(d)
                tm_x.append(x)
                if j >= 0:
                    del cm[j]
            else:
                tu_x.append(x)
                tu_avail.append(np.array(cm))
        self.best, self.tm_x, self.tu_x = np.array(best), np.array(tm_x), np.array(tu_x)
        width = max([len(a) for a in tu_avail] + [1])
        self.tu_avail = np.full((len(tu_avail), width), np.inf)
        for r, a in enumerate(tu_avail):
            self.tu_avail[r, : len(a)] = a

    def penalty(self, score, group, delta: float = 1e-5, caliper_sd: float = 0.2, caliper_margin: float = 0.0):
        """:func:`design_penalty` (the number only), given the unmatched patients' current scores."""
        s = np.asarray(score, dtype=float)
        caliper = caliper_sd * float(np.std(s, ddof=1))
        cu = np.sort(s[group == CU])
        pos = np.searchsorted(cu, self.tm_x)
        left = np.where(pos > 0, self.tm_x - cu[np.maximum(pos - 1, 0)], np.inf)
        right = np.where(pos < len(cu), cu[np.minimum(pos, len(cu) - 1)] - self.tm_x, np.inf)
        du = np.minimum(left, right)
        pen = np.maximum(0.0, self.best + delta - du).sum()
        pen += np.maximum(0.0, self.best - (caliper - delta - caliper_margin)).sum()
        limit = caliper + delta + caliper_margin
        if len(self.tu_x):
            tm = np.sort(self.tm_x)
            k = np.searchsorted(tm, self.tu_x - delta)
            pen += delta * float(((k < len(tm)) & (tm[np.minimum(k, len(tm) - 1)] <= self.tu_x + delta)).sum())
            x = self.tu_x[:, None]
            pen += np.maximum(0.0, limit - np.abs(self.tu_avail - x)).sum()
            pen += np.maximum(0.0, limit - np.abs(cu[None, :] - x)).sum()
        return float(pen)


def design_penalty(score, group, delta: float = 1e-5, caliper_sd: float = 0.2, caliper_margin: float = 0.0):
    """How far the book's matching is from selecting exactly the designed groups.

    Runs the greedy match in the book's order, but each matched-treated patient (group TM) takes the
    nearest *designed* control still available (group CM). It is charged when an unmatched control
    (CU) lies nearer than that control (by less than `delta`) or when that control lies beyond the
    caliper (within `delta`); each unmatched-treated patient (TU) is charged for every control still
    available within the caliper plus `delta`. Zero means the real matching selects the designed groups
    with every decision `delta` clear of a tie, so rounding cannot change it. `caliper_margin` asks the
    comparisons with the caliper to be that much clearer still (a design that survives a small refit).

    Returns (penalty, violations as (treated, offending control or -1), caliper).
    """
    s = np.asarray(score, dtype=float)
    caliper = caliper_sd * float(np.std(s, ddof=1))
    tidx = np.flatnonzero(group <= TU)
    order = tidx[np.argsort(-s[tidx], kind="stable")]
    cm_idx = np.flatnonzero(group == CM)
    cm_idx = cm_idx[np.argsort(s[cm_idx], kind="stable")]
    cm_s, cm_i = s[cm_idx].tolist(), cm_idx.tolist()
    cu_idx = np.flatnonzero(group == CU)
    cu_idx = cu_idx[np.argsort(s[cu_idx], kind="stable")]
    cu_s = s[cu_idx]
    ts = s[order]
    tm_sorted = np.sort(s[group == TM])
    pos = np.searchsorted(cu_s, ts)
    lpos, rpos = np.maximum(pos - 1, 0), np.minimum(pos, len(cu_s) - 1)
    left = np.where(pos > 0, ts - cu_s[lpos], np.inf)
    right = np.where(pos < len(cu_s), cu_s[rpos] - ts, np.inf)
    near_cu = np.minimum(left, right).tolist()
    near_cu_i = np.where(left <= right, cu_idx[lpos], cu_idx[rpos]).tolist()
    penalty, violations = 0.0, []
    for t, x, du, dui in zip(order.tolist(), ts.tolist(), near_cu, near_cu_i):
        best, bj = nearest_in_sorted(cm_s, x)
        if group[t] == TM:
            v = max(0.0, best + delta - du) + max(0.0, best - (caliper - delta - caliper_margin))
            if v > 0:
                penalty += v
                violations.append((t, dui if best + delta > du else -1))
            if bj >= 0:
                del cm_s[bj]
                del cm_i[bj]
        else:
            # a matched treated patient at (nearly) the same score: the order of the two is a tie
            k = np.searchsorted(tm_sorted, x - delta)
            if k < len(tm_sorted) and tm_sorted[k] <= x + delta:
                penalty += delta
                violations.append((t, -1))
            limit = caliper + delta + caliper_margin
            if min(best, du) < limit:
                lo, hi = bisect.bisect_left(cm_s, x - limit), bisect.bisect_right(cm_s, x + limit)
                v = sum(limit - abs(x - c) for c in cm_s[lo:hi])
                a, b = np.searchsorted(cu_s, x - limit), np.searchsorted(cu_s, x + limit, side="right")
                v += float((limit - np.abs(cu_s[a:b] - x)).sum())
                penalty += v
                violations.append((t, cm_i[bj] if best < du and bj >= 0 else dui))
    return penalty, violations, caliper
