"""The synthetic cohort: every part drawn in order from one seed."""

from __future__ import annotations

import copy
import math
from functools import lru_cache

import numpy as np
import pandas as pd

from psmbook.cohort.synthetic.baseline import (
    course_and_response,
    draw_baseline,
    fractionation,
    intended_matched,
    nodes_and_sites,
)
from psmbook.cohort.synthetic.landmarks import draw_survival_landmarks
from psmbook.cohort.synthetic.matchdesign import rearrange
from psmbook.cohort.synthetic.model import choose, hazard_ratios
from psmbook.cohort.synthetic.outcomefit import search_outcomes
from psmbook.cohort.synthetic.outcomes import draw_os, draw_pfs
from psmbook.cohort.synthetic.spec import (
    ANLOTINIB_EVENTS,
    ARMS,
    DAYS_PER_MONTH,
    DEFAULT_SEED,
    TOXICITIES,
    TREATED,
    WEEKS_PER_MONTH,
    GeneratorSpec,
)
from psmbook.cohort.synthetic.table3labels import relabel_table3, table3_printed
from psmbook.cohort.synthetic.table3rows import search_table3
from psmbook.cohort.synthetic.targets import load_targets
from psmbook.cohort.synthetic.toxicity import draw_anlotinib, draw_toxicity


def _prepare(seed: int, spec: GeneratorSpec) -> dict:
    """Everything before the survival draw (also used by benchmarks/calibrate_generator.py)."""
    tg = load_targets()
    rng = np.random.default_rng(seed)
    r_base, r_dose, r_nodes, r_course, r_surv, r_tox, r_anl, r_rt, r_order, r_design, r_fit = rng.spawn(11)
    hook = None
    if spec.match_design:

        def hook(out):
            rearrange(out, spec, tg, r_design)

    base = draw_baseline(r_base, spec, tg, hook)
    arm = base["arm"]
    dose, fractions = fractionation(r_dose, spec, tg, base["radiation_dose"])
    sites = nodes_and_sites(r_nodes, spec, tg, base)
    course = course_and_response(
        r_course, spec, tg, base, fractions, base["node_diameter_cm"], sites["n_recurrent_nodes"]
    )
    response = course["response"]
    response_group = np.where(response == "cr", "cr", np.where(response == "ne", None, "less_than_cr")).astype(object)
    nodes_group = np.where(sites["n_recurrent_nodes"] >= 2, "multiple", "single").astype(object)
    hr = hazard_ratios(spec, tg)
    design = {
        "arm.anlotinib": arm == TREATED,
        "nodes_group.multiple": nodes_group == "multiple",
        "response_group.less_than_cr": response != "cr",
        "age_group.ge65": base["age_group"] == "ge65",
        "stage.iib_iii": base["stage"] == "iib_iii",
    }
    lp = sum(math.log(hr[f]) * design[f].astype(float) for f in design)
    cutoff = np.datetime64(tg.cutoff)
    followup = (cutoff - sites["crt_start_date"]).astype("timedelta64[D]").astype(float) / DAYS_PER_MONTH
    crt_end = course["crt_weeks"] / WEEKS_PER_MONTH
    assess = course["assessment_months"]
    return dict(
        tg=tg,
        streams=(r_surv, r_tox, r_anl, r_rt, r_order, r_fit),
        base=base,
        dose=dose,
        fractions=fractions,
        sites=sites,
        course=course,
        response=response,
        response_group=response_group,
        nodes_group=nodes_group,
        lp=lp,
        followup=followup,
        crt_end=crt_end,
        assess=assess,
        cutoff=cutoff,
    )


