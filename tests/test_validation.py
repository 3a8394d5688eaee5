"""Checking an analyst's cohort against its study description: every problem named, with its rows."""

import gzip
import re

import numpy as np
import pandas as pd
import pytest

from psmbook.cohort import synthetic
from psmbook.cohort.reading import read_data, resolve_data_path
from psmbook.cohort.validation import (
    DataError,
    MatchingError,
    check_matchable,
    described_columns,
    prepare_cohort,
    validate_cohort,
)
from psmbook.study.codes import as_code
from psmbook.study.description import GENERATED_ID, load_study, study_from_dict

STUDY = {
    "name": "Drug + CRT vs CRT (test cohort)",
    "id_column": "pid",
    "treatment": {
        "column": "arm",
        "treated": "drug",
        "control": "ctl",
        "labels": {"drug": "CRT + Drug", "ctl": "CRT"},
    },
    "covariates": [
        {"column": "sex", "label": "Sex", "psm": True, "levels": {"m": "Male", "f": "Female"}},
        {"column": "ecog", "label": "ECOG", "psm": True, "levels": {0: "0", 1: "1"}},
        {
            "column": "age",
            "label": "Age",
            "psm": True,
            "levels": {"lt65": "< 65", "65_74": "65-74", "ge75": "≥ 75"},
            "bins": [18, 65, 75, 100],
        },
    ],
    "outcomes": {
        "os": {"time": "os_m", "event": "os_ev", "label": "Overall survival"},
        "pfs": {"time": "pfs_m", "event": "pfs_ev", "label": "Progression-free survival"},
        "time_unit": "months",
    },
    "response": {
        "column": "resp",
        "levels": {"cr": "CR", "pr": "PR", "sd": "SD", "pd": "PD", "ne": "NE"},
        "not_evaluable": "ne",
        "objective": ["cr", "pr"],
    },
}

TOXICITY = {
    "grade3_4": {"anemia": {"column": "g34_anemia", "label": "Anemia"}},
    "any_grade3_4": "g34_any",
    "drug_specific": {"hypertension": {"column": "drug_htn_grade", "label": "Hypertension"}},
    "dose_reduced": "drug_reduced",
}


@pytest.fixture
def study():
    return study_from_dict(STUDY, source="test_study.yaml")


@pytest.fixture
def tox_study():
    return study_from_dict({**STUDY, "toxicity": TOXICITY}, source="test_study.yaml")


def cohort() -> pd.DataFrame:
    """Eight valid patients, with columns the study does not describe (name, dates, hospital number)."""
    return pd.DataFrame(
        {
            "pid": [f"P{i:02d}" for i in range(1, 9)],
            "name": ["Ann", "Bob", "Cy", "Di", "Ed", "Flo", "Gus", "Hal"],
            "birth_date": pd.to_datetime(["1950-01-01"] * 8),
            "hospital_no": range(1001, 1009),
            "arm": ["drug"] * 4 + ["ctl"] * 4,
            "sex": ["m", "f", "m", "f", "m", "f", "m", "f"],
            "ecog": [0, 1, 0, 1, 1, 0, 0, 1],  # int in the data, text codes in the description
            "age": [18, 64.9, 65, 74.99, 75, 100, 50, 80],  # cut at 18 | 65 | 75 | 100
            "os_m": [10.0, 20.5, 3.0, 40.0, 12.0, 8.0, 30.0, 5.5],
            "os_ev": [1, 0, 1, 0, 1, 1, 0, 1],
            "pfs_m": [5.0, 20.5, 3.0, 12.0, 6.0, 8.0, 10.0, 2.0],
            "pfs_ev": [1, 0, 1, 1, 1, 1, 1, 1],
            "resp": ["cr", "pr", "ne", "sd", "pd", "pr", "sd", "cr"],
        }
    )


