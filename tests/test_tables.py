"""Tests of psmbook.study.description and psmbook.analysis.tables: the study description, counts and percentages by arm,
the tests per characteristic, the paper's layout, and clear errors on bad data."""

import math

import pandas as pd
import pytest
import yaml

from psmbook.analysis.tables import (
    TESTS,
    arm_codes,
    categorical_rows,
    counts_by_arm,
    crosstab,
    level_codes,
    percent,
    published_id,
    published_number_value,
    published_p_text,
    table1_display,
)
from psmbook.study.description import GENERATED_ID, Study, load_study, study_from_dict

# Table 1 before PSM, typed from the paper: level code -> (CRT + anlotinib, CRT), and printed p.
# "none" of previous treatment is not printed: 76 - 20 = 56 and 215 - 54 = 161.
PAPER_T1_BEFORE = {
    "age_group": ({"lt65": (47, 101), "ge65": (29, 114)}, "0.026"),
    "sex": ({"male": (60, 166), "female": (16, 49)}, "0.755"),
    "ecog": ({"0": (33, 85), "1-2": (43, 130)}, "0.553"),
    "location": ({"upper": (6, 14), "middle": (52, 139), "lower": (18, 62)}, "0.664"),
    "differentiation": ({"well": (6, 10), "moderate": (50, 172), "poor": (20, 33)}, "0.044"),
    "stage": ({"ib_iia": (28, 74), "iib_iii": (48, 141)}, "0.703"),
    "previous_treatment": (
        {"none": (56, 161), "radiotherapy": (8, 20), "chemotherapy": (8, 18), "chemoradiotherapy": (4, 16)},
        "0.689",
    ),
    "recurrence_site": (
        {"supraclavicular": (11, 37), "mediastinal": (42, 127), "abdominal": (6, 19), "multiple": (17, 32)},
        "0.509",
    ),
    "node_diameter": ({"lt3": (35, 137), "ge3": (41, 78)}, "0.007"),
    "radiation_dose": ({"standard": (45, 141), "escalated": (31, 74)}, "0.320"),
    "concurrent_chemo": ({"docetaxel_cisplatin": (59, 157), "s1": (17, 58)}, "0.430"),
    "consolidation_chemo": ({"yes": (67, 154), "no": (9, 61)}, "0.004"),
    "nutritional_support": ({"yes": (9, 33), "no": (67, 182)}, "0.455"),
}
PAPER_PCT = {  # a few printed percentages, to check the one-decimal rounding
    ("age_group", "lt65"): (61.8, 47.0),
    ("differentiation", "well"): (7.9, 4.7),
    ("previous_treatment", "chemoradiotherapy"): (5.3, 7.4),
    ("consolidation_chemo", "no"): (11.8, 28.4),
}


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study()


def paper_cohort(table=PAPER_T1_BEFORE, n_t=76, n_c=215):
    """A patient-level frame whose margins are the paper's Table 1 (each column filled by arm)."""
    cols = {}
    for column, (levels, _) in table.items():
        t = [code for code, (a, _) in levels.items() for _ in range(a)]
        c = [code for code, (_, b) in levels.items() for _ in range(b)]
        assert len(t) == n_t and len(c) == n_c, column
        cols[column] = t + c
    df = pd.DataFrame(cols)
    df.insert(0, "arm", ["anlotinib"] * n_t + ["crt"] * n_c)
    df.insert(0, "patient_id", [f"P{i:03d}" for i in range(n_t + n_c)])
    return df


def paper_published(table=PAPER_T1_BEFORE, period="before", n_t=76, n_c=215):
    pub = {}
    for column, (levels, p) in table.items():
        pub[f"table1.{period}.{column}.p"] = p
        for code, (a, b) in levels.items():
            if code == "none":
                continue  # not printed
            pub[f"table1.{period}.{column}.{code}.anlotinib.n"] = a
            pub[f"table1.{period}.{column}.{code}.crt.n"] = b
            pub[f"table1.{period}.{column}.{code}.anlotinib.pct"] = round(100 * a / n_t, 1)
            pub[f"table1.{period}.{column}.{code}.crt.pct"] = round(100 * b / n_c, 1)
    return pub


