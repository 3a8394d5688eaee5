"""An audit of the paper's internal consistency: every check recomputes what the printed numbers imply.

The paper's numbers come from ``psmbook/data/published.yaml`` (:mod:`psmbook.study.published`); nothing is
typed here. Each check gives a :class:`Finding` with a verdict:

- ``"consistent"``: the printed number is what its own inputs give, at the printed precision;
- ``"needs an unstated choice"``: it is reproduced only under a choice the paper does not state (a test
  the Methods do not name, rows left out of a test, a matching caliper, a release date);
- ``"inconsistent"``: no reading of the printed inputs gives the printed number.

Families of checks (the ``check`` field): ``"p-value"`` (categorical p-values recomputed from the
printed counts with the candidate tests of :mod:`psmbook.analysis.association`), ``"percentage"`` (n / N,
rounded half up to one decimal as SPSS prints), ``"hazard ratio"`` (a Wald confidence interval
exp(b ± 1.96 SE) is symmetric about the HR on the log scale, and implies the p-value
2[1 − Φ(|ln HR| / SE)] with SE = (ln high − ln low) / (2 × 1.96)), ``"subgroup total"`` (parts against
their whole), ``"landmark"`` (with follow-up complete past a landmark and nobody lost, a Kaplan–Meier
rate is k/N for a whole k), ``"date"`` and ``"text vs table"`` (the same quantity printed twice).

:func:`run_audit` returns the findings (consistent ones too, so that a reader sees how much was
checked), :func:`audit_table` lays them out, :func:`audit_summary` counts them by check and verdict,
:func:`not_checkable` lists what cannot be checked without the patients' data, and
:func:`provenance_note` states, as context, that the same cohort appears in a second publication.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from itertools import product
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import pandas as pd
from scipy.stats import norm

from psmbook.analysis.association import TEST_LABELS, infer_paper_test, parse_printed_p, rule_based_test
from psmbook.analysis.tables import percent
from psmbook.present.format import format_p
from psmbook.study.published import PublishedNumber, landmark_months, load_published, published_source

__all__ = [
    "CHECKS",
    "VERDICTS",
    "Finding",
    "run_audit",
    "audit_table",
    "audit_summary",
    "not_checkable",
    "provenance_note",
    "wald_check",
    "implied_counts",
]

#: Families of checks, in display order.
CHECKS: tuple[str, ...] = (
    "p-value",
    "percentage",
    "hazard ratio",
    "subgroup total",
    "landmark",
    "date",
    "text vs table",
)
#: Verdicts, most serious first.
VERDICTS: tuple[str, ...] = ("inconsistent", "needs an unstated choice", "consistent")

#: Arm codes of the published ids (CRT + anlotinib, CRT alone) and periods (before / after matching).
ARMS: tuple[str, str] = ("anlotinib", "crt")
PERIODS: tuple[str, str] = ("before", "after")
_ARM_WORDS = {"anlotinib": "CRT + anlotinib", "crt": "CRT alone"}

#: Normal quantile of a two-sided 95% Wald interval.
Z95 = float(norm.ppf(0.975))

#: Tests the Methods name ("either the χ² test or Fisher's exact test").
_NAMED_TESTS = ("pearson", "fisher")

_SHORT_TEST = {"pearson": "Pearson", "fisher": "Fisher", "yates": "Yates", "likelihood_ratio": "LR"}


@dataclass(frozen=True)
class Finding:
    """One check of the paper against itself.

    ``check``: family (one of :data:`CHECKS`); ``where``: table or section (from the ids' ``where``);
    ``ids``: the published ids involved; ``printed``: what the paper says; ``recomputed``: what its own
    numbers imply; ``verdict``: one of :data:`VERDICTS`; ``explanation``: one or two plain sentences;
    ``key``: a stable name of the check; ``values``: the recomputed numbers, for programs and tests.
    """

    check: str
    where: str
    ids: tuple[str, ...]
    printed: str
    recomputed: str
    verdict: str
    explanation: str
    key: str = ""
    values: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self):
        if self.check not in CHECKS:
            raise ValueError(f"unknown check {self.check!r}; one of {CHECKS}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; one of {VERDICTS}")


# ----------------------------------------------------------------------------------------------------
# Access to the published numbers


class _Pub:
    """The published numbers by id, with tolerant access (a mapping of PublishedNumber or plain values)."""

    def __init__(self, published: Optional[Mapping[str, Any]]):
        raw = load_published() if published is None else published
        self.m: dict[str, PublishedNumber] = {k: self._wrap(k, v) for k, v in raw.items()}

    @staticmethod
    def _wrap(key: str, value: Any) -> PublishedNumber:
        if isinstance(value, PublishedNumber):
            return value
        if hasattr(value, "value"):
            return PublishedNumber(
                id=key,
                value=value.value,
                where=str(getattr(value, "where", "") or ""),
                kind=str(getattr(value, "kind", "") or _guess_kind(key)),
                printed=getattr(value, "printed", None),
                note=getattr(value, "note", None),
            )
        if isinstance(value, Mapping):
            return PublishedNumber(
                id=key,
                value=value.get("value"),
                where=str(value.get("where") or ""),
                kind=str(value.get("kind") or _guess_kind(key)),
                printed=value.get("printed"),
                note=value.get("note"),
            )
        return PublishedNumber(id=key, value=value, where="", kind=_guess_kind(key))

    def has(self, *ids: str) -> bool:
        return all(i in self.m for i in ids)

    def v(self, id: str):
        return self.m[id].value

    def where(self, id: str) -> str:
        return self.m[id].where or id

    def ids(self, pattern: str) -> list[str]:
        """Ids matching a regular expression (full match), in file order."""
        rx = re.compile(pattern)
        return [k for k in self.m if rx.fullmatch(k)]

    def text(self, id: str) -> str:
        """The number as printed: the `printed` text, else the value in the kind's usual form."""
        e = self.m[id]
        if e.printed is not None:
            return str(e.printed)
        return _usual_form(e.value, e.kind)

    def p_text(self, id: str) -> str:
        e = self.m[id]
        if e.printed is not None:
            return str(e.printed).strip()
        return format_p(float(e.value))


def _guess_kind(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    return {"p": "p", "pct": "percent", "hr": "hr", "ci_low": "ci_low", "ci_high": "ci_high"}.get(last, "count")


def _usual_form(value, kind: str) -> str:
    if isinstance(value, str):
        return value
    if kind == "p":
        return format_p(float(value))
    if kind == "percent":
        return f"{float(value):.1f}%"
    if kind in ("hr", "ci_low", "ci_high"):
        return f"{float(value):.3f}"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:g}"


def _cut(where: str) -> str:
    """`where` up to its first colon or quotation mark outside parentheses and quotes."""
    depth, quoted = 0, False
    for pos, ch in enumerate(where):
        if ch == "'" and depth == 0:
            if pos and where[pos - 1].isalpha() and pos + 1 < len(where) and where[pos + 1].isalpha():
                continue  # an apostrophe (Fisher's)
            return where[:pos]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == ":" and depth == 0:
            return where[:pos]
    return where


def _section(where: str) -> str:
    """The table or section part of a ``where`` (before a quoted excerpt)."""
    head = _cut(where).strip().rstrip(",").strip()
    head = re.sub(r",?\s*(bullet|number of involved nodes|nodal regions most often involved)$", "", head)
    return head or where.strip()


def _place(where: str) -> str:
    """A short name of where a number is printed: "Table 2", "Abstract", "Results, Tumor response"."""
    m = re.match(r"(Table \d+)", where)
    if m:
        return m[1]
    return _section(where)


def _where(pub: _Pub, primary: str, others: Iterable[str] = ()) -> str:
    """`primary`'s place in full, then the short places of the other ids (deduplicated)."""
    first = pub.where(primary)
    seen = [_place(first)]
    extra = []
    for i in others:
        if i == primary or not pub.has(i):
            continue
        s = _place(pub.where(i))
        if s not in seen:
            seen.append(s)
            extra.append(s)
    return first + ("; also " + "; ".join(extra) if extra else "")


def _pct(n: int, total: int) -> float:
    return percent(int(n), int(total))


def _pct_exact(n, total) -> float:
    return 100.0 * n / total


def _trunc(n: int, total: int) -> float:
    q = Decimal(100 * int(n)) / Decimal(int(total))
    return float(q.quantize(Decimal("0.1"), rounding=ROUND_FLOOR))


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)


def implied_counts(pct: float, total: int) -> list[int]:
    """Every whole k in 0..total with k / total printing as `pct` (one decimal, half up)."""
    return [k for k in range(int(total) + 1) if _same(_pct(k, total), pct)]


