"""Tests of psmbook.analysis.response: Table 2 (response by arm among the evaluable patients), the test the
paper used recovered from its own counts, the layout, the figure, and clear errors on bad data."""

import math

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from psmbook.analysis.response import (  # noqa: E402
    OBJECTIVE,
    RESPONSE_COLOURS,
    categories,
    not_evaluable_counts,
    not_evaluable_display,
    paper_tests,
    plot_response,
    published_counts,
    response_counts,
    response_table,
    short_label,
    table2_display,
    table2_suppression,
    two_by_two,
)
from psmbook.study import published  # noqa: E402
from psmbook.study.description import load_study  # noqa: E402

# A hand-made cohort: per arm, patients with each response (ne = died before the assessment).
HAND = {
    "anlotinib": {"cr": 3, "pr": 4, "sd": 2, "pd": 1, "ne": 1},
    "crt": {"cr": 2, "pr": 3, "sd": 4, "pd": 3, "ne": 2},
}

# The paper's Table 2, typed from the paper: (CRT + anlotinib, CRT) per category, and the printed p.
PAPER_T2 = {
    "before": {
        "cr": (21, 61, "0.913"),
        "pr": (43, 85, "0.009"),
        "sd": (9, 47, "0.057"),
        "pd": (1, 17, "0.077"),
        "orr": (64, 146, "0.004"),
    },
    "after": {
        "cr": (19, 14, "0.317"),
        "pr": (40, 28, "0.040"),
        "sd": (9, 19, "0.034"),
        "pd": (0, 7, "0.020"),
        "orr": (59, 42, "0.001"),
    },
}
PAPER_NE = {"before": (2, 5), "after": (0, 0)}


@pytest.fixture(scope="module")
def study():
    return load_study()


def cohort_from(counts: dict) -> pd.DataFrame:
    """Patients with the given responses per arm, ids A1.. (treated) and C1.. (controls)."""
    rows = []
    for arm, prefix in (("anlotinib", "A"), ("crt", "C")):
        codes = [code for code, n in counts[arm].items() for _ in range(n)]
        rows += [{"patient_id": f"{prefix}{i + 1}", "arm": arm, "response": code} for i, code in enumerate(codes)]
    return pd.DataFrame(rows)


def hand_cohort() -> pd.DataFrame:
    return cohort_from(HAND)


def paper_cohort(period: str) -> pd.DataFrame:
    t2 = PAPER_T2[period]
    ne_t, ne_c = PAPER_NE[period]
    return cohort_from(
        {
            "anlotinib": {c: t2[c][0] for c in ("cr", "pr", "sd", "pd")} | {"ne": ne_t},
            "crt": {c: t2[c][1] for c in ("cr", "pr", "sd", "pd")} | {"ne": ne_c},
        }
    )


def chi2_df1_p(x2: float) -> float:
    """Upper tail of chi-squared on 1 df: P(|Z| > sqrt(x2)) = erfc(sqrt(x2 / 2))."""
    return math.erfc(math.sqrt(x2 / 2))


# ----------------------------------------------------------------------------------------------------
# Counts, percentages and p-values worked by hand


def test_counts_by_response_level(study):
    counts = response_counts(hand_cohort(), study)
    assert list(counts.index) == ["cr", "pr", "sd", "pd", "ne"]
    assert list(counts.columns) == ["anlotinib", "crt"]
    assert counts["anlotinib"].tolist() == [3, 4, 2, 1, 1]
    assert counts["crt"].tolist() == [2, 3, 4, 3, 2]
    assert not_evaluable_counts(hand_cohort(), study) == {"anlotinib": 1, "crt": 2}


def test_categories_end_with_the_objective_response(study):
    cats = categories(study)
    assert [c[0] for c in cats] == ["cr", "pr", "sd", "pd", OBJECTIVE]
    assert cats[-1][2] == ("cr", "pr")
    assert short_label(cats[-1][1]) == "ORR" and short_label("Complete Response (CR)") == "CR"


def test_two_by_two_is_category_against_all_others_among_evaluable(study):
    counts = response_counts(hand_cohort(), study)
    # ORR: 3 + 4 = 7 of 10 evaluable treated, 2 + 3 = 5 of 12 evaluable controls
    assert two_by_two(counts, ("cr", "pr"), study).tolist() == [[7, 5], [3, 7]]
    assert two_by_two(counts, ("pd",), study).tolist() == [[1, 3], [9, 9]]


