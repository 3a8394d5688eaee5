"""Adverse events and anlotinib exposure of the synthetic patients, to the published counts."""

from __future__ import annotations

import math

import numpy as np

from psmbook.cohort.synthetic.model import choose
from psmbook.cohort.synthetic.spec import (
    ANLOTINIB_EVENTS,
    ANLOTINIB_G34,
    ARMS,
    DOSE_REDUCTION_REASONS,
    TOXICITIES,
    TREATED,
    WEEKS_PER_MONTH,
    GeneratorSpec,
)
from psmbook.cohort.synthetic.targets import Targets


def _distribute(rng, must_cover, fill_pool, events, counts, seeded=None, eligible=None, fill_weight=None):
    """Spread events over patients so that each patient of `must_cover` has at least one of them.

    Every event ``e`` ends up on exactly ``counts[e]`` patients of `fill_pool` (``seeded[e]`` already
    have it). Patients of `must_cover` without an event are first given one event each, picked in
    proportion to the events' remaining room; then every event is filled to its count at random from
    `fill_pool` (``fill_weight(e, pool, sets)`` may weight the draw). Returns the sets and the
    patients that could not be covered (all room used up).
    """
    seeded = seeded or {}
    eligible = eligible or {}
    sets = {e: set(int(i) for i in seeded.get(e, ())) for e in events}
    covered = set().union(*sets.values()) if sets else set()
    leftover = []
    for i in rng.permutation(np.asarray(must_cover, dtype=int)):
        i = int(i)
        if i in covered:
            continue
        room = np.array(
            [counts[e] - len(sets[e]) if (e not in eligible or i in eligible[e]) else 0 for e in events],
            dtype=float,
        )
        if room.sum() <= 0:
            leftover.append(i)
            continue
        sets[events[rng.choice(len(events), p=room / room.sum())]].add(i)
        covered.add(i)
    for e in events:
        short = counts[e] - len(sets[e])
        if short < 0:
            raise ValueError(f"event {e}: more patients seeded than its published count")
        pool = np.array(
            [int(i) for i in fill_pool if int(i) not in sets[e] and (e not in eligible or int(i) in eligible[e])],
            dtype=int,
        )
        w = None if fill_weight is None else fill_weight(e, pool, sets)
        sets[e].update(int(i) for i in choose(rng, pool, short, w, f"patients with {e}"))
    return sets, leftover


