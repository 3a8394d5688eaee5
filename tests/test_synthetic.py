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
from psmbook.study.description import load_study
from psmbook.study.published import published_value

SEEDS = [0, 1, 2, 3, 4, DEFAULT_SEED]
ARMS = ("anlotinib", "crt")

_CACHE: dict = {}


def cohort(seed: int) -> pd.DataFrame:
    if seed not in _CACHE:
        _CACHE[seed] = generate_cohort(seed)
    return _CACHE[seed]


@pytest.fixture(params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def df(request) -> pd.DataFrame:
    return cohort(request.param)


def arm(df, a):
    return df[df["arm"] == a]


# --------------------------------------------------------------------------------------------------
# Calibration report: every quantity


@pytest.mark.parametrize("seed", SEEDS)
def test_calibration_report_passes(seed):
    report = calibration_report(cohort(seed))
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
    pd.testing.assert_frame_equal(generate_cohort(7), generate_cohort(7))
    pd.testing.assert_frame_equal(cohort(DEFAULT_SEED), generate_cohort())


def test_different_seeds_differ():
    a, b = cohort(0), cohort(1)
    assert not a.equals(b)
    assert not np.allclose(a["os_months"].to_numpy(), b["os_months"].to_numpy())
    assert (a["age_years"].to_numpy() != b["age_years"].to_numpy()).any()


def test_generation_is_fast():
    generate_cohort(11)  # warm caches (published targets, scipy)
    start = time.perf_counter()
    generate_cohort(12)
    assert time.perf_counter() - start < 1.0


def test_bad_arguments():
    with pytest.raises(ValueError):
        generate_cohort(-1)
    with pytest.raises(ValueError):
        GeneratorSpec(indication_strength=1.0)
    with pytest.raises(SurvivalDrawError):
        generate_cohort(0, GeneratorSpec(os_baseline_hazard=(0.5,) * 6, max_survival_draws=40, survival_batch=20))


@pytest.mark.parametrize("strength", [0.0, 0.5])
def test_other_indication_strengths_still_calibrated(strength):
    df = generate_cohort(3, GeneratorSpec(indication_strength=strength))
    report = calibration_report(df)
    assert report["passed"].all(), report[~report["passed"]].to_string()


def test_indication_strength_links_covariates_in_treated_arm():
    def assoc(strength):
        vals = []
        for seed in range(5):
            d = arm(generate_cohort(seed, GeneratorSpec(indication_strength=strength)), "anlotinib")
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
    df = cohort(DEFAULT_SEED)
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
