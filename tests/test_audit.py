"""Tests of psmbook.paper.audit: the paper's internal inconsistencies are found with their real numbers, checks
that hold are reported as consistent, and a doctored set of published numbers is caught.

Expected values are worked by hand here (formulas written out), not taken from the module under test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest

from psmbook.paper.audit import (
    CHECKS,
    VERDICTS,
    Finding,
    audit_summary,
    audit_table,
    denominator_id,  # coverage of every printed percentage
    implied_counts,
    not_checkable,
    provenance_note,
    run_audit,
    wald_check,
)
from psmbook.study.published import load_published, published_source, select


@pytest.fixture(scope="module")
def findings() -> list[Finding]:
    return run_audit()


@pytest.fixture(scope="module")
def by_key(findings) -> dict[str, Finding]:
    return {f.key: f for f in findings}


def doctored(**changes) -> dict:
    """The published numbers with some values changed (id with dots written as __)."""
    numbers = load_published()
    for key, value in changes.items():
        id_ = key.replace("__", ".")
        assert id_ in numbers, id_
        numbers[id_] = dataclasses.replace(numbers[id_], value=value, printed=None)
    return numbers


def wald_p(hr, low, high):
    """Two-sided Wald p from a printed HR and 95% CI, by hand: SE from the CI width on the log scale."""
    se = (math.log(high) - math.log(low)) / (2 * 1.959963984540054)
    z = abs(math.log(hr)) / se
    return math.erfc(z / math.sqrt(2))


def pearson_2x2(a, b, c, d, yates=False):
    """Pearson χ² p of [[a, b], [c, d]] (1 df), optionally with Yates's correction, by formula."""
    n = a + b + c + d
    num = abs(a * d - b * c)
    if yates:
        num = max(0.0, num - n / 2)
    x2 = n * num**2 / ((a + b) * (c + d) * (a + c) * (b + d))
    return math.erfc(math.sqrt(x2 / 2))


# ----------------------------------------------------------------------------------------------------
# Shape of the audit


def test_findings_are_well_formed(findings):
    assert len(findings) > 300  # every check, consistent ones included
    keys = [f.key for f in findings]
    assert len(keys) == len(set(keys)), "keys are unique"
    numbers = load_published()
    for f in findings:
        assert f.check in CHECKS and f.verdict in VERDICTS
        assert f.where and f.printed and f.recomputed and f.explanation
        assert f.ids and all(i in numbers for i in f.ids), f.key
    assert {f.check for f in findings} == set(CHECKS)
    assert {f.verdict for f in findings} == set(VERDICTS)


def test_finding_rejects_unknown_check_or_verdict():
    with pytest.raises(ValueError, match="unknown check"):
        Finding("typo", "x", ("a",), "p", "r", "consistent", "e")
    with pytest.raises(ValueError, match="unknown verdict"):
        Finding("date", "x", ("a",), "p", "r", "wrong", "e")


def test_summary_counts_every_finding(findings):
    summary = audit_summary(findings)
    assert summary.loc["total", "total"] == len(findings)
    for verdict in VERDICTS:
        assert summary.loc["total", verdict] == sum(f.verdict == verdict for f in findings)
    assert summary.loc["percentage", "inconsistent"] == 1
    assert summary.loc["p-value", "inconsistent"] == 0


def test_audit_table_sorts_and_filters(findings):
    table = audit_table(findings)
    assert list(table.columns[:6]) == ["check", "where", "printed", "recomputed", "verdict", "explanation"]
    assert len(table) == len(findings)
    order = [VERDICTS.index(v) for v in table["verdict"]]
    assert order == sorted(order)
    problems = audit_table(findings, verdicts=["inconsistent"])
    assert set(problems["verdict"]) == {"inconsistent"}
    assert len(problems) == sum(f.verdict == "inconsistent" for f in findings)
    with pytest.raises(ValueError, match="unknown verdict"):
        audit_table(findings, verdicts=["bad"])


def test_every_printed_percentage_is_checked(findings):
    numbers = load_published()
    covered = {i for f in findings for i in f.ids}
    for id_, entry in numbers.items():
        if entry.kind != "percent" or id_.startswith("text.methods."):  # protocol definitions (PR = −30%)
            continue
        if id_.endswith(".pct") and id_[:-4] + ".n" in numbers:
            assert denominator_id(id_) is not None, id_
        assert id_ in covered, f"{id_} is in no finding"