def test_response_table_by_hand(study):
    rows = response_table(hand_cohort(), study, "before", test="pearson").set_index("category")
    assert rows.attrs["N"] == (10, 12)
    # n and % of the evaluable patients: 7/10 = 70.0%, 5/12 = 41.67% -> 41.7%
    expected = {
        "cr": (3, 30.0, 2, 16.7),
        "pr": (4, 40.0, 3, 25.0),
        "sd": (2, 20.0, 4, 33.3),
        "pd": (1, 10.0, 3, 25.0),
        "orr": (7, 70.0, 5, 41.7),
    }
    for cat, (nt, pt, nc, pc) in expected.items():
        assert (rows.at[cat, "n_treated"], rows.at[cat, "pct_treated"]) == (nt, pt), cat
        assert (rows.at[cat, "n_control"], rows.at[cat, "pct_control"]) == (nc, pc), cat
    # Pearson chi-squared of [[7, 5], [3, 7]]: N (ad - bc)^2 / (R1 R2 C1 C2) = 22 * 34^2 / 14400
    x2 = 22 * (7 * 7 - 5 * 3) ** 2 / (12 * 10 * 10 * 12)
    assert x2 == pytest.approx(1.766111, abs=1e-6)
    assert rows.at["orr", "p"] == pytest.approx(chi2_df1_p(x2), rel=1e-9)
    assert rows.at["orr", "p"] == pytest.approx(0.1839, abs=5e-5)  # chi-squared table, 1 df
    assert set(rows["test"]) == {"pearson"}


def test_yates_corrected_p_by_hand(study):
    rows = response_table(hand_cohort(), study, "before", test="yates").set_index("category")
    # Yates: N (|ad - bc| - N/2)^2 / (R1 R2 C1 C2) = 22 * (34 - 11)^2 / 14400
    x2 = 22 * (34 - 11) ** 2 / 14400
    assert rows.at["orr", "p"] == pytest.approx(chi2_df1_p(x2), rel=1e-9)


def test_rule_of_thumb_picks_per_category(study):
    # N = 22 < 40: the rule of thumb picks Fisher's exact test for every 2 x 2 table
    rows = response_table(hand_cohort(), study, "before", test="rule")
    assert set(rows["test"]) == {"fisher"}


# ----------------------------------------------------------------------------------------------------
# Not-evaluable patients


def test_not_evaluable_patients_are_left_out_of_the_denominators(study):
    df = hand_cohort()
    with_ne = response_table(df, study, "before", test="pearson")
    without = response_table(df[df["response"] != "ne"], study, "before", test="pearson")
    cols = ["n_treated", "pct_treated", "n_control", "pct_control", "N_treated", "N_control", "p"]
    pd.testing.assert_frame_equal(with_ne[cols], without[cols])
    assert with_ne.attrs["not_evaluable"] == {"anlotinib": 1, "crt": 2}
    assert without.attrs["not_evaluable"] == {"anlotinib": 0, "crt": 0}
    assert with_ne["N_treated"].iloc[0] == 10 and with_ne["N_control"].iloc[0] == 12


def test_an_arm_with_nobody_evaluable_gives_nan_not_an_error(study):
    df = cohort_from({"anlotinib": {"ne": 2}, "crt": {"cr": 1, "pd": 1}})
    rows = response_table(df, study, "before", test="pearson")
    assert rows["N_treated"].iloc[0] == 0
    assert rows["pct_treated"].isna().all() and rows["p"].isna().all()


# ----------------------------------------------------------------------------------------------------
# Errors naming the column and the rows


def test_missing_response_column_is_named(study):
    df = hand_cohort().drop(columns="response")
    with pytest.raises(ValueError, match=r"column 'response' \(tumour response\) is missing"):
        response_table(df, study, "before", test="pearson")


def test_unknown_response_code_names_column_value_and_rows(study):
    df = hand_cohort()
    df.loc[df["patient_id"].isin(["A2", "C5"]), "response"] = "CR"  # upper case: not a level code
    with pytest.raises(ValueError) as err:
        response_counts(df, study)
    message = str(err.value)
    assert "'response'" in message and "'CR'" in message
    assert "A2" in message and "C5" in message and "patient_id" in message


def test_missing_response_value_names_rows(study):
    df = hand_cohort()
    df.loc[df["patient_id"] == "C3", "response"] = None
    with pytest.raises(ValueError, match=r"'response'.*<missing>.*C3"):
        response_table(df, study, "before", test="pearson")


def test_bad_arguments(study):
    df = hand_cohort()
    with pytest.raises(ValueError, match="unknown test"):
        response_table(df, study, "before", test="chi2")
    with pytest.raises(ValueError, match="unknown period"):
        response_table(df, study, "during", test="pearson")
    with pytest.raises(ValueError, match="published="):
        response_table(df, study, "before")  # infer without published numbers


# ----------------------------------------------------------------------------------------------------
# The paper's numbers


@pytest.fixture(scope="module")
def table2():
    return published.select("table2.")


