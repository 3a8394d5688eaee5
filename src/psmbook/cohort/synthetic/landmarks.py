"""Survival drawn from the stated model, conditioned on the paper's landmark counts before and after matching.

With the matched design the generator knows which patients the default matching keeps. The paper prints
the Kaplan-Meier landmarks of the whole cohort and of the matched cohort (OS at 1 and 3 years, PFS at 6
and 12 months, per arm). Nobody is censored before the last landmark, so a landmark is a count: the
patients still alive (free of progression) at that time. Each arm is split into its matched and its
unmatched patients; in each part the patients whose OS (PFS) ends in each interval between landmarks are
chosen with the model's own probabilities in the paper's numbers (the unmatched part: whole-cohort count
minus matched count), and each time is then drawn from the model within its interval. The arm's death
and PFS-event totals stay exact. Conditioning on counts selects among the model's own outcomes: every
patient's hazard ratios stay the stated ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from psmbook.cohort.synthetic.model import baseline_cumulative_hazard, inverse_cumulative_hazard
from psmbook.cohort.synthetic.outcomes import progression_distribution
from psmbook.cohort.synthetic.spec import ARMS, TREATED, WEEKS_PER_MONTH, GeneratorSpec, SurvivalDrawError
from psmbook.cohort.synthetic.targets import Targets


def landmark_count(pct: float, n: int, what: str, tolerance_pp: float) -> int:
    """The number of n patients whose share is nearest the printed percentage (an error naming `what` if
    no count lies within `tolerance_pp` percentage points of it)."""
    k = int(math.floor(pct * n / 100 + 0.5))
    if abs(100 * k / n - pct) > tolerance_pp:
        raise ValueError(f"{what}: {pct}% of {n} patients is no count within {tolerance_pp} percentage points")
    return k


def landmark_targets(tg: Targets, spec: GeneratorSpec) -> dict:
    """(endpoint, landmark key, arm) -> (months, alive whole cohort, alive matched cohort)."""
    out = {}
    for (endpoint, key, a), (months, pct) in tg.landmarks.items():
        _, pct_after = tg.landmarks_after[(endpoint, key, a)]
        whole = landmark_count(pct, tg.n[a], f"{endpoint} at {key}, {a}, before matching", spec.landmark_tolerance_pp)
        matched = landmark_count(
            pct_after, tg.n_after[a], f"{endpoint} at {key}, {a}, after matching", spec.landmark_tolerance_pp
        )
        out[(endpoint, key, a)] = (months, whole, matched)
    return out


def _times_and_targets(targets: dict, endpoint: str, a: str):
    rows = sorted(
        (t, whole, matched) for (e, _, arm), (t, whole, matched) in targets.items() if e == endpoint and arm == a
    )
    return [r[0] for r in rows], np.array([r[1] for r in rows]), np.array([r[2] for r in rows])


def sample_exact(rng, prob: np.ndarray, count: int, what: str) -> np.ndarray:
    """`count` distinct positions, position i with weight prob_i / (1 - prob_i) (sampling in proportion to
    the odds approximates drawing Bernoulli(prob_i) events conditionally on their number); positions with
    prob 1 always, with prob 0 never. An error naming `what` if no such choice exists."""
    prob = np.clip(np.asarray(prob, dtype=float), 0.0, 1.0)
    forced = np.flatnonzero(prob >= 1.0)
    free = np.flatnonzero((prob > 0.0) & (prob < 1.0))
    if len(forced) > count or len(forced) + len(free) < count:
        raise SurvivalDrawError(f"{what}: {count} events are impossible ({len(forced)} certain, {len(free)} possible)")
    odds = prob[free] / (1.0 - prob[free])
    chosen = (
        rng.choice(free, size=count - len(forced), replace=False, p=odds / odds.sum()) if count > len(forced) else []
    )
    return np.concatenate([forced, np.asarray(chosen, dtype=int)]).astype(int)


def _limit(rng, chosen, limited, limit, prob, what):
    """`chosen` (positions) with at most `limit` of them in `limited` (a boolean mask over positions): the
    surplus is swapped for positions outside `limited`, not chosen yet and with prob > 0 (highest first)."""
    chosen = np.asarray(chosen, dtype=int)
    surplus = int(limited[chosen].sum()) - limit
    if surplus <= 0:
        return chosen
    inside = chosen[limited[chosen]]
    out = inside[np.argsort(prob[inside], kind="stable")[:surplus]]
    pool = np.setdiff1d(np.flatnonzero(~limited & (prob > 0)), chosen)
    if len(pool) < surplus:
        raise SurvivalDrawError(f"{what}: no choice respects the later landmark")
    add = pool[np.argsort(-prob[pool], kind="stable")[:surplus]]
    return np.union1d(np.setdiff1d(chosen, out), add)


def _truncated_times(rng, spec, lo, hi, r):
    """Times from the proportional-hazards model truncated to [lo, hi) (arrays; hi may be inf)."""
    h_lo = baseline_cumulative_hazard(lo, spec)
    h_hi = np.where(np.isfinite(hi), baseline_cumulative_hazard(np.where(np.isfinite(hi), hi, lo), spec), np.inf)
    mass = -np.expm1(-(h_hi - h_lo) * r)
    dh = -np.log1p(-rng.random(len(lo)) * mass) / r
    return inverse_cumulative_hazard(h_lo + dh, spec)


def draw_os_landmarks(rng, spec: GeneratorSpec, tg: Targets, arm, lp, assess, crt_end, followup, ne, pd_, matched):
    """OS from the stated model with every arm's and every matched arm's landmark counts the paper's and
    the arm's death total exact. In each part (matched, unmatched) of an arm, the patients who die before 1
    year, between 1 and 3 years, later, or not at all are chosen with the model's probabilities in the
    required numbers (:func:`sample_exact`), then each time is drawn from the model within its interval."""
    targets = landmark_targets(tg, spec)
    n_total = len(arm)
    os_time = np.zeros(n_total)
    risk = np.exp(lp)
    cycle = sum(tg.anlotinib_cycle_weeks)
    t_min = spec.not_evaluable_min_death_weeks / WEEKS_PER_MONTH
    for a in ARMS:
        idx_ne = np.flatnonzero((arm == a) & ne)
        upper = np.minimum(crt_end[idx_ne], 2 * cycle / WEEKS_PER_MONTH)
        os_time[idx_ne] = _truncated_times(rng, spec, np.full(len(idx_ne), t_min), upper, risk[idx_ne])
        times, whole, in_matched = _times_and_targets(targets, "os", a)
        pfs_times, pfs_whole, pfs_matched = _times_and_targets(targets, "pfs", a)
        edges = [t + 0.005 for t in times]  # OS is rounded to 0.01 month: alive at t means OS >= t + 0.005
        first = pfs_times[0] + 0.005
        evaluable = np.flatnonzero((arm == a) & ~ne)
        late = []
        for members, target, pfs_free, pfs_free12 in (
            (evaluable[matched[evaluable]], in_matched, pfs_matched[0], pfs_matched[1]),
            (
                evaluable[~matched[evaluable]],
                whole - in_matched,
                pfs_whole[0] - pfs_matched[0],
                pfs_whole[1] - pfs_matched[1],
            ),
        ):
            h_a = baseline_cumulative_hazard(assess[members], spec)
            r = risk[members]

            def surv(t, h_a=h_a, r=r):
                return np.exp(-(baseline_cumulative_hazard(np.full(len(h_a), t), spec) - h_a) * r)

            s1, s3 = surv(edges[0]), surv(edges[1])
            n = len(members)
            if not 0 <= target[1] <= target[0] <= n:
                raise SurvivalDrawError(f"arm {a}: OS landmark counts {list(target)} impossible for {n} patients")
            early = sample_exact(rng, 1 - s1, n - target[0], f"arm {a}: deaths within {times[0]:g} months")
            # PFS at the second PFS landmark needs that many patients (not PD) alive at the first OS landmark
            not_pd = ~pd_[members]
            cap12 = int(not_pd.sum()) - int(pfs_free12)
            early = _limit(rng, early, not_pd, cap12, 1 - s1, f"arm {a}: deaths within {times[0]:g} months")
            rest = np.setdiff1d(np.arange(n), early)
            mid = rest[
                sample_exact(
                    rng, 1 - s3[rest] / s1[rest], target[0] - target[1], f"arm {a}: deaths by {times[1]:g} months"
                )
            ]
            after = np.setdiff1d(rest, mid)
            lo = np.where(
                np.isin(np.arange(n), early), assess[members], np.where(np.isin(np.arange(n), mid), edges[0], edges[1])
            )
            hi = np.where(
                np.isin(np.arange(n), early), edges[0], np.where(np.isin(np.arange(n), mid), edges[1], np.inf)
            )
            os_time[members] = _truncated_times(rng, spec, lo, hi, r)
            # the paper's PFS at the first PFS landmark needs that many patients (not PD) alive then
            cap = int((~pd_[members]).sum()) - int(pfs_free)
            early_ok = early[~pd_[members][early]]
            if cap < 0:
                raise SurvivalDrawError(
                    f"arm {a}: {pfs_free} patients free of progression at {first:.0f} months impossible"
                )
            if (os_time[members[early_ok]] < first).sum() > cap:
                s_first = surv(first)[early_ok]
                very = early_ok[sample_exact(rng, (1 - s_first) / (1 - s1[early_ok]), cap, f"arm {a}: early deaths")]
                later = np.setdiff1d(early_ok, very)
                os_time[members[very]] = _truncated_times(
                    rng, spec, assess[members[very]], np.full(len(very), first), r[very]
                )
                os_time[members[later]] = _truncated_times(
                    rng, spec, np.full(len(later), first), np.full(len(later), edges[0]), r[later]
                )
            late.extend(members[after].tolist())
        # the arm's death total: who of the patients alive at 3 years dies before the censoring date
        late = np.array(late, dtype=int)
        deaths_left = tg.os_events[a] - len(idx_ne) - (len(evaluable) - len(late))
        h36 = baseline_cumulative_hazard(np.full(len(late), edges[1]), spec)
        p_die = -np.expm1(-(baseline_cumulative_hazard(followup[late], spec) - h36) * risk[late])
        die = late[sample_exact(rng, p_die, deaths_left, f"arm {a}: deaths after {times[1]:g} months")]
        # no more progressive-disease patients alive at the cutoff than the paper has progressions among survivors
        alive = np.setdiff1d(late, die)
        surplus = int(pd_[alive].sum()) - (tg.pfs_events[a] - tg.os_events[a])
        if surplus > 0:
            swap_in = rng.choice(alive[pd_[alive]], surplus, replace=False)
            swap_out = rng.choice(die[~pd_[die]], surplus, replace=False)
            die = np.union1d(np.setdiff1d(die, swap_out), swap_in)
            alive = np.setdiff1d(late, die)
        os_time[die] = _truncated_times(rng, spec, np.full(len(die), edges[1]), followup[die], risk[die])
        os_time[alive] = followup[alive] + 1.0  # alive at the censoring date
    os_event = (os_time < followup).astype(int)
    return {"os_months": np.where(os_event == 1, os_time, followup), "os_event": os_event, "_draws": (0, 0)}


def _split(total: int, sizes: list[int]) -> list[int]:
    """`total` split in proportion to `sizes` (largest remainders)."""
    if sum(sizes) == 0:
        return [0] * len(sizes)
    raw = [total * s / sum(sizes) for s in sizes]
    out = [int(math.floor(x)) for x in raw]
    for i in sorted(range(len(sizes)), key=lambda i: out[i] - raw[i])[: total - sum(out)]:
        out[i] += 1
    return out


def draw_pfs_landmarks(
    rng, spec: GeneratorSpec, tg: Targets, arm, assess, followup, ne, pd_, os_months, os_event, matched
):
    """PFS given OS with every arm's and every matched arm's 6- and 12-month counts the paper's and the
    arm's PFS events exact. As in :func:`psmbook.cohort.synthetic.outcomes.draw_pfs`: a patient who dies
    has died without progression with probability ``spec.death_without_progression_share``, otherwise progressed at
    assessment + Q (log-normal, truncated before death); among survivors exactly the number needed for the
    published PFS events progress (chosen first, at random). Then, in each part (matched, unmatched) of an
    arm, the patients whose PFS ends by 6 months, between 6 and 12 months, or later are chosen with the
    model's probabilities in the paper's numbers (:func:`sample_exact`), and each PFS is drawn from the
    model within its interval."""
    targets = landmark_targets(tg, spec)
    n_total = len(arm)
    pfs = np.zeros(n_total)
    pfs_event = np.zeros(n_total, dtype=int)
    q = spec.death_without_progression_share
    for a in ARMS:
        dist = progression_distribution(spec.progression_anlotinib if a == TREATED else spec.progression_crt)
        in_arm = arm == a
        # not evaluable: PFS = OS (death); progressive disease: progression at the assessment
        pfs[in_arm & ne], pfs[in_arm & pd_] = os_months[in_arm & ne], assess[in_arm & pd_]
        pfs_event[in_arm & (ne | pd_)] = 1
        times, whole, in_matched = _times_and_targets(targets, "pfs", a)
        edges = [t + 0.005 for t in times]  # PFS is rounded to 0.01 month: free at t means PFS >= t + 0.005
        others = in_arm & ~ne & ~pd_
        alive_all = np.flatnonzero(others & (os_event == 0))
        alive_pd = int((in_arm & pd_ & (os_event == 0)).sum())
        k_alive = tg.pfs_events[a] - tg.os_events[a] - alive_pd
        if not 0 <= k_alive <= len(alive_all):
            raise SurvivalDrawError(f"arm {a}: cannot place {k_alive} progressions among {len(alive_all)} survivors")
        progresses = np.zeros(n_total, dtype=bool)
        progresses[rng.choice(alive_all, size=k_alive, replace=False)] = True
        for s, target_all in ((matched, in_matched), (~matched, whole - in_matched)):
            fixed = in_arm & (ne | pd_) & s
            target = target_all - np.array([(np.round(pfs[fixed], 2) > t).sum() for t in times])
            cand = np.flatnonzero(others & s)
            a_i, dead, prog = assess[cand], os_event[cand] == 1, progresses[cand]
            end = np.where(dead, os_months[cand], followup[cand])
            f_end = np.where(end > a_i, dist.cdf(np.clip(end - a_i, 0, None)), 0.0)

            def cdf(t, a_i=a_i, dead=dead, prog=prog, end=end, f_end=f_end):  # P(PFS < t), every candidate
                f_t = np.minimum(
                    dist.cdf(np.clip(np.minimum(t, end) - a_i, 0, None)) / np.where(f_end > 0, f_end, 1), 1
                )
                before_end = np.where(end < t, 1.0, f_t)
                return np.where(dead, q * (end < t) + (1 - q) * before_end, np.where(prog, before_end, 0.0))

            c_lo, c_hi = cdf(edges[0]), cdf(edges[1])
            n = len(cand)
            if not 0 <= target[1] <= target[0] <= n:
                raise SurvivalDrawError(f"arm {a}: PFS landmark counts {list(target)} impossible for {n} patients")
            early = sample_exact(rng, c_lo, n - target[0], f"arm {a}: PFS events by {times[0]:g} months")
            # patients certain to have PFS before the second landmark (death), beyond its count, go early
            certain_mid = (c_hi >= 1) & (c_lo < 1)
            n_mid = target[0] - target[1]
            excess = int(certain_mid[np.setdiff1d(np.arange(n), early)].sum()) - n_mid
            if excess > 0:
                movable = np.setdiff1d(early, np.flatnonzero(c_lo >= 1))
                out = movable[np.argsort(c_lo[movable], kind="stable")[:excess]]
                pool = np.setdiff1d(np.flatnonzero(certain_mid & (c_lo > 0)), early)
                if len(out) < excess or len(pool) < excess:
                    raise SurvivalDrawError(f"arm {a}: PFS events by {times[1]:g} months cannot all be placed")
                add = pool[np.argsort(-c_lo[pool], kind="stable")[:excess]]
                early = np.union1d(np.setdiff1d(early, out), add)
            rest = np.setdiff1d(np.arange(n), early)
            p_mid = np.where(c_lo[rest] < 1, (c_hi[rest] - c_lo[rest]) / np.maximum(1 - c_lo[rest], 1e-300), 0)
            mid = rest[sample_exact(rng, p_mid, target[0] - target[1], f"arm {a}: PFS events by {times[1]:g} months")]
            late = np.setdiff1d(rest, mid)
            for members, lo, hi in ((early, 0.0, edges[0]), (mid, edges[0], edges[1]), (late, edges[1], np.inf)):
                for j in members:
                    i = cand[j]
                    pfs[i], pfs_event[i] = _within(rng, dist, a_i[j], end[j], bool(dead[j]), bool(prog[j]), lo, hi, q)
    return {"pfs_months": pfs, "pfs_event": pfs_event, "_pfs_draws": (0, 0)}


def _within(rng, dist, a_i, end, dead, progresses, lo, hi, q):
    """(PFS, event) of one patient from the model, given that PFS lies in [lo, hi)."""
    if not dead and not progresses:
        return end, 0

    def f(t):  # CDF of the time from assessment to progression, at min(t, end)
        return dist.cdf(max(min(t, end) - a_i, 0.0))

    w_prog = (1 - q if dead else 1.0) * (f(hi) - f(lo)) / max(f(end), 1e-300)
    w_death = q if dead and lo <= end < hi else 0.0
    if w_prog <= 0 or rng.random() * (w_prog + w_death) < w_death:
        return end, 1
    u = f(lo) + rng.random() * (f(hi) - f(lo))
    return a_i + float(dist.ppf(u)), 1


def landmark_findings(tg: Targets | None = None, spec: GeneratorSpec | None = None) -> list[dict]:
    """Printed landmarks that no cohort can have, found by construction.

    Every patient starts CRT by the end of the accrual period and is followed to the censoring date, with
    no loss to follow-up (an exclusion criterion), so nobody is censored before the last landmark and a
    Kaplan-Meier landmark is exactly k/n. A printed percentage that is k/n for no k (at the printed
    precision, half up) cannot be reproduced; the generator uses the nearest count. One entry per such
    number: published id, printed value, n, nearest count, the percentage it prints as, and why."""
    from psmbook.cohort.synthetic.spec import DAYS_PER_MONTH
    from psmbook.cohort.synthetic.targets import load_targets

    tg = tg or load_targets()
    spec = spec or GeneratorSpec()
    min_followup = (tg.cutoff - tg.period[1]).days / DAYS_PER_MONTH
    out = []
    for period, marks, sizes in (("before", tg.landmarks, tg.n), ("after", tg.landmarks_after, tg.n_after)):
        for (endpoint, key, a), (months, pct) in marks.items():
            n = sizes[a]
            if any(math.floor(1000 * k / n + 0.5) / 10 == round(pct, 1) for k in range(n + 1)):
                continue
            k = landmark_count(pct, n, f"{endpoint} {key} {a} {period}", spec.landmark_tolerance_pp)
            out.append(
                {
                    "published_id": tg.ids[("landmark" if period == "before" else "landmark_after", endpoint, key, a)],
                    "printed": pct,
                    "n": n,
                    "nearest_count": k,
                    "nearest_printed": math.floor(1000 * k / n + 0.5) / 10,
                    "why": (
                        f"nobody is censored before {months:g} months (follow-up is at least {min_followup:.0f} "
                        f"months), so the Kaplan-Meier estimate is k/{n}, and {pct}% is k/{n} for no k"
                    ),
                }
            )
    return out


@dataclass
class DeathCounts:
    """Two groups' risk sets at each death (times sorted latest first): the group's members ``n1`` and the
    others ``n0`` at risk, the deaths tied with it ``d`` (``d1`` of them in the group), its place in the tie as
    Efron's fraction ``frac`` (0 for a tie's first death), and the group's deaths ``deaths1``."""

    n0: np.ndarray
    n1: np.ndarray
    d: np.ndarray
    d1: np.ndarray
    frac: np.ndarray
    deaths1: float

    @classmethod
    def of(cls, t: np.ndarray, e: np.ndarray, group: np.ndarray) -> "DeathCounts":
        order = np.argsort(-t, kind="stable")
        ts, es, gs = t[order], e[order].astype(float), group[order].astype(float)
        last = np.searchsorted(-ts, -ts, side="right") - 1
        first = np.searchsorted(-ts, -ts, side="left")
        dead = np.flatnonzero(es == 1)
        at, before = last[dead], first[dead]
        n1 = np.cumsum(gs)[at]
        ce, ceg = np.concatenate([[0.0], np.cumsum(es)]), np.concatenate([[0.0], np.cumsum(es * gs)])
        d = ce[at + 1] - ce[before]
        return cls(at + 1.0 - n1, n1, d, ceg[at + 1] - ceg[before], (ce[dead] - ce[before]) / d, float(gs[dead].sum()))

    def logrank_chi2(self) -> float:
        """The two-sample log-rank statistic (chi-square, one degree of freedom, the hypergeometric variance)."""
        tie = self.frac == 0  # one term per distinct death time
        n, n1, d, d1 = self.n0[tie] + self.n1[tie], self.n1[tie], self.d[tie], self.d1[tie]
        var = np.where(n > 1, d * (n1 / n) * (1 - n1 / n) * (n - d) / np.maximum(n - 1, 1), 0.0)
        return float((d1.sum() - (d * n1 / n).sum()) ** 2 / var.sum())


