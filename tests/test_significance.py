"""Tests of psmbook.analysis.association: the tests worked by hand, Fisher's exact test against independent
enumerations, and the recovery of the paper's tests from its printed p-values (Tables 1, 2 and 4)."""

import itertools
import math
import time
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from psmbook.analysis.association import (
    TEST_CHOICES,
    _fisher_rx2,
    _fisher_rx2_direct,
    expected_counts,
    fisher_exact,
    infer_paper_test,
    likelihood_ratio_chi2,
    paper_test_candidates,
    parse_printed_p,
    pearson_chi2,
    reproduces,
    rule_based_test,
    run_test,
    yates_chi2,
)
from psmbook.present.format import format_p

# ----------------------------------------------------------------------------------------------------
# The paper's counts, typed from its tables: rows = levels, columns = (CRT + anlotinib, CRT).

# Table 1, before PSM (n = 76 / 215). Previous treatment includes the "none" row that the paper does
# not print: 76 - 20 = 56 and 215 - 54 = 161.
TABLE1_BEFORE = {
    "age_group": ([[47, 101], [29, 114]], "0.026"),
    "sex": ([[60, 166], [16, 49]], "0.755"),
    "ecog": ([[33, 85], [43, 130]], "0.553"),
    "location": ([[6, 14], [52, 139], [18, 62]], "0.664"),
    "differentiation": ([[6, 10], [50, 172], [20, 33]], "0.044"),
    "stage": ([[28, 74], [48, 141]], "0.703"),
    "previous_treatment": ([[56, 161], [8, 20], [8, 18], [4, 16]], "0.689"),
    "recurrence_site": ([[11, 37], [42, 127], [6, 19], [17, 32]], "0.509"),
    "node_diameter": ([[35, 137], [41, 78]], "0.007"),
    "radiation_dose": ([[45, 141], [31, 74]], "0.320"),
    "concurrent_chemo": ([[59, 157], [17, 58]], "0.430"),
    "consolidation_chemo": ([[67, 154], [9, 61]], "0.004"),
    "nutritional_support": ([[9, 33], [67, 182]], "0.455"),
}

# Table 1, after PSM (68 / 68); "none" of previous treatment: 68 - 17 = 51 and 68 - 16 = 52.
TABLE1_AFTER = {
    "age_group": ([[43, 39], [25, 29]], "0.483"),
    "sex": ([[54, 54], [14, 14]], "1.000"),
    "ecog": ([[30, 27], [38, 41]], "0.602"),
    "location": ([[6, 6], [48, 46], [14, 16]], "0.916"),
    "differentiation": ([[3, 4], [45, 48], [20, 16]], "0.710"),
    "stage": ([[25, 23], [43, 45]], "0.720"),
    "previous_treatment": ([[51, 52], [6, 7], [8, 5], [3, 4]], "0.641"),
    "recurrence_site": ([[10, 10], [37, 41], [5, 5], [16, 12]], "0.855"),
    "node_diameter": ([[34, 32], [34, 36]], "0.731"),
    "radiation_dose": ([[38, 40], [30, 28]], "0.729"),
    "concurrent_chemo": ([[52, 54], [16, 14]], "0.679"),
    "consolidation_chemo": ([[59, 56], [9, 12]], "0.477"),
    "nutritional_support": ([[8, 10], [60, 58]], "0.613"),
}


def _one_vs_rest(a, c, n_a, n_c):
    return [[a, c], [n_a - a, n_c - c]]