def tox_cohort() -> pd.DataFrame:
    data = cohort()
    data["g34_anemia"] = [True, False, False, True, False, False, False, False]
    data["g34_any"] = [1, 0, 0, 1, 0, 0, 1, 0]
    data["drug_htn_grade"] = [0, 2, 3, 0, np.nan, np.nan, np.nan, np.nan]  # treated arm only
    data["drug_reduced"] = [0.0, 1.0, 0.0, 0.0, np.nan, np.nan, np.nan, np.nan]
    return data


def one(problems, *words):
    """The single problem mentioning every word."""
    hits = [p for p in problems if all(w in p for w in words)]
    assert len(hits) == 1, f"expected one problem with {words}, got {problems}"
    return hits[0]


# ----------------------------------------------------------------------------------------------------
# A valid cohort


def test_valid_cohort_has_no_problems(study, tox_study):
    assert validate_cohort(cohort(), study) == []
    assert validate_cohort(tox_cohort(), tox_study) == []


def test_packaged_synthetic_cohort_is_valid():
    study = load_study()
    data = synthetic.generate_cohort(synthetic.DEFAULT_SEED)
    assert validate_cohort(data, study) == []
    prepared = prepare_cohort(data, study)
    assert list(prepared.columns) == list(described_columns(study))
    assert len(prepared) == len(data)
    # the paper's facts kept for description (other_columns), typed; the generator's other columns dropped
    assert prepared["crt_start_date"].dtype == "datetime64[ns]" and prepared["station_7"].dtype == bool
    assert "last_contact_date" not in prepared and "age_years" not in prepared


def test_codes_compare_as_text(study):
    data = cohort()
    data["ecog"] = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]  # floats from a CSV with gaps
    assert validate_cohort(data, study) == []
    data["ecog"] = ["0", " 1", "0", "1 ", "1", "0", "0", "1"]  # text, stray blanks
    assert validate_cohort(data, study) == []
    assert [as_code(v) for v in (1, 1.0, np.int64(2), " a ", 0.5, None, np.nan, "")] == [
        "1",
        "1",
        "2",
        "a",
        "0.5",
        None,
        None,
        None,
    ]


# ----------------------------------------------------------------------------------------------------
# Each kind of problem names the column, the rows / ids and what was expected


def test_missing_columns_are_named(study):
    data = cohort().drop(columns=["os_ev", "resp"]).rename(columns={"sex": "Sex"})
    problems = validate_cohort(data, study)
    assert "is missing from the data; did you mean 'Sex'?" in one(problems, "'sex'", "Sex")
    one(problems, "'os_ev'", "Overall survival event", "missing from the data")
    one(problems, "'resp'", "tumour response", "missing from the data")


def test_id_column_required_unless_generated(study):
    problems = validate_cohort(cohort().drop(columns="pid"), study)
    assert problems == ["column 'pid' (patient id) is missing from the data"]
    generated = study_from_dict({k: v for k, v in STUDY.items() if k != "id_column"})
    assert generated.id_column == GENERATED_ID
    assert validate_cohort(cohort().drop(columns="pid"), generated) == []


def test_duplicate_ids(study):
    data = cohort()
    data.loc[[2, 5], "pid"] = "P01"
    p = one(validate_cohort(data, study), "'pid'", "more than one row")
    assert "'P01' (rows 1, 3, 6)" in p


def test_missing_ids(study):
    data = cohort()
    data.loc[3, "pid"] = None
    p = one(validate_cohort(data, study), "'pid'", "without an id")
    assert "1 patient without an id at row 4" in p


def test_unknown_treatment_codes(study):
    data = cohort()
    data.loc[[1, 6], "arm"] = ["Drug", "placebo"]
    p = one(validate_cohort(data, study), "'arm'", "treatment arm", "not among the codes")
    assert "'Drug' (1 row), 'placebo' (1 row)" in p
    assert "rows 2, 7 (pid P02, P07)" in p
    assert "expected one of 'drug', 'ctl'" in p


def test_missing_treatment(study):
    data = cohort()
    data.loc[0, "arm"] = np.nan
    p = one(validate_cohort(data, study), "'arm'", "missing value")
    assert "row 1 (pid P01)" in p and "'drug', 'ctl'" in p