def test_every_p_value_id_is_checked(findings):
    numbers = load_published()
    covered = {i for f in findings for i in f.ids}
    for id_, entry in numbers.items():
        if entry.kind == "p" and not id_.startswith("text.methods."):
            assert id_ in covered, id_


# ----------------------------------------------------------------------------------------------------
# Inconsistencies, with their numbers


def test_nodes_multivariate_ci_excludes_its_hr(by_key):
    f = by_key["hr.ci.table3.multivariate.nodes_group.multiple"]
    assert f.verdict == "inconsistent"
    assert f.values["hr"] == 2.023 and (f.values["low"], f.values["high"]) == (2.258, 3.253)
    assert not f.values["inside"]
    assert f.values["geometric_mean"] == pytest.approx(math.sqrt(2.258 * 3.253), abs=1e-9)
    assert f.values["geometric_mean"] == pytest.approx(2.710, abs=5e-4)
    # the Results text prints 1.258, which is centred on the HR
    assert f.values["other_geometric_mean"] == pytest.approx(math.sqrt(1.258 * 3.253), abs=1e-9)
    assert f.values["other_geometric_mean"] == pytest.approx(2.023, abs=5e-4)
    assert by_key["hr.ci.text.cox.multivariate.nodes_group.multiple"].verdict == "consistent"
    assert by_key["hr.p.text.cox.multivariate.nodes_group.multiple"].verdict == "consistent"
    dup = by_key["dup.table3.multivariate.nodes_group.multiple.ci_low"]
    assert dup.verdict == "inconsistent" and dup.check == "text vs table"
    assert dup.values["values"] == {
        "table3.multivariate.nodes_group.multiple.ci_low": 2.258,
        "text.cox.multivariate.nodes_group.multiple.ci_low": 1.258,
    }


def test_less_than_cr_p_disagrees_with_its_ci(by_key):
    f = by_key["hr.p.table3.univariate.response_group.less_than_cr"]
    assert f.verdict == "inconsistent"
    hand = wald_p(1.573, 1.007, 2.457)
    assert hand == pytest.approx(0.0465, abs=1e-4)
    assert f.values["p"] == pytest.approx(hand, rel=1e-6)
    assert f.values["printed_p"] == 0.039
    assert f.values["p_min"] > 0.0395  # rounding of HR and limits cannot bring it to 0.039
    # the interval itself is centred on the HR
    assert by_key["hr.ci.table3.univariate.response_group.less_than_cr"].verdict == "consistent"


def test_orr_after_psm_percentage(by_key):
    f = by_key["pct.table2.after.orr.anlotinib"]
    assert f.verdict == "inconsistent"
    assert (f.values["n"], f.values["N"]) == (59, 68)
    assert f.values["exact"] == pytest.approx(100 * 59 / 68) and f.values["exact"] == pytest.approx(86.76, abs=5e-3)
    assert f.values["rounded"] == 86.8 and f.values["printed"] == 86.7
    assert f.values["truncated"] == 86.7  # what truncation, which the paper does not use elsewhere, prints
    assert f.values["rounded_up_elsewhere"] > 50
    # the same 86.7 in the abstract, Results and Discussion belongs to this finding
    for id_ in (
        "abstract.response.after.orr.anlotinib.pct",
        "text.response.after.orr.anlotinib.pct",
        "text.discussion.orr.anlotinib.pct",
        "text.discussion.outcomes.anlotinib.orr.pct",
    ):
        assert id_ in f.ids and id_ in f.values["wrong"]


def test_chemotherapy_schedules_do_not_add_up(by_key):
    f = by_key["sum.chemo.schedules"]
    assert f.verdict == "inconsistent"
    assert f.values == {"parts": [87, 119], "sum": 206, "total": 216}
    assert by_key["sum.chemo.table1"].verdict == "consistent"  # 59 + 157 = 216


