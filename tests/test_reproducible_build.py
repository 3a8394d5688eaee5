"""Identical inputs give a byte-identical site: every file of a second build from scratch equals the first."""

import json
import os
from pathlib import Path

import nbformat
import pytest

from psmbook.book import pipeline
from psmbook.book.provenance import build_time, provenance

ROOT = Path(__file__).resolve().parents[1]


def test_build_time_follows_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1748649600")
    assert build_time().isoformat() == "2025-05-31T00:00:00+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH='yesterday'"):
        build_time()
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert build_time().year >= 2025


def test_provenance_date_is_the_build_time(monkeypatch):
    from psmbook.study.description import load_study

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1748649600")
    assert provenance({}, study=load_study())["date"] == "2025-05-31 00:00 UTC"


def test_scrub_run_details_removes_clock_readings_and_folders_only(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {
        "start_time": "t0",
        "end_time": "t1",
        "duration": 1.5,
        "parameters": {"seed": 7},
        "input_path": "/home/someone/study/.build/stage-book/.sources/01_cohort.ipynb",
        "output_path": "/home/someone/study/.build/stage-book/01_cohort.ipynb",
    }
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.metadata["execution"] = {"iopub.status.busy": "t0"}
    cell.metadata["papermill"] = {"start_time": "t0", "end_time": "t1", "duration": 0.1, "status": "completed"}
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    progress = nbformat.v4.new_code_cell("run()")
    progress.metadata["tags"] = ["remove-stderr"]
    progress.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="reps: 1/40 [00:09<06:27, 9.94s/rep]"),
        nbformat.v4.new_output("stream", name="stdout", text="done"),
    ]
    nb.cells.append(progress)
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, str(path))
    pipeline.scrub_run_details(path)
    scrubbed = json.loads(path.read_text())
    assert scrubbed["metadata"]["papermill"] == {
        "parameters": {"seed": 7},
        "input_path": "01_cohort.ipynb",
        "output_path": "01_cohort.ipynb",
    }
    assert scrubbed["cells"][0]["metadata"] == {"papermill": {"status": "completed"}, "tags": ["parameters"]}
    assert [o["name"] for o in scrubbed["cells"][1]["outputs"]] == ["stdout"]


@pytest.mark.book
def test_a_second_build_from_scratch_is_byte_identical(built, tmp_path_factory):
    first, _ = built
    assert os.environ.get("SOURCE_DATE_EPOCH"), "the built fixture fixes the build time"
    second = tmp_path_factory.mktemp("again") / "book"
    pipeline.build({}, root=ROOT, out=second)
    site_a, site_b = first / "_build" / "html", second / "_build" / "html"
    files_a = sorted(p.relative_to(site_a) for p in site_a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(site_b) for p in site_b.rglob("*") if p.is_file())
    assert files_a == files_b
    differ = [str(name) for name in files_a if (site_a / name).read_bytes() != (site_b / name).read_bytes()]
    assert differ == [], f"files that differ between two builds of the same inputs: {differ}"
