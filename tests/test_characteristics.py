"""Recurrence/treatment table, calibration summary and Kaplan–Meier helpers on small data."""

import pandas as pd
import pytest

from psmbook.analysis.characteristics import recurrence_and_treatment
from psmbook.analysis.km import fit_by_arm, survival_at
from psmbook.cohort.calibration import calibration_summary
from psmbook.study.description import load_study


@pytest.fixture(scope="module")
def study():
    return load_study()


def test_recurrence_table_counts_and_skips_missing_columns(study):
    df = pd.DataFrame(
        {
            "arm": ["anlotinib", "anlotinib", "crt", "crt", "crt"],
            "n_recurrent_nodes": [1, 3, 1, 1, 2],
            "months_surgery_to_recurrence": [2, 20, 11, 5, 68],
            "anlotinib_start_dose_mg": [12, 10, None, None, None],
        }
    )
    table = recurrence_and_treatment(df, study).droplevel("section")
    one = table.loc["Recurrent nodes: 1"]
    assert one["CRT + Anlotinib"] == "1 (50.0%)" and one["CRT"] == "2 (66.7%)"
    assert one["All patients"] == "3 (60.0%)" and one["Published"] == "79 (27.1%)"
    months = table.loc["Months from surgery to recurrence, median (range)"]
    assert months["All patients"] == "11 (2–68)" and months["CRT + Anlotinib"] == "11 (2–20)"
    dose = table.loc["Started at 12 mg"]
    assert dose["CRT + Anlotinib"] == "1 (50.0%)" and dose["CRT"] == "–"
    assert "(matched)" in dose["Published"]
    assert "Station 2R involved" not in table.index  # no station columns in these data


def test_calibration_summary_counts_what_meets_the_target():
    report = pd.DataFrame(
        {
            "published_id": [
                "table1.before.n.crt",
                "table1.before.sex.male.crt.n",
                "text.survival.os.before.1y.crt",
            ],
            "passed": [True, False, True],
            "tolerance": ["exact", "exact", "±5 pp"],
            "difference": [0.0, -2.0, 1.5],
        }
    )
    summary = calibration_summary(report)
    row = summary.loc["Table 1 counts, before matching"]
    assert row["quantities"] == 2 and row["meet the target"] == 1 and row["largest |difference|"] == 2.0
    assert summary.loc["Survival: event totals and Kaplan–Meier landmarks", "tolerance"] == "±5 pp"


def test_kaplan_meier_by_arm_matches_a_hand_computation(study):
    # Treated: times 2, 4+, 6, 8 -> S(5) = 3/4 = 75%; S(7) = 3/4 * 1/2 = 37.5%
    df = pd.DataFrame({"arm": ["anlotinib"] * 4 + ["crt"] * 2, "t": [2, 4, 6, 8, 1, 3], "e": [1, 0, 1, 1, 1, 1]})
    fits = fit_by_arm(df, study, "t", "e")
    assert list(fits) == ["anlotinib", "crt"]
    assert survival_at(fits["anlotinib"], 5) == pytest.approx(75.0)
    assert survival_at(fits["anlotinib"], 7) == pytest.approx(37.5)
    with pytest.raises(ValueError, match="no patients in arm 'crt'"):
        fit_by_arm(df[df.arm == "anlotinib"], study, "t", "e")
