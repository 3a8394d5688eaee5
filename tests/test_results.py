import json

import numpy as np
import pytest

from psmbook.book.results import read_results, write_results


def test_results_round_trip_with_numpy_values(tmp_path):
    path = write_results(
        "cohort",
        {"b.n": np.float64(3.0), "a.pct": np.float64(61.8), "c": np.nan},
        parameters={"seed": 7},
        results_dir=tmp_path,
    )
    payload = json.loads(path.read_text())
    assert payload["chapter"] == "cohort"
    assert payload["parameters"] == {"seed": 7}
    assert list(payload["values"]) == ["a.pct", "b.n", "c"]
    assert read_results("cohort", tmp_path) == {"a.pct": 61.8, "b.n": 3, "c": None}


def test_reading_a_chapter_that_has_not_run_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="the 'matching' chapter must run first"):
        read_results("matching", tmp_path)