def tiny(study):
    """Six patients typed by hand: 3 treated, 3 controls."""
    return pd.DataFrame(
        {
            "patient_id": ["A1", "A2", "A3", "C1", "C2", "C3"],
            "arm": ["anlotinib", "anlotinib", "anlotinib", "crt", "crt", "crt"],
            "age_group": ["lt65", "lt65", "ge65", "ge65", "ge65", "lt65"],
            "previous_treatment": ["none", "radiotherapy", "none", "chemotherapy", "none", "none"],
            "ecog": [0, "1-2", 0, 0, 0, 0],  # 0 as a number, as a spreadsheet reader returns it; code "0"
        }
    )


# ----------------------------------------------------------------------------------------------------
# Study description


def test_load_default_study(study):
    assert study.synthetic is True
    assert study.id_column == "patient_id"
    assert study.treatment.column == "arm"
    assert study.treatment.arms == ("anlotinib", "crt")
    assert study.arm_label("anlotinib") == "CRT + Anlotinib"
    assert study.arm_label("crt") == "CRT"
    assert [v.column for v in study.covariates][:3] == ["age_group", "sex", "ecog"]
    assert len(study.covariates) == 13
    assert len(study.psm_covariates) == 11  # the Methods' eleven PSM covariates
    ecog = study.variable("ecog")
    assert ecog.codes == ("0", "1-2") and ecog.levels["1-2"] == "1–2"
    prev = study.variable("previous_treatment")
    assert prev.codes[0] == "none" and prev.table1_omit == ("none",)
    assert prev.shown_levels == ("radiotherapy", "chemotherapy", "chemoradiotherapy")
    assert study.variable("consolidation_chemo").codes == ("yes", "no")
    assert study.outcome("os").time == "os_months"
    assert study.response.not_evaluable == "ne"
    with pytest.raises(ValueError, match="no covariate 'bmi'"):
        study.variable("bmi")
    with pytest.raises(ValueError, match="unknown arm"):
        study.arm_label("placebo")


MINIMAL = """
name: test
id_column: id
treatment: {column: arm, treated: t, control: c}
covariates:
  - {column: x, levels: {a: A, b: B}}
"""


def test_study_errors_name_the_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(MINIMAL)
    st = load_study(path)
    assert st.arm_label("t") == "t" and st.variable("x").label == "x"

    path.write_text(MINIMAL.replace("id_column: id\n", ""))
    assert load_study(path).id_column == GENERATED_ID  # no id column: one is made from the row number
    path.write_text(MINIMAL.replace(", control: c", ""))
    with pytest.raises(ValueError, match=r"treatment\.control"):
        load_study(path)
    path.write_text(MINIMAL.replace(", levels: {a: A, b: B}", ""))
    with pytest.raises(ValueError, match=r"covariates\[0\] \(x\)\.levels"):
        load_study(path)
    # YAML is read as the text written: unquoted yes/no (and 0/10, 01) are codes, not booleans or numbers
    path.write_text(MINIMAL.replace("{a: A, b: B}", "{yes: Yes, no: No}"))
    assert load_study(path).variable("x").levels == {"yes": "Yes", "no": "No"}
    path.write_text(MINIMAL.replace("{a: A, b: B}", "{0: No, 10: Yes, 01: Once}"))
    assert load_study(path).variable("x").levels == {"0": "No", "10": "Yes", "01": "Once"}
    with pytest.raises(ValueError, match="boolean code True"):  # a description built in Python
        study_from_dict({**yaml.safe_load(MINIMAL), "treatment": {"column": "arm", "treated": True, "control": "c"}})
    path.write_text(MINIMAL.replace("{a: A, b: B}}", "{a: A, b: B}, table1_omit: [z]}"))
    with pytest.raises(ValueError, match="table1_omit"):
        load_study(path)
    with pytest.raises(FileNotFoundError):
        load_study(tmp_path / "absent.yaml")


# ----------------------------------------------------------------------------------------------------
# Counting, percentages, errors


def test_percent_rounds_half_up():
    assert percent(47, 76) == 61.8
    assert percent(2, 3) == 66.7
    assert percent(1, 16) == 6.3  # 6.25 -> 6.3, as SPSS prints it
    assert percent(59, 68) == 86.8  # the paper prints 86.7 for the matched ORR
    assert math.isnan(percent(0, 0))


def test_crosstab_tiny(study):
    df = tiny(study)
    tab = crosstab(df, "previous_treatment", study)
    assert list(tab.index) == ["none", "radiotherapy", "chemotherapy", "chemoradiotherapy"]
    assert list(tab.columns) == ["anlotinib", "crt"]
    assert tab.to_numpy().tolist() == [[2, 2], [1, 0], [0, 1], [0, 0]]
    assert crosstab(df, "ecog", study).to_numpy().tolist() == [[2, 3], [1, 0]]


