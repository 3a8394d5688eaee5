"""The factors of the paper's Table 3: covariates, the derived ones (nodes, response) and their reference levels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd

#: The factors of the paper's Table 3, in its order, with their reference levels. ``None`` stands for
#: the treatment column, whose reference is the control arm.
TABLE3: tuple[tuple[Optional[str], Optional[str]], ...] = (
    ("age_group", "lt65"),
    ("sex", "male"),
    ("ecog", "0"),
    ("location", "upper"),
    ("differentiation", "well"),
    ("stage", "ib_iia"),
    ("nodes_group", "single"),
    ("node_diameter", "lt3"),
    ("radiation_dose", "standard"),
    ("concurrent_chemo", "docetaxel_cisplatin"),
    ("consolidation_chemo", "yes"),
    ("response_group", "cr"),
    (None, None),
)


#: Factors of Table 3 that are not Table 1 covariates: column -> (label, {level: label}).
DERIVED_FACTORS = {
    "nodes_group": ("Number of Recurrent Lymph Nodes", {"single": "Single", "multiple": "Multiple"}),
    "response_group": (
        "Tumor Response After CRT",
        {"cr": "Complete Response (CR)", "less_than_cr": "Less than CR"},
    ),
}


#: The one "level" of a continuous factor: its hazard ratio per step (``table3....age.continuous.hr``).
CONTINUOUS = "continuous"


@dataclass(frozen=True)
class Factor:
    """A prognostic factor: ``column``, its ``label``, the ``reference`` level and all ``levels`` (code
    -> label, in the table's order). A ``continuous`` factor has no reference and one level,
    :data:`CONTINUOUS`: its values divided by ``per``, one hazard ratio per that step."""

    column: str
    label: str
    reference: str
    levels: dict[str, str]
    continuous: bool = False
    per: float = 1.0

    @property
    def contrasts(self) -> tuple[str, ...]:
        """The non-reference levels: one indicator (and one hazard ratio) each."""
        return tuple(c for c in self.levels if c != self.reference)

    def term(self, level: str) -> str:
        """Name of the indicator of ``level``: ``column.level``, the factor part of a Table 3 id."""
        return f"{self.column}.{level}"


def table3_factors(study, spec: Sequence = TABLE3) -> list[Factor]:
    """The factors of the paper's Table 3, labelled from the study description.

    Table 1 covariates take their label and levels from ``study``; the node-count and response groups
    are labelled here; the treatment column uses the study's arms, with the control arm as reference.
    """
    factors = []
    for column, reference in spec:
        if column is None or column == study.treatment.column:
            arms = study.treatment
            factors.append(
                Factor(
                    arms.column,
                    "Treatment Group" if study.paper else "Treatment",  # the paper's Table 3 row name
                    arms.control,
                    {
                        arms.control: study.arm_label(arms.control),
                        arms.treated: study.arm_label(arms.treated),
                    },
                )
            )
        elif column in DERIVED_FACTORS:
            label, levels = DERIVED_FACTORS[column]
            factors.append(Factor(column, label, reference, dict(levels)))
        else:
            variable = study.variable(column)
            if reference not in variable.levels:
                raise ValueError(f"reference level {reference!r} is not a level of {column!r}: {list(variable.levels)}")
            factors.append(Factor(column, variable.label, reference, dict(variable.levels)))
    return factors


def covariate_factors(study) -> list[Factor]:
    """The factors of a study other than the paper's: every categorical covariate against its first
    level, every continuous one per its step (``per`` of its description: "per 10 years"), then the
    treatment against the control arm."""
    factors = []
    for v in study.covariates:
        if v.continuous:
            factors.append(Factor(v.column, v.label, "", {CONTINUOUS: v.per_text}, continuous=True, per=v.per))
        else:
            factors += table3_factors(study, [(v.column, next(iter(v.levels)))])
    return factors + table3_factors(study, [(None, None)])


def response_groups(df: pd.DataFrame, study) -> pd.Series:
    """Response after CRT as 'cr' / 'less_than_cr', missing for patients not evaluable.

    The ``response_group`` column when the data have one; otherwise derived from the study's response
    column (its first level is complete response).
    """
    if "response_group" in df.columns:
        return df["response_group"]
    column, ne = study.response.column, study.response.not_evaluable
    complete = next(iter(study.response.levels))
    values = df[column]
    return pd.Series(
        np.where(values == complete, "cr", np.where(values == ne, None, "less_than_cr")),
        index=df.index,
        dtype=object,
        name="response_group",
    )


def contrast_indicators(df: pd.DataFrame, factors: Sequence[Factor]) -> pd.DataFrame:
    """The Cox design: 0/1 indicators of every non-reference level (``column.level``), against the reference
    level (treatment contrasts; :func:`psmbook.matching.balance.indicators` keeps every level, for balance).

    A continuous factor is one column, ``column.continuous``: its values over its step (``per``).
    Rows must hold a known level of every factor: a ValueError names the column and the values.
    """
    out = {}
    for f in factors:
        if f.continuous:  # the number per step
            numbers = pd.to_numeric(df[f.column], errors="coerce")
            if numbers.isna().any():
                raise ValueError(f"column {f.column!r} (continuous) holds values that are not numbers")
            out[f.term(CONTINUOUS)] = numbers.astype(float) / f.per
            continue
        values = df[f.column].astype(object)
        bad = ~values.isin(list(f.levels))
        if bad.any():
            raise ValueError(
                f"column {f.column!r} holds values outside its levels {list(f.levels)}: "
                f"{sorted(map(str, values[bad].unique()))}"
            )
        for level in f.contrasts:
            out[f.term(level)] = (values == level).astype(float)
    return pd.DataFrame(out, index=df.index)
