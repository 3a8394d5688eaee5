"""Reproduced against published: every number the book computed beside the number the paper printed.

The computed values are the chapters' results, read through the discussion chapter's ``Chapter`` and merged
by :func:`merge_results`; the published ones come from ``published.yaml``; they meet on their shared id. A
number printed in several places (abstract, table, text) is compared in each place, through the id of the
same quantity where the book computed it.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import pandas as pd

from psmbook.analysis.sensitivity import e_value
from psmbook.study.published import load_published

#: kind -> (stated tolerance, test of agreement between computed c and published v)
TOLERANCES = {
    "count": ("exact", lambda c, v: c == v),
    "percent": ("±5 percentage points", lambda c, v: abs(c - v) <= 5.0 + 1e-9),
    "p": ("same side of 0.05", lambda c, v: (c < 0.05) == (v < 0.05)),
    "hr": ("within ±25%", lambda c, v: abs(math.log(c / v)) <= math.log(1.25)),
    "ci_low": ("within ±25%", lambda c, v: abs(math.log(c / v)) <= math.log(1.25)),
    "ci_high": ("within ±25%", lambda c, v: abs(math.log(c / v)) <= math.log(1.25)),
    "months": ("within ±20%", lambda c, v: abs(c - v) <= 0.2 * abs(v)),
    "weeks": ("within ±20%", lambda c, v: abs(c - v) <= 0.2 * abs(v)),
}


def merge_results(results: Mapping[str, Mapping[str, object]]) -> dict[str, tuple[str, object]]:
    """Every chapter's computed numbers, given as {chapter: {id: value}}: id -> (chapter, value)."""
    return {key: (chapter, value) for chapter, values in results.items() for key, value in values.items()}


def aliases(pid: str) -> list[str]:
    """Ids under which the book may have computed the quantity a published id prints."""
    names = [pid]
    if pid.startswith("abstract."):
        rest = pid[len("abstract.") :]
        names.append("text." + rest)
        if rest.startswith("response."):
            names.append("table2." + rest[len("response.") :])
        if rest.startswith("cox."):
            names.append("table3." + rest[len("cox.") :])
    if pid.startswith("text.cox."):
        names.append("table3." + pid[len("text.cox.") :])
    return names


def section_of(pid: str) -> str:
    head = pid.split(".")[0]
    return {
        "abstract": "Abstract",
        "table1": "Table 1",
        "table2": "Table 2",
        "table3": "Table 3",
        "table4": "Table 4",
    }.get(head, "Text")


def numeric(value: object) -> float | None:
    """A computed result as a number, or None when the page shows it suppressed ("< 5", a range "72–75")."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def compare(
    results: Mapping[str, tuple[str, object]],
    published: Mapping | None = None,
    more_aliases: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """One row per published number the book computed: published, computed, difference, agreement.
    `more_aliases` adds, per published id, further ids of the same quantity (the paper's duplicates,
    :func:`psmbook.paper.strict.extend_results`)."""
    published = published or load_published()
    more_aliases = more_aliases or {}
    rows = []
    for pid, entry in published.items():
        if entry.kind not in TOLERANCES or not isinstance(entry.value, (int, float)):
            continue
        names = [*aliases(pid), *more_aliases.get(pid, ())]
        found = next((name for name in names if name in results and numeric(results[name][1]) is not None), None)
        if found is None:  # not computed, or suppressed on the page (then not compared)
            continue
        chapter, computed = results[found][0], numeric(results[found][1])
        value = float(entry.value)
        tolerance, agrees = TOLERANCES[entry.kind]
        rows.append(
            {
                "id": pid,
                "section": section_of(pid),
                "where": entry.where,
                "kind": entry.kind,
                "published": value,
                "computed": computed,
                "difference": computed - value,
                "tolerance": tolerance,
                "agrees": bool(agrees(computed, value)),
                "chapter": chapter,
                "computed_as": found,
            }
        )
    return pd.DataFrame(rows)


def mark_calibrated(table: pd.DataFrame, calibrated_ids) -> pd.DataFrame:
    """The comparison with a column ``calibrated``: the number is one the synthetic cohort was built to
    reproduce (an id the cohort chapter wrote from its calibration report)."""
    return table.assign(calibrated=table["computed_as"].isin(set(calibrated_ids)))


def agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers compared and agreeing, by section of the paper and kind of number, with the tolerance."""
    grouped = table.groupby(["section", "kind"], sort=False)
    return pd.DataFrame(
        {
            "numbers": grouped.size(),
            "agree": grouped["agrees"].sum().astype(int),
            "tolerance": grouped["tolerance"].first(),
        }
    )


def agreement_numbers(table: pd.DataFrame) -> dict[str, object]:
    """The comparison's headline numbers for the prose, calibrated and free numbers apart."""
    free = table[~table["calibrated"]]
    return {
        "n_compared": len(table),
        "n_agree": int(table["agrees"].sum()),
        "n_calibrated": int(table["calibrated"].sum()),
        "n_free": len(free),
        "n_free_agree": int(free["agrees"].sum()),
        "free_agreement": agreement(free),
        "calibrated_agreement": agreement(table[table["calibrated"]]),
    }


def audit_numbers(audit_frame: pd.DataFrame) -> dict[str, object]:
    """The audit's headline numbers for the prose: checks, inconsistencies, unstated choices, and the
    table of checks by kind and verdict."""
    return {
        "audit_by_verdict": audit_frame.groupby(["check", "verdict"]).size().unstack(fill_value=0),
        "n_checks": len(audit_frame),
        "n_inconsistent": int((audit_frame["verdict"] == "inconsistent").sum()),
        "n_unstated": int((audit_frame["verdict"] == "needs an unstated choice").sum()),
        "n_by_construction": int((audit_frame["check"] == "by construction").sum()),
    }


def discussion_values(
    table: pd.DataFrame, audit_frame: pd.DataFrame, estimates, strict: pd.DataFrame | None = None
) -> dict[str, object]:
    """The discussion chapter's results (``discussion.*`` ids): the comparison (loose and, given `strict` from
    :func:`psmbook.paper.strict.strict_compare`, at the printed precision by class), the audit, each
    sensitivity analysis in order and the E-value of the main (first) estimate."""
    compared, audited = agreement_numbers(table), audit_numbers(audit_frame)
    e_values = e_value(estimates[0].hr, estimates[0].ci_low, estimates[0].ci_high)
    values = {
        "discussion.compared.n": compared["n_compared"],
        "discussion.compared.agree": compared["n_agree"],
        "discussion.compared.not_calibrated.n": compared["n_free"],
        "discussion.compared.not_calibrated.agree": compared["n_free_agree"],
        "discussion.audit.checks": audited["n_checks"],
        "discussion.audit.inconsistent": audited["n_inconsistent"],
        "discussion.audit.unstated_choice": audited["n_unstated"],
        "discussion.audit.by_construction": audited["n_by_construction"],
        "discussion.e_value.point": e_values[0],
        "discussion.e_value.ci": e_values[1],
    }
    if strict is not None:
        values["discussion.strict.n"] = len(strict)
        values["discussion.strict.agree"] = int(strict["strict"].sum())
        for klass, part in strict.groupby("class", sort=False):
            key = klass.split()[0]  # calibrated, fixed, produced, computed
            values[f"discussion.strict.{key}.n"] = len(part)
            values[f"discussion.strict.{key}.agree"] = int(part["strict"].sum())
    for i, e in enumerate(estimates):
        for key in ("hr", "ci_low", "ci_high", "p", "treated", "controls"):
            values[f"discussion.sensitivity.{i:02d}.{key}"] = getattr(e, key)
    return values