def test_previous_treatment_needs_lr_on_printed_rows(by_key):
    for period, printed, p_lr, p_pearson_all in (
        ("before", 0.689, 0.6886, 0.8548),
        ("after", 0.641, 0.6413, 0.8202),
    ):
        f = by_key[f"p.table1.{period}.previous_treatment"]
        assert f.verdict == "needs an unstated choice"
        assert f.values["test"] == "likelihood_ratio" and f.values["rows"] == "printed"
        assert f.values["p"] == pytest.approx(p_lr, abs=5e-5)
        assert round(f.values["p"], 3) == printed
        assert f.values["candidates"]["pearson"] == pytest.approx(p_pearson_all, abs=5e-5)  # with the "none" row
        assert f.values["candidates_printed_rows"]["pearson"] != pytest.approx(printed, abs=5e-4)


def test_yates_only_for_pd_and_pneumonitis(by_key):
    cases = {
        "p.table2.before.pd": ((1, 17, 73, 193), 0.077),
        "p.table2.after.pd": ((0, 7, 68, 61), 0.020),
        "p.table4.pneumonitis": ((3, 11, 73, 204), 0.922),
    }
    for key, ((a, b, c, d), printed) in cases.items():
        f = by_key[key]
        assert f.verdict == "needs an unstated choice", key
        assert f.values["test"] == "yates"
        hand = pearson_2x2(a, b, c, d, yates=True)
        assert f.values["p"] == pytest.approx(hand, rel=1e-9)
        assert abs(hand - printed) <= 0.0005
        assert abs(pearson_2x2(a, b, c, d) - printed) > 0.0005  # the uncorrected test would not print it
    assert by_key["p.table2.before.pd"].values["candidates"]["pearson"] < 0.05  # 0.041: 'significant' uncorrected
    summary = by_key["p.tests_used"]
    assert summary.verdict == "needs an unstated choice"
    assert summary.values["tests"] == {"pearson": 38, "likelihood_ratio_printed_rows": 2, "yates": 3}
    assert sorted(summary.values["keys"]["yates"]) == sorted(cases)
    assert summary.values["rule_agrees"] == summary.values["two_by_two"]


def test_radiation_dose_statements_disagree(by_key):
    f = by_key["sum.radiation_dose"]
    assert f.verdict == "inconsistent"
    assert f.values["table1_at_or_above"] == {"anlotinib": 45 + 31, "crt": 141 + 74}
    assert f.values["text_at_or_above"] == {"anlotinib": 74, "crt": 201}
    assert f.values["text_below"] == {"anlotinib": 2, "crt": 14}


def test_landmarks_that_are_not_whole_patients(by_key):
    premise = by_key["landmark.premise"]
    assert premise.verdict == "consistent"
    assert premise.values["min_follow_up_months"] == pytest.approx(65, abs=0.05)  # Dec 2019 -> 31 May 2025
    assert premise.values["longest_landmark_months"] == 36
    f = by_key["landmark.os.before.3y.crt"]
    assert f.verdict == "inconsistent" and f.values["k"] == [] and f.values["neighbours"] == (54, 55)
    assert round(100 * 54 / 215, 1) == 25.1 and round(100 * 55 / 215, 1) == 25.6
    f = by_key["landmark.os.after.3y.anlotinib"]
    assert f.verdict == "inconsistent" and f.values["neighbours"] == (29, 30)
    assert "abstract.survival.os.after.3y.anlotinib" in f.ids
    bad = sorted(k for k, f in by_key.items() if f.check == "landmark" and f.verdict != "consistent")
    assert bad == ["landmark.os.after.3y.anlotinib", "landmark.os.before.3y.crt"]
    assert by_key["landmark.os.after.3y.crt"].values["k"] == [16]  # 16/68 = 23.5%


def test_dates_after_acceptance(by_key):
    f = by_key["date.censoring_after_acceptance"]
    assert f.verdict == "inconsistent"
    assert f.values["days_after_acceptance"] == (dt.date(2025, 5, 31) - dt.date(2022, 1, 26)).days == 1221
    for number, year in (("15", 2023), ("39", 2024)):
        f = by_key[f"date.reference.{number}"]
        assert f.verdict == "inconsistent"
        assert f.values["days_after_acceptance"] == (dt.date(year, 1, 1) - dt.date(2022, 1, 26)).days
    csco = by_key["date.csco_guidelines"]
    assert csco.verdict == "needs an unstated choice" and csco.values["days_into_year"] == 25
    assert by_key["date.article_order"].verdict == "consistent"
    assert by_key["date.period_before_submission"].verdict == "consistent"


