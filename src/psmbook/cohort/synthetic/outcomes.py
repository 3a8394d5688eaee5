"""Overall and progression-free survival of the synthetic patients, drawn from the stated model."""

from __future__ import annotations

import numpy as np
from scipy import stats

from psmbook.cohort.synthetic.model import baseline_cumulative_hazard, inverse_cumulative_hazard, stratified_uniforms
from psmbook.cohort.synthetic.spec import ARMS, CONTROL, TREATED, WEEKS_PER_MONTH, GeneratorSpec, SurvivalDrawError
from psmbook.cohort.synthetic.targets import Targets


def risk_blocks(rng, key: np.ndarray, size: int) -> list[np.ndarray]:
    """Positions sorted by `key` (ties at random), cut into consecutive blocks of about `size`."""
    n = len(key)
    if n == 0:
        return []
    order = np.lexsort((rng.random(n), np.asarray(key, dtype=float)))
    return np.array_split(order, max(1, int(round(n / max(size, 1)))))


def block_uniforms(rng, blocks: list[np.ndarray], n: int, k: int) -> np.ndarray:
    """k rows of n uniforms, stratified within each block: every u is still marginally U(0, 1)."""
    u = np.empty((k, n))
    for block in blocks:
        u[:, block] = stratified_uniforms(rng, (k, len(block)))
    return u


def _landmark_times(tg: Targets, endpoint: str) -> list[float]:
    return sorted({t for (e, _, _), (t, _) in tg.landmarks.items() if e == endpoint})


def draw_os(rng, spec: GeneratorSpec, tg: Targets, arm, lp, assess, crt_end, followup, ne, pd_) -> dict:
    """OS from the stated PH model: stratified inverse-CDF draws; exact death totals by rejection."""
    n_total = len(arm)
    os_time = np.zeros(n_total)
    risk = np.exp(lp)
    cycle = sum(tg.anlotinib_cycle_weeks)
    t_min = spec.not_evaluable_min_death_weeks / WEEKS_PER_MONTH
    times = _landmark_times(tg, "os")
    draws = {}
    for a in ARMS:
        n_arm = int((arm == a).sum())
        idx_ne = np.flatnonzero((arm == a) & ne)
        # deaths during CRT: PH model truncated to [t_min, min(end of CRT, 2 anlotinib cycles))
        upper = np.minimum(crt_end[idx_ne], 2 * cycle / WEEKS_PER_MONTH)
        h_lo = baseline_cumulative_hazard(np.full(len(idx_ne), t_min), spec)
        h_hi = baseline_cumulative_hazard(upper, spec)
        r = risk[idx_ne]
        u = rng.random(len(idx_ne))
        dh = -np.log1p(-u * (-np.expm1(-(h_hi - h_lo) * r))) / r
        os_time[idx_ne] = inverse_cumulative_hazard(h_lo + dh, spec)

        # evaluable patients: PH model truncated to [a_i, inf)
        idx = np.flatnonzero((arm == a) & ~ne)
        target = tg.os_events[a] - len(idx_ne)
        alive_pd_max = tg.pfs_events[a] - tg.os_events[a]
        h_a = baseline_cumulative_hazard(assess[idx], spec)
        h_f = baseline_cumulative_hazard(followup[idx], spec)
        r = risk[idx]
        is_pd = pd_[idx]
        # landmark cumulative hazards and the model's expected landmark survival of this cohort
        h_t = [(baseline_cumulative_hazard(np.full(len(idx), t), spec) - h_a) * r for t in times]
        expected = [np.exp(-x).sum() / n_arm for x in h_t]
        window = None if spec.landmark_window_pp is None else spec.landmark_window_pp / 100
        blocks = risk_blocks(rng, lp[idx], spec.survival_block_size)
        found = None
        tries = 0
        while found is None:
            if tries >= spec.max_survival_draws:
                raise SurvivalDrawError(
                    f"arm {a}: no OS draw with exactly {tg.os_events[a]} deaths, at most {alive_pd_max} "
                    f"progressive-disease patients alive and landmarks within the window, in "
                    f"{spec.max_survival_draws} tries; the baseline hazard is probably mis-calibrated "
                    "for this specification"
                )
            k = min(spec.survival_batch, spec.max_survival_draws - tries)
            e = -np.log1p(-block_uniforms(rng, blocks, len(idx), k))
            dead = e < (h_f - h_a) * r  # T < follow-up  <=>  H(T) - H(a) < H(f) - H(a)
            ok = (dead.sum(axis=1) == target) & ((~dead & is_pd).sum(axis=1) <= alive_pd_max)
            if window is not None:
                for x, ex in zip(h_t, expected):
                    ok &= np.abs((e > x).sum(axis=1) / n_arm - ex) <= window
            hits = np.flatnonzero(ok)
            if len(hits):
                found = e[hits[0]]
                draws[a] = tries + int(hits[0]) + 1
            tries += k
        os_time[idx] = inverse_cumulative_hazard(h_a + found / r, spec)

    os_event = (os_time < followup).astype(int)
    os_months = np.where(os_event == 1, os_time, followup)
    return {"os_months": os_months, "os_event": os_event, "_draws": (draws[TREATED], draws[CONTROL])}


