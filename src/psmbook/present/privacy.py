"""Small-cell suppression: no published table, figure or results file of a real cohort shows a count below
``min_cell``, nor one that other printed counts give away.

A count of 1 to k-1 patients in a cell can identify someone (the one woman over 80 with a grade III
tumour); statistical disclosure control replaces it by "< k". Zero stays zero: it reveals no one.
Synthetic patients are nobody, so their counts are never suppressed (:func:`effective_min_cell`).
Patient-level columns that the study description does not name never enter the book
(:func:`psmbook.cohort.validation.prepare_cohort` drops them); patient ids are taken out of an error message
bound for a terminal (:func:`without_ids`), the user's folders out of pages and results (:func:`public_parameters`).
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any, Hashable, Mapping, Sequence

__all__ = [
    "COMPLEMENT_TEXT",
    "effective_min_cell",
    "is_suppressed",
    "complementary_mask",
    "hidden_text",
    "count_text",
    "n_pct_text",
    "n_pct_cells",
    "part_text",
    "range_text",
    "hidden_cells",
    "merge_small_bins",
    "group_sizes",
    "public_values",
    "public_parameters",
    "without_ids",
]


def effective_min_cell(study, min_cell: int) -> int:
    """The threshold in force: ``min_cell`` for real data, 0 (off) for the synthetic cohort."""
    if isinstance(min_cell, bool) or not isinstance(min_cell, int) or min_cell < 0:
        raise ValueError(f"min_cell must be a non-negative integer, got {min_cell!r}")
    return 0 if study.synthetic else min_cell


def is_suppressed(n: Any, min_cell: int) -> bool:
    """True for a count of at least 1 and below ``min_cell``."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return False
    return 0 < float(n) < min_cell