# Table 2: one response category against all others among evaluable patients (74 / 210 before,
# 68 / 68 after).
TABLE2 = {
    "before.cr": (_one_vs_rest(21, 61, 74, 210), "0.913"),
    "before.pr": (_one_vs_rest(43, 85, 74, 210), "0.009"),
    "before.sd": (_one_vs_rest(9, 47, 74, 210), "0.057"),
    "before.pd": (_one_vs_rest(1, 17, 74, 210), "0.077"),
    "before.orr": (_one_vs_rest(64, 146, 74, 210), "0.004"),
    "after.cr": (_one_vs_rest(19, 14, 68, 68), "0.317"),
    "after.pr": (_one_vs_rest(40, 28, 68, 68), "0.040"),
    "after.sd": (_one_vs_rest(9, 19, 68, 68), "0.034"),
    "after.pd": (_one_vs_rest(0, 7, 68, 68), "0.020"),
    "after.orr": (_one_vs_rest(59, 42, 68, 68), "0.001"),
}

# Table 4: grade >= 3 adverse events, event vs no event (76 / 215); and the text's "any grade 3-4
# TRAE", 39.5% vs 30.7% (30/76 and 66/215).
TABLE4 = {
    "leukopenia": (_one_vs_rest(18, 47, 76, 215), "0.743"),
    "neutropenia": (_one_vs_rest(17, 44, 76, 215), "0.726"),
    "anemia": (_one_vs_rest(8, 19, 76, 215), "0.663"),
    "nausea_vomiting": (_one_vs_rest(6, 21, 76, 215), "0.629"),
    "esophagitis": (_one_vs_rest(6, 18, 76, 215), "0.897"),
    "pneumonitis": (_one_vs_rest(3, 11, 76, 215), "0.922"),
    "any_grade3_4": (_one_vs_rest(30, 66, 76, 215), "0.162"),
}

# Which test reproduces each printed p (first in the preference order Pearson, Fisher, Yates, LR).
# Pearson everywhere, except 2 x 2 tables with a smallest expected count in [1, 5), where only the
# Yates-corrected test reproduces; previous treatment (4 x 2 with "none") is reproduced by nothing.
EXPECTED_TEST = {
    **{f"table1.before.{k}": "pearson" for k in TABLE1_BEFORE},
    **{f"table1.after.{k}": "pearson" for k in TABLE1_AFTER},
    **{f"table2.{k}": "pearson" for k in TABLE2},
    **{f"table4.{k}": "pearson" for k in TABLE4},
    "table2.before.pd": "yates",
    "table2.after.pd": "yates",
    "table4.pneumonitis": "yates",
    "table1.before.previous_treatment": None,
    "table1.after.previous_treatment": None,
}

ALL_PUBLISHED = {
    **{f"table1.before.{k}": v for k, v in TABLE1_BEFORE.items()},
    **{f"table1.after.{k}": v for k, v in TABLE1_AFTER.items()},
    **{f"table2.{k}": v for k, v in TABLE2.items()},
    **{f"table4.{k}": v for k, v in TABLE4.items()},
}


def test_fixtures_match_paper_margins():
    for key, (table, _) in ALL_PUBLISHED.items():
        cols = np.asarray(table).sum(axis=0).tolist()
        assert cols in ([76, 215], [68, 68], [74, 210]), key


# ----------------------------------------------------------------------------------------------------
# Pearson, Yates, likelihood ratio: worked from their formulas


def test_pearson_2x2_from_formula():
    # N = 100, rows 30/70, columns 40/60 -> E = [[12, 18], [28, 42]]; every |O - E| = 2.
    x2 = 4 / 12 + 4 / 18 + 4 / 28 + 4 / 42
    assert x2 == pytest.approx(0.7936507937, rel=1e-9)
    p = math.erfc(math.sqrt(x2 / 2))  # chi-squared survival function, 1 df
    assert pearson_chi2([[10, 20], [30, 40]]) == pytest.approx(p, rel=1e-10)


def test_pearson_3x2_from_formula():
    # Every expected count is 15; X² = (25 + 25 + 25 + 25) / 15; for 2 df, P(X² > x) = exp(-x / 2).
    x2 = 100 / 15
    assert pearson_chi2([[10, 20], [20, 10], [15, 15]]) == pytest.approx(math.exp(-x2 / 2), rel=1e-10)
    assert pearson_chi2([[10, 20], [20, 10], [15, 15]]) == pytest.approx(0.035673993, rel=1e-7)


