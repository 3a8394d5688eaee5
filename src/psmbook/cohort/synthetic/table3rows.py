"""Outcomes exchanged among matched patients for the other univariate rows of Table 3.

After :mod:`psmbook.cohort.synthetic.outcomefit` the matched cohort has the paper's landmark counts, event
totals, log-rank statistics and treatment row. Table 3's other univariate rows (one Cox model of overall
survival per characteristic: age, sex, ECOG, location, differentiation, stage, nodes, node diameter, dose,
concurrent and consolidation chemotherapy, response) depend on which matched patient has which outcome. This
search moves only that, by exchanging whole outcomes (OS with its PFS) between two matched patients of one
arm and one response class (progressive disease at assessment or not), and keeps every number the earlier
stages fixed:

* every follow-up outlasts the last landmark, so each arm's Kaplan-Meier landmarks and event totals, whole and
  matched, are the same whoever holds a death or a progression;
* a censored outcome is censored at the receiver's own censoring date, and an exchange that moves one is
  allowed only when both censoring dates lie between the same two event times of the matched cohort (OS or
  PFS, either arm): every risk set keeps its members per arm, so the log-rank statistics and the treatment's
  Cox row do not move;
* a receiver must be alive at its assessment and followed up past the death it receives, and a progression it
  receives comes after its assessment.

The patients are placed in fixed outcome slots (sorted by time); an exchange swaps two slots' holders. Each
batch of proposed exchanges is scored at once: every model's Newton-Raphson (Efron's ties, as lifelines and R)
from the printed row's point, vectorised over the proposals. Simulated annealing takes, of each batch, the best
of the proposals the Metropolis rule accepts: first on the rows' standard errors (which the deaths per level set)
and, loosely, their log hazard ratios; then on how far each printed number lies outside its band (a sum of square
roots, which favours bringing numbers in one at a time). It stops when every aimed number prints as printed, or
after a stated number of batches. It selects
among the outcomes the landmark draw gave: the counts, who is matched and the generating model's hazard ratios
stay; the lab's repetitions are drawn without it, so the true treatment effect the lab estimates is the model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from psmbook.cohort.synthetic.coxtargets import RowTarget, table3_rows
from psmbook.cohort.synthetic.outcomefit import (
    AT_ASSESSMENT,
    DURING_CRT,
    PROGRESSION,
    Outcomes,
    outcomes_of,
    receive,
    row_deviations,
)
from psmbook.cohort.synthetic.spec import TREATED

#: Newton-Raphson steps per scoring of a proposal, from the printed row's point: one step, the search's
#: approximation (off by the square of the distance to that point); what is reported is a converged fit.
NEWTON_STEPS = 1


@dataclass
class RowDesign:
    """The aimed rows as indicator columns of the matched patients: ``x`` (patients x columns), each column's
    ``row``, the column of the same model it is fitted with (``partner``; itself for a two-level factor), the
    rows' aimed log hazard ratios ``beta`` and SEs ``se``."""

    x: np.ndarray
    rows: list[RowTarget]
    partner: np.ndarray
    beta: np.ndarray
    se: np.ndarray

    @classmethod
    def build(cls, columns: Mapping[str, np.ndarray], rows: Sequence[RowTarget]) -> "RowDesign":
        by_column: dict[str, list[RowTarget]] = {}
        for r in rows:
            if r.model != "univariate":
                raise ValueError(f"Table 3 row {r.term}: only univariate rows are fitted by exchanges")
            by_column.setdefault(r.column, []).append(r)
        ordered, partner = [], []
        for column, rs in by_column.items():
            if len(rs) > 2:
                raise ValueError(f"Table 3, {column}: more than three levels are not fitted by exchanges")
            first = len(ordered)
            ordered += rs
            partner += [first + len(rs) - 1 - k for k in range(len(rs))]
        cols = []
        for r in ordered:
            values = np.asarray(columns[r.column], dtype=object)
            level = r.term.split(".", 1)[1]
            if any(v is None or v != v for v in values):
                raise ValueError(f"Table 3 row {r.term}: a matched patient has no value of {r.column!r}")
            cols.append(values == level)
        return cls(
            np.column_stack(cols).astype(float),
            ordered,
            np.asarray(partner),
            np.array([r.log_hr for r in ordered]),
            np.array([r.se for r in ordered]),
        )


