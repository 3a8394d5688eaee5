"""Result ids: one id space for the numbers the paper printed (``data/published.yaml``) and the numbers
the chapters compute (``results/<chapter>.json``), so that a computed number and its published
counterpart share one name, e.g. ``table1.before.sex.male.anlotinib.n``."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd


def frame_values(frame: pd.DataFrame, prefix: str, *, keys: Sequence[str], fields: Mapping[str, str]) -> dict[str, Any]:
    """Result ids and values from a table: ``{prefix}.{key values...}.{field}`` for each row and field.

    ``keys``: the columns whose values, joined by dots, follow the prefix; ``fields``: id suffix ->
    column holding the value. Missing values (NaN, None) are left out, as a blank cell is not a number.

    >>> t = pd.DataFrame({"variable": ["sex"], "level": ["male"], "n_treated": [40], "p": [float("nan")]})
    >>> frame_values(t, "table1.before", keys=["variable", "level"], fields={"anlotinib.n": "n_treated", "p": "p"})
    {'table1.before.sex.male.anlotinib.n': 40}
    """
    values: dict[str, Any] = {}
    for row in frame.to_dict("records"):
        stem = ".".join([prefix] + [str(row[k]) for k in keys])
        for suffix, column in fields.items():
            value = row[column]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            values[f"{stem}.{suffix}"] = value
    return values
