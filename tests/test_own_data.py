"""The book on a real cohort: the public GBSG2 data shipped in lifelines, bad inputs, privacy.

Every bad input stops the build with a message naming what is wrong, and the last good book stays as
it was; the book of a real cohort shows no patient-level value that identifies anyone.
"""

from pathlib import Path

import pandas as pd
import pytest

from psmbook.book import pipeline
from psmbook.book.parameters import ParameterError
from psmbook.cohort import reading, validation

ROOT = Path(__file__).resolve().parents[1]
GBSG = ROOT / "examples" / "gbsg2_lymph_node.yaml"
GBSG_DATA = "pkg:lifelines/datasets/lymph_node.csv"


def _lymph_node() -> pd.DataFrame:
    return pd.read_csv(reading.resolve_data_path(GBSG_DATA))


@pytest.fixture(scope="module")
def gbsg_book(tmp_path_factory):
    """The whole book built from the public dataset, as the README tells a user to."""
    out = tmp_path_factory.mktemp("gbsg") / "book"
    index = pipeline.build({"data": GBSG_DATA, "study": str(GBSG)}, root=ROOT, out=out)
    return out, index


def test_public_dataset_book_builds_runs_what_it_can_and_says_what_it_skipped(gbsg_book):
    out, index = gbsg_book
    html = index.parent
    assert (out / "01_cohort.ipynb").is_file() and (out / "02_matching.ipynb").is_file()
    assert (out / "04_survival.ipynb").is_file()
    for skipped in ("03_response", "05_toxicity", "06_discussion", "07_lab"):
        assert not (out / f"{skipped}.ipynb").exists()
        page = (html / f"{skipped}.html").read_text()
        assert "was not run for" in page and "GBSG2" in page
    assert "response" in (html / "03_response.html").read_text()  # it names what is missing
    intro = (html / "intro.html").read_text()
    assert "GBSG2" in intro and "not run (needs toxicity, paper)" in intro
    cohort = (html / "01_cohort.html").read_text()
    assert "Synthetic data" not in cohort and "anlotinib" not in cohort.split("<main")[-1].lower()
    assert "Menopausal status" in cohort and "Hormonal therapy (n=246)" in cohort


def test_public_dataset_results_are_computed_from_its_patients(gbsg_book):
    out, _ = gbsg_book
    import json

    cohort = json.loads((out / "results" / "cohort.json").read_text())["values"]
    data = _lymph_node()
    assert cohort["table1.before.n.2"] == int((data["hormone"] == 2).sum()) == 246
    assert cohort["table1.before.menopause.1.2.n"] == int(((data["hormone"] == 2) & (data["menopause"] == 1)).sum())
    survival = json.loads((out / "results" / "survival.json").read_text())["values"]
    robust = survival["survival.os.after.hr_robust"]
    assert 0.2 < robust < 2.0 and survival["survival.os.after.ci_low_robust"] < robust


@pytest.fixture(scope="module")
def identifiers_book(tmp_path_factory):
    """The GBSG2 data with identifier-like columns: names, hospital numbers, birth dates, its own dates."""
    folder = tmp_path_factory.mktemp("ids")
    data = _lymph_node()
    data["id"] = [f"PX-{7_300_000 + 17 * i}" for i in range(len(data))]
    data["patient_name"] = [f"Zorblax Quintavius {i:03d}" for i in range(len(data))]
    data["hospital_number"] = [f"HN{930_000 + i * 7}Q" for i in range(len(data))]
    data["date_of_birth"] = pd.date_range("1921-03-05", periods=len(data), freq="13D").strftime("%Y-%m-%d")
    path = folder / "cohort.csv"
    data.to_csv(path, index=False)
    out = folder / "book"
    pipeline.build({"data": str(path), "study": str(GBSG), "min_cell": "40"}, root=ROOT, out=out)
    return data, out


def _site_text(out: Path) -> str:
    html = out / "_build" / "html"
    return "\n".join(
        p.read_text(errors="replace")
        for p in html.rglob("*")
        if p.is_file() and p.suffix in {".html", ".ipynb", ".md", ".txt", ".js", ".json", ".py"}
    )


