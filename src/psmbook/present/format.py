"""Every number's format in one place: p-values, hazard ratios with their confidence limits.

The book prints numbers the way the paper does (p to three decimals, "<0.001" below), so a computed
number and a published one read alike; chapters and tables format through these functions only.
"""

from __future__ import annotations

import math
from typing import Optional


def format_p(p: Optional[float], digits: int = 3) -> str:
    """A p-value in the paper's style: three decimals, "<0.001" below 0.001 ("0.026", "1.000").

    NaN or None gives "–" (no test).
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    p = float(p)
    threshold = 10.0 ** (-digits)
    if p < threshold:
        return f"<{threshold:.{digits}f}"
    return f"{p:.{digits}f}"


def p_statement(p: float) -> str:
    """ "p = 0.026" or "p < 0.001", for prose."""
    text = format_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def hr_ci_text(hr: float, low: float, high: float, digits: int = 3, *, nowrap: bool = False) -> str:
    """'0.679 (0.468–0.985)': a hazard ratio and its confidence limits. ``nowrap`` keeps it on one line
    in a narrow table cell (a no-break space before the bracket, a word joiner after the dash)."""
    if nowrap:
        return f"{hr:.{digits}f}\u00a0({low:.{digits}f}–\u2060{high:.{digits}f})"
    return f"{hr:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def hr_ci_p_text(hr: float, low: float, high: float, p: float | None = None, digits: int = 3) -> str:
    """'0.679 (95% CI 0.468–0.985, p = 0.042)' for the prose; without ``p``, '0.679 (95% CI 0.468–0.985)'."""
    p_part = "" if p is None else f", {p_statement(p)}"
    return f"{hr:.{digits}f} (95% CI {low:.{digits}f}–{high:.{digits}f}{p_part})"
