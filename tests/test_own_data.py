"""The book on a real cohort: the public GBSG2 data shipped in lifelines, bad inputs, privacy.

Every bad input stops the build with a message naming what is wrong, and the last good book stays as
it was; the book of a real cohort shows no patient-level value that identifies anyone.
"""

import re
from pathlib import Path

import numpy as np
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
    assert "GBSG2" in intro and "not run (needs toxicity)" in intro
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


#: The threshold of the privacy book: high, so that many counts of the GBSG2 data fall below it.
MIN_CELL = 40


@pytest.fixture(scope="module")
def identifiers_book(tmp_path_factory):
    """The GBSG2 data with a response and adverse events (as in test_own_study_book), identifier-like
    columns (names, hospital numbers, birth dates; its own dates too), rare levels (a centre of 3
    patients, 3 not evaluable for response, 2 patients with fatigue alone), read from a folder of its own
    whose path must appear nowhere; the book built with ``min_cell`` 40."""
    import yaml

    from test_own_study_book import own_data, own_study

    folder = tmp_path_factory.mktemp("private input")  # a space in the path, as users have
    data = own_data()
    n = len(data)
    data["id"] = [f"PX-{7_300_000 + 17 * i}" for i in range(n)]
    data["patient_name"] = [f"Zorblax Quintavius {i:03d}" for i in range(n)]
    data["hospital_number"] = [f"HN{930_000 + i * 7}Q" for i in range(n)]
    data["date_of_birth"] = pd.date_range("1921-03-05", periods=n, freq="13D").strftime("%Y-%m-%d")
    died = ((data["censdead"] == 1) & (data["censrec"] == 1)).to_numpy()
    treated = (data["hormone"] == 2).to_numpy()
    data["centre"] = np.where(np.arange(n) % 2 == 0, "A", "B")
    data.loc[[*np.flatnonzero(treated & died)[:2], np.flatnonzero(~treated & died)[0]], "centre"] = "C"
    data.loc[[5, 6, 7], "best_response"] = "ne"
    data["g34_fatigue"] = 0
    data.loc[np.flatnonzero(treated & ~data["g34_neutropenia"].to_numpy())[:2], "g34_fatigue"] = 1
    data.to_csv(folder / "cohort.csv", index=False)
    study = own_study()
    study["covariates"].append(
        {"column": "centre", "label": "Centre", "psm": True, "levels": {"A": "A", "B": "B", "C": "C"}}
    )
    study["response"]["levels"]["ne"] = "Not evaluable"
    study["response"]["not_evaluable"] = "ne"
    (folder / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False, allow_unicode=True))
    out = tmp_path_factory.mktemp("ids") / "book"
    overrides = {"data": str(folder / "cohort.csv"), "study": str(folder / "study.yaml"), "min_cell": str(MIN_CELL)}
    pipeline.build(overrides, root=ROOT, out=out)
    return data, out, folder


#: Files a book holds as text (pages, notebooks, results, downloads of tables and figures, logs).
TEXT_SUFFIXES = {".html", ".ipynb", ".md", ".txt", ".js", ".json", ".py", ".csv", ".svg", ".yml", ".log"}


def _built_files(out: Path, site_only: bool = False) -> dict[Path, str]:
    """Every text file of the book (``site_only``: of its site), the figures' SVG and tables' CSV included."""
    folder = out / "_build" / "html" if site_only else out
    return {
        p: p.read_text(errors="replace")
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in TEXT_SUFFIXES and ".doctrees" not in p.parts
    }


def _site_text(out: Path) -> str:
    return "\n".join(_built_files(out, site_only=True).values())


def test_no_identifier_or_date_of_a_patient_appears_anywhere_in_the_site(identifiers_book):
    data, out, _ = identifiers_book
    text = "\n".join(_built_files(out).values())  # the site, the notebooks, the results, the downloads
    assert "Menopausal status" in text and "<svg" in text and "Download" in text  # the scan reads them all
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


def test_no_folder_of_the_user_appears_in_the_book(identifiers_book):
    _, out, folder = identifiers_book
    files = _built_files(out)
    leaked = [str(p.relative_to(out)) for p, text in files.items() if str(folder) in text or folder.name in text]
    assert not leaked, leaked
    source = (out / "_build" / "html" / "_sources" / "01_cohort.ipynb").read_text()
    assert "cohort.csv" in source  # named by the file's name only


def _small(n: str, k: int = MIN_CELL) -> bool:
    return 0 < int(n) < k


