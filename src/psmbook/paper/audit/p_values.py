"""Checks of the printed p-values: each recomputed from the paper's own counts with the candidate tests."""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Optional, Sequence

from psmbook.analysis.association import TEST_LABELS, infer_paper_test, rule_based_test
from psmbook.paper.audit.common import (
    ARMS,
    NAMED_TESTS,
    PERIODS,
    SHORT_TEST,
    Finding,
    PrintedNumbers,
    fmt_num,
    implied_counts,
    t1_label,
)
from psmbook.present.format import format_p


def _test_phrase(name: str) -> str:
    return TEST_LABELS[name]


def cands_text(cands: Mapping[str, float]) -> str:
    return ", ".join(f"{SHORT_TEST[k]} {fmt_num(v)}" for k, v in cands.items() if v is not None and not math.isnan(v))


def _p_finding(
    pub: PrintedNumbers,
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
        recomputed = f"{_test_phrase(test)} p = {fmt_num(inf.p)} (candidates: {cands_text(inf.candidates)})"
        verdict, expl = _reproduced_verdict(inf, what, printed)
        return Finding("p-value", where, ids, f"p = {printed}", recomputed, verdict, expl, key, values)
    if printed_rows_only is not None:
        inf2 = infer_paper_test(printed_rows_only, printed)
        values.update(candidates_printed_rows=dict(inf2.candidates))
        if inf2.reproduces:
            values.update(test=inf2.test, p=inf2.p, matching=inf2.matching, rows="printed", p_all_rows=inf.candidates)
            recomputed, expl = _printed_rows_reading(inf, inf2, printed, omitted_label)
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
    recomputed = f"no candidate prints {printed}: {cands_text(inf.candidates)}"
    expl = (
        f"None of the χ², Fisher, Yates or likelihood-ratio tests of {what} prints as {printed}; "
        f"the closest is {_test_phrase(inf.test)} {fmt_num(inf.p)}."
    )
    return Finding("p-value", where, ids, f"p = {printed}", recomputed, "inconsistent", expl, key, values)


def _reproduced_verdict(inf, what: str, printed: str) -> tuple[str, str]:
    """A printed p that a candidate test reproduces: consistent when the Methods name that test, else it needs
    the unstated choice of another test."""
    test = inf.test
    if test in NAMED_TESTS:
        also = [TEST_LABELS[m] for m in inf.matching[1:]]
        return "consistent", f"The {_test_phrase(test)} test of {what} prints as {printed}" + (
            f" (as does the {' and the '.join(also)})." if also else "."
        )
    expl = (
        f"Only the {_test_phrase(test)} test of {what} prints as {printed} (smallest expected "
        f"count {inf.min_expected:.2f}); the Methods name only the χ² test and Fisher's exact test"
    )
    if "pearson" in inf.candidates and test != "pearson":
        expl += f", and the uncorrected χ² used elsewhere would print {format_p(inf.candidates['pearson'])}"
    return "needs an unstated choice", expl + "."


def _printed_rows_reading(inf, inf2, printed: str, omitted_label: str) -> tuple[str, str]:
    """Recomputed text and explanation of a p reproduced only without the unprinted row (`inf2`), where all
    rows (`inf`) reproduce nothing."""
    recomputed = (
        f"with the unprinted {omitted_label!r} row: {cands_text(inf.candidates)}; "
        f"printed rows only: {_test_phrase(inf2.test)} p = {fmt_num(inf2.p)} "
        f"({cands_text(inf2.candidates)})"
    )
    if inf2.test in NAMED_TESTS:
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
    return recomputed, expl


def table1_levels(pub: PrintedNumbers, period: str, var: str) -> list[str]:
    levels: list[str] = []
    for i in pub.ids(rf"table1\.{period}\.{re.escape(var)}\.[^.]+\.(anlotinib|crt)\.n"):
        level = i.split(".")[3]
        if level not in levels:
            levels.append(level)
    return levels


def table1_vars(pub: PrintedNumbers, period: str) -> list[str]:
    return [i.split(".")[2] for i in pub.ids(rf"table1\.{period}\.[^.]+\.p")]


def table1_p_checks(pub: PrintedNumbers) -> list[Finding]:
    out = []
    for period in PERIODS:
        if not pub.has(*(f"table1.{period}.n.{a}" for a in ARMS)):
            continue
        n_arm = [int(pub.v(f"table1.{period}.n.{a}")) for a in ARMS]
        for var in table1_vars(pub, period):
            levels = table1_levels(pub, period, var)
            ids = [f"table1.{period}.{var}.{lv}.{a}.n" for lv in levels for a in ARMS]
            if not levels or not pub.has(*ids):
                continue
            rows = [[int(pub.v(f"table1.{period}.{var}.{lv}.{a}.n")) for a in ARMS] for lv in levels]
            rest = [n - sum(r[j] for r in rows) for j, n in enumerate(n_arm)]
            what = f"{t1_label(pub, f'table1.{period}.{var}.p')} ({period} PSM, {len(levels)} printed levels)"
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


def table2_p_checks(pub: PrintedNumbers) -> list[Finding]:
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


def table4_p_checks(pub: PrintedNumbers) -> list[Finding]:
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


def g34_overall_p_check(pub: PrintedNumbers) -> list[Finding]:
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


def test_choice_summary(p_findings: Sequence[Finding]) -> list[Finding]:
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
    others = {k: v for k, v in used.items() if k not in NAMED_TESTS}
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
