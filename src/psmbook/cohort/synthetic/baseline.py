"""Baseline characteristics, recurrence and CRT course of the synthetic patients, to the published counts."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from psmbook.cohort.synthetic.model import arm_strength, choose, rank_assign
from psmbook.cohort.synthetic.spec import ARMS, CONFIRMATION, CONTROL, TREATED, WEEKS_PER_MONTH, GeneratorSpec
from psmbook.cohort.synthetic.targets import Targets


def draw_baseline(rng, spec: GeneratorSpec, tg: Targets, rearrange=None) -> dict:
    """Arm and the Table 1 covariates: exact per-arm counts, within-arm latent dependence.

    `rearrange(out)`, if given, may change the categorical columns (``out["age"]`` holds the age band)
    after they are drawn and before ages in years and node diameters in cm are drawn within them (the
    matched design)."""
    arm = np.array([TREATED] * tg.n[TREATED] + [CONTROL] * tg.n[CONTROL], dtype=object)
    n_total = len(arm)
    z = rng.standard_normal(n_total)
    linked = {column: (tuple(levels), loading) for column, levels, loading in spec.indication_loadings}
    t1 = tg.table1
    out: dict = {"arm": arm, "z": z}
    score_of: dict = {}

    # Age band: < cut, cut .. S-1 age - 1, >= S-1 age (the S-1 patients)
    band_counts = {}
    for a in ARMS:
        s1 = t1["concurrent_chemo"]["s1"][a]
        ge = t1["age_group"]["ge65"][a]
        if s1 > ge:
            raise ValueError(
                f"arm {a}: {s1} S-1 patients but only {ge} aged >= {spec.age_group_cut}; "
                "the rule 'S-1 if and only if age >= S-1 age' cannot hold"
            )
        band_counts[a] = {"lt65": t1["age_group"]["lt65"][a], "ge65_lt_s1": ge - s1, "s1_age": s1}

    columns = [v for v in t1 if v not in ("age_group", "concurrent_chemo")] + ["age"]
    for column in columns:
        values = np.empty(n_total, dtype=object)
        scores = np.empty(n_total)
        levels_all = tuple(band_counts[TREATED]) if column == "age" else tuple(t1[column])
        order, loading = linked.get(column, ((), 0.0))
        for a in ARMS:
            rho = arm_strength(spec, a) * loading
            idx = np.flatnonzero(arm == a)
            s = rho * z[idx] + math.sqrt(1.0 - rho * rho) * rng.standard_normal(len(idx))
            scores[idx] = s
            cnt = (lambda lv: band_counts[a][lv]) if column == "age" else (lambda lv: t1[column][lv][a])
            ranked = [lv for lv in order]
            rest = [lv for lv in levels_all if lv not in ranked]
            if rest:  # unranked levels: at random among the patients left over
                rng.shuffle(rest)
            seq = ranked + rest
            vals = rank_assign(s, seq, [cnt(lv) for lv in seq])
            if rest and ranked:
                left = np.flatnonzero(~np.isin(vals, ranked))
                shuffled = rng.permutation(vals[left])
                vals[left] = shuffled
            values[idx] = vals
        out[column] = values
        score_of[column] = scores

    if rearrange is not None:
        rearrange(out)
    band = out.pop("age")
    lo_age, hi_age = tg.age_range
    if spec.age_young_min < lo_age:
        raise ValueError("age_young_min is below the published inclusion minimum")
    age = np.zeros(n_total, dtype=int)
    for a in ARMS:
        for b in ("lt65", "ge65_lt_s1", "s1_age"):
            idx = np.flatnonzero((arm == a) & (band == b))
            if b == "lt65":
                lo, hi = spec.age_young_min, spec.age_group_cut - 1
                aa, bb = (
                    (lo - 0.5 - spec.age_young_mean) / spec.age_young_sd,
                    (hi + 0.5 - spec.age_young_mean) / spec.age_young_sd,
                )
                draws = stats.truncnorm.ppf(
                    rng.random(len(idx)), aa, bb, loc=spec.age_young_mean, scale=spec.age_young_sd
                )
                years = np.clip(np.rint(draws), lo, hi).astype(int)
            elif b == "ge65_lt_s1":
                years = rng.integers(spec.age_group_cut, tg.s1_age_min, size=len(idx))
            else:
                years = rng.integers(tg.s1_age_min, hi_age + 1, size=len(idx))
            # within the band, the most "indicated" (highest score) are the youngest
            order = idx[np.argsort(-score_of["age"][idx], kind="stable")]
            age[order] = np.sort(years)
    out["age_years"] = age
    out["age_group"] = np.where(age >= spec.age_group_cut, "ge65", "lt65").astype(object)
    out["concurrent_chemo"] = np.where(age >= tg.s1_age_min, "s1", "docetaxel_cisplatin").astype(object)

    # Maximal node diameter within its level, larger for higher scores
    cm = np.zeros(n_total)
    for a in ARMS:
        for lv in ("lt3", "ge3"):
            idx = np.flatnonzero((arm == a) & (out["node_diameter"] == lv))
            if lv == "lt3":
                vals = rng.uniform(spec.node_small_min_cm, spec.node_diameter_cut_cm - 0.05, len(idx))
            else:
                vals = spec.node_diameter_cut_cm + rng.gamma(1.5, spec.node_large_mean_excess_cm / 1.5, len(idx))
                vals = np.minimum(vals, spec.node_large_max_cm)
            vals = np.round(vals, 1)
            if lv == "lt3":
                vals = np.minimum(vals, round(spec.node_diameter_cut_cm - 0.1, 1))
            else:
                vals = np.maximum(vals, spec.node_diameter_cut_cm)
            order = idx[np.argsort(-score_of["node_diameter"][idx], kind="stable")]
            cm[order] = np.sort(vals)[::-1]
    out["node_diameter_cm"] = cm
    return out


def fractionation(rng, spec: GeneratorSpec, tg: Targets, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prescribed dose (Gy) and number of fractions from the dose level; exact published range/median."""
    size = {"min": tg.fraction_dose_gy[0], "max": tg.fraction_dose_gy[1]}
    schemes = {"standard": spec.standard_fractionation, "escalated": spec.escalated_fractionation}
    dose = np.zeros(len(level))
    fractions = np.zeros(len(level), dtype=int)
    options = {}
    for lv, scheme in schemes.items():
        doses = np.array([round(size[s] * k, 1) for s, k, _ in scheme])
        ks = np.array([k for _, k, _ in scheme])
        p = np.array([w for _, _, w in scheme], dtype=float)
        options[lv] = (doses, ks)
        idx = np.flatnonzero(level == lv)
        pick = rng.choice(len(doses), size=len(idx), p=p / p.sum())
        dose[idx], fractions[idx] = doses[pick], ks[pick]
    if options["standard"][0].max() >= options["escalated"][0].min():
        raise ValueError("standard fractionation must give lower doses than escalated fractionation")
    median, lo, hi = tg.dose_gy
    for target, lv in ((lo, "standard"), (hi, "escalated")):  # the published range is attained
        doses, ks = options[lv]
        if target not in doses:
            raise ValueError(f"no {lv} prescription gives the published dose {target} Gy")
        if not (dose == target).any():
            idx = np.flatnonzero(level == lv)
            i = rng.choice(idx)
            j = int(np.flatnonzero(doses == target)[0])
            dose[i], fractions[i] = doses[j], ks[j]
    if dose.min() < lo or dose.max() > hi or np.median(dose) != median:
        raise ValueError(
            f"prescribed doses (median {np.median(dose)}, range {dose.min()}-{dose.max()}) "
            f"do not reproduce the published {median} ({lo}-{hi}) Gy; adjust the fractionation"
        )
    return dose, fractions


