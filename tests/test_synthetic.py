"""The synthetic cohort: exact published counts, landmarks within 5 pp, consistency, determinism."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from psmbook.cohort.calibration import calibration_report
from psmbook.cohort.synthetic import (
    DEFAULT_SEED,
    GeneratorSpec,
    SurvivalDrawError,
    data_dictionary,
    generate_cohort,
    generating_model_markdown,
    implied_propensity,
    load_targets,
)
from psmbook.cohort.synthetic.spec import WEEKS_PER_MONTH
from psmbook.study.description import load_study
from psmbook.study.published import published_value

#: Seeds checked with the matched design (each takes seconds: benchmarks/bench_design.py times seeds 1-20)
#: and with the latent model alone (match_design=False, milliseconds).
DESIGN_SEEDS = [DEFAULT_SEED, 4]
MODEL_SEEDS = [0, 1, 2, 3]
SEEDS = [(s, True) for s in DESIGN_SEEDS] + [(s, False) for s in MODEL_SEEDS]
ARMS = ("anlotinib", "crt")
NO_DESIGN = GeneratorSpec(match_design=False)

_CACHE: dict = {}


def cohort(seed: int, design: bool = True) -> pd.DataFrame:
    return generated(seed, design)[0]


def generated(seed: int, design: bool = True) -> tuple[pd.DataFrame, dict]:
    """(cohort, generator's info) of `seed`, generated once per test session."""
    from psmbook.cohort.synthetic.generate import _generate

    if (seed, design) not in _CACHE:
        _CACHE[(seed, design)] = _generate(seed, GeneratorSpec() if design else NO_DESIGN)
    return _CACHE[(seed, design)]


@pytest.fixture(params=SEEDS, ids=[f"seed{s}{'' if d else '-latent'}" for s, d in SEEDS])
def df(request) -> pd.DataFrame:
    return cohort(*request.param)


def arm(df, a):
    return df[df["arm"] == a]


# --------------------------------------------------------------------------------------------------
# Calibration report: every quantity


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}{'' if d else '-latent'}" for s, d in SEEDS])
def test_calibration_report_passes(seed):
    report = calibration_report(cohort(*seed))
    failed = report[~report["passed"]]
    assert failed.empty, f"seed {seed}: failed rows\n{failed.to_string()}"
    exact = report[report["tolerance"] == "exact"]
    assert (exact["difference"] == 0).all()
    landmarks = report[report["tolerance"] != "exact"]
    assert len(landmarks) == 8
    assert (landmarks["difference"].abs() <= 5).all()
    # the report covers every Table 1 level per arm, Table 2, Table 4 and the event totals
    study = load_study()
    n_levels = sum(len(v.codes) for v in study.covariates)
    assert report["quantity"].str.startswith("Table 1 before PSM: ").sum() == 2 * n_levels + 2
    assert report["published_id"].str.startswith("table2.before.").sum() == 2 * 5
    assert report["published_id"].str.startswith("table4.").sum() == 6 * 2 + 3
    assert report["published_id"].str.contains(r"text\.survival\.(?:os|pfs)\.before\.events").sum() == 4


