"""The study description: which column holds the treatment arm, which covariates enter Table 1 and the
propensity-score model, their level codes and labels, and where the outcomes are.

Every chapter reads names from a :class:`Study` rather than hard-coding them, so a real cohort comes
with its own YAML file. The default is the packaged ``data/study_synthetic.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

__all__ = [
    "Treatment",
    "Variable",
    "Study",
    "load_study",
    "copy_description",
    "DEFAULT_STUDY",
    "STUDY_IN_USE",
]

#: File name of the packaged default study description.
DEFAULT_STUDY = "study_synthetic.yaml"
#: Patient id column made from the row number when a study description names none (``id_column``).
GENERATED_ID = "row_id"


@dataclass(frozen=True)
class Treatment:
    """The exposure: `column` holds `treated` or `control` (arm codes); `labels` maps code -> label."""

    column: str
    treated: str
    control: str
    labels: dict[str, str]

    @property
    def arms(self) -> tuple[str, str]:
        """Arm codes, treated first (the paper's column order)."""
        return (self.treated, self.control)


@dataclass(frozen=True)
class Variable:
    """A categorical baseline characteristic.

    `levels` maps level code -> label in the paper's order; `psm` says whether it enters the
    propensity-score model; `table1_omit` lists levels that count in the test but have no row in
    Table 1 (e.g. "no previous treatment"). `bins` (optional) cuts a numeric column into the levels, in
    order: level i holds values in [bins[i], bins[i+1]) (the last interval includes its upper edge).
    """

    column: str
    label: str
    levels: dict[str, str]
    psm: bool = False
    table1_omit: tuple[str, ...] = ()
    bins: Optional[tuple[float, ...]] = None

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


@dataclass(frozen=True)
class Study:
    """A study description (see ``data/study_synthetic.yaml`` for the format)."""

    name: str
    synthetic: bool
    id_column: str
    treatment: Treatment
    covariates: list[Variable]
    outcomes: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    toxicity: dict[str, Any] = field(default_factory=dict)
    source: Optional[str] = None
    paper: bool = False
    description: str = ""
    population: str = ""

    @property
    def endpoints(self) -> list[str]:
        """Time-to-event endpoints described under ``outcomes`` (e.g. ["os", "pfs"]), in file order."""
        return [k for k, v in self.outcomes.items() if isinstance(v, Mapping)]

    def outcome(self, endpoint: str) -> dict[str, Any]:
        """``{"time": column, "event": column, "label": ...}`` of an endpoint; ValueError if absent."""
        if endpoint not in self.endpoints:
            raise ValueError(
                f"study {self.name!r} has no endpoint {endpoint!r}; endpoints: {', '.join(self.endpoints) or 'none'}"
            )
        return dict(self.outcomes[endpoint])

    @property
    def time_unit(self) -> str:
        return str(self.outcomes.get("time_unit", "months"))

    @property
    def time_label(self) -> str:
        """Axis label of follow-up time (``outcomes.time_label``; default "<Unit> of follow-up")."""
        return str(self.outcomes.get("time_label") or f"{self.time_unit.capitalize()} of follow-up")

    @property
    def time_step(self) -> float:
        """A natural tick spacing for the time unit: a year (12 months, 365 days, 52 weeks, 1 year)."""
        return {"months": 12.0, "days": 365.0, "weeks": 52.0, "years": 1.0}.get(self.time_unit, 12.0)

    @property
    def has_response(self) -> bool:
        return bool(self.response.get("column"))

    @property
    def has_toxicity(self) -> bool:
        return bool(self.toxicity.get("grade3_4"))

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


def _require(mapping: Mapping, key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping):
        raise ValueError(f"study description: {where} must be a mapping, got {type(mapping).__name__}")
    if key not in mapping or mapping[key] is None:
        raise ValueError(f"study description: missing required key {where + '.' if where else ''}{key}")
    return mapping[key]


def _code(value: Any, where: str) -> str:
    """A level or arm code as text. YAML reads unquoted yes/no/on/off as booleans: refuse them."""
    if isinstance(value, bool):
        raise ValueError(
            f"study description: {where} has a boolean code {value!r}; quote it "
            f'(e.g. "yes": Yes), since YAML reads yes/no/true/false as booleans'
        )
    return str(value)


def _variable(raw: Mapping, i: int) -> Variable:
    where = f"covariates[{i}]"
    column = str(_require(raw, "column", where))
    where = f"covariates[{i}] ({column})"
    label = str(raw.get("label") or column)
    levels_raw = _require(raw, "levels", where)
    if not isinstance(levels_raw, Mapping) or len(levels_raw) < 2:
        raise ValueError(f"study description: {where}.levels must map at least two codes to labels")
    levels = {_code(k, f"{where}.levels"): str(v) for k, v in levels_raw.items()}
    omit_raw = raw.get("table1_omit") or ()
    if isinstance(omit_raw, (str, int)):
        omit_raw = [omit_raw]
    omit = tuple(_code(c, f"{where}.table1_omit") for c in omit_raw)
    unknown = [c for c in omit if c not in levels]
    if unknown:
        raise ValueError(
            f"study description: {where}.table1_omit names unknown levels {unknown}; levels: {list(levels)}"
        )
    bins = raw.get("bins")
    if bins is not None:
        try:
            bins = tuple(float(b) for b in bins)
        except (TypeError, ValueError):
            raise ValueError(f"study description: {where}.bins must be a list of numbers, got {bins!r}") from None
        if len(bins) != len(levels) + 1 or any(b >= c for b, c in zip(bins, bins[1:])):
            raise ValueError(
                f"study description: {where}.bins must be {len(levels) + 1} increasing edges "
                f"(one more than the {len(levels)} levels), got {list(bins)}"
            )
    return Variable(
        column=column,
        label=label,
        levels=levels,
        psm=bool(raw.get("psm", False)),
        table1_omit=omit,
        bins=bins,
    )


def study_from_dict(raw: Mapping, source: Optional[str] = None) -> Study:
    """Build a :class:`Study` from the parsed YAML mapping; ValueError naming any missing key."""
    if not isinstance(raw, Mapping):
        raise ValueError("study description: expected a mapping at the top level")
    tr = _require(raw, "treatment", "")
    treated = _code(_require(tr, "treated", "treatment"), "treatment.treated")
    control = _code(_require(tr, "control", "treatment"), "treatment.control")
    if treated == control:
        raise ValueError(f"study description: treatment.treated and treatment.control are both {treated!r}")
    labels = {_code(k, "treatment.labels"): str(v) for k, v in (tr.get("labels") or {}).items()}
    labels.setdefault(treated, treated)
    labels.setdefault(control, control)
    treatment = Treatment(
        column=str(_require(tr, "column", "treatment")), treated=treated, control=control, labels=labels
    )
    covs_raw = _require(raw, "covariates", "")
    if not isinstance(covs_raw, list) or not covs_raw:
        raise ValueError("study description: covariates must be a non-empty list")
    covariates = [_variable(c, i) for i, c in enumerate(covs_raw)]
    seen: set[str] = set()
    for v in covariates:
        if v.column in seen:
            raise ValueError(f"study description: covariate {v.column!r} is listed twice")
        seen.add(v.column)
    return Study(
        name=str(_require(raw, "name", "")),
        synthetic=bool(raw.get("synthetic", False)),
        id_column=str(raw.get("id_column") or GENERATED_ID),
        treatment=treatment,
        covariates=covariates,
        outcomes=dict(raw.get("outcomes") or {}),
        response=dict(raw.get("response") or {}),
        toxicity=dict(raw.get("toxicity") or {}),
        source=source,
        paper=bool(raw.get("paper", False)),
        description=str(raw.get("description") or "").strip(),
        population=str(raw.get("population") or "").strip(),
    )


def load_study(path: Union[str, Path, None] = None) -> Study:
    """Load a study description from a YAML file (default: the packaged synthetic study)."""
    if path is None:
        ref = resources.files("psmbook").joinpath("data", DEFAULT_STUDY)
        text = ref.read_text(encoding="utf-8")
        source = f"psmbook/data/{DEFAULT_STUDY}"
    else:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"study description not found: {p}")
        text = p.read_text(encoding="utf-8")
        source = str(p)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"study description {source} is not valid YAML: {exc}") from exc
    return study_from_dict(raw, source=source)


#: Where the cohort chapter leaves the study description in use, for the later chapters.
STUDY_IN_USE = "data/study.yaml"


def copy_description(path: Union[str, Path, None] = None, target: Union[str, Path] = STUDY_IN_USE) -> Path:
    """Copy the study description ``path`` (default: the packaged one) to ``target``."""
    if path is None:
        text = resources.files("psmbook").joinpath("data", DEFAULT_STUDY).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target
