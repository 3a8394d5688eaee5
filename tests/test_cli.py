"""The command line: cohort export with its data dictionary, and clear errors."""

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
