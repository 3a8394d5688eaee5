"""Table 2 (response) and Table 4 (toxicity) take every p from the paper's one recovered test rule
(:mod:`psmbook.analysis.paper_rule`), not from each row's printed p, on the default synthetic cohort."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from psmbook.analysis import paper_rule, response, response_prose, toxicity
from psmbook.analysis.association import run_test
from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import matched_cohort
from psmbook.matching.score import fit_propensity
from psmbook.study.description import load_study
from psmbook.study.published import load_published, select

STUDY = load_study()


@pytest.fixture(scope="module")
def cohorts():
    cohort = generate_cohort(DEFAULT_SEED)
    data = cohort.set_index(STUDY.id_column)
    covariates = [v.column for v in STUDY.psm_covariates]
    model = fit_propensity(data, STUDY.treatment.column, STUDY.treatment.treated, covariates)
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    matched = matched_cohort(data.assign(ps=model.scores, logit_ps=model.logit), result).reset_index()
    return {"before": cohort, "after": matched}


def _doctored(published, suffix=".p", value=0.5):
    """Every printed p (ids ending in `suffix`) replaced by `value`."""
    return {
        k: (dataclasses.replace(v, value=value, printed=None) if k.endswith(suffix) else v)
        for k, v in published.items()
    }


# The rule's p on the default cohort, whose Table 2 counts before and after matching are the paper's.
TABLE2 = {
    "before": {"cr": 0.9130, "pr": 0.0088, "sd": 0.0575, "pd": 0.0767, "orr": 0.0043},
    "after": {"cr": 0.3172, "pr": 0.0396, "sd": 0.0339, "pd": 0.0199, "orr": 0.0009},
}


@pytest.mark.parametrize("period", ["before", "after"])
def test_table2_p_values_come_from_the_rule_and_reproduce_the_paper(cohorts, period):
    rows = response_prose.table2_rows(cohorts["before"], cohorts["after"], STUDY)[period].set_index("category")
    assert rows.attrs["test"] == "paper_rule"
    for side in ("treated", "control"):  # the paper's counts, so the rule's p is fixed by them
        assert (rows[f"n_{side}"] == rows[f"published_n_{side}"]).all()
    assert rows["p"].round(4).to_dict() == TABLE2[period]
    # the rule: Yates only for PD (a 2 x 2 table with an expected count below 5), Pearson elsewhere
    assert rows["test"].to_dict() == {
        "cr": "pearson",
        "pr": "pearson",
        "sd": "pearson",
        "pd": "yates",
        "orr": "pearson",
    }
    assert rows.at["pd", "p"] == pytest.approx(
        run_test(np.array([[1, 17], [73, 193]]) if period == "before" else np.array([[0, 7], [68, 61]]), "yates")
    )
    assert rows["p_reproduces"].all()  # 5 of 5 printed p-values in each period: 10 of 10 in Table 2
    assert rows["test_source"].eq("paper's rule").all()
    assert not rows["test_label"].str.contains("closest").any()
    assert rows["test_note"].str.endswith(paper_rule.recover_test_rule().statement).all()


@pytest.mark.parametrize("period", ["before", "after"])
def test_table2_does_not_depend_on_the_papers_printed_p(cohorts, period):
    pub = select("table2.")
    fisher_pd = run_test(np.array([[1, 17], [73, 193]]), "fisher")  # a printed PD p only Fisher would reproduce
    doctored = _doctored(pub)
    doctored["table2.before.pd.p"] = dataclasses.replace(
        pub["table2.before.pd.p"], value=round(fisher_pd, 3), printed=None
    )
    a = response.response_table(cohorts[period], STUDY, period, published=pub, test="paper_rule")
    b = response.response_table(cohorts[period], STUDY, period, published=doctored, test="paper_rule")
    assert a["test"].equals(b["test"]) and np.allclose(a["p"], b["p"])
    assert a["p_reproduces"].all() and not b["p_reproduces"].all()
    if period == "before":  # choosing per row from the printed p would have followed the doctored value
        inferred = response.response_table(cohorts[period], STUDY, period, published=doctored, test="infer")
        assert inferred.set_index("category").at["pd", "test"] == "fisher"


def test_response_values_are_the_rules(cohorts):
    rows = response_prose.table2_rows(cohorts["before"], cohorts["after"], STUDY)
    ne = {p: response.not_evaluable_counts(d, STUDY) for p, d in cohorts.items()}
    values = response_prose.response_values(rows, ne, STUDY)
    for period, ps in TABLE2.items():
        for cat, p in ps.items():
            assert round(values[f"table2.{period}.{cat}.p"], 4) == p
    assert (
        round(values["text.response.after.orr.p"], 4) == 0.0009
        and round(values["text.response.before.pr.p"], 4) == 0.0088
    )
    assert values["response.before.pd.test"] == "yates" and values["response.after.orr.test"] == "pearson"


def test_toxicity_p_values_come_from_the_rule(cohorts):
    pub = load_published()
    severe = toxicity.grade34_table(cohorts["before"], STUDY, published=pub)
    assert severe["p"].round(4).to_dict() == {
        "leukopenia": 0.7428,
        "neutropenia": 0.7260,
        "anemia": 0.6626,
        "nausea_vomiting": 0.6286,
        "esophagitis": 0.8965,
        "pneumonitis": 0.9223,
        "any_grade3_4": 0.1619,
    }
    assert severe["test"].eq("yates").sum() == 1 and severe.at["pneumonitis", "test"] == "yates"
    assert severe["p_reproduces"].all()  # the 6 printed Table 4 p-values and the text's overall p
    doctored = toxicity.grade34_table(cohorts["before"], STUDY, published=_doctored(pub))
    assert doctored["test"].equals(severe["test"]) and np.allclose(doctored["p"], severe["p"])
    assert not doctored["p_reproduces"].any()


def test_matched_toxicity_applies_the_rule_to_the_matched_counts(cohorts):
    severe = toxicity.grade34_table(cohorts["before"], STUDY, published=load_published())
    tests = toxicity.matched_tests(severe, STUDY)
    assert set(tests.values()) == {"paper_rule"}
    matched = toxicity.grade34_table(cohorts["after"], STUDY, tests=tests)
    assert matched.at["pneumonitis", "test"] == "yates" and round(matched.at["leukopenia", "p"], 4) == 0.3963
    other = SimpleNamespace(paper=False)  # another study keeps the tests of its whole-cohort table
    assert toxicity.matched_tests(severe, other) == severe["test"].to_dict()


def test_rule_on_a_small_table_is_yates_not_the_printed_p():
    flags = pd.Series([True] * 2 + [False] * 28 + [True] * 6 + [False] * 24)
    arm = pd.Series(["anlotinib"] * 30 + ["crt"] * 30)
    row = toxicity.compare_event(flags, arm, ("anlotinib", "crt"), published_p="0.500")
    assert row["test"] == "yates"
    assert row["p"] == pytest.approx(run_test(np.array([[2, 6], [28, 24]]), "yates"))
    assert not row["p_reproduces"]
