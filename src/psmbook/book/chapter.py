"""What every chapter does first and last, in one tested place: its set-up and its declared inputs.

A chapter notebook opens with ``chapter = setup_chapter("survival", seed=seed, ...)``: the book's plot
style, the study description the cohort chapter left, the synthetic-data banner and the provenance
box. It reads what earlier chapters wrote only through the :class:`Chapter` it gets back
(``chapter.cohort()``, ``chapter.matched()``, ``chapter.results("matching")``), and only what its
notebook metadata declares under ``psmbook.reads``; the pipeline schedules the chapters from the same
declaration. Reading an undeclared input is an error, so the declaration cannot drift from the code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from psmbook.book.provenance import DATA_SOURCE, provenance_box
from psmbook.book.results import read_parameters, read_results, write_results
from psmbook.present import downloads, privacy
from psmbook.present.style import show_markdown, synthetic_banner, use_book_style
from psmbook.study.description import STUDY_IN_USE, Study, load_study

#: The files each chapter leaves for the later ones (paths relative to the book folder). A chapter not
#: listed leaves only ``results/<name>.json``.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "cohort": ("data/cohort.parquet", STUDY_IN_USE, "data/source.json", "results/cohort.json"),
    "matching": ("data/matched.parquet", "data/matched.csv", "results/matching.json"),
}
#: The notebook metadata key (under ``psmbook``) that lists the chapters whose outputs a chapter reads.
READS_KEY = "reads"


class UndeclaredInputError(RuntimeError):
    """A chapter read another chapter's output without declaring it in its notebook metadata."""


def check_declared(name: str, reads: tuple[str, ...] | list[str], chapter: str, what: str) -> None:
    """UndeclaredInputError unless chapter ``name`` declares that it reads chapter ``chapter``."""
    if chapter not in reads:
        raise UndeclaredInputError(
            f"chapter {name!r} reads {what}, an output of the {chapter!r} chapter, but its notebook "
            f"metadata declares psmbook.{READS_KEY} = {list(reads)}; add {chapter!r} there"
        )


def outputs(chapter: str) -> tuple[str, ...]:
    """The files chapter ``chapter`` leaves for the later ones."""
    return OUTPUTS.get(chapter, (f"results/{chapter}.json",))


def declared_reads(notebook: Mapping[str, Any]) -> list[str]:
    """The chapters a notebook (parsed JSON) declares it reads: ``metadata.psmbook.reads``."""
    reads = notebook.get("metadata", {}).get("psmbook", {}).get(READS_KEY, [])
    if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
        raise ValueError(f"notebook metadata psmbook.{READS_KEY} must be a list of chapter names, got {reads!r}")
    return list(reads)


def notebook_reads(name: str, folder: Path | str = ".") -> list[str]:
    """What chapter ``name`` declares it reads, from its notebook (``NN_<name>.ipynb``) in ``folder``.

    The kernel of a chapter runs in the book folder beside its notebook (as papermill writes it), so a
    chapter finds its own declaration there; in the sources folder the same holds.
    """
    found = sorted(Path(folder).glob(f"[0-9][0-9]_{name}.ipynb"))
    if not found:
        raise FileNotFoundError(
            f"chapter {name!r}: no notebook [0-9][0-9]_{name}.ipynb in {Path(folder).resolve()} "
            "to read its declared inputs from (run the chapter from the book folder)"
        )
    return declared_reads(json.loads(found[0].read_text()))


