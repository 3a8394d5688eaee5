"""Export the synthetic cohort, with its data dictionary, as CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from psmbook.cohort.synthetic import DEFAULT_SEED, data_dictionary, generate_cohort

FORMATS = {".csv": "CSV", ".parquet": "Parquet"}


def dictionary_path(out: Path) -> Path:
    """``cohort.parquet`` -> ``cohort.dictionary.csv`` beside it."""
    out = Path(out)
    return out.with_name(f"{out.stem}.dictionary.csv")


def _write(frame: pd.DataFrame, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    if path.suffix == ".parquet":
        frame.to_parquet(temporary, index=False)
    else:
        frame.to_csv(temporary, index=False)
    temporary.replace(path)


def export_cohort(out: Path | str, seed: int = DEFAULT_SEED) -> tuple[Path, Path]:
    """Write the synthetic cohort of ``seed`` to ``out`` (format by suffix) and its data dictionary."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"--out {out}: unknown format {out.suffix!r}; use one of {', '.join(FORMATS)}")
    if not out.parent.exists():
        raise FileNotFoundError(f"--out {out}: folder {out.parent} does not exist")
    cohort = generate_cohort(seed)
    _write(cohort, out)
    dictionary = dictionary_path(out)
    _write(data_dictionary(), dictionary)
    return out, dictionary