def progression_distribution(params):
    median, sigma = params
    return stats.lognorm(s=sigma, scale=median)


def draw_pfs(rng, spec: GeneratorSpec, tg: Targets, arm, assess, followup, ne, pd_, os_months, os_event) -> dict:
    """PFS given OS: PD at assessment, deaths without progression, truncated time to progression."""
    n_total = len(arm)
    pfs = np.zeros(n_total)
    pfs_event = np.zeros(n_total, dtype=int)
    times = _landmark_times(tg, "pfs")
    window = None if spec.landmark_window_pp is None else spec.landmark_window_pp / 100
    draws = {}
    for a in ARMS:
        dist = progression_distribution(spec.progression_anlotinib if a == TREATED else spec.progression_crt)
        in_arm = arm == a
        n_arm = int(in_arm.sum())
        # not evaluable: PFS = OS (death); progressive disease: progression at the assessment
        m = in_arm & ne
        pfs[m], pfs_event[m] = os_months[m], 1
        m = in_arm & pd_
        pfs[m], pfs_event[m] = assess[m], 1
        others = in_arm & ~ne & ~pd_
        dead = np.flatnonzero(others & (os_event == 1))
        alive = np.flatnonzero(others & (os_event == 0))
        n_np = int(round(spec.death_without_progression_share * len(dead)))
        alive_pd = int((in_arm & pd_ & (os_event == 0)).sum())
        k_alive = tg.pfs_events[a] - tg.os_events[a] - alive_pd
        if not 0 <= k_alive <= len(alive):
            raise ValueError(f"arm {a}: cannot place {k_alive} progressions among {len(alive)} survivors")
        cand = np.concatenate([dead, alive]).astype(int)
        is_dead = np.arange(len(cand)) < len(dead)
        end = np.where(is_dead, os_months[cand], followup[cand])
        limit = end - assess[cand]
        f_limit = dist.cdf(limit)
        # expected landmark PFS of this cohort given its OS (the acceptance window's centre)
        fixed = in_arm & (ne | pd_)
        expected = []
        for t in times:
            s_fixed = float((pfs[fixed] > t).sum())
            cond = np.where(
                t <= assess[cand],
                1.0,
                np.where(t >= end, 0.0, 1.0 - dist.cdf(np.maximum(t - assess[cand], 0)) / f_limit),
            )
            p_prog = np.where(is_dead, 1.0 - n_np / max(len(dead), 1), k_alive / max(len(alive), 1))
            no_prog_surv = (end > t).astype(float)
            expected.append((s_fixed + np.sum(p_prog * cond + (1 - p_prog) * no_prog_surv)) / n_arm)
        blocks = risk_blocks(rng, limit, spec.survival_block_size)
        found = None
        tries = 0
        while found is None:
            if tries >= spec.max_survival_draws:
                raise SurvivalDrawError(
                    f"arm {a}: no PFS draw with landmarks within the window in {spec.max_survival_draws} tries"
                )
            k = min(spec.survival_batch, spec.max_survival_draws - tries)
            u = block_uniforms(rng, blocks, len(cand), k)
            progressed = np.zeros((k, len(cand)), dtype=bool)
            if len(dead):
                order = np.argsort(rng.random((k, len(dead))), axis=1)
                progressed[:, : len(dead)] = np.argsort(order, axis=1) >= n_np  # n_np die unprogressed
            if len(alive):
                order = np.argsort(rng.random((k, len(alive))), axis=1)
                progressed[:, len(dead) :] = np.argsort(order, axis=1) < k_alive
            prog_time = assess[cand] + dist.ppf(u * f_limit)
            value = np.where(progressed, prog_time, end)
            ok = np.ones(k, dtype=bool)
            if window is not None:
                for t, ex in zip(times, expected):
                    s_fixed = float((pfs[fixed] > t).sum())
                    ok &= np.abs((s_fixed + (value > t).sum(axis=1)) / n_arm - ex) <= window
            hits = np.flatnonzero(ok)
            if len(hits):
                j = hits[0]
                found = (value[j], progressed[j])
                draws[a] = tries + int(j) + 1
            tries += k
        value, progressed = found
        pfs[cand] = value
        pfs_event[cand] = np.where(is_dead | progressed, 1, 0)
    return {"pfs_months": pfs, "pfs_event": pfs_event, "_pfs_draws": (draws[TREATED], draws[CONTROL])}
