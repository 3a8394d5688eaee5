"""Outcomes exchanged and responses relabelled among matched patients for Table 3's other rows.

After :mod:`psmbook.cohort.synthetic.outcomefit` the matched cohort has the paper's landmark counts, event
totals, log-rank statistics and treatment row. Table 3's other univariate rows (one Cox model of overall
survival per characteristic: age, sex, ECOG, location, differentiation, stage, nodes, node diameter, dose,
concurrent and consolidation chemotherapy, response) and its multivariable rows (one model of the factors the
paper selected: age, stage, nodes, response and treatment) depend on which matched patient has which outcome,
and the response rows also on which evaluable patient had a complete response. This search moves only that,
by two kinds of exchange between two matched patients of one arm, and keeps every number the earlier stages
fixed:

* whole outcomes (OS with its PFS), between patients of one response class (progressive disease at assessment
  or not):

  * every follow-up outlasts the last landmark, so each arm's Kaplan-Meier landmarks and event totals, whole
    and matched, are the same whoever holds a death or a progression;
  * a censored outcome is censored at the receiver's own censoring date, and an exchange that moves one is
    allowed only when both censoring dates lie between the same two event times of the matched cohort (OS or
    PFS, either arm): every risk set keeps its members per arm, so the log-rank statistics and the
    treatment's Cox row do not move;
  * a receiver must be alive at its assessment and followed up past the death it receives, and a progression
    it receives comes after its assessment;

* responses (CR, PR or SD), between two patients without progressive disease at assessment: each arm's
  matched Table 2 counts stay, and so does every outcome (a response other than progressive disease changes
  no PFS); what changes is which patients form the response group of Table 3, and so how response goes with
  nodes, age and stage in the multivariable model. The model that ranked the responses (node diameter, node
  count, differentiation) holds no longer for the matched patients; it still holds for the others.

The patients are placed in fixed outcome slots (sorted by time); an exchange of outcomes swaps two slots'
holders, one of responses two patients' labels. Each batch of proposals is scored at once: every model's
Newton-Raphson (Efron's ties, as lifelines and R) from the printed row's point, vectorised over the proposals.
The covariates are indicators, so a model's risk-set sums are counts of patients at risk (per level, or per
pattern of the multivariable model's five indicators) weighed by exp(b): the search keeps the current state's
counts and changes them where a proposal's two slots enter, with no sum over the risk sets per proposal
(:mod:`psmbook.cohort.synthetic.indicatorcox`).
Simulated annealing takes, of each batch, the best of the proposals the Metropolis rule accepts: first on the
rows' standard errors (which the deaths per level set) and, loosely, their log hazard ratios; then on how far
each printed number lies outside its band (a sum of square roots, which favours bringing numbers in one at a
time, weighted by the copies printed of it: the table's, the text's, the abstract's), plus a quadratic guard on
any log hazard ratio more than 0.03 from its aim (the square roots alone let a row that cannot print drift far
off, a hazard ratio a fifth from the paper's), keeping the state where most printed copies print alike. It
stops when every aimed number prints as printed, or after a stated number of batches. It selects among the
outcomes and responses the earlier draws gave: the counts, who is matched and the generating model's hazard
ratios stay; the lab's repetitions are drawn without it, so the true treatment effect the lab estimates is the
model's.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
from scipy import stats

from psmbook.cohort.synthetic.coxtargets import RowTarget, adjusted_rows, table3_rows
from psmbook.cohort.synthetic.indicatorcox import (
    NEWTON_STEPS,
    ModelDesign,
    RiskCounts,
    RowDesign,
    Slots,
    everyone_at_risk,
    fit_model,
    fit_model_counted,
    fit_rows,
    fit_rows_counted,
)
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
from psmbook.study.published import load_published

#: The paper's entry rule for its multivariable model (univariate p below it), and how far (in z) from the rule's
#: threshold a searched row's Wald z must stay, so that the factors entering the model are the paper's.
ENTRY_P, ENTRY_MARGIN_Z = 0.05, 0.01


def deviations(design: RowDesign | ModelDesign, b: np.ndarray, s: np.ndarray, inside: bool = False) -> np.ndarray:
    """Per proposal and printed number: :func:`psmbook.cohort.synthetic.outcomefit.row_deviations` of each row at
    its column of (b, s), rows in the design's order."""
    return np.column_stack(
        [d for j, row in enumerate(design.rows) for d in row_deviations(row, b[:, j], s[:, j], inside)]
    )


