"""Small-cell suppression of the response chapter: an arm's not-evaluable patients, when there are 1 to
``min_cell`` - 1 of them, must not be derivable as its size minus its evaluable patients.

Its evaluable patients then print as a range ("242–245"), its percentages not at all (a count and its
percentage give the denominator), one more response level is hidden (the levels add up to the evaluable
patients) and its bar in the response figure is not drawn (its shares give the denominator too).
"""

from __future__ import annotations

import pandas as pd

from psmbook.present import privacy


def not_evaluable(rows: pd.DataFrame, side: str) -> int:
    """An arm's not-evaluable patients (``side``: "treated" or "control"), from ``rows.attrs`` of
    :func:`psmbook.analysis.response.response_table` (0 without them)."""
    arms, counts = rows.attrs.get("arms"), rows.attrs.get("not_evaluable")
    if not arms or not counts:
        return 0
    return int(counts[arms[0] if side == "treated" else arms[1]])


def hides_evaluable(rows: pd.DataFrame, side: str, min_cell: int) -> bool:
    """Whether an arm's not-evaluable patients number 1 to ``min_cell`` - 1 (see the module)."""
    return privacy.is_suppressed(not_evaluable(rows, side), min_cell)


def evaluable_text(rows: pd.DataFrame, side: str, min_cell: int) -> str:
    """An arm's evaluable patients as printed: "244", or "242–245" when :func:`hides_evaluable`."""
    evaluable = int(rows[f"N_{side}"].iloc[0])
    if hides_evaluable(rows, side, min_cell):
        return privacy.range_text(evaluable + not_evaluable(rows, side), min_cell)
    return privacy.count_text(evaluable, min_cell)


def protect_evaluable(mask: list[bool], counts: list, levels: list[int], hidden_total: bool) -> list[bool]:
    """``mask`` with the smallest non-empty of the ``levels`` (positions in ``counts``) hidden too, when the
    total is hidden (``hidden_total``) and none of them is yet: else they would add up to it."""
    mask = list(mask)
    filled = [i for i in levels if counts[i] > 0]
    if hidden_total and filled and not any(mask[i] for i in filled):
        mask[min(filled, key=lambda i: counts[i])] = True
    return mask


def hidden_levels(counts: list, min_cell: int) -> list[bool]:
    """The response levels of one arm's bar not to draw: as its table column hides them (the levels add up
    to the evaluable patients; :func:`psmbook.present.privacy.complementary_mask`)."""
    return privacy.complementary_mask(counts, ["arm"] * len(counts), min_cell)


def draw_hidden(ax, y: float, left: float, orr_end, hidden: list[bool], objective: list[bool]):
    """End a 100% bar (drawn up to ``left``) with one grey "hidden" block for the ``hidden`` levels, if any;
    returns where the objective response line goes (``orr_end``), None when one of the ``objective`` levels
    is hidden (the line would tell the hidden levels apart)."""
    if not any(hidden):
        return orr_end
    ax.barh(y, 100.0 - left, left=left, color="#DDDDDD", hatch="//", edgecolor="white", height=0.62)
    ax.text((100.0 + left) / 2, y, privacy.COMPLEMENT_TEXT, ha="center", va="center", fontsize=7.5)
    return None if any(h and o for h, o in zip(hidden, objective)) else orr_end


def draw_not_shown(ax, y: float, rows: pd.DataFrame, side: str, min_cell: int) -> bool:
    """When :func:`hides_evaluable`, a sentence in place of the arm's bar; whether it was."""
    if not hides_evaluable(rows, side, min_cell):
        return False
    ax.text(50, y, f"not shown: fewer than {min_cell} patients not evaluable", ha="center", va="center")
    return True


def arm_tick(rows: pd.DataFrame, side: str, label: str, min_cell: int) -> str:
    """An arm's label in the response figure, above the number of its evaluable patients ("n = 244")."""
    return f"{label}\n(n = {evaluable_text(rows, side, min_cell)})"