@dataclass
class Slots:
    """The matched patients' outcomes in fixed slots, latest time first: each death's position, Efron's
    fraction and its tie's first and last position; ``tied``: the deaths whose fraction is not 0 (a death
    after another at the same time)."""

    dead: np.ndarray
    frac: np.ndarray
    first: np.ndarray
    last: np.ndarray
    event: np.ndarray
    tied: np.ndarray

    @classmethod
    def build(cls, t: np.ndarray, e: np.ndarray) -> "Slots":
        """From slot times `t` (already latest first) and events `e`."""
        ts, es = -np.asarray(t, dtype=float), np.asarray(e, dtype=float)
        if np.any(np.diff(ts) < 0):
            raise ValueError("slot times must be sorted latest first")
        last = np.searchsorted(ts, ts, side="right") - 1
        first = np.searchsorted(ts, ts, side="left")
        dead = np.flatnonzero(es == 1)
        ce = np.concatenate([[0.0], np.cumsum(es)])
        frac = (ce[dead] - ce[first[dead]]) / (ce[last[dead] + 1] - ce[first[dead]])
        return cls(dead, frac, first[dead], last[dead], es, np.flatnonzero(frac > 0))


def _risk(slots: Slots, a: np.ndarray) -> np.ndarray:
    """Per death, the risk set's sum of `a` (proposals x slots x columns), Efron-corrected for tied deaths (only
    the deaths of `slots.tied` need it: most deaths are untied, and the correction is the costly part)."""
    out = np.cumsum(a, axis=1)[:, slots.last]
    if len(slots.tied):
        k = slots.tied
        pad = np.concatenate([np.zeros_like(a[:, :1]), np.cumsum(a * slots.event[None, :, None], axis=1)], axis=1)
        out[:, k] -= slots.frac[k][None, :, None] * (pad[:, slots.last[k] + 1] - pad[:, slots.first[k]])
    return out


def fit_rows(slots: Slots, x: np.ndarray, design: RowDesign, steps: int = NEWTON_STEPS):
    """Log hazard ratios and SEs of every aimed row for each proposal's covariates `x` (proposals x slots x
    columns, slot order): each column's model (itself, or with its partner level) by Newton-Raphson."""
    partner = design.partner
    single = partner == np.arange(len(partner))
    beta = np.broadcast_to(design.beta, (x.shape[0], x.shape[2])).copy()
    xd = x[:, slots.dead, :]
    for step in range(steps + 1):
        eta = x * beta[:, None, :] + np.where(single, 0.0, x[:, :, partner] * beta[:, None, partner])
        w = np.exp(eta)
        m = _risk(slots, w * x) / _risk(slots, w)
        score = (xd - m).sum(axis=1)
        ijj = (m - m * m).sum(axis=1)
        ijl = np.where(single, 0.0, -(m * m[:, :, partner]).sum(axis=1))
        det = ijj * ijj[:, partner] - ijl**2
        if step == steps:
            break
        beta = beta + (ijj[:, partner] * score - ijl * score[:, partner]) / det
    return beta, np.sqrt(ijj[:, partner] / det)


def deviations(design: RowDesign, b: np.ndarray, s: np.ndarray, inside: bool = False) -> np.ndarray:
    """Per proposal and printed number: :func:`psmbook.cohort.synthetic.outcomefit.row_deviations` of each row at
    its column of (b, s), rows in the design's order."""
    return np.column_stack(
        [d for j, row in enumerate(design.rows) for d in row_deviations(row, b[:, j], s[:, j], inside)]
    )