def test_primary_lesion_p_belongs_to_node_diameter(by_key):
    f = by_key["tvt.primary_lesion"]
    assert f.verdict == "inconsistent"
    assert f.values["rows_with_same_p"] == ["table1.before.node_diameter.p"]
    assert "Maximal Lymph Node Diameter" in f.explanation


def test_three_rates_for_five_toxicities(by_key):
    f = by_key["tvt.g34_respectively"]
    assert f.verdict == "inconsistent"
    assert f.values["listed"] == ["hypertension", "hand_foot", "proteinuria", "hypothyroidism", "diarrhea"]
    assert f.values["rates"] == ["hypertension", "hand_foot", "diarrhea"]
    assert f.values["matches_table"]
    assert "proteinuria" in f.explanation


def test_matching_and_evaluability_need_unstated_choices(by_key):
    f = by_key["sum.matching"]
    assert f.verdict == "needs an unstated choice"
    assert f.values == {"unmatched_treated": 76 - 68, "unmatched_controls": 215 - 68}
    f = by_key["sum.evaluable.after"]
    assert f.verdict == "needs an unstated choice"
    assert f.values["not_evaluable_before"] == {"anlotinib": 2, "crt": 5}


def test_the_full_list_of_problems(findings):
    problems = sorted(f.key for f in findings if f.verdict == "inconsistent")
    assert problems == sorted(
        [
            "pct.table2.after.orr.anlotinib",
            "hr.ci.table3.multivariate.nodes_group.multiple",
            "hr.p.table3.multivariate.nodes_group.multiple",
            "hr.p.table3.univariate.response_group.less_than_cr",
            "sum.chemo.schedules",
            "sum.radiation_dose",
            "landmark.os.before.3y.crt",
            "landmark.os.after.3y.anlotinib",
            "construction.text.survival.os.before.3y.crt",
            "construction.text.survival.os.after.3y.anlotinib",
            "construction.table3.multivariate.nodes_group.multiple.ci_low",
            "construction.table3.univariate.response_group.less_than_cr.p",
            "construction.text.cox.univariate.response_group.less_than_cr.p",
            "date.censoring_after_acceptance",
            "date.reference.15",
            "date.reference.39",
            "dup.table3.multivariate.nodes_group.multiple.ci_low",
            "tvt.primary_lesion",
            "tvt.g34_respectively",
        ]
    )


def test_landmarks_impossible_by_construction(by_key):
    """The generator, asked for every printed number, finds the two 3-year OS rates no cohort can have: with
    nobody censored before 36 months a rate is k/N, and 25.5% of 215 and 42.7% of 68 are k/N for no k."""
    f = by_key["construction.text.survival.os.before.3y.crt"]
    assert (f.check, f.verdict) == ("by construction", "inconsistent")
    assert (f.values["n"], f.values["nearest_count"], f.values["nearest_printed"]) == (215, 55, 25.6)
    assert round(100 * 54 / 215, 1) == 25.1 and round(100 * 55 / 215, 1) == 25.6  # 25.5 lies between
    f = by_key["construction.text.survival.os.after.3y.anlotinib"]
    assert (f.values["n"], f.values["nearest_count"], f.values["nearest_printed"]) == (68, 29, 42.6)
    assert f.ids == ("text.survival.os.after.3y.anlotinib",)
    assert sum(x.check == "by construction" for x in by_key.values()) == 5  # and three Cox numbers (below)


def test_cox_numbers_impossible_by_construction(by_key):
    """No log hazard ratio and standard error print Table 3's multivariable lower limit 2.258 with its HR 2.023
    (a limit above the estimate), nor the univariate response p 0.039 with that row's HR and limits."""
    f = by_key["construction.table3.multivariate.nodes_group.multiple.ci_low"]
    assert (f.check, f.verdict) == ("by construction", "inconsistent")
    assert "text.cox.multivariate.nodes_group.multiple.ci_low" in f.values["kept"]  # the text's 1.258 fits
    f = by_key["construction.table3.univariate.response_group.less_than_cr.p"]
    assert set(f.values["kept"]) == {
        f"table3.univariate.response_group.less_than_cr.{k}" for k in ("hr", "ci_low", "ci_high")
    }