def matched_slots(o: Outcomes, matched: np.ndarray) -> tuple[np.ndarray, np.ndarray, Slots]:
    """The matched patients (``members``), their order in the outcome slots (``order``: latest time first, so
    ``members[order]`` is each slot's patient) and the ``slots``."""
    members = np.flatnonzero(matched)
    order = np.argsort(-o.os_t[members], kind="stable")
    return members, order, Slots.build(o.os_t[members][order], o.os_e[members][order])


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


def _copies(rows: Sequence[RowTarget]) -> np.ndarray:
    """Per aimed number of `rows` (in order), how many printed copies of it there are (table, text, abstract)."""
    return np.array([sum(i.endswith(f".{a[0]}") for i in r.ids) for r in rows for a in r.aims], dtype=float)


def _entry_sides(design: RowDesign, entry_p: float) -> np.ndarray:
    """Per univariate row: +1 if the paper's printed p is below `entry_p` (the factor enters its multivariable
    model), -1 if not, 0 for a factor of more levels (entered by a joint test) or a row without a printed p."""
    pub = load_published()
    sides = []
    for k, r in enumerate(design.rows):
        entry = pub.get(f"table3.univariate.{r.term}.p")
        single = design.partner[k] == k
        sides.append(0.0 if entry is None or not single else (1.0 if float(entry.value) < entry_p else -1.0))
    return np.array(sides)