def test_synthetic_report_checks_the_matched_tables_too():
    from psmbook.cohort.calibration import calibration_numbers, synthetic_calibration_report
    from psmbook.cohort.synthetic.psmodel import paper_match

    df = cohort(DEFAULT_SEED)
    report = synthetic_calibration_report(df)
    assert report["passed"].all(), report[~report["passed"]].to_string()
    after = report[report["published_id"].str.contains(r"\.after\.")]
    study = load_study()
    n_levels = sum(len(v.codes) for v in study.covariates)
    assert after["published_id"].str.startswith("table1.after.").sum() == 2 * n_levels + 2
    assert after["published_id"].str.startswith("table2.after.").sum() == 2 * 5
    assert after["published_id"].str.startswith("text.anlotinib.after.").sum() == 5
    assert (after["tolerance"] == "±1 pp").sum() == 8
    numbers = calibration_numbers(report)
    assert (numbers["n_calibrated_after"], numbers["n_calibrated_after_pass"]) == (81, 81)
    # a matched patient changed: the after-matching row fails (the check can fail). Consolidation chemotherapy is
    # outside the score model, so the same patients stay matched and exactly its row changes; a covariate of the
    # model changes who is matched, and then many after-matching rows fail at once.
    changed = df.copy()
    i = changed.index[paper_match(df) & (df["arm"] == "crt") & (df["consolidation_chemo"] == "yes")][0]
    changed.loc[i, "consolidation_chemo"] = "no"
    failed = synthetic_calibration_report(changed).set_index("quantity")
    assert not failed.loc["Table 1 after PSM: consolidation_chemo = yes (crt)", "passed"]
    assert failed.loc["Table 1 after PSM: sex = male (crt)", "passed"]
    j = changed.index[paper_match(df) & (df["arm"] == "crt") & (df["sex"] == "male")][0]
    changed.loc[j, "sex"] = "female"
    failed = synthetic_calibration_report(changed)
    after = failed["quantity"].str.startswith("Table 1 after PSM")
    assert (~failed.loc[after, "passed"]).sum() > 1


def test_report_detects_a_wrong_count():
    df = cohort(DEFAULT_SEED).copy()
    i = df.index[(df["arm"] == "anlotinib") & (df["sex"] == "male")][0]
    df.loc[i, "sex"] = "female"
    report = calibration_report(df).set_index("quantity")
    assert not report.loc["Table 1 before PSM: sex = male (anlotinib)", "passed"]
    assert report.loc["Table 1 before PSM: sex = male (anlotinib)", "difference"] == -1


# --------------------------------------------------------------------------------------------------
# Direct checks of published counts (independent of the report)


def test_table1_counts_direct(df):
    study = load_study()
    for var in study.covariates:
        table = pd.crosstab(df[var.column].astype(str), df["arm"])
        for a in ARMS:
            for level in var.shown_levels:
                assert table.loc[level, a] == published_value(f"table1.before.{var.column}.{level}.{a}.n"), (
                    var.column,
                    level,
                    a,
                )
    assert len(df) == sum(published_value(f"table1.before.n.{a}") for a in ARMS)
    assert df["patient_id"].is_unique
    assert df["patient_id"].str.fullmatch(r"SYN-\d{4}").all()
    assert (df["previous_treatment"] == "none").sum() == published_value("text.cohort.surgery_only.n")


def test_response_and_event_totals_direct(df):
    for a in ARMS:
        d = arm(df, a)
        for r in ("cr", "pr", "sd", "pd"):
            assert (d["response"] == r).sum() == published_value(f"table2.before.{r}.{a}.n")
        assert (d["response"] == "ne").sum() == published_value(f"text.response.not_evaluable.{a}.n")
        assert d["os_event"].sum() == published_value(f"text.survival.os.before.events.{a}.n")
        assert d["pfs_event"].sum() == published_value(f"text.survival.pfs.before.events.{a}.n")
        for e in ("leukopenia", "neutropenia", "anemia", "nausea_vomiting", "esophagitis", "pneumonitis"):
            assert d[f"g34_{e}"].sum() == published_value(f"table4.{e}.{a}.n")
        n = published_value(f"table1.before.n.{a}")
        pct = round(100 * d["g34_any"].sum() / n, 1)
        assert pct == published_value(f"text.toxicity.g34_overall.{a}.pct")


