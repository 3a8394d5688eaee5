"""Tests of psmbook.book.chapter: a chapter's set-up, its declared inputs, and the shape of the chapters.

A chapter reads another chapter's output only through its :class:`Chapter`, which refuses what the
notebook metadata does not declare; the sources are checked for any other way in. The chapters show
what they teach: short cells, and most of their code in view.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from psmbook.book.chapter import (
    OUTPUTS,
    UndeclaredInputError,
    declared_reads,
    notebook_reads,
    outputs,
    setup_chapter,
)
from psmbook.book.results import write_results
from psmbook.study.description import copy_description
from psmbook.study.ids import frame_values

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
HIDDEN = {"hide-input", "remove-input", "remove-cell"}
MAX_CELL_LINES = 25


def _notebook(folder: Path, stem: str, reads: list[str]) -> Path:
    path = folder / f"{stem}.ipynb"
    path.write_text(json.dumps({"cells": [], "metadata": {"psmbook": {"reads": reads}}}))
    return path


@pytest.fixture
def book(tmp_path):
    """A book folder as the cohort and matching chapters leave it."""
    copy_description(None, tmp_path / "data" / "study.yaml")
    pd.DataFrame({"id": [1, 2]}).to_parquet(tmp_path / "data" / "cohort.parquet")
    pd.DataFrame({"id": [1]}).to_parquet(tmp_path / "data" / "matched.parquet")
    write_results("cohort", {"text.cohort.n": 2}, parameters={"min_cell": 5}, results_dir=tmp_path / "results")
    write_results("matching", {"matching.pairs": 1}, parameters={"caliper": 0.2}, results_dir=tmp_path / "results")
    return tmp_path


def test_declared_reads_come_from_the_notebook_metadata(book):
    _notebook(book, "04_survival", ["cohort", "matching"])
    assert notebook_reads("survival", book) == ["cohort", "matching"]
    assert declared_reads({"metadata": {}}) == []
    with pytest.raises(ValueError, match="must be a list of chapter names"):
        declared_reads({"metadata": {"psmbook": {"reads": "cohort"}}})
    with pytest.raises(FileNotFoundError, match=r"no notebook \[0-9\]\[0-9\]_toxicity.ipynb"):
        notebook_reads("toxicity", book)


def test_a_chapter_reads_what_it_declared(book):
    _notebook(book, "04_survival", ["cohort", "matching"])
    chapter = setup_chapter("survival", folder=book, seed=7, entry_p=0.05)
    assert chapter.study.paper and chapter.treated == "anlotinib" and chapter.arm == chapter.study.treatment.column
    assert len(chapter.cohort()) == 2 and len(chapter.matched()) == 1
    assert chapter.results("matching") == {"matching.pairs": 1}
    assert chapter.parameters_of("matching") == {"caliper": 0.2}
    assert chapter.min_cell == 0  # synthetic patients are nobody: no suppression
    chapter.write_results({"survival.x": 1.5})
    with pytest.raises(ValueError, match="does not declare data/x.parquet"):
        chapter.write_data(pd.DataFrame({"a": [1]}), "x.parquet")
    written = json.loads((book / "results" / "survival.json").read_text())
    assert written["parameters"] == {"seed": 7, "entry_p": 0.05} and written["values"] == {"survival.x": 1.5}


def test_an_undeclared_read_is_an_error(book):
    _notebook(book, "03_response", ["cohort"])
    chapter = setup_chapter("response", folder=book)
    with pytest.raises(UndeclaredInputError, match=r"reads data/matched.parquet, an output of the 'matching'"):
        chapter.matched()
    with pytest.raises(UndeclaredInputError, match="add 'matching' there"):
        chapter.results("matching")
    _notebook(book, "05_toxicity", [])
    with pytest.raises(UndeclaredInputError, match="reads data/study.yaml"):
        setup_chapter("toxicity", folder=book)


def test_outputs_of_each_chapter():
    assert "data/matched.parquet" in outputs("matching") and outputs("survival") == ("results/survival.json",)
    assert set(OUTPUTS) == {"cohort", "matching"}


def test_frame_values_names_each_number_by_prefix_keys_and_field():
    rows = pd.DataFrame(
        {"variable": ["sex", "sex"], "level": ["male", "female"], "n": [3, 4], "p": [0.5, float("nan")]}
    )
    assert frame_values(rows, "t1", keys=["variable", "level"], fields={"a.n": "n", "p": "p"}) == {
        "t1.sex.male.a.n": 3,
        "t1.sex.male.p": 0.5,
        "t1.sex.female.a.n": 4,
    }


# ---- the chapters themselves -------------------------------------------------------------------------

#: ways into another chapter's files that bypass the declared inputs
DIRECT_READS = re.compile(r"read_parquet\(|read_results\(|read_parameters\(|load_results\(|[\"']data/|[\"']results/")


def _code_cells(path: Path) -> list[tuple[int, list[str], str]]:
    nb = json.loads(path.read_text())
    return [
        (i, c.get("metadata", {}).get("tags", []), "".join(c["source"]))
        for i, c in enumerate(nb["cells"])
        if c["cell_type"] == "code"
    ]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_read_other_chapters_only_through_their_declared_inputs(path):
    direct = [
        f"cell {i}: {line.strip()}"
        for i, _, source in _code_cells(path)
        for line in source.splitlines()
        if DIRECT_READS.search(line)
    ]
    assert not direct, f"{path.name} reads files directly instead of through its Chapter:\n" + "\n".join(direct)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_cells_are_short(path):
    long = [(i, n) for i, _, source in _code_cells(path) if (n := len(source.splitlines())) > MAX_CELL_LINES]
    assert not long, f"{path.name}: cells over {MAX_CELL_LINES} lines (cell, lines): {long}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_most_of_a_chapters_code_is_shown(path):
    cells = [(tags, len(source.splitlines())) for _, tags, source in _code_cells(path) if "parameters" not in tags]
    total = sum(n for _, n in cells)
    hidden = sum(n for tags, n in cells if HIDDEN & set(tags))
    assert hidden < total / 3, f"{path.name}: {hidden} of {total} code lines are hidden from the reader"