def _printed_counts(text: str) -> list[str]:
    """Counts printed in a way that tells a small one: "12 (4.9%)" and "49 / 53" (4 by subtraction)."""
    found = [m.group(0) for m in re.finditer(r"(?<![\d.–])(\d+) \((\d+\.\d)%\)", text) if _small(m.group(1))]
    for m in re.finditer(r"(?<![\d.–])(\d+) / (\d+)(?![\d.])", text):
        if _small(m.group(1)) or _small(int(m.group(2)) - int(m.group(1))):
            found.append(m.group(0))
    return found


def test_no_small_count_in_tables_figures_or_results(identifiers_book):
    import json

    data, out, _ = identifiers_book
    files = _built_files(out)
    downloads = {p: t for p, t in files.items() if p.suffix in {".csv", ".svg"} and "downloads" in p.parts}
    assert len([p for p in downloads if p.suffix == ".svg"]) >= 8 and len(downloads) >= 20
    for path, text in downloads.items():
        shown = " ".join(re.findall(r"<!-- (.*?) -->", text)) if path.suffix == ".svg" else text  # figure texts
        assert not _printed_counts(shown), (path.name, _printed_counts(shown))
    for path in (out / "results").glob("*.json"):
        values = json.loads(path.read_text())["values"]
        small = {k: v for k, v in values.items() if k.endswith(".n") and isinstance(v, int) and 0 < v < MIN_CELL}
        assert not small, (path.name, small)
        for key in (k for k, v in values.items() if k.endswith(".n") and isinstance(v, str)):
            assert values.get(key[:-2] + ".pct", "") in ("", None) or isinstance(values[key[:-2] + ".pct"], str), key
    cohort = json.loads((out / "results" / "cohort.json").read_text())
    assert cohort["values"]["table1.before.centre.C.2.n"] == "< 40"  # it kept the raw 2 before
    assert cohort["parameters"]["data"] == "cohort.csv"


def test_figures_hide_small_counts(identifiers_book):
    data, out, _ = identifiers_book
    downloads = out / "_build" / "html" / "_static" / "downloads"

    def texts(name: str) -> str:
        return " ".join(re.findall(r"<!-- (.*?) -->", (downloads / name).read_text()))

    assert "&lt; 40 not evaluable" in texts("cohort-figure-1.svg")  # the flow diagram
    treated = data["hormone"] == 2
    evaluable = int((treated & (data["best_response"] != "ne")).sum())
    assert f"n = {evaluable}" not in texts("cohort-figure-1.svg")  # with the arm's size, it tells the rest
    overlap = [f for f in downloads.glob("matching-figure-*.svg") if "Logit of the propensity" in texts(f.name)]
    assert overlap and "merged with their neighbours" in texts(overlap[0].name)
    schoenfeld = [f for f in downloads.glob("survival-figure-*.svg") if "β(t)" in texts(f.name)]
    assert schoenfeld and f"means of bins of ≥ {MIN_CELL} events" in texts(schoenfeld[0].name)
    fatigue = f"{100 * int((treated & (data['g34_fatigue'] == 1)).sum()) / int(treated.sum()):.1f}"
    toxicity = texts("toxicity-figure-1.svg")
    assert "&lt; 40" in toxicity and fatigue not in toxicity.split()


def test_balance_tables_give_no_level_share_away(identifiers_book):
    """MatchIt's summaries print each level's mean, its share of the arm: times the arm's size, a count."""
    import json

    data, out, _ = identifiers_book
    downloads = out / "_build" / "html" / "_static" / "downloads"
    summaries = [t for t in sorted(downloads.glob("matching-table-*.csv")) if "Means Treated" in t.read_text()]
    assert len(summaries) == 2  # all patients, then the matched ones
    after = json.loads((out / "results" / "matching.json").read_text())["values"]
    sizes = [
        (int((data["hormone"] == 2).sum()), int((data["hormone"] == 1).sum())),
        (after["table1.after.n.2"], after["table1.after.n.1"]),
    ]
    for path, (n_treated, n_control) in zip(summaries, sizes):
        table = pd.read_csv(path, index_col=0)
        levels = table[[":" in str(i) for i in table.index]]  # "Centre: C", not the score's row
        for column, n in (("Means Treated", n_treated), ("Means Control", n_control)):
            shares = pd.to_numeric(levels[column], errors="coerce").dropna()
            counts = (shares * n).round()
            assert not counts.between(1, MIN_CELL - 1).any(), (path.name, column, counts[counts.between(1, 39)])
        assert levels.loc["Centre: C", "Means Treated"] == "."  # 2 of 246 treated patients