def test_no_identifier_or_date_of_a_patient_appears_anywhere_in_the_site(identifiers_book):
    data, out = identifiers_book
    text = _site_text(out)
    assert "Menopausal status" in text  # the scan reads the pages
    for column in (
        "id",
        "patient_name",
        "hospital_number",
        "date_of_birth",
        "diagdateb",
        "recdate",
        "deathdate",
    ):
        values = data[column].dropna().astype(str)
        leaked = [v for v in values if v in text]
        assert not leaked, f"{column} values in the site: {leaked[:5]}"


def test_min_cell_suppresses_small_counts_in_published_tables(identifiers_book):
    data, out = identifiers_book
    cohort = (out / "_build" / "html" / "01_cohort.html").read_text()
    big = int(((data["size"] > 50) & (data["hormone"] == 2)).sum())
    assert 0 < big < 40
    assert f"{big} (" not in cohort  # "14 (5.7%)" is not printed
    assert "&lt; 40" in cohort or "< 40" in cohort
    assert "hidden" in cohort  # its complement in the arm is hidden, without claiming "< 40"


# ----------------------------------------------------------------------------------------------------
# Bad input: a clear error, nothing published


@pytest.fixture()
def last_good_book(tmp_path):
    """A stand-in for the last good book: its files must be untouched by a failed build."""
    out = tmp_path / "book"
    site = out / "_build" / "html"
    site.mkdir(parents=True)
    (site / "index.html").write_text("the last good book")
    return out


def _unchanged(out: Path) -> bool:
    return (out / "_build" / "html" / "index.html").read_text() == "the last good book"


def _bad_data(tmp_path, change) -> str:
    data = _lymph_node()
    change(data)
    path = tmp_path / "bad.csv"
    data.to_csv(path, index=False)
    return str(path)


def _set(column, rows, value):
    def change(data):
        data[column] = data[column].astype(object)
        data.loc[rows, column] = value

    return change


BAD_DATA = {
    "missing column": (lambda d: d.drop(columns=["grade", "survtime"], inplace=True), ["grade", "survtime"]),
    "unknown label": (_set("menopause", [3, 8], 9), ["menopause", "'9'", "rows 4, 9", "expected one of"]),
    "treatment not two arms": (_set("hormone", [0], 3), ["hormone", "'3'"]),
    "empty arm": (
        lambda d: d.__setitem__("hormone", 1),
        ["hormone", "no patient in the arm", "Hormonal therapy"],
    ),
    "missing time": (_set("survtime", [5], None), ["survtime", "missing", "row 6"]),
    "negative time": (_set("rectime", [7], -3), ["rectime", "negative", "row 8"]),
    "event not 0/1": (_set("censdead", [2], 2), ["censdead", "0/1", "row 3"]),
    "pfs longer than os": (_set("rectime", [10], 99_999), ["rectime", "survtime", "row 11"]),
    "duplicate ids": (_set("id", [1], 1), ["id", "more than one row", "rows 1, 2"]),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_data_stop_the_build_with_a_clear_error_and_publish_nothing(case, tmp_path, last_good_book):
    change, expected = BAD_DATA[case]
    path = _bad_data(tmp_path, change)
    with pytest.raises(validation.DataError) as error:
        pipeline.build({"data": path, "study": str(GBSG)}, root=ROOT, out=last_good_book)
    message = str(error.value)
    for fragment in expected:
        assert fragment in message, f"{case}: {fragment!r} not in {message}"
    assert _unchanged(last_good_book)


def test_every_problem_is_reported_at_once(tmp_path, last_good_book):
    def change(data):
        _set("menopause", [3], 9)(data)
        _set("censdead", [2], 2)(data)
        _set("id", [1], 1)(data)

    with pytest.raises(validation.DataError) as error:
        pipeline.build({"data": _bad_data(tmp_path, change), "study": str(GBSG)}, root=ROOT, out=last_good_book)
    assert len(error.value.problems) >= 3
    assert _unchanged(last_good_book)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"caliper": "-0.2"}, "caliper"),
        ({"ratio": "0"}, "ratio"),
        ({"covariates": "age,shoe_size"}, "shoe_size"),
        ({"min_cell": "-1"}, "min_cell"),
        ({"data": "no/such/file.csv", "study": str(GBSG)}, "no/such/file.csv"),
        ({"data": GBSG_DATA}, "study description"),
    ],
)
def test_bad_parameters_stop_the_build_naming_the_parameter(overrides, fragment, last_good_book):
    values = {"data": GBSG_DATA, "study": str(GBSG)} if "covariates" in overrides else {}
    with pytest.raises(ParameterError) as error:
        pipeline.build({**values, **overrides}, root=ROOT, out=last_good_book)
    assert fragment in str(error.value)
    assert _unchanged(last_good_book)