def test_categorical_rows_tiny(study):
    df = tiny(study)
    rows = categorical_rows(df, study, columns=["age_group", "previous_treatment"], test="fisher")
    assert rows["variable"].tolist() == [
        "age_group",
        "age_group",
        "previous_treatment",
        "previous_treatment",
        "previous_treatment",
    ]
    assert rows["level_label"].tolist() == [
        "< 65 years",
        "≥ 65 years",
        "Radiotherapy",
        "Chemotherapy",
        "Chemoradiotherapy",
    ]  # "None" omitted
    assert rows["n_treated"].tolist() == [2, 1, 1, 0, 0]
    assert rows["n_control"].tolist() == [1, 2, 0, 1, 0]
    assert rows["pct_treated"].tolist() == [66.7, 33.3, 33.3, 0.0, 0.0]
    assert rows["pct_control"].tolist() == [33.3, 66.7, 0.0, 33.3, 0.0]
    assert rows["N_treated"].unique().tolist() == [3] and rows["N_control"].unique().tolist() == [3]
    # age: [[2, 1], [1, 2]] -> Fisher p = 1; p and test on the first row only
    assert rows.loc[0, "p"] == pytest.approx(1.0)
    assert math.isnan(rows.loc[1, "p"]) and rows.loc[1, "test"] is None
    assert rows.loc[0, "test"] == "fisher" and rows.loc[0, "test_label"] == "Fisher's exact test"
    # previous treatment is tested on all four levels, "none" included: [[2,2],[1,0],[0,1]] (empty row
    # dropped). Rows (4, 1, 1), first column sum 3, C(6, 3) = 20: (2,1,0) and (2,0,1) have weight 6,
    # (3,0,0) 4, (1,1,1) 4 -> p(observed (2,1,0)) = 6/20 is the largest, so p = 1.
    assert rows.loc[2, "p"] == pytest.approx(1.0)
    shown_only = categorical_rows(
        df, study, columns=["previous_treatment"], test="fisher", include_omitted_in_test=False
    )
    assert shown_only.loc[0, "p"] == pytest.approx(1.0)  # [[1, 0], [0, 1]] -> 1.0 as well
    assert "published_p" not in rows.columns


def test_errors_missing_column(study):
    df = tiny(study).drop(columns="age_group")
    with pytest.raises(ValueError, match="age_group"):
        categorical_rows(df, study, columns=["age_group"], test="pearson")
    with pytest.raises(ValueError, match="'age_group'"):
        crosstab(df, "age_group", study)
    with pytest.raises(ValueError, match="'arm'"):
        crosstab(tiny(study).drop(columns="arm"), "ecog", study)


def test_errors_unknown_level_names_rows(study):
    df = tiny(study)
    df.loc[[1, 4], "age_group"] = "65+"
    with pytest.raises(ValueError) as err:
        categorical_rows(df, study, columns=["age_group"], test="pearson")
    msg = str(err.value)
    assert "'age_group'" in msg and "'65+'" in msg and "A2" in msg and "C2" in msg
    assert "patient_id" in msg and "A1" not in msg

    df = tiny(study)
    df.loc[0, "ecog"] = None
    with pytest.raises(ValueError, match=r"'ecog'.*<missing>.*A1"):
        crosstab(df, "ecog", study)

    df = tiny(study)
    df.loc[5, "arm"] = "placebo"
    with pytest.raises(ValueError, match=r"'arm'.*'placebo'.*C3"):
        categorical_rows(df, study, columns=["age_group"], test="pearson")


def test_errors_tests_and_published(study):
    df = tiny(study)
    with pytest.raises(ValueError, match="published"):
        categorical_rows(df, study, columns=["age_group"])  # test="infer" needs published numbers
    with pytest.raises(ValueError, match="unknown test"):
        categorical_rows(df, study, columns=["age_group"], test="t-test")
    with pytest.raises(ValueError, match="no covariate"):
        categorical_rows(df, study, columns=["bmi"], test="pearson")
    assert set(TESTS) == {"infer", "rule", "paper_rule", "pearson", "fisher", "yates", "likelihood_ratio"}


# ----------------------------------------------------------------------------------------------------
# The paper's Table 1 before matching