def test_arm_without_patients(study):
    data = cohort()
    data["arm"] = "ctl"
    p = one(validate_cohort(data, study), "'arm'", "no patient in the arm")
    assert "'drug' (CRT + Drug)" in p


def test_unknown_covariate_codes_with_counts(study):
    data = cohort()
    data.loc[[0, 2, 4], "sex"] = ["M", "M", "x"]
    data.loc[5, "ecog"] = 2
    problems = validate_cohort(data, study)
    p = one(problems, "'sex'", "Sex")
    assert "3 values" in p and "'M' (2 rows), 'x' (1 row)" in p
    assert "rows 1, 3, 5 (pid P01, P03, P05)" in p and "expected one of 'm', 'f'" in p
    p = one(problems, "'ecog'")
    assert "'2' (1 row)" in p and "row 6 (pid P06)" in p and "expected one of '0', '1'" in p


def test_missing_covariate(study):
    data = cohort()
    data.loc[[1, 2], "sex"] = [None, "  "]
    p = one(validate_cohort(data, study), "'sex'", "missing value")
    assert "2 missing values at rows 2, 3 (pid P02, P03)" in p and "'m', 'f'" in p


def test_binned_covariate_problems(study):
    data = cohort()
    data["age"] = data["age"].astype(object)
    data.loc[[0, 1, 2, 3], "age"] = ["old", None, 17.5, 101]
    problems = validate_cohort(data, study)
    p = one(problems, "'age'", "not a number")
    assert "'old' (1 row)" in p and "row 1 (pid P01)" in p and "from 18 to 100" in p
    assert "row 2 (pid P02)" in one(problems, "'age'", "missing value")
    p = one(problems, "'age'", "outside [18, 100]")
    assert "'17.5' (1 row), '101' (1 row)" in p and "rows 3, 4 (pid P03, P04)" in p


def test_binned_covariate_given_as_codes_gets_a_hint(study):
    data = cohort()
    data["age"] = ["lt65", "lt65", "65_74", "65_74", "ge75", "ge75", "lt65", "ge75"]
    p = one(validate_cohort(data, study), "'age'", "not a number")
    assert "must hold the measurement, not the level codes" in p


def test_endpoint_times(study):
    data = cohort()
    data["os_m"] = data["os_m"].astype(object)
    data.loc[[0, 1, 2], "os_m"] = [None, "ten", -1.5]
    problems = validate_cohort(data, study)
    assert "row 1 (pid P01)" in one(problems, "'os_m'", "missing time")
    p = one(problems, "'os_m'", "not a number")
    assert "'ten' (1 row)" in p and "row 2 (pid P02)" in p and ">= 0 (months)" in p
    p = one(problems, "'os_m'", "negative time")
    assert "'-1.5' (1 row)" in p and "row 3 (pid P03)" in p


def test_event_flags(study):
    data = cohort()
    data["pfs_ev"] = data["pfs_ev"].astype(object)
    data.loc[[3, 4], "pfs_ev"] = [2, "yes"]
    data.loc[5, "pfs_ev"] = None
    problems = validate_cohort(data, study)
    p = one(problems, "'pfs_ev'", "not 0/1")
    assert "'2' (1 row), 'yes' (1 row)" in p and "rows 4, 5 (pid P04, P05)" in p and "expected 0 or 1" in p
    assert "row 6 (pid P06)" in one(problems, "'pfs_ev'", "missing value")


@pytest.mark.parametrize("flags", [[True, False] * 4, [1.0, 0.0] * 4, ["1", "0"] * 4, ["TRUE", "false"] * 4])
def test_event_flags_accept_bool_float_and_text(study, flags):
    data = cohort()
    data["os_ev"] = flags
    assert validate_cohort(data, study) == []


