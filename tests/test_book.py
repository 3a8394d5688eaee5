"""The whole book: every chapter executed by papermill, the site built with warnings as errors."""

import html
import json
import re
from pathlib import Path

import pytest

from psmbook.book import pipeline
from psmbook.book.parameters import ParameterError

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [
    "01_cohort",
    "02_matching",
    "03_response",
    "04_survival",
    "05_toxicity",
    "06_discussion",
    "07_lab",
]

pytestmark = pytest.mark.book


def page_text(path: Path) -> str:
    """A page as a reader sees its text: tags removed, entities decoded, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", "", path.read_text())
    return re.sub(r"\s+", " ", html.unescape(text))


def test_site_has_every_page(built):
    out, index = built
    assert index.is_file()
    html = out / "_build" / "html"
    for page in ["intro", *CHAPTERS]:
        assert (html / f"{page}.html").is_file(), page


def test_executed_notebooks_and_results_land_in_the_book(built):
    out, _ = built
    for chapter in CHAPTERS:
        assert (out / f"{chapter}.ipynb").is_file()
        name = chapter.split("_", 1)[1]
        payload = json.loads((out / "results" / f"{name}.json").read_text())
        assert payload["chapter"] == name


def test_synthetic_data_are_announced_on_every_page(built):
    out, _ = built
    for page in ["intro", *CHAPTERS]:
        text = (out / "_build" / "html" / f"{page}.html").read_text()
        assert "synthetic cohort" in text, page


def test_bad_parameter_leaves_the_last_good_book_untouched(built):
    out, index = built
    before = index.stat().st_mtime_ns
    with pytest.raises(ParameterError):
        pipeline.build({"seed": "-1"}, root=ROOT, out=out)
    assert index.stat().st_mtime_ns == before


def test_cohort_chapter_results_hold_the_calibrated_counts_and_p_values(built):
    out, _ = built
    values = json.loads((out / "results" / "cohort.json").read_text())["values"]
    assert values["table1.before.n.anlotinib"] == 76 and values["table1.before.n.crt"] == 215
    assert values["table1.before.age_group.lt65.anlotinib.n"] == 47
    assert round(values["table1.before.age_group.p"], 3) == 0.026
    # the paper's one test rule (Pearson's χ² on all levels) gives 0.855; the paper prints 0.689 (see the audit)
    assert round(values["table1.before.previous_treatment.p"], 3) == 0.855
    assert values["text.survival.os.before.events.crt.n"] == 188


def test_cohort_page_shows_glued_numbers_not_placeholders(built):
    out, _ = built
    text = page_text(out / "_build" / "html" / "01_cohort.html")
    assert "The cohort holds 291 patients: 76 received CRT plus anlotinib and 215 CRT alone" in text
    assert "p = 0.026" in text and "'0.026'" not in text


def test_matching_chapter_writes_the_matched_cohort_and_table1_after(built):
    import pandas as pd

    out, _ = built
    values = json.loads((out / "results" / "matching.json").read_text())["values"]
    assert values["table1.after.n.anlotinib"] == 68 and values["table1.after.n.crt"] == 68
    matched = pd.read_parquet(out / "data" / "matched.parquet")
    assert len(matched) == 136 and matched["pair"].nunique() == 68
    text = page_text(out / "_build" / "html" / "02_matching.html")
    assert "kept 68 of the 76 treated patients" in text


def test_matching_page_links_the_matched_data_and_shows_balance_as_matchit_and_cobalt(built):
    import pandas as pd

    out, _ = built
    site = out / "_build" / "html"
    page = (site / "02_matching.html").read_text()
    links = re.findall(r'href="(_downloads/[0-9a-f]+/matched\.csv)"', page)
    assert len(links) == 1  # the synthetic cohort's matched data, as match.data() gives them
    published = pd.read_csv(site / links[0])
    assert len(published) == 136 and published["subclass"].nunique() == 68
    assert list(published.columns[-4:]) == ["distance", "logit_distance", "subclass", "weights"]
    text = page_text(site / "02_matching.html")
    assert "given the distances as a matrix rather than the score" in text
    for shown in ("M.Threshold", "Not Balanced, >0.1", "Mean differences: not balanced, >0.1", "eCDF Max"):
        assert shown in text
    assert "the convention of cobalt" not in text


def test_later_chapters_write_their_headline_numbers(built):
    out, _ = built

    def read(chapter):
        return json.loads((out / "results" / f"{chapter}.json").read_text())["values"]

    response, survival, toxicity, discussion = (read(c) for c in ("response", "survival", "toxicity", "discussion"))
    assert response["table2.before.pr.anlotinib.n"] == 43 and round(response["table2.before.pd.p"], 3) == 0.077
    assert survival["text.survival.os.before.events.anlotinib.n"] == 58
    assert 0 < survival["table3.univariate.arm.anlotinib.hr"] < 1
    assert toxicity["table4.leukopenia.anlotinib.n"] == 18 and round(toxicity["table4.pneumonitis.p"], 3) == 0.922
    assert discussion["discussion.audit.inconsistent"] >= 10
    assert discussion["discussion.compared.n"] > 300


def test_no_chapter_is_a_stub_and_every_page_is_labelled_synthetic(built):
    out, _ = built
    for chapter in CHAPTERS:
        text = page_text(out / "_build" / "html" / f"{chapter}.html")
        assert "Coming next" not in text, chapter
        assert "Every patient-level number on this page comes from the synthetic cohort" in text, chapter


def test_changing_one_parameter_re_executes_only_the_chapters_it_affects(built, tmp_path, capsys):
    import shutil

    out = tmp_path / "book"
    shutil.copytree(built[0], out)
    capsys.readouterr()
    pipeline.build({"calipers": "0.1,0.3"}, root=ROOT, out=out)
    printed = capsys.readouterr().out
    for chapter in ["cohort", "matching", "response", "survival", "toxicity"]:
        assert re.search(rf"{chapter}\s+unchanged: reused", printed), chapter
    assert re.search(r"discussion\s+done in", printed)
    assert json.loads((out / "results" / "discussion.json").read_text())["parameters"]["calipers"] == [
        0.1,
        0.3,
    ]
    assert (out / "data" / "matched.parquet").is_file()  # files of reused chapters come along