def test_cohort_text_counts_direct(df):
    nodes = df["n_recurrent_nodes"].value_counts()
    for k, word in ((1, "one"), (2, "two"), (3, "three"), (4, "four_plus")):
        assert nodes[k] == published_value(f"text.cohort.recurrent_nodes.{word}.n")
    for c in ("ct", "pet_ct", "histology"):
        assert (df["recurrence_confirmed_by"] == c).sum() == published_value(
            f"text.cohort.recurrence_confirmation.{c}.n"
        )
    assert df["station_2r"].sum() == published_value("text.cohort.nodal_stations.station_2r.n")
    assert df["station_7"].sum() == published_value("text.cohort.nodal_stations.station_7.n")
    assert df["station_supraclavicular"].sum() == published_value("text.cohort.nodal_stations.supraclavicular.n")
    m = df["months_surgery_to_recurrence"]
    assert m.median() == published_value("text.cohort.surgery_to_recurrence.median")
    assert m.min() == published_value("text.cohort.surgery_to_recurrence.min")
    assert m.max() == published_value("text.cohort.surgery_to_recurrence.max")
    assert (df["dp_schedule"] == "weekly").sum() == published_value("text.treatment.concurrent_chemo.weekly.n")
    assert (df["dp_schedule"] == "three_weekly").sum() == published_value(
        "text.treatment.concurrent_chemo.three_weekly.n"
    )
    t = arm(df, "anlotinib")
    for e in ("hypertension", "hand_foot", "proteinuria", "hypothyroidism", "diarrhea"):
        assert (t[f"anl_{e}_grade"] > 0).sum() == published_value(f"text.anlotinib.any_grade.{e}.n")
    for e in ("hypertension", "hand_foot", "diarrhea"):
        assert (t[f"anl_{e}_grade"] >= 3).sum() == published_value(f"table4.anlotinib_g34.{e}.anlotinib.n")
    assert round(100 * t["anl_any_event"].mean(), 1) == published_value("text.anlotinib.any_event.pct")
    assert t["anlotinib_dose_reduced"].sum() == published_value("text.anlotinib.dose_reduction.n")


def test_landmarks_within_5pp(df):
    from lifelines import KaplanMeierFitter

    for endpoint, key, t in (("pfs", "6m", 6), ("pfs", "12m", 12), ("os", "1y", 12), ("os", "3y", 36)):
        for a in ARMS:
            d = arm(df, a)
            km = KaplanMeierFitter().fit(d[f"{endpoint}_months"], d[f"{endpoint}_event"])
            got = 100 * float(km.survival_function_at_times(t).iloc[0])
            pub = published_value(f"text.survival.{endpoint}.before.{key}.{a}")
            assert abs(got - pub) <= 5, (endpoint, key, a, got, pub)
            # nobody is censored before the landmark: KM equals the simple proportion
            assert got == pytest.approx(100 * (d[f"{endpoint}_months"] > t).mean())


# --------------------------------------------------------------------------------------------------
# Consistency rules


def test_age_chemo_and_levels_consistent(df):
    tg = load_targets()
    s1_age = published_value("text.methods.chemo.s1.age.min")
    assert ((df["concurrent_chemo"] == "s1") == (df["age_years"] >= s1_age)).all()
    assert ((df["age_group"] == "ge65") == (df["age_years"] >= 65)).all()
    assert (
        df["age_years"]
        .between(
            published_value("text.methods.inclusion.age.min"),
            published_value("text.methods.inclusion.age.max"),
        )
        .all()
    )
    assert ((df["node_diameter"] == "ge3") == (df["node_diameter_cm"] >= 3.0)).all()
    assert (df["node_diameter_cm"] >= 1.0).all()
    std = df["radiation_dose"] == "standard"
    assert (df.loc[std, "radiation_dose_gy"] <= tg.dose_gy[0]).all()
    assert (df.loc[~std, "radiation_dose_gy"] > tg.dose_gy[0]).all()
    assert df["radiation_dose_gy"].between(tg.dose_gy[1], tg.dose_gy[2]).all()
    sizes = df["radiation_dose_gy"] / df["radiation_fractions"]
    assert sizes.round(3).isin(list(tg.fraction_dose_gy)).all()
    # docetaxel + cisplatin schedule only for docetaxel + cisplatin patients
    dp = df["concurrent_chemo"] == "docetaxel_cisplatin"
    assert df.loc[dp, "dp_schedule"].isin(["weekly", "three_weekly", "not_stated"]).all()
    assert df.loc[~dp, "dp_schedule"].isna().all()
    # previous radiotherapy at least 12 months before the recurrence treatment
    prior = df["previous_treatment"].isin(["radiotherapy", "chemoradiotherapy"])
    assert (
        df.loc[prior, "months_surgery_to_recurrence"]
        > published_value("text.methods.inclusion.prior_radiotherapy_interval.min")
    ).all()
    assert ((df["nodes_group"] == "multiple") == (df["n_recurrent_nodes"] >= 2)).all()


