"""Reading a cohort's data file: CSV, TSV or Parquet, from a path or from inside an installed package
(``pkg:<package>/<file>``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Union

import pandas as pd

from psmbook.cohort.validation import DataError

#: Prefix of a data path naming a file shipped inside an installed package (``pkg:lifelines/datasets/x.csv``).
PACKAGE_PREFIX = "pkg:"

#: Data file suffixes read as delimited text, with their separator.
CSV_SUFFIXES: dict[str, str] = {
    ".csv": ",",
    ".csv.gz": ",",
    ".tsv": "\t",
    ".tsv.gz": "\t",
    ".tab": "\t",
    ".tab.gz": "\t",
}
#: Data file suffixes read as Parquet.
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (*CSV_SUFFIXES, *PARQUET_SUFFIXES):
        if name.endswith(suffix):
            return suffix
    return "".join(path.suffixes[-2:]).lower() or "(none)"


def resolve_data_path(text: Union[str, Path]) -> Path:
    """The file a data path names: a file system path, or ``pkg:<package>/<path inside it>`` for a file
    shipped inside an installed package. FileNotFoundError naming the path when there is no such file."""
    text = str(text).strip()
    if text.startswith(PACKAGE_PREFIX):
        package, _, inside = text[len(PACKAGE_PREFIX) :].strip("/").partition("/")
        if not package or not inside:
            raise FileNotFoundError(
                f"data path {text!r}: expected {PACKAGE_PREFIX}<package>/<path inside "
                f"the package>, e.g. {PACKAGE_PREFIX}lifelines/datasets/lymph_node.csv"
            )
        try:
            root = resources.files(package)
        except (ModuleNotFoundError, TypeError, ValueError):
            raise FileNotFoundError(f"data path {text!r}: no installed package {package!r}") from None
        ref = root.joinpath(*Path(inside).parts)
        if not isinstance(ref, Path):  # e.g. a package imported from a zip archive
            raise FileNotFoundError(
                f"data path {text!r}: package {package!r} is not installed as files "
                "on disk; copy the file out and give its path"
            )
        if not ref.is_file():
            raise FileNotFoundError(f"data path {text!r}: no file {inside!r} in package {package!r} (looked for {ref})")
        return ref
    path = Path(text).expanduser()
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise FileNotFoundError(f"data file {what}: {path}")
    return path


def read_data(path: Union[str, Path]) -> pd.DataFrame:
    """Read a patient-level data file by its suffix: CSV (``.csv``, ``.csv.gz``; ``.tsv``/``.tab``
    tab-separated) or Parquet (``.parquet``, ``.pq``); ``pkg:<package>/<path>`` names a packaged file.

    FileNotFoundError for a missing file or package, DataError for an unknown suffix or a file that
    cannot be read. The frame's ``attrs["source"]`` keeps the path for later messages.
    """
    source = str(path)
    file = resolve_data_path(path)
    suffix = _suffix(file)
    if suffix not in CSV_SUFFIXES and suffix not in PARQUET_SUFFIXES:
        known = ", ".join([*CSV_SUFFIXES, *PARQUET_SUFFIXES])
        raise DataError([f"unknown file type {suffix!r}; expected one of {known}"], source=source)
    try:
        if suffix in CSV_SUFFIXES:
            data = pd.read_csv(file, sep=CSV_SUFFIXES[suffix])
        else:
            data = pd.read_parquet(file)
    except (ValueError, OSError, ImportError) as exc:
        kind = "Parquet" if suffix in PARQUET_SUFFIXES else "delimited text"
        raise DataError([f"cannot be read as {kind}: {type(exc).__name__}: {exc}"], source=source) from exc
    data.attrs["source"] = source
    return data
