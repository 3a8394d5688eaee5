"""Small-cell suppression: no published table of a real cohort shows a count below ``min_cell``.

A count of 1 to k-1 patients in a cell can identify someone (the one woman over 80 with a grade III
tumour); statistical disclosure control replaces it by "< k". Zero stays zero: it reveals no one.
Synthetic patients are nobody, so their counts are never suppressed (:func:`effective_min_cell`).
Patient-level columns that the study description does not name never enter the book
(:func:`psmbook.cohort.validation.prepare_cohort` drops them).
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Sequence

__all__ = [
    "COMPLEMENT_TEXT",
    "effective_min_cell",
    "is_suppressed",
    "complementary_mask",
    "hidden_text",
    "count_text",
    "n_pct_text",
    "n_pct_cells",
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
