"""The study description: which column holds the treatment arm, which covariates enter Table 1 and the
propensity-score model, their level codes and labels, and where the outcomes, response and adverse
events are.

Every chapter reads names from a :class:`Study` rather than hard-coding them, so a real cohort comes
with its own YAML file. The default is the packaged ``data/study_synthetic.yaml``. The description is
parsed into typed (pydantic) objects; ``study.schema.json`` beside the examples is their JSON Schema,
for editors that check YAML as it is typed (:func:`json_schema`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from psmbook.study.other_columns import OtherColumn, check_apart, normalise_other_columns
from psmbook.study.protocol import (
    FileFormat,
    Rule,
    endpoint_schema,
    normalise_file,
    normalise_missing,
    normalise_outcomes,
)
from psmbook.study.yaml_text import TextLoader

__all__ = [
    "Treatment",
    "Variable",
    "Endpoint",
    "Outcomes",
    "Response",
    "AdverseEvent",
    "Toxicity",
    "Study",
    "load_study",
    "study_from_dict",
    "copy_description",
    "json_schema",
    "DEFAULT_STUDY",
    "STUDY_IN_USE",
    "GENERATED_ID",
]

#: File name of the packaged default study description.
DEFAULT_STUDY = "study_synthetic.yaml"
#: Patient id column made from the row number when a study description names none (``id_column``).
GENERATED_ID = "row_id"
#: Where the cohort chapter leaves the study description in use, for the later chapters.
STUDY_IN_USE = "data/study.yaml"


def _code(value: Any, where: str) -> str:
    """A level or arm code as text. YAML reads unquoted yes/no/on/off as booleans: refuse them."""
    if isinstance(value, bool):
        raise ValueError(
            f"{where} has a boolean code {value!r}; quote it "
            f'(e.g. "yes": Yes), since YAML reads yes/no/true/false as booleans'
        )
    return str(value)


class _Part(BaseModel):
    """A part of a study description: immutable, unknown keys refused (a typo is not silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Treatment(_Part):
    """The exposure: `column` holds `treated` or `control` (arm codes); `labels` maps code -> label."""

    column: str
    treated: str
    control: str
    labels: dict[str, str]

    @property
    def arms(self) -> tuple[str, str]:
        """Arm codes, treated first (the paper's column order)."""
        return (self.treated, self.control)


def _variable_schema(schema: dict[str, Any]) -> None:
    """The JSON Schema's rule for editors: a categorical covariate needs `levels`, a continuous one has none."""
    schema["if"] = {"properties": {"kind": {"const": "continuous"}}, "required": ["kind"]}
    schema["then"] = {"not": {"anyOf": [{"required": [k]} for k in _CATEGORICAL_ONLY]}}
    schema["else"] = {"required": ["levels"], "not": {"anyOf": [{"required": [k]} for k in _CONTINUOUS_ONLY]}}


class Variable(_Part):
    """A baseline characteristic, categorical (the default) or continuous (``kind: continuous``).

    Categorical: `levels` maps level code -> label in the paper's order; `psm` says whether it enters
    the propensity-score model; `table1_omit` lists levels that count in the test but have no row in
    Table 1 (e.g. "no previous treatment"). `bins` (optional) cuts a numeric column into the levels, in
    order: level i holds values in [bins[i], bins[i+1]) (the last interval includes its upper edge).

    Continuous: the column holds a number, kept as it is. Table 1 shows it as mean (SD) with Welch's
    t-test, or with `summary: median` as median [IQR] with the Mann-Whitney U test, to `decimals`
    places; `unit` is what it is measured in; odds and hazard ratios are given `per` that many units
    (per 10 years, say); the default score model takes it linearly on the logit scale, or with
    `spline_df` as a natural cubic spline with that many degrees of freedom.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_variable_schema)

    column: str
    label: str = ""
    kind: Literal["categorical", "continuous"] = "categorical"
    levels: dict[str, str] = Field(default_factory=dict)
    psm: bool = False
    table1_omit: tuple[str, ...] = ()
    bins: Optional[tuple[float, ...]] = None
    summary: Literal["mean", "median"] = "mean"
    unit: str = ""
    per: float = Field(default=1.0, gt=0)
    spline_df: Optional[int] = Field(default=None, ge=2)
    decimals: int = Field(default=1, ge=0, le=6)
    #: missing values: ``exclude`` (complete case, counted in the patient flow) or ``level`` (their own
    #: level, code ``missing``, label `missing_label`); without it a missing value is an error
    missing: Optional[Literal["exclude", "level"]] = None
    missing_label: str = "Missing"

    @property
    def continuous(self) -> bool:
        """True for a continuous covariate (``kind: continuous``): a number, with no levels."""
        return self.kind == "continuous"

    @property
    def per_text(self) -> str:
        """The step of its odds and hazard ratios in words: "per 10 years", "per unit (nodes)"."""
        if self.per == 1:
            return f"per unit ({self.unit})" if self.unit else "per unit"
        return f"per {self.per:g} {self.unit or 'units'}"

    @property
    def derived(self) -> bool:
        """True when the data hold a number that is cut into the levels (``bins``), not the codes."""
        return self.bins is not None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.levels)

    @property
    def shown_levels(self) -> tuple[str, ...]:
        """Level codes that have a row in Table 1."""
        return tuple(c for c in self.levels if c not in self.table1_omit)


class Endpoint(_Part):
    """A time-to-event endpoint: the `time` and `event` (1 = event, 0 = censored) columns."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=endpoint_schema)

    time: str
    event: str
    #: a coded status column instead of a 0/1 `event` column: which codes are the event, which censor,
    #: and the competing events (code -> name, censored at their time); `event` then names the 0/1 flag
    #: derived from it (default ``<endpoint>_event``)
    status: Optional[str] = None
    event_codes: tuple[str, ...] = ()
    censor_codes: tuple[str, ...] = ()
    competing: dict[str, str] = Field(default_factory=dict)
    label: str = ""
    short: str = ""
    event_name: str = ""


class Outcomes(_Part):
    """The time-to-event endpoints (each under its own key, e.g. ``os``, ``pfs``) and the time unit."""

    model_config = ConfigDict(frozen=True, extra="allow")
    __pydantic_extra__: dict[str, Endpoint] = Field(init=False)

    time_unit: str = "months"
    time_label: str = ""

    @property
    def endpoints(self) -> dict[str, Endpoint]:
        """Endpoint key -> :class:`Endpoint`, in file order."""
        return dict(self.__pydantic_extra__ or {})


class Response(_Part):
    """Tumour response (RECIST): the column, its level codes and labels, the not-evaluable code and
    the levels that count as an objective response."""

    column: str
    levels: dict[str, str]
    not_evaluable: Optional[str] = None
    not_evaluable_reason: str = "not evaluable"
    objective: tuple[str, ...] = ()
    objective_label: Optional[str] = None


class AdverseEvent(_Part):
    """An adverse event: its column (a 0/1 flag, or a grade) and label."""

    column: str
    label: str


class Toxicity(_Part):
    """Adverse events: grade 3-4 flags in Table 4's order (``grade3_4``), events specific to the added
    drug as maximum grades (``drug_specific``), and the columns of the treatment facts."""

    grade3_4: dict[str, AdverseEvent] = Field(default_factory=dict)
    any_grade3_4: Optional[str] = None
    drug_specific: dict[str, AdverseEvent] = Field(default_factory=dict)
    drug_any_event: Optional[str] = None
    dose_reduced: Optional[str] = None
    dose_reduction_reason: Optional[str] = None
    death_during_treatment: Optional[str] = None
    death_cause: Optional[str] = None


class Study(_Part):
    """A study description (see ``data/study_synthetic.yaml`` for the format)."""

    name: str
    synthetic: bool = False
    paper: bool = False
    description: str = ""
    population: str = ""
    id_column: str = GENERATED_ID
    treatment: Treatment
    covariates: list[Variable] = Field(min_length=1)
    outcomes: Outcomes = Field(default_factory=Outcomes)
    response: Optional[Response] = None
    toxicity: Optional[Toxicity] = None
    #: how the data file is read, and the protocol's inclusion rules (see :mod:`psmbook.study.protocol`)
    file: Optional[FileFormat] = None
    inclusion: list[Rule] = Field(default_factory=list)
    #: columns kept for description only, read as their type (see :mod:`psmbook.study.other_columns`)
    other_columns: dict[str, OtherColumn] = Field(default_factory=dict)
    #: the file the description was read from (not part of the file)
    source: SkipJsonSchema[Optional[str]] = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _normalised(cls, raw: Any) -> Any:
        return _normalise(raw) if isinstance(raw, Mapping) else raw

    @field_validator("description", "population", mode="before")
    @classmethod
    def _stripped(cls, value: Any) -> str:
        return str(value or "").strip()

    @field_validator("id_column", mode="before")
    @classmethod
    def _id_column(cls, value: Any) -> str:
        return str(value or GENERATED_ID)

    @model_validator(mode="after")
    def _other_columns_apart(self) -> "Study":
        check_apart(self)
        return self

    @property
    def endpoints(self) -> list[str]:
        """Time-to-event endpoints described under ``outcomes`` (e.g. ["os", "pfs"]), in file order."""
        return list(self.outcomes.endpoints)

    def outcome(self, endpoint: str) -> Endpoint:
        """An endpoint's columns and label; ValueError if the study has no such endpoint."""
        if endpoint not in self.outcomes.endpoints:
            raise ValueError(
                f"study {self.name!r} has no endpoint {endpoint!r}; endpoints: {', '.join(self.endpoints) or 'none'}"
            )
        return self.outcomes.endpoints[endpoint]

    @property
    def time_unit(self) -> str:
        return self.outcomes.time_unit

    @property
    def time_label(self) -> str:
        """Axis label of follow-up time (``outcomes.time_label``; default "<Unit> of follow-up")."""
        return self.outcomes.time_label or f"{self.time_unit.capitalize()} of follow-up"

    @property
    def time_step(self) -> float:
        """A natural tick spacing for the time unit: a year (12 months, 365 days, 52 weeks, 1 year)."""
        return {"months": 12.0, "days": 365.0, "weeks": 52.0, "years": 1.0}.get(self.time_unit, 12.0)

    @property
    def has_response(self) -> bool:
        return self.response is not None

    @property
    def has_toxicity(self) -> bool:
        return self.toxicity is not None and bool(self.toxicity.grade3_4)

    def variable(self, column: str) -> Variable:
        """The covariate stored in `column`; ValueError if the study has none."""
        for v in self.covariates:
            if v.column == column:
                return v
        known = ", ".join(v.column for v in self.covariates)
        raise ValueError(f"study {self.name!r} has no covariate {column!r}; covariates: {known}")

    @property
    def psm_covariates(self) -> list[Variable]:
        """Covariates of the propensity-score model (``psm: true``), in table order."""
        return [v for v in self.covariates if v.psm]

    @property
    def covariate_columns(self) -> list[str]:
        return [v.column for v in self.covariates]

    def arm_label(self, code: str) -> str:
        """Label of an arm code ("anlotinib" -> "CRT + Anlotinib"); ValueError for an unknown code."""
        code = _code(code, "treatment arm")
        if code not in self.treatment.labels:
            raise ValueError(f"unknown arm {code!r}; arms: {', '.join(self.treatment.arms)}")
        return self.treatment.labels[code]


# ----------------------------------------------------------------------------------------------------
# Normalising the parsed YAML before the typed objects are built: codes as text (YAML reads 0 as a
# number and yes as a boolean), numeric bins, default labels; each problem named by its place.


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(mapping).__name__}")
    if key not in mapping or mapping[key] is None:
        raise ValueError(f"missing required key {where + '.' if where else ''}{key}")
    return mapping[key]