def test_stations_consistent_with_sites(df):
    site = df["recurrence_site"]
    flags = df[["station_2r", "station_7", "station_supraclavicular"]].sum(axis=1)
    assert (df.loc[site == "multiple", "n_recurrent_nodes"] >= 2).all()
    assert (flags[df["n_recurrent_nodes"] == 1] <= 1).all()
    assert (flags <= df["n_recurrent_nodes"]).all()
    sup = site == "supraclavicular"
    assert df.loc[sup, "station_supraclavicular"].all()
    assert not df.loc[sup, ["station_2r", "station_7"]].any().any()
    assert not df.loc[site == "abdominal", ["station_2r", "station_7", "station_supraclavicular"]].any().any()
    assert not df.loc[site == "mediastinal", "station_supraclavicular"].any()


def test_survival_consistency(df):
    cutoff = pd.Timestamp(published_value("text.methods.censoring_date"))
    assert (df["pfs_months"] <= df["os_months"]).all()
    assert (df["pfs_event"] >= df["os_event"]).all()  # a death is a PFS event
    ne = df["response"] == "ne"
    assert (ne == df["death_during_crt"]).all()
    assert df.loc[ne, "response_group"].isna().all()
    assert (df.loc[ne, "os_event"] == 1).all()
    assert (df.loc[ne, "os_months"] < df.loc[ne, "response_assessment_months"]).all()
    assert (df.loc[ne, "os_months"] * 365.25 / 12 / 7 < df.loc[ne, "crt_weeks"]).all()  # died during CRT
    assert (df.loc[ne, "pfs_months"] == df.loc[ne, "os_months"]).all()
    assert not df.loc[ne, "delivered_dose_ge50"].any()
    assert df.loc[ne, "death_cause"].notna().all() and df.loc[~ne, "death_cause"].isna().all()
    assert (df.loc[~ne, "os_months"] >= df.loc[~ne, "response_assessment_months"]).all()
    pd_ = df["response"] == "pd"
    assert (df.loc[pd_, "pfs_months"] == df.loc[pd_, "response_assessment_months"]).all()
    assert df["response_assessment_months"].between(2.0, 3.5).all()
    # administrative censoring only, on the cutoff date; follow-up > 5 years
    alive = df["os_event"] == 0
    assert (df.loc[alive, "last_contact_date"] == cutoff).all()
    assert (df["last_contact_date"] <= cutoff).all()
    first, last = load_targets().period
    assert df["crt_start_date"].between(pd.Timestamp(first), pd.Timestamp(last)).all()
    assert first.isoformat()[:7] == published_value("text.methods.period.start")
    assert last.isoformat()[:7] == published_value("text.methods.period.end")
    followup = (cutoff - df["crt_start_date"]).dt.days / (365.25 / 12)
    assert (followup > 36).all()
    assert (df.loc[alive, "os_months"] - followup[alive]).abs().max() < 0.01
    censored_pfs = df["pfs_event"] == 0
    assert (df.loc[censored_pfs, "os_event"] == 0).all()
    assert (df.loc[censored_pfs, "pfs_months"] == df.loc[censored_pfs, "os_months"]).all()


