"""Each chapter's headline numbers, written to ``results/<chapter>.json`` for later chapters and tools.

Values are keyed by the ids of the published-numbers file (``psmbook/data/published.yaml``), so a
computed number and its published counterpart share one id.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from psmbook.present.privacy import public_parameters, public_values

RESULTS_DIR = Path("results")


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) else value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return value


def _count(key: str, value: Any) -> Any:
    """Counts (ids ending in ``.n``) are whole numbers: 29, not 29.0."""
    if key.endswith(".n") and isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value


def write_results(
    chapter: str,
    values: Mapping[str, Any],
    *,
    parameters: Mapping[str, Any] | None = None,
    results_dir: Path | str = RESULTS_DIR,
    min_cell: int = 0,
) -> Path:
    """Write a chapter's numbers as ``{"chapter", "parameters", "values": {id: value}}``, as its pages show
    them: counts from 1 to ``min_cell`` - 1 as "< min_cell" (:func:`psmbook.present.privacy.public_values`),
    the data and study files by name, not by their place on the user's machine."""
    folder = Path(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}.json"
    values = public_values({key: _count(key, value) for key, value in sorted(values.items())}, min_cell)
    shown = public_parameters(dict(parameters or {}))
    payload = {"chapter": chapter, "parameters": _plain(shown), "values": _plain(values)}
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    temporary.replace(path)
    return path


def read_results(chapter: str, results_dir: Path | str = RESULTS_DIR) -> dict[str, Any]:
    """The numbers an earlier chapter wrote; a clear error if that chapter has not run."""
    path = Path(results_dir) / f"{chapter}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the {chapter!r} chapter must run first")
    return json.loads(path.read_text())["values"]


def read_parameters(chapter: str, results_dir: Path | str = RESULTS_DIR) -> dict[str, Any]:
    """The parameters an earlier chapter ran with (as it wrote them with its results)."""
    path = Path(results_dir) / f"{chapter}.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the {chapter!r} chapter must run first")
    return json.loads(path.read_text())["parameters"]
