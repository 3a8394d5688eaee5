"""The protocol in the study description, applied to real files as they come: how the file is read
(encoding, delimiter, decimal mark, a long file), inclusion rules counted rule by rule, coded and
competing events, missing covariates, YAML read as the text written. Each rule has a test, and each
error names the column, the rule and the rows of the file."""

import re
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from psmbook.cohort import flow, protocol, reading
from psmbook.cohort.protocol import apply_protocol, event_coding_table, load_cohort
from psmbook.cohort.validation import DataError, prepare_cohort
from psmbook.study.description import load_study, study_from_dict
from psmbook.study.protocol import MISSING_LEVEL, FileFormat

matplotlib.use("Agg")

BASE = """
name: protocol test
id_column: pid
treatment: {column: arm, treated: t, control: c}
covariates:
  - {column: sex, label: Sex, levels: {f: Female, m: Male}}
outcomes:
  os: {time: os_t, event: os_e, label: Overall survival}
"""


def study(tmp_path, extra: str = "", base: str = BASE, name: str = "study.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(base) + textwrap.dedent(extra))
    return load_study(path)


def frame(n: int = 8, **columns) -> pd.DataFrame:
    data = {
        "pid": [f"P{i}" for i in range(1, n + 1)],
        "arm": ["t", "c"] * (n // 2),
        "sex": ["f", "m", "m", "f"] * (n // 4),
        "os_t": np.arange(1.0, n + 1),
        "os_e": [1, 0] * (n // 2),
    }
    data.update(columns)
    return pd.DataFrame(data)


# ----------------------------------------------------------------------------------------------------
# YAML read as the text written


def test_yaml_values_are_the_text_written(tmp_path):
    s = study(
        tmp_path,
        base=BASE.replace("{f: Female, m: Male}", "{0: No, 10: Yes}, psm: yes").replace("pid\n", "\n"),
        extra="response: {column: r, levels: {yes: Responded, no: Did not}, not_evaluable: ~}\n",
    )
    sex = s.variable("sex")
    assert sex.levels == {"0": "No", "10": "Yes"} and sex.psm is True  # psm: yes is still a boolean field
    assert s.response.levels == {"yes": "Responded", "no": "Did not"} and s.response.not_evaluable is None
    assert s.id_column == "row_id"  # an empty value means "not given"
    cohort = prepare_cohort(frame(sex=[0, 10, 10, 0, 0, 10, 10, 0], r=["yes", "no"] * 4).drop(columns="pid"), s)
    assert list(cohort["sex"][:2]) == ["0", "10"]  # the level codes, not False/True


# ----------------------------------------------------------------------------------------------------
# Reading: encoding, delimiter, decimal mark


def test_a_latin1_file_is_refused_naming_the_option_that_reads_it(tmp_path):
    path = tmp_path / "latin.csv"
    text = "pid;arm;sex;os_t;os_e;centre\nP1;t;f;1,5;1;Zürich\nP2;c;m;2,25;0;Genève\nP3;t;m;3;1;Köln\nP4;c;f;4;0;Bâle\n"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(DataError, match=r"byte 0xfc on line 2.*add `file: \{encoding: latin-1\}`"):
        reading.read_data(path)
    s = study(tmp_path, "file: {encoding: latin-1}\n")
    loaded = load_cohort(path, s)  # the semicolons and the decimal commas are detected
    assert list(loaded.cohort["os_t"]) == [1.5, 2.25, 3.0, 4.0]
    assert (
        loaded.reading == "latin-1 text, semicolon-separated (detected from the header line), decimal comma (detected)"
    )
    cp = tmp_path / "cp.csv"
    cp.write_bytes("pid,note\n1,\x80 5\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"reads as cp1252 \('€' there\)"):
        reading.read_data(cp)


def test_delimiters_declared_detected_or_asked_for(tmp_path):
    tab = tmp_path / "tab.csv"
    tab.write_text("pid\tage\n1\t40\n")
    assert reading.read_data(tab).columns.tolist() == ["pid", "age"]
    pipe = tmp_path / "pipe.txt.csv"
    pipe.write_text("pid|a,b\n1|2\n")  # a comma in a header name: the suffix's comma is taken
    assert reading.read_data(pipe, FileFormat(delimiter="|")).columns.tolist() == ["pid", "a,b"]
    unclear = tmp_path / "unclear.csv"
    unclear.write_text("pid;a|b\n1;2\n")
    with pytest.raises(DataError, match=r"semicolons and vertical bars.*`file: \{delimiter: \";\"\}`"):
        reading.read_data(unclear)
    dots = tmp_path / "dots.csv"
    dots.write_text("pid;w\n1;.\n2;-99\n3;1,5\n")
    read = reading.read_data(dots, FileFormat(missing_values=[".", "-99"], decimal=","))
    assert read["w"].isna().tolist() == [True, True, False] and read["w"][2] == 1.5
    with pytest.raises(ValueError, match="delimiter ':'"):
        FileFormat(delimiter=":")
    with pytest.raises(ValueError, match="unknown encoding 'latin-9x'"):
        FileFormat(encoding="latin-9x")


def test_text_options_on_a_parquet_file_are_refused(tmp_path):
    path = tmp_path / "c.parquet"
    frame().to_parquet(path)
    with pytest.raises(DataError, match=r"file.encoding in the study description apply to text files"):
        reading.read_data(path, FileFormat(encoding="latin-1"))


# ----------------------------------------------------------------------------------------------------
# Inclusion rules


RULES = """
inclusion:
  - {column: arm, recorded: true, reason: No treatment recorded}
  - {column: age, min: 18, max: 80}
  - {column: site, not_in: [x]}
  - {column: diagnosed, from: 2017-01-01, to: 2019-12-31}
"""


def test_rules_apply_in_order_and_count_each_exclusion(tmp_path):
    s = study(tmp_path, RULES)
    data = frame(
        12,
        arm=["t", "c", None, "t", "c", "t", "c", "t", "c", "t", "c", "c"],
        age=[40, 17, 50, 90, None, 60, 61, 62, 63, 64, 65, 66],
        site=["a", "a", "a", "a", "a", "x", "a", "a", "a", "a", "a", None],
        diagnosed=["2018-01-01"] * 6
        + ["2016-12-31", "2017-01-01", "2019-12-31", "2020-01-01", "2018-05-05", "2018-06-06"],
    )
    loaded = apply_protocol(data, s)
    assert [(e.reason, e.n, e.missing) for e in loaded.screening.exclusions] == [
        ("No treatment recorded", 1, 0),
        ("age outside 18–80", 3, 1),  # 17, 90 and the missing age
        ("site x", 2, 1),  # 'x' and the missing site
        ("diagnosed outside 2017-01-01 – 2019-12-31", 2, 0),  # the bounds are included
    ]
    assert loaded.screening.screened == 12 and loaded.screening.included == 4 == len(loaded.cohort)
    assert list(loaded.cohort["pid"]) == ["P1", "P8", "P9", "P11"]
    assert loaded.screening.lines() == [
        "No treatment recorded: 1",
        "age outside 18–80: 3 (1 not recorded)",
        "site x: 2 (1 not recorded)",
        "diagnosed outside 2017-01-01 – 2019-12-31: 2",
    ]


def test_a_rule_may_keep_missing_values_and_read_other_date_formats(tmp_path):
    s = study(tmp_path, "inclusion:\n  - {column: d, to: 2019-12-31, date_format: '%d/%m/%Y', missing: keep}\n")
    loaded = apply_protocol(frame(4, d=["31/12/2019", "01/01/2020", None, "15/06/2018"]), s)
    assert list(loaded.cohort["pid"]) == ["P1", "P3", "P4"]
    assert loaded.screening.exclusions[0].n == 1


def test_rule_errors_name_the_column_rule_and_file_rows(tmp_path):
    s = study(tmp_path, RULES)
    data = frame(
        8, age=[40, "forty", 50, 60, 61, 62, 63, 64], site=["a"] * 8, diagnosed=["2018-01-01"] * 7 + ["1/2/2018"]
    )
    with pytest.raises(DataError) as error:
        apply_protocol(data, s)
    text = str(error.value)
    assert (
        "column 'age', inclusion rule on 'age' (age outside 18–80): 1 value not a number: "
        "'forty' (1 row) at row 2 (pid P2)" in text
    )
    assert "column 'diagnosed'" in text and "row 8 (pid P8)" in text and "date_format" in text
    with pytest.raises(
        DataError, match=r"column 'site' \(inclusion rule: site x\) is missing from the data; did you mean 'Site'"
    ):
        apply_protocol(frame(8, age=[40] * 8, Site=["a"] * 8, diagnosed=["2018-01-01"] * 8), s)
    with pytest.raises(DataError) as error:  # every absent column at once, the rule's and the description's
        apply_protocol(frame(8).drop(columns=["sex"]), s)
    assert [p.split(" (")[0] for p in error.value.problems] == [
        "column 'age'",
        "column 'site'",
        "column 'diagnosed'",
        "column 'sex'",
    ]
    with pytest.raises(DataError, match=r"no patient is left after the inclusion rules \(age < 99: 8\)"):
        apply_protocol(frame(8, age=[40] * 8), study(tmp_path, "inclusion: [{column: age, min: 99}]\n"))


@pytest.mark.parametrize(
    "rule, message",
    [
        ("{column: age}", "states no condition"),
        ("{column: age, min: 1, in: [2]}", "mixes codes and numbers"),
        ("{column: age, min: 9, max: 1}", "min 9 is above max 1"),
        ("{column: d, from: 2020-01-01, to: 2019-01-01}", "from 2020-01-01 is after to 2019-01-01"),
        ("{column: age, min: 1, colour: red}", r"unknown key inclusion\[0\] \(age\).colour"),
        ("{column: age, in: [1], not_in: [2]}", "gives both in and not_in"),
    ],
)
def test_a_malformed_rule_is_refused_by_the_description(tmp_path, rule, message):
    with pytest.raises(ValueError, match=message):
        study(tmp_path, f"inclusion: [{rule}]\n")


def test_rows_after_exclusions_are_named_as_in_the_file(tmp_path):
    """A validation error after the rules names the file's row, not the row among those kept."""
    s = study(tmp_path, "inclusion: [{column: age, min: 18}]\n")
    data = frame(8, age=[10, 10, 10, 40, 40, 40, 40, 40], sex=["f", "m", "m", "f", "x", "m", "m", "f"])
    with pytest.raises(DataError, match=r"'x' \(1 row\) at row 5 \(pid P5\)"):
        apply_protocol(data, s)
    unnamed = study(tmp_path, "inclusion: [{column: age, min: 18}]\n", base=BASE.replace("id_column: pid\n", ""))
    cohort = apply_protocol(frame(8, age=[10, 10, 10, 40, 40, 40, 40, 40]).drop(columns="pid"), unnamed).cohort
    assert list(cohort["row_id"]) == [4, 5, 6, 7, 8]  # generated ids are the file's row numbers


def test_a_treatment_with_more_arms_names_the_rule_that_reduces_it(tmp_path):
    s = study(tmp_path)
    with pytest.raises(
        DataError, match=r"'x' \(2 rows\).*inclusion rule leaves them out, counted: `- \{column: arm, in: \[t, c\]\}`"
    ):
        apply_protocol(frame(8, arm=["t", "c", "x", "x", "t", "c", "t", "c"]), s)
    reduced = apply_protocol(
        frame(8, arm=["t", "c", "x", "x", "t", "c", "t", "c"]),
        study(tmp_path, "inclusion: [{column: arm, in: [t, c], reason: Third arm}]\n"),
    )
    assert reduced.screening.lines() == ["Third arm: 2"] and len(reduced.cohort) == 6


# ----------------------------------------------------------------------------------------------------
# Event coding and competing events

CODED = """
name: coded events
id_column: pid
treatment: {column: arm, treated: t, control: c}
covariates:
  - {column: sex, levels: {f: Female, m: Male}}
outcomes:
  death:
    time: t
    status: status
    event_codes: [2]
    censor_codes: [0]
    competing: {1: transplant}
    event_name: death
  transplant_free:
    time: t
    status: status
    event_codes: [1, 2]
    censor_codes: [0]
    label: Transplant-free survival
"""


def test_coded_status_gives_each_endpoint_its_flag_and_counts_competing_events(tmp_path):
    s = study(tmp_path, base=CODED)
    assert s.outcome("death").event == "death_event" and s.outcome("death").competing == {"1": "transplant"}
    data = frame(8, t=np.arange(1.0, 9), status=[0, 1, 2, 2, 0, 1, 2, 0]).drop(columns=["os_t", "os_e"])
    loaded = apply_protocol(data, s)
    assert list(loaded.cohort["death_event"]) == [0, 0, 1, 1, 0, 0, 1, 0]  # transplant: censored at its time
    assert list(loaded.cohort["transplant_free_event"]) == [0, 1, 1, 1, 0, 1, 1, 0]
    assert "status" not in loaded.cohort.columns
    assert loaded.events["death"] == [
        ("event: death", "2", 2, 1),
        ("censored", "0", 2, 1),
        ("competing: transplant", "1", 0, 2),
    ]
    table = event_coding_table(loaded, s, min_cell=2)
    assert list(table.loc["death"].index) == ["event: death", "censored", "competing: transplant"]
    assert list(table["t"].iloc[:3]) == ["2", "2", "0"] and list(table["c"].iloc[:3]) == ["< 2", "< 2", "2"]
    assert "cause-specific" in table["How it is analysed"].iloc[2]


def test_status_codes_the_description_does_not_list_are_named(tmp_path):
    s = study(tmp_path, base=CODED)
    data = frame(8, t=np.arange(1.0, 9), status=[0, 1, 9, 2, None, 1, 2, 0]).drop(columns=["os_t", "os_e"])
    with pytest.raises(DataError) as error:
        apply_protocol(data, s)
    text = str(error.value)
    assert (
        "column 'status' (status of death): 1 value not among the codes of outcomes.death: "
        "'9' (1 row) at row 3 (pid P3)" in text
    )
    assert "1 missing value at row 5 (pid P5)" in text and "`- {column: status, recorded: true}`" in text


def test_a_0_1_event_column_with_other_codes_names_the_status_option(tmp_path):
    with pytest.raises(DataError, match=r"declare the column as the endpoint's `status`.*not 0/1: '2' \(2 rows\)"):
        apply_protocol(frame(8, os_e=[0, 1, 2, 2, 0, 1, 0, 1]), study(tmp_path))


@pytest.mark.parametrize(
    "endpoint, message",
    [
        ("{time: t, event_codes: [1], censor_codes: [0]}", "name it with `status`"),
        ("{time: t, status: s, event_codes: [1]}", "censor_codes: list the codes"),
        (
            "{time: t, status: s, event_codes: [1], censor_codes: [1]}",
            "code '1' is in both event_codes and censor_codes",
        ),
        ("{time: t, status: s, event: s, event_codes: [1], censor_codes: [0]}", "event names the 0/1 flag"),
    ],
)
def test_malformed_event_coding_is_refused(tmp_path, endpoint, message):
    with pytest.raises(ValueError, match=message):
        study(tmp_path, base=BASE.replace("{time: os_t, event: os_e, label: Overall survival}", endpoint))


# ----------------------------------------------------------------------------------------------------
# Missing covariates

MISSING = """
  - {column: ecog, label: ECOG, levels: {0: "0", 1: "1-2"}, missing: exclude}
  - {column: stage, label: Stage, levels: {i: I, ii: II}, missing: level, missing_label: Not staged}
  - {column: age, label: Age, bins: [18, 65, 100], levels: {lt65: "< 65", ge65: "≥ 65"}, missing: level}
"""


def test_missing_covariates_complete_case_counted_or_a_level_of_their_own(tmp_path):
    s = study(tmp_path, base=BASE.replace("outcomes:", MISSING.strip("\n") + "\noutcomes:"))
    assert s.variable("stage").levels == {"i": "I", "ii": "II", MISSING_LEVEL: "Not staged"}
    data = frame(
        8,
        ecog=[0, 1, None, 0, 1, 0, None, 1],
        stage=["i", None, "ii", "ii", None, "i", "i", "ii"],
        age=[40, 100, 50, None, 70, 64.9, 30, 65],
    )
    loaded = apply_protocol(data, s)
    assert loaded.screening.lines() == ["ECOG not recorded (complete case): 2"]
    cohort = loaded.cohort
    assert list(cohort["pid"]) == ["P1", "P2", "P4", "P5", "P6", "P8"]
    assert list(cohort["stage"]) == ["i", MISSING_LEVEL, "ii", MISSING_LEVEL, "i", "ii"]
    assert list(cohort["age"]) == ["lt65", "ge65", MISSING_LEVEL, "ge65", "lt65", "ge65"]  # 100, the top edge: ge65


def test_a_missing_covariate_without_an_option_is_an_error_naming_the_options(tmp_path):
    s = study(tmp_path)
    with pytest.raises(
        DataError,
        match=r"column 'sex' \(covariate Sex\): 1 missing value at row 3 \(pid P3\)"
        r".*`missing: exclude` or `missing: level`",
    ):
        apply_protocol(frame(8, sex=["f", "m", None, "f", "m", "f", "m", "f"]), s)


def test_missing_level_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="missing must be exclude"):
        study(tmp_path, base=BASE.replace("Male}}", "Male}, missing: drop}"))
    with pytest.raises(ValueError, match="missing_label goes with missing: level"):
        study(tmp_path, base=BASE.replace("Male}}", "Male}, missing_label: Unknown}"))
    with pytest.raises(ValueError, match="already has a code 'missing'"):
        study(tmp_path, base=BASE.replace("Male}}", "Male, missing: Unknown}, missing: level}"))


# ----------------------------------------------------------------------------------------------------
# A long file: one row per patient and event type

LONG = """
name: long file
id_column: pid
treatment: {column: arm, treated: t, control: c}
covariates:
  - {column: sex, levels: {f: Female, m: Male}}
file:
  long: {type_column: kind, types: [pfs, os], per_type: [time, flag]}
outcomes:
  pfs: {time: time_pfs, event: flag_pfs}
  os: {time: time_os, event: flag_os}
"""


def long_frame() -> pd.DataFrame:
    rows = []
    for i, (arm, sex) in enumerate([("t", "f"), ("c", "m"), ("t", "m"), ("c", "f")], start=1):
        rows.append({"pid": f"P{i}", "kind": "os", "time": 10.0 + i, "flag": i % 2, "arm": arm, "sex": sex})
        rows.append({"pid": f"P{i}", "kind": "pfs", "time": 5.0 + i, "flag": 1, "arm": arm, "sex": sex})
    return pd.DataFrame(rows)


def test_a_long_file_is_reshaped_to_one_row_per_patient(tmp_path):
    loaded = apply_protocol(long_frame(), study(tmp_path, base=LONG))
    cohort = loaded.cohort
    assert list(cohort["pid"]) == ["P1", "P2", "P3", "P4"] and list(cohort["time_os"]) == [11.0, 12.0, 13.0, 14.0]
    assert list(cohort["time_pfs"]) == [6.0, 7.0, 8.0, 9.0] and list(cohort["flag_os"]) == [1, 0, 1, 0]
    assert loaded.screening.screened == 4 and loaded.screening.rows == 8


def test_long_file_errors_name_patients_and_rows(tmp_path):
    s = study(tmp_path, base=LONG)
    data = long_frame()
    data.loc[3, "sex"] = "f"  # P2's second row says otherwise
    data.loc[4, "kind"] = "dfs"
    data = pd.concat([data, data.iloc[[0]]], ignore_index=True)  # P1's os row twice
    with pytest.raises(DataError) as error:
        apply_protocol(data, s)
    text = str(error.value)
    assert "1 row of a type not listed under file.long.types: 'dfs' (1 row) at row 5 (pid P3)" in text
    assert "1 patient with more than one row of one event type: 'P1', type 'os' (rows 1, 9)" in text
    assert "column 'sex' differs between the rows of 1 patient: 'P2' (rows 3, 4: m, f)" in text
    lacking = long_frame().drop(index=[5, 7])  # P3 and P4 have no pfs row
    with pytest.raises(
        DataError,
        match=r"2 patients without a row of event type 'pfs'.*'time_pfs', 'flag_pfs'.*rows 5, 6 \(pid P3, P4\)",
    ):
        apply_protocol(lacking, s)
    with pytest.raises(ValueError, match="a long file .* needs `id_column`"):
        study(tmp_path, base=LONG.replace("id_column: pid\n", ""))


def test_a_real_long_file_from_lifelines_runs_unedited(tmp_path):
    """lifelines' recur.csv: 1,296 rows, one per patient and soreness episode (EVENT 1 to 4)."""
    s = study(
        tmp_path,
        base="""
        name: recurrent soreness episodes (lifelines' recur data)
        id_column: ID
        treatment: {column: TREAT, treated: 0, control: 1, labels: {0: New, 1: Old}}
        covariates:
          - {column: AGE, bins: [0, 40, 100], levels: {lt40: "< 40", ge40: "≥ 40"}}
        file:
          long: {type_column: EVENT, types: [1, 2, 3, 4], per_type: [TIME0, TIME1, CENSOR]}
        outcomes:
          first: {time: TIME1_1, status: CENSOR_1, event_codes: [1], censor_codes: [0], label: First episode}
          time_unit: days
        """,
    )
    loaded = load_cohort("pkg:lifelines/datasets/recur.csv", s)
    raw = pd.read_csv(reading.resolve_data_path("pkg:lifelines/datasets/recur.csv"))
    first = raw[raw["EVENT"] == 1].set_index("ID")
    cohort = loaded.cohort.set_index("ID")
    assert len(cohort) == raw["ID"].nunique() == 400 and loaded.screening.rows == 1296
    assert (cohort["TIME1_1"] == first["TIME1"].reindex(cohort.index)).all()
    assert (cohort["first_event"] == first["CENSOR"].reindex(cohort.index)).all()


def test_a_real_file_with_missing_covariates_runs_unedited(tmp_path):
    """lifelines' lung.csv (NCCTG): ECOG missing once, weight loss 14 times. Sex stands in for the arms
    here only to read the file; this is a test of the protocol, not an analysis."""
    s = study(
        tmp_path,
        base="""
        name: NCCTG lung cancer (lifelines' lung data)
        treatment: {column: sex, treated: 2, control: 1}
        covariates:
          - {column: ph.ecog, levels: {0: "0", 1: "1", 2: "2", 3: "3"}, missing: exclude}
          - {column: wt.loss, bins: [-100, 10, 100], levels: {lt10: "< 10 lb", ge10: "≥ 10 lb"}, missing: level}
        inclusion:
          - {column: ph.ecog, not_in: [3], missing: keep, reason: Bedridden (ECOG 3)}
        outcomes:
          os: {time: time, event: status}
          time_unit: days
        """,
    )
    loaded = load_cohort("pkg:lifelines/datasets/lung.csv", s)
    raw = pd.read_csv(reading.resolve_data_path("pkg:lifelines/datasets/lung.csv"))
    assert loaded.screening.lines() == ["Bedridden (ECOG 3): 1", "ph.ecog not recorded (complete case): 1"]
    kept = raw[(raw["ph.ecog"] != 3) & raw["ph.ecog"].notna()]
    assert len(loaded.cohort) == len(kept) == 226
    assert (loaded.cohort["wt.loss"] == MISSING_LEVEL).sum() == kept["wt.loss"].isna().sum() == 14


# ----------------------------------------------------------------------------------------------------
# The flow diagram


def test_the_flow_diagram_shows_every_exclusion_with_its_count():
    screening = flow.Screening(120, (flow.Exclusion("Third arm", 40), flow.Exclusion("Aged under 18", 3, 1)))
    assert screening.lines(5) == ["Third arm: hidden", "Aged under 18: < 5"]  # 40 would give the 3 away
    assert screening.lines() == ["Third arm: 40", "Aged under 18: 3 (1 not recorded)"]
    arms = (flow.ArmFlow("Drug", 40, 0, ""), flow.ArmFlow("Control", 37, 0, ""))
    fig = flow.plot_patient_flow(77, *arms, population="All", evaluable=False, screened=120, excluded=screening.lines())
    texts = " | ".join(t.get_text() for t in fig.axes[0].texts)
    assert "All\nn = 120" in texts and "Excluded (n = 43)\nThird arm: 40\nAged under 18: 3 (1 not recorded)" in texts
    assert "Included in the analysis\nn = 77" in texts
    assert flow.Screening(77).values() == {} and flow.Screening(77).numbers() == {}
    assert screening.values(5) == {"flow.screened.n": 120, "flow.excluded": ["Third arm: hidden", "Aged under 18: < 5"]}
    assert flow.screening_shown(screening.values()) == {"screened": 120, "excluded": screening.lines()}
    plain = flow.plot_patient_flow(77, *arms, population="All", evaluable=False)
    assert "All\nn = 77" in [t.get_text() for t in plain.axes[0].texts]


def test_the_synthetic_study_has_no_protocol(tmp_path):
    s = load_study()
    assert s.inclusion == [] and s.file is None and protocol.protocol_columns(s) == []
    assert all(not s.outcome(e).status for e in s.endpoints) and all(v.missing is None for v in s.covariates)
    assert study_from_dict({"name": "x", "treatment": {"column": "a", "treated": 1, "control": 0},
                            "covariates": [{"column": "s", "levels": {0: "a", 1: "b"}}]}).inclusion == []  # fmt: skip


def test_the_readme_examples_of_the_protocol_are_valid_descriptions(tmp_path):
    """Each YAML example of the README's protocol section, set in a minimal description, loads."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("**Real files as they come: the protocol.**")[1].split("**What happens.**")[0]
    blocks = [textwrap.dedent(b) for b in re.findall(r"```yaml\n(.*?)```", section, flags=re.S)]
    assert len(blocks) == 5
    for i, block in enumerate(blocks):
        base = BASE.replace("id_column: pid\n", "") if "id_column" in block else BASE
        if "covariates:" in block:
            base = base.replace("covariates:\n  - {column: sex, label: Sex, levels: {f: Female, m: Male}}\n", "")
        if "outcomes:" in block:
            base = base.replace("outcomes:\n  os: {time: os_t, event: os_e, label: Overall survival}\n", "")
        loaded = study(tmp_path, block, base=base, name=f"readme{i}.yaml")
        coded = [e for e in loaded.endpoints if loaded.outcome(e).status]
        assert loaded.inclusion or loaded.file or coded or any(v.missing for v in loaded.covariates)


def test_the_example_satisfies_the_schema_editors_check():
    import jsonschema
    import yaml

    from psmbook.study.description import json_schema

    path = Path(__file__).resolve().parents[1] / "examples" / "actg175.yaml"
    raw = yaml.safe_load(path.read_text())
    jsonschema.validate(raw, json_schema())
    del raw["outcomes"]["efs"]["status"]  # neither a 0/1 event column nor a coded status
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, json_schema())