#: Keys of a covariate that only one kind of covariate has.
_CONTINUOUS_ONLY = ("summary", "unit", "per", "spline_df", "decimals")
_CATEGORICAL_ONLY = ("levels", "table1_omit", "bins")


def _kind_keys(raw: Mapping, where: str) -> str:
    """The covariate's kind; ValueError naming a key that the other kind of covariate has."""
    kind = raw.get("kind") or "categorical"
    if kind not in ("categorical", "continuous"):
        raise ValueError(f"{where}.kind must be categorical or continuous, got {kind!r}")
    if kind == "continuous":
        wrong = [k for k in _CATEGORICAL_ONLY if k in raw]
        if wrong:
            raise ValueError(
                f"{where} is continuous (kind: continuous), so it has no {', '.join(wrong)}; drop "
                "`kind: continuous` to cut the number into levels with `bins`"
            )
    else:
        wrong = [k for k in _CONTINUOUS_ONLY if k in raw]
        if wrong:
            raise ValueError(f"{where}: {', '.join(wrong)} only for a continuous covariate (add `kind: continuous`)")
    return kind


def _variable(raw: Any, i: int) -> Any:
    if not isinstance(raw, Mapping):
        return raw
    column = str(_require(raw, "column", f"covariates[{i}]"))
    where = f"covariates[{i}] ({column})"
    if _kind_keys(raw, where) == "continuous":
        return {**raw, "column": column, "label": str(raw.get("label") or column)}
    levels_raw = _require(raw, "levels", where)
    if not isinstance(levels_raw, Mapping) or len(levels_raw) < 2:
        raise ValueError(f"{where}.levels must map at least two codes to labels")
    levels = {_code(k, f"{where}.levels"): str(v) for k, v in levels_raw.items()}
    omit_raw = raw.get("table1_omit") or ()
    if isinstance(omit_raw, (str, int)):
        omit_raw = [omit_raw]
    omit = tuple(_code(c, f"{where}.table1_omit") for c in omit_raw)
    unknown = [c for c in omit if c not in levels]
    if unknown:
        raise ValueError(f"{where}.table1_omit names unknown levels {unknown}; levels: {list(levels)}")
    out = {**raw, "column": column, "label": str(raw.get("label") or column), "levels": levels, "table1_omit": omit}
    bins = raw.get("bins")
    if bins is not None:
        try:
            bins = tuple(float(b) for b in bins)
        except (TypeError, ValueError):
            raise ValueError(f"{where}.bins must be a list of numbers, got {bins!r}") from None
        if len(bins) != len(levels) + 1 or any(b >= c for b, c in zip(bins, bins[1:])):
            raise ValueError(
                f"{where}.bins must be {len(levels) + 1} increasing edges "
                f"(one more than the {len(levels)} levels), got {list(bins)}"
            )
        out["bins"] = bins
    return out


