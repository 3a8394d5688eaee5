"""The paper's test rule, recovered once from its printed (counts, p) pairs, and Table 1 built with it."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from psmbook.analysis import paper_rule, tables
from psmbook.analysis.association import run_test
from psmbook.study.description import load_study
from psmbook.study.published import load_published, select

STUDY = load_study()


def test_printed_pairs_are_every_count_table_p_of_tables_1_2_4():
    pairs = paper_rule.printed_pairs()
    keys = [p.key for p in pairs]
    assert len(pairs) == 42  # 13 + 13 characteristics of Table 1, 5 + 5 categories of Table 2, 6 events of Table 4
    assert sum(k.startswith("table1.") for k in keys) == 26
    assert sum(k.startswith("table2.") for k in keys) == 10
    assert sum(k.startswith("table4.") for k in keys) == 6
    prev = next(p for p in pairs if p.key == "table1.before.previous_treatment")
    # the unprinted "none" row is the arm total minus the printed rows: 76 - 20 and 215 - 54
    assert prev.table == ((56, 161), (8, 20), (8, 18), (4, 16))
    assert prev.printed_rows == ((8, 20), (8, 18), (4, 16))
    pd_after = next(p for p in pairs if p.key == "table2.after.pd")
    assert pd_after.table == ((0, 7), (68, 61)) and pd_after.printed == "0.020"


def test_recovery_picks_one_stated_rule_and_reproduces_40_of_42():
    rec = paper_rule.recover_test_rule()
    assert (rec.rule, rec.levels) == ("yates_if_small", "all")
    assert (rec.n_reproduced, rec.n_pairs) == (40, 42)
    assert rec.statement == (
        "Pearson's χ², or the Yates-corrected χ² for a 2 × 2 table with an expected count below 5, on all levels"
    )
    # the paper's numbers cannot tell it from the textbook rule, whose Fisher branch no printed table reaches
    assert ("cochran", "all") in rec.tied
    # the two it misses: previous treatment, before and after matching
    assert rec.missed["key"].tolist() == ["table1.before.previous_treatment", "table1.after.previous_treatment"]
    assert rec.missed["p"].round(3).tolist() == [0.855, 0.820]
    # Yates is what reproduces PD (Table 2) and pneumonitis (Table 4); Pearson everywhere else
    chosen = rec.pairs.set_index("key")["test"]
    assert set(chosen[chosen == "yates"].index) == {"table2.before.pd", "table2.after.pd", "table4.pneumonitis"}
    assert (chosen == "pearson").sum() == 39


def test_scores_of_the_simpler_rules():
    scores = paper_rule.recover_test_rule().scores
    total = scores["reproduced"]
    assert total[("Pearson", "all levels")] == 37  # misses PD twice, pneumonitis, previous treatment twice
    assert total[("Fisher", "all levels")] == 3
    assert total[("likelihood ratio", "printed levels only")] == 17
    assert total.max() == 40
    assert (scores["of"] == 42).all()


def test_the_chosen_rule_wins_on_printed_decimals():
    """A doctored printed p that only Fisher reproduces moves no rule but Fisher's score."""
    pub = dict(load_published())
    entry = pub["table1.before.age_group.p"]
    fisher = run_test(np.array([[47, 101], [29, 114]]), "fisher")
    pub["table1.before.age_group.p"] = dataclasses.replace(entry, value=round(fisher, 3))
    scores = paper_rule.recover_test_rule(pub).scores["reproduced"]
    assert scores[("Pearson", "all levels")] == 36
    assert scores[("Fisher", "all levels")] == 4


def test_rule_test_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="unknown test rule 'closest'"):
        paper_rule.rule_test([[1, 2], [3, 4]], "closest")


def test_rule_numbers_for_the_prose():
    numbers = paper_rule.rule_numbers()
    assert numbers["test_rule_reproduced"] == "40 of 42"
    assert numbers["test_rule_missed"].startswith("Table 1, before PSM, Previous Treatment (printed 0.689; the rule")
    assert isinstance(numbers["test_rule_scores"], pd.DataFrame)
    assert numbers["test_rule_tied"].startswith("“Yates if 2 × 2 and E < 5” on the printed levels only; “Cochran")


def _paper_cohort(period: str) -> pd.DataFrame:
    """Patients with exactly the paper's printed Table 1 counts of `period` (every characteristic)."""
    pub = select(f"table1.{period}.")
    n = {a: int(pub[f"table1.{period}.n.{a}"].value) for a in ("anlotinib", "crt")}
    columns = {}
    for var in STUDY.covariates:
        for arm in ("anlotinib", "crt"):
            values = []
            for level in var.shown_levels:
                values += [level] * int(pub[f"table1.{period}.{var.column}.{level}.{arm}.n"].value)
            values += [var.table1_omit[0]] * (n[arm] - len(values)) if var.table1_omit else []
            columns.setdefault(var.column, []).extend(values)
    columns[STUDY.treatment.column] = ["anlotinib"] * n["anlotinib"] + ["crt"] * n["crt"]
    return pd.DataFrame(columns)


@pytest.mark.parametrize("period", ["before", "after"])
def test_table1_of_the_papers_counts_uses_the_rule_in_every_row(period):
    df = _paper_cohort(period)
    rows = tables.categorical_rows(df, STUDY, test="paper_rule", published=select(f"table1.{period}."), period=period)
    first = rows[rows["test"].notna()].set_index("variable")
    assert (first["test"] == "pearson").all()  # no Table 1 row is a 2 x 2 table with an expected count below 5
    assert int(first["p_reproduces"].sum()) == 12
    assert not first.loc["previous_treatment", "p_reproduces"]
    assert "closest" not in " ".join(first["test_label"])


def test_table1_no_longer_depends_on_the_papers_p():
    """Changing every printed p beside the table changes no test and no p of the book's table."""
    df = _paper_cohort("after")
    pub = select("table1.after.")
    doctored = {k: (dataclasses.replace(v, value=0.5, printed=None) if k.endswith(".p") else v) for k, v in pub.items()}
    a = tables.categorical_rows(df, STUDY, test="paper_rule", published=pub, period="after")
    b = tables.categorical_rows(df, STUDY, test="paper_rule", published=doctored, period="after")
    assert a["test"].equals(b["test"])
    assert np.allclose(a["p"].dropna(), b["p"].dropna())
    assert a["p_reproduces"].dropna().sum() == 12 and b["p_reproduces"].dropna().sum() < 12


def test_table1_before_and_after_use_the_rule_for_the_papers_study():
    df = _paper_cohort("before")
    rows = tables.table1_before(df, STUDY)
    assert rows.attrs["test"] == "paper_rule"
    first = rows[rows["test"].notna()].set_index("variable")
    assert round(first.loc["age_group", "p"], 3) == 0.026
    assert round(first.loc["previous_treatment", "p"], 3) == 0.855