def _fmt_num(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    """A recomputed p with four decimals, or two significant digits below 0.0001."""
    return f"{p:.1e}" if p < 1e-4 else f"{p:.4f}"


def _t1_label(pub: "_Pub", p_id: str) -> str:
    """Table 1's name of the characteristic whose p is `p_id` ("Maximal Lymph Node Diameter")."""
    w = pub.where(p_id)
    w = re.sub(r"^Table 1,\s*(before|after) PSM,\s*", "", w)
    return re.sub(r",\s*p-value$", "", w)


# ----------------------------------------------------------------------------------------------------
# p-values of categorical comparisons


def _test_phrase(name: str) -> str:
    return TEST_LABELS[name]


def _cands_text(cands: Mapping[str, float]) -> str:
    return ", ".join(f"{_SHORT_TEST[k]} {_fmt_num(v)}" for k, v in cands.items() if v is not None and not math.isnan(v))


def _p_finding(
    pub: _Pub,
    key: str,
    p_id: str,
    table: list[list[int]],
    count_ids: Sequence[str],
    what: str,
    printed_rows_only: Optional[list[list[int]]] = None,
    omitted_label: str = "",
) -> Finding:
    """Recompute one printed p from a levels x arms table with every candidate test."""
    printed = pub.p_text(p_id)
    inf = infer_paper_test(table, printed)
    values: dict[str, Any] = {
        "table": table,
        "printed": printed,
        "candidates": dict(inf.candidates),
        "min_expected": inf.min_expected,
        "rows": "all",
    }
    where = pub.where(p_id)
    ids = (p_id,) + tuple(count_ids)
    if inf.reproduces:
        test = inf.test
        values.update(test=test, p=inf.p, matching=inf.matching)
        recomputed = f"{_test_phrase(test)} p = {_fmt_num(inf.p)} (candidates: {_cands_text(inf.candidates)})"
        if test in _NAMED_TESTS:
            verdict = "consistent"
            also = [TEST_LABELS[m] for m in inf.matching[1:]]
            expl = f"The {_test_phrase(test)} test of {what} prints as {printed}" + (
                f" (as does the {' and the '.join(also)})." if also else "."
            )
        else:
            verdict = "needs an unstated choice"
            expl = (
                f"Only the {_test_phrase(test)} test of {what} prints as {printed} (smallest expected "
                f"count {inf.min_expected:.2f}); the Methods name only the χ² test and Fisher's exact test"
            )
            if "pearson" in inf.candidates and test != "pearson":
                expl += f", and the uncorrected χ² used elsewhere would print {format_p(inf.candidates['pearson'])}"
            expl += "."
        return Finding("p-value", where, ids, f"p = {printed}", recomputed, verdict, expl, key, values)
    if printed_rows_only is not None:
        inf2 = infer_paper_test(printed_rows_only, printed)
        values.update(candidates_printed_rows=dict(inf2.candidates))
        if inf2.reproduces:
            values.update(test=inf2.test, p=inf2.p, matching=inf2.matching, rows="printed", p_all_rows=inf.candidates)
            recomputed = (
                f"with the unprinted {omitted_label!r} row: {_cands_text(inf.candidates)}; "
                f"printed rows only: {_test_phrase(inf2.test)} p = {_fmt_num(inf2.p)} "
                f"({_cands_text(inf2.candidates)})"
            )
            if inf2.test in _NAMED_TESTS:
                expl = (
                    f"No test reproduces {printed} on all patients; leaving out the unprinted "
                    f"{omitted_label!r} row, the {_test_phrase(inf2.test)} test does, a choice the paper "
                    f"does not state."
                )
            else:
                expl = (
                    f"No test reproduces {printed} on all patients; only the {_test_phrase(inf2.test)} "
                    f"test on the printed rows (without the unprinted {omitted_label!r} row) does: two "
                    f"choices the Methods do not state."
                )
            return Finding(
                "p-value",
                where,
                ids,
                f"p = {printed}",
                recomputed,
                "needs an unstated choice",
                expl,
                key,
                values,
            )
    values.update(test=None, p=inf.p, closest=inf.test)
    recomputed = f"no candidate prints {printed}: {_cands_text(inf.candidates)}"
    expl = (
        f"None of the χ², Fisher, Yates or likelihood-ratio tests of {what} prints as {printed}; "
        f"the closest is {_test_phrase(inf.test)} {_fmt_num(inf.p)}."
    )
    return Finding("p-value", where, ids, f"p = {printed}", recomputed, "inconsistent", expl, key, values)


def _table1_levels(pub: _Pub, period: str, var: str) -> list[str]:
    levels: list[str] = []
    for i in pub.ids(rf"table1\.{period}\.{re.escape(var)}\.[^.]+\.(anlotinib|crt)\.n"):
        level = i.split(".")[3]
        if level not in levels:
            levels.append(level)
    return levels


def _table1_vars(pub: _Pub, period: str) -> list[str]:
    return [i.split(".")[2] for i in pub.ids(rf"table1\.{period}\.[^.]+\.p")]


def _table1_p_checks(pub: _Pub) -> list[Finding]:
    out = []
    for period in PERIODS:
        if not pub.has(*(f"table1.{period}.n.{a}" for a in ARMS)):
            continue
        n_arm = [int(pub.v(f"table1.{period}.n.{a}")) for a in ARMS]
        for var in _table1_vars(pub, period):
            levels = _table1_levels(pub, period, var)
            ids = [f"table1.{period}.{var}.{lv}.{a}.n" for lv in levels for a in ARMS]
            if not levels or not pub.has(*ids):
                continue
            rows = [[int(pub.v(f"table1.{period}.{var}.{lv}.{a}.n")) for a in ARMS] for lv in levels]
            rest = [n - sum(r[j] for r in rows) for j, n in enumerate(n_arm)]
            what = f"{_t1_label(pub, f'table1.{period}.{var}.p')} ({period} PSM, {len(levels)} printed levels)"
            if any(x > 0 for x in rest) and all(x >= 0 for x in rest):
                full = [rest] + rows
                f = _p_finding(
                    pub,
                    f"p.table1.{period}.{var}",
                    f"table1.{period}.{var}.p",
                    full,
                    ids,
                    what,
                    printed_rows_only=rows,
                    omitted_label="none",
                )
            else:
                f = _p_finding(pub, f"p.table1.{period}.{var}", f"table1.{period}.{var}.p", rows, ids, what)
            out.append(f)
    return out


def _one_vs_rest(a: int, c: int, n_a: int, n_c: int) -> list[list[int]]:
    return [[a, c], [n_a - a, n_c - c]]


def _table2_p_checks(pub: _Pub) -> list[Finding]:
    out = []
    for period in PERIODS:
        if not pub.has(*(f"table2.{period}.n.{a}" for a in ARMS)):
            continue
        n_a, n_c = (int(pub.v(f"table2.{period}.n.{a}")) for a in ARMS)
        for p_id in pub.ids(rf"table2\.{period}\.[^.]+\.p"):
            cat = p_id.split(".")[2]
            ids = [f"table2.{period}.{cat}.{a}.n" for a in ARMS]
            if not pub.has(*ids):
                continue
            a, c = (int(pub.v(i)) for i in ids)
            out.append(
                _p_finding(
                    pub,
                    f"p.table2.{period}.{cat}",
                    p_id,
                    _one_vs_rest(a, c, n_a, n_c),
                    ids + [f"table2.{period}.n.{x}" for x in ARMS],
                    f"{cat.upper()} vs any other response ({a}/{n_a} vs {c}/{n_c})",
                )
            )
    return out


def _table4_p_checks(pub: _Pub) -> list[Finding]:
    out = []
    if not pub.has(*(f"table4.n.{a}" for a in ARMS)):
        return out
    n_a, n_c = (int(pub.v(f"table4.n.{a}")) for a in ARMS)
    for p_id in pub.ids(r"table4\.[^.]+\.p"):
        ev = p_id.split(".")[1]
        ids = [f"table4.{ev}.{a}.n" for a in ARMS]
        if not pub.has(*ids):
            continue
        a, c = (int(pub.v(i)) for i in ids)
        out.append(
            _p_finding(
                pub,
                f"p.table4.{ev}",
                p_id,
                _one_vs_rest(a, c, n_a, n_c),
                ids + [f"table4.n.{x}" for x in ARMS],
                f"grade ≥ 3 {ev.replace('_', '/')} ({a}/{n_a} vs {c}/{n_c})",
            )
        )
    return out


def _g34_overall_p_check(pub: _Pub) -> list[Finding]:
    pct_ids = [f"text.toxicity.g34_overall.{a}.pct" for a in ARMS]
    n_ids = [f"table4.n.{a}" for a in ARMS]
    p_id = "text.toxicity.g34_overall.p"
    if not pub.has(p_id, *pct_ids, *n_ids):
        return []
    ks = [implied_counts(float(pub.v(p)), int(pub.v(n))) for p, n in zip(pct_ids, n_ids)]
    n_a, n_c = (int(pub.v(n)) for n in n_ids)
    if not all(len(k) == 1 for k in ks):
        return [
            Finding(
                "p-value",
                pub.where(p_id),
                (p_id, *pct_ids, *n_ids),
                f"p = {pub.p_text(p_id)}",
                f"counts implied by the percentages: {ks}",
                "inconsistent" if not all(ks) else "needs an unstated choice",
                "The percentages do not imply one whole count per arm, so the p-value cannot be recomputed uniquely.",
                "p.text.g34_overall",
                {"implied_counts": ks},
            )
        ]
    a, c = ks[0][0], ks[1][0]
    f = _p_finding(
        pub,
        "p.text.g34_overall",
        p_id,
        _one_vs_rest(a, c, n_a, n_c),
        (*pct_ids, *n_ids),
        f"any grade 3–4 event with the counts the percentages imply ({a}/{n_a} vs {c}/{n_c})",
    )
    f.values["implied_counts"] = (a, c)
    return [f]


def _test_choice_summary(p_findings: Sequence[Finding]) -> list[Finding]:
    """One finding on the mix of tests that the printed p-values need."""
    used: dict[str, list[str]] = {}
    rule_agrees = 0
    two_by_two = 0
    for f in p_findings:
        test = f.values.get("test")
        if test is None:
            used.setdefault("none", []).append(f.key)
            continue
        name = test + ("_printed_rows" if f.values.get("rows") == "printed" else "")
        used.setdefault(name, []).append(f.key)
        table = f.values.get("table")
        if table is not None and len(table) == 2 and f.values.get("rows") == "all":
            two_by_two += 1
            rule = rule_based_test(table)
            if rule == test or (rule in f.values.get("matching", ()) and test in f.values.get("matching", ())):
                rule_agrees += 1
    if not used:
        return []
    counts = {k: len(v) for k, v in used.items()}

    def label(k: str) -> str:
        if k == "none":
            return "no test"
        if k.endswith("_printed_rows"):
            return TEST_LABELS[k[: -len("_printed_rows")]] + " on the printed rows only"
        return TEST_LABELS[k]

    recomputed = "; ".join(f"{label(k)}: {n}" for k, n in counts.items())
    others = {k: v for k, v in used.items() if k not in _NAMED_TESTS}
    fisher_needed = any(f.values.get("matching", ("x",))[:1] == ("fisher",) for f in p_findings)
    detail = "; ".join(f"{label(k)} for " + ", ".join(x.split(".", 1)[1] for x in v) for k, v in others.items())
    if others:
        verdict = "needs an unstated choice"
        expl = (
            f"The Methods name the χ² test or Fisher's exact test, yet the printed p-values need "
            f"{len(counts)} different tests without saying which: {detail}. "
            f"In {rule_agrees} of {two_by_two} 2×2 tables the test used is the rule of thumb (Yates when "
            f"the smallest expected count is in [1, 5)){'' if fisher_needed else '; Fisher is never needed'}."
        )
    else:
        verdict = "consistent"
        expl = "Every printed p-value is reproduced by a test the Methods name."
    return [
        Finding(
            "p-value",
            "Tables 1, 2, 4 and Results text (all categorical p-values)",
            tuple(sorted({i for f in p_findings for i in f.ids[:1]})),
            "Methods: 'either the χ² test or Fisher's exact test'",
            recomputed,
            verdict,
            expl,
            "p.tests_used",
            {"tests": counts, "keys": used, "rule_agrees": rule_agrees, "two_by_two": two_by_two},
        )
    ]


# ----------------------------------------------------------------------------------------------------
# Text and abstract duplicates of table numbers

_DUPLICATE_RULES: tuple[tuple[str, Callable[[re.Match], str]], ...] = (
    (
        r"text\.response\.(before|after)\.(\w+)\.(anlotinib|crt)\.pct",
        lambda m: f"table2.{m[1]}.{m[2]}.{m[3]}.pct",
    ),
    (r"text\.response\.(before|after)\.(\w+)\.p", lambda m: f"table2.{m[1]}.{m[2]}.p"),
    (r"abstract\.response\.after\.(\w+)\.(anlotinib|crt)\.pct", lambda m: f"table2.after.{m[1]}.{m[2]}.pct"),
    (r"abstract\.response\.after\.(\w+)\.p", lambda m: f"table2.after.{m[1]}.p"),
    (r"text\.discussion\.orr\.(anlotinib|crt)\.pct", lambda m: f"table2.after.orr.{m[1]}.pct"),
    (r"text\.discussion\.orr\.p", lambda m: "table2.after.orr.p"),
    (r"text\.discussion\.outcomes\.anlotinib\.orr\.pct", lambda m: "table2.after.orr.anlotinib.pct"),
    (
        r"text\.discussion\.outcomes\.anlotinib\.pfs_12m\.pct",
        lambda m: "text.survival.pfs.after.12m.anlotinib",
    ),
    (r"text\.discussion\.outcomes\.anlotinib\.os_3y\.pct", lambda m: "text.survival.os.after.3y.anlotinib"),
    (
        r"abstract\.survival\.(os|pfs)\.after\.(\w+)\.(anlotinib|crt)",
        lambda m: f"text.survival.{m[1]}.after.{m[2]}.{m[3]}",
    ),
    (r"abstract\.survival\.(os|pfs)\.after\.p", lambda m: f"text.survival.{m[1]}.after.p"),
    (r"text\.toxicity\.g34\.(\w+)\.(anlotinib|crt)\.pct", lambda m: f"table4.{m[1]}.{m[2]}.pct"),
    (r"text\.toxicity\.g34\.(\w+)\.p", lambda m: f"table4.{m[1]}.p"),
    (r"text\.toxicity\.g34_threshold\.pct", lambda m: "table4.footnote.trae_threshold.pct"),
    (r"text\.anlotinib\.g34\.(\w+)\.pct", lambda m: f"table4.anlotinib_g34.{m[1]}.anlotinib.pct"),
    (
        r"abstract\.toxicity\.g34_overall\.(anlotinib|crt)\.pct",
        lambda m: f"text.toxicity.g34_overall.{m[1]}.pct",
    ),
    (r"abstract\.toxicity\.g34_overall\.p", lambda m: "text.toxicity.g34_overall.p"),
    (r"text\.discussion\.g34_overall\.anlotinib\.pct", lambda m: "text.toxicity.g34_overall.anlotinib.pct"),
    (r"abstract\.cox\.multivariate\.arm\.anlotinib\.p", lambda m: "table3.multivariate.arm.anlotinib.p"),
    (
        r"text\.cox\.(univariate|multivariate)\.(\w+)\.([\w-]+)\.(hr|ci_low|ci_high|p)",
        lambda m: f"table3.{m[1]}.{m[2]}.{m[3]}.{m[4]}",
    ),
    (r"text\.discussion\.cox\.multivariate\.significant\.n", lambda m: "text.cox.multivariate.significant.n"),
    (r"abstract\.cohort\.n", lambda m: "text.cohort.n"),
    (r"text\.treatment\.n", lambda m: "text.cohort.n"),
    (r"abstract\.cohort\.(before|after)\.n\.(anlotinib|crt)", lambda m: f"table1.{m[1]}.n.{m[2]}"),
    (r"text\.cohort\.(before|after)\.n\.(anlotinib|crt)", lambda m: f"table1.{m[1]}.n.{m[2]}"),
    (r"text\.cohort\.before\.(\w+)\.p", lambda m: f"table1.before.{m[1]}.p"),
    (r"text\.anlotinib\.after\.n", lambda m: "table1.after.n.anlotinib"),
    (r"text\.survival\.pfs\.before\.n\.(anlotinib|crt)", lambda m: f"table1.before.n.{m[1]}"),
    (r"(abstract|text\.cohort)\.period\.(start|end)", lambda m: f"text.methods.period.{m[2]}"),
)


def _duplicates(pub: _Pub) -> dict[str, list[str]]:
    """canonical id -> the ids that print the same quantity elsewhere (only pairs present in `pub`)."""
    out: dict[str, list[str]] = {}
    for i in pub.m:
        for pattern, target in _DUPLICATE_RULES:
            m = re.fullmatch(pattern, i)
            if m:
                canon = target(m)
                if pub.has(canon) and canon != i:
                    out.setdefault(canon, []).append(i)
                break
    return out


def _duplicate_checks(pub: _Pub, dups: Mapping[str, list[str]]) -> list[Finding]:
    out = []
    for canon, others in dups.items():
        check = "date" if pub.m[canon].kind == "date" else "text vs table"
        vals = {i: pub.v(i) for i in [canon, *others]}
        differ = [i for i in others if not _same(vals[i], vals[canon])]
        printed = "; ".join(f"{_place(pub.where(i))}: {pub.text(i)}" for i in [canon, *others])
        where = _where(pub, canon, others)
        if differ:
            verdict = "inconsistent"
            recomputed = "differ: " + ", ".join(f"{pub.text(i)} vs {pub.text(canon)}" for i in differ)
            expl = (
                f"The same quantity is printed as {pub.text(canon)} in {_place(pub.where(canon))} but "
                + "; ".join(f"{pub.text(i)} in {_place(pub.where(i))}" for i in differ)
                + "."
            )
        else:
            verdict = "consistent"
            texts = {pub.text(i) for i in [canon, *others]}
            recomputed = f"all {len(others) + 1} occurrences equal ({_usual_form(pub.v(canon), pub.m[canon].kind)})"
            expl = f"Printed {len(others) + 1} times with the same value"
            expl += f" (written {' / '.join(sorted(texts))})." if len(texts) > 1 else "."
        out.append(
            Finding(
                check,
                where,
                (canon, *others),
                printed,
                recomputed,
                verdict,
                expl,
                f"dup.{canon}",
                {"values": vals, "differ": differ},
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Percentages

_DENOMINATOR_RULES: tuple[tuple[str, Callable[[re.Match], str]], ...] = (
    (r"table1\.(before|after)\.[^.]+\.[^.]+\.(anlotinib|crt)\.pct", lambda m: f"table1.{m[1]}.n.{m[2]}"),
    (r"table2\.(before|after)\.[^.]+\.(anlotinib|crt)\.pct", lambda m: f"table2.{m[1]}.n.{m[2]}"),
    (r"table4\.anlotinib_g34\.[^.]+\.anlotinib\.pct", lambda m: "table4.n.anlotinib"),
    (r"table4\.[^.]+\.(anlotinib|crt)\.pct", lambda m: f"table4.n.{m[1]}"),
    (r"text\.treatment\.concurrent_chemo\.[^.]+\.pct", lambda m: "text.treatment.n"),
    (
        r"text\.treatment\.before\.radiation_ge50gy\.(anlotinib|crt)\.pct",
        lambda m: f"text.cohort.before.n.{m[1]}",
    ),
    (
        r"text\.cohort\.(surgery_only|adjuvant|recurrence_confirmation\.\w+|nodal_stations\.\w+|recurrent_nodes\.\w+)\.pct",
        lambda m: "text.cohort.n",
    ),
    (r"text\.anlotinib\.after\.\w+\.pct", lambda m: "text.anlotinib.after.n"),
    (r"text\.anlotinib\.any_grade\.\w+\.pct", lambda m: "text.cohort.before.n.anlotinib"),
    (
        r"text\.survival\.pfs\.before\.events\.(anlotinib|crt)\.pct",
        lambda m: f"text.survival.pfs.before.n.{m[1]}",
    ),
    (r"text\.survival\.os\.before\.events\.(anlotinib|crt)\.pct", lambda m: f"text.cohort.before.n.{m[1]}"),
    # percentages printed without a count: the count is implied
    (r"text\.toxicity\.g34_overall\.(anlotinib|crt)\.pct", lambda m: f"table4.n.{m[1]}"),
    (r"text\.anlotinib\.any_event\.pct", lambda m: "text.cohort.before.n.anlotinib"),
)


def _denominator_id(pct_id: str) -> Optional[str]:
    """The id of the N a printed percentage is of (None when the id is not a percentage of a count)."""
    for pattern, target in _DENOMINATOR_RULES:
        m = re.fullmatch(pattern, pct_id)
        if m:
            return target(m)
    return None


def _percentage_checks(pub: _Pub, dups: Mapping[str, list[str]]) -> list[Finding]:
    duplicate_ids = {i for v in dups.values() for i in v}
    pairs = []  # (pct_id, n_id or None, den_id)
    for i in pub.m:
        if not i.endswith(".pct") or i in duplicate_ids:
            continue
        den = _denominator_id(i)
        if den is None or not pub.has(den):
            continue
        n_id = i[:-4] + ".n"
        pairs.append((i, n_id if pub.has(n_id) else None, den))
    # How the paper rounds: cases that rounding half up prints and truncation would not.
    rounded_up = []
    for pct_id, n_id, den in pairs:
        if n_id is None:
            continue
        n, N = int(pub.v(n_id)), int(pub.v(den))
        if N and _same(pub.v(pct_id), _pct(n, N)) and not _same(_trunc(n, N), _pct(n, N)):
            rounded_up.append((n, N, _pct_exact(n, N), _pct(n, N)))
    out = []
    for pct_id, n_id, den in pairs:
        others = dups.get(pct_id, [])
        printed_vals = {i: float(pub.v(i)) for i in [pct_id, *others]}
        N = int(pub.v(den))
        where = _where(pub, pct_id, others)
        printed = pub.text(pct_id) + (
            f" (also {len(others)}× elsewhere"
            + (", same value)" if all(_same(v, printed_vals[pct_id]) for v in printed_vals.values()) else ")")
            if others
            else ""
        )
        if n_id is None:  # implied count
            ks = implied_counts(printed_vals[pct_id], N)
            ids = (pct_id, den, *others)
            if ks:
                recomputed = " or ".join(f"{k}/{N} = {_pct_exact(k, N):.3f}%" for k in ks)
                verdict, expl = (
                    "consistent",
                    (
                        f"No count is printed; {ks[0] if len(ks) == 1 else ks} of {N} "
                        f"gives {pub.text(pct_id)}, a whole number of patients."
                    ),
                )
            else:
                lo = math.floor(printed_vals[pct_id] * N / 100)
                recomputed = f"no whole k: {lo}/{N} = {_pct(lo, N)}%, {lo + 1}/{N} = {_pct(lo + 1, N)}%"
                verdict, expl = (
                    "inconsistent",
                    f"No whole number of the {N} patients gives {pub.text(pct_id)}.",
                )
            out.append(
                Finding(
                    "percentage",
                    where,
                    ids,
                    printed,
                    recomputed,
                    verdict,
                    expl,
                    f"pct.{pct_id[:-4]}",
                    {"implied_counts": ks, "N": N},
                )
            )
            continue
        n = int(pub.v(n_id))
        exact = _pct_exact(n, N) if N else float("nan")
        expected = _pct(n, N)
        wrong = [i for i, v in printed_vals.items() if not _same(v, expected)]
        ids = (pct_id, n_id, den, *others)
        recomputed = f"{n}/{N} = {exact:.3f}% → {expected:.1f}%"
        values = {
            "n": n,
            "N": N,
            "exact": exact,
            "rounded": expected,
            "truncated": _trunc(n, N),
            "printed": printed_vals[pct_id],
            "wrong": wrong,
        }
        if not wrong:
            out.append(
                Finding(
                    "percentage",
                    where,
                    ids,
                    printed,
                    recomputed,
                    "consistent",
                    f"{n} of {N} is {exact:.3f}%, printed {pub.text(pct_id)}.",
                    f"pct.{pct_id[:-4]}",
                    values,
                )
            )
            continue
        places = list(dict.fromkeys(_place(pub.where(i)) for i in wrong))
        expl = f"{n} of {N} is {exact:.3f}%, which rounds to {expected:.1f}%, not {pub.text(pct_id)}" + (
            f" (printed so {len(wrong)} times: {'; '.join(places)})." if len(wrong) > 1 else "."
        )
        if _same(_trunc(n, N), printed_vals[pct_id]) and rounded_up:
            ex = rounded_up[0]
            expl += (
                f" Truncating would give {pub.text(pct_id)}, but the paper rounds elsewhere "
                f"({len(rounded_up)} percentages are rounded up, e.g. {ex[0]}/{ex[1]} = {ex[2]:.3f}% "
                f"printed {ex[3]:.1f}%)."
            )
            values["rounded_up_elsewhere"] = len(rounded_up)
        out.append(
            Finding(
                "percentage",
                where,
                ids,
                printed,
                recomputed,
                "inconsistent",
                expl,
                f"pct.{pct_id[:-4]}",
                values,
            )
        )
    return out


def _listing_thresholds(pub: _Pub) -> list[Finding]:
    """Table 4's notes: each listed row reaches the threshold the note gives."""
    out = []
    specs = (
        (
            "table4.footnote.trae_threshold.pct",
            r"table4\.(?!anlotinib_g34|footnote)[^.]+\.(anlotinib|crt)\.pct",
            "in either arm",
        ),
        (
            "table4.footnote.anlotinib_threshold.pct",
            r"table4\.anlotinib_g34\.[^.]+\.anlotinib\.pct",
            "in the combination group",
        ),
    )
    for thr_id, pattern, scope in specs:
        rows = pub.ids(pattern)
        if not pub.has(thr_id) or not rows:
            continue
        thr = float(pub.v(thr_id))
        by_event: dict[str, float] = {}
        for i in rows:
            ev = i.split(".")[-3]
            by_event[ev] = max(by_event.get(ev, 0.0), float(pub.v(i)))
        below = {e: v for e, v in by_event.items() if v < thr}
        recomputed = ", ".join(f"{e} {v:.1f}%" for e, v in by_event.items())
        out.append(
            Finding(
                "text vs table",
                _section(pub.where(thr_id)),
                (thr_id, *rows),
                f"listed if {pub.text(thr_id)} {scope}",
                "largest rate per row: " + recomputed,
                "inconsistent" if below else "consistent",
                (
                    f"Rows below the note's threshold: {below}."
                    if below
                    else f"Every listed row reaches {pub.text(thr_id)} {scope} (smallest: {min(by_event.values()):.1f}%)."
                ),
                f"listing.{thr_id}",
                {"largest": by_event, "below": below},
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Hazard ratios


def wald_check(hr: float, low: float, high: float, decimals: int = 3) -> dict[str, float]:
    """What a printed Cox HR and 95% CI imply, allowing for rounding at `decimals`.

    A Wald interval is exp(b ± 1.96 SE): the HR is the geometric mean sqrt(low × high), and
    SE = (ln high − ln low) / (2 × 1.96) gives z = ln(HR) / SE and p = 2[1 − Φ(|z|)]. Returns the
    geometric mean, SE, z and p at the printed values, and the smallest and largest geometric mean
    and p over the rounding intervals (each printed number ± half a unit of its last decimal).
    """
    h = 0.5 * 10.0 ** (-decimals)

    def one(b_hr, b_lo, b_hi):
        se = (math.log(b_hi) - math.log(b_lo)) / (2 * Z95)
        z = math.log(b_hr) / se if se > 0 else math.inf
        return math.sqrt(b_lo * b_hi), se, z, 2 * norm.sf(abs(z))

    gm, se, z, p = one(hr, low, high)
    ps, gms = [], []
    for d_hr, d_lo, d_hi in product((-h, h), repeat=3):
        lo_, hi_ = max(low + d_lo, 1e-12), high + d_hi
        if hi_ <= lo_:
            continue
        g, _, _, pp = one(max(hr + d_hr, 1e-12), lo_, hi_)
        ps.append(pp)
        gms.append(g)
    return {
        "geometric_mean": gm,
        "se": se,
        "z": z,
        "p": p,
        "p_min": min(ps),
        "p_max": max(ps),
        "gm_min": min(gms),
        "gm_max": max(gms),
        "half_unit": h,
    }


def _cox_rows(pub: _Pub) -> list[tuple[str, str]]:
    """(source, row) of every printed HR: ('table3', 'univariate.age_group.ge65') etc."""
    rows = []
    for i in pub.ids(r"(table3|text\.cox)\.(univariate|multivariate)\.[^.]+\.[^.]+\.hr"):
        source = "table3" if i.startswith("table3") else "text.cox"
        rows.append((source, i[len(source) + 1 : -3]))
    return rows


def _hr_checks(pub: _Pub) -> list[Finding]:
    out = []
    for source, row in _cox_rows(pub):
        base = f"{source}.{row}"
        ids = tuple(f"{base}.{s}" for s in ("hr", "ci_low", "ci_high", "p"))
        if not pub.has(*ids[:3]):
            continue
        hr, lo, hi = (float(pub.v(i)) for i in ids[:3])
        w = wald_check(hr, lo, hi)
        where = pub.where(ids[0]).rsplit(", HR", 1)[0]
        shown = f"HR {pub.text(ids[0])} (95% CI {pub.text(ids[1])}–{pub.text(ids[2])})"
        # 1. the HR inside and at the centre of its CI
        inside = lo <= hr <= hi
        centred = w["gm_min"] - w["half_unit"] <= hr <= w["gm_max"] + w["half_unit"]
        values = dict(w, hr=hr, low=lo, high=hi, inside=inside)
        recomputed = f"sqrt({lo:.3f} × {hi:.3f}) = {w['geometric_mean']:.3f}"
        if not inside:
            verdict = "inconsistent"
            expl = (
                f"The interval {pub.text(ids[1])}–{pub.text(ids[2])} excludes its own HR {pub.text(ids[0])}; "
                f"a Wald interval would be centred on {w['geometric_mean']:.3f}."
            )
            other = ("text.cox." if source == "table3" else "table3.") + row + ".ci_low"
            if pub.has(other) and not _same(pub.v(other), lo):
                w2 = wald_check(hr, float(pub.v(other)), hi)
                expl += (
                    f" With the lower limit {pub.text(other)} printed in {_place(pub.where(other))}, "
                    f"the centre is {w2['geometric_mean']:.3f}."
                )
                values["other_geometric_mean"] = w2["geometric_mean"]
        elif not centred:
            verdict = "inconsistent"
            expl = (
                f"A Wald interval is symmetric about the HR on the log scale, but its centre "
                f"{w['geometric_mean']:.3f} differs from the printed HR beyond rounding."
            )
        else:
            verdict = "consistent"
            expl = f"The interval is centred on the HR on the log scale ({w['geometric_mean']:.3f}), as a Wald interval is."
        out.append(Finding("hazard ratio", where, ids[:3], shown, recomputed, verdict, expl, f"hr.ci.{base}", values))
        # 2. the p implied by the CI
        if not pub.has(ids[3]):
            continue
        printed_p = pub.p_text(ids[3])
        pv, decimals, upper = parse_printed_p(printed_p)
        half = 0.5 * 10.0 ** (-decimals)
        agrees = (
            (w["p_min"] < pv)
            if upper
            else (w["p_min"] <= pv + half * (1 + 1e-9) and w["p_max"] >= pv - half * (1 + 1e-9))
        )
        recomputed = (
            f"SE = {w['se']:.4f}, z = {w['z']:.2f}, p = {_fmt_p(w['p'])} "
            f"(rounding range {_fmt_p(w['p_min'])}–{_fmt_p(w['p_max'])})"
        )
        values = dict(w, printed_p=pv)
        if agrees:
            verdict = "consistent"
            expl = (
                f"The p implied by the interval, {_fmt_p(w['p'])} ({_fmt_p(w['p_min'])}–{_fmt_p(w['p_max'])} "
                f"allowing for rounding), agrees with the printed {printed_p}."
            )
        else:
            verdict = "inconsistent"
            expl = (
                f"The interval implies p ≈ {_fmt_p(w['p'])} (between {_fmt_p(w['p_min'])} and "
                f"{_fmt_p(w['p_max'])} allowing for rounding), not {printed_p}."
            )
            if not inside:
                expl += " This follows from the lower limit that excludes the HR."
            elif pub.has("text.methods.alpha.p"):
                alpha = float(pub.v("text.methods.alpha.p"))
                if (w["p"] < alpha) != (pv < alpha):
                    expl += f" The two disagree even on significance at {alpha:g}."
        out.append(
            Finding(
                "hazard ratio",
                where,
                (ids[0], ids[1], ids[2], ids[3]),
                f"{shown}, p = {printed_p}",
                recomputed,
                verdict,
                expl,
                f"hr.p.{base}",
                values,
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Subgroup totals


def _sum_finding(
    pub: _Pub, key: str, part_ids: Sequence[str], total_id: str, what: str, where_id: Optional[str] = None
) -> Optional[Finding]:
    """Parts (`part_ids`) against their printed whole (`total_id`); `what` names the parts."""
    if not part_ids or not pub.has(total_id, *part_ids):
        return None
    parts = [int(pub.v(i)) for i in part_ids]
    total = int(pub.v(total_id))
    s = sum(parts)
    recomputed = " + ".join(map(str, parts)) + f" = {s}"
    ok = s == total
    expl = (
        f"The {what} add up to {total}, as printed."
        if ok
        else f"The {what} add up to {s}, not the {total} printed ({abs(s - total)} {'fewer' if s < total else 'more'})."
    )
    return Finding(
        "subgroup total",
        _where(pub, where_id or total_id, part_ids),
        (*part_ids, total_id),
        f"{pub.text(total_id)} in all",
        recomputed,
        "consistent" if ok else "inconsistent",
        expl,
        key,
        {"parts": parts, "sum": s, "total": total},
    )


def _subgroup_checks(pub: _Pub) -> list[Finding]:
    out: list[Optional[Finding]] = []
    # Table 1 rows against the arm sizes, per period.
    for period in PERIODS:
        for var in _table1_vars(pub, period):
            levels = _table1_levels(pub, period, var)
            ids = [f"table1.{period}.{var}.{lv}.{a}.n" for lv in levels for a in ARMS]
            n_ids = [f"table1.{period}.n.{a}" for a in ARMS]
            if not levels or not pub.has(*ids, *n_ids):
                continue
            sums = {a: sum(int(pub.v(f"table1.{period}.{var}.{lv}.{a}.n")) for lv in levels) for a in ARMS}
            ns = {a: int(pub.v(f"table1.{period}.n.{a}")) for a in ARMS}
            rec = "; ".join(
                f"{_ARM_WORDS[a]} "
                + " + ".join(str(int(pub.v(f"table1.{period}.{var}.{lv}.{a}.n"))) for lv in levels)
                + f" = {sums[a]} of {ns[a]}"
                for a in ARMS
            )
            if all(sums[a] == ns[a] for a in ARMS):
                verdict, expl = (
                    "consistent",
                    f"The {len(levels)} printed levels cover every patient of both arms.",
                )
            elif all(sums[a] < ns[a] for a in ARMS):
                rest = {a: ns[a] - sums[a] for a in ARMS}
                verdict = "consistent"
                expl = (
                    f"The printed levels cover {sums['anlotinib']} and {sums['crt']} patients; the other "
                    f"{rest['anlotinib']} and {rest['crt']} are in a level the table does not print "
                    f"(no previous treatment)."
                )
                if period == "before" and pub.has("text.cohort.adjuvant.n"):
                    adj = int(pub.v("text.cohort.adjuvant.n"))
                    tot = sums["anlotinib"] + sums["crt"]
                    expl += (
                        f" Together {tot}, the {adj} adjuvant-treated patients of the text."
                        if tot == adj
                        else f" Together {tot}, not the {adj} adjuvant-treated patients of the text."
                    )
                    if tot != adj:
                        verdict = "inconsistent"
            else:
                verdict, expl = "inconsistent", "The printed levels do not add up to the arm sizes."
            label = _section(pub.where(f"table1.{period}.{var}.p")).replace(", p-value", "")
            out.append(
                Finding(
                    "subgroup total",
                    label,
                    (*ids, *n_ids),
                    f"n = {ns['anlotinib']} / {ns['crt']}",
                    rec,
                    verdict,
                    expl,
                    f"sum.table1.{period}.{var}",
                    {"sums": sums, "n": ns},
                )
            )
    # Arm sizes against the cohort.
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.arms",
            ["table1.before.n.anlotinib", "table1.before.n.crt"],
            "text.cohort.n",
            "two arms before matching",
        )
    )
    # Table 2: response categories against the evaluable patients; ORR = CR + PR.
    for period in PERIODS:
        for a in ARMS:
            cats = [i for i in pub.ids(rf"table2\.{period}\.[^.]+\.{a}\.n") if i.split(".")[2] != "orr"]
            out.append(
                _sum_finding(
                    pub,
                    f"sum.table2.{period}.{a}",
                    cats,
                    f"table2.{period}.n.{a}",
                    f"CR, PR, SD and PD counts ({_ARM_WORDS[a]}, {period} PSM)",
                )
            )
            out.append(
                _sum_finding(
                    pub,
                    f"sum.table2.{period}.orr.{a}",
                    [f"table2.{period}.cr.{a}.n", f"table2.{period}.pr.{a}.n"],
                    f"table2.{period}.orr.{a}.n",
                    f"CR and PR counts ({_ARM_WORDS[a]}, {period} PSM), whose sum is the ORR count,",
                )
            )
    # Evaluable = treated − not evaluable.
    ne_ids = [f"text.response.not_evaluable.{a}.n" for a in ARMS]
    out.append(
        _sum_finding(
            pub,
            "sum.not_evaluable",
            ne_ids,
            "text.response.not_evaluable.n",
            "patients not evaluable in the two arms",
        )
    )
    for a in ARMS:
        ids = (f"table1.before.n.{a}", f"text.response.not_evaluable.{a}.n", f"table2.before.n.{a}")
        if pub.has(*ids):
            n, ne, ev = (int(pub.v(i)) for i in ids)
            ok = n - ne == ev
            out.append(
                Finding(
                    "subgroup total",
                    _where(pub, ids[2], ids[:2]),
                    ids,
                    f"{ev} evaluable ({_ARM_WORDS[a]})",
                    f"{n} − {ne} = {n - ne}",
                    "consistent" if ok else "inconsistent",
                    f"{n} treated minus {ne} who died before assessment "
                    + ("leaves Table 2's denominator." if ok else f"is {n - ne}, not {ev}."),
                    f"sum.evaluable.before.{a}",
                    {"n": n, "not_evaluable": ne, "evaluable": ev},
                )
            )
    # After matching every matched patient is evaluable.
    ids = (*(f"table1.after.n.{a}" for a in ARMS), *(f"table2.after.n.{a}" for a in ARMS), *ne_ids)
    if pub.has(*ids):
        m = {a: int(pub.v(f"table1.after.n.{a}")) for a in ARMS}
        e = {a: int(pub.v(f"table2.after.n.{a}")) for a in ARMS}
        ne = {a: int(pub.v(f"text.response.not_evaluable.{a}.n")) for a in ARMS}
        if all(m[a] == e[a] for a in ARMS) and any(ne.values()):
            out.append(
                Finding(
                    "subgroup total",
                    _where(pub, "table2.after.n.anlotinib", ["table1.after.n.anlotinib"]),
                    ids,
                    f"evaluable after PSM {e['anlotinib']} / {e['crt']} of {m['anlotinib']} / {m['crt']} matched",
                    f"not evaluable before PSM: {ne['anlotinib']} / {ne['crt']}; after: 0 / 0",
                    "needs an unstated choice",
                    f"None of the {sum(ne.values())} patients who died before assessment is among the matched "
                    f"{m['anlotinib'] + m['crt']}: either they were excluded before matching or none was matched, "
                    f"and the paper says neither.",
                    "sum.evaluable.after",
                    {"matched": m, "evaluable": e, "not_evaluable_before": ne},
                )
            )
    # Matching: 1:1, and how many treated patients were left unmatched.
    ids = (
        "table1.before.n.anlotinib",
        "table1.before.n.crt",
        "table1.after.n.anlotinib",
        "table1.after.n.crt",
        "text.methods.psm.ratio",
    )
    if pub.has(*ids):
        bt, bc, at, ac, ratio = (pub.v(i) for i in ids)
        unmatched = int(bt) - int(at)
        one_to_one = int(ac) == int(ratio) * int(at)
        if not one_to_one:
            verdict, expl = (
                "inconsistent",
                f"{ac} controls for {at} treated is not {pub.text(ids[4])} matching.",
            )
        elif unmatched > 0 and int(bc) >= int(ratio) * int(bt):
            verdict = "needs an unstated choice"
            expl = (
                f"Nearest-neighbour 1:1 matching without replacement finds a control for each of the {bt} "
                f"treated patients when there are {bc} controls; losing {unmatched} treated patients needs "
                f"a caliper or a common-support rule that the Methods do not state."
            )
        else:
            verdict, expl = "consistent", f"{at} pairs from {bt} treated and {bc} control patients."
        out.append(
            Finding(
                "subgroup total",
                _where(pub, ids[2], [ids[4]]),
                ids,
                f"{pub.text(ids[4])} matching: {at} + {ac} of {bt} + {bc}",
                f"{bt} − {at} = {unmatched} treated unmatched; {int(bc) - int(ac)} controls unmatched",
                verdict,
                expl,
                "sum.matching",
                {"unmatched_treated": unmatched, "unmatched_controls": int(bc) - int(ac)},
            )
        )
    # Chemotherapy: weekly + three-weekly against docetaxel + cisplatin; and against Table 1.
    out.append(
        _sum_finding(
            pub,
            "sum.chemo.schedules",
            ["text.treatment.concurrent_chemo.weekly.n", "text.treatment.concurrent_chemo.three_weekly.n"],
            "text.treatment.concurrent_chemo.docetaxel_cisplatin.n",
            "weekly and three-weekly patients ('Within this group')",
        )
    )
    out.append(
        _sum_finding(
            pub,
            "sum.chemo.table1",
            [f"table1.before.concurrent_chemo.docetaxel_cisplatin.{a}.n" for a in ARMS],
            "text.treatment.concurrent_chemo.docetaxel_cisplatin.n",
            "docetaxel + cisplatin patients of Table 1's two arms",
            where_id="text.treatment.concurrent_chemo.docetaxel_cisplatin.n",
        )
    )
    # Cohort description.
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.adjuvant",
            ["text.cohort.surgery_only.n", "text.cohort.adjuvant.n"],
            "text.cohort.n",
            "surgery-only and adjuvant-treated patients",
        )
    )
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.adjuvant_types",
            [f"text.cohort.adjuvant.{t}.n" for t in ("radiotherapy", "chemotherapy", "chemoradiotherapy")],
            "text.cohort.adjuvant.n",
            "adjuvant radiotherapy, chemotherapy and chemoradiotherapy patients",
        )
    )
    for t in ("radiotherapy", "chemotherapy", "chemoradiotherapy"):
        out.append(
            _sum_finding(
                pub,
                f"sum.cohort.adjuvant.{t}.table1",
                [f"table1.before.previous_treatment.{t}.{a}.n" for a in ARMS],
                f"text.cohort.adjuvant.{t}.n",
                f"previous-{t} patients of Table 1's two arms",
                where_id=f"text.cohort.adjuvant.{t}.n",
            )
        )
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.confirmation",
            pub.ids(r"text\.cohort\.recurrence_confirmation\.\w+\.n"),
            "text.cohort.n",
            "patients confirmed by CT, PET-CT and histology",
        )
    )
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.nodes",
            pub.ids(r"text\.cohort\.recurrent_nodes\.\w+\.n"),
            "text.cohort.n",
            "patients by number of involved nodes (1, 2, 3, ≥ 4)",
        )
    )
    # Supraclavicular involvement (a station, not exclusive) against Table 1's exclusive sites.
    ids = (
        "text.cohort.nodal_stations.supraclavicular.n",
        *(f"table1.before.recurrence_site.supraclavicular.{a}.n" for a in ARMS),
        *(f"table1.before.recurrence_site.multiple.{a}.n" for a in ARMS),
    )
    if pub.has(*ids):
        st = int(pub.v(ids[0]))
        only = int(pub.v(ids[1])) + int(pub.v(ids[2]))
        multi = int(pub.v(ids[3])) + int(pub.v(ids[4]))
        ok = only <= st <= only + multi
        out.append(
            Finding(
                "subgroup total",
                _where(pub, ids[0], [ids[1]]),
                ids,
                f"supraclavicular nodes in {st} patients",
                f"Table 1: {only} supraclavicular only + up to {multi} with multiple sites = {only}–{only + multi}",
                "consistent" if ok else "inconsistent",
                (
                    f"{st} lies between the {only} patients with supraclavicular recurrence only and the "
                    f"{only + multi} who could have it among multiple sites."
                    if ok
                    else f"{st} lies outside the {only}–{only + multi} that Table 1 allows."
                ),
                "sum.cohort.supraclavicular",
                {"station": st, "only": only, "multiple": multi},
            )
        )
    # Deaths during CRT and dose reductions.
    for a in ARMS:
        out.append(
            _sum_finding(
                pub,
                f"sum.deaths_during_crt.{a}",
                pub.ids(rf"text\.toxicity\.deaths_during_crt\.{a}\.\w+\.n"),
                f"text.toxicity.deaths_during_crt.{a}.n",
                f"deaths by cause during CRT ({_ARM_WORDS[a]})",
            )
        )
        ids = (f"text.toxicity.deaths_during_crt.{a}.n", f"text.response.not_evaluable.{a}.n")
        if pub.has(*ids):
            d, ne = (int(pub.v(i)) for i in ids)
            out.append(
                Finding(
                    "subgroup total",
                    _where(pub, ids[1], [ids[0]]),
                    ids,
                    f"{ne} died before response assessment; {d} died during CRT ({_ARM_WORDS[a]})",
                    f"{ne} {'=' if d == ne else '≠'} {d}",
                    "consistent" if d == ne else "inconsistent",
                    "The deaths before assessment and the deaths during CRT are the same number."
                    if d == ne
                    else "The deaths before assessment and during CRT differ.",
                    f"sum.deaths_vs_not_evaluable.{a}",
                    {"deaths": d, "not_evaluable": ne},
                )
            )
    out.append(
        _sum_finding(
            pub,
            "sum.dose_reductions",
            pub.ids(r"text\.anlotinib\.dose_reduction\.\w+\.n"),
            "text.anlotinib.dose_reduction.n",
            "dose reductions by reason",
        )
    )
    # Grade 3–4 against any grade, and any grade 3–4 against the single events.
    for ev_id in pub.ids(r"table4\.anlotinib_g34\.\w+\.anlotinib\.n"):
        ev = ev_id.split(".")[2]
        any_id = f"text.anlotinib.any_grade.{ev}.n"
        if pub.has(any_id):
            g, anyg = int(pub.v(ev_id)), int(pub.v(any_id))
            out.append(
                Finding(
                    "subgroup total",
                    _where(pub, ev_id, [any_id]),
                    (ev_id, any_id),
                    f"grade 3–4 {ev.replace('_', '-')}: {g}; any grade: {anyg}",
                    f"{g} ≤ {anyg}: {g <= anyg}",
                    "consistent" if g <= anyg else "inconsistent",
                    "Grade 3–4 cases are a subset of all grades."
                    if g <= anyg
                    else "More grade 3–4 cases than cases of any grade.",
                    f"sum.g34_within_any.{ev}",
                    {"g34": g, "any": anyg},
                )
            )
    for a in ARMS:
        pct_id, n_id = f"text.toxicity.g34_overall.{a}.pct", f"table4.n.{a}"
        singles = pub.ids(rf"table4\.(?!anlotinib_g34)[^.]+\.{a}\.n")
        if pub.has(pct_id, n_id) and singles:
            ks = implied_counts(float(pub.v(pct_id)), int(pub.v(n_id)))
            top = max(singles, key=lambda i: int(pub.v(i)))
            if ks:
                ok = ks[0] >= int(pub.v(top))
                out.append(
                    Finding(
                        "subgroup total",
                        _where(pub, pct_id, [top]),
                        (pct_id, n_id, *singles),
                        f"any grade 3–4: {pub.text(pct_id)} ({_ARM_WORDS[a]})",
                        f"{ks[0]} patients ≥ largest single event {int(pub.v(top))}: {ok}",
                        "consistent" if ok else "inconsistent",
                        "Patients with any grade 3–4 event are at least as many as those with the most frequent one."
                        if ok
                        else "Fewer patients with any event than with one event.",
                        f"sum.g34_overall_vs_single.{a}",
                        {"any": ks[0], "largest": int(pub.v(top))},
                    )
                )
    # Radiation dose: Table 1 and the Methods put everyone at ≥ 50 Gy, the Results do not.
    out.append(_radiation_dose_check(pub))
    return [f for f in out if f is not None]


