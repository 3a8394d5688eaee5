"""What a study protocol states, as parts of the study description: how the data file is read
(``file``: encoding, delimiter, a long file with one row per patient and event type), which patients
enter the analysis (``inclusion`` rules), how each endpoint's status column is coded (events,
censoring, competing events) and what a missing covariate means (``missing``).

:mod:`psmbook.study.description` holds these parts in the typed :class:`~psmbook.study.description.Study`;
:mod:`psmbook.cohort.protocol` applies them to the data, counting every exclusion for the patient flow.
"""

from __future__ import annotations

import codecs
from datetime import date
from typing import Any, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MISSING_LEVEL",
    "DELIMITERS",
    "LongFormat",
    "FileFormat",
    "Rule",
    "endpoint_schema",
    "normalise_outcomes",
    "normalise_missing",
    "normalise_file",
]

#: Level code of a covariate's missing values when they form their own level (``missing: level``).
MISSING_LEVEL = "missing"
#: Delimiters a text file may use, as the description writes them (``tab`` for a tab).
DELIMITERS = {",": ",", ";": ";", "|": "|", "tab": "\t", "\t": "\t"}
#: Keys of an endpoint that code its status column.
CODING_KEYS = ("status", "event_codes", "censor_codes", "competing")


class _Section(BaseModel):
    """Immutable, unknown keys refused by name."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _text(value: Any, where: str) -> str:
    """A code as text; a boolean (a YAML file read by another loader, or a dict built in Python) refused."""
    if isinstance(value, bool):
        raise ValueError(f'{where} has a boolean code {value!r}; write the code as text, e.g. "yes"')
    return str(value).strip()


def _codes(values: Any, where: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, (str, int, float)):
        values = [values]
    return tuple(_text(v, where) for v in values)


class LongFormat(_Section):
    """A long file: one row per patient and event type. `type_column` names each row's event type,
    `types` the types it may hold, `per_type` the columns that differ by type; each becomes one column
    per type, ``<column>_<type>`` (``time_death``), and every other column must be the same on all of a
    patient's rows."""

    type_column: str
    types: tuple[str, ...] = Field(min_length=1)
    per_type: tuple[str, ...] = Field(min_length=1)

    @field_validator("types", "per_type", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> tuple[str, ...]:
        return _codes(value, "file.long")

    def column(self, name: str, type_code: str) -> str:
        """The one-row-per-patient column of a per-type column: ``time`` of type ``death`` -> ``time_death``."""
        return f"{name}_{type_code}"

    @property
    def wide_columns(self) -> list[str]:
        return [self.column(c, t) for t in self.types for c in self.per_type]


class FileFormat(_Section):
    """How the data file is read. `encoding` of a text file (default UTF-8; ``latin-1``, ``cp1252``...),
    `delimiter` between values (default: by the file's suffix, or detected from its header line;
    ``tab`` for a tab), `decimal` mark (``.`` or ``,``; default ``.``, detected for a semicolon file),
    `missing_values`: extra texts that mean "not recorded" (``"."``, ``"-99"``; empty cells and
    ``NA`` always do), and `long` for a file with one row per patient and event type."""

    encoding: Optional[str] = None
    delimiter: Optional[str] = None
    decimal: Optional[Literal[".", ","]] = None
    missing_values: tuple[str, ...] = ()
    long: Optional[LongFormat] = None

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(f"unknown encoding {value!r}; e.g. utf-8, latin-1, cp1252") from None
        return value

    @field_validator("delimiter")
    @classmethod
    def _known_delimiter(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and value not in DELIMITERS:
            raise ValueError(f"delimiter {value!r} is not one of {', '.join(map(repr, DELIMITERS))}")
        return None if value is None else DELIMITERS[value]

    @field_validator("missing_values", mode="before")
    @classmethod
    def _missing_as_text(cls, value: Any) -> tuple[str, ...]:
        return _codes(value, "file.missing_values")

    @property
    def declared(self) -> list[str]:
        """The text-file options given (for a Parquet file, where they have no meaning)."""
        return [k for k in ("encoding", "delimiter", "decimal", "missing_values") if getattr(self, k)]


class Rule(_Section):
    """An inclusion rule: a patient enters the analysis when `column` is recorded and meets the
    condition, one kind per rule: codes (`in` the listed codes, or `not_in` them), numbers (`min`
    and/or `max`, both included), dates (`from` and/or `to`, both included; `date_format` for dates
    not written as 2019-12-31), or only `recorded: true`. `missing: keep` keeps the patients whose value
    is not recorded (default: they are excluded, and counted). `reason` is what the flow diagram prints
    for the excluded patients (default: made from the rule, e.g. "age < 18")."""

    column: str
    reason: str = ""
    recorded: bool = False
    in_: Optional[tuple[str, ...]] = Field(default=None, alias="in")
    not_in: Optional[tuple[str, ...]] = None
    min: Optional[float] = None
    max: Optional[float] = None
    from_: Optional[date] = Field(default=None, alias="from")
    to: Optional[date] = None
    date_format: Optional[str] = None
    missing: Literal["exclude", "keep"] = "exclude"

    @field_validator("in_", "not_in", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Optional[tuple[str, ...]]:
        return None if value is None else _codes(value, "inclusion rule")

    @model_validator(mode="after")
    def _one_kind(self) -> "Rule":
        kinds = [k for k, given in self._kinds().items() if given]
        if len(kinds) > 1:
            raise ValueError(f"rule on {self.column!r} mixes {' and '.join(kinds)}; write one rule for each")
        if not kinds and not self.recorded:
            raise ValueError(
                f"rule on {self.column!r} states no condition: give in, not_in, min, max, from, to or recorded: true"
            )
        if self.in_ is not None and self.not_in is not None:
            raise ValueError(f"rule on {self.column!r} gives both in and not_in; write one rule for each")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"rule on {self.column!r}: min {self.min:g} is above max {self.max:g}")
        if self.from_ is not None and self.to is not None and self.from_ > self.to:
            raise ValueError(f"rule on {self.column!r}: from {self.from_} is after to {self.to}")
        if self.date_format and self.kind != "dates":
            raise ValueError(f"rule on {self.column!r}: date_format goes with from/to")
        if self.recorded and self.missing == "keep":
            raise ValueError(f"rule on {self.column!r}: recorded: true and missing: keep contradict each other")
        return self

    def _kinds(self) -> dict[str, bool]:
        return {
            "codes": self.in_ is not None or self.not_in is not None,
            "numbers": self.min is not None or self.max is not None,
            "dates": self.from_ is not None or self.to is not None,
        }

    @property
    def kind(self) -> str:
        """``codes``, ``numbers``, ``dates`` or ``recorded``."""
        return next((k for k, given in self._kinds().items() if given), "recorded")

    @property
    def excluded_text(self) -> str:
        """Why a patient is excluded, as the flow diagram prints it."""
        if self.reason:
            return self.reason
        c = self.column
        if self.kind == "codes":
            listed = " or ".join(self.in_ or self.not_in or ())
            return f"{c} not {listed}" if self.in_ is not None else f"{c} {listed}"
        if self.kind == "numbers":
            if self.min is not None and self.max is not None:
                return f"{c} outside {self.min:g}–{self.max:g}"
            return f"{c} < {self.min:g}" if self.min is not None else f"{c} > {self.max:g}"
        if self.kind == "dates":
            if self.from_ is not None and self.to is not None:
                return f"{c} outside {self.from_} – {self.to}"
            return f"{c} before {self.from_}" if self.from_ is not None else f"{c} after {self.to}"
        return f"{c} not recorded"


def endpoint_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema's rule for editors: an endpoint gives a 0/1 `event` column or a coded `status`."""
    schema["required"] = [k for k in schema.get("required", []) if k != "event"]
    schema["anyOf"] = [{"required": ["event"]}, {"required": ["status", "event_codes", "censor_codes"]}]


# ----------------------------------------------------------------------------------------------------
# Normalising the parsed YAML (called by the study description's normaliser)


def normalise_outcomes(raw: Any) -> Any:
    """Endpoints with a coded status column: codes as text, every code in one set only, and the
    0/1 flag the book derives named ``<endpoint>_event`` unless `event` names it."""
    if not isinstance(raw, Mapping):
        return raw
    out = dict(raw)
    for key, endpoint in raw.items():
        if not isinstance(endpoint, Mapping) or not any(k in endpoint for k in CODING_KEYS):
            continue
        where = f"outcomes.{key}"
        if not endpoint.get("status"):
            raise ValueError(
                f"{where}: event_codes, censor_codes and competing code a status column; name it with `status`"
            )
        sets = {
            "event_codes": _codes(endpoint.get("event_codes"), f"{where}.event_codes"),
            "censor_codes": _codes(endpoint.get("censor_codes"), f"{where}.censor_codes"),
        }
        for name, codes in sets.items():
            if not codes:
                raise ValueError(f"{where}.{name}: list the codes of the status column {endpoint['status']!r}")
        competing_raw = endpoint.get("competing") or {}
        if not isinstance(competing_raw, Mapping):
            raise ValueError(
                f"{where}.competing must map each competing event's code to its name, e.g. {{1: transplant}}"
            )
        competing = {_text(k, f"{where}.competing"): str(v) for k, v in competing_raw.items()}
        sets["competing"] = tuple(competing)
        seen: dict[str, str] = {}
        for name, codes in sets.items():
            for code in codes:
                if code in seen:
                    raise ValueError(f"{where}: code {code!r} is in both {seen[code]} and {name}")
                seen[code] = name
        status, event = str(endpoint["status"]), str(endpoint.get("event") or f"{key}_event")
        if event == status:
            raise ValueError(
                f"{where}.event names the 0/1 flag the book derives from the status column {status!r}; "
                "give it another name, or leave it out"
            )
        out[key] = {**endpoint, **sets, "competing": competing, "status": status, "event": event}
    return out


def normalise_missing(raw: Any, where: str, level_code: str = MISSING_LEVEL) -> Any:
    """A covariate's `missing`: ``exclude`` (complete case) or ``level`` (its own level, appended last
    to the levels with the label `missing_label`, default "Missing")."""
    if not isinstance(raw, Mapping):
        return raw
    missing = raw.get("missing")
    if missing not in (None, "exclude", "level"):
        raise ValueError(
            f"{where}.missing must be exclude (complete case, counted in the patient flow) or level "
            f"(missing values as their own level), got {missing!r}"
        )
    if "missing_label" in raw and missing != "level":
        raise ValueError(f"{where}.missing_label goes with missing: level")
    if missing != "level":
        return raw
    if raw.get("kind") == "continuous":
        raise ValueError(
            f"{where} is continuous: its missing values cannot be a level; use missing: exclude, or cut it into "
            "levels with bins"
        )
    levels = dict(raw.get("levels") or {})
    if level_code in levels:
        raise ValueError(f"{where}.levels already has a code {level_code!r}; missing: level adds that level itself")
    return {**raw, "levels": {**levels, level_code: str(raw.get("missing_label") or "Missing")}}


def normalise_file(raw: Any, id_column: Any) -> Any:
    """A long file needs the patient id that ties a patient's rows together."""
    if isinstance(raw, Mapping) and raw.get("long") and not id_column:
        raise ValueError("file.long: a long file (one row per patient and event type) needs `id_column`")
    return raw
