"""The NCCTG lung cancer example (examples/lung_resample.py writes it, examples/lung.yaml describes it):
the file is deterministic, repeats the shipped patients under new ids, and passes the book's checks with
the complete-case exclusions pandas counts on the file as lifelines ships it. Issue 16's lung-cancer
scale cases (20,000 and 200,000 patients) are measured in benchmarks/SCALE.md; the 20,000 one is built
here too (marked ``book``)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from psmbook.book import pipeline
from psmbook.cohort import protocol, reading
from psmbook.study.description import load_study
from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "lung.yaml"
SHIPPED = "pkg:lifelines/datasets/lung.csv"


def lung_module():
    return load_script("examples/lung_resample.py")


def test_the_resample_repeats_shipped_patients_under_new_ids_the_same_for_the_same_seed(tmp_path):
    module, shipped = lung_module(), pd.read_csv(reading.resolve_data_path(SHIPPED))
    data = module.resampled_lung(5_000, seed=3)
    assert data["patient"].tolist() == list(range(1, 5_001))
    assert "ph_ecog" in data and "ph.ecog" not in data
    repeated = shipped.iloc[data["source_row"]].reset_index(drop=True)
    assert (data["time"] == repeated["time"]).all() and (data["status"] == repeated["status"]).all()
    assert data["source_row"].duplicated().any()  # drawn with replacement: patients repeat
    module.write(data, tmp_path / "a.csv")
    first = (tmp_path / "a.csv").read_bytes()
    module.write(module.resampled_lung(5_000, seed=3), tmp_path / "b.csv")
    module.write(module.resampled_lung(5_000, seed=4), tmp_path / "c.csv")
    assert (tmp_path / "b.csv").read_bytes() == first != (tmp_path / "c.csv").read_bytes()
    assert module.resampled_lung(0)["source_row"].tolist() == list(range(len(shipped)))
    with pytest.raises(ValueError, match="--out must end in .parquet or .csv"):
        module.write(data, tmp_path / "a.txt")


def test_the_description_reads_the_shipped_rows_with_pandas_complete_case_counts(tmp_path):
    path = tmp_path / "lung.csv"
    lung_module().write(lung_module().resampled_lung(0), path)
    loaded = protocol.load_cohort(str(path), load_study(str(STUDY)))
    shipped = pd.read_csv(reading.resolve_data_path(SHIPPED))
    complete = shipped.dropna(subset=["ph.ecog", "ph.karno", "wt.loss"])
    assert loaded.screening.screened == len(shipped) == 228
    assert len(loaded.cohort) == len(complete) == 213
    assert [e.n for e in loaded.screening.exclusions] == [1, 1, 13]  # in the order of the covariates
    assert loaded.cohort["os_event"].sum() == complete["status"].sum()  # status 1 = dead, 0 = censored
    assert (loaded.cohort["sex"] == "2").sum() == (complete["sex"] == 2).sum()


@pytest.mark.book
def test_the_whole_book_builds_on_20000_resampled_patients(tmp_path):
    data = tmp_path / "lung20k.parquet"
    lung_module().write(lung_module().resampled_lung(20_000), data)
    out = tmp_path / "book"
    pipeline.build({"data": str(data), "study": str(STUDY)}, root=ROOT, out=out)
    assert (out / "_build" / "html" / "index.html").exists()
    matching = json.loads((out / "results" / "matching.json").read_text())["values"]
    assert matching["table1.after.n.1"] == matching["table1.after.n.2"] > 5_000  # women matched to men
    page = next((out / "_build" / "html").glob("*matching.html")).read_text()
    assert "simple random sample of 1,000 of the" in page  # psmpy's aside on its stated sample, not all