def _radiation_dose_check(pub: _Pub) -> Optional[Finding]:
    text_ids = [f"text.treatment.before.radiation_ge50gy.{a}.n" for a in ARMS]
    n_ids = [f"table1.before.n.{a}" for a in ARMS]
    level_ids = pub.ids(r"table1\.before\.radiation_dose\.[^.]+\.(anlotinib|crt)\.n")
    if (
        not pub.has(
            *text_ids,
            *n_ids,
            "text.treatment.before.radiation_ge50gy.threshold",
            "text.treatment.radiotherapy.dose.min",
        )
        or not level_ids
    ):
        return None
    thr = float(pub.v("text.treatment.before.radiation_ge50gy.threshold"))
    dmin = float(pub.v("text.treatment.radiotherapy.dose.min"))
    t1 = {a: sum(int(pub.v(i)) for i in level_ids if i.split(".")[-2] == a) for a in ARMS}
    n = {a: int(pub.v(f"table1.before.n.{a}")) for a in ARMS}
    txt = {a: int(pub.v(f"text.treatment.before.radiation_ge50gy.{a}.n")) for a in ARMS}
    below = {a: n[a] - txt[a] for a in ARMS}
    consistent = all(b == 0 for b in below.values()) or (dmin < thr)
    recomputed = (
        f"Table 1's {len(level_ids) // len(ARMS)} dose levels: {t1['anlotinib']} of "
        f"{n['anlotinib']} and {t1['crt']} of {n['crt']}; text: {below['anlotinib']} and {below['crt']} "
        f"patients below {thr:g} Gy"
    )
    expl = (
        f"Table 1 and the Methods' dose range (from {dmin:g} Gy) leave nobody below {thr:g} Gy, yet the "
        f"Results say {txt['anlotinib']} of {n['anlotinib']} and {txt['crt']} of {n['crt']} reached it, so "
        f"{below['anlotinib']} and {below['crt']} did not."
    )
    return Finding(
        "subgroup total",
        _where(pub, text_ids[0], [level_ids[0], "text.treatment.radiotherapy.dose.min"]),
        (
            *text_ids,
            *level_ids,
            *n_ids,
            "text.treatment.before.radiation_ge50gy.threshold",
            "text.treatment.radiotherapy.dose.min",
        ),
        f"≥ {thr:g} Gy: {txt['anlotinib']} (of {n['anlotinib']}) and {txt['crt']} (of {n['crt']}); "
        f"range {dmin:g}–{pub.text('text.treatment.radiotherapy.dose.max') if pub.has('text.treatment.radiotherapy.dose.max') else '?'} Gy",
        recomputed,
        "consistent" if consistent else "inconsistent",
        expl if not consistent else "Every statement on dose agrees.",
        "sum.radiation_dose",
        {"table1_at_or_above": t1, "text_at_or_above": txt, "text_below": below, "n": n},
    )