def test_paper_table1_counts_and_percentages(study):
    df = paper_cohort()
    rows = categorical_rows(df, study, test="pearson")
    assert len(rows) == 2 + 2 + 2 + 3 + 3 + 2 + 3 + 4 + 2 + 2 + 2 + 2 + 2  # "none" has no row
    by = rows.set_index(["variable", "level"])
    for (column, level), (pt, pc) in PAPER_PCT.items():
        assert by.loc[(column, level), "pct_treated"] == pt
        assert by.loc[(column, level), "pct_control"] == pc
    assert by.loc[("previous_treatment", "radiotherapy"), "n_control"] == 20


def test_paper_table1_p_values_inferred(study):
    df = paper_cohort()
    pub = paper_published()
    rows = categorical_rows(df, study, test="infer", published=pub, period="before")
    first = rows[rows["test"].notna()].set_index("variable")
    # Every printed p except previous treatment is reproduced, by Pearson's chi-squared test.
    ok = first.drop(index="previous_treatment")
    assert ok["p_reproduces"].all()
    assert (ok["test"] == "pearson").all()
    assert ok.loc["age_group", "published_p"] == "0.026"
    for column, printed in (
        ("age_group", "0.026"),
        ("node_diameter", "0.007"),
        ("differentiation", "0.044"),
        ("consolidation_chemo", "0.004"),
    ):
        assert f"{first.loc[column, 'p']:.3f}" == printed
    # With the unprinted "none" row in the test no candidate prints 0.689 (Pearson 0.855, LR 0.852);
    # inference then tries the printed levels only, where the likelihood-ratio test prints 0.689.
    prev = first.loc["previous_treatment"]
    assert prev["p_reproduces"] and prev["test"] == "likelihood_ratio"
    assert prev["test_label"].endswith("printed levels only")
    assert "'None' row left out" in prev["test_note"]
    assert prev["p"] == pytest.approx(0.6886, abs=5e-4)
    with_none = categorical_rows(df, study, columns=["previous_treatment"], test="pearson", published=pub)
    assert with_none.loc[0, "p"] == pytest.approx(0.8548, abs=5e-4) and not with_none.loc[0, "p_reproduces"]
    # Published n and % sit beside the computed ones.
    assert (rows["published_n_treated"] == rows["n_treated"]).all()
    assert (rows["published_pct_control"] == rows["pct_control"]).all()
    # Tested on the printed levels only, the likelihood-ratio test prints the paper's 0.689.
    shown = categorical_rows(
        df, study, columns=["previous_treatment"], test="infer", published=pub, include_omitted_in_test=False
    )
    assert shown.loc[0, "test"] == "likelihood_ratio" and shown.loc[0, "p_reproduces"]


def test_paper_table1_fixed_and_rule_tests(study):
    df = paper_cohort()
    pub = paper_published()
    fisher = categorical_rows(df, study, columns=["age_group", "location"], test="fisher", published=pub)
    assert fisher.loc[0, "p"] == pytest.approx(0.0325, abs=5e-5) and not fisher.loc[0, "p_reproduces"]
    rule = categorical_rows(df, study, test="rule", published=pub)
    first = rule[rule["test"].notna()].set_index("variable")
    assert first.drop(index="previous_treatment")["p_reproduces"].all()


def test_published_values_as_objects(study):
    # published values may be plain numbers, text, or records carrying a value / printed text
    class Rec:
        def __init__(self, value, printed=None):
            self.value, self.printed = value, printed

    df = paper_cohort()
    pub = {k: (Rec(v, v) if k.endswith(".p") else {"value": v}) for k, v in paper_published().items()}
    rows = categorical_rows(df, study, columns=["age_group"], test="infer", published=pub)
    assert rows.loc[0, "published_p"] == "0.026" and rows.loc[0, "published_n_treated"] == 47
    assert published_id("after", "sex", "male", "crt", "pct") == "table1.after.sex.male.crt.pct"


