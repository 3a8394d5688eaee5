"""What a printed Cox row (HR, 95% CI, p) says about the estimate behind it, found by construction.

A row of Table 3 prints four numbers, each rounded: the hazard ratio, the two confidence limits and the Wald
p-value. All four are functions of two quantities, the log hazard ratio b and its standard error s:
HR = exp(b), limits exp(b -/+ z s), p = 2 (1 - Phi(|b| / s)). Each printed number confines (b, s) to a band
(the values that print as printed), and a row is possible only if its bands meet. The same holds for a
log-rank p-value, which confines the test's chi-square statistic to an interval.

For every row the generator looks for the largest set of its printed numbers (the table's and the text's
copies) that some (b, s) satisfies together, and aims at the point deepest inside their common region.
A printed number outside that set cannot be reproduced together with the others of its row by any dataset:
an inconsistency found by construction, listed for the audit.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Optional

import numpy as np
from scipy import stats

from psmbook.study.published import load_published, printed_text

#: z of a two-sided 95% interval, as lifelines and R compute it.
Z95 = float(stats.norm.ppf(0.975))

_COX_ID = re.compile(r"^(?:table3|text\.cox|abstract\.cox)\.(univariate|multivariate)\.(.+)\.(hr|ci_low|ci_high|p)$")

_LOGRANK_ID = re.compile(r"^(?:text|abstract)\.survival\.(os|pfs)\.(before|after)\.p$")


def _band(printed: str, value: float) -> tuple[float, float]:
    """The values that print as `printed` (rounded half up at its decimals; p-values as psmbook compares them)."""
    m = re.search(r"\d+(?:\.(\d+))?", printed)
    decimals = len(m[1]) if m and m[1] else 0
    half = 0.5 * 10.0 ** (-decimals)
    return value - half, value + half


@dataclass(frozen=True)
class RowTarget:
    """One Cox row (``model``: univariate / multivariate; ``term``: ``column.level``): the point (``log_hr``,
    ``se``) the generator aims at, deepest inside the region where every number of ``ids`` prints as printed;
    ``aims``: per printed number (kind, its function's value at that point, half the width of its band, the middle
    of its band); and the
    printed numbers ``impossible`` with them (id -> why)."""

    model: str
    term: str
    log_hr: float
    se: float
    aims: tuple
    ids: tuple[str, ...]
    impossible: Mapping[str, str]

    @property
    def column(self) -> str:
        return self.term.split(".", 1)[0]


def _constraints(entries: list) -> list[tuple[str, str, float, float]]:
    """(id, kind, low, high) for each printed number: bands on b (hr), b - z s (ci_low), b + z s (ci_high) and
    |b| / s (p; a printed "< x" is the band above the z of x)."""
    out = []
    for e in entries:
        text = printed_text(e)
        if e.kind == "p":
            if text.lstrip().startswith("<"):
                lo_p, hi_p = 0.0, float(re.sub(r"[^\d.]", "", text))
            else:
                lo_p, hi_p = _band(text, float(e.value))
            z_hi = np.inf if lo_p <= 0 else float(stats.norm.isf(lo_p / 2))
            out.append((e.id, "p", float(stats.norm.isf(min(hi_p, 1.0) / 2)), z_hi))
        else:
            lo, hi = _band(text, float(e.value))
            out.append((e.id, e.kind, math.log(max(lo, 1e-12)), math.log(hi)))
    return out


def row_functions(b, s) -> dict:
    """What a Cox row prints, as functions of the log hazard ratio b and its SE s: log HR, log lower and upper
    95% limits, and |z| (whose Wald p is printed)."""
    return {"hr": b, "ci_low": b - Z95 * s, "ci_high": b + Z95 * s, "p": np.abs(b) / s}


def _functions(kind: str, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    return row_functions(b, s)[kind]


def _slack(cons, b, s) -> np.ndarray:
    """Per constraint and grid point: how deep inside its band (1 at the middle, 0 at an edge, < 0 outside)."""
    out = []
    for _, kind, lo, hi in cons:
        f = _functions(kind, b, s)
        if np.isinf(hi):
            out.append(np.where(f >= lo, 1.0, -1.0))
        else:
            mid, half = (lo + hi) / 2, (hi - lo) / 2
            out.append(1 - np.abs(f - mid) / half)
    return np.array(out)


def _deepest(cons, b0: float, s0: float, width_b: float, width_s: float):
    """Over a grid around (b0, s0): for the largest satisfiable subset of `cons` (all first), the subset and the
    grid point deepest inside all its bands, or None."""
    b = np.linspace(b0 - width_b, b0 + width_b, 161)
    s = np.linspace(max(s0 - width_s, 1e-4), s0 + width_s, 161)
    bb, ss = (g.ravel() for g in np.meshgrid(b, s, indexing="ij"))
    slack = _slack(cons, bb, ss)
    for size in range(len(cons), 0, -1):
        best = None
        for subset in itertools.combinations(range(len(cons)), size):
            depth = slack[list(subset)].min(axis=0)
            k = int(np.argmax(depth))
            if depth[k] > 0 and (best is None or depth[k] > best[1]):
                best = (subset, float(depth[k]), float(bb[k]), float(ss[k]))
        if best is not None:
            return best
    return None


def row_target(model: str, term: str, entries: list) -> RowTarget:
    """The target of one row from its printed numbers (see the module's docstring)."""
    cons, ids_of = [], {}
    for pid, kind, lo, hi in _constraints(entries):  # a copy printed alike is one constraint
        key = (kind, round(lo, 12), round(hi, 12))
        if key not in ids_of:
            cons.append((pid, kind, lo, hi))
        ids_of.setdefault(key, []).append(pid)
    cons_ids = [ids_of[(kind, round(lo, 12), round(hi, 12))] for _, kind, lo, hi in cons]
    by_kind = {kind: (lo, hi) for _, kind, lo, hi in cons}
    b0 = sum(by_kind.get("hr", (0.0, 0.0))) / 2
    if "ci_low" in by_kind and "ci_high" in by_kind:
        s0 = (sum(by_kind["ci_high"]) - sum(by_kind["ci_low"])) / (4 * Z95)
        if "hr" not in by_kind:
            b0 = (sum(by_kind["ci_high"]) + sum(by_kind["ci_low"])) / 4
    else:
        s0 = 0.25
    width_b, width_s, found = 0.02, 0.02, None
    for _ in range(4):  # zoom in on the deepest point: each grid 16 times finer than the last
        step = _deepest(cons, b0, s0, width_b, width_s)
        if step is None:
            break
        found = step
        _, _, b0, s0 = step
        width_b, width_s = width_b / 16, width_s / 16
    if found is None:
        raise ValueError(f"Table 3, {model} {term}: no hazard ratio and standard error print as any one number")
    subset, _, b0, s0 = found
    kept = [pid for i in subset for pid in cons_ids[i]]
    impossible = {
        pid: f"no hazard ratio and standard error print as it together with {', '.join(kept)}"
        for i in range(len(cons))
        if i not in subset
        for pid in cons_ids[i]
    }
    centres = tuple(
        (c[1], float(_functions(c[1], np.array(b0), np.array(s0))), (c[3] - c[2]) / 2, (c[3] + c[2]) / 2)
        for c in (cons[i] for i in subset)
        if np.isfinite(c[3])
    )
    return RowTarget(model, term, b0, s0, centres, tuple(kept), impossible)


def cox_row_targets(published: Optional[Mapping] = None) -> list[RowTarget]:
    """Every printed Cox row of Table 3 (univariate, multivariate), with the text's and the abstract's copies."""
    if published is None:
        return list(_package_rows())
    rows: dict[tuple[str, str], list] = {}
    for pid, entry in published.items():
        m = _COX_ID.match(pid)
        if m:
            rows.setdefault((m[1], m[2]), []).append(entry)
    return [row_target(model, term, entries) for (model, term), entries in rows.items()]


@lru_cache(maxsize=1)
def _package_rows() -> tuple[RowTarget, ...]:
    return tuple(cox_row_targets(load_published()))


def treatment_rows(treatment: str = "arm.anlotinib") -> list[RowTarget]:
    """The treatment's univariate row of Table 3 (none if the paper prints none), the outcome search's aim."""
    return [r for r in cox_row_targets() if r.model == "univariate" and r.term == treatment]


def table3_rows(treatment: str = "arm.anlotinib") -> list[RowTarget]:
    """Table 3's univariate rows other than the `treatment`'s (the characteristics' rows)."""
    return [r for r in cox_row_targets() if r.model == "univariate" and r.term != treatment]


def adjusted_rows() -> list[RowTarget]:
    """The printed rows of Table 3's multivariable model (the factors the paper selected, and the treatment)."""
    return [r for r in cox_row_targets() if r.model == "multivariate"]


@dataclass(frozen=True)
class LogrankTarget:
    """A printed log-rank p (``endpoint``, ``period``) as the interval [``chi2_low``, ``chi2_high``] of the test
    statistic that prints as it."""

    endpoint: str
    period: str
    chi2_low: float
    chi2_high: float
    ids: tuple[str, ...]

    @property
    def chi2(self) -> float:
        return (self.chi2_low + self.chi2_high) / 2


def logrank_targets(published: Optional[Mapping] = None) -> list[LogrankTarget]:
    """The printed log-rank p-values of OS and PFS, whole and matched cohort (a copy printed alike counted once)."""
    if published is None:
        published = load_published()
    groups: dict[tuple[str, str], list] = {}
    for pid, entry in published.items():
        m = _LOGRANK_ID.match(pid)
        if m and not printed_text(entry).startswith("<"):
            groups.setdefault((m[1], m[2]), []).append(entry)
    out = []
    for (endpoint, period), entries in groups.items():
        lo_p, hi_p = (
            max(_band(printed_text(e), float(e.value))[0] for e in entries),
            min(_band(printed_text(e), float(e.value))[1] for e in entries),
        )
        chi_lo, chi_hi = (float(stats.chi2.isf(p, 1)) for p in (hi_p, lo_p))
        out.append(LogrankTarget(endpoint, period, chi_lo, chi_hi, tuple(e.id for e in entries)))
    return out