def draw_toxicity(rng, spec: GeneratorSpec, tg: Targets, base: dict, course: dict) -> dict:
    """Grade >= 3 events: exact per-arm counts and union; anlotinib events of any grade."""
    arm = base["arm"]
    n_total = len(arm)
    ne = course["not_evaluable"]
    fatal_fn = course["death_cause"] == "febrile_neutropenia"
    frail = (base["age_group"] == "ge65").astype(float) + (base["ecog"] == "1-2")
    g34 = {e: np.zeros(n_total, dtype=bool) for e in TOXICITIES + ANLOTINIB_G34}
    other = np.zeros(n_total, dtype=bool)
    for a in ARMS:
        idx = np.flatnonzero(arm == a)
        forced = idx[fatal_fn[idx]]  # fatal febrile neutropenia: neutropenia and leukopenia
        pool = idx[~ne[idx]]
        chosen = choose(
            rng,
            pool,
            tg.g34_any[a] - len(forced),
            np.exp(spec.toxicity_frailty_log_weight * frail[pool]),
            "patients with a grade 3-4 event",
        )
        alive = np.sort(chosen)
        counts = {e: tg.toxicity[e][a] for e in TOXICITIES}
        leuk = np.concatenate(
            [forced, choose(rng, alive, counts["leukopenia"] - len(forced), what="leukopenia")]
        ).astype(int)
        outside = np.setdiff1d(alive, leuk)
        n_in = int(round(spec.neutropenia_within_leukopenia * counts["neutropenia"]))
        n_in = max(min(n_in, len(leuk)), counts["neutropenia"] - len(outside), len(forced))
        inside = np.concatenate(
            [
                forced,
                choose(rng, np.setdiff1d(leuk, forced), n_in - len(forced), what="neutropenia with leukopenia"),
            ]
        )
        neut = np.concatenate([inside, choose(rng, outside, counts["neutropenia"] - n_in, what="neutropenia")]).astype(
            int
        )
        g34["leukopenia"][leuk] = True
        g34["neutropenia"][neut] = True
        events = [e for e in TOXICITIES if e not in ("leukopenia", "neutropenia")]
        room = {e: counts[e] for e in events}
        if a == TREATED:
            events += list(ANLOTINIB_G34)
            room.update(tg.anlotinib_g34)
        uncovered = np.setdiff1d(alive, np.union1d(leuk, neut))
        sets, leftover = _distribute(rng, uncovered, alive, events, room)
        for e in events:
            g34[e][sorted(sets[e])] = True
        other[leftover] = True  # only if Table 4 cannot cover everyone
    # anlotinib events of any grade; the CRT arm has none
    grades = {e: np.zeros(n_total, dtype=int) for e in ANLOTINIB_EVENTS}
    idx = np.flatnonzero(arm == TREATED)
    severe = idx[np.any([g34[e][idx] for e in ANLOTINIB_G34], axis=0)]
    with_event = np.concatenate(
        [
            severe,
            choose(
                rng,
                np.setdiff1d(idx, severe),
                tg.anlotinib_any_event - len(severe),
                what="patients with an anlotinib event",
            ),
        ]
    ).astype(int)
    seeded = {e: np.flatnonzero(g34[e]) for e in ANLOTINIB_G34}
    eligible = {"hypothyroidism": set(int(i) for i in with_event if not ne[i])}

    def weight(e, pool, sets):
        if e != "proteinuria":
            return None
        return np.where(np.isin(pool, list(sets["hypertension"])), spec.proteinuria_hypertension_weight, 1.0)

    sets, leftover = _distribute(
        rng, with_event, with_event, list(ANLOTINIB_EVENTS), tg.anlotinib_any_grade, seeded, eligible, weight
    )
    if leftover:
        raise ValueError("the published anlotinib event counts cannot give every patient with an event one")
    for e in ANLOTINIB_EVENTS:
        members = np.array(sorted(sets[e]), dtype=int)
        severe_e = seeded.get(e, np.array([], dtype=int))
        mild = members[~np.isin(members, severe_e)]
        grades[e][mild] = np.where(rng.random(len(mild)) < spec.anlotinib_grade2_share, 2, 1)
        grades[e][severe_e] = np.where(rng.random(len(severe_e)) < spec.anlotinib_grade4_share, 4, 3)
    return {"g34": g34, "g34_other": other, "anl_grades": grades}