def test_yates_from_formula():
    # X²_Yates = N (|ad - bc| - N/2)² / (R1 R2 C1 C2)
    a, b, c, d = 10, 20, 30, 40
    n = a + b + c + d
    x2 = n * (abs(a * d - b * c) - n / 2) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    assert yates_chi2([[a, b], [c, d]]) == pytest.approx(math.erfc(math.sqrt(x2 / 2)), rel=1e-10)
    assert pearson_chi2([[a, b], [c, d]], yates=True) == yates_chi2([[a, b], [c, d]])


def test_yates_refuses_larger_tables():
    with pytest.raises(ValueError, match="2 x 2"):
        pearson_chi2([[10, 20], [20, 10], [15, 15]], yates=True)


def test_likelihood_ratio_from_formula():
    g2 = 2 * (20 * math.log(10 / 15) + 40 * math.log(20 / 15))
    assert likelihood_ratio_chi2([[10, 20], [20, 10], [15, 15]]) == pytest.approx(math.exp(-g2 / 2), rel=1e-10)


def test_degenerate_tables():
    assert math.isnan(pearson_chi2([[5, 7], [0, 0]]))  # one non-empty level: no test
    assert fisher_exact([[5, 7], [0, 0]]) == 1.0
    # empty levels do not enter the test
    assert pearson_chi2([[10, 20], [0, 0], [30, 40]]) == pytest.approx(pearson_chi2([[10, 20], [30, 40]]))
    with pytest.raises(ValueError):
        pearson_chi2([[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError):
        fisher_exact([[1, -2], [3, 4]])
    with pytest.raises(ValueError):
        fisher_exact([[1.5, 2], [3, 4]])


# ----------------------------------------------------------------------------------------------------
# Fisher's exact test


@pytest.mark.parametrize(
    "table",
    [
        [[3, 1], [1, 3]],
        [[8, 2], [1, 5]],
        [[18, 58], [47, 168]],
        [[1, 73], [17, 193]],
        [[0, 68], [7, 61]],
        [[12, 5], [9, 14]],
    ],
)
def test_fisher_2x2_matches_scipy(table):
    assert fisher_exact(table) == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)


def test_fisher_2x2_by_hand():
    # [[3, 0], [0, 3]]: the two extreme tables each have probability 1 / C(6, 3) = 1/20.
    assert fisher_exact([[3, 0], [0, 3]]) == pytest.approx(0.1, rel=1e-12)
    # an empty third level changes nothing
    assert fisher_exact([[3, 0], [0, 3], [0, 0]]) == pytest.approx(0.1, rel=1e-12)


def test_fisher_rx2_by_hand():
    # Rows (1, 1, 2), columns (2, 2), N = 4, C(4, 2) = 6 tables-weights. First columns with sum 2:
    # (1,1,0) weight 1, (1,0,1) 2, (0,1,1) 2, (0,0,2) 1. Observed (1,1,0) has probability 1/6; the
    # tables at most as likely are (1,1,0) and (0,0,2): p = 2/6.
    assert fisher_exact([[1, 0], [1, 0], [0, 2]]) == pytest.approx(1 / 3, rel=1e-12)
    # Observed (1,0,1) has probability 2/6, the largest: p = 1.
    assert fisher_exact([[1, 0], [0, 1], [1, 1]]) == pytest.approx(1.0, rel=1e-12)


def test_fisher_rx2_symmetric_table_has_p_one():
    # Equal arms and every level split evenly: the observed table is the most probable one.
    assert fisher_exact([[5, 5], [5, 5], [5, 5]]) == pytest.approx(1.0, rel=1e-12)
    assert fisher_exact([[6, 6], [48, 48], [14, 14], [3, 3]]) == pytest.approx(1.0, rel=1e-12)


def _brute_force_fisher(table):
    """Fisher's exact p by labelling every individual and listing every choice of the first arm."""
    table = np.asarray(table)
    levels = [i for i, r in enumerate(table.sum(axis=1)) for _ in range(r)]
    c1 = int(table[:, 0].sum())
    freq = Counter()
    for chosen in itertools.combinations(range(len(levels)), c1):
        col = [0] * table.shape[0]
        for j in chosen:
            col[levels[j]] += 1
        freq[tuple(col)] += 1
    total = sum(freq.values())
    prob = {k: Fraction(v, total) for k, v in freq.items()}
    observed = prob[tuple(table[:, 0].tolist())]
    return float(sum(p for p in prob.values() if p <= observed))


@pytest.mark.parametrize(
    "table",
    [
        [[2, 1], [1, 2], [0, 2], [2, 0]],
        [[3, 1], [1, 3], [2, 2]],
        [[4, 0], [1, 3], [0, 3]],
        [[1, 2], [2, 1], [1, 1], [0, 3]],
        [[5, 1], [1, 4], [0, 1]],
    ],
)
def test_fisher_rx2_matches_brute_force_enumeration(table):
    assert fisher_exact(table) == pytest.approx(_brute_force_fisher(table), rel=1e-10)


def test_fisher_rx2_two_enumerations_agree():
    rng = np.random.default_rng(20220126)
    checked = 0
    while checked < 200:
        t = rng.integers(0, 15, size=(int(rng.integers(2, 6)), 2))
        t = t[t.sum(axis=1) > 0]
        if t.shape[0] < 2 or (t.sum(axis=0) == 0).any():
            continue
        assert _fisher_rx2(t) == pytest.approx(_fisher_rx2_direct(t), rel=1e-9, abs=1e-14)
        checked += 1


def test_fisher_rx2_paper_margins_fast():
    table = TABLE1_BEFORE["recurrence_site"][0]  # 4 x 2, margins 76 / 215
    start = time.perf_counter()
    p = fisher_exact(table)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5
    assert p == pytest.approx(_fisher_rx2_direct(np.asarray(table)), rel=1e-10)
    assert p == pytest.approx(0.5182, abs=5e-5)


# ----------------------------------------------------------------------------------------------------
# Printed p-values


def test_format_p():
    assert format_p(0.02587) == "0.026"
    assert format_p(0.00085) == "<0.001"
    assert format_p(1.0) == "1.000"
    assert format_p(0.0396) == "0.040"
    assert format_p(float("nan")) == "–"


def test_parse_and_reproduce():
    assert parse_printed_p("0.026") == (0.026, 3, False)
    assert parse_printed_p("<0.001") == (0.001, 3, True)
    assert parse_printed_p("0.04") == (0.04, 2, False)
    assert parse_printed_p(0.04) == (0.04, 3, False)
    assert reproduces(0.02587, "0.026")
    assert not reproduces(0.0325, "0.026")
    assert reproduces(0.0396, "0.04") and reproduces(0.0445, "0.04") and not reproduces(0.0456, "0.04")
    assert reproduces(0.00085, "<0.001") and not reproduces(0.0011, "<0.001")
    assert reproduces(0.00085, "0.001")  # SPSS prints .001 for 0.00085


# ----------------------------------------------------------------------------------------------------
# The paper's tests, recovered from its printed p-values


def test_candidates():
    cands = paper_test_candidates([[47, 101], [29, 114]])
    assert list(cands) == list(TEST_CHOICES)
    cands = paper_test_candidates([[6, 14], [52, 139], [18, 62]])
    assert "yates" not in cands and set(cands) == {"pearson", "fisher", "likelihood_ratio"}


@pytest.mark.parametrize("key", sorted(ALL_PUBLISHED))
def test_infer_paper_test(key):
    table, printed = ALL_PUBLISHED[key]
    inf = infer_paper_test(table, printed)
    expected = EXPECTED_TEST[key]
    if expected is None:
        assert not inf.reproduces
        assert "no candidate reproduces" in inf.explanation
    else:
        assert inf.reproduces, inf.explanation
        assert inf.test == expected, inf.explanation
        assert format_p(inf.p) == printed or reproduces(inf.p, printed)


def test_table1_headline_values_reproduced_by_pearson():
    # The four p-values the text quotes for Table 1 before matching.
    for var, printed in (
        ("age_group", "0.026"),
        ("node_diameter", "0.007"),
        ("differentiation", "0.044"),
        ("consolidation_chemo", "0.004"),
    ):
        table = TABLE1_BEFORE[var][0]
        inf = infer_paper_test(table, float(printed))
        assert inf.test == "pearson" and inf.reproduces
        assert format_p(inf.p) == printed
    # Fisher's exact test would not have printed these:
    assert format_p(fisher_exact(TABLE1_BEFORE["age_group"][0])) == "0.032"
    assert format_p(fisher_exact(TABLE1_BEFORE["node_diameter"][0])) == "0.010"


def test_ties_follow_preference_order():
    # Identical arms: every candidate gives p = 1.000.
    inf = infer_paper_test(TABLE1_AFTER["sex"][0], "1.000")
    assert inf.test == "pearson"
    assert inf.matching == ("pearson", "fisher", "yates", "likelihood_ratio")


def test_previous_treatment_not_reproduced_with_none_row():
    # 4 x 2 with "none": Pearson 0.855, Fisher 0.855, LR 0.852 -- none prints 0.689.
    inf = infer_paper_test(TABLE1_BEFORE["previous_treatment"][0], "0.689")
    assert not inf.reproduces
    assert inf.candidates["pearson"] == pytest.approx(0.8548, abs=5e-5)
    assert inf.candidates["fisher"] == pytest.approx(0.8547, abs=5e-5)
    assert inf.candidates["likelihood_ratio"] == pytest.approx(0.8522, abs=5e-5)
    assert inf.test == "likelihood_ratio"  # closest on the log scale, flagged as not reproducing
    inf = infer_paper_test(TABLE1_AFTER["previous_treatment"][0], "0.641")
    assert not inf.reproduces


def test_previous_treatment_reproduced_by_lr_on_treated_levels_only():
    # Dropping the unprinted "none" row, the likelihood-ratio test prints the paper's value both before
    # (0.6886) and after (0.6413) matching; Pearson would print 0.698 and 0.643.
    before = TABLE1_BEFORE["previous_treatment"][0][1:]
    after = TABLE1_AFTER["previous_treatment"][0][1:]
    assert infer_paper_test(before, "0.689").test == "likelihood_ratio"
    assert infer_paper_test(after, "0.641").test == "likelihood_ratio"
    assert infer_paper_test(after, "0.641").matching == ("likelihood_ratio",)


def test_rule_of_thumb_reproduces_every_2x2_p():
    # Pearson when every expected count >= 5, Yates when the smallest is in [1, 5).
    for key, (table, printed) in ALL_PUBLISHED.items():
        if len(table) == 2:
            assert reproduces(run_test(table, "rule"), printed), key
    assert rule_based_test(TABLE2["after.pd"][0]) == "yates"
    assert expected_counts(TABLE2["after.pd"][0]).min() == pytest.approx(3.5)
    assert rule_based_test([[3, 0], [0, 3]]) == "fisher"  # N < 40
    assert rule_based_test(TABLE1_BEFORE["differentiation"][0]) == "pearson"


def test_run_test_names():
    t = [[10, 20], [30, 40]]
    assert run_test(t, "pearson") == pearson_chi2(t)
    assert run_test(t, "likelihood_ratio") == likelihood_ratio_chi2(t)
    assert run_test([[10, 20], [20, 10], [15, 15]], "yates") == pearson_chi2([[10, 20], [20, 10], [15, 15]])
    with pytest.raises(ValueError, match="unknown test"):
        run_test(t, "mantel")


def test_p_statement_reads_as_prose():
    from psmbook.present.format import p_statement

    assert p_statement(0.0259) == "p = 0.026"
    assert p_statement(0.0004) == "p < 0.001"