def test_table1_display_layout(study):
    df = paper_cohort()
    rows = categorical_rows(df, study, test="infer", published=paper_published())
    shown = table1_display(rows)
    assert shown.columns.get_level_values(0).unique().tolist()[:3] == [
        "CRT + Anlotinib (n=76)",
        "CRT (n=215)",
        "p-value",
    ]
    assert ("CRT + Anlotinib (n=76)", "Published") in shown.columns
    assert shown.loc[("Age", "< 65 years"), ("CRT + Anlotinib (n=76)", "Computed")] == "47 (61.8%)"
    assert shown.loc[("Age", "< 65 years"), ("CRT (n=215)", "Published")] == "101 (47.0%)"
    assert shown.loc[("Age", "< 65 years"), ("p-value", "Computed")] == "0.026"
    assert shown.loc[("Age", "≥ 65 years"), ("p-value", "Computed")] == ""
    assert shown.loc[("Maximal Lymph Node Diameter", "< 3 cm"), ("p-value", "Published")] == "0.007"
    assert ("Test", "") in shown.columns  # tests differ (previous treatment is flagged)

    plain = table1_display(categorical_rows(df, study, test="pearson"))
    assert ("Test", "") not in plain.columns
    assert plain.columns.get_level_values(1).unique().tolist() == ["Computed"]
    with pytest.raises(ValueError, match="published"):
        table1_display(categorical_rows(df, study, test="pearson"), show_published=True)


def test_table1_display_before_after(study):
    before = categorical_rows(paper_cohort(), study, test="pearson", period="before")
    small = paper_cohort()
    small = pd.concat([small[small.arm == "anlotinib"].head(68), small[small.arm == "crt"].head(68)])
    after = categorical_rows(small, study, test="pearson", period="after")
    shown = table1_display(before, after)
    assert shown.columns.nlevels == 3
    assert shown.columns.get_level_values(0).unique().tolist() == [
        "Before Propensity Score Matching",
        "After Propensity Score Matching",
    ]
    assert ("After Propensity Score Matching", "CRT (n=68)", "Computed") in shown.columns
    assert len(shown) == len(before)


def test_with_package_published_numbers(study):
    published = pytest.importorskip("psmbook.study.published")
    pub = published.select("table1.before.")
    rows = categorical_rows(paper_cohort(), study, test="infer", published=pub, period="before")
    first = rows[rows["test"].notna()].set_index("variable")
    assert first["p_reproduces"].all()
    assert first.loc["previous_treatment", "test"] == "likelihood_ratio"
    assert (rows["published_n_treated"] == rows["n_treated"]).all()
    assert (rows["published_pct_control"] == rows["pct_control"]).all()


def test_table1_values_names_every_count_percentage_and_p():
    from psmbook.analysis.tables import table1_values
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.study.published import published_value

    study = load_study()
    rows = categorical_rows(generate_cohort(20250531), study, test="rule", period="before")
    values = table1_values(rows, study, "before")
    for key in ("sex.male.anlotinib.n", "sex.male.crt.n", "sex.female.anlotinib.pct", "age_group.p"):
        assert values[f"table1.before.{key}"] == pytest.approx(published_value(f"table1.before.{key}"), abs=5e-4)
    assert values["table1.before.sex.male.anlotinib.pct"] == 78.9  # 60 of 76, as the paper prints it
    p = rows.dropna(subset=["p"]).set_index("variable")["p"]
    assert values["table1.before.age_group.p"] == p["age_group"]
    n_levels = len(rows)
    assert len([k for k in values if k.endswith(".n")]) == 2 * n_levels
    assert len([k for k in values if k.endswith(".p")]) == p.index.nunique()


def test_counts_by_arm_keeps_empty_levels_in_order(study):
    df = tiny(study)
    arms = arm_codes(df, study)
    codes = level_codes(df, "previous_treatment", study.variable("previous_treatment").codes, study, "previous")
    tab = counts_by_arm(codes, arms, ["chemoradiotherapy", "none", "radiotherapy", "chemotherapy"], study, "prev")
    assert tab.index.name == "prev" and tab.columns.name == "arm" and list(tab.columns) == ["anlotinib", "crt"]
    assert tab.to_numpy().tolist() == [[0, 0], [2, 2], [1, 0], [0, 1]]
    bad = df.assign(arm=["anlotinib"] * (len(df) - 1) + ["placebo"])
    with pytest.raises(ValueError, match=r"'arm' \(treatment arm\).*'placebo'"):
        arm_codes(bad, study)


def test_published_number_value_and_p_text():
    pub = {"a": {"value": 61.8}, "b": {"value": None, "printed": "61.8%"}, "p": {"value": 0.0004}, "q": "0.04"}
    assert published_number_value(pub, "a") == 61.8 and published_number_value(pub, "b") == 61.8
    assert math.isnan(published_number_value(pub, "missing")) and math.isnan(published_number_value(None, "a"))
    assert published_p_text(pub, "p") == "<0.001" and published_p_text(pub, "q") == "0.04"
    assert published_p_text(pub, "missing") is None