def test_treatment_and_toxicity_consistency(df):
    crt, anl = arm(df, "crt"), arm(df, "anlotinib")
    for col in ("anlotinib_start_dose_mg", "anlotinib_weeks", "anlotinib_cycles"):
        assert crt[col].isna().all() and anl[col].notna().all()
    assert not crt["anlotinib_dose_reduced"].any() and not crt["anl_any_event"].any()
    grade_cols = [c for c in df if c.startswith("anl_") and c.endswith("_grade")]
    assert (crt[grade_cols] == 0).all().all()
    assert df[grade_cols].isin([0, 1, 2, 3, 4]).all().all()
    assert ((anl[grade_cols] > 0).any(axis=1) == anl["anl_any_event"]).all()
    assert anl["anlotinib_start_dose_mg"].isin([8, 10, 12]).all()
    assert (anl["anlotinib_start_dose_mg"] == 12).mean() > 0.85
    weeks = anl["anlotinib_weeks"].astype(float)
    assert weeks.between(2, 52).all()
    assert (weeks <= anl["pfs_months"] * 365.25 / 12 / 7 + 1).all()
    assert 25 <= weeks.median() <= 42
    assert (anl["anlotinib_cycles"] == (weeks / 3).round(2)).all()
    assert (anl.loc[anl["response"] == "ne", "anlotinib_cycles"] < 2).all()
    # dose reductions drawn from patients with the event behind them, starting at 12 mg
    red = anl[anl["anlotinib_dose_reduced"]]
    for reason in ("hand_foot", "diarrhea", "proteinuria"):
        sub = red[red["dose_reduction_reason"] == reason]
        assert len(sub) == published_value(f"text.anlotinib.dose_reduction.{reason}.n")
        assert (sub[f"anl_{reason}_grade"] > 0).all()
    assert (red["anlotinib_start_dose_mg"] == 12).all()
    assert anl.loc[~anl["anlotinib_dose_reduced"], "dose_reduction_reason"].isna().all()
    # grade 3-4: the union is the set of patients with at least one event
    g34_cols = [c for c in df if c.startswith("g34_") and c != "g34_any"]
    severe_anl = (df[[f"anl_{e}_grade" for e in ("hypertension", "hand_foot", "diarrhea")]] >= 3).any(axis=1)
    assert (df["g34_any"] == (df[g34_cols].any(axis=1) | severe_anl)).all()
    assert not df["g34_other"].any()  # Table 4 can cover everyone without "other"
    # neutropenia mostly within leukopenia; the fatal febrile neutropenias count as neutropenia
    assert (df["g34_neutropenia"] & df["g34_leukopenia"]).sum() >= 0.7 * df["g34_neutropenia"].sum()
    fn = df["death_cause"] == "febrile_neutropenia"
    assert df.loc[fn, "g34_neutropenia"].all()


# --------------------------------------------------------------------------------------------------
# Determinism, speed, API


def test_same_seed_same_frame():
    pd.testing.assert_frame_equal(generate_cohort(7, NO_DESIGN), generate_cohort(7, NO_DESIGN))
    pd.testing.assert_frame_equal(cohort(DEFAULT_SEED), generate_cohort())  # the matched design included


def test_different_seeds_differ():
    a, b = cohort(0, False), cohort(1, False)
    assert not a.equals(b)
    assert not np.allclose(a["os_months"].to_numpy(), b["os_months"].to_numpy())
    assert (a["age_years"].to_numpy() != b["age_years"].to_numpy()).any()
    c, d = cohort(DEFAULT_SEED), cohort(4)
    assert (c["sex"].to_numpy() != d["sex"].to_numpy()).any()


def test_latent_generation_is_fast():
    generate_cohort(11, NO_DESIGN)  # warm caches (published targets, scipy)
    start = time.perf_counter()
    generate_cohort(12, NO_DESIGN)
    assert time.perf_counter() - start < 1.0


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate_cohort(-1)
    with pytest.raises(ValueError):
        GeneratorSpec(indication_strength=1.0)
    with pytest.raises(SurvivalDrawError):
        generate_cohort(0, NO_DESIGN.with_(os_baseline_hazard=(0.5,) * 6, max_survival_draws=40, survival_batch=20))


