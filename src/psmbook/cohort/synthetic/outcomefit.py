"""Outcomes searched for the paper's log-rank p-values and its unadjusted hazard ratio, landmarks kept.

After the landmark draw every arm has the paper's landmark counts (whole and matched cohort) and event totals.
Still free are the times within the landmark intervals and which patient has which outcome. A local search
(basin hopping, then simulated annealing) moves only those, and only in ways that keep every count:

* a death or a progression moves to another time in its landmark interval (after the patient's assessment,
  before the censoring date, a progression before the death, a death without progression keeping its PFS
  interval): the order of the arms' events changes, no count does;
* two patients of one arm with the same response status at assessment (progressive disease or not) and the
  same OS and PFS landmark intervals exchange their outcomes (a censored outcome is censored at the
  receiver's own censoring date): with one of them matched and the other not, the matched cohort's share
  of the arm's late deaths changes.

It aims at the four printed log-rank p-values (OS and PFS, whole and matched cohort) and at the printed
univariate Cox row of the treatment (HR, 95% CI, p: the point deepest inside the region where all four print
as printed, :mod:`psmbook.cohort.synthetic.coxtargets`), first in the matched cohort (matched patients'
times, exchanges with unmatched patients), then in the whole cohort with the unmatched patients' times only,
so that the whole cohort's search leaves the matched cohort as it is. It stops when every target prints as
printed, or after a stated number of steps. It selects among the outcomes the landmark draw could give: the
counts, who is matched and the generating model's hazard ratios stay; the lab's repetitions are drawn
without it. Table 3's other rows, univariate and multivariable, are searched for afterwards by exchanges among the
matched patients that keep all of this (:mod:`psmbook.cohort.synthetic.table3rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from psmbook.cohort.synthetic.coxtargets import LogrankTarget, RowTarget, row_functions
from psmbook.cohort.synthetic.landmarks import DeathCounts, landmark_targets, logrank_chi2

#: Kinds of a patient's progression-free survival.
CENSORED, PROGRESSION, DEATH_FIRST, AT_ASSESSMENT, DURING_CRT = 0, 1, 2, 3, 4

_FIELDS = ("os_t", "os_e", "pfs_t", "pfs_e", "kind")


def cox_one(t: np.ndarray, e: np.ndarray, x: np.ndarray, beta: float = 0.0, steps: int = 30) -> tuple[float, float]:
    """Log hazard ratio and standard error of a Cox model with one indicator `x` (Newton-Raphson; Efron's
    ties, as lifelines and R's coxph)."""
    return cox_counts(DeathCounts.of(t, e, x), beta, steps)


def cox_counts(c: DeathCounts, beta: float = 0.0, steps: int = 30) -> tuple[float, float]:
    """:func:`cox_one` from the risk sets' counts: with a 0/1 covariate each death's risk set weighs
    n0 + exp(beta) n1 (Efron: the l-th of d tied deaths removes l/d of the tie's weight)."""
    r0, r1 = c.n0 - c.frac * (c.d - c.d1), c.n1 - c.frac * c.d1
    info = 1.0
    for _ in range(steps):
        w1 = np.exp(beta) * r1
        m = w1 / (r0 + w1)
        info = float((m - m * m).sum())
        step = (c.deaths1 - float(m.sum())) / info
        beta += step
        if abs(step) < 1e-12:
            break
    return beta, 1.0 / np.sqrt(info)


def row_deviations(row: RowTarget, b: float, s: float, inside: bool = False) -> list[float]:
    """Each printed number of a Cox row: (its function at (b, s) - its aim) / half its band; with `inside`, from
    the middle of its band instead (below 1 in absolute value: it prints as printed)."""
    f = row_functions(b, s)
    return [(f[kind] - (mid if inside else aim)) / half for kind, aim, half, mid in row.aims]


def logrank_deviation(target: LogrankTarget, chi2: float) -> float:
    return (chi2 - target.chi2) / ((target.chi2_high - target.chi2_low) / 2)


@dataclass
class Outcomes:
    """The outcome arrays the search changes in place (all patients) and what bounds them."""

    os_t: np.ndarray
    os_e: np.ndarray
    pfs_t: np.ndarray
    pfs_e: np.ndarray
    kind: np.ndarray
    assess: np.ndarray
    followup: np.ndarray
    os_edges: np.ndarray
    pfs_edges: np.ndarray

    def keep(self) -> dict:
        return {k: getattr(self, k).copy() for k in _FIELDS}

    def restore(self, kept: dict) -> None:
        for k, v in kept.items():
            getattr(self, k)[:] = v


def pfs_kinds(os_t, os_e, pfs_t, pfs_e, ne, pd_) -> np.ndarray:
    """Each patient's kind of PFS: censored, progression, death first, progression at assessment, death during
    CRT."""
    died_first = (os_e == 1) & (np.abs(pfs_t - os_t) < 1e-9)
    kind = np.where(pfs_e == 0, CENSORED, np.where(died_first, DEATH_FIRST, PROGRESSION))
    return np.where(ne, DURING_CRT, np.where(pd_, AT_ASSESSMENT, kind)).astype(int)


def _interval(t, edges) -> int:
    return int(np.searchsorted(edges, t, side="right"))


def _bounds(edges, k) -> tuple[float, float]:
    return (edges[k - 1] if k else 0.0), (edges[k] if k < len(edges) else np.inf)


class Moves:
    """The moves of the module's docstring on `o`, each returning the patients it changed (or None: no valid
    move drawn, nothing changed)."""

    def __init__(self, o: Outcomes, treated: np.ndarray, rng: np.random.Generator):
        self.o, self.treated, self.rng = o, treated, rng

    def retime_death(self, i: int) -> Optional[list[int]]:
        o = self.o
        if not o.os_e[i] or o.kind[i] == DURING_CRT:
            return None
        lo, hi = _bounds(o.os_edges, _interval(o.os_t[i], o.os_edges))
        lo, hi = max(lo, o.assess[i] + 0.01), min(hi, o.followup[i])
        if o.kind[i] == PROGRESSION:
            lo = max(lo, o.pfs_t[i] + 0.01)
        if o.kind[i] == DEATH_FIRST:
            p_lo, p_hi = _bounds(o.pfs_edges, _interval(o.pfs_t[i], o.pfs_edges))
            lo, hi = max(lo, p_lo), min(hi, p_hi)
        new = self._new_time(o.os_t[i], lo, hi)
        if new is None:
            return None
        o.os_t[i] = new
        if o.kind[i] == DEATH_FIRST:
            o.pfs_t[i] = new
        return [i]

    def retime_progression(self, i: int) -> Optional[list[int]]:
        o = self.o
        if o.kind[i] != PROGRESSION:
            return None
        lo, hi = _bounds(o.pfs_edges, _interval(o.pfs_t[i], o.pfs_edges))
        lo, hi = max(lo, o.assess[i] + 0.01), min(hi, o.os_t[i] - 0.01 if o.os_e[i] else o.followup[i])
        new = self._new_time(o.pfs_t[i], lo, hi)
        if new is None:
            return None
        o.pfs_t[i] = new
        return [i]

    def _new_time(self, t: float, lo: float, hi: float) -> Optional[float]:
        scale = (0.05, 0.5, 5.0)[self.rng.integers(3)]
        new = round(float(t + self.rng.normal(0, scale)), 2)
        return new if lo <= new < hi and new != t else None

    def exchange(self, i: int, j: int) -> Optional[list[int]]:
        """Patients i and j (one arm, same response status, same landmark intervals) exchange outcomes."""
        o = self.o
        if i == j or self.treated[i] != self.treated[j] or DURING_CRT in (o.kind[i], o.kind[j]):
            return None
        if (o.kind[i] == AT_ASSESSMENT) != (o.kind[j] == AT_ASSESSMENT):
            return None
        same = _interval(o.os_t[i], o.os_edges) == _interval(o.os_t[j], o.os_edges) and _interval(
            o.pfs_t[i], o.pfs_edges
        ) == _interval(o.pfs_t[j], o.pfs_edges)
        if not same:
            return None
        kept = o.keep()
        if receive(o, i, j, kept) and receive(o, j, i, kept):
            if all(_interval(o.pfs_t[p], o.pfs_edges) == _interval(kept["pfs_t"][p], o.pfs_edges) for p in (i, j)):
                return [i, j]
        o.restore(kept)
        return None


def receive(o: Outcomes, i: int, j: int, before: dict) -> bool:
    """Patient i takes the outcome patient j had in `before` (times and events, PFS kind; a censored OS at i's own
    censoring date, a progression at assessment at i's own assessment), in place; False, and `o` unchanged, when
    i cannot hold it (a death not after i's assessment or not before i's censoring date, a progression not
    between i's assessment and death)."""
    ev, k = before["os_e"][j], before["kind"][j]
    os_t = before["os_t"][j] if ev else float(np.round(o.followup[i], 2))
    if ev and not (o.assess[i] < os_t < o.followup[i]):
        return False
    if k in (CENSORED, DEATH_FIRST):
        pfs_t, pfs_e = os_t, int(k == DEATH_FIRST)
    elif k == AT_ASSESSMENT:
        pfs_t, pfs_e = o.assess[i], 1
    else:
        pfs_t, pfs_e = before["pfs_t"][j], 1
        if not (o.assess[i] < pfs_t < os_t):
            return False
    o.os_t[i], o.os_e[i], o.pfs_t[i], o.pfs_e[i], o.kind[i] = os_t, ev, pfs_t, pfs_e, k
    return True


def anneal(
    o: Outcomes,
    deviations: Callable[[], np.ndarray],
    propose: Callable[[], Optional[list[int]]],
    steps: int,
    rng: np.random.Generator,
    temperature: tuple[float, float] = (30.0, 0.01),
    inside: Callable[[np.ndarray], bool] = lambda dev: False,
) -> tuple[np.ndarray, int]:
    """Simulated annealing on the sum of squared deviations (a worse state accepted with probability
    exp(-increase / T), T falling geometrically over the steps), until `inside` holds for the current state's
    deviations (every target prints as printed) or after `steps` proposals. Returns the deviations of the best
    state met (which it leaves in `o`) and the proposals made."""
    dev = deviations()
    score = float(np.sum(dev**2))
    best, best_score, best_dev = o.keep(), score, dev
    t0, t1 = temperature
    for step in range(steps):
        if inside(dev):
            return dev, step
        kept = o.keep()
        if propose() is None:
            continue
        new = deviations()
        new_score = float(np.sum(new**2))
        temp = t0 * (t1 / t0) ** (step / max(steps - 1, 1))
        if new_score < score or rng.random() < np.exp(-(new_score - score) / temp):
            dev, score = new, new_score
            if score < best_score:
                best, best_score, best_dev = o.keep(), score, dev
        else:
            o.restore(kept)
    o.restore(best)
    return best_dev, steps


def hop(
    o: Outcomes,
    deviations: Callable[[], np.ndarray],
    jump: Callable[[], Optional[list[int]]],
    local: Callable[[], Optional[list[int]]],
    hops: int,
    local_steps: int,
    rng: np.random.Generator,
    inside: Callable[[np.ndarray], bool],
) -> tuple[np.ndarray, int]:
    """Basin hopping: a jump (an exchange that moves a death between the matched and the unmatched patients
    shifts the hazard ratio far) followed by a local descent (time moves); kept when the descent ends lower
    than before the jump."""
    dev, _ = anneal(o, deviations, local, local_steps, rng, (1e-6, 1e-6), inside)
    score = float(np.sum(dev**2))
    for h in range(hops):
        if inside(dev):
            return dev, h
        kept = o.keep()
        if jump() is None:
            continue
        new, _ = anneal(o, deviations, local, local_steps, rng, (1e-6, 1e-6), inside)
        if float(np.sum(new**2)) < score:
            dev, score = new, float(np.sum(new**2))
        else:
            o.restore(kept)
    return dev, hops


def fit_arm_outcomes(
    o: Outcomes,
    treated: np.ndarray,
    matched: np.ndarray,
    arm_row: Optional[RowTarget],
    logranks: Sequence[LogrankTarget],
    rng: np.random.Generator,
    steps: int,
    hops: int = 300,
) -> dict:
    """The search of the module's docstring (`hops` jumps for the matched OS, `steps` proposals for each later
    stage). Returns, per stage, the deviations left from the middle of each
    target's band (in half bands: below 1, it prints as printed)."""
    moves = Moves(o, treated, rng)
    in_m, out_m = np.flatnonzero(matched), np.flatnonzero(~matched & (o.kind != DURING_CRT))
    target = {(lr.endpoint, lr.period): lr for lr in logranks}

    def chi2(endpoint, members):
        t, e = (o.os_t, o.os_e) if endpoint == "os" else (o.pfs_t, o.pfs_e)
        return logrank_chi2(t[members], e[members], treated[members])

    def matched_os():  # from the aims (the search's objective)
        dev, counts = [], DeathCounts.of(o.os_t[in_m], o.os_e[in_m], treated[in_m])
        if arm_row is not None:
            dev += row_deviations(arm_row, *cox_counts(counts, arm_row.log_hr))
        if ("os", "after") in target:
            dev.append(logrank_deviation(target[("os", "after")], counts.logrank_chi2()))
        return np.asarray(dev)

    def key(i):  # moves keep each patient's key (arm, response status, landmark intervals)
        k = o.kind[i] == AT_ASSESSMENT
        return treated[i], k, _interval(o.os_t[i], o.os_edges), _interval(o.pfs_t[i], o.pfs_edges)

    partners: dict = {}
    for j in out_m:
        partners.setdefault(key(j), []).append(int(j))
    pairs = [(int(i), j) for i in in_m for j in partners.get(key(i), ())]

    def one(endpoint, period):
        members = in_m if period == "after" else slice(None)
        if (endpoint, period) not in target:
            return np.zeros(0)
        return np.array([logrank_deviation(target[(endpoint, period)], chi2(endpoint, members))])

    def both_whole():
        return np.concatenate([one("os", "before"), one("pfs", "before")])

    def propose_whole():
        i = int(out_m[rng.integers(len(out_m))])
        return moves.retime_death(i) if rng.random() < 0.5 else moves.retime_progression(i)

    def retime_matched():
        return moves.retime_death(int(in_m[rng.integers(len(in_m))]))

    def jump():
        return moves.exchange(*pairs[rng.integers(len(pairs))]) if pairs else None

    def within(offset=0.0):  # every target prints as printed (a margin for rounding of the last digit)
        return lambda dev: bool(np.max(np.abs(dev + offset), initial=0.0) < 0.95)

    # matched_os's deviations from each band's middle, from its deviations from the aims
    to_middle = np.array(
        [(aim - mid) / half for _, aim, half, mid in (arm_row.aims if arm_row is not None else ())]
        + [0.0] * (("os", "after") in target)
    )

    def matched_pfs():
        return one("pfs", "after")

    def retime_matched_pfs():
        return moves.retime_progression(int(in_m[rng.integers(len(in_m))]))

    hop(o, matched_os, jump, retime_matched, hops, 400, rng, within(to_middle))
    anneal(o, matched_pfs, retime_matched_pfs, steps, rng, inside=within())
    anneal(o, both_whole, propose_whole, steps, rng, inside=within())
    report = {"matched OS": matched_os() + to_middle, "matched PFS": matched_pfs(), "whole cohort": both_whole()}
    return report


def outcomes_of(st: dict, surv: dict, spec) -> tuple[Outcomes, np.ndarray]:
    """The search's view of the generator's draw (`st`: the state before the survival draw; `surv`: the landmark
    draw, whose time arrays it shares, so that moves change them in place; its events are copies, to be written
    back), and who is treated."""
    from psmbook.cohort.synthetic.spec import TREATED

    treated = st["base"]["arm"] == TREATED
    ne, pd_ = st["course"]["not_evaluable"], st["response"] == "pd"
    marks = landmark_targets(st["tg"], spec)
    edges = {
        ep: np.array(sorted({m + 0.005 for (e, _, _), (m, _, _) in marks.items() if e == ep})) for ep in ("os", "pfs")
    }
    os_e, pfs_e = surv["os_event"].astype(int), surv["pfs_event"].astype(int)
    kind = pfs_kinds(surv["os_months"], os_e, surv["pfs_months"], pfs_e, ne, pd_)
    o = Outcomes(
        surv["os_months"],
        os_e,
        surv["pfs_months"],
        pfs_e,
        kind,
        np.round(st["assess"], 2),
        st["followup"],
        edges["os"],
        edges["pfs"],
    )
    return o, treated


def search_outcomes(st: dict, surv: dict, matched: np.ndarray, spec, rng: np.random.Generator) -> dict:
    """The search on the generator's draw (`st`: the state before the survival draw, from the generator;
    `surv`: the landmark draw,
    times rounded as stored, changed in place). Returns per stage the largest deviation left (in half bands;
    below 1: every target of the stage prints as printed)."""
    from psmbook.cohort.synthetic.coxtargets import logrank_targets, treatment_rows
    from psmbook.cohort.synthetic.spec import TREATED

    o, treated = outcomes_of(st, surv, spec)
    rows = treatment_rows(f"arm.{TREATED}")
    report = fit_arm_outcomes(
        o,
        treated,
        matched,
        rows[0] if rows else None,
        logrank_targets(),
        rng,
        spec.outcome_search_steps,
        spec.outcome_search_hops,
    )
    surv["os_event"], surv["pfs_event"] = o.os_e, o.pfs_e
    return {stage: float(np.max(np.abs(dev), initial=0.0)) for stage, dev in report.items()}


def searched_ids(spec=None) -> set[str]:
    """The printed numbers the search aims at (none when ``spec.outcome_search_steps`` is 0): the log-rank
    p-values and the univariate treatment row of Table 3 (with the text's copies), and Table 3's other univariate
    rows and its multivariable ones when ``spec.table3_search_batches`` is above 0; of each row, those that can
    print together."""
    from psmbook.cohort.synthetic.coxtargets import adjusted_rows, logrank_targets, table3_rows, treatment_rows
    from psmbook.cohort.synthetic.spec import TREATED, GeneratorSpec

    spec = spec or GeneratorSpec()
    if not spec.match_design or spec.outcome_search_steps <= 0:
        return set()
    rows = treatment_rows(f"arm.{TREATED}")
    if spec.searches_table3:
        rows += table3_rows(f"arm.{TREATED}") + adjusted_rows()
    return {i for r in rows for i in r.ids} | {i for lr in logrank_targets() for i in lr.ids}