# ----------------------------------------------------------------------------------------------------
# Landmarks


def _parse_date(s: str) -> tuple[dt.date, dt.date]:
    """Earliest and latest day an ISO date of reduced precision ("2022", "2019-12", "2025-05-31") can be."""
    parts = [int(x) for x in str(s).split("-")]
    if len(parts) == 1:
        return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)
    if len(parts) == 2:
        last = calendar.monthrange(parts[0], parts[1])[1]
        return dt.date(parts[0], parts[1], 1), dt.date(parts[0], parts[1], last)
    d = dt.date(*parts)
    return d, d


def _months_between(a: dt.date, b: dt.date) -> float:
    """Calendar months from a to b (whole months plus the fraction of the last one)."""
    whole = (b.year - a.year) * 12 + (b.month - a.month)
    return whole + (b.day - a.day) / 30.4375


def _landmark_ids(pub: _Pub) -> list[tuple[str, str, str, str]]:
    out = []
    for i in pub.ids(r"text\.survival\.(os|pfs)\.(before|after)\.\d+[my]\.(anlotinib|crt)"):
        _, _, ep, period, lm, arm = i.split(".")
        out.append((i, ep, period, lm + "|" + arm))
    return out


def _landmark_checks(pub: _Pub) -> list[Finding]:
    out: list[Finding] = []
    lms = _landmark_ids(pub)
    if not lms:
        return out
    longest = max(landmark_months(x[3].split("|")[0]) for x in lms)
    premise_ids = ("text.methods.period.end", "text.methods.censoring_date")
    complete = False
    if pub.has(*premise_ids):
        last_start = _parse_date(pub.v(premise_ids[0]))[1]
        censor = _parse_date(pub.v(premise_ids[1]))[0]
        min_fu = _months_between(last_start, censor)
        complete = min_fu >= longest
        out.append(
            Finding(
                "landmark",
                _where(pub, premise_ids[1], [premise_ids[0]]),
                premise_ids,
                f"treatment until {pub.text(premise_ids[0])}; censoring {pub.text(premise_ids[1])}",
                f"minimum follow-up = {censor.isoformat()} − {last_start.isoformat()} ≈ {min_fu:.0f} months "
                f"≥ {longest} months (longest landmark)",
                "consistent" if complete else "needs an unstated choice",
                (
                    f"Every patient was followed at least {min_fu:.0f} months and patients lost to follow-up were "
                    f"excluded, so nobody is censored before the {longest}-month landmark: each landmark rate must be "
                    f"k/N for a whole k."
                    if complete
                    else "Follow-up is not complete past the longest landmark, so landmark rates need not be k/N."
                ),
                "landmark.premise",
                {"min_follow_up_months": min_fu, "longest_landmark_months": longest},
            )
        )
    if not complete:
        return out
    for i, ep, period, lm_arm in lms:
        lm, arm = lm_arm.split("|")
        n_id = f"table1.{period}.n.{arm}"
        if not pub.has(n_id):
            continue
        N = int(pub.v(n_id))
        rate = float(pub.v(i))
        ks = implied_counts(rate, N)
        lo = math.floor(rate * N / 100)
        dups = [
            d
            for d in pub.m
            if d != i
            and d.startswith("abstract.survival.")
            and re.fullmatch(rf"abstract\.survival\.{ep}\.{period}\.{lm}\.{arm}", d)
        ]
        if ks:
            verdict = "consistent"
            recomputed = f"{ks[0]}/{N} = {_pct_exact(ks[0], N):.3f}%"
            expl = (
                f"{ks[0]} of {N} patients {'alive' if ep == 'os' else 'alive and progression-free'} at "
                f"{landmark_months(lm)} months, a whole number."
            )
        else:
            verdict = "inconsistent"
            recomputed = (
                f"no whole k: {lo}/{N} = {_pct(lo, N):.1f}%, {lo + 1}/{N} = {_pct(lo + 1, N):.1f}% "
                f"({rate * N / 100:.2f} patients)"
            )
            expl = (
                f"With complete follow-up a {landmark_months(lm)}-month {ep.upper()} rate is k/{N}, but "
                f"{pub.text(i)} is {rate * N / 100:.2f} of {N} patients; only censoring before "
                f"{landmark_months(lm)} months, which the paper rules out, could give it."
            )
        out.append(
            Finding(
                "landmark",
                _where(pub, i, dups),
                (i, n_id, *dups),
                pub.text(i),
                recomputed,
                verdict,
                expl,
                f"landmark.{ep}.{period}.{lm}.{arm}",
                {"N": N, "k": ks, "neighbours": (lo, lo + 1), "patients": rate * N / 100},
            )
        )
    # Ordering: later landmarks lower, PFS below OS.
    for period in PERIODS:
        for arm in ARMS:
            series = {}
            for i, ep, p, lm_arm in lms:
                lm, a = lm_arm.split("|")
                if p == period and a == arm:
                    series.setdefault(ep, []).append((landmark_months(lm), float(pub.v(i)), i))
            if not series:
                continue
            problems = []
            for ep, pts in series.items():
                pts.sort()
                for (m1, v1, _), (m2, v2, _) in zip(pts, pts[1:]):
                    if v2 > v1:
                        problems.append(f"{ep.upper()} rises from {v1}% at {m1} to {v2}% at {m2} months")
            if "os" in series and "pfs" in series:
                os_at = {m: v for m, v, _ in series["os"]}
                for m, v, _ in series["pfs"]:
                    if m in os_at and v > os_at[m]:
                        problems.append(f"PFS {v}% above OS {os_at[m]}% at {m} months")
            ids = tuple(i for pts in series.values() for _, _, i in pts)
            pairs = "; ".join(
                f"{ep.upper()} " + " → ".join(f"{v}% ({m} mo)" for m, v, _ in pts) for ep, pts in series.items()
            )
            out.append(
                Finding(
                    "landmark",
                    f"Results, survival ({period} PSM, {_ARM_WORDS[arm]})",
                    ids,
                    pairs,
                    "; ".join(problems) or "non-increasing over time, PFS ≤ OS at the same time",
                    "inconsistent" if problems else "consistent",
                    ("Survival curves cannot rise: " + "; ".join(problems) + ".")
                    if problems
                    else "Each curve falls over time and PFS never exceeds OS at the same time.",
                    f"landmark.order.{period}.{arm}",
                    {"problems": problems},
                )
            )
    # Before matching: survivors at each landmark are at least those who never had the event.
    for ep, ev_key in (("os", "os"), ("pfs", "pfs")):
        for arm in ARMS:
            ev_id = f"text.survival.{ev_key}.before.events.{arm}.n"
            n_id = f"table1.before.n.{arm}"
            if not pub.has(ev_id, n_id):
                continue
            N, E = int(pub.v(n_id)), int(pub.v(ev_id))
            pts = [
                (i, lm_arm.split("|")[0])
                for i, e, p, lm_arm in lms
                if e == ep and p == "before" and lm_arm.endswith("|" + arm)
            ]
            if not pts:
                continue
            at = {lm: float(pub.v(i)) * N / 100 for i, lm in pts}
            ok = all(x >= N - E - 0.5 for x in at.values())
            out.append(
                Finding(
                    "landmark",
                    _where(pub, ev_id, [pts[0][0]]),
                    (ev_id, n_id, *(i for i, _ in pts)),
                    f"{E} of {N} with an event; " + ", ".join(f"{lm}: {pub.text(i)}" for i, lm in pts),
                    f"event-free at the end ≥ {N} − {E} = {N - E}; at the landmarks: "
                    + ", ".join(f"{lm} {x:.1f}" for lm, x in at.items()),
                    "consistent" if ok else "inconsistent",
                    (
                        f"At every landmark at least the {N - E} patients who never had the event are still event-free."
                        if ok
                        else f"A landmark leaves fewer event-free patients than the {N - E} who never had the event."
                    ),
                    f"landmark.events.{ep}.{arm}",
                    {"N": N, "events": E, "at_landmarks": at},
                )
            )
    return out