def compatible(o: Outcomes, treated: np.ndarray, members: np.ndarray, order: np.ndarray) -> np.ndarray:
    """(patient, slot) -> the patient can hold the slot's outcome (module docstring). `members`: the matched
    patients; `order`: their slots' first holders (latest time first)."""
    holder = members[order]
    movable = o.kind[members] != DURING_CRT
    events = np.unique(np.concatenate([o.os_t[members][o.os_e[members] == 1], o.pfs_t[members][o.pfs_e[members] == 1]]))
    gap = np.searchsorted(events, np.round(o.followup[members], 2), side="right")  # censored as stored
    p = members[:, None]
    s = holder[None, :]
    ok = (treated[p] == treated[s]) & ((o.kind[p] == AT_ASSESSMENT) == (o.kind[s] == AT_ASSESSMENT))
    ok &= movable[:, None] & movable[order][None, :]
    died = o.os_e[s] == 1
    ok &= np.where(died, (o.assess[p] < o.os_t[s]) & (o.os_t[s] < o.followup[p]), gap[:, None] == gap[order][None, :])
    received_os = np.where(died, o.os_t[s], o.followup[p])
    ok &= np.where(o.kind[s] == PROGRESSION, (o.assess[p] < o.pfs_t[s]) & (o.pfs_t[s] < received_os), True)
    return ok


def exchange_outcomes(o: Outcomes, patients: np.ndarray, holders: np.ndarray) -> None:
    """Gives each of `patients` the outcome first held by the patient in the same place of `holders` (a
    permutation of them), in place, as :func:`psmbook.cohort.synthetic.outcomefit.receive` hands one over; a
    ValueError naming the patient who cannot hold it (:func:`compatible` rules that out)."""
    before = o.keep()
    for p, q in zip(patients, holders):
        if p != q and not receive(o, p, q, before):
            raise ValueError(f"patient {p} cannot hold the outcome of patient {q}")


