"""Studies other than the paper's are first-class: their response and toxicity chapters run on what
their description gives (no not-evaluable code, any number of levels, no "any event" column), their pages
carry no wording of the paper's, the adjusted Cox model keeps the treatment, the score model's odds
ratios read as the study labels and orders its levels, skipped chapters give advice that works, the
flow chart before matching and day-scale survival axes read well."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, fisher_exact

from psmbook.analysis import response, response_prose, survival, toxicity
from psmbook.analysis.survival import cox_report
from psmbook.analysis.survival.plots import time_ticks
from psmbook.book import tailoring
from psmbook.book.chapter import Chapter
from psmbook.book.provenance import provenance
from psmbook.present.style import synthetic_banner
from psmbook.study.description import load_study, study_from_dict

ROOT = Path(__file__).resolve().parents[1]
GBSG = load_study(ROOT / "examples" / "gbsg2_lymph_node.yaml")
PAPER = load_study()

#: A small study of its own: three response levels without a not-evaluable code, two grade 3-4 events
#: without an "any event" column, deaths during treatment without causes.
OWN = {
    "name": "Own study",
    "synthetic": False,
    "treatment": {"column": "arm", "treated": "new", "control": "old", "labels": {"new": "New", "old": "Old"}},
    "covariates": [{"column": "sex", "levels": {"f": "Female", "m": "Male"}, "psm": True}],
    "outcomes": {"os": {"time": "months", "event": "died", "label": "Overall survival"}},
    "response": {
        "column": "best",
        "levels": {"good": "Good response", "some": "Some response", "none": "No response"},
        "objective": ["good", "some"],
        "objective_label": "Any response",
    },
    "toxicity": {
        "grade3_4": {
            "nausea": {"column": "g_nausea", "label": "Nausea"},
            "rash": {"column": "g_rash", "label": "Rash"},
        },
        "death_during_treatment": "died_early",
    },
}


def _own(**changes) -> object:
    raw = json.loads(json.dumps(OWN))
    for key, value in changes.items():
        raw[key] = value
    return study_from_dict(raw)


def _own_cohort() -> pd.DataFrame:
    """60 new (good 20, some 25, none 15) and 80 old (good 16, some 30, none 34); nausea 12 vs 8, rash
    2 vs 9 (one patient of each arm with both), deaths 1 vs 3."""
    arm = ["new"] * 60 + ["old"] * 80
    best = ["good"] * 20 + ["some"] * 25 + ["none"] * 15 + ["good"] * 16 + ["some"] * 30 + ["none"] * 34
    nausea = [True] * 12 + [False] * 48 + [True] * 8 + [False] * 72
    rash = [True] + [False] * 11 + [True] + [False] * 47 + [True] + [False] * 7 + [True] * 8 + [False] * 64
    return pd.DataFrame(
        {
            "arm": arm,
            "sex": ["f", "m"] * 70,
            "months": np.linspace(1, 30, 140),
            "died": [1, 0] * 70,
            "best": best,
            "g_nausea": nausea,
            "g_rash": rash,
            "died_early": [True] + [False] * 59 + [True] * 3 + [False] * 77,
        }
    )


# ----------------------------------------------------------------------------------------------------
# Response


def test_response_without_a_not_evaluable_code_counts_everyone_with_the_usual_tests():
    study, cohort = _own(), _own_cohort()
    assert response.not_evaluable_counts(cohort, study) == {"new": 0, "old": 0}
    rows = response_prose.table2_rows(cohort, cohort.iloc[::2], study)
    before = rows["before"].set_index("category")
    assert list(before.index) == ["good", "some", "none", response.OBJECTIVE]
    assert (
        before.attrs["N"] == (60, 80)
        and before.at["good", "n_treated"] == 20
        and before.at["none", "pct_control"] == 42.5
    )
    objective = [[45, 46], [15, 34]]  # any response against none, new and old
    assert before.at["orr", "n_treated"] == 45 and before.at["orr", "test"] == "pearson"
    assert before.at["orr", "p"] == pytest.approx(chi2_contingency(objective, correction=False)[1])
    numbers = response_prose.study_table2_numbers(rows, study)
    assert numbers["orr_text"].startswith("Any response: before matching, 75.0% in the treated arm against 57.5%")
    assert numbers["tests_used"].startswith("in both periods, Pearson χ² for Good response")
    assert response_prose.study_evaluability_numbers({"before": {}, "after": {}}, study)[
        "evaluability_text"
    ].startswith("The study description names no not-evaluable response code")
    values = response_prose.response_values(rows, {p: {"new": 0, "old": 0} for p in ("before", "after")}, study)
    assert values["table2.before.orr.new.n"] == 45 and not any(k.startswith(("text.", "abstract.")) for k in values)


def test_response_with_a_not_evaluable_code_and_no_objective_levels():
    spec = {"column": "best", "levels": {"good": "Good", "none": "None", "ne": "Not assessed"}, "not_evaluable": "ne"}
    study = _own(response=spec)
    cohort = _own_cohort().assign(best=["good"] * 30 + ["ne"] * 2 + ["none"] * 28 + ["good"] * 40 + ["none"] * 40)
    assert [c[0] for c in response.categories(study)] == ["good", "none"]  # no objective rate row
    rows = response_prose.table2_rows(cohort, cohort, study)
    assert rows["before"].attrs["N"] == (58, 80) and rows["before"].attrs["not_evaluable"] == {"new": 2, "old": 0}
    text = response_prose.study_evaluability_numbers(
        {"before": {"new": 2, "old": 0}, "after": {"new": 2, "old": 0}}, study
    )
    assert "coded 'Not assessed' (not evaluable)" in text["evaluability_text"]
    assert "no objective response levels" in response_prose.study_table2_numbers(rows, study)["orr_text"]
    shown = response.table2_display(rows["before"], rows["after"], study=study, stacked=True, computed_label="")
    assert list(shown.columns) == ["New", "Old", "p-value", "Test"]  # one header row: nothing to tell apart
    table = response.not_evaluable_display({"before": {"new": 2, "old": 0}}, study)
    assert table.index.name == "Not evaluable" and table.loc["New", "Before matching"] == 2


def test_response_figure_has_a_colour_per_level_and_a_line_only_for_objective_levels():
    import matplotlib

    matplotlib.use("Agg")
    study, cohort = _own(), _own_cohort()
    rows = response_prose.table2_rows(cohort, cohort, study)
    fig = response.plot_response({"Before matching": rows["before"]}, study)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["Good response", "Some response", "No response", "Any response (Good response + Some response)"]
    assert fig._suptitle.get_text() == "Response by arm"  # "after CRT" is the paper's
    assert len(response.response_colours(3)) == 3 and response.response_colours(4) == response.RESPONSE_COLOURS
    assert len(set(response.response_colours(6))) == 6


# ----------------------------------------------------------------------------------------------------
# Toxicity


def test_toxicity_without_an_any_event_column_counts_any_listed_event_with_the_usual_tests():
    study, cohort = _own(), _own_cohort()
    severe = toxicity.grade34_table(cohort, study)  # no published numbers: the rule of thumb per row
    assert list(severe.index) == ["nausea", "rash", "any_grade3_4"]
    assert severe.loc["any_grade3_4", "label"] == "Any listed grade 3–4 event"
    assert (severe.loc["any_grade3_4", "n_treated"], severe.loc["any_grade3_4", "n_control"]) == (13, 16)
    rash = [[2, 9], [58, 71]]  # expected count of rash in the new arm 4.7: the Yates-corrected test
    assert severe.loc["rash", "test"] == "yates"
    assert severe.loc["rash", "p"] == pytest.approx(chi2_contingency(rash, correction=True)[1])
    numbers = toxicity.grade34_numbers(severe)
    assert numbers["g34_what"] == "At least one of the listed grade 3–4 events" and numbers["g34_treated"] == "21.7%"
    shown = toxicity.grade34_display(severe, study, computed_label="")
    assert list(shown.columns) == ["New (n=60)", "Old (n=80)", "p-value", "Test"]
    deaths = toxicity.deaths_during_treatment(cohort, study)
    assert deaths.loc["Not recorded"].tolist() == [1, 3]
    specific = toxicity.drug_specific_table(cohort, study)
    assert specific.empty and "n_any" in specific.columns
    matched = toxicity.grade34_table(cohort.iloc[:100], study, tests=severe["test"].to_dict())
    values = toxicity.toxicity_values(severe, specific, None, matched, study)
    assert values["table4.rash.new.n"] == 2 and values["toxicity.g34_overall.old.n"] == 16
    assert values["toxicity.after.any_grade3_4.p"] == matched.loc["any_grade3_4", "p"]
    assert not any(k.startswith("text.") for k in values)


def test_drug_events_without_an_any_event_or_a_reduction_column():
    spec = dict(OWN["toxicity"], drug_specific={"rash": {"column": "rash_grade", "label": "Rash"}})
    study = _own(toxicity=spec)
    cohort = _own_cohort().assign(rash_grade=[0, 1, 3, 2] + [0] * 56 + [0] * 80)
    exposure = toxicity.drug_exposure(cohort, study)
    assert (exposure["any_event"], exposure["treated"], exposure["mild_pct"]) == (3, 60, 66.7)
    assert exposure["reductions"].empty
    numbers = toxicity.drug_numbers(exposure, study)
    assert numbers == {"any_event": "3 of 60 (5.0%)", "mild_share": "66.7%", "n_reduced": 0, "reductions": "none"}
    table = toxicity.drug_specific_table(cohort, study)
    assert (table.loc["rash", "n_any"], table.loc["rash", "n_g34"]) == (3, 1)


def test_a_small_table_gets_fishers_test_by_the_rule():
    row = toxicity.compare_event(
        pd.Series([True, False, False, True]), pd.Series(["a", "a", "b", "b"]), ("a", "b"), test="rule"
    )
    assert row["test"] == "fisher" and row["p"] == pytest.approx(fisher_exact([[1, 1], [1, 1]])[1])


# ----------------------------------------------------------------------------------------------------
# The chapters, tailored


def _tailored(stem: str, study) -> dict:
    notebook = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())
    return tailoring.tailor(notebook, study)


def test_response_and_toxicity_chapters_need_only_their_sections():
    for stem, need in (("03_response", "response"), ("05_toxicity", "toxicity")):
        notebook = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())
        assert tailoring.chapter_needs(notebook) == [need]
        assert tailoring.unmet(_own(), tailoring.chapter_needs(notebook)) == []


#: The paper's words, which a page of another study must not carry.
PAPER_WORDS = re.compile(r"\bthe paper\b|paper's|\bSPSS\b|anlotinib|\bCRT\b|Treatment Group|synthetic cohort")


@pytest.mark.parametrize("stem", ["01_cohort", "02_matching", "03_response", "04_survival", "05_toxicity"])
def test_no_words_of_the_paper_on_another_studys_pages(stem):
    notebook = _tailored(stem, _own())
    for cell in notebook["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            assert not PAPER_WORDS.search(text), text
    parameters = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    seed = next(line for line in "".join(parameters["source"]).splitlines() if line.startswith("seed"))
    assert "no cohort is generated" in seed or seed.endswith(tailoring.SEED_COMMENT)
    assert any("seed of the synthetic cohort" in "".join(c["source"]) for c in _tailored(stem, PAPER)["cells"])


def test_skipped_pages_give_advice_that_works():
    def page(stem, study):
        notebook = json.loads((ROOT / "chapters" / f"{stem}.ipynb").read_text())
        return tailoring.skipped_page(notebook, study, tailoring.unmet(study, tailoring.chapter_needs(notebook)))

    discussion, lab, response_page = page("06_discussion", GBSG), page("07_lab", GBSG), page("03_response", GBSG)
    for text in (discussion, lab, response_page):
        assert "paper: true" not in text  # which would then crash on the paper's own covariates
    assert (
        "Nothing in your study description can add this" in discussion and "runs on the synthetic cohort" in discussion
    )
    assert "Build the book without `data` and `study`" in lab and lab.count("Nothing in your study") == 1
    assert "add a `response` section naming the response column" in response_page


def test_the_treatment_always_stays_in_the_adjusted_model():
    factors = survival.covariate_factors(GBSG)
    arm = GBSG.treatment.column
    assert factors[-1].label == "Treatment" and survival.table3_factors(PAPER)[-1].label == "Treatment Group"
    chosen = survival.adjusted_factors(factors, ["grade"], arm)
    assert [f.column for f in chosen] == ["grade", arm]
    text = cox_report.adjusted_text(chosen, ["grade"], arm)
    assert text.startswith("Tumour grade, Treatment (treatment did not pass the entry rule; it is kept")
    assert cox_report.adjusted_text(survival.adjusted_factors(factors, [], arm), [], arm).endswith("treatment alone")
    assert cox_report.adjusted_text(survival.adjusted_factors(factors, ["grade", arm], arm), ["grade", arm], arm) == (
        "Tumour grade, Treatment"
    )
    with pytest.raises(ValueError, match="no factor holds the treatment column 'hormone'"):
        survival.adjusted_factors(factors[:-1], ["grade"], arm)


def test_odds_ratios_read_as_the_study_labels_and_orders_its_levels():
    import statsmodels.formula.api as smf

    from psmbook.cohort import synthetic
    from psmbook.matching import report
    from psmbook.matching.score import fit_propensity

    cohort = synthetic.generate_cohort(5)
    covariates = ["age_group", "recurrence_site", "node_diameter"]
    model = fit_propensity(cohort, "arm", "anlotinib", covariates, study=PAPER)
    table = model.odds_ratios_by_level(PAPER)
    # sorted, "ge65" would be the reference; the study lists "lt65" first
    assert list(table.index[:2]) == ["Age: < 65 years (reference)", "Age: ≥ 65 years"]
    sites = [i for i in table.index if i.startswith("Lymph Node Recurrence Site")]
    assert sites[0].endswith("Supraclavicular (reference)") and sites[1].endswith("Mediastinal")
    data = cohort.assign(t=(cohort["arm"] == "anlotinib").astype(int))
    refit = smf.logit(
        "t ~ C(age_group, Treatment('lt65')) + C(recurrence_site, Treatment('supraclavicular')) + C(node_diameter)",
        data=data,
    ).fit(disp=0)
    term = "C(recurrence_site, Treatment('supraclavicular'))[T.multiple]"
    row = table.loc["Lymph Node Recurrence Site: Multiple"]
    assert row["odds_ratio"] == pytest.approx(math.exp(refit.params[term]), rel=1e-6)
    assert row["ci_low"] == pytest.approx(math.exp(refit.conf_int().loc[term, 0]), rel=1e-6)
    assert row["p"] == pytest.approx(refit.pvalues[term], rel=1e-6)
    assert table.loc["Age: < 65 years (reference)", "odds_ratio"] == 1 and np.isnan(table.iloc[0]["p"])
    html = report.odds_ratio_display(model, PAPER).to_html()
    assert "Age: &lt; 65 years (reference)" in html and "C(age_group)" not in html
    assert "against the covariate's first level in the study description" in model.terms_text(PAPER)


def test_the_flow_chart_before_matching_points_to_the_matching_chapter():
    import matplotlib

    matplotlib.use("Agg")
    from psmbook.cohort import flow

    counts = {"n_total": 10, "n_treated": 4, "n_control": 6, "ne_treated": 0, "ne_control": 0}
    fig = flow.plot_patient_flow(10, *flow.arm_flows(counts, GBSG), population="All", evaluable=False)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert not any("not yet computed" in t or "1:1" in t for t in texts)
    assert texts.count("Propensity-score matched\nin the Matching chapter") == 2


def test_day_scale_survival_axes_have_round_ticks():
    assert time_ticks(60, 12).tolist() == [0, 12, 24, 36, 48, 60]  # the paper's months, as before
    days = time_ticks(3650, 365)
    assert days.tolist() == [0, 1000, 2000, 3000] and len(time_ticks(2920, 365)) <= 8
    assert time_ticks(2920, 365).tolist() == [0, 500, 1000, 1500, 2000, 2500]
    assert time_ticks(10, 1).tolist() == [0, 2, 4, 6, 8, 10]


def test_an_exported_synthetic_cohort_is_named_as_its_file_not_a_seed(tmp_path, monkeypatch):
    data = tmp_path / "c5.csv"
    data.write_text("x\n1\n")
    info = provenance({"seed": 5}, study=PAPER, seed=5, data_file=data)
    assert info["data"].startswith("c5.csv (sha256 ") and info["data"].endswith(", a synthetic cohort")
    banner = synthetic_banner(PAPER, None, source="c5.csv")
    assert "synthetic cohort** (read from `c5.csv`)" in banner and "seed" not in banner
    shown = []
    monkeypatch.setattr("psmbook.book.chapter.show_markdown", shown.append)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "source.json").write_text(json.dumps({"name": "c5.csv", "sha256": "0" * 64}))
    chapter = Chapter(
        "survival", study=GBSG, reads=("cohort",), parameters={"seed": 1, "entry_p": 0.05}, folder=tmp_path
    )
    assert chapter.data_file_name() == "c5.csv"
    chapter.banner()
    assert shown[0] == "" and "`entry_p = 0.05`" in shown[1] and "seed" not in shown[1]


def test_prose_rates_of_small_counts_are_not_shown():
    study, cohort = _own(), _own_cohort()
    rows = response_prose.table2_rows(cohort, cohort, study)
    text = response_prose.study_table2_numbers(rows, study, min_cell=16)["orr_text"]
    # any response 45 of 60 new (15 without: below 16), 46 of 80 old
    assert "not shown (fewer than 16 patients) in the treated arm against 57.5% among the controls" in text
    severe = toxicity.grade34_table(cohort, study)
    numbers = toxicity.grade34_numbers(severe, min_cell=14)  # any listed event: 13 of 60 new, 16 of 80 old
    assert numbers["g34_treated"] == "not shown (fewer than 14 patients)"
    # 16 controls with any listed event, 9 with rash: 7 with nausea only would follow by subtraction
    assert numbers["g34_control"] == "not shown (it would give away a count of fewer than 14 patients)"
    assert toxicity.grade34_numbers(severe, min_cell=7)["g34_control"] == "20.0%"  # 16 - 9 = 7 is not small
    exposure = {
        "any_event": 3,
        "treated": 60,
        "any_event_pct": 5.0,
        "mild_pct": 50.0,
        "reductions": pd.Series({"rash": 2}),
    }
    hidden = toxicity.drug_numbers(exposure, study, min_cell=5)
    assert hidden["any_event"] == "< 5 of 60" and hidden["reductions"] == "< 5 for rash"
