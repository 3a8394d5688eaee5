"""Characteristics relabelled among matched patients, one univariate row of Table 3 at a time.

A univariate row of Table 3 (one Cox model of overall survival on one characteristic) depends on the matched
patients' outcomes and on which of them have which level of that characteristic, nothing else. After
:mod:`psmbook.cohort.synthetic.table3rows` has placed the outcomes, this stage moves only the labels, for the
characteristics outside the paper's multivariable model (dose, sex, ECOG, location, differentiation, node diameter,
concurrent and consolidation chemotherapy): each change then moves its own row and no other printed number.

* Consolidation chemotherapy is not in the propensity-score model: two matched patients of one arm exchange it,
  so each arm's matched Table 1 counts stay.
* The others are. Two matched *twin pairs* (a treated patient and its designed control with the same covariate
  pattern, :mod:`psmbook.cohort.synthetic.matchdesign`) exchange the characteristic, both members at once, so each
  pair stays a pair of twins and each arm's counts stay. Concurrent chemotherapy changes hands only between the two
  older age bands (S-1 is given from its age on), so the age group stays. What a characteristic carries moves with
  it: age in years and the docetaxel schedule with the age band, the diameter in cm with its group, the recurrent
  nodes and stations with the recurrence site, the interval since surgery with the previous treatment, the dose
  in Gy and the fractions with the dose level (the course then lasts as its fractions take, and two pairs
  exchange a dose only where every course still ends 4-5 weeks before its response assessment, which the outcomes
  depend on and so stays).
  The fitted score model then changes a little, and with it the scores. The unmatched patients' covariates are
  rearranged (:func:`psmbook.cohort.synthetic.designsearch.repair`, exchanges among unmatched controls and among
  unmatched treated only) until the book's matching again selects exactly the designed patients, every decision
  clear of a tie (:func:`psmbook.cohort.synthetic.matchdesign.verify`). Where it cannot, the row keeps its labels.

Each row's search descends by the best of all the exchanges allowed, every one scored at once by the Cox fits of
:mod:`psmbook.cohort.synthetic.indicatorcox` (Efron's ties). A standard error is set mostly by how many deaths each
level has, which one exchange changes by a whole death, so the search aims first at the row's standard error with
its log hazard ratio loosely, then more tightly, then at how far each printed number lies outside its band; last,
taking the exchanges' effects as additive, it makes the pair of exchanges whose sum prints. An exchange of one
characteristic moves its own row only, so a row can be landed this way where exchanges of whole outcomes (which
move every row in which the two patients differ) do not land it. A row is relabelled only if
more of its printed numbers print, or as many lie nearer, and the matching can be restored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from psmbook.cohort.synthetic.coxtargets import RowTarget
from psmbook.cohort.synthetic.designsearch import UnmatchedMoves, repair
from psmbook.cohort.synthetic.indicatorcox import (
    ModelDesign,
    RiskCounts,
    RowDesign,
    Slots,
    everyone_at_risk,
    fit_model,
    fit_rows,
    fit_rows_counted,
)
from psmbook.cohort.synthetic.matchdesign import verify
from psmbook.cohort.synthetic.psmodel import BAND, CM, TM, TU, coding, design_matrix, encode, newton, pattern_ids
from psmbook.cohort.synthetic.spec import WEEKS_PER_MONTH
from psmbook.cohort.synthetic.table3rows import deviations, matched_slots, printed_counts, search_inputs

#: Table 3's characteristics outside its multivariable model, each with the coded variable of the score model it
#: is (None: not in the model) and the codes that may change hands (None: all).
RELABELLED = {
    "radiation_dose": ("radiation_dose", None),
    "sex": ("sex", None),
    "ecog": ("ecog", None),
    "location": ("location", None),
    "differentiation": ("differentiation", None),
    "node_diameter": ("node_diameter", None),
    "concurrent_chemo": (BAND, (1, 2)),
    "consolidation_chemo": (None, None),
}

#: Coded variables the unmatched patients may exchange to restore the matching. The radiation dose is not one: its
#: fractions set the course's length, and the outcomes depend on the response assessment that follows.
REMATCH_VARIABLES = ("age_band", "sex", "ecog", "location", "differentiation", "stage", "previous_treatment",
                     "recurrence_site", "node_diameter")  # fmt: skip

#: The search's phases, each a descent to where no exchange improves: ``("loose", w)``: the standard error within
#: 0.0005 and the log hazard ratio within w weigh as one; ``("exact", 0)``: each printed number's distance outside
#: its band.
PHASES = (("loose", 0.02), ("loose", 0.003), ("exact", 0.0))


def carried(st: dict) -> dict[str, list[np.ndarray]]:
    """Per coded variable (and consolidation chemotherapy), the generator's per-patient arrays that move with it."""
    base, sites = st["base"], st["sites"]
    nodes = ("n_recurrent_nodes", "station_2r", "station_7", "station_supraclavicular", "_has_mediastinal")
    out = {v: [base[v]] for v in coding().variables[1:]}
    out[BAND] = [base["age_years"], base["age_group"], base["concurrent_chemo"], sites["dp_schedule"]]
    out["node_diameter"].append(base["node_diameter_cm"])
    out["previous_treatment"].append(sites["months_surgery_to_recurrence"])
    out["recurrence_site"] += [sites[c] for c in nodes] + [st["nodes_group"]]
    out["radiation_dose"] += [st["dose"], st["fractions"]]
    out["consolidation_chemo"] = [base["consolidation_chemo"]]
    return out