def fit_table3_rows(
    o: Outcomes,
    treated: np.ndarray,
    matched: np.ndarray,
    columns: Mapping[str, np.ndarray],
    rows: Sequence[RowTarget],
    rng: np.random.Generator,
    batches: int,
    batch: int = 48,
    temperature: tuple[float, float] = (30.0, 0.001),
    near_share: float = 0.5,
    near_slots: int = 4,
    se_share: float = 0.6,
    scales: tuple[float, float] = (0.01, 0.001),
) -> dict:
    """The search of the module's docstring on `o` (all patients; changed in place). `columns`: each row's
    characteristic over all patients. The first `se_share` of the batches aim at the rows' standard errors (which
    the deaths per level set) and loosely at their log hazard ratios (`scales`: the deviations of b and s that
    weigh as one), the rest at the printed numbers. Returns the deviations left from the middle of each printed
    number's band (in half bands; below 1 it prints as printed) before and after, the exchanges accepted,
    whether every aimed number prints as printed and the largest distance of a row's log hazard ratio from its
    aim (``hr_gap``)."""
    members = np.flatnonzero(matched)
    order = np.argsort(-o.os_t[members], kind="stable")
    slots = Slots.build(o.os_t[members][order], o.os_e[members][order])
    design = RowDesign.build({c: np.asarray(v, dtype=object)[members] for c, v in columns.items()}, rows)
    ok = compatible(o, treated, members, order)
    movable_slots = np.flatnonzero(ok.sum(axis=0) > 1)
    b_scale, se_scale = scales

    def printed(holders: np.ndarray) -> np.ndarray:
        b, s = fit_rows(slots, design.x[holders][None], design, steps=30)
        return deviations(design, b, s, inside=True)[0]

    def loose(b, s):
        return (((s - design.se) / se_scale) ** 2 + ((b - design.beta) / b_scale) ** 2).sum(axis=1)

    def exact(b, s):
        outside = np.maximum(np.abs(deviations(design, b, s, inside=True)) - 0.8, 0.0)
        return np.sqrt(outside).sum(axis=1)  # square roots: one number brought in beats many brought closer

    def anneal(holder: np.ndarray, objective, n: int, stop: bool) -> tuple[np.ndarray, int, bool]:
        b, s = fit_rows(slots, design.x[holder][None], design)
        score = float(objective(b, s)[0])
        best, best_score, done, t0, t1 = holder.copy(), score, 0, *temperature
        for k in range(n):
            a = rng.choice(movable_slots, batch)
            near = np.clip(a + rng.integers(-near_slots, near_slots + 1, batch), 0, len(holder) - 1)
            c = np.where(rng.random(batch) < near_share, near, rng.choice(movable_slots, batch))
            valid = ok[holder[a], c] & ok[holder[c], a] & (a != c)
            if not valid.any():
                continue
            a, c = a[valid], c[valid]
            proposals = np.repeat(holder[None], len(a), axis=0)
            i = np.arange(len(a))
            proposals[i, a], proposals[i, c] = holder[c], holder[a]
            b, s = fit_rows(slots, design.x[proposals], design)
            scores = objective(b, s)
            temp = t0 * (t1 / t0) ** (k / max(n - 1, 1))
            changed = np.abs(scores - score) > 1e-12 * max(score, 1.0)
            uphill = rng.random(len(scores)) < np.exp(np.minimum(0.0, -(scores - score) / temp))
            accepted = changed & ((scores < score) | uphill)
            if not accepted.any():
                continue
            j = int(np.flatnonzero(accepted)[np.argmin(scores[accepted])])
            holder, score = proposals[j], float(scores[j])
            done += 1
            if score < best_score:
                best, best_score = holder.copy(), score
            if stop and np.max(np.abs(deviations(design, b[j : j + 1], s[j : j + 1], inside=True))) < 0.95:
                if np.max(np.abs(printed(holder))) < 0.95:
                    return holder, done, True
        return best, done, False

    start = printed(order)
    holder, inside, accepted = order.copy(), bool(np.max(np.abs(start)) < 0.95), 0
    if not inside:
        first = int(round(se_share * batches))
        holder, accepted, _ = anneal(holder, loose, first, False)
        holder, more, inside = anneal(holder, exact, batches - first, True)
        accepted += more
    exchange_outcomes(o, members[holder], members[order])
    b, s = fit_rows(slots, design.x[holder][None], design, steps=30)
    return {
        "before": start,
        "after": deviations(design, b, s, inside=True)[0],
        "accepted": accepted,
        "inside": inside,
        "hr_gap": float(np.max(np.abs(b[0] - design.beta))),
    }


def table3_columns(st: dict, rows: Sequence[RowTarget]) -> dict:
    """Each characteristic of `rows` over all patients, from the generator's state before the survival draw."""
    base = st["base"]
    columns = {r.column: base[r.column] for r in rows if r.column in base}
    columns["nodes_group"], columns["response_group"] = st["nodes_group"], st["response_group"]
    return columns


def search_table3(st: dict, surv: dict, matched: np.ndarray, spec, rng: np.random.Generator) -> dict:
    """The search on the generator's draw after :func:`psmbook.cohort.synthetic.outcomefit.search_outcomes`
    (`surv` changed in place), ``spec.table3_search_batches`` batches. Returns how many of the aimed numbers print
    as printed, of how many, and the largest distance of a row's hazard ratio from its aim (as a ratio)."""
    o, treated = outcomes_of(st, surv, spec)
    rows = table3_rows(f"arm.{TREATED}")
    found = fit_table3_rows(o, treated, matched, table3_columns(st, rows), rows, rng, spec.table3_search_batches)
    surv["os_event"], surv["pfs_event"] = o.os_e, o.pfs_e
    after = np.abs(found["after"])
    return {"print": int((after < 1).sum()), "aimed": len(after), "hr_ratio": float(np.exp(found["hr_gap"]))}