def _normalise(raw: Mapping) -> dict[str, Any]:
    out = dict(raw)
    tr = _require(raw, "treatment", "")
    treated = _code(_require(tr, "treated", "treatment"), "treatment.treated")
    control = _code(_require(tr, "control", "treatment"), "treatment.control")
    if treated == control:
        raise ValueError(f"treatment.treated and treatment.control are both {treated!r}")
    labels = {_code(k, "treatment.labels"): str(v) for k, v in (tr.get("labels") or {}).items()}
    out["treatment"] = {
        **tr,
        "treated": treated,
        "control": control,
        "labels": {treated: treated, control: control, **labels},
    }
    covariates = _require(raw, "covariates", "")
    if not isinstance(covariates, list) or not covariates:
        raise ValueError("covariates must be a non-empty list")
    out["covariates"] = [
        normalise_missing(_variable(c, i), f"covariates[{i}] ({c.get('column')})" if isinstance(c, Mapping) else "")
        for i, c in enumerate(covariates)
    ]
    out["outcomes"] = normalise_outcomes(raw.get("outcomes"))
    out["file"] = normalise_file(raw.get("file"), raw.get("id_column"))
    out["other_columns"] = normalise_other_columns(raw.get("other_columns"))
    columns = [c.get("column") for c in out["covariates"] if isinstance(c, Mapping)]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise ValueError(f"covariate {twice[0]!r} is listed twice")
    response = raw.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("levels"), Mapping):
        out["response"] = {
            **response,
            "levels": {_code(k, "response.levels"): str(v) for k, v in response["levels"].items()},
        }
    for key in ("outcomes", "response", "toxicity", "file"):
        if out.get(key) in ({}, None):
            out.pop(key, None)
    return out


