"""The numbers the paper prints, read from the package data file ``psmbook/data/published.yaml``.

Each entry has an ``id`` (e.g. ``table1.before.age_group.lt65.anlotinib.n``), the ``value`` as
printed (a percentage as 61.8; a date as an ISO string), ``where`` it is printed, its ``kind``, and
optionally the ``printed`` text (when it is not simply the value) and a ``note``.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Union

import yaml

__all__ = [
    "KINDS",
    "PublishedNumber",
    "load_published",
    "published_number",
    "published_value",
    "published_where",
    "published_source",
    "select",
]

#: The kinds a published number can have.
KINDS = frozenset({"count", "percent", "p", "hr", "ci_low", "ci_high", "months", "weeks", "gy", "mg", "date", "years"})

_REQUIRED = ("id", "value", "where", "kind")
_OPTIONAL = ("printed", "note")

PathLike = Union[str, Path, None]


@dataclass(frozen=True)
class PublishedNumber:
    """One number as the paper prints it."""

    id: str
    value: Union[int, float, str]
    where: str
    kind: str
    printed: Optional[str] = None
    note: Optional[str] = None


#: decimals a kind of number is printed with when its entry gives no ``printed`` text
DEFAULT_DECIMALS = {"percent": 1, "p": 3, "hr": 3, "ci_low": 3, "ci_high": 3}


def printed_text(entry: PublishedNumber) -> str:
    """The number as the paper prints it: its ``printed`` text, else the value in the kind's usual form."""
    if entry.printed is not None:
        return str(entry.printed).strip()
    if entry.kind in DEFAULT_DECIMALS:
        return f"{float(entry.value):.{DEFAULT_DECIMALS[entry.kind]}f}"
    return str(entry.value)


def _default_text() -> str:
    return resources.files("psmbook").joinpath("data").joinpath("published.yaml").read_text(encoding="utf-8")


def _parse_entry(raw: Any, position: int) -> PublishedNumber:
    if not isinstance(raw, dict):
        raise ValueError(f"published.yaml: entry {position} is not a mapping: {raw!r}")
    missing = [k for k in _REQUIRED if raw.get(k) is None]
    if missing:
        raise ValueError(f"published.yaml: entry {position} ({raw.get('id')!r}) lacks {', '.join(missing)}")
    unknown = set(raw) - set(_REQUIRED) - set(_OPTIONAL)
    if unknown:
        raise ValueError(f"published.yaml: entry {raw['id']!r} has unknown fields {sorted(unknown)}")
    kind = str(raw["kind"])
    if kind not in KINDS:
        raise ValueError(f"published.yaml: entry {raw['id']!r} has kind {kind!r}, not one of {sorted(KINDS)}")
    value = raw["value"]
    if isinstance(value, (_dt.date, _dt.datetime)):  # an unquoted date in the YAML
        value = value.isoformat()
    if kind == "date":
        value = str(value)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"published.yaml: entry {raw['id']!r} has a non-numeric value {value!r}")
    printed = raw.get("printed")
    note = raw.get("note")
    return PublishedNumber(
        id=str(raw["id"]),
        value=value,
        where=str(raw["where"]),
        kind=kind,
        printed=None if printed is None else str(printed),
        note=None if note is None else str(note),
    )


@lru_cache(maxsize=None)
def _load(path: Optional[str]) -> tuple[dict, dict[str, PublishedNumber]]:
    text = _default_text() if path is None else Path(path).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("numbers"), list):
        raise ValueError("published.yaml: expected a mapping with a list `numbers`")
    numbers: dict[str, PublishedNumber] = {}
    for position, raw in enumerate(doc["numbers"]):
        entry = _parse_entry(raw, position)
        if entry.id in numbers:
            raise ValueError(f"published.yaml: duplicate id {entry.id!r}")
        numbers[entry.id] = entry
    return dict(doc.get("source") or {}), numbers


def _key(path: PathLike) -> Optional[str]:
    return None if path is None else str(Path(path).resolve())


def load_published(path: PathLike = None) -> dict[str, PublishedNumber]:
    """All published numbers by id (the package's file unless `path` is given)."""
    return dict(_load(_key(path))[1])


def published_source(path: PathLike = None) -> dict:
    """The `source` block: title, citation, also_published_as."""
    return dict(_load(_key(path))[0])


def published_number(id: str, path: PathLike = None) -> PublishedNumber:
    """The entry of `id`; a KeyError names the id and suggests close ones."""
    numbers = _load(_key(path))[1]
    try:
        return numbers[id]
    except KeyError:
        close = difflib.get_close_matches(id, numbers.keys(), n=5, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown published id {id!r}{hint}") from None


def published_value(id: str, path: PathLike = None) -> Union[int, float, str]:
    """The value of `id` as printed (a percentage as 61.8; a date as an ISO string)."""
    return published_number(id, path).value


def published_where(id: str, path: PathLike = None) -> str:
    """Where the paper prints `id` (table or section, row and column)."""
    return published_number(id, path).where


def select(prefix: str, path: PathLike = None) -> dict[str, PublishedNumber]:
    """All entries whose id starts with `prefix` (e.g. ``"table1."``, ``"text.survival"``)."""
    return {k: v for k, v in _load(_key(path))[1].items() if k.startswith(prefix)}


def landmark_months(code: str) -> Optional[int]:
    """Months of a landmark as the published ids write it: "6m" -> 6, "3y" -> 36; None for another code."""
    m = re.fullmatch(r"(\d+)([my])", code)
    return int(m[1]) * {"m": 1, "y": 12}[m[2]] if m else None
