"""The protocol applied to a real cohort before any analysis, as its study description states it.

:func:`load_cohort` reads the data file (encoding, delimiter: :func:`psmbook.cohort.reading.read_data`),
reshapes a long file to one row per patient (:mod:`psmbook.cohort.longformat`), applies the inclusion
rules in order and the complete-case rule of each covariate with ``missing: exclude``, counting the
patients each one leaves out (the patient flow shows every count), turns each coded status column into
the endpoint's 0/1 event flag (competing events censored at their time: cause-specific analyses), gives
the missing values of a ``missing: level`` covariate their own level, and checks what is left against
the description (:func:`psmbook.cohort.validation.prepare_cohort`). Every message names the column,
the rule and the rows of the file (with the patient ids); nothing is dropped or recoded silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import pandas as pd

from psmbook.cohort import longformat, reading, validation
from psmbook.cohort.flow import Exclusion, Screening
from psmbook.cohort.longformat import missing_column, rows_text
from psmbook.cohort.validation import DataError
from psmbook.cohort.values import codes_of, counted, plural
from psmbook.present.privacy import complementary_mask, n_pct_cells
from psmbook.study.description import Study
from psmbook.study.protocol import MISSING_LEVEL, Rule

__all__ = [
    "Loaded",
    "protocol_columns",
    "apply_rules",
    "complete_cases",
    "code_events",
    "event_counts",
    "event_coding_table",
    "apply_protocol",
    "load_cohort",
]

#: Columns of :func:`event_coding_table`.
CODING_COLUMNS = ("Endpoint", "Status", "Codes", "How it is analysed")


@dataclass(frozen=True)
class Loaded:
    """A cohort after its protocol: the analysis frame (``cohort``), the flow from the file to it
    (``screening``), each coded endpoint's counts by status and arm (``events``) and how the file was
    read (``reading``)."""

    cohort: pd.DataFrame
    screening: Screening
    events: dict[str, list[tuple[str, str, int, int]]] = field(default_factory=dict)
    reading: str = ""

    @classmethod
    def whole(cls, cohort: pd.DataFrame) -> "Loaded":
        """A cohort with no protocol to apply (the synthetic one): every patient included."""
        return cls(cohort, Screening(len(cohort)))


def protocol_columns(study: Study) -> list[str]:
    """Columns the protocol reads besides the analysis frame's: rule columns and coded status columns."""
    columns = [r.column for r in study.inclusion]
    columns += [study.outcome(e).status for e in study.endpoints if study.outcome(e).status]
    return list(dict.fromkeys(columns))


def _rows(data: pd.DataFrame, mask, study: Study) -> str:
    picked = data.index[np.asarray(mask, dtype=bool)]
    id_column = study.id_column if study.id_column in data.columns else ""
    return rows_text(picked, data.loc[picked, id_column] if id_column else None, id_column)


def _rule_mask(data: pd.DataFrame, rule: Rule, study: Study) -> tuple[pd.Series, pd.Series, list[str]]:
    """(meets the condition, value not recorded, problems) of one rule on the patients in ``data``."""
    values = codes_of(data[rule.column])
    missing = values.isna()
    where = f"inclusion rule on {rule.column!r} ({rule.excluded_text})"
    problems: list[str] = []
    if rule.kind == "codes":
        ok = values.isin(rule.in_) if rule.in_ is not None else ~values.isin(rule.not_in)
    elif rule.kind == "numbers":
        numbers = pd.to_numeric(values, errors="coerce")
        bad = ~missing & numbers.isna()
        if bad.any():
            problems.append(
                f"column {rule.column!r}, {where}: {plural(int(bad.sum()), 'values')} not a number: "
                f"{counted(values[bad])} at {_rows(data, bad, study)}"
            )
        low = -np.inf if rule.min is None else rule.min
        high = np.inf if rule.max is None else rule.max
        ok = (numbers >= low) & (numbers <= high)
    elif rule.kind == "dates":
        dates = pd.to_datetime(values, format=rule.date_format or "ISO8601", errors="coerce")
        bad = ~missing & dates.isna()
        if bad.any():
            written = f"the date_format {rule.date_format!r}" if rule.date_format else "2019-12-31 (ISO 8601)"
            problems.append(
                f"column {rule.column!r}, {where}: {plural(int(bad.sum()), 'values')} not a date written as {written}: "
                f"{counted(values[bad])} at {_rows(data, bad, study)}; give the rule a date_format "
                "(e.g. date_format: '%d/%m/%Y') if the file writes dates another way"
            )
        low = pd.Timestamp(rule.from_) if rule.from_ is not None else pd.Timestamp.min
        high = pd.Timestamp(rule.to) if rule.to is not None else pd.Timestamp.max
        ok = (dates >= low) & (dates <= high)
    else:
        ok = ~missing
    return ok.fillna(False).astype(bool) & ~missing, missing, problems


