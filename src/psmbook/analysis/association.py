"""Tests of association for an r x 2 contingency table (levels x arms), and recovery of the test a
paper used from the p-value it printed.

The paper says only that "between-group differences were analyzed using either the chi-squared test or
Fisher's exact test" (SPSS 22). SPSS's Crosstabs prints, for one table, the Pearson chi-squared test,
the continuity-corrected (Yates) chi-squared test (2 x 2 only), the likelihood-ratio chi-squared test
and Fisher's exact test; :func:`infer_paper_test` finds which of these reproduces a printed p-value.

Reference: Agresti A. *Categorical Data Analysis*, 3rd ed. Wiley, 2013 -- sections 3.2 (Pearson and
likelihood-ratio chi-squared tests of independence), 3.5 (Fisher's exact test and its r x c
generalisation, the Freeman-Halton test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
from scipy import stats
from scipy.special import gammaln

from psmbook.present.format import format_p

__all__ = [
    "TEST_CHOICES",
    "TEST_LABELS",
    "TestInference",
    "as_table",
    "pearson_chi2",
    "yates_chi2",
    "fisher_exact",
    "likelihood_ratio_chi2",
    "run_test",
    "expected_counts",
    "rule_based_test",
    "paper_test_candidates",
    "infer_paper_test",
    "parse_printed_p",
    "reproduces",
]

#: Candidate tests, in the order used to break ties when several reproduce a printed p-value:
#: Pearson first (the first line of SPSS's "Chi-Square Tests" box), then Fisher's exact test (the
#: other test the paper names), then the Yates-corrected test, then the likelihood-ratio test.
TEST_CHOICES: tuple[str, ...] = ("pearson", "fisher", "yates", "likelihood_ratio")

#: Names as a reader of the paper would say them.
TEST_LABELS: dict[str, str] = {
    "pearson": "Pearson χ²",
    "fisher": "Fisher's exact test",
    "yates": "Yates-corrected χ²",
    "likelihood_ratio": "likelihood-ratio χ²",
}

# R's fisher.test: tables whose probability is within this relative tolerance of the observed one
# count as "as or more extreme".
_FISHER_RELTOL = 1e-7
# Refuse to list more than this many partial tables for one half of the rows.
_FISHER_MAX_TABLES = 20_000_000


def as_table(table) -> np.ndarray:
    """Return `table` as an integer array of shape (r, 2), r >= 1, rows = levels, columns = arms.

    Accepts anything array-like (list of lists, numpy array, pandas DataFrame). Raises ValueError for
    another shape, negative or non-integer counts.
    """
    arr = np.asarray(getattr(table, "values", table), dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(f"expected an r x 2 table of counts (levels x arms), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise ValueError(f"counts must be non-negative integers, got {arr.tolist()}")
    return arr.astype(np.int64)


def _informative(arr: np.ndarray) -> np.ndarray:
    """Drop empty rows and columns (a level nobody has does not enter the test, as in SPSS)."""
    return arr[arr.sum(axis=1) > 0][:, arr.sum(axis=0) > 0]


def _chi2_test(table, lambda_: str, correction: bool) -> float:
    arr = _informative(as_table(table))
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        return float("nan")  # one level or one arm only: no test of association (df = 0)
    res = stats.chi2_contingency(arr, correction=correction, lambda_=lambda_)
    return float(res.pvalue)


def pearson_chi2(table, yates: bool = False) -> float:
    """Pearson's chi-squared test of independence, X² = Σ (O − E)² / E on (r − 1) df (Agresti §3.2).

    With ``yates=True`` the continuity-corrected statistic Σ (|O − E| − ½)² / E of a 2 x 2 table
    (SPSS's "Continuity Correction" line; |O − E| − ½ is floored at 0 as in R's chisq.test). Yates's
    correction is defined for 2 x 2 tables only; asking for it on a larger table raises ValueError.
    Returns NaN when fewer than two non-empty levels remain (no test; df = 0).
    """
    arr = as_table(table)
    if yates and arr.shape[0] != 2:
        raise ValueError(f"Yates's continuity correction is for 2 x 2 tables; this table is {arr.shape[0]} x 2")
    return _chi2_test(arr, "pearson", correction=yates)


def yates_chi2(table) -> float:
    """Yates-corrected chi-squared test of a 2 x 2 table (see :func:`pearson_chi2`)."""
    return pearson_chi2(table, yates=True)


def likelihood_ratio_chi2(table) -> float:
    """Likelihood-ratio chi-squared test (G-test), G² = 2 Σ O log(O / E) on (r − 1) df (Agresti §3.2).

    SPSS prints it as "Likelihood Ratio" under Pearson's test. NaN when df = 0.
    """
    return _chi2_test(table, "log-likelihood", correction=False)


def _log_comb(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def _margins(arr: np.ndarray):
    rows = arr.sum(axis=1).astype(np.int64)
    c1 = int(arr[:, 0].sum())
    n = int(rows.sum())
    lo = np.maximum(0, rows - (n - c1))
    hi = np.minimum(rows, c1)
    log_denom = float(_log_comb(np.array(n), np.array(c1)))
    obs = float(np.sum(_log_comb(rows, arr[:, 0]))) - log_denom
    return rows, c1, n, lo, hi, log_denom, obs


def _partial_columns(rows, lo, hi, cap: int, need_min: int = 0, rest_hi: int = 0):
    """All partial first columns over `rows` as (sum, log Π C(R_i, x_i)), with x_i in [lo_i, hi_i],
    keeping sums <= cap and sums + rest_hi >= need_min (those that can still complete the column)."""
    sums = np.zeros(1, dtype=np.int64)
    logp = np.zeros(1)
    suffix_hi = np.concatenate([np.cumsum(hi[::-1])[::-1], [0]])
    for i, r in enumerate(rows):
        xs = np.arange(lo[i], hi[i] + 1, dtype=np.int64)
        lx = _log_comb(np.full(xs.shape, r, dtype=float), xs.astype(float))
        sums = (sums[:, None] + xs[None, :]).ravel()
        logp = (logp[:, None] + lx[None, :]).ravel()
        keep = (sums <= cap) & (sums + suffix_hi[i + 1] + rest_hi >= need_min)
        sums, logp = sums[keep], logp[keep]
        if sums.size > _FISHER_MAX_TABLES:
            raise ValueError(
                f"Fisher exact test: more than {_FISHER_MAX_TABLES:,} partial tables to enumerate for "
                f"row totals {rows.tolist()}; use a chi-squared test or a Monte Carlo p-value"
            )
    return sums, logp


def _fisher_rx2_direct(arr: np.ndarray) -> float:
    """Fisher-Freeman-Halton p of an r x 2 table by listing every table with the observed margins."""
    rows, c1, n, lo, hi, log_denom, obs = _margins(arr)
    sums, logp = _partial_columns(rows, lo, hi, cap=c1, need_min=c1)
    logp = logp[sums == c1] - log_denom
    return min(1.0, float(np.exp(logp[logp <= obs + math.log1p(_FISHER_RELTOL)]).sum()))


def _fisher_rx2(arr: np.ndarray) -> float:
    """Fisher-Freeman-Halton exact test of an r x 2 table by full enumeration.

    Conditional on both margins the first column is multivariate hypergeometric,
    P(x) = Π C(R_i, x_i) / C(N, C_1), over the compositions x of C_1 bounded by the row totals. The
    p-value is the total probability of the tables no more probable than the observed one (R's relative
    tolerance 1e-7). Every table is accounted for, but to stay fast the rows are split in two halves:
    each half's partial columns are listed once, and for each partial sum s of the first half the
    matching second-half columns (sum C_1 − s), sorted by probability, are summed with a prefix sum.
    """
    rows, c1, n, lo, hi, log_denom, obs = _margins(arr)
    k = len(rows) // 2
    a_sums, a_logp = _partial_columns(rows[:k], lo[:k], hi[:k], cap=c1, need_min=c1, rest_hi=int(hi[k:].sum()))
    b_sums, b_logp = _partial_columns(rows[k:], lo[k:], hi[k:], cap=c1, need_min=c1 - int(hi[:k].sum()))
    threshold = obs + math.log1p(_FISHER_RELTOL) + log_denom  # on Σ log C(R_i, x_i)
    order = np.lexsort((b_logp, b_sums))
    b_sums, b_logp = b_sums[order], b_logp[order]
    total = 0.0
    for s in np.unique(a_sums):
        la = a_logp[a_sums == s]
        start, stop = np.searchsorted(b_sums, [c1 - s, c1 - s + 1])
        if start == stop:
            continue
        lb = b_logp[start:stop]  # ascending
        shift = float(lb[-1])
        cum = np.concatenate([[0.0], np.cumsum(np.exp(lb - shift))])
        idx = np.searchsorted(lb, threshold - la, side="right")
        total += float(np.sum(np.exp(la + shift - log_denom) * cum[idx]))
    return min(1.0, total)


def fisher_exact(table) -> float:
    """Two-sided Fisher exact test (Agresti §3.5).

    For a 2 x 2 table, scipy's conditional test (the sum of hypergeometric probabilities no larger than
    the observed one, i.e. the same p as R's ``fisher.test``). For an r x 2 table, the
    Fisher-Freeman-Halton generalisation computed by full enumeration of the tables with the observed
    margins, with R's tolerance of 1e-7 on "as probable as observed" (what SPSS's Exact Tests module
    prints as "Fisher's Exact Test" for r x c tables). Empty rows are dropped; with one non-empty level
    or arm only, p = 1.
    """
    arr = _informative(as_table(table))
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        return 1.0
    if arr.shape[0] == 2:
        return float(stats.fisher_exact(arr, alternative="two-sided").pvalue)
    return _fisher_rx2(arr)


def expected_counts(table) -> np.ndarray:
    """Expected counts under independence, E_ij = R_i C_j / N (empty rows and arms dropped)."""
    arr = _informative(as_table(table)).astype(float)
    if arr.size == 0:
        return np.zeros((0, 0))
    return np.outer(arr.sum(axis=1), arr.sum(axis=0)) / arr.sum()


def rule_based_test(table) -> str:
    """The choice made by the rule of thumb common in medical-statistics teaching (after Cochran).

    2 x 2 tables: Pearson χ² when N >= 40 and every expected count is >= 5; Yates-corrected χ² when
    N >= 40 and the smallest expected count is in [1, 5); Fisher's exact test when N < 40 or some
    expected count is < 1. Larger tables: Pearson χ². This is the pattern the paper's printed p-values
    follow (see the chapter on Table 1); it is an observation about the numbers, not a documented choice.
    """
    arr = _informative(as_table(table))
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        return "fisher"
    if arr.shape[0] > 2:
        return "pearson"
    n = int(arr.sum())
    e_min = float(expected_counts(arr).min())
    if n < 40 or e_min < 1:
        return "fisher"
    if e_min < 5:
        return "yates"
    return "pearson"


_TESTS = {
    "pearson": lambda t: pearson_chi2(t),
    "fisher": fisher_exact,
    "yates": yates_chi2,
    "likelihood_ratio": likelihood_ratio_chi2,
}


def run_test(table, test: str) -> float:
    """p-value of `table` under the named test (one of :data:`TEST_CHOICES`, or ``"rule"`` for
    :func:`rule_based_test`).

    ``"yates"`` on a table with more than two levels falls back to Pearson's test: a reader asking for
    the "corrected" test of a 3-level variable gets what SPSS prints (no correction exists).
    """
    if test == "rule":
        test = rule_based_test(table)
    if test not in _TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {', '.join(TEST_CHOICES)} or 'rule'")
    if test == "yates":  # on the levels someone has: a declared level with no patients is no row of the test
        informative = _informative(as_table(table))
        return pearson_chi2(table) if informative.shape[0] != 2 else yates_chi2(informative)
    return _TESTS[test](table)


def paper_test_candidates(table) -> dict[str, float]:
    """p-values of every candidate test of :data:`TEST_CHOICES` that applies to `table`.

    Yates's corrected test is included for 2 x 2 tables only.
    """
    arr = as_table(table)
    out: dict[str, float] = {}
    for name in TEST_CHOICES:
        if name == "yates" and _informative(arr).shape[0] != 2:
            continue
        out[name] = _TESTS[name](arr)
    return out


# ----------------------------------------------------------------------------------------------------
# Printed p-values


def parse_printed_p(printed: Union[str, float, int]) -> tuple[float, int, bool]:
    """Read a printed p-value: returns (value, decimals, is_upper_bound).

    "0.026" -> (0.026, 3, False); "<0.001" -> (0.001, 3, True); "0.04" -> (0.04, 2, False). A number
    is taken as printed with three decimals (the paper's tables), unless it has more.
    """
    if isinstance(printed, (int, float, np.floating, np.integer)) and not isinstance(printed, bool):
        value = float(printed)
        s = repr(round(value, 10))
        decimals = max(3, len(s.split(".")[1]) if "." in s and "e" not in s else 3)
        return value, decimals, False
    s = str(printed).strip().replace(" ", "").replace("p", "").replace("=", "")
    upper = s.startswith("<")
    s = s.lstrip("<≤")
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"cannot read a p-value from {printed!r}") from None
    decimals = len(s.split(".")[1]) if "." in s else 0
    return value, decimals, upper


def reproduces(p: float, printed: Union[str, float]) -> bool:
    """Whether computed `p` prints as `printed` at the printed precision ("<0.001": p < 0.001)."""
    if p is None or math.isnan(p):
        return False
    value, decimals, upper = parse_printed_p(printed)
    if upper:
        return p < value
    # Compare by rounding half away from zero at the printed number of decimals, with a tiny slack so
    # that a p sitting exactly on a rounding boundary is not lost to binary representation.
    half = 0.5 * 10.0 ** (-decimals)
    return abs(p - value) <= half * (1 + 1e-9)


@dataclass(frozen=True)
class TestInference:
    """Which candidate test reproduces a published p-value.

    Attributes: `test` (key of :data:`TEST_CHOICES`), `p` (its p-value), `candidates` (every candidate's
    p), `reproduces` (whether `p` prints as the published value at the printed precision), `published`
    (the printed value as text), `matching` (all candidates that reproduce it), `explanation` (one
    line for a reader) and `min_expected` (the smallest expected count, which decides between the
    tests in the usual rule of thumb, see :func:`rule_based_test`).
    """

    test: str
    p: float
    candidates: dict[str, float]
    reproduces: bool
    published: str
    matching: tuple[str, ...] = field(default_factory=tuple)
    explanation: str = ""
    min_expected: float = float("nan")

    @property
    def label(self) -> str:
        return TEST_LABELS[self.test]


def _p4(p: float) -> str:
    return "–" if p is None or math.isnan(p) else f"{p:.4f}"


def _printed_text(published_p, printed) -> str:
    if printed is not None:
        return str(printed).strip()
    if isinstance(published_p, str):
        return published_p.strip()
    return format_p(float(published_p))


def infer_paper_test(table, published_p: Union[float, str], printed: Optional[str] = None) -> TestInference:
    """Recover the test behind a published p-value of `table`.

    The chosen test is the first candidate, in the order of :data:`TEST_CHOICES` (Pearson χ², Fisher,
    Yates, likelihood ratio), whose p prints as the published one at the printed precision (`printed`,
    e.g. "0.04" or "<0.001"; by default the paper's three decimals). If none does, the candidate closest
    to the published value on the log scale is chosen and the inference says it does not reproduce.
    """
    text = _printed_text(published_p, printed)
    target, _, upper = parse_printed_p(text)
    cands = paper_test_candidates(table)
    expected = expected_counts(table)
    e_min = float(expected.min()) if expected.size else float("nan")
    matching = tuple(name for name in TEST_CHOICES if name in cands and reproduces(cands[name], text))
    shown = ", ".join(f"{TEST_LABELS[k]} {_p4(v)}" for k, v in cands.items())
    shown += f"; smallest expected count {e_min:.2f}"
    if matching:
        best = matching[0]
        others = [TEST_LABELS[m] for m in matching[1:]]
        also = f" (also {', '.join(others)})" if others else ""
        expl = f"{TEST_LABELS[best]} reproduces published p={text}{also}; candidates: {shown}"
        return TestInference(best, cands[best], cands, True, text, matching, expl, e_min)

    def distance(name: str) -> float:
        p = cands[name]
        if p is None or math.isnan(p) or p <= 0:
            return math.inf
        if upper and p < target:
            return 0.0
        return abs(math.log(p) - math.log(max(target, 1e-300)))

    best = min((k for k in TEST_CHOICES if k in cands), key=distance)
    expl = (
        f"no candidate reproduces published p={text}; closest is {TEST_LABELS[best]} "
        f"{_p4(cands[best])}; candidates: {shown}"
    )
    return TestInference(best, cands[best], cands, False, text, (), expl, e_min)