def test_one_test_rule_reproduces_40_of_42(by_key):
    f = by_key["p.test_rule"]
    assert f.verdict == "needs an unstated choice"  # the Methods state no rule, and the rule misses two
    assert f.values == {"rule": "yates_if_small", "levels": "all", "reproduced": 40, "pairs": 42}
    assert "Previous Treatment (printed 0.689; the rule gives 0.855)" in f.explanation
    assert round(pearson_2x2(0, 7, 68, 61, yates=True), 3) == 0.020  # PD after matching: why Yates is in the rule


# ----------------------------------------------------------------------------------------------------
# Checks that hold


def test_consistent_checks(by_key):
    f = by_key["p.table1.before.age_group"]  # 47/76 vs 101/215
    assert f.verdict == "consistent" and f.values["test"] == "pearson"
    assert f.values["p"] == pytest.approx(pearson_2x2(47, 101, 29, 114), rel=1e-9)
    assert round(f.values["p"], 3) == 0.026
    f = by_key["p.text.g34_overall"]  # counts implied by 39.5% of 76 and 30.7% of 215
    assert f.verdict == "consistent" and f.values["implied_counts"] == (30, 66)
    assert f.values["p"] == pytest.approx(pearson_2x2(30, 66, 46, 149), rel=1e-9)
    f = by_key["hr.p.table3.multivariate.arm.anlotinib"]
    assert f.verdict == "consistent"
    assert f.values["p"] == pytest.approx(wald_p(0.596, 0.408, 0.871), rel=1e-6)
    assert by_key["sum.cohort.nodes"].values == {"parts": [79, 116, 81, 15], "sum": 291, "total": 291}
    assert by_key["sum.cohort.adjuvant_types"].values == {"parts": [28, 26, 20], "sum": 74, "total": 74}
    assert by_key["sum.cohort.confirmation"].values["sum"] == 245 + 28 + 18 == 291
    for period in ("before", "after"):
        for arm in ("anlotinib", "crt"):
            assert by_key[f"sum.table2.{period}.orr.{arm}"].verdict == "consistent"
            assert by_key[f"sum.table2.{period}.{arm}"].verdict == "consistent"
    f = by_key["sum.table1.before.previous_treatment"]
    assert f.verdict == "consistent" and f.values["sums"] == {"anlotinib": 8 + 8 + 4, "crt": 20 + 18 + 16}
    f = by_key["pct.table1.before.age_group.lt65.anlotinib"]
    assert f.verdict == "consistent" and f.values["exact"] == pytest.approx(100 * 47 / 76)
    assert by_key["tvt.cox_entry"].verdict == "consistent"
    assert by_key["tvt.after_all_p"].verdict == "consistent"
    assert by_key["landmark.events.os.crt"].verdict == "consistent"


def test_abstract_duplicates_agree_with_the_body(findings):
    dups = [f for f in findings if f.key.startswith("dup.") and any(i.startswith("abstract.") for i in f.ids)]
    assert len(dups) >= 10
    assert all(f.verdict == "consistent" for f in dups), [f.key for f in dups if f.verdict != "consistent"]


def test_wald_check_by_hand():
    w = wald_check(1.471, 1.005, 2.153)
    se = (math.log(2.153) - math.log(1.005)) / (2 * 1.959963984540054)
    assert w["se"] == pytest.approx(se, rel=1e-9)
    assert w["p"] == pytest.approx(wald_p(1.471, 1.005, 2.153), rel=1e-9)
    assert w["p_min"] <= w["p"] <= w["p_max"]
    assert w["geometric_mean"] == pytest.approx(math.sqrt(1.005 * 2.153))


def test_implied_counts():
    assert implied_counts(39.5, 76) == [30]
    assert implied_counts(30.7, 215) == [66]
    assert implied_counts(42.7, 68) == []
    assert implied_counts(50.0, 2) == [1]


# ----------------------------------------------------------------------------------------------------
# The audit can fail: doctored numbers are caught


