"""Level and arm codes as the study description writes them, whatever type the data file gave them."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pandas as pd


def as_code(value: Any) -> Optional[str]:
    """A data value as a level code, the way the study description writes codes: text stripped,
    integer-valued numbers without a decimal point (1, 1.0 -> "1"); None for a missing value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text if text else None


def map_distinct(series: pd.Series, function) -> pd.Series:
    """``series.map(function)``, with ``function`` called once per distinct value instead of once per row (a
    registry's million rows hold a handful of codes). Only for a column of one type (text, whole numbers,
    numbers or flags): in a column of mixed types 1, 1.0 and True count as one value, so it is mapped row by
    row; missing values are mapped one by one, as they are. The result's type is inferred from the mapped
    values as ``map`` infers it."""
    if pd.api.types.infer_dtype(series, skipna=True) not in ("string", "integer", "floating", "boolean", "empty"):
        return series.map(function)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    missing = np.flatnonzero(codes == -1)
    mapped = [function(v) for v in uniques] + [function(v) for v in series.iloc[missing]]
    positions = codes.copy()
    positions[missing] = len(uniques) + np.arange(len(missing))
    table = pd.Series(mapped, dtype=object).infer_objects().to_numpy()
    return pd.Series(table[positions], index=series.index, name=series.name)


def as_codes(series: pd.Series) -> pd.Series:
    """:func:`as_code` of every value (``series.map(as_code)``): for a column of text, stripped at once
    (a million patient ids in a fraction of a second); otherwise once per distinct value."""
    if pd.api.types.infer_dtype(series, skipna=True) == "string" and series.dtype == object:
        stripped = series.str.strip()
        return stripped.where(stripped.notna() & stripped.ne(""), None).astype(object)
    return map_distinct(series, as_code)
