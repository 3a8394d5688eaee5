"""Round trip: a cohort the book exports runs back through it as data, with the packaged description, and
gives the same results as the synthetic run of its seed, from CSV and from Parquet; the paper's own
patients in the paper's layout run with a copy of that description that says ``synthetic: false``.

Each build goes into a temporary folder. The documented differences, and only those: the cohort
chapter's parameters name the data file and the study description; the pages name the file the cohort
was read from instead of the seed.
"""

from __future__ import annotations

import json
import os
import re
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from psmbook.book import pipeline
from psmbook.cohort.export import export_cohort

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
SEED = 5
#: The lab's simulation study at its smallest, the same in every build (its cohorts come from the seed).
COMMON = {"seed": str(SEED), "repetitions": "2"}
#: The discussion's tally of the numbers compared with the paper: the synthetic cohort's also counts the
#: calibration targets the cohort chapter checked, and which of them were calibrated (real data: none).
TALLY = "discussion.compared."
#: The strict comparison's tally, by class: the synthetic cohort's numbers are calibrated, fixed by the counts
#: or produced; real data's are all computed from the data.
STRICT = "discussion.strict."


def _packaged_study() -> Path:
    return Path(str(resources.files("psmbook").joinpath("data", "study_synthetic.yaml")))


def _results(book: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((book / "results").glob("*.json"))}


def _page(book: Path, stem: str) -> str:
    return (book / "_build" / "html" / f"{stem}.html").read_text()


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """The synthetic book of SEED and the books of its exported cohort, read from CSV and from Parquet."""
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1748649600")
    folder = tmp_path_factory.mktemp("round_trip")
    built = {"synthetic": folder / "synthetic"}
    pipeline.build(COMMON, root=ROOT, out=built["synthetic"])
    for kind in ("csv", "parquet"):
        data, _ = export_cohort(folder / f"cohort_{SEED}.{kind}", seed=SEED)
        built[kind] = folder / kind
        pipeline.build({**COMMON, "data": str(data), "study": str(_packaged_study())}, root=ROOT, out=built[kind])
    return folder, built


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_an_exported_cohort_gives_the_synthetic_runs_results(books, kind):
    _, built = books
    synthetic, read = _results(built["synthetic"]), _results(built[kind])
    assert (
        list(read) == list(synthetic) == ["cohort", "discussion", "lab", "matching", "response", "survival", "toxicity"]
    )
    for chapter, expected in synthetic.items():
        got = read[chapter]
        assert got["values"] == expected["values"], chapter  # every value, exactly
        assert len(expected["values"]) > 10, chapter
        parameters = dict(got["parameters"])
        if chapter == "cohort":  # the documented difference: where the cohort came from
            assert Path(parameters.pop("data")).name == f"cohort_{SEED}.{kind}"
            assert Path(parameters.pop("study")).name == "study_synthetic.yaml"
            expected = {
                **expected,
                "parameters": {k: v for k, v in expected["parameters"].items() if k not in ("data", "study")},
            }
        assert parameters == expected["parameters"], chapter
    cohort = pd.read_parquet(built[kind] / "data" / "cohort.parquet")
    generated = pd.read_parquet(built["synthetic"] / "data" / "cohort.parquet")
    # the data the chapters read: the described columns of the generated cohort, equal to the bit
    assert set(cohort.columns) < set(generated.columns) and len(cohort.columns) > 50
    pd.testing.assert_frame_equal(cohort, generated[cohort.columns], check_exact=True)


def test_the_pages_say_where_the_cohort_came_from(books):
    _, built = books
    for stem in ("01_cohort", "04_survival"):
        assert "synthetic cohort</strong> (seed 5)" in _page(built["synthetic"], stem)
        page = _page(built["csv"], stem)
        assert f'(read from <code class="docutils literal notranslate"><span class="pre">cohort_{SEED}.csv' in page
        assert f"cohort_{SEED}.csv (sha256 " in page and ", a synthetic cohort" in page


def test_the_papers_cohort_in_the_papers_layout_runs_as_real_data(books):
    """A copy of the packaged description with synthetic: false: the paper's comparisons, none of the
    synthetic cohort's truth; without suppression (min_cell=0), the same numbers as the synthetic run."""
    folder, built = books
    study = folder / "real_study.yaml"
    text = _packaged_study().read_text(encoding="utf-8")
    assert text.count("\nsynthetic: true\n") == 1
    study.write_text(text.replace("\nsynthetic: true\n", "\nsynthetic: false\n"), encoding="utf-8")
    out = folder / "real"
    data = folder / f"cohort_{SEED}.csv"
    pipeline.build({**COMMON, "data": str(data), "study": str(study), "min_cell": "0"}, root=ROOT, out=out)
    real, synthetic = _results(out), _results(built["synthetic"])
    assert list(real) == ["cohort", "discussion", "matching", "response", "survival", "toxicity"]  # no lab
    for chapter, got in real.items():
        expected = synthetic[chapter]["values"]
        shared = {k: v for k, v in got["values"].items() if not k.startswith((TALLY, STRICT))}
        assert shared == {k: expected[k] for k in shared}, chapter  # the truth's values are the synthetic's alone
        assert len(shared) > 10, chapter
    assert not any(k.startswith("survival.true_hr.") for k in real["survival"]["values"])
    assert any(k.startswith("survival.true_hr.") for k in synthetic["survival"]["values"])
    tally = real["discussion"]["values"]
    assert tally[f"{TALLY}not_calibrated.n"] == tally[f"{TALLY}n"] > 500  # nothing is calibrated in real data
    classes = {k.rsplit(".", 2)[1] for k in tally if k.startswith(STRICT) and k.count(".") == 3}
    assert classes == {"computed"} and tally[f"{STRICT}computed.n"] == tally[f"{STRICT}n"]  # one class: the data
    cohort_page = _page(out, "01_cohort")
    assert "Synthetic data" not in cohort_page and "Calibration evidence" not in cohort_page
    assert "Recurrence and treatment" in cohort_page  # the paper's facts, from other_columns
    assert "was not run for" in _page(out, "07_lab")
    for stem in ("01_cohort", "02_matching", "03_response", "06_discussion"):
        text = _page(out, stem).split("<main", 1)[-1]
        # true of any data: the audit's findings by construction are about the paper's printed numbers
        text = re.sub(r"the synthetic generator,\s+asked for every printed\s+number at once", "", text)
        assert "synthetic cohort was" not in text and "synthetic patients" not in text and "generator" not in text, stem
