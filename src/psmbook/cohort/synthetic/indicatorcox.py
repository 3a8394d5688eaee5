"""Table 3's rows as indicator covariates of the matched patients, and their Cox models, batched.

The generator's Table 3 search (:mod:`psmbook.cohort.synthetic.table3rows`) places the matched patients' outcomes
in fixed slots (latest time first) and scores batches of proposals, each a different assignment of patients to
slots. Every covariate of Table 3 is an indicator (a level of a characteristic), so a Cox model's risk-set sums
are counts of patients at risk (per level, or per pattern of a joint model's indicators) weighed by exp(b).
Here: the designs (:class:`RowDesign`, one model per univariate row; :class:`ModelDesign`, the multivariable
model), the slots (:class:`Slots`, Efron's ties), the risk counts (:class:`RiskCounts`, changed in place of a
proposal's two slots) and Newton-Raphson on them, vectorised over the proposals (Efron's ties, as lifelines and
R's coxph; tested against both).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from psmbook.cohort.synthetic.coxtargets import RowTarget

#: Newton-Raphson steps per scoring of a proposal, from the printed row's point: one step, the search's
#: approximation (off by the square of the distance to that point); what is reported is a converged fit.
NEWTON_STEPS = 1
#: a Newton-Raphson step smaller than this in every log hazard ratio ends a fit asked for more steps (converged)
CONVERGED = 1e-12


def _indicators(columns: Mapping[str, np.ndarray], rows: Sequence[RowTarget]) -> np.ndarray:
    """Patients x rows: 1 where the patient has the row's level of its characteristic (``column.level``)."""
    cols = []
    for r in rows:
        values = np.asarray(columns[r.column], dtype=object)
        level = r.term.split(".", 1)[1]
        if any(v is None or v != v for v in values):
            raise ValueError(f"Table 3 row {r.term}: a matched patient has no value of {r.column!r}")
        cols.append(values == level)
    return np.column_stack(cols).astype(float)


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
        return cls(
            _indicators(columns, ordered),
            ordered,
            np.asarray(partner),
            np.array([r.log_hr for r in ordered]),
            np.array([r.se for r in ordered]),
        )


@dataclass
class ModelDesign:
    """The rows of one multivariable model as indicator columns of the matched patients: ``x`` (patients x
    terms, all fitted together), the ``rows``, their aimed log hazard ratios ``beta`` and SEs ``se``."""

    x: np.ndarray
    rows: list[RowTarget]
    beta: np.ndarray
    se: np.ndarray

    @classmethod
    def build(cls, columns: Mapping[str, np.ndarray], rows: Sequence[RowTarget]) -> "ModelDesign":
        for r in rows:
            if r.model != "multivariate":
                raise ValueError(f"Table 3 row {r.term}: not a row of the multivariable model")
        rows = list(rows)
        return cls(_indicators(columns, rows), rows, np.array([r.log_hr for r in rows]), np.array([r.se for r in rows]))


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


def everyone_at_risk(slots: Slots) -> np.ndarray:
    """Per death, how many are at risk (Efron-adjusted, as :class:`RiskCounts`): the weight of a risk set at b = 0."""
    return _risk(slots, np.ones((1, len(slots.event), 1)))[0, :, 0]


def _changes(slots: Slots, s: np.ndarray) -> np.ndarray:
    """Per proposal (the slot `s` whose covariates it changes) and death: the weight of that change in the
    death's Efron-adjusted risk-set sum (1 when the slot is at risk, less Efron's fraction when it is one of
    the death's tied deaths)."""
    at_risk = s[:, None] <= slots.last[None, :]
    tied = at_risk & (slots.first[None, :] <= s[:, None]) & (slots.event[s] == 1)[:, None]
    return at_risk - slots.frac[None, :] * tied


@dataclass
class RiskCounts:
    """Of 0/1 covariates in slot order: per death, how many at risk have each (Efron-adjusted: a tie's later
    deaths count the tie's deaths less their fraction), ``at_risk`` (deaths x columns), and each summed over
    the deaths, ``dead``. A Cox model of indicators needs no more: its risk-set sums are these counts weighed
    by exp(b), for any b."""

    at_risk: np.ndarray
    dead: np.ndarray

    @classmethod
    def of(cls, slots: Slots, v: np.ndarray) -> "RiskCounts":
        return cls(_risk(slots, v[None].astype(float))[0], v[slots.dead].sum(axis=0).astype(float))

    def changed(self, slots: Slots, s1, d1, s2, d2) -> "RiskCounts":
        """The counts of proposals that each change two slots' covariates (`s1`, `s2`) by `d1`, `d2`
        (proposals x columns)."""
        c1, c2 = _changes(slots, s1), _changes(slots, s2)
        at_risk = self.at_risk[None] + c1[..., None] * d1[:, None, :] + c2[..., None] * d2[:, None, :]
        return RiskCounts(at_risk, self.dead[None] + slots.event[s1][:, None] * d1 + slots.event[s2][:, None] * d2)

    def changed_at(self, slots: Slots, s: np.ndarray, d: np.ndarray) -> "RiskCounts":
        """The counts of proposals that each change several slots (`s`: proposals x slots) by `d` (proposals x
        slots x columns)."""
        at_risk, dead = self.at_risk[None], self.dead[None]
        for j in range(s.shape[1]):
            at_risk = at_risk + _changes(slots, s[:, j])[..., None] * d[:, j, None, :]
            dead = dead + slots.event[s[:, j]][:, None] * d[:, j]
        return RiskCounts(at_risk, dead)