def test_published_counts_read_the_package_file(study, table2):
    pub = published_counts(table2, "after", study)
    assert pub.at["pd", "n_treated"] == 0 and math.isnan(pub.at["pd", "pct_treated"])  # printed "0"
    assert pub.at["orr", "N_control"] == 68 and pub.at["pr", "p"] == "0.040"


def test_paper_tests_pearson_except_progressive_disease(study, table2):
    for period in ("before", "after"):
        tests = paper_tests(table2, period, study)
        assert tests["reproduces"].all(), period
        assert tests["test"].to_dict() == {
            "cr": "pearson",
            "pr": "pearson",
            "sd": "pearson",
            "pd": "yates",
            "orr": "pearson",
        }, period
        # PD: only the Yates-corrected test prints the paper's p; the rule of thumb picks it too
        assert tests.at["pd", "matching"] == "Yates-corrected χ²"
        assert (tests["rule_test"] == tests["test"]).all()
    before = paper_tests(table2, "before", study)
    # smallest expected count of PD before: 18 * 74 / 284 = 4.69 (between 1 and 5)
    assert before.at["pd", "min_expected"] == pytest.approx(18 * 74 / 284)
    assert before.at["pd", "p_pearson"] == pytest.approx(0.0406, abs=5e-5)
    assert before.at["pd", "p_yates"] == pytest.approx(0.0767, abs=5e-5)


@pytest.mark.parametrize("period", ["before", "after"])
def test_paper_table2_reproduced_from_its_counts(study, table2, period):
    rows = response_table(paper_cohort(period), study, period, published=table2).set_index("category")
    assert rows.attrs["N"] == (
        int(published.published_value(f"table2.{period}.n.anlotinib")),
        int(published.published_value(f"table2.{period}.n.crt")),
    )
    for cat, (nt, nc, p) in PAPER_T2[period].items():
        assert (rows.at[cat, "n_treated"], rows.at[cat, "n_control"]) == (nt, nc)
        assert rows.at[cat, "published_p"] == p
        assert rows.at[cat, "p_reproduces"], (period, cat, rows.at[cat, "p"])
        assert rows.at[cat, "test_source"] == "paper's counts"
    for cat in ("cr", "pr", "sd", "pd"):
        for side in ("treated", "control"):
            pub_pct = rows.at[cat, f"published_pct_{side}"]
            if not math.isnan(pub_pct):
                assert rows.at[cat, f"pct_{side}"] == pub_pct, (period, cat, side)
    assert rows.at["pd", "test"] == "yates" and rows.at["orr", "test"] == "pearson"


def test_paper_rounding_slip_of_the_orr_after_matching(study, table2):
    rows = response_table(paper_cohort("after"), study, "after", published=table2).set_index("category")
    # 59 / 68 = 86.76% -> 86.8%; the paper prints 86.7%
    assert rows.at["orr", "pct_treated"] == 86.8 and rows.at["orr", "published_pct_treated"] == 86.7


def test_infer_applies_the_papers_test_to_other_counts(study, table2):
    # The hand cohort's counts are not the paper's; the tests come from the paper's counts all the same.
    rows = response_table(hand_cohort(), study, "after", published=table2).set_index("category")
    assert (rows["test_source"] == "paper's counts").all()
    assert rows["paper_test_reproduces"].all()
    assert rows.at["pd", "test"] == "yates"
    # PD [[1, 3], [9, 9]], Yates: 22 (|9 - 27| - 11)^2 / (4 * 18 * 10 * 12)
    assert rows.at["pd", "p"] == pytest.approx(chi2_df1_p(22 * (18 - 11) ** 2 / (4 * 18 * 10 * 12)), rel=1e-9)
    assert rows.at["orr", "test"] == "pearson"
    assert rows.at["orr", "p"] == pytest.approx(chi2_df1_p(22 * 34**2 / 14400), rel=1e-9)
    assert not rows["p_reproduces"].any()


def test_infer_falls_back_to_computed_counts_without_published_counts(study):
    counts = response_counts(hand_cohort(), study)
    table = two_by_two(counts, ("cr", "pr"), study)
    from psmbook.analysis.association import run_test

    p_yates = run_test(table, "yates")
    pub = {"table2.before.orr.p": f"{p_yates:.3f}"}  # a p only the Yates-corrected test prints
    rows = response_table(hand_cohort(), study, "before", published=pub).set_index("category")
    assert rows.at["orr", "test"] == "yates" and rows.at["orr", "test_source"] == "computed counts"
    assert rows.at["cr", "test"] == "pearson" and rows.at["cr", "test_source"] == "default"


# ----------------------------------------------------------------------------------------------------
# Layout and figure