def _move(arrays: list[np.ndarray], patients: np.ndarray, sources: np.ndarray) -> None:
    """Each of `patients` takes, in every array, the value `sources` (same place) had."""
    for a in arrays:
        a[patients] = a[sources]


def twin_pairs(codes: np.ndarray, group: np.ndarray) -> np.ndarray:
    """(matched treated, matched control) pairs of the same covariate pattern, each control used once (in index
    order): the design's twins."""
    pid = pattern_ids(codes)
    free = {}
    for c in np.flatnonzero(group == CM):
        free.setdefault(int(pid[c]), []).append(int(c))
    pairs = [(int(t), free[int(pid[t])].pop(0)) for t in np.flatnonzero(group == TM) if free.get(int(pid[t]))]
    return np.array(pairs, dtype=int).reshape(-1, 2)


@dataclass
class RowLabels:
    """One characteristic's labels on the matched patients' outcome slots: the indicator columns ``x`` (slots x the
    row's columns), the exchange ``units`` (slots that change hands together: a twin pair, or one patient), the
    ``kind`` of each unit (only units of one kind exchange), which units may exchange at all (``movable``) and, if
    not every unit may hold every unit's labels, which may (``allowed``)."""

    x: np.ndarray
    units: np.ndarray
    kind: np.ndarray
    movable: np.ndarray
    allowed: Optional[np.ndarray] = None  # units x units: unit u may hold the labels unit w started with