def test_pfs_longer_than_os(study):
    data = cohort()
    data.loc[1, "pfs_m"] = data.loc[1, "os_m"] + 1e-12  # within the tolerance
    data.loc[[3, 6], "pfs_m"] = [41.0, 31.0]
    p = one(validate_cohort(data, study), "'pfs_m'", "'os_m'")
    assert "longer than overall survival for 2 patients at rows 4, 7 (pid P04, P07)" in p
    assert "pfs_m <= os_m" in p


def test_response_codes(study):
    data = cohort()
    data.loc[[0, 1], "resp"] = ["CR", None]
    problems = validate_cohort(data, study)
    p = one(problems, "'resp'", "not among the codes")
    assert "'CR' (1 row)" in p and "row 1 (pid P01)" in p and "'cr', 'pr', 'sd', 'pd', 'ne'" in p
    assert "not-evaluable code 'ne'" in one(problems, "'resp'", "missing value")


def test_toxicity_columns(tox_study):
    data = tox_cohort()
    data["g34_anemia"] = data["g34_anemia"].astype(object)
    data.loc[0, "g34_anemia"] = "G3"
    data.loc[[1, 6], "drug_htn_grade"] = [2.5, 7]  # a control patient's grade is still checked
    data.loc[2, "drug_reduced"] = np.nan  # missing in the treated arm
    problems = validate_cohort(data, tox_study)
    p = one(problems, "'g34_anemia'", "not 0/1")
    assert "'G3' (1 row)" in p and "row 1 (pid P01)" in p
    p = one(problems, "'drug_htn_grade'", "not a grade")
    assert "'2.5' (1 row), '7' (1 row)" in p and "rows 2, 7 (pid P02, P07)" in p and "0 (no event) to 5" in p
    p = one(problems, "'drug_reduced'", "missing value")
    assert "in the treated arm at row 3 (pid P03)" in p
    assert len(problems) == 3  # missing drug columns in the control arm are fine


def test_toxicity_missing_columns_reported_once(tox_study):
    problems = validate_cohort(tox_cohort().drop(columns=["g34_any", "drug_htn_grade"]), tox_study)
    assert len(problems) == 2
    one(problems, "'g34_any'", "missing from the data")
    one(problems, "'drug_htn_grade'", "missing from the data")


def test_toxicity_without_arms_checks_recorded_values_only(tox_study):
    data = tox_cohort().drop(columns="arm")
    data.loc[5, "drug_htn_grade"] = 9
    problems = validate_cohort(data, tox_study)
    assert len(problems) == 2, problems
    one(problems, "'arm'", "missing from the data")
    assert "row 6 (pid P06)" in one(problems, "'drug_htn_grade'", "not a grade")


def test_long_row_lists_are_cut(study):
    data = pd.concat([cohort()] * 2, ignore_index=True)
    data["pid"] = [f"P{i:02d}" for i in range(1, 17)]
    data["sex"] = "?"
    p = one(validate_cohort(data, study), "'sex'")
    assert "16 values" in p and "'?' (16 rows)" in p
    assert "rows 1, 2, 3, 4, 5 and 11 more (pid P01, P02, P03, P04, P05, …)" in p


def test_every_problem_reported_at_once(study):
    data = cohort().drop(columns="resp")
    data.loc[0, "arm"] = "x"
    data.loc[1, "sex"] = "y"
    data.loc[2, "os_m"] = -3.0
    data.loc[3, "pid"] = "P01"
    problems = validate_cohort(data, study)
    assert len(problems) == 6  # resp missing, pid duplicate, arm, sex, os_m negative, pfs > os (row 3)
    with pytest.raises(DataError) as info:
        prepare_cohort(data, study, source="cohort.csv")
    err = info.value
    assert err.problems == problems
    lines = str(err).splitlines()
    assert lines[0] == "the data cohort.csv do not match the study description test_study.yaml:"
    assert lines[1:7] == [f"  - {p}" for p in problems]
    assert lines[7:] == ["(rows are data rows numbered from 1, the header not counted)"]
    assert isinstance(err, ValueError)


def test_empty_data(study):
    problems = validate_cohort(cohort().iloc[:0], study)
    assert problems == ["the data have no rows (no patients)"]


