"""Real data in the paper's layout say nothing of a synthetic cohort where none is.

The README's recipe for the paper's own patients: export a cohort (``python -m psmbook cohort --seed 5
--out c5.csv``), copy the packaged description with ``synthetic: false`` and build with ``data=`` and
``study=``. The pages then compare with the paper but have no generator, calibration or truth to speak of:
the survival chapter's real-data wording replaces its synthetic one (cells tagged ``if-not-synthetic``),
and no chapter's prose says "synthetic", "generator" or "calibrated" except the audit's, whose generator
checks the paper's printed numbers whatever the data.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from psmbook.book import pipeline, tailoring
from psmbook.cohort.export import export_cohort
from psmbook.study.description import load_study

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC_WORDS = re.compile(r"synthetic|generator|generated|calibrat", re.IGNORECASE)


def _real_study_text() -> str:
    """The packaged description with synthetic: false and a name of the user's."""
    text = Path(str(resources.files("psmbook").joinpath("data", "study_synthetic.yaml"))).read_text(encoding="utf-8")
    assert text.count("\nsynthetic: true\n") == 1 and text.count("\nname: ") == 1
    text = text.replace("\nsynthetic: true\n", "\nsynthetic: false\n")
    return re.sub(r"\nname: [^\n]*\n", "\nname: The paper's patients\n", text)  # the name is the user's to give


def _markdown(stem: str, study) -> str:
    notebook = tailoring.tailor(json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text()), study)
    return "\n\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")


def test_the_tailored_survival_chapter_has_real_words_for_real_data(tmp_path):
    """Without a build: the markdown a real paper-layout study keeps, and the synthetic one's."""
    (tmp_path / "real_study.yaml").write_text(_real_study_text(), encoding="utf-8")
    real = load_study(tmp_path / "real_study.yaml")
    assert real.paper and not real.synthetic
    text = _markdown("04_survival", real)
    assert not SYNTHETIC_WORDS.search(text), SYNTHETIC_WORDS.search(text)
    assert "## Which hazard ratio? Conditional and marginal" in text and "need not be the pairs" in text
    synthetic = _markdown("04_survival", load_study())
    assert len(SYNTHETIC_WORDS.findall(synthetic)) >= 8  # the synthetic book keeps its words
    assert "need not be the pairs" not in synthetic and "Conditional, marginal and the truth" in synthetic
    for stem in ("01_cohort", "02_matching", "03_response", "05_toxicity"):
        assert not SYNTHETIC_WORDS.search(_markdown(stem, real)), stem


@pytest.fixture(scope="module")
def real_book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paper_layout")
    data, _ = export_cohort(folder / "c5.csv", seed=5)
    study = folder / "real_study.yaml"
    study.write_text(_real_study_text(), encoding="utf-8")
    out = folder / "book"
    values = {"seed": "5", "data": str(data), "study": str(study), "min_cell": "0"}  # words, not disclosure
    pipeline.build(values, root=ROOT, out=out)
    return out


def _prose(book: Path, stem: str, tables: bool = True) -> str:
    """A page's main text without its code (code may well test `study.synthetic`), and without its tables
    unless `tables`; typographic apostrophes as typed."""
    soup = BeautifulSoup((book / "_build" / "html" / f"{stem}.html").read_text(), "html.parser")
    main = soup.find("main")
    for code in main.select("div.cell_input, div.highlight, pre" + ("" if tables else ", table")):
        code.decompose()
    return re.sub(r"\s+", " ", main.get_text(" ")).replace("\u2019", "'")


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.;:])\s", text) if SYNTHETIC_WORDS.search(s)]


@pytest.mark.book
def test_the_survival_page_has_no_synthetic_wording(real_book):
    prose = _prose(real_book, "04_survival")
    assert _sentences(prose) == []
    # the real-data variants are there instead
    assert "Which hazard ratio? Conditional and marginal" in prose
    assert "With a real cohort the true effect is unknown" in prose
    assert "In this cohort" in prose and "longer median" in prose
    assert re.search(r"\d+ of the paper's \d+ event counts are reproduced\.", prose)
    assert "need not be the pairs the paper's matching selected" in prose
    assert "Kaplan–Meier curves (Figure 1)" in prose  # the paper's comparisons still run


@pytest.mark.book
@pytest.mark.parametrize("stem", ["01_cohort", "02_matching", "03_response", "05_toxicity"])
def test_no_other_chapter_speaks_of_a_synthetic_cohort(real_book, stem):
    assert _sentences(_prose(real_book, stem)) == []


@pytest.mark.book
def test_the_discussion_names_the_generator_only_as_the_papers_auditor(real_book):
    """Its audit runs the generator on the paper's printed numbers whatever the data: that is true. (Its
    number-by-number table still has a column `calibrated`, all false for real data: not prose.)"""
    found = _sentences(_prose(real_book, "06_discussion", tables=False))
    assert len(found) == 2, found
    assert found[0] == "The data are not synthetic, so no agreement is built in:"
    assert found[1].startswith("the synthetic generator, asked for every printed number at once, shows that no")
