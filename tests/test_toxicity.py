"""Adverse-event tables on a small cohort counted by hand."""

import pandas as pd
import pytest

from psmbook.analysis import toxicity
from psmbook.study.description import load_study


@pytest.fixture(scope="module")
def study():
    return load_study()


def small_cohort():
    # 4 treated, 6 controls; leukopenia in 2/4 vs 1/6.
    arm = ["anlotinib"] * 4 + ["crt"] * 6
    df = pd.DataFrame({"arm": arm})
    for column in [
        "g34_leukopenia",
        "g34_neutropenia",
        "g34_anemia",
        "g34_nausea_vomiting",
        "g34_esophagitis",
        "g34_pneumonitis",
        "g34_any",
    ]:
        df[column] = False
    df.loc[[0, 1, 4], "g34_leukopenia"] = True
    df.loc[[0, 1, 4, 5], "g34_any"] = True
    df.loc[5, "g34_anemia"] = True
    for column in [
        "anl_hypertension_grade",
        "anl_hand_foot_grade",
        "anl_proteinuria_grade",
        "anl_hypothyroidism_grade",
        "anl_diarrhea_grade",
    ]:
        df[column] = 0
    df.loc[[0, 1, 2], "anl_hypertension_grade"] = [1, 3, 2]
    df["anlotinib_dose_reduced"] = [True, False, False, False] + [False] * 6
    df["dose_reduction_reason"] = ["hand_foot", None, None, None] + [None] * 6
    df["death_during_crt"] = [False] * 9 + [True]
    df["death_cause"] = [None] * 9 + ["stroke"]
    return df


def test_grade34_counts_and_pearson_p_by_hand(study):
    rows = toxicity.grade34_table(small_cohort(), study, tests={})
    leuko = rows.loc["leukopenia"]
    assert (leuko["n_treated"], leuko["N_treated"], leuko["pct_treated"]) == (2, 4, 50.0)
    assert (leuko["n_control"], leuko["pct_control"]) == (1, 16.7)
    # Pearson chi-square of [[2, 1], [2, 5]]: expected [[1.2, 1.8], [2.8, 4.2]]
    chi2 = (2 - 1.2) ** 2 / 1.2 + (1 - 1.8) ** 2 / 1.8 + (2 - 2.8) ** 2 / 2.8 + (5 - 4.2) ** 2 / 4.2
    from scipy.stats import chi2 as chi2_dist

    assert leuko["p"] == pytest.approx(chi2_dist.sf(chi2, 1))
    assert rows.index[-1] == "any_grade3_4" and rows.loc["any_grade3_4", "n_treated"] == 2


def test_tests_can_be_fixed_per_event(study):
    rows = toxicity.grade34_table(small_cohort(), study, tests={"leukopenia": "fisher"})
    assert rows.loc["leukopenia", "test"] == "fisher"
    assert rows.loc["leukopenia", "p"] == pytest.approx(0.5)  # Fisher exact two-sided for [[2,1],[2,5]]


def test_drug_specific_any_grade_and_grade34(study):
    table = toxicity.drug_specific_table(small_cohort(), study)
    row = table.loc["hypertension"]
    assert (row["n_any"], row["pct_any"], row["n_g34"], row["pct_g34"]) == (3, 75.0, 1, 25.0)


def test_dose_reductions_and_deaths(study):
    df = small_cohort()
    assert toxicity.dose_reductions(df, study).to_dict() == {"hand_foot": 1}
    deaths = toxicity.deaths_during_treatment(df, study)
    assert deaths.loc["Stroke", "CRT"] == 1 and deaths.loc["Stroke", "CRT + Anlotinib"] == 0


def test_bad_flags_are_named(study):
    df = small_cohort()
    df["g34_anemia"] = "sometimes"
    with pytest.raises(ValueError, match="g34_anemia"):
        toxicity.grade34_table(df, study, tests={})
    with pytest.raises(ValueError, match="'g34_esophagitis' missing"):
        toxicity.grade34_table(small_cohort().drop(columns="g34_esophagitis"), study, tests={})