# ----------------------------------------------------------------------------------------------------


def _where(loc: tuple, raw: Mapping) -> str:
    """A pydantic error location as the description's own path: covariates[0] (x).levels."""
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int):
            column = node[item].get("column") if isinstance(node, list) and isinstance(node[item], Mapping) else None
            parts[-1] += f"[{item}]" + (f" ({column})" if column else "")
        elif item not in ("function-after", "function-before") and not str(item).startswith("function-"):
            parts.append(str(item))
        node = node[item] if isinstance(node, (Mapping, list)) and _has(node, item) else None
    return ".".join(parts)


def _has(node: Any, item: Any) -> bool:
    return (isinstance(node, Mapping) and item in node) or (isinstance(node, list) and isinstance(item, int))


def _message(error: Mapping, raw: Mapping) -> str:
    where = _where(tuple(error["loc"]), raw)
    if error["type"] == "missing":
        return f"missing required key {where}"
    if error["type"] == "extra_forbidden":
        return f"unknown key {where}"
    text = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {text}" if where and error["type"] != "value_error" else text


def study_from_dict(raw: Mapping, source: Optional[str] = None) -> Study:
    """Build a :class:`Study` from the parsed YAML mapping; ValueError naming every problem."""
    if not isinstance(raw, Mapping):
        raise ValueError("study description: expected a mapping at the top level")
    try:
        return Study.model_validate({**raw, "source": source})
    except ValidationError as error:
        problems = [_message(e, raw) for e in error.errors()]
        raise ValueError("study description: " + "; ".join(problems)) from None


