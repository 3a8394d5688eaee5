"""The whole book on a real file with competing events: lifelines' Canadian senators
(examples/canadian_senators.py writes it, examples/canadian_senators.yaml describes it).

Three inclusion rules (a date window, two parties of seventeen, provinces only) counted in both
patient-flow diagrams; a coded status with death in office as the event, retirement and resignation as
competing events, censored at their time; the names in the file never reach the site. Each number is
checked against pandas and lifelines on the file as lifelines ships it.
"""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from lifelines.statistics import logrank_test

from psmbook.book import pipeline
from psmbook.cohort import reading
from scripts import load_script

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "canadian_senators.yaml"
SHIPPED = "pkg:lifelines/datasets/canadian_senators.csv"
PARTIES = ["Progressive Conservative Party", "Liberal Party of Canada"]  # treated, control
NOT_PROVINCES = [
    "Maritimes (Division)",
    "Ontario (Division)",
    "Quebec (Division)",
    "Western Provinces (Division)",
    "Northwest Territories",
    "Nunavut",
    "Yukon",
]


def _loader():
    return load_script("examples/canadian_senators.py")


@pytest.fixture(scope="module")
def senators_book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("senators")
    data = _loader().write(folder / "senators.csv")
    out = folder / "book"
    pipeline.build({"data": str(data), "study": str(STUDY)}, root=ROOT, out=out)
    return out, pd.read_csv(reading.resolve_data_path(SHIPPED))


def _steps(raw: pd.DataFrame) -> tuple[list[int], pd.DataFrame]:
    """The protocol redone with pandas on the shipped file: each rule's count, and the senators kept."""
    counts = []
    kept = raw
    for keep in (
        lambda d: pd.to_datetime(d["start_date"]) >= "1942-12-10",
        lambda d: d["Political Affiliation at Appointment"].isin(PARTIES),
        lambda d: ~d["Province / Territory"].isin(NOT_PROVINCES),
    ):
        mask = keep(kept)
        counts.append(int((~mask).sum()))
        kept = kept[mask]
    return counts, kept


def _values(out: Path, chapter: str) -> dict:
    return json.loads((out / "results" / f"{chapter}.json").read_text())["values"]


def _page_text(out: Path, page: str) -> str:
    text = re.sub(r"<[^>]+>", " ", (out / "_build" / "html" / f"{page}.html").read_text())
    return re.sub(r"\s+", " ", text)


def test_the_loader_adds_a_status_and_changes_nothing_else():
    raw = pd.read_csv(reading.resolve_data_path(SHIPPED))
    written = _loader().senators()
    assert len(written) == len(raw) == 933
    assert written["status"].value_counts().to_dict() == {
        "Death": 494,
        "Resignation": 201,
        "Retirement": 136,
        "In office": 99,
        "Appointment declined": 3,
    }
    assert (written["status"] == "In office").sum() == (raw["observed"].astype(str) == "False").sum()
    renamed = raw.rename(columns=_loader().RENAMED)
    pd.testing.assert_frame_equal(written[renamed.columns], renamed)  # every shipped value as it was
    assert written["appointed_year"].tolist() == [int(s[:4]) for s in raw["start_date"]]


def test_the_description_satisfies_the_schema_editors_check():
    import jsonschema
    import yaml

    from psmbook.study.description import json_schema

    jsonschema.validate(yaml.safe_load(STUDY.read_text()), json_schema())


def test_every_exclusion_is_counted_rule_by_rule(senators_book):
    out, raw = senators_book
    counts, kept = _steps(raw)
    assert counts == [467, 76, 12]
    cohort = _values(out, "cohort")
    assert cohort["flow.screened.n"] == len(raw) == 933
    assert cohort["flow.excluded"] == [
        f"Appointed before the Progressive Conservative Party was founded (Dec 1942): {counts[0]}",
        f"Appointed for another party or as an independent: {counts[1]}",
        f"Extra senator for a division (section 26) or senator for a territory: {counts[2]}",
    ]
    party = kept["Political Affiliation at Appointment"]
    assert [cohort[f"table1.before.n.{p}"] for p in PARTIES] == [int((party == p).sum()) for p in PARTIES]
    assert [int((party == p).sum()) for p in PARTIES] == [104, 274]