def complementary_mask(counts: Sequence[Any], groups: Sequence[Hashable], min_cell: int) -> list[bool]:
    """Which of ``counts`` to hide: the suppressed ones (1 to ``min_cell`` - 1) and, in a group of
    counts that add up to a printed total (the levels of one characteristic in one arm), the smallest
    other count of a group with exactly one suppressed count: otherwise the total minus the others
    gives the hidden one away (complementary suppression).

    >>> complementary_mask([3, 73, 2, 1, 73], ["x", "x", "y", "y", "y"], 5)
    [True, True, True, True, False]
    """
    if len(counts) != len(groups):
        raise ValueError(f"{len(counts)} counts but {len(groups)} group labels")
    mask = [is_suppressed(n, min_cell) for n in counts]
    if not min_cell or not any(mask):
        return mask
    members: dict[Hashable, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    for index in members.values():
        small = [i for i in index if mask[i]]
        others = [i for i in index if not mask[i]]
        if len(small) == 1 and others:
            mask[min(others, key=lambda i: float(counts[i]))] = True
    return mask


#: What a count hidden only to protect a suppressed one prints (it is not itself below min_cell).
COMPLEMENT_TEXT = "hidden"


def hidden_text(min_cell: int) -> str:
    """What a suppressed cell prints: "< 5"."""
    return f"< {min_cell}"


def count_text(n: Any, min_cell: int = 0) -> str:
    """A count as printed: "12", or "< 5" when suppressed."""
    if is_suppressed(n, min_cell):
        return hidden_text(min_cell)
    return f"{int(n)}"


def n_pct_text(n: Any, pct: Any, min_cell: int = 0) -> str:
    """ "47 (61.8%)" ("47" without a percentage, "" without a count), or "< 5" (no percentage, which
    would give the count away) when suppressed."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    if is_suppressed(n, min_cell):
        return hidden_text(min_cell)
    if pct is None or (isinstance(pct, float) and math.isnan(pct)):
        return f"{int(n)}"
    return f"{int(n)} ({float(pct):.1f}%)"


def n_pct_cells(counts: Sequence[Any], percents: Sequence[Any], hidden: Sequence[bool], min_cell: int) -> list[str]:
    """One column of "n (%)" cells: a suppressed count prints "< 5", a count ``hidden`` only to protect
    another (see :func:`complementary_mask`) prints :data:`COMPLEMENT_TEXT`, the others "47 (61.8%)"."""
    return [
        COMPLEMENT_TEXT if h and not is_suppressed(n, min_cell) else n_pct_text(n, pct, min_cell)
        for n, pct, h in zip(counts, percents, hidden)
    ]


def part_text(part: Any, whole: Any, min_cell: int = 0) -> str:
    """A count printed beside the total it is part of ("49 / 53" events of patients): "< 5" when the
    count is small, "> 48" when the rest (53 - 49 = 4 censored) is, which the total would give away."""
    if is_suppressed(part, min_cell):
        return hidden_text(min_cell)
    if is_suppressed(float(whole) - float(part), min_cell):
        return f"> {int(whole) - min_cell}"
    return f"{int(part)}"


def hidden_cells(counts, min_cell: int):
    """Which cells of a table of counts (a DataFrame: levels in rows, arms in columns, each column adding
    up to a printed arm size) to hide: :func:`complementary_mask` down each column."""
    import pandas as pd

    return pd.DataFrame(
        {column: complementary_mask(counts[column].tolist(), ["arm"] * len(counts), min_cell) for column in counts},
        index=counts.index,
    )


def merge_small_bins(counts: Sequence[Any], edges: Sequence[float], min_cell: int) -> tuple[list[float], list[int]]:
    """A histogram whose every bar holds 0 or at least ``min_cell`` patients: neighbouring bins are merged,
    from the left, until they reach ``min_cell``; a remainder at the right joins the last bar. Returns the
    new edges and counts (the total is kept; with ``min_cell`` off, the histogram as it was); no bar at all,
    ``([], [])``, for fewer than ``min_cell`` patients in all.

    >>> merge_small_bins([1, 3, 0, 6, 2, 7], [0, 1, 2, 3, 4, 5, 6], 5)
    ([0, 4, 6], [10, 9])
    """
    if len(edges) != len(counts) + 1:
        raise ValueError(f"{len(counts)} bins need {len(counts) + 1} edges, got {len(edges)}")
    counts = [int(c) for c in counts]
    if not min_cell:
        return list(edges), counts
    new_edges, new_counts = [edges[0]], []
    open_count = 0
    for count, right in zip(counts, edges[1:]):
        if open_count == 0 and count == 0:  # an empty stretch stays an empty bar
            new_edges.append(right)
            new_counts.append(0)
            continue
        open_count += count
        if open_count >= min_cell:
            new_edges.append(right)
            new_counts.append(open_count)
            open_count = 0
    if open_count:  # a small remainder: joins the last bar that holds patients
        last = max((i for i, c in enumerate(new_counts) if c), default=None)
        if last is None:
            return [], []
        new_counts[last] += open_count
        del new_counts[last + 1 :], new_edges[last + 2 :]
        new_edges[-1] = edges[-1]
    return new_edges, new_counts


def group_sizes(n: int, min_cell: int, most: int) -> int:
    """How many equal-count groups to draw ``n`` patients (or events) as, at most ``most``, each of at
    least ``min_cell`` (0 when even one group would be smaller); with ``min_cell`` off, ``most``."""
    if not min_cell:
        return most
    return min(most, n // min_cell)


def public_values(values: Mapping[str, Any], min_cell: int) -> dict[str, Any]:
    """A chapter's results as its pages may show them: a count (an id ending in ``.n``) from 1 to
    ``min_cell`` - 1 becomes "< 5"; in Table 1 (ids ``table1.<period>.<characteristic>.<level>.<arm>.n``)
    the next smallest count of its characteristic and arm becomes :data:`COMPLEMENT_TEXT` when it is the
    only one (as the page prints it); a percentage (``.pct``) of a hidden count goes with it."""
    values = dict(values)
    if not min_cell:
        return values
    counts = {k: v for k, v in values.items() if k.endswith(".n") and _is_number(v)}
    hidden = {k: hidden_text(min_cell) for k, v in counts.items() if is_suppressed(v, min_cell)}
    groups: dict[tuple, list[str]] = {}
    for key in counts:
        parts = key.split(".")
        if parts[0] == "table1" and len(parts) == 6:
            groups.setdefault((parts[1], parts[2], parts[4]), []).append(key)
    for keys in groups.values():
        mask = complementary_mask([counts[k] for k in keys], ["all"] * len(keys), min_cell)
        for key in (k for k, h in zip(keys, mask) if h and k not in hidden):
            hidden[key] = COMPLEMENT_TEXT
    for key, text in hidden.items():
        values[key] = text
        if key[:-2] + ".pct" in values:
            values[key[:-2] + ".pct"] = text
    return values


def _is_number(value: Any) -> bool:
    """A count as a chapter computes it: a Python or numpy number, not a truth value nor NaN."""
    if isinstance(value, bool) or type(value).__name__ == "bool_" or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(float(value))


def public_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as a page or results file may show them: a data or study file by its name only, never
    the folders of the user's machine (a ``pkg:`` path names a packaged file and stays)."""
    from pathlib import PurePath

    shown = dict(parameters)
    for name in ("data", "study"):
        value = shown.get(name)
        if isinstance(value, str) and value and not value.startswith("pkg:"):
            shown[name] = PurePath(value.replace("\\", "/")).name
    return shown


def without_ids(text: str, id_column: str | None) -> str:
    """An error message with the patient ids taken out, for a terminal or a CI log: the ids listed after
    row numbers ("rows 3, 7 (id PX-12, PX-19)" -> "rows 3, 7") and the quoted ids of repeated patients
    ("'PX-12' (rows 3, 4)" -> "a patient (rows 3, 4)"). Row numbers stay: they point into the user's file.
    """
    if id_column:
        text = re.sub(r" \(" + re.escape(id_column) + r" [^()\n]*\)", "", text)
    quoted = r"""(['"])(?:(?!\1).)*\1"""
    text = re.sub(quoted + r"(?=, type )", "a patient", text)
    return re.sub(r"(?<!type )" + quoted + r"(?= \(rows? )", "a patient", text)


def range_text(whole: Any, min_cell: int) -> str:
    """What stands for a count that is ``whole`` minus a hidden one of 1 to ``min_cell`` - 1: "242–245"
    (``whole`` 246, ``min_cell`` 5), as much as "< 5" tells."""
    low, high = int(whole) - min_cell + 1, int(whole) - 1
    return f"{low}–{high}" if low < high else f"{high}"
