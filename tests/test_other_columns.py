"""Columns kept for description (``other_columns``): declared in the study description, checked against
their type with the rows named, read as their type whatever the file format; the book's own exported
cohort reads back as the cohort it exported."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from psmbook.cohort import export, protocol, synthetic
from psmbook.cohort.validation import DataError, prepare_cohort, validate_cohort
from psmbook.study.description import load_study, study_from_dict

BASE = {
    "name": "small study",
    "id_column": "pid",
    "treatment": {"column": "arm", "treated": "t", "control": "c"},
    "covariates": [{"column": "sex", "levels": {"m": "Male", "f": "Female"}}],
    "outcomes": {"os": {"time": "months", "event": "died"}},
}
OTHER = {
    "nodes": {"type": "integer", "label": "Recurrent nodes"},
    "dose": {"type": "number", "label": "Dose (Gy)"},
    "schedule": "text",  # a bare type is short for {type: text}
    "confirmed": {"type": "flag"},
    "started": {"type": "date", "label": "Start of treatment"},
    "seen": {"type": "date", "date_format": "%d/%m/%Y"},
}


def _study(other=None):
    return study_from_dict({**BASE, "other_columns": OTHER if other is None else other})


def _data() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ["p1", "p2", "p3", "p4"],
            "arm": ["t", "c", "t", "c"],
            "sex": ["m", "f", "f", "m"],
            "months": [3.5, 10.0, 7.25, 1.0],
            "died": [1, 0, 1, 1],
            "nodes": [1, 2, None, 4],
            "dose": [50.4, 60.0, 59.4, None],
            "schedule": ["weekly", None, "weekly", "three_weekly"],
            "confirmed": [True, False, None, True],
            "started": pd.to_datetime(["2017-01-10", "2018-02-01", "2019-12-31", None]),
            "seen": ["31/01/2020", "01/02/2020", None, "15/03/2021"],
            "name": ["Ann", "Bob", "Cid", "Dee"],  # not described: dropped
        }
    )


def test_the_description_declares_other_columns_with_their_types():
    study = _study()
    assert list(study.other_columns) == list(OTHER)
    assert study.other_columns["schedule"].type == "text" and study.other_columns["nodes"].label == "Recurrent nodes"
    assert study.other_columns["seen"].expected == "a date written as '%d/%m/%Y'"
    with pytest.raises(ValueError, match=r"other_columns.nodes.type must be one of integer, number, text, flag, date"):
        _study({"nodes": {"type": "count"}})
    with pytest.raises(ValueError, match=r"unknown key other_columns.nodes.unit"):
        _study({"nodes": {"type": "integer", "unit": "nodes"}})
    with pytest.raises(ValueError, match="date_format goes with type: date"):
        _study({"nodes": {"type": "integer", "date_format": "%Y"}})
    with pytest.raises(
        ValueError,
        match=r"other_columns.sex is already the covariate sex; other_columns.arm is already the treatment arm",
    ):
        _study({"sex": "text", "arm": "text"})


def test_the_packaged_study_keeps_the_papers_facts():
    study = load_study()
    assert {"n_recurrent_nodes", "station_2r", "crt_start_date", "dp_schedule", "anlotinib_weeks"} <= set(
        study.other_columns
    )
    assert study.other_columns["crt_start_date"].type == "date" and study.other_columns["station_7"].type == "flag"


def test_other_columns_are_read_as_their_types_and_the_rest_dropped():
    prepared = prepare_cohort(_data(), _study())
    assert list(prepared.columns) == ["pid", "arm", "sex", "months", "died", *OTHER]
    assert str(prepared["nodes"].dtype) == "Int64" and prepared["nodes"].tolist()[:2] == [1, 2]
    assert prepared["nodes"].isna().tolist() == [False, False, True, False]
    assert prepared["dose"].dtype == float and prepared["dose"].iloc[2] == 59.4
    assert prepared["schedule"].tolist() == ["weekly", None, "weekly", "three_weekly"]
    assert str(prepared["confirmed"].dtype) == "boolean" and prepared["confirmed"].isna().sum() == 1
    assert prepared["started"].dtype == "datetime64[ns]" and prepared["started"].iloc[2] == pd.Timestamp("2019-12-31")
    assert prepared["seen"].iloc[3] == pd.Timestamp("2021-03-15") and pd.isna(prepared["seen"].iloc[2])
    assert "name" not in prepared


def test_csv_and_parquet_give_the_same_typed_columns(tmp_path):
    study = _study()
    data = _data()
    data.to_csv(tmp_path / "c.csv", index=False)
    data.to_parquet(tmp_path / "c.parquet", index=False)
    from_csv = protocol.load_cohort(tmp_path / "c.csv", study).cohort
    from_parquet = protocol.load_cohort(tmp_path / "c.parquet", study).cohort
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert from_csv["confirmed"].tolist()[:2] == [True, False]  # "True"/"False" text in the CSV


def test_a_missing_column_is_named_with_the_close_names():
    data = _data().rename(columns={"nodes": "Nodes", "dose": "dose_"})
    problems = validate_cohort(data, _study())
    assert "column 'nodes' (Recurrent nodes) is missing from the data; did you mean 'Nodes'?" in problems
    assert "column 'dose' (Dose (Gy)) is missing from the data; did you mean 'dose_'?" in problems


def test_values_of_the_wrong_type_are_named_with_their_rows():
    data = _data()
    data["nodes"] = [1, 2.5, "three", 4]
    data["confirmed"] = ["yes", False, None, True]
    data["started"] = ["2017-01-10", "10/01/2017", None, "2019-02-30"]
    data["dose"] = [50.4, "high", None, 60]
    with pytest.raises(DataError) as error:
        prepare_cohort(data, _study())
    problems = error.value.problems
    assert (
        "column 'nodes' (Recurrent nodes, other column of type integer): 2 values not a whole number: '2.5' (1 row), "
        "'three' (1 row) at rows 2, 3 (pid p2, p3); correct the values, or declare the column's type as it is "
        "(other_columns)" in problems
    )
    assert any(p.startswith("column 'confirmed' (other column of type flag): 1 value not true/false") for p in problems)
    assert any("column 'started'" in p and "rows 2, 4 (pid p2, p4)" in p and "2019-12-31" in p for p in problems)
    assert any("column 'dose'" in p and "'high' (1 row) at row 2 (pid p2)" in p for p in problems)
    assert len(problems) == 4


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_exported_synthetic_cohort_reads_back_as_the_generated_one(tmp_path, suffix):
    """Every column the packaged description keeps, with the generator's types and values to the bit."""
    study = load_study()
    path, _ = export.export_cohort(tmp_path / f"c5{suffix}", seed=5)
    read = protocol.load_cohort(path, study).cohort
    generated = synthetic.generate_cohort(5)
    kept = [c for c in generated.columns if c in read.columns]
    assert set(read.columns) <= set(generated.columns) and len(kept) == len(read.columns)
    pd.testing.assert_frame_equal(read[kept], generated[kept], check_exact=True)


def test_a_real_cohort_in_the_papers_layout_may_leave_facts_out(tmp_path):
    """A copy of the packaged description for real data: synthetic false, and a fact the data lack left out."""
    raw = yaml.safe_load(open(_packaged(), encoding="utf-8").read())
    raw["synthetic"] = False
    del raw["other_columns"]["station_7"]
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    study = load_study(tmp_path / "study.yaml")
    data = synthetic.generate_cohort(5).drop(columns=["station_7"])
    data.to_csv(tmp_path / "real.csv", index=False)
    cohort = protocol.load_cohort(tmp_path / "real.csv", study).cohort
    assert not study.synthetic and "station_7" not in cohort and cohort["station_2r"].dtype == bool


def _packaged() -> str:
    from importlib import resources

    return str(resources.files("psmbook").joinpath("data", "study_synthetic.yaml"))