def _generate(seed: int, spec: GeneratorSpec) -> tuple[pd.DataFrame, dict]:
    st = _prepare(seed, spec)
    tg, base, sites, course = st["tg"], st["base"], st["sites"], st["course"]
    r_surv, r_tox, r_anl, r_rt, r_order, r_fit = st["streams"]
    dose, fractions, response, response_group = (
        st["dose"],
        st["fractions"],
        st["response"],
        st["response_group"],
    )
    lp, followup, crt_end, assess, cutoff = (
        st["lp"],
        st["followup"],
        st["crt_end"],
        st["assess"],
        st["cutoff"],
    )
    arm = base["arm"]
    n_total = len(arm)
    ne, pd_ = course["not_evaluable"], response == "pd"
    if "_group" in base:  # matched design: landmarks of the whole and of the matched cohort are the paper's
        matched = intended_matched(base)
        surv = draw_survival_landmarks(r_surv, spec, tg, arm, lp, assess, crt_end, followup, ne, pd_, matched)
    else:
        surv = draw_os(r_surv, spec, tg, arm, lp, assess, crt_end, followup, ne, pd_)
        surv.update(draw_pfs(r_surv, spec, tg, arm, assess, followup, ne, pd_, surv["os_months"], surv["os_event"]))
    # round times to 0.01 month (monotone, so PFS <= OS and OS >= assessment survive the rounding)
    for key in ("os_months", "pfs_months"):
        surv[key] = np.round(surv[key], 2)
    assess_r = np.round(assess, 2)
    searched = "_group" in base and spec.outcome_search_steps > 0  # the printed log-rank p and unadjusted HR
    if searched:
        drawn = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in surv.items()}
        r_anl_kept = copy.deepcopy(r_anl)
        surv["_search"] = search_outcomes(st, surv, matched, spec, r_fit)
        if spec.searches_table3:
            found = surv["_table3"] = search_table3(st, surv, matched, spec, r_fit)
            if spec.table3_rematch_steps > 0:  # then the rows outside the multivariable model, one at a time
                rows = relabel_table3(st, surv, matched, spec, r_fit)
                found["search_print"], found["search_hr_ratio"] = found["print"], found["hr_ratio"]
                found.update(table3_printed(st, surv, matched, spec), relabelled_rows=rows)
    tox = draw_toxicity(r_tox, spec, tg, base, course)
    try:
        anl = draw_anlotinib(r_anl, spec, tg, base, course, surv, tox)
    except ValueError:  # the searched outcomes leave too few long PFS for the paper's anlotinib exposure: undone
        if not searched:
            raise
        surv = drawn | {"_search": "undone: the paper's matched anlotinib exposure needs the drawn PFS"}
        anl = draw_anlotinib(r_anl_kept, spec, tg, base, course, surv, tox)

    # radiotherapy delivered >= threshold: everyone but the deaths during CRT and a few interruptions
    ne = course["not_evaluable"]
    delivered = ~ne
    g34_any = np.any([tox["g34"][e] for e in tox["g34"]], axis=0) | tox["g34_other"]
    for a in ARMS:
        extra = tg.n[a] - tg.delivered_ge_threshold[a] - int(ne[arm == a].sum())
        if extra < 0:
            raise ValueError(f"arm {a}: fewer patients below {tg.delivered_threshold_gy} Gy than deaths during CRT")
        # "following PSM, radiation completion was universal": interrupted courses are unmatched patients
        pool = np.flatnonzero((arm == a) & ~ne & ~intended_matched(base))
        w = np.where(g34_any[pool], spec.incomplete_radiotherapy_toxicity_weight, 1.0)
        delivered[choose(r_rt, pool, extra, w, "incomplete radiotherapy courses")] = False

    start_dates = sites["crt_start_date"]
    days = np.rint(surv["os_months"] * DAYS_PER_MONTH).astype("int64").astype("timedelta64[D]")
    last_contact = np.where(surv["os_event"] == 1, start_dates + days, cutoff)
    anl_any = np.any([anl_g > 0 for anl_g in tox["anl_grades"].values()], axis=0)
    frame = {
        "arm": arm,
        "age_years": base["age_years"],
        "age_group": base["age_group"],
        "sex": base["sex"],
        "ecog": base["ecog"],
        "location": base["location"],
        "differentiation": base["differentiation"],
        "stage": base["stage"],
        "previous_treatment": base["previous_treatment"],
        "recurrence_site": base["recurrence_site"],
        "node_diameter_cm": base["node_diameter_cm"],
        "node_diameter": base["node_diameter"],
        "n_recurrent_nodes": sites["n_recurrent_nodes"],
        "nodes_group": st["nodes_group"],
        "station_2r": sites["station_2r"],
        "station_7": sites["station_7"],
        "station_supraclavicular": sites["station_supraclavicular"],
        "recurrence_confirmed_by": sites["recurrence_confirmed_by"],
        "months_surgery_to_recurrence": sites["months_surgery_to_recurrence"],
        "crt_start_date": start_dates,
        "radiation_dose_gy": dose,
        "radiation_fractions": fractions,
        "radiation_dose": base["radiation_dose"],
        "delivered_dose_ge50": delivered,
        "concurrent_chemo": base["concurrent_chemo"],
        "dp_schedule": sites["dp_schedule"],
        "consolidation_chemo": base["consolidation_chemo"],
        "nutritional_support": base["nutritional_support"],
        "crt_weeks": np.round(course["crt_weeks"], 2),
        "response_assessment_months": assess_r,
        "response": response,
        "response_group": response_group,
        "death_during_crt": ne,
        "death_cause": course["death_cause"],
        "os_months": surv["os_months"],
        "os_event": surv["os_event"],
        "pfs_months": surv["pfs_months"],
        "pfs_event": surv["pfs_event"],
        "last_contact_date": last_contact,
        "anlotinib_start_dose_mg": anl["anlotinib_start_dose_mg"],
        "anlotinib_weeks": anl["anlotinib_weeks"],
        "anlotinib_cycles": anl["anlotinib_cycles"],
        "anlotinib_dose_reduced": anl["anlotinib_dose_reduced"],
        "dose_reduction_reason": anl["dose_reduction_reason"],
    }
    for e in TOXICITIES:
        frame[f"g34_{e}"] = tox["g34"][e]
    frame["g34_other"] = tox["g34_other"]
    frame["g34_any"] = g34_any
    for e in ANLOTINIB_EVENTS:
        frame[f"anl_{e}_grade"] = tox["anl_grades"][e]
    frame["anl_any_event"] = anl_any
    df = pd.DataFrame(frame)
    # grade >= 3 anlotinib events are part of g34_any (the paper's overall grade 3-4 rate)
    df["crt_start_date"] = pd.to_datetime(df["crt_start_date"]).astype("datetime64[ns]")
    df["last_contact_date"] = pd.to_datetime(df["last_contact_date"]).astype("datetime64[ns]")
    for col in ("anlotinib_start_dose_mg", "anlotinib_weeks"):
        df[col] = pd.array(np.where(np.isnan(df[col]), pd.NA, df[col]), dtype="Int64")
    df["anlotinib_cycles"] = df["anlotinib_cycles"].astype(float)
    for col in (
        "os_event",
        "pfs_event",
        "n_recurrent_nodes",
        "months_surgery_to_recurrence",
        "age_years",
        "radiation_fractions",
    ) + tuple(f"anl_{e}_grade" for e in ANLOTINIB_EVENTS):
        df[col] = df[col].astype("int64")
    # patient ids in order of CRT start (ties at random)
    order = np.lexsort((r_order.random(n_total), df["crt_start_date"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    df.insert(0, "patient_id", [f"SYN-{i:04d}" for i in range(1, n_total + 1)])
    info = {
        "survival_draws": surv["_draws"],
        "pfs_draws": surv["_pfs_draws"],
        "has_mediastinal": sites["_has_mediastinal"][order],
        "design_group": None if "_group" not in base else base["_group"][order],
        "design_rounds": base.get("_design_rounds"),
        "logrank_distance": surv.get("_logrank_distance"),
        "outcome_search": surv.get("_search"),
        "table3_search": surv.get("_table3"),
    }
    return df, info


def generate_cohort(seed: int = DEFAULT_SEED, spec: GeneratorSpec | None = None) -> pd.DataFrame:
    """The synthetic cohort of `seed`: one row per patient (291), columns of :func:`data_dictionary`.

    Deterministic: the same seed and spec give the same frame. Raises :class:`SurvivalDrawError` if
    the survival totals cannot be met within ``spec.max_survival_draws`` tries (a mis-calibrated spec).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    spec = spec or GeneratorSpec()
    if not isinstance(spec, GeneratorSpec):
        raise TypeError("spec must be a GeneratorSpec")
    return _generated(int(seed), spec).copy()


@lru_cache(maxsize=8)
def _generated(seed: int, spec: GeneratorSpec) -> pd.DataFrame:
    """The cohort of (seed, spec), generated once per process (the matched design takes seconds)."""
    return _generate(seed, spec)[0]
