"""Checking an analyst's patient-level cohort against its study description, before any analysis.

A cohort is a data file (CSV or Parquet, one row per patient) and a study description (YAML, see
:mod:`psmbook.study.description`) saying which columns hold the patient id, the treatment arm, the baseline
covariates, the time-to-event endpoints, the tumour response and the adverse events, and which codes
they hold. :func:`validate_cohort` lists *every* way the data depart from the description - a missing
column, an unknown arm or level code, a missing covariate, a negative survival time, an event flag that
is not 0/1, progression-free survival longer than overall survival - each naming the column, the rows
(data rows numbered from 1, as in the file without its header; with the patient ids) and what was
expected. :func:`prepare_cohort` raises :class:`DataError` with all of them at once, or returns the
analysis frame: the described columns only (every other column - names, dates, hospital numbers - is
dropped, unless `other_columns` keeps it, read as its type), codes as text, numeric covariates cut into
their levels (continuous ones kept as numbers), event flags as 0/1 and times as floats.
:func:`read_data` reads the file, :func:`check_matchable` stops the analysis when the propensity-score
caliper leaves no matched pair.

The checks are plain pandas rather than a schema library (pandera was considered): every message
names the offending values with their counts, the rows with their patient ids and the expected codes,
so each failure would need the same hand-written formatting after the library's report anyway.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np
import pandas as pd

from psmbook.cohort import other_columns
from psmbook.cohort.values import FLAG_TEXTS, MAX_NAMED, codes_of, counted, numbers, rows_text
from psmbook.study.codes import as_code, map_distinct
from psmbook.study.description import GENERATED_ID, Study

__all__ = [
    "DataError",
    "MatchingError",
    "AnalysisError",
    "described_columns",
    "validate_cohort",
    "prepare_cohort",
    "check_matchable",
]

#: Tolerance of the PFS <= OS check (times are compared as floats).
PFS_OS_TOLERANCE = 1e-9
#: What the study description can say about missing covariates, and about a status column with other codes.
MISSING_HINT = " (or say what a missing value means: the covariate's `missing: exclude` or `missing: level`)"
CODED = "other codes: declare the column as the endpoint's `status` with its event_codes and censor_codes"


# ----------------------------------------------------------------------------------------------------
# Errors


class DataError(ValueError):
    """The data cannot be analysed as described; `problems` lists every reason, one sentence each.
    ``id_column``: the column of patient ids the problems may name (set by the reader of the file)."""

    id_column: Optional[str] = None

    def __init__(self, problems: Sequence[str], *, source: Optional[str] = None, study_source: Optional[str] = None):
        self.problems: list[str] = list(problems)
        self.source = source or "(data frame)"
        self.study_source = study_source
        if study_source is not None:
            head = f"the data {self.source} do not match the study description {study_source}:"
        else:
            head = f"the data {self.source} cannot be used:"
        lines = [head, *(f"  - {p}" for p in self.problems)]
        if any(re.search(r"\brows? \d", p) for p in self.problems):
            lines.append("(rows are data rows numbered from 1, the header not counted)")
        super().__init__("\n".join(lines))


class MatchingError(ValueError):
    """Propensity-score matching produced no matched pair, so there is no matched cohort to analyse."""


class AnalysisError(ValueError):
    """Data that passed validation cannot support an analysis (no event in the matched cohort, a covariate
    level that only one arm has...): one sentence naming the cause, the covariate and level at fault, and
    what to change. The chapter stops there and its page says so (the book's other chapters still run)."""


# ----------------------------------------------------------------------------------------------------
# Reading the data file


# ----------------------------------------------------------------------------------------------------
# Values as codes, rows as text


def _flag(value: Any) -> Optional[int]:
    """0/1 of an event or adverse-event flag (0/1, 0.0/1.0, True/False, their text); -1 if not a flag."""
    code = as_code(value)
    if code is None:
        return None
    flag = FLAG_TEXTS.get(code.lower())
    return -1 if flag is None else int(flag)


def _quoted(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in values)


def _n(count: Any, noun: str) -> str:
    """``3 values``, ``1 value``."""
    count = int(count)
    return f"{count} {noun}{'s' if count != 1 else ''}"


def _patients(count: Any) -> str:
    return _n(count, "patient")


@dataclass(frozen=True)
class _Rows:
    """Names rows of the data: 1-based row numbers, with the patient ids when the data have them."""

    data: pd.DataFrame
    id_column: Optional[str]

    @classmethod
    def of(cls, data: pd.DataFrame, study: Study) -> "_Rows":
        return cls(data, study.id_column if study.id_column in data.columns else None)

    def __call__(self, mask: Union[pd.Series, np.ndarray]) -> str:
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        recorded = self.data.attrs.get("row_numbers")
        numbers = np.asarray(recorded)[positions] if recorded is not None else positions + 1
        ids = self.data[self.id_column].iloc[positions[:MAX_NAMED]] if self.id_column is not None else None
        return rows_text(numbers, ids, self.id_column or "")

    def number(self, position: int) -> int:
        """A row's number in the file (``attrs["row_numbers"]`` when a protocol left rows out)."""
        numbers = self.data.attrs.get("row_numbers")
        return int(numbers[position]) if numbers is not None else int(position) + 1


# ----------------------------------------------------------------------------------------------------
# What the study description names


def _toxicity_columns(study: Study) -> dict[str, tuple[str, str]]:
    """Adverse-event columns: column -> (description, kind); kind is ``flag`` (0/1), ``drug_flag``
    (0/1, recorded in the treated arm), ``grade`` (maximum grade 0-5, treated arm) or ``text``."""
    tox = study.toxicity
    if tox is None:
        return {}
    columns: dict[str, tuple[str, str]] = {}
    for block, what, kind in (
        ("grade3_4", "grade 3-4 {}", "flag"),
        ("drug_specific", "maximum grade of {}", "grade"),
    ):
        for key, item in getattr(tox, block).items():
            columns[item.column] = (what.format(item.label or key), kind)
    for key, what, kind in (
        ("any_grade3_4", "any grade 3-4 adverse event", "flag"),
        ("death_during_treatment", "death during treatment", "flag"),
        ("drug_any_event", "any event specific to the added drug", "drug_flag"),
        ("dose_reduced", "dose reduced", "drug_flag"),
        ("dose_reduction_reason", "reason for dose reduction", "text"),
        ("death_cause", "cause of death during treatment", "text"),
    ):
        if getattr(tox, key):
            columns[getattr(tox, key)] = (what, kind)
    return columns


def described_columns(study: Study) -> dict[str, str]:
    """Every column the study description names, in analysis order, with what it holds: patient id
    (unless made from the row number), treatment arm, covariates, endpoint times and events, response,
    adverse events."""
    columns: dict[str, str] = {}
    if study.id_column != GENERATED_ID:
        columns[study.id_column] = "patient id"
    columns.setdefault(study.treatment.column, "treatment arm")
    for v in study.covariates:
        columns.setdefault(v.column, f"covariate {v.label}")
    for e in study.endpoints:
        o = study.outcome(e)
        label = o.label or e
        columns.setdefault(o.time, f"{label} time")
        columns.setdefault(o.event, f"{label} event")
    if study.has_response:
        columns.setdefault(study.response.column, "tumour response")
    for column, (what, _) in _toxicity_columns(study).items():
        columns.setdefault(column, what)
    for column, other in study.other_columns.items():
        columns.setdefault(column, other.label or f"other column of type {other.type}")
    return columns


# ----------------------------------------------------------------------------------------------------
# The checks: each returns a list of problems and skips columns already reported missing


def _missing_columns(data: pd.DataFrame, study: Study) -> list[str]:
    present = [str(c) for c in data.columns]
    problems = []
    for column, what in described_columns(study).items():
        if column in data.columns:
            continue
        close = difflib.get_close_matches(column, present, n=3, cutoff=0.75)
        close += [c for c in present if c.strip().lower() == column.lower() and c not in close]
        hint = f"; did you mean {_quoted(close)}?" if close else ""
        problems.append(f"column {column!r} ({what}) is missing from the data{hint}")
    return problems


def _check_ids(data: pd.DataFrame, study: Study, rows: _Rows) -> list[str]:
    column = study.id_column
    if column not in data.columns:
        return []
    ids = codes_of(data[column]).reset_index(drop=True)
    problems = []
    missing = ids.isna()
    if missing.any():
        problems.append(
            f"column {column!r} (patient id): {_patients(missing.sum())} without an id "
            f"at {rows(missing)}; every patient needs a unique id"
        )
    repeated = ids[ids.notna() & ids.duplicated(keep=False)]
    if not repeated.empty:
        groups = list(repeated.groupby(repeated, sort=False).groups.items())
        named = [
            f"{pid!r} (rows {', '.join(str(rows.number(p)) for p in positions[:MAX_NAMED])})"
            for pid, positions in groups[:MAX_NAMED]
        ]
        more = f" and {len(groups) - MAX_NAMED} more" if len(groups) > MAX_NAMED else ""
        problems.append(
            f"column {column!r} (patient id): {_n(len(groups), 'id')} on more than one row: "
            f"{'; '.join(named)}{more}; each patient must have exactly one row"
        )
    return problems


def _checkcodes_of(
    data: pd.DataFrame,
    column: str,
    what: str,
    codes: Sequence[str],
    rows: _Rows,
    missing_hint: str = "",
    hint: str = "",
) -> list[str]:
    """Values of a coded column (treatment arm, covariate, response) must be among `codes`."""
    values = codes_of(data[column])
    problems = []
    missing = values.isna()
    unknown = ~missing & ~values.isin(list(codes))
    expected = f"expected one of {_quoted(codes)}"
    if unknown.any():
        lowered = {c.lower() for c in codes}
        if all(str(v).lower() in lowered for v in values[unknown]):
            hint = " (codes are case-sensitive)" + hint
        problems.append(
            f"column {column!r} ({what}): {_n(unknown.sum(), 'value')} "
            f"not among the codes of the study description: {counted(values[unknown])} "
            f"at {rows(unknown)}; {expected}{hint}"
        )
    if missing.any():
        problems.append(
            f"column {column!r} ({what}): {_n(missing.sum(), 'missing value')} at "
            f"{rows(missing)}; {expected}{missing_hint}"
        )
    return problems


def _check_treatment(data: pd.DataFrame, study: Study, rows: _Rows) -> list[str]:
    tr = study.treatment
    if tr.column not in data.columns:
        return []
    rule = f" (an inclusion rule leaves them out, counted: `- {{column: {tr.column}, %s}}`)"
    arms = f"in: [{', '.join(tr.arms)}]"
    problems = _checkcodes_of(data, tr.column, "treatment arm", tr.arms, rows, rule % "recorded: true", rule % arms)
    arms = codes_of(data[tr.column])
    for arm in tr.arms:
        if not (arms == arm).any():
            problems.append(
                f"column {tr.column!r} (treatment arm): no patient in the arm {arm!r} "
                f"({tr.labels.get(arm, arm)}); both arms need patients to be compared"
            )
    return problems


def _check_numeric(data: pd.DataFrame, var, rows: _Rows) -> list[str]:
    """A covariate recorded as a number, continuous or cut by `var.bins`, must be a number (within the
    edges of its bins)."""
    column, what = var.column, f"covariate {var.label}" + (", continuous" if var.continuous else "")
    numeric, missing, bad = numbers(data[column])
    if var.continuous:
        low, high, expected = -np.inf, np.inf, "expected a number" + (f" ({var.unit})" if var.unit else "")
    else:
        low, high = var.bins[0], var.bins[-1]
        expected = f"expected a number from {low:g} to {high:g}, cut at {', '.join(f'{b:g}' for b in var.bins)}"
    problems = []
    if bad.any():
        values = codes_of(data[column])[bad]
        hint = ""
        if var.derived and values.isin(list(var.codes)).all():
            hint = (
                " (the study description gives `bins`, so this column must hold the measurement, not "
                "the level codes; drop `bins` if the data are already coded)"
            )
        problems.append(
            f"column {column!r} ({what}): {_n(bad.sum(), 'value')} not a "
            f"number: {counted(values)} at {rows(bad)}; {expected}{hint}"
        )
    if missing.any():
        problems.append(
            f"column {column!r} ({what}): {_n(missing.sum(), 'missing value')} at {rows(missing)}; {expected}"
            + MISSING_HINT
        )
    outside = ~missing & ~bad & ((numeric < low) | (numeric > high))
    if outside.any():
        problems.append(
            f"column {column!r} ({what}): {_n(outside.sum(), 'value')} "
            f"outside [{low:g}, {high:g}]: {counted(codes_of(data[column])[outside])} at "
            f"{rows(outside)}; {expected}"
        )
    return problems


def _check_covariates(data: pd.DataFrame, study: Study, rows: _Rows) -> list[str]:
    problems = []
    for var in study.covariates:
        if var.column not in data.columns:
            continue
        if var.continuous or var.derived:
            problems += _check_numeric(data, var, rows)
        else:
            problems += _checkcodes_of(data, var.column, f"covariate {var.label}", var.codes, rows, MISSING_HINT)
    return problems


def _check_flags(
    data: pd.DataFrame,
    column: str,
    what: str,
    rows: _Rows,
    required: Optional[pd.Series] = None,
    where: str = "",
) -> list[str]:
    """A 0/1 flag (True/False, 0.0/1.0 accepted); missing values are problems where `required`."""
    flags = map_distinct(data[column], _flag)
    missing = flags.isna() if required is None else flags.isna() & required
    bad = flags.notna() & (flags == -1)
    problems = []
    if bad.any():
        problems.append(
            f"column {column!r} ({what}): {_n(bad.sum(), 'value')} not 0/1: "
            f"{counted(codes_of(data[column])[bad])} at {rows(bad)}; expected 0 or 1 "
            "(or true/false)"
        )
    if missing.any():
        problems.append(
            f"column {column!r} ({what}): {_n(missing.sum(), 'missing value')}{where} at "
            f"{rows(missing)}; expected 0 or 1 (or true/false)"
        )
    return problems


def _check_endpoints(data: pd.DataFrame, study: Study, rows: _Rows) -> list[str]:
    problems = []
    unit = study.time_unit
    for e in study.endpoints:
        o = study.outcome(e)
        label, time, event = o.label or e, o.time, o.event
        if time in data.columns:
            what = f"{label} time, {unit}"
            numeric, missing, bad = numbers(data[time])
            negative = ~missing & ~bad & (numeric < 0)
            expected = f"expected the time from the start of follow-up, a number >= 0 ({unit})"
            if missing.any():
                problems.append(
                    f"column {time!r} ({what}): {_n(missing.sum(), 'missing time')} at {rows(missing)}; {expected}"
                )
            if bad.any():
                problems.append(
                    f"column {time!r} ({what}): {_n(bad.sum(), 'value')} not a number: "
                    f"{counted(codes_of(data[time])[bad])} at {rows(bad)}; {expected}"
                )
            if negative.any():
                problems.append(
                    f"column {time!r} ({what}): {_n(negative.sum(), 'negative time')}: "
                    f"{counted(codes_of(data[time])[negative])} at {rows(negative)}; {expected}"
                )
        if event in data.columns:
            problems += _check_flags(data, event, f"{label} event: 1 = event, 0 = censored; {CODED}", rows)
    return problems


def _check_pfs_os(data: pd.DataFrame, study: Study, rows: _Rows) -> list[str]:
    """Progression-free survival ends at progression or death, so it cannot outlast overall survival."""
    if not {"pfs", "os"} <= set(study.endpoints):
        return []
    pfs, os_ = study.outcome("pfs").time, study.outcome("os").time
    if pfs not in data.columns or os_ not in data.columns:
        return []
    longer = numbers(data[pfs])[0] > numbers(data[os_])[0] + PFS_OS_TOLERANCE
    if not longer.any():
        return []
    first = (study.outcome("pfs").label or "progression-free survival").lower()
    return [
        f"columns {pfs!r} and {os_!r}: {first} longer than overall survival for "
        f"{_patients(int(longer.sum()))} at {rows(longer)}; expected {pfs} <= {os_} (the first event "
        "ends it no later than death ends overall survival)"
    ]


def _check_response(data: pd.DataFrame, study: Study, rows: _Rows) -> list[str]:
    if not study.has_response:
        return []
    column = study.response.column
    if column not in data.columns:
        return []
    codes = list(study.response.levels)
    ne = study.response.not_evaluable
    hint = f" (a patient without an assessment takes the not-evaluable code {str(ne)!r})" if ne else ""
    return _checkcodes_of(data, column, "tumour response", codes, rows, missing_hint=hint)


def _check_grades(data: pd.DataFrame, column: str, what: str, rows: _Rows, treated: pd.Series) -> list[str]:
    """Maximum grades of events of the added drug: whole numbers 0 (no event) to 5; missing values are
    problems in the treated arm only."""
    numeric, missing, bad = numbers(data[column])
    bad |= ~missing & ~bad & ~numeric.isin([0, 1, 2, 3, 4, 5])
    missing &= treated
    expected = "expected a whole-number grade from 0 (no event) to 5"
    problems = []
    if bad.any():
        problems.append(
            f"column {column!r} ({what}): {_n(bad.sum(), 'value')} not a grade: "
            f"{counted(codes_of(data[column])[bad])} at {rows(bad)}; {expected}"
        )
    if missing.any():
        problems.append(
            f"column {column!r} ({what}): {_n(missing.sum(), 'missing value')} in the treated "
            f"arm at {rows(missing)}; {expected}"
        )
    return problems


def _check_toxicity(data: pd.DataFrame, study: Study, rows: _Rows) -> list[str]:
    """Grade 3-4 and other flags 0/1; drug-specific maximum grades whole numbers 0-5. Events of the
    added drug are recorded in the treated arm: their missing values are allowed in the control arm."""
    tr = study.treatment
    if tr.column in data.columns:
        treated = codes_of(data[tr.column]) == tr.treated
    else:  # arms unknown (reported already): check the recorded values only
        treated = pd.Series(False, index=data.index)
    problems = []
    for column, (what, kind) in _toxicity_columns(study).items():
        if column not in data.columns:
            continue
        if kind == "flag":
            problems += _check_flags(data, column, what, rows)
        elif kind == "drug_flag":
            problems += _check_flags(data, column, what, rows, required=treated, where=" in the treated arm")
        elif kind == "grade":
            problems += _check_grades(data, column, what, rows, treated)
    return problems


def validate_cohort(data: pd.DataFrame, study: Study) -> list[str]:
    """Every way `data` departs from the study description, one sentence each naming the column, the
    rows (and patient ids) and what was expected; an empty list when the cohort can be analysed."""
    rows = _Rows.of(data, study)
    if data.empty:
        return ["the data have no rows (no patients)"] + _missing_columns(data, study)
    return [
        *_missing_columns(data, study),
        *_check_ids(data, study, rows),
        *_check_treatment(data, study, rows),
        *_check_covariates(data, study, rows),
        *_check_endpoints(data, study, rows),
        *_check_pfs_os(data, study, rows),
        *_check_response(data, study, rows),
        *_check_toxicity(data, study, rows),
        *other_columns.problems(data, study, rows),
    ]


# ----------------------------------------------------------------------------------------------------
# The analysis frame


def _cut(values: pd.Series, var) -> pd.Series:
    """Level codes of a measured covariate: level i holds [bins[i], bins[i+1]), the last one closed."""
    edges = np.asarray(var.bins, dtype=float)
    index = np.searchsorted(edges, values.to_numpy(dtype=float), side="right") - 1
    index = np.clip(index, 0, len(var.bins) - 2)  # not into a `missing: level` level
    return pd.Series(np.asarray(var.codes, dtype=object)[index], index=values.index, dtype=object)


def _as_flags(values: pd.Series) -> pd.Series:
    flags = map_distinct(values, _flag).astype("boolean")
    return flags.astype(bool) if not flags.isna().any() else flags


def prepare_cohort(data: pd.DataFrame, study: Study, *, source: Optional[str] = None) -> pd.DataFrame:
    """The analysis frame of a cohort: DataError listing every problem of :func:`validate_cohort`, else
    only the described columns (every other column is dropped; `other_columns` last, read as their type),
    in the description's order and the
    file's row order: the patient id (1..n when the description names none), codes as text, measured
    covariates cut into their level codes (continuous ones as floats), event flags as int 0/1, times as
    float, adverse-event flags as bool and drug-specific grades as int (missing in the control arm stays
    missing)."""
    problems = validate_cohort(data, study)
    if problems:
        raise DataError(
            problems, source=source or data.attrs.get("source"), study_source=study.source or repr(study.name)
        )
    data = data.reset_index(drop=True)
    out = pd.DataFrame(index=data.index)
    if study.id_column in data.columns:
        out[study.id_column] = data[study.id_column]
    else:  # GENERATED_ID: the validation required the column otherwise
        out[study.id_column] = np.asarray(data.attrs.get("row_numbers", np.arange(1, len(data) + 1)), dtype=np.int64)
    out[study.treatment.column] = codes_of(data[study.treatment.column])
    for var in study.covariates:
        if var.continuous:  # the number as it is
            out[var.column] = numbers(data[var.column])[0]
        else:
            out[var.column] = _cut(numbers(data[var.column])[0], var) if var.derived else codes_of(data[var.column])
    for e in study.endpoints:
        o = study.outcome(e)
        out[o.time] = numbers(data[o.time])[0]
        out[o.event] = map_distinct(data[o.event], _flag).astype(np.int64)
    if study.has_response:
        column = study.response.column
        out[column] = codes_of(data[column])
    for column, (_, kind) in _toxicity_columns(study).items():
        if column in out.columns:
            continue
        if kind in ("flag", "drug_flag"):
            out[column] = _as_flags(data[column])
        elif kind == "grade":
            grades = numbers(data[column])[0].astype("Int64")
            out[column] = grades.astype(np.int64) if not grades.isna().any() else grades
        else:
            out[column] = codes_of(data[column])
    return out.assign(**other_columns.typed(data, study))  # the columns kept for description, typed


# ----------------------------------------------------------------------------------------------------
# Matching


def check_matchable(n_matched_treated: int, n_treated: int, caliper_text: str) -> None:
    """MatchingError when no treated patient found a control within the caliper (nothing to compare)."""
    if n_treated <= 0:
        raise MatchingError(
            "there is no treated patient to match; check the treatment arm codes of the "
            "study description against the data"
        )
    if n_matched_treated <= 0:
        raise MatchingError(
            f"no treated patient (of {n_treated}) found a control within the caliper {caliper_text}, so "
            "there is no matched cohort to analyse; widen the caliper (parameter `caliper`, in standard "
            "deviations of the logit propensity score, e.g. caliper=0.5) or match without one "
            "(caliper=none)"
        )
