"""A long data file - one row per patient and event type - reshaped to one row per patient, as the
study description declares it (``file.long``), and the few helpers that name rows in its messages.

Each per-type column becomes one column per event type (``time`` of type ``death`` -> ``time_death``);
every other column the description uses must be the same on all of a patient's rows. A row without
an id or a type, a type the description does not list, a patient with two rows of one type, a
per-patient value that differs between rows, or a patient without the row a described column needs:
each is named with the rows of the file (and the patient ids), all at once.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from psmbook.cohort.validation import DataError
from psmbook.cohort.values import MAX_NAMED, codes_of, counted, plural, rows_text
from psmbook.study.description import Study

__all__ = ["missing_column", "reshape_long"]


def missing_column(column: str, what: str, present: Iterable[object]) -> str:
    """The problem of a column the file lacks, with the close names it has."""
    present = [str(c) for c in present]
    close = difflib.get_close_matches(column, present, n=3, cutoff=0.75)
    close += [c for c in present if c.strip().lower() == column.lower() and c not in close]
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"column {column!r} ({what}) is missing from the data{hint}"


def _named(frame: pd.DataFrame, mask, id_column: str) -> str:
    """The rows of ``frame`` (indexed by file row number) where ``mask`` holds, with their ids."""
    picked = frame.index[np.asarray(mask, dtype=bool)]
    ids = frame.loc[picked, id_column] if id_column in frame.columns else None
    return rows_text(picked, ids, id_column)


def _check_rows(data: pd.DataFrame, study: Study, ids: pd.Series, types: pd.Series) -> list[str]:
    spec, id_column = study.file.long, study.id_column
    problems = []
    if ids.isna().any():
        problems.append(
            f"column {id_column!r} (patient id): {plural(int(ids.isna().sum()), 'rows')} without an id at "
            f"{_named(data, ids.isna(), id_column)}; a long file ties a patient's rows together by the id"
        )
    known = list(spec.types)
    unknown = types.notna() & ~types.isin(known)
    if types.isna().any():
        problems.append(
            f"column {spec.type_column!r} (event type): {plural(int(types.isna().sum()), 'rows')} without a type at "
            f"{_named(data, types.isna(), id_column)}; expected one of {', '.join(map(repr, known))}"
        )
    if unknown.any():
        problems.append(
            f"column {spec.type_column!r} (event type): {plural(int(unknown.sum()), 'rows')} of a type not "
            f"listed under file.long.types: {counted(types[unknown])} at {_named(data, unknown, id_column)}; listed: "
            f"{', '.join(map(repr, known))}"
        )
    keyed = pd.DataFrame({"id": ids, "type": types}).dropna()
    twice = keyed[keyed.duplicated(keep=False)]
    if not twice.empty:
        groups = list(twice.groupby(["id", "type"], sort=False).groups.items())
        named = [
            f"{pid!r}, type {kind!r} (rows {', '.join(str(int(r)) for r in rows[:MAX_NAMED])})"
            for (pid, kind), rows in groups[:MAX_NAMED]
        ]
        more = f" and {len(groups) - MAX_NAMED} more" if len(groups) > MAX_NAMED else ""
        problems.append(
            f"columns {id_column!r} and {spec.type_column!r}: {plural(len(groups), 'patients')} with more than "
            f"one row of one event type: {'; '.join(named)}{more}; a long file has one row per patient and event type"
        )
    return problems


def _check_constant(data: pd.DataFrame, ids: pd.Series, columns: Sequence[str], id_column: str) -> list[str]:
    """Per-patient columns must hold one value per patient."""
    problems = []
    for column in columns:
        values = codes_of(data[column]).fillna("<missing>")
        varying = values.groupby(ids, sort=False).nunique()
        varying = varying[varying > 1]
        if varying.empty:
            continue
        named = []
        for pid in varying.index[:MAX_NAMED]:
            rows = data.index[(ids == pid).to_numpy()]
            shown = ", ".join(dict.fromkeys(values[ids == pid]))
            named.append(f"{pid!r} (rows {', '.join(str(int(r)) for r in rows[:MAX_NAMED])}: {shown})")
        more = f" and {len(varying) - MAX_NAMED} more" if len(varying) > MAX_NAMED else ""
        problems.append(
            f"column {column!r} differs between the rows of {plural(len(varying), 'patients')}: "
            f"{'; '.join(named)}{more}; "
            "a column that differs by event type belongs under file.long.per_type"
        )
    return problems


def reshape_long(
    data: pd.DataFrame, study: Study, used: Iterable[str], *, source: Optional[str] = None
) -> pd.DataFrame:
    """One row per patient from a long file (``study.file.long``): per-type columns spread to
    ``<column>_<type>``, the other ``used`` columns (those the description names) checked to be the same
    on every row of a patient. Patients in the order of their first row; the frame's index is that
    row's number in the file (1-based). DataError naming every problem at once."""
    spec, id_column = study.file.long, study.id_column
    source = source or data.attrs.get("source")
    study_source = study.source or repr(study.name)
    data = data.set_axis(np.arange(1, len(data) + 1), axis=0)
    needed = {id_column: "patient id", spec.type_column: "event type"}
    needed.update({c: "a per-type column (file.long.per_type)" for c in spec.per_type})
    absent = [missing_column(c, what, data.columns) for c, what in needed.items() if c not in data.columns]
    if absent:
        raise DataError(absent, source=source, study_source=study_source)
    ids, types = codes_of(data[id_column]), codes_of(data[spec.type_column])
    problems = _check_rows(data, study, ids, types)
    clash = [c for c in spec.wide_columns if c in data.columns]
    if clash:
        problems.append(
            f"columns {', '.join(map(repr, clash))} are already in the file, but the long format makes them from "
            f"file.long.per_type; rename them in the file"
        )
    skip = {id_column, spec.type_column, *spec.per_type, *spec.wide_columns}
    per_patient = [c for c in dict.fromkeys(used) if c in data.columns and c not in skip]
    problems += _check_constant(data[ids.notna()], ids[ids.notna()], per_patient, id_column)
    if problems:
        raise DataError(problems, source=source, study_source=study_source)
    first = ~ids.duplicated()
    wide = data.loc[first.to_numpy()].drop(columns=[spec.type_column, *spec.per_type])
    order = ids[first].to_numpy()
    lacking = []
    for kind in spec.types:
        rows = data[(types == kind).to_numpy()]
        part = rows[list(spec.per_type)].set_axis(ids[types == kind].to_numpy(), axis=0)
        part = part.rename(columns={c: spec.column(c, kind) for c in spec.per_type}).reindex(order)
        for column in part.columns:
            wide[column] = part[column].to_numpy()
        needed_here = [c for c in part.columns if c in set(used)]
        without = ~np.isin(order, ids[types == kind].to_numpy())
        if needed_here and without.any():
            numbers, pids = wide.index[without], order[without]
            lacking.append(
                f"{plural(int(without.sum()), 'patients')} without a row of event type {kind!r} "
                f"(column {spec.type_column!r}), "
                f"which {', '.join(map(repr, needed_here))} of the study description need: "
                f"{rows_text(numbers, pids, id_column)}"
            )
    if lacking:
        raise DataError(lacking, source=source, study_source=study_source)
    wide.attrs = {**data.attrs, "file_rows": len(data)}
    return wide