def test_not_evaluable_and_censored_counts_cannot_be_derived(identifiers_book):
    data, out, _ = identifiers_book
    response = _page_text(out / "_build" / "html" / "03_response.html")
    treated = data["hormone"] == 2
    for arm in (treated, ~treated):
        evaluable = int((arm & (data["best_response"] != "ne")).sum())
        assert f"Evaluable {evaluable} " not in response and f" {evaluable} " not in response.split("Evaluable")[1][:40]
    assert "before matching < 40 in the" in response  # the not-evaluable patients in the prose
    survival = _page_text(out / "_build" / "html" / "04_survival.html")
    assert not _printed_counts(survival.split("Events / patients", 1)[1]), _printed_counts(survival)


def test_min_cell_suppresses_small_counts_in_published_tables(identifiers_book):
    data, out, _ = identifiers_book
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


# ----------------------------------------------------------------------------------------------------
# Continuous covariates: the GBSG2 cohort with its measurements as numbers (examples/gbsg2_continuous.yaml)

GBSG_CONTINUOUS = ROOT / "examples" / "gbsg2_continuous.yaml"


@pytest.fixture(scope="module")
def continuous_cohort():
    from psmbook.study.description import load_study

    study = load_study(GBSG_CONTINUOUS)
    return study, validation.prepare_cohort(_lymph_node(), study)


def test_a_continuous_covariate_gives_one_table1_row_as_scipy_computes_it(continuous_cohort):
    """Age: mean (SD) and Welch's t-test; oestrogen receptor: median [IQR] and the Mann-Whitney U test,
    each from the patients' numbers, before and after matching alike (the same function)."""
    import numpy as np
    from scipy import stats

    from psmbook.analysis import tables

    study, cohort = continuous_cohort
    data = _lymph_node()
    treated, control = data[data["hormone"] == 2], data[data["hormone"] == 1]
    rows = tables.table1_before(cohort, study)
    assert (rows["variable"] == "age").sum() == 1 and (rows["variable"] == "estrg_recp").sum() == 1
    by = rows.set_index("variable")
    age = by.loc["age"]
    assert age["level_label"] == "mean (SD), years" and age["test_label"] == "Welch's t-test"
    assert age["text_treated"] == f"{treated['age'].mean():.1f} ({treated['age'].std(ddof=1):.1f})" == "56.6 (9.4)"
    assert age["text_control"] == f"{control['age'].mean():.1f} ({control['age'].std(ddof=1):.1f})"
    welch = stats.ttest_ind(treated["age"], control["age"], equal_var=False).pvalue
    assert age["p"] == pytest.approx(welch, rel=1e-12) and age["p"] < 0.001
    receptor = by.loc["estrg_recp"]
    q1, median, q3 = np.percentile(control["estrg_recp"], [25, 50, 75])
    assert receptor["text_control"] == f"{median:.0f} [{q1:.0f}–{q3:.0f}]"
    assert receptor["level_label"] == "median [IQR], fmol" and receptor["test_label"] == "Mann–Whitney U test"
    mann_whitney = stats.mannwhitneyu(treated["estrg_recp"], control["estrg_recp"], alternative="two-sided").pvalue
    assert receptor["p"] == pytest.approx(mann_whitney, rel=1e-12)
    shown = tables.table1_display(rows, study=study)
    assert shown.loc[("Age", "mean (SD), years")].tolist() == [age["text_treated"], age["text_control"], "<0.001"] + [
        "Welch's t-test"
    ]
    values = tables.table1_values(rows, study, "before")
    assert values["table1.before.age.2.mean"] == pytest.approx(treated["age"].mean())
    assert (
        values["table1.before.estrg_recp.1.median"] == median and values["table1.before.estrg_recp.p"] == receptor["p"]
    )


