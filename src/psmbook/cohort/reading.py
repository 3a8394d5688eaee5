"""Reading a cohort's data file: CSV, TSV or Parquet, from a path or from inside an installed package
(``pkg:<package>/<file>``), with the encoding, delimiter and decimal mark the study description declares
(``file``) or the file shows."""

from __future__ import annotations

import gzip
import io
import re
from importlib import resources
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from psmbook.cohort.validation import DataError
from psmbook.study.protocol import FileFormat

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


def read_data(path: Union[str, Path], options: Optional[FileFormat] = None) -> pd.DataFrame:
    """Read a patient-level data file by its suffix: CSV (``.csv``, ``.csv.gz``; ``.tsv``/``.tab``
    tab-separated) or Parquet (``.parquet``, ``.pq``); ``pkg:<package>/<path>`` names a packaged file.

    ``options`` (the study description's ``file`` section) declares a text file's encoding, delimiter,
    decimal mark and extra missing-value texts. Undeclared, the text must be UTF-8 (an error names the
    byte, the line and the ``file.encoding`` that reads it), the delimiter is the suffix's unless the
    header line shows another one (``;``, tab, ``|``), and a semicolon file with decimal commas is read
    with them. FileNotFoundError for a missing file or package, DataError for an unknown suffix or a
    file that cannot be read. ``attrs["source"]`` keeps the path for later messages, ``attrs["reading"]``
    says how a text file was read.
    """
    source = str(path)
    file = resolve_data_path(path)
    suffix = _suffix(file)
    options = options or FileFormat()
    if suffix not in CSV_SUFFIXES and suffix not in PARQUET_SUFFIXES:
        known = ", ".join([*CSV_SUFFIXES, *PARQUET_SUFFIXES])
        raise DataError([f"unknown file type {suffix!r}; expected one of {known}"], source=source)
    if suffix in PARQUET_SUFFIXES and options.declared:
        raise DataError(
            [f"file.{', file.'.join(options.declared)} in the study description apply to text files; this is Parquet"],
            source=source,
        )
    try:
        if suffix in CSV_SUFFIXES:
            data, how = _read_text(file, suffix, options, source)
        else:
            data, how = pd.read_parquet(file), "Parquet"
    except (ValueError, OSError, ImportError) as exc:
        if isinstance(exc, DataError):
            raise
        kind = "Parquet" if suffix in PARQUET_SUFFIXES else "delimited text"
        raise DataError([f"cannot be read as {kind}: {type(exc).__name__}: {exc}"], source=source) from exc
    data.attrs["source"] = source
    data.attrs["reading"] = how
    return data


# ----------------------------------------------------------------------------------------------------
# Text files: encoding, delimiter, decimal mark

#: Delimiters looked for in the header line when the suffix's one is not there, with their names.
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
#: How the description writes a delimiter (``tab`` for a tab).
_WRITTEN = {",": ",", ";": ";", "\t": "tab", "|": "|"}


def _decode(raw: bytes, options: FileFormat, source: str) -> tuple[str, str]:
    """The file's text and the encoding it was read with; DataError naming the byte, its line and the
    ``file.encoding`` that reads it."""
    encoding = options.encoding or "utf-8-sig"
    try:
        return raw.decode(encoding), (options.encoding or "UTF-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - raw.rfind(b"\n", 0, exc.start)
        where = f"byte 0x{raw[exc.start]:02x} on line {line}, character {column}"  # not the line: it holds data
        if options.encoding:
            hint = "check file.encoding in the study description (e.g. utf-8, latin-1, cp1252)"
        else:
            suggestion = "cp1252" if any(0x80 <= b <= 0x9F for b in raw) and _decodes(raw, "cp1252") else "latin-1"
            character = raw[exc.start : exc.start + 1].decode(suggestion)
            option = f"`file: {{encoding: {suggestion}}}`"
            hint = f"the file is not UTF-8 but reads as {suggestion} ({character!r} there): add {option} "
            hint += "to the study description, or save the file as UTF-8"
        raise DataError(
            [f"cannot be read as {'UTF-8' if not options.encoding else options.encoding} text: {where}; {hint}"],
            source=source,
        ) from None


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _header_delimiters(text: str) -> list[str]:
    """The candidate delimiters found in the first non-empty line, outside quotes."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    outside = re.sub(r'"[^"]*"', "", header)
    return [d for d in DELIMITER_NAMES if d in outside]


def _delimiter(text: str, suffix: str, options: FileFormat, source: str) -> tuple[str, str]:
    """The delimiter: declared, the suffix's, or the only other one in the header line."""
    if options.delimiter:
        return options.delimiter, f"{DELIMITER_NAMES[options.delimiter]}-separated (declared)"
    default = CSV_SUFFIXES[suffix]
    found = _header_delimiters(text)
    if default in found or not found:
        return default, f"{DELIMITER_NAMES[default]}-separated"
    if len(found) == 1:
        return found[0], f"{DELIMITER_NAMES[found[0]]}-separated (detected from the header line)"
    named = " and ".join(f"{DELIMITER_NAMES[d]}s" for d in found)
    raise DataError(
        [
            f"the header line holds {named} but no {DELIMITER_NAMES[default]}, so the delimiter is unclear; add "
            f'`file: {{delimiter: "{_WRITTEN[found[0]]}"}}` (or the right one) to the study description'
        ],
        source=source,
    )


def _decimal(text: str, delimiter: str, options: FileFormat) -> tuple[str, str]:
    """The decimal mark: declared, or a comma in a semicolon file whose numbers are written 1,5."""
    if options.decimal:
        return options.decimal, f"decimal {options.decimal!r} (declared)"
    if (
        delimiter == ";"
        and re.search(r"(^|;)\s*-?\d+,\d+\s*(;|$)", text, re.M)
        and not re.search(r"(^|;)\s*-?\d+\.\d+\s*(;|$)", text, re.M)
    ):
        return ",", "decimal comma (detected)"
    return ".", ""


def _read_text(file: Path, suffix: str, options: FileFormat, source: str) -> tuple[pd.DataFrame, str]:
    raw = file.read_bytes()
    if suffix.endswith(".gz"):
        raw = gzip.decompress(raw)
    text, encoding = _decode(raw, options, source)
    delimiter, delimiter_text = _delimiter(text, suffix, options, source)
    decimal, decimal_text = _decimal(text, delimiter, options)
    try:
        data = pd.read_csv(
            io.StringIO(text), sep=delimiter, decimal=decimal, na_values=list(options.missing_values) or None
        )
    except pd.errors.ParserError as exc:
        raise DataError(
            [
                f"cannot be read as {delimiter_text} text: {exc}; if the file uses another delimiter, declare it "
                'in the study description (`file: {delimiter: ";"}`; `tab` for a tab)'
            ],
            source=source,
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError([f"cannot be read as delimited text: {exc}"], source=source) from exc
    how = ", ".join(p for p in (f"{encoding} text", delimiter_text, decimal_text) if p)
    return data, how
