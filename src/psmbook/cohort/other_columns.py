"""The columns a study description keeps for description (``other_columns``), checked and read as their type.

A file format decides how a value arrives: Parquet keeps booleans, dates and whole numbers with missing
values as they were written, a CSV file turns them into text, text and decimals. :func:`problems` names
every value that is not of its column's declared type (with the rows and patient ids); :func:`typed`
reads each column as that type, the same from either format: ``integer`` as int64 (Int64 when a value
is missing), ``number`` as float, ``flag`` as bool (nullable boolean when a value is missing), ``date``
as datetime64 and ``text`` as text with None for a missing value. Missing values are allowed: these
columns describe, and a fact not recorded for some patients (a drug's dose in the control arm) is no
error.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from psmbook.cohort.values import FLAG_TEXTS, codes_of, counted, numbers
from psmbook.study.description import Study
from psmbook.study.other_columns import OtherColumn

__all__ = ["problems", "typed"]


def _flags(series: pd.Series) -> pd.Series:
    """Values as True/False (None where missing, NaN where not a flag)."""
    return codes_of(series).map(lambda c: None if c is None else FLAG_TEXTS.get(c.lower(), np.nan))


def _dates(series: pd.Series, spec: OtherColumn) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[ns]")
    codes = codes_of(series)
    return pd.to_datetime(codes, format=spec.date_format or "ISO8601", errors="coerce").astype("datetime64[ns]")


def _wrong(series: pd.Series, spec: OtherColumn) -> pd.Series:
    """True where a recorded value is not of the declared type."""
    recorded = codes_of(series).notna()
    if spec.type == "integer":
        values = numbers(series)[0]
        return recorded & ~(np.isfinite(values) & (values == np.round(values)))
    if spec.type == "number":
        return recorded & ~np.isfinite(numbers(series)[0])
    if spec.type == "flag":
        return recorded & _flags(series).map(lambda v: not isinstance(v, bool))
    if spec.type == "date":
        return recorded & _dates(series, spec).isna()
    return pd.Series(False, index=series.index)


def problems(data: pd.DataFrame, study: Study, rows: Callable[[pd.Series], str]) -> list[str]:
    """Every value of an other column that is not of its declared type, one sentence per column naming
    the values and the rows (``rows``: a mask -> "rows 3, 7 (patient_id ...)"); missing columns are
    reported with the other described columns."""
    found = []
    for column, spec in study.other_columns.items():
        if column not in data.columns:
            continue
        wrong = _wrong(data[column], spec).to_numpy(dtype=bool)
        if wrong.any():
            what = f"{spec.label + ', ' if spec.label else ''}other column of type {spec.type}"
            n = int(wrong.sum())
            found.append(
                f"column {column!r} ({what}): {n} value{'s' if n != 1 else ''} not {spec.expected}: "
                f"{counted(codes_of(data[column])[wrong])} at {rows(wrong)}; correct the values, or declare "
                "the column's type as it is (other_columns)"
            )
    return found


def typed(data: pd.DataFrame, study: Study) -> dict[str, pd.Series]:
    """The other columns read as their declared types (see the module's description), in the
    description's order; the data must have passed :func:`problems`."""
    out = {}
    for column, spec in study.other_columns.items():
        series = data[column]
        if spec.type in ("integer", "number"):
            values = numbers(series)[0]
            if spec.type == "integer":
                whole = values.astype("Int64")
                values = whole.astype(np.int64) if not whole.isna().any() else whole
            out[column] = values
        elif spec.type == "flag":
            flags = _flags(series).astype("boolean")
            out[column] = flags.astype(bool) if not flags.isna().any() else flags
        elif spec.type == "date":
            out[column] = _dates(series, spec)
        else:
            out[column] = codes_of(series)
    return out