def test_table2_display_layout(study, table2):
    before = response_table(paper_cohort("before"), study, "before", published=table2)
    after = response_table(paper_cohort("after"), study, "after", published=table2)
    side = table2_display(before, after, study=study)
    assert side.columns[0] == ("Before matching", "CRT + Anlotinib", "Computed")
    assert side.loc["Evaluable", ("Before matching", "CRT", "Published")] == "210"
    assert side.loc["Complete Response (CR)", ("Before matching", "CRT + Anlotinib", "Computed")] == "21 (28.4%)"
    assert side.loc["Progressive Disease (PD)", ("After matching", "CRT + Anlotinib", "Published")] == "0"
    assert side.loc["Progressive Disease (PD)", ("After matching", "p-value", "Published")] == "0.020"
    assert side.loc["Progressive Disease (PD)", ("After matching", "Test", "")] == "Yates χ²"
    stacked = table2_display(before, after, study=study, stacked=True, short_labels=True)
    assert stacked.index.names == ["Period", "Response"]
    assert list(stacked.loc["After matching"].index) == ["Evaluable", "CR", "PR", "SD", "PD", "ORR"]
    assert stacked.loc[("After matching", "ORR"), ("CRT + Anlotinib", "Published")] == "59 (86.7%)"
    plain = table2_display(response_table(hand_cohort(), study, "before", test="pearson"))
    assert ("CRT + Anlotinib", "Published") not in plain.columns
    with pytest.raises(ValueError, match="no published"):
        table2_display(response_table(hand_cohort(), study, "before", test="pearson"), show_published=True)


def test_plot_response_bars_add_to_100_and_mark_the_papers_orr(study, table2):
    import matplotlib.pyplot as plt

    rows = response_table(paper_cohort("before"), study, "before", published=table2)
    fig = plot_response({"Before matching": rows}, study)
    ax = fig.axes[0]
    bars = [p for p in ax.patches]
    assert len(bars) == 2 * len(RESPONSE_COLOURS)
    for y in (0, 1):
        widths = [b.get_width() for b in bars if round(b.get_y() + b.get_height() / 2) == y]
        assert sum(widths) == pytest.approx(100.0)
    markers = [line.get_xdata()[0] for line in ax.lines if line.get_marker() == "v"]
    assert sorted(markers) == [69.5, 86.5]  # the paper's ORR of each arm
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------
# Small-cell suppression


def test_table2_suppression_protects_a_lone_small_level_and_the_orr():
    rows = pd.DataFrame(
        {
            "category": ["cr", "pr", "sd", "pd", OBJECTIVE],
            "n_treated": [21, 40, 10, 3, 61],
            "n_control": [2, 50, 30, 20, 52],
        }
    )
    rows.attrs["objective"] = ("cr", "pr")
    # treated: PD 3 alone -> SD (10, the next smallest level) too; CR and PR shown, so the ORR may be
    assert table2_suppression(rows, "treated", 5) == [False, False, True, True, False]
    # control: CR 2 alone -> PD 20 too; CR = ORR - PR would give it away, so the ORR is hidden
    assert table2_suppression(rows, "control", 5) == [True, False, False, True, True]
    assert table2_suppression(rows, "control", 0) == [False] * 5
    rows.attrs.clear()  # without the objective codes, the ORR goes whenever a level does
    assert table2_suppression(rows, "treated", 5) == [False, False, True, True, True]


def test_table2_display_hides_small_counts_and_their_complement(study):
    rows = response_table(hand_cohort(), study, "before", test="pearson")
    shown = table2_display(rows, short_labels=True, min_cell=3)
    treated, control = shown[("CRT + Anlotinib", "Computed")], shown[("CRT", "Computed")]
    # treated 3 / 4 / 2 / 1 of 10: the two small ones protect each other. Its 1 not-evaluable patient (arm of
    # 11) would be 11 - 10: the evaluable print as a range and the percentages (which give them) not at all
    assert treated.tolist() == ["9–10", "3", "4", "< 3", "< 3", "7"]
    # control 2 / 3 / 4 / 3 of 12 (2 not evaluable): CR 2 alone, so PR (the first smallest other) is hidden;
    # CR + PR = 5 tells neither
    assert control.tolist() == ["12–13", "< 3", "hidden", "4", "3", "5"]


def test_not_evaluable_display_by_period_and_arm(study):
    counts = {"before": not_evaluable_counts(hand_cohort(), study), "after": {"anlotinib": 0, "crt": 7}}
    table = not_evaluable_display(counts, study)
    assert table.index.name == "Not evaluable (died before assessment)"
    assert list(table.columns) == ["Before matching", "After matching"]
    assert table.loc["CRT + Anlotinib"].tolist() == [1, 0] and table.loc["CRT"].tolist() == [2, 7]
    hidden = not_evaluable_display(counts, study, min_cell=5)
    assert hidden.loc["CRT + Anlotinib"].tolist() == ["< 5", "0"] and hidden.loc["CRT"].tolist() == ["< 5", "7"]
