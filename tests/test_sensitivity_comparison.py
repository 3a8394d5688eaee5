"""Sensitivity helpers (E-value, ATT weights) and the reproduced-vs-published comparison."""

import json
import math

import pandas as pd
import pytest

from psmbook.analysis import sensitivity
from psmbook.paper import comparison
from psmbook.study.published import PublishedNumber


def test_e_value_matches_vanderweele_and_ding():
    # Rare outcome, RR = 3.9: E = 3.9 + sqrt(3.9 * 2.9) = 7.26 (VanderWeele & Ding 2017, worked example)
    point, limit = sensitivity.e_value(3.9, 1.8, 8.7, common_outcome=False)
    assert point == pytest.approx(3.9 + math.sqrt(3.9 * 2.9))
    assert limit == pytest.approx(1.8 + math.sqrt(1.8 * 0.8))
    # A protective HR is inverted; a CI that crosses 1 has limit E-value 1
    assert sensitivity.e_value(0.5, 0.2, 1.1, common_outcome=False) == (pytest.approx(2 + math.sqrt(2)), 1.0)
    # Common outcome: HR 0.5 -> RR (1 - 0.5**0.7071) / (1 - 0.5**1.4142) = 0.6136
    assert sensitivity.hr_to_rr(0.5) == pytest.approx((1 - 0.5 ** math.sqrt(0.5)) / (1 - 0.5 ** math.sqrt(2)))


def test_att_weights_are_one_for_treated_and_odds_for_controls():
    w = sensitivity.att_weights(pd.Series([0.2, 0.5, 0.8]), pd.Series([True, False, False]))
    assert w.tolist() == pytest.approx([1.0, 1.0, 4.0])


def test_main_sensitivity_analyses_run_on_the_default_cohort():
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.study.description import load_study

    study = load_study()
    cohort = generate_cohort().set_index("patient_id")
    covariates = [v.column for v in study.psm_covariates]
    main = sensitivity.matched_estimate(cohort, study, label="main", covariates=covariates)
    assert main.treated == 68 and main.controls == 68 and main.ci_low < main.hr < main.ci_high
    ipw = sensitivity.weighted_estimate(cohort, study, label="IPW", covariates=covariates)
    assert ipw.treated == 76 and ipw.controls == 215 and 0.3 < ipw.hr < 1.2


def test_comparison_uses_tolerances_and_aliases(tmp_path):
    (tmp_path / "response.json").write_text(
        json.dumps(
            {
                "chapter": "response",
                "values": {
                    "table2.after.pr.anlotinib.pct": 55.0,
                    "table2.after.pr.anlotinib.n": 37,
                    "text.survival.os.after.p": 0.2,
                },
            }
        )
    )
    results = comparison.load_results(tmp_path)
    published = {
        "abstract.response.after.pr.anlotinib.pct": PublishedNumber(
            "abstract.response.after.pr.anlotinib.pct", 58.8, "Abstract", "percent"
        ),
        "table2.after.pr.anlotinib.n": PublishedNumber("table2.after.pr.anlotinib.n", 40, "Table 2", "count"),
        "text.survival.os.after.p": PublishedNumber("text.survival.os.after.p", 0.008, "Text", "p"),
        "text.cohort.period.start": PublishedNumber("text.cohort.period.start", "2017-01", "Text", "date"),
    }
    table = comparison.compare(results, published).set_index("id")
    assert table.loc["abstract.response.after.pr.anlotinib.pct", "computed_as"] == "table2.after.pr.anlotinib.pct"
    assert table.loc["abstract.response.after.pr.anlotinib.pct", "agrees"]  # 3.8 pp
    assert not table.loc["table2.after.pr.anlotinib.n", "agrees"]  # counts must be exact
    assert not table.loc["text.survival.os.after.p", "agrees"]  # other side of 0.05
    assert "text.cohort.period.start" not in table.index