def logrank_chi2(t: np.ndarray, e: np.ndarray, group: np.ndarray) -> float:
    """The two-sample log-rank statistic (chi-square, one degree of freedom, the hypergeometric variance)."""
    return DeathCounts.of(t, e, group).logrank_chi2()


def logrank_p(time, event, group) -> float:
    """Two-sample log-rank test (the usual chi-square with one degree of freedom), p-value."""
    from scipy.stats import chi2

    time, event, group = np.asarray(time, dtype=float), np.asarray(event, dtype=int), np.asarray(group, dtype=bool)
    return float(chi2.sf(logrank_chi2(time, event, group), 1))


def draw_survival_landmarks(
    rng, spec: GeneratorSpec, tg: Targets, arm, lp, assess, crt_end, followup, ne, pd_, matched
):
    """``spec.outcome_draws`` draws of OS (:func:`draw_os_landmarks`) and PFS (:func:`draw_pfs_landmarks`);
    the one whose log-rank p-values of OS and PFS, whole and matched cohort, lie nearest the paper's (sum of
    |log(p / printed p)|, on times rounded as the cohort stores them) is kept, the first among equals."""
    treated = arm == TREATED
    best, best_score = None, np.inf
    for _ in range(max(1, spec.outcome_draws)):
        surv = draw_os_landmarks(rng, spec, tg, arm, lp, assess, crt_end, followup, ne, pd_, matched)
        surv.update(
            draw_pfs_landmarks(
                rng, spec, tg, arm, assess, followup, ne, pd_, surv["os_months"], surv["os_event"], matched
            )
        )
        score = 0.0
        for endpoint in ("os", "pfs"):
            t, e = np.round(surv[f"{endpoint}_months"], 2), surv[f"{endpoint}_event"]
            for period, members in (("before", np.ones(len(arm), dtype=bool)), ("after", matched)):
                p = logrank_p(t[members], e[members], treated[members])
                score += abs(math.log(max(p, 1e-300) / tg.logrank_p[(endpoint, period)]))
        if score < best_score:
            best, best_score = surv, score
    best["_logrank_distance"] = best_score
    return best
