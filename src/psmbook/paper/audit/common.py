"""What every check of the audit shares: the finding, the verdicts, the printed numbers as the paper prints them."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Iterable, Mapping, Optional

from scipy.stats import norm

from psmbook.analysis.tables import percent
from psmbook.present.format import format_p
from psmbook.study.published import PublishedNumber, load_published

#: Families of checks, in display order.
CHECKS: tuple[str, ...] = (
    "p-value",
    "percentage",
    "hazard ratio",
    "subgroup total",
    "landmark",
    "by construction",
    "date",
    "text vs table",
)


#: Verdicts, most serious first.
VERDICTS: tuple[str, ...] = ("inconsistent", "needs an unstated choice", "consistent")


#: Arm codes of the published ids (CRT + anlotinib, CRT alone) and periods (before / after matching).
ARMS: tuple[str, str] = ("anlotinib", "crt")


PERIODS: tuple[str, str] = ("before", "after")


ARM_WORDS = {"anlotinib": "CRT + anlotinib", "crt": "CRT alone"}


#: Normal quantile of a two-sided 95% Wald interval.
Z95 = float(norm.ppf(0.975))


#: Tests the Methods name ("either the χ² test or Fisher's exact test").
NAMED_TESTS = ("pearson", "fisher")


SHORT_TEST = {"pearson": "Pearson", "fisher": "Fisher", "yates": "Yates", "likelihood_ratio": "LR"}


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


class PrintedNumbers:
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
        return usual_form(e.value, e.kind)

    def p_text(self, id: str) -> str:
        e = self.m[id]
        if e.printed is not None:
            return str(e.printed).strip()
        return format_p(float(e.value))


def _guess_kind(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    return {"p": "p", "pct": "percent", "hr": "hr", "ci_low": "ci_low", "ci_high": "ci_high"}.get(last, "count")


def usual_form(value, kind: str) -> str:
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
    depth = 0
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


def section_of(where: str) -> str:
    """The table or section part of a ``where`` (before a quoted excerpt)."""
    head = _cut(where).strip().rstrip(",").strip()
    head = re.sub(r",?\s*(bullet|number of involved nodes|nodal regions most often involved)$", "", head)
    return head or where.strip()


def place_of(where: str) -> str:
    """A short name of where a number is printed: "Table 2", "Abstract", "Results, Tumor response"."""
    m = re.match(r"(Table \d+)", where)
    if m:
        return m[1]
    return section_of(where)


def where_of(pub: PrintedNumbers, primary: str, others: Iterable[str] = ()) -> str:
    """`primary`'s place in full, then the short places of the other ids (deduplicated)."""
    first = pub.where(primary)
    seen = [place_of(first)]
    extra = []
    for i in others:
        if i == primary or not pub.has(i):
            continue
        s = place_of(pub.where(i))
        if s not in seen:
            seen.append(s)
            extra.append(s)
    return first + ("; also " + "; ".join(extra) if extra else "")


def pct_of(n: int, total: int) -> float:
    return percent(int(n), int(total))


def pct_exact_of(n, total) -> float:
    return 100.0 * n / total


def truncated(n: int, total: int) -> float:
    q = Decimal(100 * int(n)) / Decimal(int(total))
    return float(q.quantize(Decimal("0.1"), rounding=ROUND_FLOOR))


def same_value(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)


def implied_counts(pct: float, total: int) -> list[int]:
    """Every whole k in 0..total with k / total printing as `pct` (one decimal, half up)."""
    return [k for k in range(int(total) + 1) if same_value(pct_of(k, total), pct)]


def fmt_num(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


def fmt_p(p: float) -> str:
    """A recomputed p with four decimals, or two significant digits below 0.0001."""
    return f"{p:.1e}" if p < 1e-4 else f"{p:.4f}"


def t1_label(pub: "PrintedNumbers", p_id: str) -> str:
    """Table 1's name of the characteristic whose p is `p_id` ("Maximal Lymph Node Diameter")."""
    w = pub.where(p_id)
    w = re.sub(r"^Table 1,\s*(before|after) PSM,\s*", "", w)
    return re.sub(r",\s*p-value$", "", w)
