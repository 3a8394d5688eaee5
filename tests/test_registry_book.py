"""The whole book on a registry of 100,000 invented patients (examples/registry.py, described by
examples/registry.yaml) through data=/study=, as `make book PARAMS="data=... study=..."` runs it: every
chapter the description supports executes and the site builds with warnings as errors. Slow (marked
``book``); benchmarks/bench_scale.py times the same book at 10^4 to 10^6 patients."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from psmbook.book import pipeline
from scripts import load_script

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
N = 100_000


def registry_module():
    return load_script("examples/registry.py")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry")
    data = registry_module().write_registry(folder / "registry.parquet", N)
    started = time.perf_counter()
    pipeline.build(
        {"data": str(data), "study": str(ROOT / "examples" / "registry.yaml")}, root=ROOT, out=folder / "book"
    )
    return folder / "book", time.perf_counter() - started


def values(book_folder: Path, chapter: str) -> dict:
    return json.loads((book_folder / "results" / f"{chapter}.json").read_text())["values"]


def test_the_registry_file_is_the_same_for_the_same_seed_and_size(tmp_path):
    module = registry_module()
    first = module.write_registry(tmp_path / "a.parquet", 2_000, seed=5).read_bytes()
    assert module.write_registry(tmp_path / "b.parquet", 2_000, seed=5).read_bytes() == first
    assert module.write_registry(tmp_path / "c.parquet", 2_000, seed=6).read_bytes() != first
    cohort = module.registry_cohort(2_000, seed=5)
    assert (cohort["pfs_months"] <= cohort["os_months"]).all() and cohort["patient_id"].is_unique
    with pytest.raises(ValueError, match="n must be at least 100"):
        module.registry_cohort(10)


def test_every_chapter_runs_and_the_site_is_built(book):
    folder, seconds = book
    assert (folder / "_build" / "html" / "index.html").exists()
    for chapter in ("cohort", "matching", "response", "survival", "toxicity"):
        assert (folder / "_build" / "html" / f"{[p.stem for p in folder.glob(f'*_{chapter}.ipynb')][0]}.html").exists()
    print(f"the book on {N:,} registry patients took {seconds:.0f} s")


def test_the_match_and_the_adjusted_hazard_ratio_are_those_of_the_generating_model(book):
    folder, _ = book
    matching = values(folder, "matching")
    assert matching["table1.after.n.new"] == matching["table1.after.n.standard"] > 0.9 * 0.32 * N
    assert matching["matching.max_abs_smd_after"] < 0.1  # every row balanced at the book's threshold
    survival = values(folder, "survival")
    true_hr = math.exp(registry_module().TRUE_LOG_HR["os"])  # 0.75, conditional on the covariates
    prefix = "survival.cox.multivariable.therapy.new"
    assert survival[f"{prefix}.ci_low"] < true_hr < survival[f"{prefix}.ci_high"]
    assert survival[f"{prefix}.ci_high"] - survival[f"{prefix}.ci_low"] < 0.05  # 10^5 patients: a narrow CI


def test_the_psmpy_aside_runs_on_its_stated_sample(book):
    folder, _ = book
    page = next((folder / "_build" / "html").glob("*matching.html")).read_text()
    assert "simple random sample of 1,000 of the 100,000 patients" in page