def fit_rows_counted(everyone: np.ndarray, c: RiskCounts, design: RowDesign, steps: int = NEWTON_STEPS):
    """:func:`fit_rows` from risk counts (`c`: proposals x deaths x columns; `everyone`: the adjusted count of
    all at risk, per death): a column and its partner level are exclusive, so a death's risk set weighs
    everyone - n_j - n_k + exp(b_j) n_j + exp(b_k) n_k. Newton-Raphson takes `steps` steps, or fewer once every
    proposal's step is below :data:`CONVERGED` (a converged fit, asked for with many steps)."""
    partner = design.partner
    single = partner == np.arange(len(partner))
    beta = np.broadcast_to(design.beta, c.dead.shape).copy()
    n = c.at_risk
    n_other = np.where(single, 0.0, n[..., partner])
    converged = False
    for step in range(steps + 1):
        e = np.exp(beta)[:, None, :]
        weighed = e * n
        s0 = everyone[None, :, None] - n - n_other + weighed + np.where(single, 0.0, weighed[..., partner])
        m = weighed / s0
        score = c.dead - m.sum(axis=1)
        ijj = (m - m * m).sum(axis=1)
        ijl = np.where(single, 0.0, -(m * m[:, :, partner]).sum(axis=1))
        det = ijj * ijj[:, partner] - ijl**2
        if step == steps or converged:  # (converged: the SEs at this point, and done)
            break
        change = (ijj[:, partner] * score - ijl * score[:, partner]) / det
        beta = beta + change
        converged = bool(np.all(np.abs(change) < CONVERGED))
    return beta, np.sqrt(ijj[:, partner] / det)


def patterns(p: int) -> np.ndarray:
    """Every pattern of `p` indicators (2**p x p), pattern k having bit j of k as indicator j."""
    return ((np.arange(2**p)[:, None] >> np.arange(p)[None, :]) & 1).astype(float)


def fit_model_counted(c: RiskCounts, beta: np.ndarray, steps: int = NEWTON_STEPS):
    """:func:`fit_model` from the risk counts of each covariate pattern (`c`: proposals x deaths x 2**p
    patterns, :func:`patterns`): a death's risk-set sums are the counts weighed by each pattern's exp(x b)."""
    n_prop, _, q = c.at_risk.shape
    p = int(round(np.log2(q)))
    pat = patterns(p)
    iu, ju = np.triu_indices(p, 1)
    columns = np.concatenate([np.ones((q, 1)), pat, pat[:, iu] * pat[:, ju]], axis=1)
    diagonal = np.arange(p)
    b = np.broadcast_to(beta, (n_prop, p)).copy()
    dead = c.dead @ pat
    for step in range(steps + 1):
        r = np.matmul(c.at_risk, np.exp(b @ pat.T)[:, :, None] * columns[None])
        m = r[..., 1 : 1 + p] / r[..., :1]
        score = dead - m.sum(axis=1)
        info = np.empty((n_prop, p, p))
        info[:, iu, ju] = info[:, ju, iu] = (r[..., 1 + p :] / r[..., :1] - m[..., iu] * m[..., ju]).sum(axis=1)
        info[:, diagonal, diagonal] = (m - m * m).sum(axis=1)
        if step == steps:
            break
        b = b + np.linalg.solve(info, score[..., None])[..., 0]
    return b, np.sqrt(np.linalg.inv(info)[:, diagonal, diagonal])


def fit_rows(slots: Slots, x: np.ndarray, design: RowDesign, steps: int = NEWTON_STEPS):
    """Log hazard ratios and SEs of every aimed row for each proposal's covariates `x` (proposals x slots x
    columns, slot order): each column's model (itself, or with its partner level) by Newton-Raphson, from the
    risk counts (:func:`fit_rows_counted`)."""
    counts = RiskCounts(_risk(slots, x), x[:, slots.dead].sum(axis=1))
    return fit_rows_counted(everyone_at_risk(slots), counts, design, steps)


def fit_model(slots: Slots, x: np.ndarray, beta: np.ndarray, steps: int = NEWTON_STEPS):
    """Log hazard ratios and SEs of one model of indicator covariates, fitted jointly, for each proposal's `x`
    (proposals x slots x terms, slot order) by Newton-Raphson from `beta`, from the risk counts of each pattern
    of the covariates (:func:`fit_model_counted`)."""
    onehot = np.eye(2 ** x.shape[2])[(x @ (1 << np.arange(x.shape[2]))).astype(int)]
    return fit_model_counted(RiskCounts(_risk(slots, onehot), onehot[:, slots.dead].sum(axis=1)), beta, steps)