def test_no_treated_patient_within_the_caliper_is_a_clear_error():
    with pytest.raises(validation.MatchingError, match="caliper"):
        validation.check_matchable(0, 246, "0.2 SD of the logit score")
    validation.check_matchable(1, 246, "0.2 SD of the logit score")  # one pair is enough


def test_a_failing_chapter_names_chapter_and_cell_and_keeps_its_notebook(tmp_path, last_good_book):
    """A chapter that fails mid-way: the message names it and its cell, its executed notebook stays in
    the stage for the user to open, and the last good book is untouched."""
    import json
    import shutil

    root = tmp_path / "project"
    shutil.copytree(ROOT / "chapters", root / "chapters")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, root / name)
    notebook = root / "chapters" / "02_matching.ipynb"
    nb = json.loads(notebook.read_text())
    nb["cells"].insert(
        4,
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "boom",
            "metadata": {},
            "outputs": [],
            "source": ["raise RuntimeError('the analyst made a mistake here')"],
        },
    )
    notebook.write_text(json.dumps(nb))
    with pytest.raises(pipeline.BuildError) as error:
        pipeline.build({"data": GBSG_DATA, "study": str(GBSG)}, root=root, out=last_good_book)
    message = str(error.value)
    assert "chapter 'matching' failed in cell" in message and "the analyst made a mistake here" in message
    failed = Path(message.rsplit("included: ", 1)[1].strip())
    assert failed.is_file() and failed.name == "02_matching.ipynb"
    assert "the analyst made a mistake here" in failed.read_text()  # the failing cell, with its error
    assert _unchanged(last_good_book)


def test_no_treated_patient_within_the_caliper_stops_the_matching_chapter(tmp_path, last_good_book):
    """A cohort whose treated and control patients never share a covariate pattern (but which a
    main-effects score model cannot separate): with a tiny caliper no treated patient finds a control,
    and the matching chapter stops with that message; nothing is published."""
    import numpy as np

    rng = np.random.default_rng(7)
    treated_patterns = [("a0", 0), ("a1", 1), ("a2", 0)]
    control_patterns = [("a0", 1), ("a1", 0), ("a2", 1)]
    rows = []
    for arm, patterns, counts in (("t", treated_patterns, (9, 14, 11)), ("c", control_patterns, (13, 8, 16))):
        for (a, b), count in zip(patterns, counts):
            rows += [{"arm": arm, "a": a, "b": b} for _ in range(count)]
    data = pd.DataFrame(rows)
    data["months"] = rng.exponential(20, len(data)).round(1) + 0.1
    data["dead"] = rng.integers(0, 2, len(data))
    path = tmp_path / "separated.csv"
    data.to_csv(path, index=False)
    study = tmp_path / "separated.yaml"
    study.write_text(
        "name: Separated arms\nsynthetic: false\n"
        "treatment: {column: arm, treated: t, control: c}\n"
        "covariates:\n"
        "  - {column: a, label: A, psm: true, levels: {a0: A0, a1: A1, a2: A2}}\n"
        '  - {column: b, label: B, psm: true, levels: {"0": No, "1": Yes}}\n'
        "outcomes:\n  os: {time: months, event: dead, label: Overall survival}\n  time_unit: months\n"
    )
    with pytest.raises(pipeline.BuildError) as error:
        pipeline.build({"data": str(path), "study": str(study), "caliper": "1e-6"}, root=ROOT, out=last_good_book)
    message = str(error.value)
    assert "chapter 'matching' failed in cell" in message and "MatchingError" in message
    assert "caliper" in message and "1e-06" in message
    assert _unchanged(last_good_book)