@pytest.mark.parametrize("chapter", ["cohort", "matching"])
def test_both_flow_diagrams_show_every_exclusion_with_its_count(senators_book, chapter):
    out, raw = senators_book
    counts, kept = _steps(raw)
    svgs = [p.read_text() for p in sorted((out / "_static" / "downloads").glob(f"{chapter}-figure-*.svg"))]
    found = [text for text in svgs if "Excluded (n = " in text]
    assert len(found) == 1
    for text in (
        f"n = {len(raw)}",
        f"Excluded (n = {sum(counts)})",
        f"Party was founded (Dec 1942): {counts[0]}",
        f"independent: {counts[1]}",
        f"senator for a territory: {counts[2]}",
        f"n = {len(kept)}",
    ):
        assert text in found[0], text


def test_the_competing_events_are_named_and_censored_at_their_time(senators_book):
    out, raw = senators_book
    _, kept = _steps(raw)
    status = kept["reason"].fillna("In office")
    party = kept["Political Affiliation at Appointment"]
    n = {s: [int(((status == s) & (party == p)).sum()) for p in PARTIES] for s in status.unique()}
    assert n["Death"] == [29, 84] and n["Retirement"] == [32, 91] and n["Resignation"] == [33, 67]
    page = _page_text(out, "01_cohort")
    assert "How the events are coded" in page
    assert f"event: death in office status = Death {n['Death'][0]} {n['Death'][1]} the event" in page
    for name, code in (("retirement", "Retirement"), ("resignation", "Resignation")):
        row = f"competing: {name} status = {code} {n[code][0]} {n[code][1]} censored at its time (cause-specific) "
        assert row in page  # whole: a table cell longer than pandas' 50 characters is cut to "..."
    assert f"censored status = In office {n['In office'][0]} {n['In office'][1]} censored" in page
    # the cause-specific analysis: a competing event is censored, as lifelines is told here
    survival = _values(out, "survival")
    death = (status == "Death").astype(int)
    pc, lib = (party == PARTIES[0]).to_numpy(), (party == PARTIES[1]).to_numpy()
    days = kept["diff_days"]
    test = logrank_test(days[pc], days[lib], death[pc], death[lib])
    assert survival["survival.death.before.logrank_p"] == pytest.approx(test.p_value, rel=1e-6)
    anyexit = (status != "In office").astype(int)
    test = logrank_test(days[pc], days[lib], anyexit[pc], anyexit[lib])
    assert survival["survival.exit.before.logrank_p"] == pytest.approx(test.p_value, rel=1e-6)


def test_matching_pairs_each_appointee_within_era_and_region(senators_book):
    out, _ = senators_book
    matching = _values(out, "matching")
    assert matching["table1.after.n.Progressive Conservative Party"] == 104  # every one of them matched
    assert matching["matching.max_abs_smd_after"] == pytest.approx(0.0, abs=1e-12)


def test_no_name_in_the_file_reaches_the_site(senators_book):
    out, raw = senators_book
    site = "\n".join(
        p.read_text(errors="ignore")
        for p in out.rglob("*")
        if p.is_file()
        and p.suffix in {".html", ".json", ".ipynb", ".svg", ".csv", ".txt", ".md", ".yaml"}
        and "data" not in p.relative_to(out).parts[:1]
    )
    names = set(raw["Name"]) | set(raw["Appointed on the advice of"])
    leaked = sorted(n for n in names if n in site)
    assert not leaked, leaked[:5]
    assert "Senators of Canada appointed 1867" in site  # the scan did read the pages