# ----------------------------------------------------------------------------------------------------
# Dates


def _date_checks(pub: _Pub) -> list[Finding]:
    out = []
    art = (
        "article.dates.received",
        "article.dates.revised",
        "article.dates.accepted",
        "article.citation.year",
    )
    if pub.has(*art):
        rec, rev, acc = (_parse_date(pub.v(i))[0] for i in art[:3])
        cy = _parse_date(pub.v(art[3]))
        ok = rec <= rev <= acc and cy[1] >= acc
        out.append(
            Finding(
                "date",
                "Header and How to Cite",
                art,
                ", ".join(pub.text(i) for i in art),
                f"received → revised {(rev - rec).days} days → accepted {(acc - rev).days} day(s); "
                f"cited in {cy[0].year}",
                "consistent" if ok else "inconsistent",
                "The article's own dates are in order." if ok else "The article's own dates are out of order.",
                "date.article_order",
                {"days_to_revision": (rev - rec).days},
            )
        )
    per = ("text.methods.period.start", "text.methods.period.end")
    if pub.has(*per, "article.dates.received"):
        s, e = _parse_date(pub.v(per[0]))[0], _parse_date(pub.v(per[1]))[1]
        rec = _parse_date(pub.v("article.dates.received"))[0]
        ok = s <= e <= rec
        out.append(
            Finding(
                "date",
                _where(pub, per[0], ["article.dates.received"]),
                (*per, "article.dates.received"),
                f"{pub.text(per[0])} – {pub.text(per[1])}; received {pub.text('article.dates.received')}",
                f"period of {_months_between(s, e):.0f} months ending {(rec - e).days} days before submission",
                "consistent" if ok else "inconsistent",
                "The treatment period ends before the article was submitted."
                if ok
                else "The treatment period does not end before submission.",
                "date.period_before_submission",
                {},
            )
        )
    ids = (
        "text.methods.censoring_date",
        "article.dates.accepted",
        "article.citation.year",
        "article.dates.received",
        "article.dates.revised",
    )
    if pub.has(*ids):
        cens = _parse_date(pub.v(ids[0]))[0]
        acc = _parse_date(pub.v(ids[1]))[0]
        cy_end = _parse_date(pub.v(ids[2]))[1]
        after = (cens - acc).days
        ok = cens <= acc
        out.append(
            Finding(
                "date",
                _where(pub, ids[0], ids[1:]),
                ids,
                f"censoring {pub.text(ids[0])}; accepted {pub.text(ids[1])}; cited {pub.text(ids[2])}",
                f"censoring is {after} days ({_months_between(acc, cens):.1f} months) after acceptance and "
                f"{(cens - cy_end).days} days after the end of the citation year",
                "consistent" if ok else "inconsistent",
                (
                    "Follow-up ends before acceptance."
                    if ok
                    else f"The paper reports follow-up censored {_months_between(acc, cens) / 12:.1f} years after its own "
                    f"acceptance ({pub.text(ids[1])}) and after its {pub.text(ids[2])} citation year; an article cannot "
                    f"report follow-up that ends after it was accepted."
                ),
                "date.censoring_after_acceptance",
                {"days_after_acceptance": after, "months_after_acceptance": _months_between(acc, cens)},
            )
        )
    for ref_id in pub.ids(r"article\.references\.ref\d+\.year"):
        if not pub.has("article.dates.accepted", "article.citation.year"):
            continue
        ry = _parse_date(pub.v(ref_id))
        acc = _parse_date(pub.v("article.dates.accepted"))[0]
        cy = _parse_date(pub.v("article.citation.year"))[1]
        number = re.search(r"ref(\d+)", ref_id)[1]
        ok = ry[0] <= acc
        out.append(
            Finding(
                "date",
                pub.where(ref_id),
                (ref_id, "article.dates.accepted", "article.citation.year"),
                f"reference {number} dated {pub.text(ref_id)}",
                f"earliest possible date {ry[0].isoformat()}, {(ry[0] - acc).days} days after acceptance"
                + (f" and after the {cy.year} citation year" if ry[0] > cy else ""),
                "consistent" if ok else "inconsistent",
                (
                    f"Reference {number} can predate acceptance."
                    if ok
                    else f"Reference {number} appeared in {pub.text(ref_id)}, after the article was accepted "
                    f"({pub.text('article.dates.accepted')}) and published ({pub.text('article.citation.year')})."
                ),
                f"date.reference.{number}",
                {"days_after_acceptance": (ry[0] - acc).days},
            )
        )
    ids = ("text.intro.csco_guidelines.year", "article.dates.revised", "article.dates.accepted")
    if pub.has(*ids):
        gy = _parse_date(pub.v(ids[0]))
        rev = _parse_date(pub.v(ids[1]))[0]
        acc = _parse_date(pub.v(ids[2]))[0]
        window = (rev - gy[0]).days + 1
        if gy[0] > acc:
            verdict, expl = (
                "inconsistent",
                f"Guidelines of {pub.text(ids[0])} cannot be cited in a paper accepted {pub.text(ids[2])}.",
            )
        elif gy[1] <= rev:
            verdict, expl = "consistent", "The guidelines' year ends before the last revision."
        else:
            verdict = "needs an unstated choice"
            expl = (
                f"Citing the {pub.text(ids[0])} edition in a text last revised {pub.text(ids[1])} requires it "
                f"to have appeared within the first {window} days of {gy[0].year}; the paper gives no reference "
                f"or date for it."
            )
        out.append(
            Finding(
                "date",
                pub.where(ids[0]),
                ids,
                f"'the {pub.text(ids[0])} CSCO guidelines'",
                f"revised {rev.isoformat()}: {window} days into {gy[0].year}; accepted {acc.isoformat()}",
                verdict,
                expl,
                "date.csco_guidelines",
                {"days_into_year": window},
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Text against tables (beyond plain duplicates)


def _text_vs_table_checks(pub: _Pub, p_findings: Sequence[Finding]) -> list[Finding]:
    out = []
    # "larger primary lesions (p = 0.007)": which Table 1 row carries that p?
    pl = "text.cohort.before.primary_lesion_size.p"
    if pub.has(pl):
        val = pub.v(pl)
        rows = [i for i in pub.ids(r"table1\.before\.[^.]+\.p") if _same(pub.v(i), val)]
        own = "table1.before.primary_lesion_size.p"
        if pub.has(own):
            ok = _same(pub.v(own), val)
            out.append(
                Finding(
                    "text vs table",
                    pub.where(pl),
                    (pl, own),
                    f"p = {pub.p_text(pl)}",
                    f"Table 1: {pub.p_text(own)}",
                    "consistent" if ok else "inconsistent",
                    "Text and table agree." if ok else "Text and table differ.",
                    "tvt.primary_lesion",
                    {},
                )
            )
        else:
            owners = ", ".join(_t1_label(pub, i) for i in rows) or "no row"
            out.append(
                Finding(
                    "text vs table",
                    _where(pub, pl, rows),
                    (pl, *rows),
                    f"'larger primary lesions (p = {pub.p_text(pl)})'",
                    f"Table 1 has no primary-lesion-size row; its before-PSM p = {pub.p_text(pl)} is on: {owners}",
                    "inconsistent",
                    f"The text attributes p = {pub.p_text(pl)} to larger primary lesions, which Table 1 does not "
                    f"report; Table 1 prints that p on {owners}.",
                    "tvt.primary_lesion",
                    {"rows_with_same_p": rows},
                )
            )
    # The Results' list of significant before-PSM differences against Table 1.
    text_ps = pub.ids(r"text\.cohort\.before\.[^.]+\.p")
    table_ps = pub.ids(r"table1\.before\.[^.]+\.p")
    if text_ps and table_ps and pub.has("text.methods.alpha.p"):
        alpha = float(pub.v("text.methods.alpha.p"))
        sig = [i for i in table_ps if float(pub.v(i)) < alpha]
        named = {i.split(".")[3] for i in text_ps}
        sig_vars = {i.split(".")[2] for i in sig}
        missing = sorted(sig_vars - named)
        ok = len(sig) == len(text_ps)
        out.append(
            Finding(
                "text vs table",
                _where(pub, text_ps[0], sig),
                (*text_ps, *sig, "text.methods.alpha.p"),
                f"{len(text_ps)} significant differences before PSM named in the text",
                f"Table 1 before PSM: {len(sig)} p < {alpha:g} ("
                + ", ".join(f"{i.split('.')[2]} {pub.p_text(i)}" for i in sig)
                + ")",
                "consistent" if ok else "inconsistent",
                (
                    "The text names as many significant differences as Table 1 has"
                    + (
                        f"; the one it calls larger primary lesions is Table 1's "
                        f"{', '.join(_t1_label(pub, f'table1.before.{v}.p') for v in missing)}."
                        if missing
                        else "."
                    )
                ),
                "tvt.significant_before",
                {"table_significant": sig, "text_named": sorted(named), "unnamed": missing},
            )
        )
    # "all p > 0.4" after matching.
    a_id = "text.cohort.after.all_covariates.p"
    after_ps = pub.ids(r"table1\.after\.[^.]+\.p")
    if pub.has(a_id) and after_ps:
        bound = float(pub.v(a_id))
        smallest = min(after_ps, key=lambda i: float(pub.v(i)))
        recomputed_after = [
            f.values.get("p")
            for f in p_findings
            if f.key.startswith("p.table1.after.") and f.values.get("p") is not None
        ]
        ok = float(pub.v(smallest)) > bound and all(p > bound for p in recomputed_after)
        out.append(
            Finding(
                "text vs table",
                _where(pub, a_id, [smallest]),
                (a_id, *after_ps),
                f"all p {pub.text(a_id)}",
                f"smallest printed after-PSM p: {pub.p_text(smallest)} ({smallest.split('.')[2]}); smallest recomputed: "
                f"{min(recomputed_after):.3f}"
                if recomputed_after
                else f"smallest printed: {pub.p_text(smallest)}",
                "consistent" if ok else "inconsistent",
                f"Every after-PSM p of Table 1, printed or recomputed, exceeds {bound:g}."
                if ok
                else f"Some after-PSM p of Table 1 is not above {bound:g}.",
                "tvt.after_all_p",
                {},
            )
        )
    # Multivariate model: entry rule and the count of significant factors.
    if pub.has("text.methods.univariate_entry.p", "text.methods.alpha.p"):
        entry = float(pub.v("text.methods.univariate_entry.p"))
        alpha = float(pub.v("text.methods.alpha.p"))
        uni = {
            i.split(".", 2)[2].rsplit(".", 1)[0]: float(pub.v(i))
            for i in pub.ids(r"table3\.univariate\.[^.]+\.[^.]+\.p")
        }
        multi = {
            i.split(".", 2)[2].rsplit(".", 1)[0]: float(pub.v(i))
            for i in pub.ids(r"table3\.multivariate\.[^.]+\.[^.]+\.p")
        }
        if uni and multi:
            entered = {k for k, p in uni.items() if p < entry}
            ok = entered == set(multi)
            out.append(
                Finding(
                    "text vs table",
                    "Table 3 and Materials and Methods, Statistical analysis",
                    ("text.methods.univariate_entry.p", *(f"table3.univariate.{k}.p" for k in uni)),
                    f"factors with univariate p {pub.text('text.methods.univariate_entry.p')} enter the multivariate model",
                    f"univariate p < {entry:g}: {', '.join(sorted(entered))}; multivariate rows: {', '.join(sorted(multi))}",
                    "consistent" if ok else "inconsistent",
                    "The multivariate model holds exactly the factors significant on univariate analysis."
                    if ok
                    else "The multivariate model's factors are not those significant on univariate analysis.",
                    "tvt.cox_entry",
                    {"entered": sorted(entered), "multivariate": sorted(multi)},
                )
            )
            sig = sorted(k for k, p in multi.items() if p < alpha)
            for n_id in (
                "text.cox.multivariate.significant.n",
                "text.discussion.cox.multivariate.significant.n",
            ):
                if pub.has(n_id):
                    ok = int(pub.v(n_id)) == len(sig)
                    out.append(
                        Finding(
                            "text vs table",
                            pub.where(n_id),
                            (n_id, *(f"table3.multivariate.{k}.p" for k in multi)),
                            f"{pub.text(n_id)} significant factors",
                            f"Table 3 multivariate p < {alpha:g}: {len(sig)} ({', '.join(sig)})",
                            "consistent" if ok else "inconsistent",
                            "The count matches Table 3." if ok else "The count differs from Table 3.",
                            f"tvt.cox_significant.{n_id.split('.')[1]}",
                            {"significant": sig},
                        )
                    )
    # Figure 1 caption against the survival p-values of the text.
    f_id = "text.figure1.p"
    surv_ps = pub.ids(r"text\.survival\.(os|pfs)\.(before|after)\.p")
    if pub.has(f_id) and surv_ps:
        bound, _, upper = parse_printed_p(pub.p_text(f_id))
        ok = all(float(pub.v(i)) < bound for i in surv_ps)
        out.append(
            Finding(
                "text vs table",
                _where(pub, f_id, surv_ps),
                (f_id, *surv_ps),
                f"Figure 1: all p {pub.text(f_id)}",
                "text: " + ", ".join(f"{i.split('.')[2].upper()} {i.split('.')[3]} {pub.p_text(i)}" for i in surv_ps),
                "consistent" if ok else "inconsistent",
                "The caption's bound holds for the four survival p-values of the text."
                if ok
                else "A survival p of the text breaks the caption's bound.",
                "tvt.figure1",
                {},
            )
        )
    # Median radiation dose against Table 1's dose levels.
    med = "text.treatment.radiotherapy.dose.median"
    std = [f"table1.before.radiation_dose.standard.{a}.n" for a in ARMS]
    esc = [f"table1.before.radiation_dose.escalated.{a}.n" for a in ARMS]
    if pub.has(med, *std, *esc):
        s = sum(int(pub.v(i)) for i in std)
        e = sum(int(pub.v(i)) for i in esc)
        frac = s / (s + e)
        ok = frac >= 0.5
        out.append(
            Finding(
                "text vs table",
                _where(pub, med, [std[0]]),
                (med, *std, *esc),
                f"median {pub.text(med)} Gy",
                f"{s} of {s + e} ({100 * frac:.1f}%) in the lowest dose level (up to {pub.text(med)} Gy)",
                "consistent" if ok else "inconsistent",
                "More than half the patients are in the dose level that ends at the median, as it must be."
                if ok
                else "The median cannot fall in the lowest dose level.",
                "tvt.median_dose",
                {"lowest_level": s, "total": s + e},
            )
        )
    # "Grade 3–4 rates for these toxicities were 11.8%, 6.6%, and 3.9%, respectively".
    listed = pub.ids(r"text\.anlotinib\.any_grade\.\w+\.n")
    rates = pub.ids(r"text\.anlotinib\.g34\.\w+\.pct")
    if listed and rates:
        listed_events = [i.split(".")[3] for i in listed]
        rate_events = [i.split(".")[3] for i in rates]
        literal = dict(zip(listed_events, rates))
        table_rows = {i.split(".")[2]: i for i in pub.ids(r"table4\.anlotinib_g34\.\w+\.anlotinib\.pct")}
        matches_table = all(
            ev in table_rows and _same(pub.v(table_rows[ev]), pub.v(r)) for ev, r in zip(rate_events, rates)
        )
        literal_pairs = ", ".join(f"{ev} {pub.text(r)}" for ev, r in literal.items())
        thr_note = ""
        if pub.has("table4.footnote.anlotinib_threshold.pct"):
            thr = float(pub.v("table4.footnote.anlotinib_threshold.pct"))
            extra = [ev for ev, r in literal.items() if ev not in table_rows and float(pub.v(r)) >= thr]
            if extra:
                thr_note = (
                    f" Read literally, {', '.join(extra)} would have a grade 3–4 rate ≥ {thr:g}%, yet "
                    f"Table 4 (which lists such events) has no row for it."
                )
        ok = len(listed) == len(rates)
        out.append(
            Finding(
                "text vs table",
                _where(pub, rates[0], [*(table_rows.values())][:1]),
                (*listed, *rates, *table_rows.values()),
                f"{len(listed)} toxicities listed, then {len(rates)} grade 3–4 rates 'respectively'",
                f"literal pairing: {literal_pairs}; Table 4 pairing: "
                + ", ".join(f"{ev} {pub.text(table_rows[ev])}" for ev in table_rows),
                "consistent" if ok else "inconsistent",
                (
                    f"'Respectively' pairs {len(rates)} rates with {len(listed)} toxicities; the rates are Table 4's "
                    f"({', '.join(rate_events)}) only if the list is read out of order." + thr_note
                )
                if not ok
                else "One rate per listed toxicity.",
                "tvt.g34_respectively",
                {"listed": listed_events, "rates": rate_events, "matches_table": matches_table},
            )
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Public API


def run_audit(published: Optional[Mapping[str, Any]] = None) -> list[Finding]:
    """Every check of the paper against itself, consistent ones included.

    `published` maps id -> :class:`~psmbook.study.published.PublishedNumber` (or a plain value); by default
    the package's ``published.yaml``. Checks whose ids are missing from `published` are skipped.
    """
    pub = _Pub(published)
    dups = _duplicates(pub)
    p_findings = _table1_p_checks(pub) + _table2_p_checks(pub) + _table4_p_checks(pub) + _g34_overall_p_check(pub)
    findings = list(p_findings) + _test_choice_summary(p_findings)
    findings += _percentage_checks(pub, dups)
    findings += _hr_checks(pub)
    findings += _subgroup_checks(pub)
    findings += _landmark_checks(pub)
    findings += _date_checks(pub)
    findings += _duplicate_checks(pub, dups)
    findings += _listing_thresholds(pub)
    findings += _text_vs_table_checks(pub, p_findings)
    return findings


def audit_table(
    findings: Sequence[Finding], *, verdicts: Optional[Iterable[str]] = None, sort: bool = True
) -> pd.DataFrame:
    """The findings as a display table: check, where, printed, recomputed, verdict, explanation, ids.

    `verdicts` keeps only those verdicts; `sort` puts inconsistencies first, then unstated choices,
    then consistent checks (each by family, in the order of :data:`CHECKS`).
    """
    keep = set(verdicts) if verdicts is not None else set(VERDICTS)
    unknown = keep - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdict(s) {sorted(unknown)}; choose from {VERDICTS}")
    rows = [
        {
            "check": f.check,
            "where": f.where,
            "printed": f.printed,
            "recomputed": f.recomputed,
            "verdict": f.verdict,
            "explanation": f.explanation,
            "ids": ", ".join(f.ids),
            "key": f.key,
        }
        for f in findings
        if f.verdict in keep
    ]
    df = pd.DataFrame(rows, columns=["check", "where", "printed", "recomputed", "verdict", "explanation", "ids", "key"])
    if sort and not df.empty:
        df = df.assign(_v=df["verdict"].map(VERDICTS.index), _c=df["check"].map(CHECKS.index))
        df = df.sort_values(["_v", "_c"], kind="stable").drop(columns=["_v", "_c"])
    return df.reset_index(drop=True)


def audit_summary(findings: Sequence[Finding]) -> pd.DataFrame:
    """Counts of findings by check (rows, in the order of :data:`CHECKS`) and verdict (columns), with totals."""
    table = pd.DataFrame(0, index=list(CHECKS), columns=list(VERDICTS), dtype=int)
    for f in findings:
        table.loc[f.check, f.verdict] += 1
    table = table.loc[table.sum(axis=1) > 0]
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    table.index.name = "check"
    table.columns.name = "verdict"
    return table


def not_checkable(published: Optional[Mapping[str, Any]] = None) -> list[tuple[str, str]]:
    """What the printed numbers cannot settle, and why: (what, why) pairs."""
    pub = _Pub(published)
    out: list[tuple[str, str]] = []
    out.append(
        (
            "The propensity-score model and the matching itself",
            "Which patients were matched, the propensity scores, any caliper and the balance measures "
            "(standardised differences) need the patients' data; the paper prints only counts and p-values "
            "after matching.",
        )
    )
    # Survival p-values: show that tests of the event proportions do not give them.
    evidence = []
    for ep, word in (("pfs", "progression"), ("os", "death")):
        ids = [f"text.survival.{ep}.before.events.{a}.n" for a in ARMS]
        ns = [f"table1.before.n.{a}" for a in ARMS]
        p_id = f"text.survival.{ep}.before.p"
        if pub.has(*ids, *ns, p_id):
            e = [int(pub.v(i)) for i in ids]
            n = [int(pub.v(i)) for i in ns]
            inf = infer_paper_test([[e[0], e[1]], [n[0] - e[0], n[1] - e[1]]], pub.p_text(p_id))
            evidence.append(
                f"{word} {e[0]}/{n[0]} vs {e[1]}/{n[1]}: {_cands_text(inf.candidates)} "
                f"against the printed {pub.p_text(p_id)}" + ("" if not inf.reproduces else " (reproduced)")
            )
    ids = [f"text.survival.pfs.after.12m.{a}" for a in ARMS]
    if pub.has(*ids, "table1.after.n.anlotinib", "table1.after.n.crt", "text.survival.pfs.after.p"):
        ns = [int(pub.v(f"table1.after.n.{a}")) for a in ARMS]
        ks = [implied_counts(float(pub.v(i)), n) for i, n in zip(ids, ns)]
        if all(len(k) == 1 for k in ks):
            k = [x[0] for x in ks]
            inf = infer_paper_test(
                [[k[0], k[1]], [ns[0] - k[0], ns[1] - k[1]]], pub.p_text("text.survival.pfs.after.p")
            )
            evidence.append(
                f"12-month PFS {k[0]}/{ns[0]} vs {k[1]}/{ns[1]}: {_cands_text(inf.candidates)} against "
                f"the printed {pub.p_text('text.survival.pfs.after.p')}"
                + ("" if not inf.reproduces else " (reproduced)")
            )
    out.append(
        (
            "The survival p-values (PFS and OS, before and after matching)",
            "The paper never names the test (log-rank, presumably); it needs each patient's time and status. "
            "Tests of the printed proportions do not give them: " + "; ".join(evidence) + "."
            if evidence
            else "The paper never names the test (log-rank, presumably); it needs each patient's time and status.",
        )
    )
    out.append(
        (
            "Figure 1 (Kaplan–Meier curves, panels a–d)",
            "The figure is not in the text of the article; only the landmark rates and p-values quoted in the "
            "Results can be checked.",
        )
    )
    out.append(
        (
            "The Cox models of Table 3",
            "Fitting them needs the patients' data: the coding of 'number of recurrent nodes' and 'response', "
            "the handling of ties, the proportional-hazards assumption and whether the matched pairs were "
            "accounted for. Only each row's HR, CI and p against each other can be checked.",
        )
    )
    out.append(
        (
            "Median survival and the number at risk",
            "The paper prints no median OS or PFS and no numbers at risk, so the curves' shape beyond the "
            "quoted landmarks cannot be checked.",
        )
    )
    after_p = [f for f in _table1_p_checks(pub) + _table2_p_checks(pub) if ".after." in f.key]
    unpaired = sum(1 for f in after_p if f.values.get("test") is not None)
    out.append(
        (
            "Whether the matched comparisons respect the pairing",
            f"{unpaired} of {len(after_p)} after-matching p-values of Tables 1–2 are reproduced by unpaired "
            "tests; a paired analysis (McNemar's test, a stratified Cox model) needs to know who is paired "
            "with whom.",
        )
    )
    ex = (
        "text.anlotinib.after.n",
        "text.anlotinib.after.start_dose_12mg.dose",
        "text.anlotinib.after.exposure.median",
        "text.anlotinib.after.gt6_cycles.threshold",
        "text.methods.anlotinib.maintenance.max",
    )
    if pub.has(*ex):
        out.append(
            (
                f"Anlotinib exposure in the matched arm ({pub.text(ex[1])} mg start, concurrent cycles, median "
                f"{pub.text(ex[2])} weeks, more than {pub.text(ex[3])} cycles)",
                f"Only the percentages of {pub.text(ex[0])} can be recomputed (see the percentage checks); the "
                f"distribution of exposure and its relation to the {pub.text(ex[4])}-month maintenance limit "
                f"need the patients' records.",
            )
        )
    g = [f"text.toxicity.g34_overall.{a}.pct" for a in ARMS]
    if pub.has(*g):
        out.append(
            (
                "Grade 3–4 toxicity overall and its overlap between events",
                f"The overall rates ({pub.text(g[0])} vs {pub.text(g[1])}) come without counts; the counts they "
                f"imply are whole numbers, but how the single events overlap within patients needs the "
                f"patients' data.",
            )
        )
    out.append(
        (
            "Nodal stations (2R, 7, supraclavicular) and the surgery-to-recurrence interval",
            "Stations overlap within patients and the interval is a median with range; neither can be "
            "checked beyond the bounds that Table 1 sets.",
        )
    )
    if pub.has("article.dates.accepted", "article.citation.year"):
        out.append(
            (
                f"Whether references dated {pub.text('article.citation.year')} predate acceptance",
                f"Only the year of each reference is printed; a paper of {pub.text('article.citation.year')} "
                f"may have appeared before or after the acceptance date, {pub.text('article.dates.accepted')}.",
            )
        )
    return out


def provenance_note() -> str:
    """Context, stated neutrally: the same cohort and results also appear in a second publication."""
    src = published_source()
    prov = str(src.get("provenance", "")).strip()
    prov = re.sub(r"^Per PROVENANCE\.md,\s*", "", prov)
    if prov:
        prov = prov[0].upper() + prov[1:]
    this = src.get("citation", "")
    other = src.get("also_published_as", "")
    return (
        f"This book reproduces {this}. {prov} Full reference: {other}. Both publications are public and "
        f"can be compared by any reader."
    ).strip()