@dataclass
class Chapter:
    """One chapter's context: its study, arms, small-cell threshold and the inputs it declared."""

    name: str
    study: Study
    reads: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    min_cell: int = 0
    folder: Path = Path(".")

    @property
    def treated(self) -> str:
        return self.study.treatment.treated

    @property
    def control(self) -> str:
        return self.study.treatment.control

    @property
    def arm(self) -> str:
        """The treatment column."""
        return self.study.treatment.column

    def _require(self, chapter: str, what: str) -> None:
        check_declared(self.name, self.reads, chapter, what)

    def cohort(self) -> pd.DataFrame:
        """The patient-level cohort the cohort chapter wrote (``data/cohort.parquet``)."""
        self._require("cohort", "data/cohort.parquet")
        return pd.read_parquet(self.folder / "data" / "cohort.parquet")

    def matched(self) -> pd.DataFrame:
        """The matched cohort the matching chapter wrote (``data/matched.parquet``)."""
        self._require("matching", "data/matched.parquet")
        return pd.read_parquet(self.folder / "data" / "matched.parquet")

    def results(self, chapter: str) -> dict[str, Any]:
        """The numbers an earlier chapter wrote (``results/<chapter>.json``)."""
        self._require(chapter, f"results/{chapter}.json")
        return read_results(chapter, results_dir=self.folder / "results")

    def parameters_of(self, chapter: str) -> dict[str, Any]:
        """The parameters an earlier chapter ran with."""
        self._require(chapter, f"results/{chapter}.json")
        return read_parameters(chapter, results_dir=self.folder / "results")

    def write_results(self, values: Mapping[str, Any]) -> Path:
        """Write this chapter's numbers, with the parameters it ran with, to ``results/<name>.json``."""
        return write_results(
            self.name, values, parameters=self.parameters, results_dir=self.folder / "results", min_cell=self.min_cell
        )

    def write_data(self, frame: pd.DataFrame, file: str) -> Path:
        """Write a patient-level table this chapter leaves for the later ones (``data/<file>``, Parquet), or,
        as ``.csv``, for its page to link for download: synthetic patients only, real ones are never published."""
        path = f"data/{file}"
        if path not in outputs(self.name):
            raise ValueError(f"chapter {self.name!r} does not declare {path} among its outputs: {outputs(self.name)}")
        target = self.folder / path
        if target.suffix == ".csv" and not self.study.synthetic:
            raise ValueError(
                f"{path} is written for download from the site, and {self.study.name!r} is not synthetic: "
                "patient-level data stay in data/*.parquet, never published"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".csv":
            frame.to_csv(target, index=False, lineterminator="\n")
        else:
            frame.to_parquet(target, index=False)
        return target

    def data_file_name(self, data_file: Path | str | None = None) -> str | None:
        """The name of the data file the cohort was read from (``data_file``, or as the cohort chapter
        recorded it); None for a cohort generated from the seed."""
        if data_file is not None:
            return Path(data_file).name
        recorded = self.folder / DATA_SOURCE
        if self.name != "cohort" and "cohort" in self.reads and recorded.is_file():
            return json.loads(recorded.read_text())["name"]
        return None

    def banner(self, shown: Mapping[str, Any] | None = None, *, data_file: Path | str | None = None) -> None:
        """Show the synthetic-data banner and the provenance box (``shown``: the parameters to list; by
        default the chapter's, without the seed for real data, where it generates nothing and orders no
        random match)."""
        source = self.data_file_name(data_file)
        seed = None if source else self.parameters.get("seed")
        show_markdown(synthetic_banner(self.study, seed, source=source))
        if shown is None:
            unused = not self.study.synthetic and self.parameters.get("match_order") != "random"
            shown = {k: v for k, v in self.parameters.items() if not (k == "seed" and unused)}
        show_markdown(provenance_box(dict(shown), study=self.study, seed=seed, data_file=data_file))


def setup_chapter(
    name: str,
    *,
    description: Study | None = None,
    reads: list[str] | tuple[str, ...] | None = None,
    folder: Path | str = ".",
    **parameters: Any,
) -> Chapter:
    """Set up a chapter: the book's plot style, its study and declared inputs.

    ``description``: the study description to use (the cohort chapter passes the one it loads); otherwise the one
    the cohort chapter left in ``data/study.yaml``. ``reads``: the declared inputs (default: read from
    the chapter's notebook metadata). ``parameters``: the chapter's parameters, recorded with its results
    and listed in its provenance box. The small-cell threshold comes from the cohort chapter's
    ``min_cell`` (none for synthetic data).
    """
    use_book_style()
    folder = Path(folder)
    downloads.enable(name, folder)  # every figure (SVG, PDF) and table (CSV) shown from here on, linked below it
    reads = tuple(notebook_reads(name, folder) if reads is None else reads)
    if description is None:
        check_declared(name, reads, "cohort", STUDY_IN_USE)
        description = load_study(folder / STUDY_IN_USE)
    chapter = Chapter(name, study=description, reads=reads, parameters=dict(parameters), folder=folder)
    if name == "cohort":
        min_cell = parameters.get("min_cell", 0)
    elif "cohort" in reads:
        min_cell = chapter.parameters_of("cohort").get("min_cell", 0)
    else:
        min_cell = 0
    chapter.min_cell = privacy.effective_min_cell(chapter.study, int(min_cell or 0))
    return chapter