@pytest.mark.parametrize("strength", [0.0, 0.5])
def test_other_indication_strengths_still_calibrated(strength):
    df = generate_cohort(3, NO_DESIGN.with_(indication_strength=strength))
    report = calibration_report(df)
    assert report["passed"].all(), report[~report["passed"]].to_string()


def test_indication_strength_links_covariates_in_treated_arm():
    def assoc(strength):
        vals = []
        for seed in range(5):
            d = arm(generate_cohort(seed, NO_DESIGN.with_(indication_strength=strength)), "anlotinib")
            vals.append(np.corrcoef(d["node_diameter"] == "ge3", d["differentiation"] == "poor")[0, 1])
        return np.mean(vals)

    assert assoc(0.9) > assoc(0.0) + 0.2


def test_data_dictionary_matches_columns():
    dd = data_dictionary()
    assert list(dd.columns) == ["column", "type", "unit_or_levels", "description"]
    assert list(dd["column"]) == list(cohort(DEFAULT_SEED).columns)
    assert dd["description"].str.len().gt(10).all()


def test_generating_model_markdown_states_the_true_effect():
    text = generating_model_markdown()
    hr = published_value("table3.multivariate.arm.anlotinib.hr")
    assert f"{hr:.3f}" in text
    assert f"{math.log(hr):+.4f}" in text
    for phrase in ("proportional-hazards", "indication_strength", "implied_propensity", "stratified"):
        assert phrase in text
    for h in GeneratorSpec().os_baseline_hazard:
        assert f"{h:.5f}" in text


def test_implied_propensity():
    df = cohort(DEFAULT_SEED, False)  # the latent model's covariates, which implied_propensity describes
    ps = implied_propensity(df)
    assert ps.between(0, 1).all() and ps.notna().all()
    # treated patients have higher implied scores on average
    assert ps[df["arm"] == "anlotinib"].mean() > ps[df["arm"] == "crt"].mean() + 0.1
    # with no latent dependence the implied model is a main-effects logistic model
    spec0 = GeneratorSpec(indication_strength=0.0)
    ps0 = implied_propensity(df, spec0, covariates=["node_diameter", "differentiation", "sex"])
    row = df.iloc[0]
    n_a, n_c = (published_value(f"table1.before.n.{a}") for a in ARMS)
    logit = math.log(n_a / n_c)
    for col in ("node_diameter", "differentiation", "sex"):
        lv = row[col]
        pa = published_value(f"table1.before.{col}.{lv}.anlotinib.n") / n_a
        pc = published_value(f"table1.before.{col}.{lv}.crt.n") / n_c
        logit += math.log(pa / pc)
    assert ps0.iloc[0] == pytest.approx(1 / (1 + math.exp(-logit)), rel=1e-6)
    # impossible pattern (S-1 under 65) -> NaN
    bad = df.head(1).copy()
    bad["age_group"], bad["concurrent_chemo"] = "lt65", "s1"
    assert np.isnan(implied_propensity(bad).iloc[0])


def test_inverse_cumulative_hazard_inverts_the_baseline():
    import numpy as np

    from psmbook.cohort.synthetic import baseline_cumulative_hazard, inverse_cumulative_hazard

    t = np.array([0.0, 0.5, 3.0, 11.9, 24.0, 47.5, 70.0])
    assert np.allclose(inverse_cumulative_hazard(baseline_cumulative_hazard(t)), t)


# --------------------------------------------------------------------------------------------------
# The matched design: the book's own score model and matcher select the paper's matched tables


def book_match(df: pd.DataFrame, matcher: str = "fast"):
    """The book's default propensity-score model and matching on a generated cohort."""
    from psmbook.matching.nearest import nearest_neighbour_match
    from psmbook.matching.result import matched_cohort
    from psmbook.matching.score import fit_propensity

    study = load_study()
    data = df.set_index(study.id_column)
    model = fit_propensity(data, "arm", "anlotinib", [v.column for v in study.psm_covariates])
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2, matcher=matcher)
    return model, result, matched_cohort(data, result)


