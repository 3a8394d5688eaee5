"""Reproduced against published: every number the book computed beside the number the paper printed.

The computed values come from the chapters' ``results/<chapter>.json`` files, the published ones from
``published.yaml``; they meet on their shared id. A number printed in several places (abstract, table,
text) is compared in each place, through the id of the same quantity where the book computed it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

import pandas as pd

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


def load_results(results_dir: Path | str = "results") -> dict[str, tuple[str, object]]:
    """Every chapter's computed numbers: id -> (chapter, value)."""
    merged: dict[str, tuple[str, object]] = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        payload = json.loads(path.read_text())
        for key, value in payload["values"].items():
            merged[key] = (payload["chapter"], value)
    return merged


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


def compare(results: Mapping[str, tuple[str, object]], published: Mapping | None = None) -> pd.DataFrame:
    """One row per published number the book computed: published, computed, difference, agreement."""
    published = published or load_published()
    rows = []
    for pid, entry in published.items():
        if entry.kind not in TOLERANCES or not isinstance(entry.value, (int, float)):
            continue
        found = next((name for name in aliases(pid) if name in results and results[name][1] is not None), None)
        if found is None:
            continue
        chapter, computed = results[found]
        computed = float(computed)
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


def summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Agreement by section and kind of number."""
    grouped = comparison.groupby(["section", "kind"], sort=False)
    return pd.DataFrame(
        {
            "numbers": grouped.size(),
            "agree": grouped["agrees"].sum().astype(int),
            "tolerance": grouped["tolerance"].first(),
        }
    )