def draw_anlotinib(rng, spec: GeneratorSpec, tg: Targets, base: dict, course: dict, surv: dict, tox: dict) -> dict:
    """Start dose, weeks and cycles of anlotinib, dose reductions (CRT arm: missing / False)."""
    arm = base["arm"]
    n_total = len(arm)
    idx = np.flatnonzero(arm == TREATED)
    ne = course["not_evaluable"]
    low, mid, high = tg.start_doses_mg
    n_high = int(round(tg.high_start_share * len(idx)))
    n_mid = int(round(spec.anlotinib_mid_start_share * (len(idx) - n_high)))
    age = base["age_years"][idx].astype(float)
    weight = np.exp(spec.anlotinib_low_start_age_log_weight * (age - age.mean()))
    group = base.get("_group")
    if group is None:
        lowered = choose(rng, idx, len(idx) - n_high, weight, "lower start doses")
    else:  # matched design: the published share is the matched cohort's, so it holds there exactly
        matched = np.asarray(group)[idx] % 2 == 0
        n_low_matched = int(matched.sum()) - int(round(tg.high_start_share * matched.sum()))
        n_low_rest = max(0, len(idx) - n_high - n_low_matched)
        lowered = np.concatenate(
            [
                choose(rng, idx[matched], n_low_matched, weight[matched], "lower start doses (matched)"),
                choose(rng, idx[~matched], n_low_rest, weight[~matched], "lower start doses (unmatched)"),
            ]
        )
    start = np.full(n_total, np.nan)
    start[idx] = high
    lowered = rng.permutation(lowered)
    start[lowered[:n_mid]] = mid
    start[lowered[n_mid:]] = low

    on, off = tg.anlotinib_cycle_weeks
    cycle = on + off
    _, w_min, w_max = tg.anlotinib_exposure_weeks
    stop = spec.anlotinib_discontinuation_median_weeks * rng.exponential(1.0, len(idx)) / math.log(2)
    pfs_w = surv["pfs_months"][idx] * WEEKS_PER_MONTH
    os_w = surv["os_months"][idx] * WEEKS_PER_MONTH
    weeks = np.floor(np.minimum(np.minimum(pfs_w, w_max), stop))
    weeks = np.clip(weeks, w_min, w_max)
    died_in_crt = ne[idx]
    weeks[died_in_crt] = np.clip(np.floor(os_w[died_in_crt]), w_min, 2 * cycle - 1)
    if group is not None:  # matched design: the printed exposure is the matched arm's
        upper = np.clip(np.floor(np.minimum(pfs_w, w_max)), w_min, w_max)
        m = np.flatnonzero(np.asarray(group)[idx] % 2 == 0)
        weeks[m] = matched_exposure(rng, weeks[m], upper[m], tg)
    anl_weeks = np.full(n_total, np.nan)
    anl_weeks[idx] = weeks

    reduced = np.zeros(n_total, dtype=bool)
    reason = np.full(n_total, None, dtype=object)
    grades = tox["anl_grades"]
    for r in DOSE_REDUCTION_REASONS:
        pool = np.flatnonzero((grades[r] > 0) & (start == high) & ~ne & ~reduced)
        chosen = choose(rng, pool, tg.dose_reduction[r], grades[r][pool].astype(float) ** 2, f"dose reductions for {r}")
        reduced[chosen] = True
        reason[chosen] = r
    return {
        "anlotinib_start_dose_mg": start,
        "anlotinib_weeks": anl_weeks,
        "anlotinib_cycles": np.round(anl_weeks / cycle, 2),
        "anlotinib_dose_reduced": reduced,
        "dose_reduction_reason": reason,
    }


def matched_exposure(rng, weeks: np.ndarray, upper: np.ndarray, tg: Targets) -> np.ndarray:
    """The matched arm's weeks of anlotinib moved, as little as the counts need, to the paper's median, range
    and number of patients with more than the printed number of cycles; nobody takes anlotinib beyond
    ``upper`` (their progression or the maximum), and nobody is raised above it."""
    median, w_min, w_max = tg.anlotinib_exposure_weeks
    threshold, n_more = tg.anlotinib_more_cycles
    on, off = tg.anlotinib_cycle_weeks
    cut = threshold * (on + off)  # more than `threshold` cycles: weeks above `cut`
    w = np.minimum(np.asarray(weeks, dtype=float).copy(), upper)
    n = len(w)

    def pick(pool, k, what):
        if k > len(pool):
            raise ValueError(f"matched anlotinib exposure: too few patients for {what}")
        return rng.choice(pool, size=k, replace=False)

    more = np.flatnonzero(w > cut)
    if len(more) > n_more:  # lower some to at most `cut`
        for i in pick(more, len(more) - n_more, "fewer cycles"):
            w[i] = rng.integers(int(w_min), int(cut) + 1)
    elif len(more) < n_more:  # raise some who could take more
        pool = np.flatnonzero((w <= cut) & (upper > cut))
        for i in pick(pool, n_more - len(more), "more cycles"):
            w[i] = rng.integers(int(cut) + 1, int(upper[i]) + 1)
    half = n // 2  # the sorted values at positions half-1 and half are both the median
    below, above = np.flatnonzero(w < median), np.flatnonzero(w > median)
    if len(below) > half - 1:  # raise some of those above the cut but below the median
        pool = below[(w[below] > cut) & (upper[below] >= median)]
        w[pick(pool, len(below) - (half - 1), "the median")] = median
    if len(above) > n - half - 1:
        w[pick(above, len(above) - (n - half - 1), "the median")] = median
    w[np.argmin(w)] = w_min
    if not (w == w_max).any():  # someone already above the median takes the maximum: no count moves
        top = np.flatnonzero((upper >= w_max) & (w > median))
        if not len(top):
            raise ValueError("matched anlotinib exposure: nobody above the median can reach the published maximum")
        w[rng.choice(top)] = w_max
    return w