@pytest.mark.parametrize("seed", DESIGN_SEEDS)
def test_default_matching_selects_the_papers_matched_tables(seed):
    study = load_study()
    _, result, matched = book_match(cohort(seed))
    _, brute, _ = book_match(cohort(seed), "brute-force")
    pd.testing.assert_frame_equal(result.pairs, brute.pairs)
    for a in ARMS:
        assert (matched["arm"] == a).sum() == published_value(f"table1.after.n.{a}")
        d = arm(matched, a)
        for var in study.covariates:  # all 13 characteristics, the 11 of the score model and 2 others
            counts = d[var.column].astype(str).value_counts()
            for level in var.shown_levels:
                assert counts.get(level, 0) == published_value(f"table1.after.{var.column}.{level}.{a}.n"), (
                    var.column,
                    level,
                    a,
                )
        for r in ("cr", "pr", "sd", "pd"):  # Table 2 after matching; the matched arms are all evaluable
            assert (d["response"] == r).sum() == published_value(f"table2.after.{r}.{a}.n"), (r, a)
        assert (d["response"] != "ne").sum() == published_value(f"table2.after.n.{a}")
        assert d["delivered_dose_ge50"].all()  # "following PSM, radiation completion was universal"


def test_matched_table1_p_values_are_the_papers():
    from psmbook.analysis import tables

    _, _, matched = book_match(cohort(DEFAULT_SEED))
    rows = tables.table1_after(matched, load_study())
    first = rows[rows["test"].notna()].set_index("variable")
    assert len(first) == 13
    # the paper's one test rule (psmbook.analysis.paper_rule) gives every printed p but previous treatment's,
    # which only the likelihood-ratio test on the printed rows gives (an audit finding): Pearson on all levels
    assert first.drop(index="previous_treatment")["p_reproduces"].all(), first[["p", "published_p"]].to_string()
    assert round(first.loc["previous_treatment", "p"], 3) == 0.820
    assert (first["p"] > published_value("text.cohort.after.all_covariates.p")).all()  # "all p > 0.4"


@pytest.mark.parametrize(("seed", "design"), [(0, False), (1, False), (DEFAULT_SEED, True)])
def test_the_generators_score_model_and_matcher_are_the_books(seed, design):
    from psmbook.cohort.synthetic.psmodel import design_matrix, encode, greedy_match, newton

    df = cohort(seed, design)
    model, result, matched = book_match(df)
    codes = encode({c: df[c].to_numpy() for c in df.columns})
    treated = (df["arm"] == "anlotinib").to_numpy()
    score = design_matrix(codes) @ newton(design_matrix(codes), treated.astype(float))
    assert np.abs(score - model.logit.to_numpy()).max() < 1e-8
    ours = greedy_match(score, treated)
    assert set(df.loc[ours, "patient_id"]) == set(matched.index)


def test_design_penalty_and_its_cached_form_agree_and_see_ties():
    from psmbook.cohort.synthetic.matchdesign import verify
    from psmbook.cohort.synthetic.psmodel import (
        CM,
        CU,
        TM,
        TU,
        MatchedSequence,
        design_matrix,
        design_penalty,
        encode,
        newton,
    )

    df, info = generated(DEFAULT_SEED)
    group = info["design_group"]
    codes = encode({c: df[c].to_numpy() for c in df.columns})
    assert verify(codes, group)
    s = design_matrix(codes) @ newton(design_matrix(codes), (group <= 1).astype(float))
    assert design_penalty(s, group)[0] == 0
    rng = np.random.default_rng(0)
    for _ in range(50):
        s2 = s + rng.normal(0, 0.05, len(s)) * (rng.random(len(s)) < 0.3)
        assert MatchedSequence(s2, group).penalty(s2, group) == pytest.approx(design_penalty(s2, group)[0], abs=1e-9)
    # an unmatched control given a matched patient's exact pattern ties with its twin: the design sees it
    bad = codes.copy()
    bad[np.flatnonzero(group == CU)[0]] = codes[np.flatnonzero(group == TM)[-1]]
    assert not verify(bad, group)
    # an unmatched treated patient with a matched treated patient's pattern: which goes first is a tie
    bad = codes.copy()
    bad[np.flatnonzero(group == TU)[0]] = codes[np.flatnonzero(group == TM)[0]]
    assert not verify(bad, group)
    assert set(np.unique(group)) == {0, 1, CM, CU}


