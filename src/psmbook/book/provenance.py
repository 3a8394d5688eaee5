"""Where a chapter's numbers come from: parameters, data source, package versions, commit, date."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping

#: the packages whose versions decide the numbers
PACKAGES = ("psmbook", "numpy", "pandas", "scipy", "statsmodels", "lifelines", "psmpy", "matplotlib",
            "papermill", "jupyter-book")


def file_sha256(path: Path | str) -> str:
    """SHA-256 of a data file, to identify exactly which data a chapter ran on."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_commit(start: Path | None = None) -> str:
    """The commit of the book's source (with "+ local changes" when the tree is dirty)."""
    here = Path(start or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + (" + local changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"


def versions(packages=PACKAGES) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


#: Where the cohort chapter records the data file it read (name and hash), for the later chapters.
DATA_SOURCE = "data/source.json"


def record_data_source(data_file: Path | str) -> None:
    """Record the name and sha256 of the data file (in ``data/source.json``)."""
    Path(DATA_SOURCE).parent.mkdir(parents=True, exist_ok=True)
    Path(DATA_SOURCE).write_text(json.dumps({"name": Path(data_file).name, "sha256": file_sha256(data_file)}))


def provenance(parameters: Mapping[str, Any], *, study, seed: int | None = None,
               data_file: Path | str | None = None) -> dict[str, Any]:
    """Everything a reader needs to reproduce a chapter's numbers. The data are the file the cohort was
    read from (given, or recorded by the cohort chapter), said to be synthetic when the study is (an
    exported synthetic cohort read back), or else the synthetic cohort of ``seed``."""
    if data_file is not None:
        source = f"{Path(data_file).name} (sha256 {file_sha256(data_file)[:16]}…)"
    elif Path(DATA_SOURCE).is_file():
        recorded = json.loads(Path(DATA_SOURCE).read_text())
        source = f"{recorded['name']} (sha256 {recorded['sha256'][:16]}…)"
    elif study.synthetic:
        source = f"synthetic cohort, seed {seed}" if seed is not None else "synthetic cohort"
    else:
        source = "real cohort (file not recorded)"
    if study.synthetic and (data_file is not None or Path(DATA_SOURCE).is_file()):
        source += ", a synthetic cohort"
    return {"parameters": dict(parameters), "data": source, "study": study.name,
            "versions": versions(), "commit": git_commit(),
            "date": build_time().strftime("%Y-%m-%d %H:%M UTC")}


def build_time() -> datetime:
    """When the chapter ran: ``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) when set, as reproducible
    builds do, so that identical inputs give a byte-identical site; otherwise now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return datetime.now(timezone.utc)
    try:
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of seconds since 1970") from None


def provenance_box(parameters: Mapping[str, Any], *, study, seed: int | None = None,
                   data_file: Path | str | None = None) -> str:
    """A collapsed MyST admonition with the chapter's provenance."""
    info = provenance(parameters, study=study, seed=seed, data_file=data_file)
    shown = ", ".join(f"`{k} = {v!r}`" for k, v in info["parameters"].items()) or "none"
    packages = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return ("::::{admonition} Provenance of this page\n:class: dropdown note\n"
            f"- **Parameters:** {shown}\n"
            f"- **Data:** {info['data']}\n"
            f"- **Study description:** {info['study']}\n"
            f"- **Code:** commit {info['commit']}\n"
            f"- **Packages:** {packages}\n"
            f"- **Executed:** {info['date']}\n::::")