def search_row(slots: Slots, design: RowDesign, labels: RowLabels, rng: np.random.Generator, phases=PHASES,
               landings: int = 6) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The module's search for one row: returns ``holds`` (for each unit, the unit whose labels it now has) and the
    row's deviations (half bands from the middle of each printed number's band) at a converged fit.

    Each phase descends by the best exchange of all allowed (random among near-equals, so that ties do not
    cycle) until none improves; then up to `landings` times, the exchanges' effects on (b, s) are taken as
    additive and the pair of exchanges whose sum prints (or comes nearest) is made, if a converged fit agrees. Of
    the states reached, the one where most printed numbers print (then the nearest) is returned."""
    everyone = everyone_at_risk(slots)
    units, m = labels.units, len(labels.units)
    holds = np.arange(m)
    u_all, v_all = np.triu_indices(m, 1)
    same = (labels.kind[u_all] == labels.kind[v_all]) & labels.movable[u_all] & labels.movable[v_all]
    u_all, v_all = u_all[same], v_all[same]

    def x_of(holds):
        x = labels.x.copy()
        x[units.ravel()] = labels.x[units[holds].ravel()]
        return x

    def exchanges(x):
        ok = np.any(x[units[u_all, 0]] != x[units[v_all, 0]], axis=1)
        if labels.allowed is not None:
            ok &= labels.allowed[u_all, holds[v_all]] & labels.allowed[v_all, holds[u_all]]
        return u_all[ok], v_all[ok]

    def fit(x, u=None, v=None, steps=1):
        if u is None:
            return fit_rows(slots, x[None], design, steps)
        d = x[units[v, 0]] - x[units[u, 0]]  # every slot of a unit has the unit's labels
        k = units.shape[1]
        change = np.concatenate([np.repeat(d[:, None], k, 1), np.repeat(-d[:, None], k, 1)], 1)
        counts = RiskCounts.of(slots, x).changed_at(slots, np.hstack([units[u], units[v]]), change)
        return fit_rows_counted(everyone, counts, design, steps)

    def objective(kind, scale):
        if kind == "loose":
            return lambda b, s: (((s - design.se) / 0.0005) ** 2 + ((b - design.beta) / scale) ** 2).sum(axis=1)

        def exact(b, s):
            d = deviations(design, b, s, inside=True)
            return _excess(d) + 0.001 * (d**2).sum(axis=1)

        return exact

    def converged(holds):
        return deviations(design, *fit(x_of(holds), steps=30), inside=True)[0]

    for kind, scale in phases:
        f_of = objective(kind, scale)
        x = x_of(holds)
        f = float(f_of(*fit(x))[0])
        while True:
            u, v = exchanges(x)
            if not len(u):
                break
            scores = f_of(*fit(x, u, v))
            best = scores.min()
            if best >= f - 1e-9 * max(f, 1.0):
                break
            near = np.flatnonzero(scores <= best + 1e-9 * max(best, 1.0))
            j = int(near[rng.integers(len(near))])
            holds[[u[j], v[j]]] = holds[[v[j], u[j]]]
            x, f = x_of(holds), float(scores[j])
    exact = objective("exact", 0.0)
    kept = None  # the state where most printed numbers print (then the nearest), of those the landings reach
    for landing in range(landings + 1):
        d = converged(holds)
        key = (int((np.abs(d) < 1).sum()), -_excess(d))
        if kept is None or key > kept[0]:
            kept = (key, holds.copy(), d)
        if np.all(np.abs(d) < 1) or landing == landings:
            break
        x = x_of(holds)
        b0, s0 = fit(x, steps=30)
        u, v = exchanges(x)
        b1, s1 = fit(x, u, v, steps=30)
        db, ds = b1 - b0, s1 - s0
        # pairs of exchanges with no unit in common, effects added
        i, j = np.triu_indices(len(u), 1)
        apart = (u[i] != u[j]) & (u[i] != v[j]) & (v[i] != u[j]) & (v[i] != v[j])
        i, j = i[apart], j[apart]
        chunks = [slice(a, a + 200000) for a in range(0, len(i), 200000)]
        predicted = np.concatenate([exact(b0 + db[i[c]] + db[j[c]], s0 + ds[i[c]] + ds[j[c]]) for c in chunks])
        singles, now = exact(b1, s1), exact(b0, s0)[0]
        tried = False
        for q in np.argsort(predicted, kind="stable")[:20]:
            trial = holds.copy()
            trial[[u[i[q]], v[i[q]]]] = trial[[v[i[q]], u[i[q]]]]
            trial[[u[j[q]], v[j[q]]]] = trial[[v[j[q]], u[j[q]]]]
            if exact(*fit(x_of(trial), steps=30))[0] < now - 1e-12:
                holds, tried = trial, True
                break
        if not tried:
            q = int(np.argmin(singles))
            if singles[q] >= now:
                break
            holds[[u[q], v[q]]] = holds[[v[q], u[q]]]
    return kept[1], kept[2]


def rematch(codes: np.ndarray, group: np.ndarray, rng: np.random.Generator, steps: int, delta: float,
            stall: int = 800):  # fmt: skip
    """Codes on which the book's matching selects the designed groups again, the matched patients' unchanged: the
    unmatched patients' covariates rearranged (:class:`psmbook.cohort.synthetic.designsearch.UnmatchedMoves`).
    None if the repair does not reach it within `steps`, or goes `stall` steps without coming nearer."""
    if verify(codes, group, delta):
        return codes
    y = (group <= TU).astype(float)
    variables = tuple(coding().variables.index(v) for v in REMATCH_VARIABLES)
    design = UnmatchedMoves(codes=codes.copy(), group=group, variables=variables)
    penalty, found, _ = repair(design, y, newton(design_matrix(codes), y), rng, steps, None, stall=stall)
    return found if penalty == 0 and verify(found, group, delta) else None


def _unmatched_moves(before: np.ndarray, after: np.ndarray, group: np.ndarray, arrays: dict, variables) -> None:
    """Carry the values of each coded variable's arrays along the exchanges that turned `before` into `after`
    (within a group: who lost a level gives its values to who gained it, in index order)."""
    for k, name in enumerate(variables):
        changed = before[:, k] != after[:, k]
        if not changed.any():
            continue
        for g in np.unique(group[changed]):
            idx = np.flatnonzero(changed & (group == g))
            receivers = np.concatenate([idx[after[idx, k] == lv] for lv in np.unique(after[idx, k])])
            donors = np.concatenate([idx[before[idx, k] == lv] for lv in np.unique(after[idx, k])])
            _move(arrays[name], receivers, donors)


def course_allows(st: dict, patient: np.ndarray, units: np.ndarray, fractions_per_week: int) -> np.ndarray:
    """units x units: whether unit u may take the dose unit w has (each member that of the member in the same
    place): with w's fractions its course, which keeps its own interruptions, still ends 4-5 weeks (the paper's
    assessment window) before its response assessment, which the outcomes depend on and so stays."""
    fractions, weeks = st["fractions"].astype(float), st["course"]["crt_weeks"]
    interruption = weeks - fractions / fractions_per_week
    assess = st["assess"] * WEEKS_PER_MONTH
    lo, hi = st["tg"].assessment_weeks
    ok = np.ones((len(units), len(units)), dtype=bool)
    for j in range(units.shape[1]):
        p = patient[units[:, j]]
        gap = assess[p][:, None] - (fractions[p][None, :] / fractions_per_week + interruption[p][:, None])
        ok &= (gap >= lo - 1e-9) & (gap <= hi + 1e-9)
    return ok


def relabel_rows(st: dict, o, matched: np.ndarray, rows: list[RowTarget], columns: dict, rng: np.random.Generator,
                 rematch_steps: int, delta: float, fractions_per_week: int = 5) -> dict:  # fmt: skip
    """The module's stage on the generator's state `st` (changed in place), the outcomes `o` already placed; `rows`:
    Table 3's univariate rows, `columns`: each one's characteristic over all patients (the generator's arrays, so
    they follow). Returns, per characteristic relabelled or tried, how many of its aimed numbers printed before
    and print after, and whether its labels changed (``{column: (before, after, changed)}``)."""
    base, cd = st["base"], coding()
    group = np.asarray(base["_group"])
    members, order, slots = matched_slots(o, matched)
    patient = members[order]  # slot -> patient
    slot_of = np.empty(len(group), dtype=int)
    slot_of[patient] = np.arange(len(patient))
    arrays = carried(st)
    weeks, crt_end = st["course"]["crt_weeks"], st["crt_end"]
    everything = [a for kept in arrays.values() for a in kept] + [weeks, crt_end]
    twins = twin_pairs(encode(base), group)
    report = {}
    for column, (variable, levels) in RELABELLED.items():
        aimed = [r for r in rows if r.column == column]
        if not aimed:
            continue
        design = RowDesign.build({column: np.asarray(columns[column], dtype=object)[patient]}, aimed)
        if variable is None:  # one patient at a time, within an arm
            units, kind = np.arange(len(patient))[:, None], (group[patient] == TM).astype(int)
            movable = np.ones(len(units), dtype=bool)
        else:  # twin pairs, both members at once
            units, kind = slot_of[twins], np.zeros(len(twins), dtype=int)
            code = encode(base)[twins[:, 0], cd.variables.index(variable)]
            movable = np.ones(len(units), dtype=bool) if levels is None else np.isin(code, levels)
        start = deviations(design, *fit_rows(slots, design.x[None], design, steps=30), inside=True)[0]
        allowed = course_allows(st, patient, units, fractions_per_week) if variable == "radiation_dose" else None
        holds, after = search_row(slots, design, RowLabels(design.x, units, kind, movable, allowed), rng)
        before, printed = int((np.abs(start) < 1).sum()), int((np.abs(after) < 1).sum())
        if (printed, -_excess(after)) <= (before, -_excess(start)):
            report[column] = (before, before, False)
            continue
        saved = [a.copy() for a in everything]
        fractions = st["fractions"].copy()
        _move(arrays[variable or column], patient[units.ravel()], patient[units[holds].ravel()])
        if variable == "radiation_dose":  # the course follows its fractions; its interruptions stay
            p = np.flatnonzero(st["fractions"] != fractions)
            weeks[p] += (st["fractions"][p] - fractions[p]) / fractions_per_week
            crt_end[p] = weeks[p] / WEEKS_PER_MONTH
        if variable is not None:
            now = encode(base)
            found = rematch(now, group, rng, rematch_steps, delta)
            if found is None:
                for a, was in zip(everything, saved):
                    a[:] = was
                report[column] = (before, before, False)
                continue
            _unmatched_moves(now, found, group, arrays, cd.variables)
            if not np.array_equal(encode(base), found):
                raise AssertionError("Table 3 relabelling: the carried columns disagree with the rematched codes")
        report[column] = (before, printed, True)
    return report


def _excess(d: np.ndarray) -> np.ndarray | float:
    """How far a row's printed numbers (the last axis of `d`) lie outside their bands, in all (the search's
    measure)."""
    return (np.maximum(np.abs(d) - 0.6, 0.0) ** 2).sum(axis=-1)


def relabel_table3(st: dict, surv: dict, matched: np.ndarray, spec, rng: np.random.Generator) -> dict:
    """:func:`relabel_rows` on the generator's draw after :func:`psmbook.cohort.synthetic.table3rows.search_table3`
    (`st` changed in place), ``spec.table3_rematch_steps`` steps of repair at most per row."""
    given = search_inputs(st, surv, matched, spec)
    return relabel_rows(st, given["o"], matched, given["rows"], given["columns"], rng, spec.table3_rematch_steps,
                        spec.design_delta, spec.fractions_per_week)  # fmt: skip


def table3_printed(st: dict, surv: dict, matched: np.ndarray, spec) -> dict:
    """Of the generator's state: :func:`psmbook.cohort.synthetic.table3rows.printed_counts` of Table 3's univariate
    rows and multivariable ones (converged fits of the matched patients' outcomes and labels)."""
    given = search_inputs(st, surv, matched, spec)
    members, order, slots = matched_slots(given["o"], matched)
    patient = members[order]
    at = {c: np.asarray(v, dtype=object)[patient] for c, v in given["columns"].items()}
    design, model = RowDesign.build(at, given["rows"]), ModelDesign.build(at, given["adjusted"])
    b, s = fit_rows(slots, design.x[None], design, steps=30)
    bm, sm = fit_model(slots, model.x[None], model.beta, steps=30)
    gap = np.max(np.abs(np.concatenate([b[0] - design.beta, bm[0] - model.beta])))
    du, dm = deviations(design, b, s, inside=True)[0], deviations(model, bm, sm, inside=True)[0]
    return printed_counts({"after": du, "adjusted_after": dm, "hr_gap": gap})