def test_paper_choices_recovered_on_the_synthetic_cohort(study):
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.study.published import load_published

    rows = toxicity.grade34_table(generate_cohort(), study, published=load_published())
    assert rows["p_reproduces"].all()
    assert rows.loc["pneumonitis", "test"] == "yates" and rows.loc["leukopenia", "test"] == "pearson"


def test_prose_numbers_and_results_of_the_toxicity_chapter():
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.study.published import load_published, published_value

    study = load_study()
    cohort = generate_cohort(20250531)
    severe = toxicity.grade34_table(cohort, study, published=load_published())
    numbers = toxicity.grade34_numbers(severe)
    overall = severe.loc["any_grade3_4"]
    assert numbers["g34_treated"] == f"{overall['pct_treated']:.1f}%" and numbers["n_severe_rows"] == len(severe)
    assert set(toxicity.grade34_numbers(severe.drop(columns="p_reproduces"), name="m")) == {
        "m_what",
        "m_treated",
        "m_control",
        "m_p",
    }
    exposure = toxicity.drug_exposure(cohort, study)
    assert exposure["treated"] == 76 and exposure["any_event_pct"] == published_value("text.anlotinib.any_event.pct")
    text = toxicity.drug_numbers(exposure)
    assert text["n_reduced"] == published_value("text.anlotinib.dose_reduction.n")
    specific = toxicity.drug_specific_table(cohort, study, published=load_published())
    shown = toxicity.drug_specific_display(specific, study)
    assert shown.index.name == "CRT + Anlotinib (n=76)" and len(shown) == len(specific)
    assert list(shown.columns) == ["any grade", "any grade, published", "grade 3–4", "grade 3–4, published"]
    hypertension = specific.loc["hypertension"]
    assert shown.loc["Hypertension", "any grade"] == f"{hypertension['n_any']} ({hypertension['pct_any']:.1f}%)"
    assert shown.loc["Hypertension", "any grade, published"] == (
        f"{published_value('text.anlotinib.any_grade.hypertension.n'):g} "
        f"({published_value('text.anlotinib.any_grade.hypertension.pct'):g}%)"
    )
    values = toxicity.toxicity_values(severe, specific, exposure, severe, study)
    assert values["table4.anemia.anlotinib.n"] == severe.loc["anemia", "n_treated"]
    assert values["text.toxicity.g34_overall.p"] == overall["p"]
    assert values["text.anlotinib.dose_reduction.n"] == text["n_reduced"]


def test_event_cell_prints_counts_percentages_and_suppression():
    assert toxicity.event_cell(12, 15.79) == "12 (15.8%)"
    assert toxicity.event_cell(float("nan"), 38.2) == "38.2%"  # the paper prints the overall rate as a %
    assert toxicity.event_cell(None, None) == "–" and toxicity.event_cell(3, float("nan")) == "–"
    assert toxicity.event_cell(3, 3.9, 5) == "< 5" and toxicity.event_cell(0, 0.0, 5) == "0 (0.0%)"


def test_small_counts_are_hidden_in_every_toxicity_table(study):
    df = small_cohort()
    rows = toxicity.grade34_table(df, study, tests={})
    shown = toxicity.grade34_display(rows, study, show_published=False, min_cell=3)
    assert shown.loc["Leukopenia", ("CRT + Anlotinib (n=4)", "Computed")] == "< 3"  # 2 of 4
    assert shown.loc["Any grade 3–4 event", ("CRT (n=6)", "Computed")] == "< 3"  # 2 of 6
    specific = toxicity.drug_specific_display(toxicity.drug_specific_table(df, study), study, min_cell=3)
    # hypertension: 3 of 4 at any grade, 1 of 4 at grade 3-4
    assert specific.loc["Hypertension"].to_dict() == {"any grade": "3 (75.0%)", "grade 3–4": "< 3"}
    deaths = toxicity.deaths_during_treatment(df, study, min_cell=3)
    assert deaths.loc["Stroke"].tolist() == ["0", "< 3"]