def apply_rules(data: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, list[Exclusion], list[str]]:
    """The patients meeting every inclusion rule, the exclusions rule by rule (in order, each counting
    the patients it leaves out of those the earlier ones kept) and the problems (a rule's column
    missing, values that are not numbers or dates)."""
    absent = [
        missing_column(r.column, f"inclusion rule: {r.excluded_text}", data.columns)
        for r in study.inclusion
        if r.column not in data.columns
    ]
    if absent:
        return data, [], list(dict.fromkeys(absent))
    exclusions, problems = [], []
    for rule in study.inclusion:
        ok, missing, found = _rule_mask(data, rule, study)
        problems += found
        keep = ok | (missing & (rule.missing == "keep"))
        unrecorded = 0 if rule.kind == "recorded" else int((~keep & missing).sum())  # all of them, for `recorded`
        exclusions.append(Exclusion(rule.excluded_text, int((~keep).sum()), unrecorded))
        data = data[keep.to_numpy()]
    return data, exclusions, problems


def complete_cases(data: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, list[Exclusion]]:
    """Patients with every ``missing: exclude`` covariate recorded, with one exclusion per covariate."""
    exclusions = []
    for var in study.covariates:
        if var.missing != "exclude" or var.column not in data.columns:
            continue
        missing = codes_of(data[var.column]).isna()
        exclusions.append(Exclusion(f"{var.label} not recorded (complete case)", int(missing.sum())))
        data = data[~missing.to_numpy()]
    return data, exclusions


def code_events(data: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, list[str]]:
    """Each coded endpoint's 0/1 event flag (``event``) from its status column: 1 for an event code, 0 for
    a censoring or competing code; problems for codes the description does not list and missing status."""
    data = data.copy()
    problems = []
    for key in study.endpoints:
        o = study.outcome(key)
        if not o.status:
            continue
        what = f"status of {o.label or key}"
        if o.event in data.columns:
            problems.append(
                f"column {o.event!r} is in the file, but outcomes.{key}.event names the 0/1 flag made from the "
                f"status column {o.status!r}; give the flag another name (event: {key}_flag)"
            )
        if o.status not in data.columns:
            problems.append(missing_column(o.status, what, data.columns))
            data[o.event] = 0
            continue
        codes = codes_of(data[o.status])
        known = [*o.event_codes, *o.censor_codes, *o.competing]
        unknown = codes.notna() & ~codes.isin(known)
        expected = f"expected one of {', '.join(map(repr, known))}"
        if unknown.any():
            problems.append(
                f"column {o.status!r} ({what}): {plural(int(unknown.sum()), 'values')} not among the codes of "
                f"outcomes.{key}: {counted(codes[unknown])} at {_rows(data, unknown, study)}; {expected} "
                "(list each code under event_codes, censor_codes or competing)"
            )
        if codes.isna().any():
            problems.append(
                f"column {o.status!r} ({what}): {plural(int(codes.isna().sum()), 'missing values')} at "
                f"{_rows(data, codes.isna(), study)}; {expected} (an inclusion rule "
                f"`- {{column: {o.status}, recorded: true}}` leaves these patients out, counted)"
            )
        data[o.event] = codes.isin(o.event_codes).astype(np.int64)
    return data, problems


def event_counts(data: pd.DataFrame, study: Study) -> dict[str, list[tuple[str, str, int, int]]]:
    """Each coded endpoint's patients by status, treated and control: (status, codes, n treated, n control)."""
    arm = codes_of(data[study.treatment.column]) if study.treatment.column in data.columns else None
    out = {}
    for key in study.endpoints:
        o = study.outcome(key)
        if not o.status or o.status not in data.columns or arm is None:
            continue
        codes = codes_of(data[o.status])
        groups = [(f"event: {o.event_name or 'event'}", o.event_codes), ("censored", o.censor_codes)]
        groups += [(f"competing: {name}", (code,)) for code, name in o.competing.items()]
        rows = []
        for status, listed in groups:
            here = codes.isin(listed)
            n = [int((here & (arm == a)).sum()) for a in study.treatment.arms]
            rows.append((status, ", ".join(listed), n[0], n[1]))
        out[key] = rows
    return out