# ----------------------------------------------------------------------------------------------------
# The analysis frame


def test_prepare_keeps_only_described_columns(study):
    prepared = prepare_cohort(cohort(), study)
    assert list(prepared.columns) == [
        "pid",
        "arm",
        "sex",
        "ecog",
        "age",
        "os_m",
        "os_ev",
        "pfs_m",
        "pfs_ev",
        "resp",
    ]
    assert not {"name", "birth_date", "hospital_no"} & set(prepared.columns)
    assert prepared["pid"].tolist() == cohort()["pid"].tolist()  # row order kept


def test_prepare_types(study):
    data = cohort()
    data["os_ev"] = [True, False, True, False, True, True, False, True]
    data["os_m"] = [10, 21, 3, 40, 12, 8, 30, 6]  # whole months, read as int
    prepared = prepare_cohort(data, study)
    assert prepared["ecog"].tolist() == ["0", "1", "0", "1", "1", "0", "0", "1"]
    assert prepared["os_ev"].dtype == np.int64 and prepared["os_ev"].tolist() == [1, 0, 1, 0, 1, 1, 0, 1]
    assert prepared["pfs_ev"].dtype == np.int64
    assert prepared["os_m"].dtype == float and prepared["pfs_m"].dtype == float
    for column in ("arm", "sex", "ecog", "age", "resp"):
        assert prepared[column].dtype == object, column
    assert not isinstance(prepared["age"].dtype, pd.CategoricalDtype)


def test_prepare_cuts_bins_at_their_edges(study):
    prepared = prepare_cohort(cohort(), study)
    # ages 18, 64.9, 65, 74.99, 75, 100, 50, 80: lower edges closed, the last interval closed too
    assert prepared["age"].tolist() == ["lt65", "lt65", "65_74", "65_74", "ge75", "ge75", "lt65", "ge75"]


def test_prepare_makes_ids_from_row_numbers(study):
    generated = study_from_dict({k: v for k, v in STUDY.items() if k != "id_column"})
    data = cohort().drop(columns="pid")
    data.index = [10, 3, 7, 1, 2, 9, 8, 4]  # a filtered frame: index labels are not rows
    prepared = prepare_cohort(data, generated)
    assert prepared.columns[0] == GENERATED_ID
    assert prepared[GENERATED_ID].tolist() == list(range(1, 9))
    assert prepared[GENERATED_ID].dtype == np.int64
    assert prepared["sex"].tolist() == data["sex"].tolist()


def test_prepare_toxicity(tox_study):
    prepared = prepare_cohort(tox_cohort(), tox_study)
    assert prepared["g34_anemia"].dtype == bool and prepared["g34_any"].dtype == bool
    assert prepared["drug_htn_grade"].tolist()[:4] == [0, 2, 3, 0]
    assert prepared["drug_htn_grade"].isna().tolist()[4:] == [True] * 4
    assert prepared["drug_reduced"].tolist()[:4] == [False, True, False, False]


def test_prepare_names_the_file_read(tmp_path, study):
    bad = cohort()
    bad.loc[0, "sex"] = "x"
    path = tmp_path / "cohort.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(
        DataError, match=re.escape(f"the data {path} do not match the study description test_study.yaml:")
    ):
        prepare_cohort(read_data(path), study)


# ----------------------------------------------------------------------------------------------------
# Reading data files


@pytest.mark.parametrize(
    "name",
    ["cohort.csv", "cohort.tsv", "cohort.tab", "cohort.csv.gz", "cohort.parquet", "cohort.pq", "COHORT.CSV"],
)
def test_read_data_formats(tmp_path, study, name):
    data = cohort().drop(columns="birth_date")
    path = tmp_path / name
    lower = name.lower()
    if lower.endswith((".parquet", ".pq")):
        data.to_parquet(path)
    elif lower.endswith(".csv.gz"):
        with gzip.open(path, "wt") as handle:
            data.to_csv(handle, index=False)
    else:
        data.to_csv(path, index=False, sep="\t" if lower.endswith((".tsv", ".tab")) else ",")
    read = read_data(path)
    pd.testing.assert_frame_equal(read, data, check_dtype=False)
    assert read.attrs["source"] == str(path)
    assert validate_cohort(read, study) == []