def _packaged_text() -> str:
    return resources.files("psmbook").joinpath("data", DEFAULT_STUDY).read_text(encoding="utf-8")


def load_study(path: Union[str, Path, None] = None) -> Study:
    """Load a study description from a YAML file (default: the packaged synthetic study)."""
    if path is None:
        text, source = _packaged_text(), f"psmbook/data/{DEFAULT_STUDY}"
    else:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"study description not found: {p}")
        text, source = p.read_text(encoding="utf-8"), str(p)
    try:
        raw = yaml.load(text, Loader=TextLoader)  # values as the text written: no yes/no booleans
    except yaml.YAMLError as exc:
        raise ValueError(f"study description {source} is not valid YAML: {exc}") from exc
    return study_from_dict(raw, source=source)


def copy_description(path: Union[str, Path, None] = None, target: Union[str, Path] = STUDY_IN_USE) -> Path:
    """Copy the study description ``path`` (default: the packaged one) to ``target``."""
    text = _packaged_text() if path is None else Path(path).read_text(encoding="utf-8")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a study description file (for editors; written to examples/study.schema.json)."""
    schema = Study.model_json_schema(mode="validation")
    schema["title"] = "psmbook study description"
    schema["$comment"] = "Generated by psmbook.study.description.json_schema(); do not edit by hand."
    return schema
