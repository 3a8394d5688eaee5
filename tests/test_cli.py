"""The command line: cohort export with its data dictionary, and clear errors."""

from pathlib import Path

import pandas as pd
import pytest

from psmbook.cli import main
from psmbook.cohort.synthetic import generate_cohort


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_cohort_export_writes_the_cohort_and_its_dictionary(tmp_path, suffix, capsys):
    out = tmp_path / f"cohort{suffix}"
    assert main(["cohort", "--seed", "7", "--out", str(out)]) == 0
    data = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(data) == 291 and data["patient_id"].tolist() == generate_cohort(7)["patient_id"].tolist()
    assert (data["arm"] == "anlotinib").sum() == 76
    dictionary = pd.read_csv(tmp_path / "cohort.dictionary.csv")
    assert set(data.columns) <= set(dictionary["column"])
    assert "written to" in capsys.readouterr().out


def test_unknown_format_is_an_error_naming_the_option(tmp_path, capsys):
    assert main(["cohort", "--out", str(tmp_path / "cohort.xlsx")]) == 2
    assert "--out" in capsys.readouterr().err and not (tmp_path / "cohort.xlsx").exists()


def test_bad_parameter_is_refused_before_anything_runs(capsys):
    assert main(["build", "-p", "caliper=-1"]) == 2
    assert "caliper='-1': must be a positive number" in capsys.readouterr().err


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"psmbook {version('psmbook')}"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_match_writes_the_matched_data_as_match_data_does(tmp_path, suffix, capsys):
    from psmbook.matching.export import match_data
    from psmbook.study.description import load_study

    out = tmp_path / f"matched{suffix}"
    assert main(["match", "--out", str(out)]) == 0
    data = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(data) == 136 and data["subclass"].nunique() == 68 and (data.groupby("subclass").size() == 2).all()
    assert (data["weights"] == 1).all() and data["distance"].between(0, 1).all()
    assert data.groupby("subclass")["arm"].nunique().eq(2).all()  # one treated, one control per set
    again = match_data(generate_cohort(20250531), load_study())
    pd.testing.assert_frame_equal(data[["patient_id", "subclass"]], again[["patient_id", "subclass"]])
    assert "68 of 76 treated patients matched to 68 controls in 68 sets" in capsys.readouterr().out


def test_match_options_and_errors(tmp_path, capsys):
    out = tmp_path / "m.csv"
    assert main(["match", "--out", str(out), "--ratio", "2", "--caliper", "none", "--covariates", "age_group,sex"]) == 0
    data = pd.read_csv(out)
    assert (data["arm"] == "anlotinib").sum() == 76 and (data["arm"] == "crt").sum() == 152
    assert main(["match", "--out", str(tmp_path / "m.xlsx")]) == 2
    assert "--out" in capsys.readouterr().err and not (tmp_path / "m.xlsx").exists()
    assert main(["match", "--out", str(out), "--covariates", "height"]) == 2
    assert "'height'" in capsys.readouterr().err
    assert main(["match", "--out", str(out), "--data", "x.csv"]) == 2
    assert "--data and --study go together" in capsys.readouterr().err


def test_bad_data_exits_with_1_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    generate_cohort(7).drop(columns=["sex"]).to_csv(bad, index=False)
    out = tmp_path / "m.csv"
    study = str(Path(__file__).resolve().parents[1] / "src" / "psmbook" / "data" / "study_synthetic.yaml")
    assert main(["match", "--out", str(out), "--data", str(bad), "--study", study]) == 1
    assert "'sex'" in capsys.readouterr().err and not out.exists()
