"""The whole book on a real file as it comes: ACTG 175 as shipped in lifelines (examples/actg175.yaml).

Four randomised arms reduced to two by an inclusion rule, adolescents left out by a second rule, a
coded status column: the book runs on the unedited file, counts every exclusion in both patient-flow
diagrams and computes its numbers from the patients the protocol keeps (checked here against pandas
and lifelines on the raw file).
"""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from lifelines.statistics import logrank_test

from psmbook.book import pipeline
from psmbook.cohort import reading

ROOT = Path(__file__).resolve().parents[1]
ACTG = ROOT / "examples" / "actg175.yaml"
ACTG_DATA = "pkg:lifelines/datasets/ACTG175.csv"


@pytest.fixture(scope="module")
def actg_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("actg175") / "book"
    pipeline.build({"data": ACTG_DATA, "study": str(ACTG)}, root=ROOT, out=out)
    raw = pd.read_csv(reading.resolve_data_path(ACTG_DATA))
    return out, raw


def _values(out: Path, chapter: str) -> dict:
    return json.loads((out / "results" / f"{chapter}.json").read_text())["values"]


def _expected_exclusions(raw: pd.DataFrame) -> list[int]:
    two_arms = raw[raw["arms"].isin([0, 1])]
    return [len(raw) - len(two_arms), int((two_arms["age"] < 18).sum())]


def test_every_exclusion_is_counted_rule_by_rule(actg_book):
    out, raw = actg_book
    third, adolescents = _expected_exclusions(raw)
    assert (third, adolescents) == (1085, 13)
    cohort = _values(out, "cohort")
    assert cohort["flow.screened.n"] == len(raw) == 2139
    assert cohort["flow.excluded"] == [
        f"Randomised to zidovudine + zalcitabine or to didanosine alone: {third}",
        f"Aged under 18: {adolescents}",
    ]
    kept = raw[raw["arms"].isin([0, 1]) & (raw["age"] >= 18)]
    assert cohort["table1.before.n.1"] == int((kept["arms"] == 1).sum()) == 515
    assert cohort["table1.before.n.0"] == int((kept["arms"] == 0).sum()) == 526
    page = _page_text(out, "01_cohort")
    assert f"left out {third + adolescents} of the {len(raw)} patients of the data file" in page


def _page_text(out: Path, page: str) -> str:
    """A page of the site as text: tags dropped, spaces collapsed."""
    text = re.sub(r"<[^>]+>", " ", (out / "_build" / "html" / f"{page}.html").read_text())
    return re.sub(r"\s+", " ", text)


def _figure_text(out: Path, chapter: str, needle: str) -> str:
    """The text of the chapter's downloadable figure (SVG) that holds ``needle``."""
    found = [svg.read_text() for svg in sorted((out / "_static" / "downloads").glob(f"{chapter}-figure-*.svg"))]
    found = [text for text in found if needle in text]
    assert len(found) == 1, f"{chapter}: {len(found)} figures hold {needle!r}"
    return found[0]


@pytest.mark.parametrize("chapter", ["cohort", "matching"])
def test_both_flow_diagrams_show_every_exclusion_with_its_count(actg_book, chapter):
    out, raw = actg_book
    third, adolescents = _expected_exclusions(raw)
    svg = _figure_text(out, chapter, "Excluded (n = ")
    for text in (
        f"n = {len(raw)}",
        f"Excluded (n = {third + adolescents})",
        "Randomised to zidovudine + zalcitabine or to",
        f"didanosine alone: {third}",
        f"Aged under 18: {adolescents}",
        f"n = {len(raw) - third - adolescents}",
    ):
        assert text in svg, text


def test_the_coded_status_reaches_the_survival_analysis(actg_book):
    out, raw = actg_book
    kept = raw[raw["arms"].isin([0, 1]) & (raw["age"] >= 18)]
    page = _page_text(out, "01_cohort")
    events = [int(((kept["arms"] == arm) & (kept["cens"] == 1)).sum()) for arm in (1, 0)]
    assert events == [102, 179]
    assert "How the events are coded" in page and f"cens = 1 {events[0]} {events[1]} the event" in page
    survival = _values(out, "survival")
    treated, control = kept[kept["arms"] == 1], kept[kept["arms"] == 0]
    test = logrank_test(treated["days"], control["days"], treated["cens"], control["cens"])
    assert survival["survival.efs.before.logrank_p"] == pytest.approx(test.p_value, rel=1e-6)
    assert 0.3 < survival["survival.efs.after.hr_robust"] < 0.8  # zidovudine + didanosine delayed the events


def test_the_skipped_chapters_and_the_study_are_named(actg_book):
    out, _ = actg_book
    intro = (out / "_build" / "html" / "intro.html").read_text()
    assert "ACTG 175" in intro and "not run (needs toxicity)" in intro
    study = (out / "data" / "study.yaml").read_text()
    assert study == ACTG.read_text()  # the later chapters read the description as written