def event_coding_table(loaded: Loaded, study: Study, min_cell: int = 0) -> pd.DataFrame:
    """How each coded endpoint's status column is read: its codes, the patients by arm (counts below
    ``min_cell`` as "< min_cell", and the next smallest status of the endpoint and arm "hidden" beside a lone
    one: the statuses add up to the arm) and how each status enters the analyses."""
    treated, control = (study.arm_label(a) for a in study.treatment.arms)
    rows = []
    for key, counts in loaded.events.items():
        o = study.outcome(key)
        hidden = [complementary_mask([c[i] for c in counts], ["arm"] * len(counts), min_cell) for i in (2, 3)]
        for j, (status, codes, n_treated, n_control) in enumerate(counts):
            if status.startswith("event"):
                how = "the event"
            elif status == "censored":
                how = "censored"
            else:
                how = "censored at its time (cause-specific)"  # within pandas' 50 characters a page shows
            rows.append(
                {
                    "Endpoint": o.label or key,
                    "Status": status,
                    "Codes": f"{o.status} = {codes}",
                    treated: n_pct_cells([n_treated], [None], [hidden[0][j]], min_cell)[0],
                    control: n_pct_cells([n_control], [None], [hidden[1][j]], min_cell)[0],
                    "How it is analysed": how,
                }
            )
    table = pd.DataFrame(rows, columns=[*CODING_COLUMNS[:3], treated, control, CODING_COLUMNS[3]])
    return table.set_index(["Endpoint", "Status"])


def _missing_levels(data: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """``missing: level`` covariates: codes get the missing level now; measured ones (``bins``) a number
    inside their bins until they are cut (the positions are returned to give them the level after)."""
    data = data.copy()
    later = {}
    for var in study.covariates:
        if var.missing != "level" or var.column not in data.columns:
            continue
        missing = codes_of(data[var.column]).isna().to_numpy()
        if var.derived:
            later[var.column] = missing
            data[var.column] = data[var.column].where(~missing, var.bins[0])
        else:
            data[var.column] = data[var.column].astype(object).where(~missing, MISSING_LEVEL)
    return data, later


def apply_protocol(data: pd.DataFrame, study: Study, *, source: Optional[str] = None) -> Loaded:
    """The protocol on a data frame as read from the file (see the module's description); DataError
    naming every problem of a step at once."""
    source = source or data.attrs.get("source")
    study_source = study.source or repr(study.name)
    reading_text = data.attrs.get("reading", "")
    if study.file is not None and study.file.long is not None:
        used = [*validation.described_columns(study), *protocol_columns(study)]
        data = longformat.reshape_long(data, study, used, source=source)
        rows = data.attrs.get("file_rows")
    else:
        data = data.set_axis(np.arange(1, len(data) + 1), axis=0)
        rows = None
    screened = len(data)
    data, exclusions, problems = apply_rules(data, study)
    if problems and any(r.column not in data.columns for r in study.inclusion):  # and the other absent columns
        derived = {study.outcome(e).event for e in study.endpoints if study.outcome(e).status}
        problems += [
            missing_column(column, what, data.columns)
            for column, what in validation.described_columns(study).items()
            if column not in data.columns and column not in derived
        ]
    if problems:
        raise DataError(problems, source=source, study_source=study_source)
    data, dropped = complete_cases(data, study)
    exclusions += dropped
    if data.empty and screened:
        reasons = "; ".join(f"{e.reason}: {e.n}" for e in exclusions)
        raise DataError([f"no patient is left after the inclusion rules ({reasons})"], source=source)
    data, problems = code_events(data, study)
    events = event_counts(data, study)
    data, later = _missing_levels(data, study)
    data.attrs = {"source": source, "row_numbers": data.index.to_numpy()}
    problems += validation.validate_cohort(data, study)
    if problems:
        raise DataError(problems, source=source, study_source=study_source)
    cohort = validation.prepare_cohort(data, study, source=source)
    for column, missing in later.items():
        cohort[column] = cohort[column].astype(object).where(~missing, MISSING_LEVEL)
    return Loaded(cohort, Screening(screened, tuple(exclusions), rows), events, reading_text)


def load_cohort(path: Union[str, Path], study: Study) -> Loaded:
    """Read the data file as the study description declares it and apply its protocol (see the module). A
    DataError says which column holds the patient ids its problems name (``id_column``)."""
    try:
        data = reading.read_data(path, study.file)
        return apply_protocol(data, study, source=str(path))
    except DataError as error:
        error.id_column = study.id_column
        raise