def test_impossible_matched_tables_are_named():
    from dataclasses import replace

    from psmbook.cohort.synthetic.matchdesign import MatchDesignError, group_targets

    tg = load_targets()
    chemo = {lv: dict(arms) for lv, arms in tg.table1_after["concurrent_chemo"].items()}
    chemo["s1"]["crt"] = tg.table1_after["age_group"]["ge65"]["crt"] + 1  # more S-1 than patients >= 65
    bad = replace(tg, table1_after={**tg.table1_after, "concurrent_chemo": chemo})
    with pytest.raises(MatchDesignError, match=r"matched crt: \d+ S-1 patients but only \d+ aged 65"):
        group_targets(bad)


def test_whole_and_matched_landmarks_are_the_papers():
    from lifelines import KaplanMeierFitter

    from psmbook.cohort.synthetic import landmark_findings

    impossible = {f["published_id"]: f["nearest_printed"] for f in landmark_findings()}
    _, _, matched = book_match(cohort(DEFAULT_SEED))
    for period, data in (("before", cohort(DEFAULT_SEED)), ("after", matched)):
        for endpoint, key, t in (("pfs", "6m", 6), ("pfs", "12m", 12), ("os", "1y", 12), ("os", "3y", 36)):
            for a in ARMS:
                d = arm(data, a)
                km = KaplanMeierFitter().fit(d[f"{endpoint}_months"], d[f"{endpoint}_event"])
                got = round(100 * float(km.survival_function_at_times(t).iloc[0]), 1)
                pid = f"text.survival.{endpoint}.{period}.{key}.{a}"
                assert got == impossible.get(pid, published_value(pid)), (pid, got)


def test_landmarks_no_cohort_can_have_are_named():
    from psmbook.cohort.synthetic import landmark_findings

    found = {f["published_id"]: f for f in landmark_findings()}
    assert set(found) == {"text.survival.os.before.3y.crt", "text.survival.os.after.3y.anlotinib"}
    f = found["text.survival.os.after.3y.anlotinib"]
    assert (f["n"], f["nearest_count"], f["nearest_printed"]) == (68, 29, 42.6)
    assert "k/68 for no k" in f["why"] and "censored" in f["why"]


def test_matched_anlotinib_start_dose_is_the_papers():
    _, _, matched = book_match(cohort(DEFAULT_SEED))
    treated = arm(matched, "anlotinib")
    high = published_value("text.anlotinib.after.start_dose_12mg.dose")
    n_high = published_value("text.anlotinib.after.start_dose_12mg.n")
    assert (treated["anlotinib_start_dose_mg"] == high).sum() == n_high


def test_matched_anlotinib_exposure_is_the_papers():
    _, _, matched = book_match(cohort(DEFAULT_SEED))
    treated = arm(matched, "anlotinib")
    weeks = treated["anlotinib_weeks"]
    assert (weeks.median(), weeks.min(), weeks.max()) == tuple(
        published_value(f"text.anlotinib.after.exposure.{k}") for k in ("median", "min", "max")
    )
    more = treated["anlotinib_cycles"] > published_value("text.anlotinib.after.gt6_cycles.threshold")
    assert more.sum() == published_value("text.anlotinib.after.gt6_cycles.n")
    # nobody takes anlotinib after progression (weeks within the progression-free time)
    assert (weeks <= np.floor(treated["pfs_months"] * WEEKS_PER_MONTH) + 1e-9).all()


def test_the_design_does_not_depend_on_the_number_of_worker_processes():
    # the first successful search round, in round order, wins; rounds run side by side or one by one
    pd.testing.assert_frame_equal(generate_cohort(2), generate_cohort(2, GeneratorSpec(design_workers=1)))