def _with_labels(x: np.ndarray, columns, patients: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """The covariates `x` of `patients`, with the `columns` of the patient in the same place of `sources`
    (whose label each one holds); `sources` may add a leading axis of proposals."""
    out = x[np.broadcast_to(patients, np.shape(sources))]
    out[..., columns] = x[sources][..., columns]
    return out


def fit_table3_rows(
    o: Outcomes,
    treated: np.ndarray,
    matched: np.ndarray,
    columns: Mapping[str, np.ndarray],
    rows: Sequence[RowTarget],
    rng: np.random.Generator,
    batches: int,
    adjusted: Sequence[RowTarget] = (),
    relabel: Optional[np.ndarray] = None,
    relabel_column: str = "response_group",
    relabel_share: float = 0.3,
    adjusted_weight: float = 0.5,
    batch: int = 48,
    temperature: tuple[float, float] = (30.0, 0.001),
    near_share: float = 0.5,
    near_slots: int = 4,
    se_share: float = 0.2,
    scales: tuple[float, float] = (0.01, 0.01),
    hr_guard: float = 0.03,
) -> dict:
    """The search of the module's docstring on `o` (all patients; changed in place). `columns`: each row's
    characteristic over all patients (``arm`` too when `adjusted` has the treatment's row). `adjusted`: the rows of
    the multivariable model, aimed at with weight `adjusted_weight`. `relabel`: the patients (all; matched ones
    count) whose `relabel_column` may be exchanged with another's of the same arm, a share `relabel_share` of the
    proposals; None: outcomes only. The first `se_share` of the batches aim at the rows' standard errors and
    loosely at their log hazard ratios (`scales`: the deviations of b and s that weigh as one), the rest at the
    printed numbers, with a log hazard ratio further than `hr_guard` from its aim penalised (the excess squared, in
    units of the first scale). Returns the deviations left from the middle of each printed number's band (in half bands;
    below 1 it prints as printed) before and after, of the univariate rows and of the ``adjusted`` ones, the
    exchanges accepted, whether every aimed number prints as printed, the largest distance of a row's log hazard
    ratio from its aim (``hr_gap``), ``labels``: for each matched patient (in order), the matched patient whose
    label it now has, and whether the two-level univariate rows pass the paper's entry rule as its (``entry_kept``,
    by at least ``ENTRY_MARGIN_Z``)."""
    members, order, slots = matched_slots(o, matched)
    n = len(members)
    at_members = {c: np.asarray(v, dtype=object)[members] for c, v in columns.items()}
    design = RowDesign.build(at_members, rows)
    model = ModelDesign.build(at_members, adjusted) if len(adjusted) else None
    if relabel is not None and relabel_column not in at_members:
        raise ValueError(f"Table 3 search: no column {relabel_column!r} to relabel")
    swappable = np.flatnonzero(relabel[members]) if relabel is not None else np.array([], dtype=int)
    u_cols = np.flatnonzero([r.column == relabel_column for r in design.rows]) if len(swappable) else []
    m_cols = np.flatnonzero([r.column == relabel_column for r in model.rows]) if model and len(swappable) else []
    arm = treated[members]
    ok = compatible(o, treated, members, order)
    movable_slots = np.flatnonzero(ok.sum(axis=0) > 1)
    b_scale, se_scale = scales
    w_rows, w_model = _copies(design.rows), _copies(model.rows) if model else np.zeros(0)
    sides, z_entry = _entry_sides(design, ENTRY_P), float(stats.norm.isf(ENTRY_P / 2))

    def fits(holders: np.ndarray, labels: np.ndarray, steps: int = NEWTON_STEPS):
        """(b, s) of the univariate rows and of the model for each proposal (holders, labels)."""
        i, everybody = np.arange(len(holders))[:, None], np.arange(n)
        b, s = fit_rows(slots, _with_labels(design.x, u_cols, everybody, labels)[i, holders], design, steps)
        if model is None:
            return b, s, np.zeros((len(b), 0)), np.zeros((len(b), 0))
        bm, sm = fit_model(slots, _with_labels(model.x, m_cols, everybody, labels)[i, holders], model.beta, steps)
        return b, s, bm, sm

    everyone = everyone_at_risk(slots)
    bits = 1 << np.arange(model.x.shape[1]) if model else None

    def onehot_patterns(v):  # each row's pattern of the model's indicators, one-hot over every pattern
        return np.eye(2 ** len(bits))[(v @ bits).astype(int)]

    def counted(holder, labels, s1, s2, relabelling, p, q):
        """(b, s) of the rows and the model for proposals that change slots s1 and s2 of the state (holder,
        labels): their holders exchanged, or (relabelling) patients p and q at them exchanging labels."""
        everybody = np.arange(n)

        def changes(x, cols):
            at = _with_labels(x, cols, everybody, labels)[holder]  # each patient's covariates now, in slot order
            new1 = np.where(relabelling[:, None], _with_labels(x, cols, p, labels[q]), at[s2])
            new2 = np.where(relabelling[:, None], _with_labels(x, cols, q, labels[p]), at[s1])
            return at, new1 - at[s1], new2 - at[s2]

        at, d1, d2 = changes(design.x, u_cols)
        b, s = fit_rows_counted(everyone, RiskCounts.of(slots, at).changed(slots, s1, d1, s2, d2), design)
        if model is None:
            return b, s, np.zeros((len(b), 0)), np.zeros((len(b), 0))
        at, d1, d2 = changes(model.x, m_cols)
        now, new1, new2 = (onehot_patterns(v) for v in (at, at[s1] + d1, at[s2] + d2))
        pat = RiskCounts.of(slots, now).changed(slots, s1, new1 - now[s1], s2, new2 - now[s2])
        return (b, s, *fit_model_counted(pat, model.beta))

    def devs(b, s, bm, sm):
        dm = deviations(model, bm, sm, inside=True) if model else np.zeros((len(b), 0))
        return deviations(design, b, s, inside=True), dm

    def loose(b, s, bm, sm):
        def far(b, s, d):
            return (((s - d.se) / se_scale) ** 2 + ((b - d.beta) / b_scale) ** 2).sum(axis=1)

        return far(b, s, design) + (adjusted_weight * far(bm, sm, model) if model else 0.0)

    def outside(d, w):
        return (w * np.sqrt(np.maximum(np.abs(d) - 0.8, 0.0))).sum(axis=1)  # one number in beats many closer

    def wrong_entry(b, s):  # how far (in z) the rows miss the paper's selection of factors
        return np.maximum(sides * (z_entry + ENTRY_MARGIN_Z - np.abs(b) / s) * (sides != 0), 0.0).sum(axis=1)

    def drift(b, beta):  # a log hazard ratio further than hr_guard from its aim, in units of b_scale, squared
        return ((np.maximum(np.abs(b - beta) - hr_guard, 0.0) / b_scale) ** 2).sum(axis=1)

    def exact(b, s, bm, sm):
        du, dm = devs(b, s, bm, sm)
        guard = drift(b, design.beta) + (drift(bm, model.beta) if model else 0.0)
        return outside(du, w_rows) + adjusted_weight * outside(dm, w_model) + 1000.0 * wrong_entry(b, s) + guard

    def printed_copies(du, dm):
        return (w_rows * (np.abs(du) < 1)).sum(axis=1) + (w_model * (np.abs(dm) < 1)).sum(axis=1)

    def anneal(holder, labels, objective, n_batches: int):
        f = fits(holder[None], labels[None])
        score = float(objective(*f)[0])
        best, best_key, done, t0, t1 = (holder.copy(), labels.copy()), (-1.0, -2.0, -score), 0, *temperature
        for k in range(n_batches):
            i = np.arange(batch)
            relabelling = rng.random(batch) < (relabel_share if len(swappable) else 0.0)
            a = rng.choice(movable_slots, batch)
            near = np.clip(a + rng.integers(-near_slots, near_slots + 1, batch), 0, n - 1)
            c = np.where(rng.random(batch) < near_share, near, rng.choice(movable_slots, batch))
            valid = ok[holder[a], c] & ok[holder[c], a] & (a != c)
            holders = np.repeat(holder[None], batch, axis=0)
            holders[i, a] = np.where(relabelling, holder[a], holder[c])
            holders[i, c] = np.where(relabelling, holder[c], holder[a])
            props = np.repeat(labels[None], batch, axis=0)
            if len(swappable):
                p, q = rng.choice(swappable, batch), rng.choice(swappable, batch)
                differ = at_members[relabel_column][labels[p]] != at_members[relabel_column][labels[q]]
                props[i, p] = np.where(relabelling, labels[q], labels[p])
                props[i, q] = np.where(relabelling, labels[p], labels[q])
                valid = np.where(relabelling, (arm[p] == arm[q]) & differ, valid)
            if not valid.any():
                continue
            holders, props = holders[valid], props[valid]
            if len(swappable):  # the slots a relabelling changes: p's and q's
                slot_of = np.argsort(holder)
                s1, s2 = np.where(relabelling, slot_of[p], a), np.where(relabelling, slot_of[q], c)
            else:
                s1, s2, p, q = a, c, a, c
            f = counted(holder, labels, s1[valid], s2[valid], relabelling[valid], p[valid], q[valid])
            scores = objective(*f)
            temp = t0 * (t1 / t0) ** (k / max(n_batches - 1, 1))
            changed = np.abs(scores - score) > 1e-12 * max(score, 1.0)
            uphill = rng.random(len(scores)) < np.exp(np.minimum(0.0, -(scores - score) / temp))
            accepted = changed & ((scores < score) | uphill)
            if not accepted.any():
                continue
            j = int(np.flatnonzero(accepted)[np.argmin(scores[accepted])])
            holder, labels, score = holders[j], props[j], float(scores[j])
            done += 1
            if objective is exact:  # the paper's selection first, then the copies that print
                du, dm = devs(*(v[j : j + 1] for v in f))
                right = float(wrong_entry(f[0][j : j + 1], f[1][j : j + 1])[0] == 0)
                key = (right, float(printed_copies(du, dm)[0]), -score)
            else:
                key = (0.0, -1.0, -score)
            if key > best_key:
                best, best_key = (holder.copy(), labels.copy()), key
            if objective is exact and max(np.max(np.abs(du)), np.max(np.abs(dm), initial=0.0)) < 0.95:
                du, dm = devs(*fits(holder[None], labels[None], steps=30))
                if max(np.max(np.abs(du)), np.max(np.abs(dm), initial=0.0)) < 0.95:
                    return holder, labels, done, True
        return *best, done, False

    identity = np.arange(n)
    start_u, start_m = devs(*fits(order[None], identity[None], steps=30))
    inside = max(np.max(np.abs(start_u)), np.max(np.abs(start_m), initial=0.0)) < 0.95
    holder, labels, accepted = order.copy(), identity.copy(), 0
    if not inside:
        first = int(round(se_share * batches))
        holder, labels, accepted, _ = anneal(holder, labels, loose, first)
        holder, labels, more, inside = anneal(holder, labels, exact, batches - first)
        accepted += more
    exchange_outcomes(o, members[holder], members[order])
    b, s, bm, sm = fits(holder[None], labels[None], steps=30)
    du, dm = devs(b, s, bm, sm)
    return {
        "before": start_u[0],
        "after": du[0],
        "adjusted_before": start_m[0],
        "adjusted_after": dm[0],
        "accepted": accepted,
        "inside": inside,
        "hr_gap": float(np.max(np.abs(np.concatenate([b[0] - design.beta, bm[0] - (model.beta if model else 0)])))),
        "labels": labels,
        "entry_kept": bool(wrong_entry(b, s)[0] == 0),
    }


def table3_columns(st: dict, rows: Sequence[RowTarget]) -> dict:
    """Each characteristic of `rows` over all patients, from the generator's state before the survival draw."""
    base = st["base"]
    columns = {r.column: base[r.column] for r in rows if r.column in base}
    columns["nodes_group"], columns["response_group"] = st["nodes_group"], st["response_group"]
    return columns


def search_inputs(st: dict, surv: dict, matched: np.ndarray, spec) -> dict:
    """What :func:`fit_table3_rows` is given on the generator's draw: the outcomes ``o``
    (:func:`psmbook.cohort.synthetic.outcomefit.outcomes_of`: sharing `surv`'s times, its events copied),
    ``treated``, ``matched``, the characteristics ``columns``, the univariate ``rows`` and the ``adjusted`` ones it
    aims at, and the patients whose responses may be exchanged (``relabel``: CR, PR, SD)."""
    o, treated = outcomes_of(st, surv, spec)
    rows, adjusted = table3_rows(f"arm.{TREATED}"), adjusted_rows()
    return {
        "o": o,
        "treated": treated,
        "matched": matched,
        "columns": table3_columns(st, rows + adjusted),
        "rows": rows,
        "adjusted": adjusted,
        "relabel": np.isin(st["response"], ("cr", "pr", "sd")),
    }


def printed_counts(found: dict) -> dict:
    """Of a :func:`fit_table3_rows` result: how many aimed numbers print as printed, of how many (``print`` of
    ``aimed``, univariate rows; ``adjusted_print`` of ``adjusted_aimed``, the multivariable ones), and the largest
    distance of a row's hazard ratio from its aim, as a ratio (``hr_ratio``)."""
    after, adjusted_after = np.abs(found["after"]), np.abs(found["adjusted_after"])
    return {
        "print": int((after < 1).sum()),
        "aimed": len(after),
        "adjusted_print": int((adjusted_after < 1).sum()),
        "adjusted_aimed": len(adjusted_after),
        "hr_ratio": float(np.exp(found["hr_gap"])),
    }


def search_table3(st: dict, surv: dict, matched: np.ndarray, spec, rng: np.random.Generator) -> dict:
    """The search on the generator's draw after :func:`psmbook.cohort.synthetic.outcomefit.search_outcomes`
    (`surv` changed in place; the matched patients' responses in `st` too), ``spec.table3_search_batches`` batches.
    Returns :func:`printed_counts`, how many matched responses changed and whether the paper's factors (and only
    they) pass its entry rule."""
    given = search_inputs(st, surv, matched, spec)
    o = given["o"]
    found = fit_table3_rows(
        o,
        given["treated"],
        matched,
        given["columns"],
        given["rows"],
        rng,
        spec.table3_search_batches,
        adjusted=given["adjusted"],
        relabel=given["relabel"],
    )
    surv["os_event"], surv["pfs_event"] = o.os_e, o.pfs_e
    members = np.flatnonzero(matched)
    response = st["response"]  # the generator's array (shared with its course and frame): relabelled in place
    before = response[members].copy()
    response[members] = before[found["labels"]]
    st["response_group"][members] = st["response_group"][members][found["labels"]]
    return printed_counts(found) | {
        "relabelled": int((response[members] != before).sum()),
        "entry_kept": found["entry_kept"],
    }
