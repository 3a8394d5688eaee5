"""Columns a study description keeps for description only (``other_columns``): facts the chapters show
but the analysis does not model, such as the paper's number of recurrent nodes or its radiation dose
in Gy.

Every other column of a data file is dropped on reading. A column listed here is kept, checked against
its `type` (``integer``, ``number``, ``text``, ``flag`` or ``date``) and read as that type, whatever the
file format made of it (a CSV file turns true/false into text, dates into text and whole numbers with a
missing value into decimals). :mod:`psmbook.cohort.other_columns` does the checking and typing.
"""

from __future__ import annotations

from typing import Any, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["TYPES", "OtherColumn", "normalise_other_columns", "named_columns", "check_apart"]

#: The toxicity section's keys that name one column each.
TOXICITY_COLUMNS = (
    "any_grade3_4",
    "drug_any_event",
    "dose_reduced",
    "dose_reduction_reason",
    "death_during_treatment",
    "death_cause",
)
#: The types an other column may have, and what each means.
TYPES: dict[str, str] = {
    "integer": "a whole number",
    "number": "a number",
    "text": "text (a code or a word)",
    "flag": "true/false (or 1/0)",
    "date": "a date",
}


class OtherColumn(BaseModel):
    """A column kept for description: its `type` and `label` (what it holds, for messages and pages);
    a ``date`` column written otherwise than 2019-12-31 gives its `date_format` (``"%d/%m/%Y"``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["integer", "number", "text", "flag", "date"]
    label: str = ""
    date_format: Optional[str] = None

    @model_validator(mode="after")
    def _date_format_for_dates(self) -> "OtherColumn":
        if self.date_format and self.type != "date":
            raise ValueError(f"date_format goes with type: date, not type: {self.type}")
        return self

    @property
    def expected(self) -> str:
        """What a value must be, in words."""
        if self.type == "date":
            return f"a date written as {self.date_format!r}" if self.date_format else "a date written as 2019-12-31"
        return TYPES[self.type]


def normalise_other_columns(raw: Any) -> Any:
    """Column names as text; a bare type (``n_nodes: integer``) is short for ``{type: integer}``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(
            "other_columns must map each column to its type, e.g. other_columns: {n_nodes: {type: integer, "
            "label: Number of nodes}}"
        )
    out = {}
    for column, spec in raw.items():
        if isinstance(spec, str):
            spec = {"type": spec}
        if isinstance(spec, Mapping) and spec.get("type") not in TYPES:
            raise ValueError(f"other_columns.{column}.type must be one of {', '.join(TYPES)}, got {spec.get('type')!r}")
        out[str(column)] = spec
    return out


def named_columns(study) -> dict[str, str]:
    """The columns the rest of the description names (id, treatment, covariates, endpoints, response,
    adverse events), each with its role."""
    named = {study.id_column: "the patient id", study.treatment.column: "the treatment arm"}
    named.update({v.column: f"the covariate {v.label}" for v in study.covariates})
    for key, endpoint in study.outcomes.endpoints.items():
        for column in (endpoint.time, endpoint.event, endpoint.status):
            if column:
                named.setdefault(column, f"a column of the endpoint {key}")
    if study.response is not None:
        named.setdefault(study.response.column, "the tumour response")
    tox = study.toxicity
    if tox is not None:
        for item in [*tox.grade3_4.values(), *tox.drug_specific.values()]:
            named.setdefault(item.column, f"the adverse event {item.label}")
        for key in TOXICITY_COLUMNS:
            if getattr(tox, key):
                named.setdefault(getattr(tox, key), f"toxicity.{key}")
    return named


def check_apart(study) -> None:
    """ValueError for an other column that the description already names for the analysis."""
    named = named_columns(study)
    twice = [f"other_columns.{c} is already {named[c]}" for c in study.other_columns if c in named]
    if twice:
        raise ValueError("; ".join(twice) + " (a column is described once: drop it from other_columns)")