def nodes_and_sites(rng, spec: GeneratorSpec, tg: Targets, base: dict) -> dict:
    """Node count (cohort totals exact), stations (totals exact), confirmation, interval, schedules."""
    arm, z = base["arm"], base["z"]
    n_total = len(arm)
    site = base["recurrence_site"]
    multiple = site == "multiple"
    rho = np.where(arm == TREATED, arm_strength(spec, TREATED), arm_strength(spec, CONTROL)) * spec.nodes_loading
    score = (
        rho * z
        + np.sqrt(1 - rho * rho) * rng.standard_normal(n_total)
        + (spec.nodes_arm_shift if "_group" not in base else spec.design_nodes_arm_shift) * (arm == TREATED)
        + spec.nodes_multiple_site_shift * multiple
    )
    nodes = np.zeros(n_total, dtype=int)
    single_ok = np.flatnonzero(~multiple)
    if tg.nodes[1] > len(single_ok):
        raise ValueError("more single-node patients than patients with a single recurrence site")
    lowest = single_ok[np.argsort(score[single_ok], kind="stable")[: tg.nodes[1]]]
    nodes[lowest] = 1
    rest = np.flatnonzero(nodes == 0)
    counts = [tg.nodes[k] for k in (4, 3, 2)]
    nodes[rest] = rank_assign(score[rest], [4, 3, 2], counts).astype(int)

    # Regions behind each site, then the three published stations
    sup_site = site == "supraclavicular"
    k_sup = tg.stations["station_supraclavicular"] - int(sup_site.sum())
    mult_idx = np.flatnonzero(multiple)
    if not 0 <= k_sup <= len(mult_idx):
        raise ValueError("supraclavicular station total is incompatible with the recurrence sites")
    has_sup = sup_site.copy()
    with_sup = choose(rng, mult_idx, k_sup, what="multiple-site patients with supraclavicular nodes")
    has_sup[with_sup] = True
    has_med = site == "mediastinal"
    for i in mult_idx:
        if has_sup[i]:
            has_med[i] = rng.random() < spec.multiple_site_supraclavicular_mediastinal_share
        else:
            has_med[i] = True  # mediastinal + abdominal
    med_nodes = np.where(site == "mediastinal", nodes, np.where(multiple & has_med, nodes - 1, 0))
    med_idx = np.flatnonzero(has_med)
    s2r = np.zeros(n_total, dtype=bool)
    s7 = np.zeros(n_total, dtype=bool)
    s2r[choose(rng, med_idx, tg.stations["station_2r"], what="station 2R patients")] = True
    eligible7 = med_idx[~(s2r[med_idx] & (med_nodes[med_idx] == 1))]
    s7[choose(rng, eligible7, tg.stations["station_7"], what="station 7 patients")] = True

    confirmation = rng.permutation(
        np.repeat(np.array(CONFIRMATION, dtype=object), [tg.confirmation[c] for c in CONFIRMATION])
    )
    if len(confirmation) != n_total:
        raise ValueError("published confirmation counts do not add up to the cohort size")

    # Interval surgery -> recurrence: integers with exact median, minimum and maximum
    median, lo, hi = tg.months_to_recurrence
    n_low = (n_total - 1) // 2
    if n_total % 2 == 0:
        raise ValueError("the exact-median construction needs an odd cohort size")
    sd = spec.months_to_recurrence_log_sd
    dist = stats.lognorm(s=sd, scale=median)
    q_lo, q_med, q_hi = dist.cdf(lo), dist.cdf(median), dist.cdf(hi)
    lower = np.floor(dist.ppf(rng.uniform(q_lo, q_med, n_low)) + 0.5)
    upper = np.floor(dist.ppf(rng.uniform(q_med, q_hi, n_low)) + 0.5)
    lower = np.clip(lower, lo, median)
    upper = np.clip(upper, median, hi)
    lower[np.argmin(lower)] = lo
    upper[np.argmax(upper)] = hi
    values = np.concatenate([lower, [median], upper]).astype(int)
    prior_rt = np.isin(base["previous_treatment"], ["radiotherapy", "chemoradiotherapy"])
    floor_rt = tg.prior_radiotherapy_interval_months + spec.prior_radiotherapy_buffer_months
    late = np.flatnonzero(values >= floor_rt)
    early = np.flatnonzero(values < floor_rt)
    need = int(prior_rt.sum())
    if need > len(late):
        raise ValueError("too few late recurrences for the patients with previous radiotherapy")
    perm_late = rng.permutation(late)
    months = np.zeros(n_total, dtype=int)
    rt_idx, other_idx = np.flatnonzero(prior_rt), np.flatnonzero(~prior_rt)
    months[rt_idx] = values[perm_late[:need]]
    months[other_idx] = values[rng.permutation(np.concatenate([perm_late[need:], early]))]

    # CRT start dates, uniform over the accrual period
    start, end = tg.period
    span = (end - start).days
    offsets = rng.integers(0, span + 1, size=n_total)
    dates = np.array([np.datetime64(start) + np.timedelta64(int(d), "D") for d in offsets])

    # Docetaxel + cisplatin schedule: the published weekly + three-weekly counts fall short of the
    # docetaxel + cisplatin total; the remaining patients are "not_stated"
    dp_idx = np.flatnonzero(base["concurrent_chemo"] == "docetaxel_cisplatin")
    w, t3 = tg.dp_schedule["weekly"], tg.dp_schedule["three_weekly"]
    if w + t3 > len(dp_idx):
        raise ValueError("more docetaxel + cisplatin schedules than docetaxel + cisplatin patients")
    schedule = np.full(n_total, None, dtype=object)
    schedule[dp_idx] = rng.permutation(
        np.repeat(np.array(["weekly", "three_weekly", "not_stated"], dtype=object), [w, t3, len(dp_idx) - w - t3])
    )
    return {
        "n_recurrent_nodes": nodes,
        "station_2r": s2r,
        "station_7": s7,
        "station_supraclavicular": has_sup,
        "_has_mediastinal": has_med,
        "recurrence_confirmed_by": confirmation,
        "months_surgery_to_recurrence": months,
        "crt_start_date": dates,
        "dp_schedule": schedule,
    }