def test_doctored_percentage_and_p_are_caught():
    numbers = doctored(table1__before__age_group__lt65__anlotinib__pct=62.8, table1__before__age_group__p=0.030)
    keyed = {f.key: f for f in run_audit(numbers)}
    f = keyed["pct.table1.before.age_group.lt65.anlotinib"]
    assert f.verdict == "inconsistent" and f.values["printed"] == 62.8 and f.values["rounded"] == 61.8
    f = keyed["p.table1.before.age_group"]
    assert f.verdict == "inconsistent" and f.values["test"] is None


def test_doctored_counts_are_caught():
    numbers = doctored(table1__after__sex__female__crt__n=15, text__cohort__recurrent_nodes__four_plus__n=16)
    keyed = {f.key: f for f in run_audit(numbers)}
    assert keyed["sum.table1.after.sex"].verdict == "inconsistent"
    assert keyed["sum.cohort.nodes"].values["sum"] == 292
    assert keyed["sum.cohort.nodes"].verdict == "inconsistent"


def test_doctored_hazard_ratio_is_caught():
    numbers = doctored(table3__univariate__arm__anlotinib__p=0.09)
    keyed = {f.key: f for f in run_audit(numbers)}
    assert keyed["hr.p.table3.univariate.arm.anlotinib"].verdict == "inconsistent"
    assert keyed["dup.table3.univariate.arm.anlotinib.p"].verdict == "inconsistent"  # the text still says 0.009


def test_repairs_turn_findings_consistent():
    numbers = doctored(
        table2__after__orr__anlotinib__pct=86.8,
        abstract__response__after__orr__anlotinib__pct=86.8,
        text__response__after__orr__anlotinib__pct=86.8,
        text__discussion__orr__anlotinib__pct=86.8,
        text__discussion__outcomes__anlotinib__orr__pct=86.8,
        text__treatment__concurrent_chemo__weekly__n=97,
        table3__multivariate__nodes_group__multiple__ci_low=1.258,
        text__methods__censoring_date="2021-06-30",
    )
    keyed = {f.key: f for f in run_audit(numbers)}
    for key in (
        "pct.table2.after.orr.anlotinib",
        "sum.chemo.schedules",
        "hr.ci.table3.multivariate.nodes_group.multiple",
        "hr.p.table3.multivariate.nodes_group.multiple",
        "dup.table3.multivariate.nodes_group.multiple.ci_low",
        "date.censoring_after_acceptance",
    ):
        assert keyed[key].verdict == "consistent", key
    # with follow-up ending June 2021 a 36-month landmark is no longer complete: the k/N checks stop
    assert keyed["landmark.premise"].verdict == "needs an unstated choice"
    assert "landmark.os.before.3y.crt" not in keyed


def test_partial_mapping_skips_missing_checks():
    findings = run_audit(select("table2."))
    assert findings and all(i.startswith("table2.") for f in findings for i in f.ids)
    assert {f.check for f in findings} <= {"p-value", "percentage", "subgroup total"}


# ----------------------------------------------------------------------------------------------------
# What cannot be checked, and the context


def test_not_checkable():
    items = not_checkable()
    assert all(isinstance(w, str) and isinstance(y, str) and w and y for w, y in items)
    text = " ".join(w + " " + y for w, y in items)
    for needle in (
        "propensity-score model",
        "survival p-values",
        "Figure 1",
        "Cox models",
        "pairing",
        "Anlotinib exposure",
    ):
        assert needle in text
    survival = dict(items)["The survival p-values (PFS and OS, before and after matching)"]
    assert "0.016" in survival and "0.006" in survival and "0.026" in survival
    # the event proportions do not give the printed p: Pearson 60/76 vs 191/215 is 0.031, not 0.016
    assert round(pearson_2x2(60, 191, 16, 24), 3) == 0.031 and "0.0314" in survival


def test_provenance_note_cites_both_neutrally():
    note = provenance_note()
    src = published_source()
    assert src["doi"] in note and src["also_published_as_doi"] in note
    assert "PROVENANCE.md" not in note
    for loaded in ("plagiar", "fraud", "fake", "duplicate publication"):
        assert loaded not in note.lower()
