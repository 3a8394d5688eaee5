"""Sensitivity helpers (E-value, ATT weights) and the reproduced-vs-published comparison."""

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


def test_comparison_uses_tolerances_and_aliases():
    results = comparison.merge_results(
        {
            "response": {
                "table2.after.pr.anlotinib.pct": 55.0,
                "table2.after.pr.anlotinib.n": 37,
                "text.survival.os.after.p": 0.2,
            }
        }
    )
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
    assert table.loc["table2.after.pr.anlotinib.n", "chapter"] == "response"


def test_merge_results_keys_each_number_by_its_chapter():
    merged = comparison.merge_results({"cohort": {"a.n": 3}, "survival": {"b.p": 0.2}})
    assert merged == {"a.n": ("cohort", 3), "b.p": ("survival", 0.2)}


def _comparison_table():
    return pd.DataFrame(
        {
            "section": ["Table 1", "Table 1", "Text"],
            "kind": ["count", "count", "p"],
            "agrees": [True, False, True],
            "tolerance": ["exact", "exact", "same side of 0.05"],
            "computed_as": ["t1.a.n", "t1.b.n", "text.p"],
        }
    )


def test_agreement_numbers_separate_calibrated_from_free_numbers():
    table = comparison.mark_calibrated(_comparison_table(), ["t1.a.n", "t1.b.n"])
    numbers = comparison.agreement_numbers(table)
    assert (numbers["n_compared"], numbers["n_agree"], numbers["n_calibrated"]) == (3, 2, 2)
    assert (numbers["n_free"], numbers["n_free_agree"]) == (1, 1)
    calibrated = numbers["calibrated_agreement"].loc[("Table 1", "count")]
    assert (calibrated["numbers"], calibrated["agree"], calibrated["tolerance"]) == (2, 1, "exact")


def test_audit_numbers_and_discussion_values():
    audit_frame = pd.DataFrame(
        {"check": ["p", "p", "hr"], "verdict": ["consistent", "inconsistent", "needs an unstated choice"]}
    )
    numbers = comparison.audit_numbers(audit_frame)
    assert (numbers["n_checks"], numbers["n_inconsistent"], numbers["n_unstated"]) == (3, 1, 1)
    assert numbers["audit_by_verdict"].loc["p", "inconsistent"] == 1
    estimates = [sensitivity.Estimate("main", 0.5, 0.3, 0.8, 0.004, 68, 68, "Cox")]
    table = comparison.mark_calibrated(_comparison_table(), ["t1.a.n"])
    values = comparison.discussion_values(table, audit_frame, estimates)
    assert values["discussion.compared.not_calibrated.n"] == 2 and values["discussion.audit.inconsistent"] == 1
    assert values["discussion.sensitivity.00.hr"] == 0.5 and values["discussion.sensitivity.00.controls"] == 68
    assert (values["discussion.e_value.point"], values["discussion.e_value.ci"]) == sensitivity.e_value(0.5, 0.3, 0.8)


def test_sensitivity_numbers_for_the_prose():
    estimates = [
        sensitivity.Estimate("main", 0.5, 0.3, 0.8, 0.004, 68, 68, "Cox"),
        sensitivity.Estimate("no caliper", 0.7, 0.45, 1.1, 0.1, 76, 76, "Cox"),
    ]
    numbers = sensitivity.sensitivity_numbers(estimates, truth=0.6)
    assert numbers["main_hr"] == "0.50 (95% CI 0.30–0.80)" and numbers["hr_range"] == "0.50 to 0.70"
    assert numbers["n_analyses"] == 2 and numbers["n_significant"] == 1
    assert numbers["e_point"] == f"{sensitivity.e_value(0.5, 0.3, 0.8)[0]:.2f}" and "0.600" in numbers["truth"]
    assert sensitivity.sensitivity_numbers(estimates)["truth"] == ""