def test_read_data_from_a_package():
    path = resolve_data_path("pkg:lifelines/datasets/lymph_node.csv")
    assert path.is_file() and path.name == "lymph_node.csv"
    data = read_data("pkg:lifelines/datasets/lymph_node.csv")
    assert len(data) == 686 and "rectime" in data


def test_real_packaged_cohort_validates_and_loses_its_dates():
    """The German Breast Cancer Study Group 2 data shipped with lifelines: integer codes in the data,
    integer keys in the description, tumour size cut by bins."""
    gbsg = study_from_dict(
        {
            "name": "GBSG2",
            "id_column": "id",
            "treatment": {"column": "hormone", "treated": 2, "control": 1},
            "covariates": [
                {"column": "menopause", "label": "Menopause", "psm": True, "levels": {1: "pre", 2: "post"}},
                {"column": "grade", "label": "Grade", "psm": True, "levels": {1: "1", 2: "2", 3: "3"}},
                {
                    "column": "size",
                    "label": "Size",
                    "psm": True,
                    "levels": {"le20": "≤ 20 mm", "gt20": "> 20 mm"},
                    "bins": [0, 20.5, 200],
                },
            ],
            "outcomes": {
                "pfs": {"time": "rectime", "event": "censrec"},
                "os": {"time": "survtime", "event": "censdead"},
                "time_unit": "days",
            },
        }
    )
    data = read_data("pkg:lifelines/datasets/lymph_node.csv")
    assert validate_cohort(data, gbsg) == []
    prepared = prepare_cohort(data, gbsg)
    assert not {"diagdateb", "recdate", "deathdate", "age"} & set(prepared.columns)
    assert set(prepared["hormone"]) == {"1", "2"}
    assert (prepared["size"] == "le20").sum() == (data["size"] <= 20).sum()


def test_read_data_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found: .*nowhere.csv"):
        read_data(tmp_path / "nowhere.csv")
    with pytest.raises(FileNotFoundError, match="is a folder"):
        read_data(tmp_path)
    odd = tmp_path / "cohort.xlsx"
    odd.write_text("x")
    with pytest.raises(
        DataError,
        match=r"cohort.xlsx cannot be used:\n  - unknown file type '.xlsx'; "
        r"expected one of .csv",
    ):
        read_data(odd)
    broken = tmp_path / "cohort.parquet"
    broken.write_text("not parquet at all")
    with pytest.raises(DataError, match="cohort.parquet cannot be used:\n  - cannot be read as Parquet"):
        read_data(broken)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="cannot be read as delimited text"):
        read_data(empty)


def test_package_path_errors():
    with pytest.raises(FileNotFoundError, match="no installed package 'no_such_package_xyz'"):
        read_data("pkg:no_such_package_xyz/data.csv")
    with pytest.raises(FileNotFoundError, match="no file 'datasets/missing.csv' in package 'lifelines'"):
        read_data("pkg:lifelines/datasets/missing.csv")
    with pytest.raises(FileNotFoundError, match="expected pkg:<package>/<path inside the package>"):
        resolve_data_path("pkg:lifelines")


# ----------------------------------------------------------------------------------------------------
# Matching


def test_check_matchable():
    check_matchable(3, 76, "0.2 SD of the logit PS")  # some pairs: fine
    with pytest.raises(MatchingError) as info:
        check_matchable(0, 76, "0.01 SD of the logit PS")
    message = str(info.value)
    assert "no treated patient (of 76)" in message and "0.01 SD of the logit PS" in message
    assert "widen the caliper" in message and "caliper=none" in message
    with pytest.raises(MatchingError, match="no treated patient to match"):
        check_matchable(0, 0, "0.2")
    assert issubclass(MatchingError, ValueError)
