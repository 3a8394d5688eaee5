"""A cohort file's values as the checks read them, and how a message names them: codes as text, numbers,
0/1 flags, the distinct values counted. One place for the reading of the study's columns
(:mod:`psmbook.cohort.validation`), its descriptive columns (:mod:`psmbook.cohort.other_columns`) and a long
file (:mod:`psmbook.cohort.longformat`), so the three read and name a value alike."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from psmbook.study.codes import as_code, as_codes

__all__ = ["MAX_NAMED", "MISSING", "FLAG_TEXTS", "plural", "codes_of", "counted", "numbers", "rows_text"]

#: How many rows (or values, or patients) a message names before "and N more".
MAX_NAMED = 5
#: How a message shows a missing value.
MISSING = "<missing>"
#: The texts (lower case) read as a flag's true and false.
FLAG_TEXTS = {"1": True, "0": False, "true": True, "false": False}


def plural(count: int, nouns: str) -> str:
    """``3 values``, ``1 value`` (``nouns`` in the plural)."""
    return f"{count} {nouns if count != 1 else nouns.removesuffix('s')}"


def codes_of(series: pd.Series) -> pd.Series:
    """Values as codes (text; 1.0 -> "1"; None for a missing value)."""
    return as_codes(series).astype(object)


def counted(values: Iterable[object]) -> str:
    """The distinct values with their counts, most frequent first: ``'9' (3 rows), 'x' (1 row)``."""
    counts = Counter(MISSING if v is None else v for v in values)
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])  # ties in order of first appearance
    shown = ", ".join(f"{v!r} ({plural(n, 'rows')})" for v, n in ordered[:MAX_NAMED])
    rest = len(ordered) - MAX_NAMED
    return shown + (f" and {plural(rest, 'more values')}" if rest > 0 else "")


def numbers(series: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(values as floats, missing, present but not a finite number) of a numeric column; booleans are
    not numbers."""
    codes = codes_of(series)
    missing = codes.isna()
    if pd.api.types.is_bool_dtype(series):
        numeric = pd.Series(np.nan, index=series.index)
    elif pd.api.types.is_numeric_dtype(series):
        numeric = series.astype(float)
    else:
        numeric = pd.to_numeric(codes, errors="coerce").astype(float)
    bad = ~missing & ~np.isfinite(numeric)
    return numeric, missing, bad


def rows_text(numbers: Sequence[int], ids: Optional[Sequence[object]] = None, id_column: str = "") -> str:
    """``rows 3, 7 (id 12, 19)``: file row numbers (1-based, header not counted), with the patient ids."""
    numbers = list(numbers)
    shown = numbers[:MAX_NAMED]
    text = ("row " if len(numbers) == 1 else "rows ") + ", ".join(str(int(n)) for n in shown)
    more = len(numbers) > MAX_NAMED
    if more:
        text += f" and {len(numbers) - MAX_NAMED} more"
    if ids is not None and id_column:
        named = [as_code(i) or MISSING for i in list(ids)[:MAX_NAMED]]
        text += f" ({id_column} {', '.join(named)}{', …' if more else ''})"
    return text