def test_a_continuous_covariate_enters_the_score_model_linearly_per_its_step(continuous_cohort):
    """Tumour size as one linear term: the coefficient statsmodels fits on the raw data, its odds ratio
    given per 10 mm (the description's ``per``) and labelled so."""
    import math

    import statsmodels.formula.api as smf

    from psmbook.matching import report
    from psmbook.matching.score import fit_propensity

    study, cohort = continuous_cohort
    model = fit_propensity(cohort, "hormone", "2", ["size", "menopause", "grade"], study=study)
    assert model.formula == "_treated ~ size + C(menopause) + C(grade)"
    data = _lymph_node().assign(t=lambda d: (d["hormone"] == 2).astype(int))
    direct = smf.logit("t ~ size + C(menopause) + C(grade)", data=data).fit(disp=0)
    assert model.result.params["size"] == pytest.approx(direct.params["size"], rel=1e-9)
    odds = model.odds_ratios()
    assert odds.loc["size", "odds_ratio"] == pytest.approx(math.exp(10 * direct.params["size"]), rel=1e-9)
    assert odds.loc["size", "ci_low"] == pytest.approx(math.exp(10 * direct.conf_int().loc["size", 0]), rel=1e-9)
    assert odds.loc["size", "p"] == pytest.approx(direct.pvalues["size"], rel=1e-9)
    shown = report.odds_ratio_display(model).data
    assert list(shown.index) == ["menopause = 2", "grade = 2", "grade = 3", "size, per 10 mm"]
    assert "`size` linearly on the logit scale, its odds ratio per 10 mm" in model.terms_text()


@pytest.fixture(scope="module")
def continuous_book(tmp_path_factory):
    """The whole book built from the public dataset with continuous covariates."""
    out = tmp_path_factory.mktemp("gbsg_continuous") / "book"
    pipeline.build({"data": GBSG_DATA, "study": str(GBSG_CONTINUOUS)}, root=ROOT, out=out)
    return out


def _page_text(path: Path) -> str:
    import html
    import re

    main = path.read_text().split("<main", 1)[-1]
    main = re.sub(r"<script.*?</script>|<style.*?</style>", " ", main, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))


def test_the_book_builds_on_the_gbsg_example_with_continuous_covariates(continuous_book, continuous_cohort):
    """Cohort page: Table 1 rows as mean (SD) and median [IQR] with the tests named; matching page: the
    spline and linear score terms with their odds ratios per step, Table 1 after matching, the continuous
    balance rows; survival page: hazard ratios per step; the results carry the summaries."""
    import json

    study, cohort = continuous_cohort
    html = continuous_book / "_build" / "html"
    treated = cohort[cohort["hormone"] == "2"]
    page = _page_text(html / "01_cohort.html")
    assert f"Age mean (SD), years {treated['age'].mean():.1f} ({treated['age'].std():.1f})" in page
    assert "Tumour size median [IQR], mm" in page and "Welch's t-test" in page and "Mann–Whitney U test" in page
    assert "each continuous one as mean (SD) with Welch’s t-test or median [IQR] with the Mann–Whitney U" in page
    page = _page_text(html / "02_matching.html")
    assert "_treated ~ ns(age, df=3) + C(menopause) + size + C(grade) + nodes + prog_recp + estrg_recp" in page
    for term in (  # labelled as the study labels its covariates
        "Age, spline basis 1 of 3",
        "Tumour size, per 10 mm",
        "Positive lymph nodes, per unit (nodes)",
        "Progesterone receptor, per 100 fmol",
    ):
        assert term in page, term
    assert "`size`" not in page and "size linearly on the logit scale, its odds ratio per 10 mm" in page
    table1_after = page.split("Table 1 after matching", 2)[-1]
    assert "Age mean (SD), years" in table1_after and "Oestrogen receptor median [IQR], fmol" in table1_after
    assert "Age (years)" in page  # its balance row
    page = _page_text(html / "04_survival.html")
    assert "Age per 10 years" in page and "Progesterone receptor per 100 fmol" in page
    results = json.loads((continuous_book / "results" / "cohort.json").read_text())["values"]
    assert results["table1.before.age.2.mean"] == pytest.approx(treated["age"].mean())
    after = json.loads((continuous_book / "results" / "matching.json").read_text())["values"]
    matched = pd.read_parquet(continuous_book / "data" / "matched.parquet")
    ages = matched.loc[matched["hormone"] == "1", "age"]
    assert after["table1.after.age.1.mean"] == pytest.approx(ages.mean()) and after["table1.after.age.1.n"] == len(ages)


def test_a_continuous_covariate_that_is_not_a_number_stops_the_build(tmp_path, last_good_book):
    def change(data):
        _set("age", [4], "fifty")(data)
        _set("nodes", [6, 8], None)(data)

    with pytest.raises(validation.DataError) as error:
        pipeline.build(
            {"data": _bad_data(tmp_path, change), "study": str(GBSG_CONTINUOUS)}, root=ROOT, out=last_good_book
        )
    message = str(error.value)
    assert "column 'age' (covariate Age, continuous): 1 value not a number: 'fifty' (1 row) at row 5 (id 5)" in message
    assert "column 'nodes' (covariate Positive lymph nodes, continuous): 2 missing values at rows 7, 9" in message
    assert _unchanged(last_good_book)