def intended_matched(base: dict) -> np.ndarray:
    """Patients the matched design intends to be matched (none without a design)."""
    group = base.get("_group")
    return np.zeros(len(base["arm"]), dtype=bool) if group is None else np.asarray(group) % 2 == 0


def course_and_response(
    rng,
    spec: GeneratorSpec,
    tg: Targets,
    base: dict,
    fractions: np.ndarray,
    cm: np.ndarray,
    nodes: np.ndarray,
) -> dict:
    """Deaths during CRT (not evaluable), CRT duration, assessment time, response by latent ranking."""
    arm = base["arm"]
    n_total = len(arm)
    matched = intended_matched(base)
    frail = (base["age_group"] == "ge65").astype(float) + (base["ecog"] == "1-2")
    ne = np.zeros(n_total, dtype=bool)
    cause = np.full(n_total, None, dtype=object)
    for a in ARMS:
        # the matched arms are all evaluable (the paper's matched Table 2): deaths during CRT are unmatched
        idx = np.flatnonzero((arm == a) & ~matched)
        chosen = choose(
            rng,
            idx,
            tg.not_evaluable[a],
            np.exp(spec.not_evaluable_frailty_log_weight * frail[idx]),
            "deaths during CRT",
        )
        ne[chosen] = True
        causes = np.repeat(np.array(list(tg.death_causes[a]), dtype=object), list(tg.death_causes[a].values()))
        cause[chosen] = rng.permutation(causes)
    crt_weeks = fractions / spec.fractions_per_week + rng.uniform(0, spec.crt_interruption_days_max, n_total) / 7
    lo, hi = tg.assessment_weeks
    assess_weeks = crt_weeks + rng.uniform(lo, hi, n_total)

    effects = dict(spec.response_effects)
    latent = (
        effects.get("node_diameter_cm", 0.0) * (cm - cm.mean())
        + effects.get("n_recurrent_nodes", 0.0) * (nodes - nodes.mean())
        + effects.get("poor", 0.0) * (base["differentiation"] == "poor")
        + effects.get("well", 0.0) * (base["differentiation"] == "well")
        + rng.logistic(0.0, 1.0, n_total)
    )
    response = np.full(n_total, "ne", dtype=object)
    levels = ("cr", "pr", "sd", "pd")
    for a in ARMS:
        if "_group" in base:  # matched design: matched Table 2 exact, the rest from the difference
            after = tg.response_after[a]
            strata = ((matched, [after[r] for r in levels]), (~matched, [tg.response[a][r] - after[r] for r in levels]))
        else:
            strata = ((np.ones(n_total, dtype=bool), [tg.response[a][r] for r in levels]),)
        for members, counts in strata:
            idx = np.flatnonzero((arm == a) & ~ne & members)
            if min(counts) < 0:
                raise ValueError(f"arm {a}: the published matched responses exceed those before matching")
            response[idx] = rank_assign(-latent[idx], levels, counts)
    return {
        "not_evaluable": ne,
        "death_cause": cause,
        "crt_weeks": crt_weeks,
        "assessment_months": assess_weeks / WEEKS_PER_MONTH,
        "response": response,
    }
