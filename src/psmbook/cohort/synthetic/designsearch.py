"""Local searches of the matched design: each move swaps one covariate between two patients of the same
design group, so every per-arm and per-group count (Table 1 before and after matching) is kept.

* :func:`steer` reshapes the propensity-score model the data imply (refitted after every move);
* :func:`calibrate` keeps the score model fixed and lowers the score equations' residuals;
* :func:`repair` refits after every move and drives :func:`psmbook.cohort.synthetic.psmodel.design_penalty` to zero;
* :func:`polish` removes the last ties between unmatched controls and matched patterns.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from psmbook.cohort.synthetic.psmodel import (
    CM,
    CU,
    TM,
    TU,
    MatchedSequence,
    design_matrix,
    design_penalty,
    level_effects,
    newton,
    pattern_ids,
)


def pick(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """One index drawn with the probabilities whose cumulative sums are `cdf` (last 1): the draw
    ``rng.choice(len(cdf), p=...)`` makes, from the same uniform, without its checks (a search's hot loop)."""
    return int(cdf.searchsorted(rng.random(), side="right"))


def _cdf(p) -> np.ndarray:
    c = np.cumsum(p, dtype=float)
    return c / c[-1]


_move_kinds = lru_cache(maxsize=None)(_cdf)  # Design.propose's few probability tuples, each summed once


def refit(x: np.ndarray, y: np.ndarray, beta: np.ndarray, steps: int = 2) -> np.ndarray:
    """A few Newton steps from `beta` (the score model after a small change of the data)."""
    for _ in range(steps):
        p = expit(x @ beta)
        beta = beta + np.linalg.solve((x * (p * (1 - p))[:, None]).T @ x, x.T @ (y - p))
    return beta


@dataclass
class Design:
    """Covariate codes of every patient, its design group, and who is twinned with whom."""

    codes: np.ndarray
    group: np.ndarray
    partner: np.ndarray = None  # matched treated <-> its designed control
    motif_t: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    motif_c: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def __post_init__(self):
        g = self.group
        self.cu = np.flatnonzero(g == CU)
        self.tu = np.flatnonzero(g == TU)
        motif = set(self.motif_t.tolist())
        self.crowd_t = np.array([i for i in np.flatnonzero(g == TM) if i not in motif], dtype=int)

    def propose(self, rng, probs=(0.35, 0.4, 0.1, 0.075, 0.075)):
        """A margin-keeping move: (pairs of rows to swap, covariate). Twinned pairs swap together."""
        kind = pick(rng, _move_kinds(tuple(probs)))
        k = int(rng.integers(self.codes.shape[1]))
        if kind == 0:
            a, b = rng.choice(self.crowd_t, 2, replace=False)
            if self.codes[a, k] == self.codes[b, k]:
                return None
            return [(a, b), (self.partner[a], self.partner[b])], k
        idx = (None, self.cu, self.tu, self.motif_t, self.motif_c)[kind]
        if len(idx) < 2:
            return None
        i, j = rng.choice(idx, 2, replace=False)
        if self.codes[i, k] == self.codes[j, k]:
            return None
        return [(i, j)], k

    def targeted(self, rng, violations):
        """A move of a patient involved in a violation (or of the control that caused it)."""
        t, off = violations[int(rng.integers(len(violations)))]
        i = off if (off >= 0 and rng.random() < 0.5) else t
        motif_t, motif_c = set(self.motif_t.tolist()), set(self.motif_c.tolist())
        g = self.group[i]
        if g == CM and i not in motif_c:
            i, g = self.partner[i], TM
        if g == CU:
            pool = self.cu
        elif g == TU:
            pool = self.tu
        elif g == TM:
            pool = self.motif_t if i in motif_t else self.crowd_t
        else:
            pool = self.motif_c
        if len(pool) < 2:
            return None
        j = pool[int(rng.integers(len(pool)))]
        k = int(rng.integers(self.codes.shape[1]))
        if j == i or self.codes[i, k] == self.codes[j, k]:
            return None
        if g == TM and i not in motif_t:
            return [(i, j), (self.partner[i], self.partner[j])], k
        return [(i, j)], k


@dataclass
class UnmatchedMoves(Design):
    """Moves among the unmatched patients only (two unmatched controls, or two unmatched treated, exchange one of
    the coded `variables`): the matched patients' covariates stay as they are."""

    variables: tuple = ()

    def propose(self, rng, probs=None):
        pool = self.tu if len(self.tu) > 1 and rng.random() < len(self.tu) / (len(self.tu) + len(self.cu)) else self.cu
        return self._between(rng, pool[int(rng.integers(len(pool)))], pool)

    def targeted(self, rng, violations):
        t, off = violations[int(rng.integers(len(violations)))]
        i = off if off >= 0 and self.group[off] == CU else (t if self.group[t] == TU else -1)
        if i < 0:
            return self.propose(rng)
        return self._between(rng, i, self.cu if self.group[i] == CU else self.tu)

    def _between(self, rng, i, pool):
        j = pool[int(rng.integers(len(pool)))]
        k = self.variables[int(rng.integers(len(self.variables)))]
        return None if j == i or self.codes[i, k] == self.codes[j, k] else ([(i, j)], k)


def _swap(codes, rows, k):
    for a, b in rows:
        codes[[a, b], k] = codes[[b, a], k]


class _Clashes:
    """Keeps unmatched controls off the exact covariate patterns of matched patients, and unmatched treated
    off those of matched treated (exact ties, which data order would break)."""

    def __init__(self, codes, group):
        self.pid = pattern_ids(codes)
        self.group = group
        self.count = {g: Counter(self.pid[group == g].tolist()) for g in (TM, TU, CM, CU)}

    def trial(self, codes, touched):
        new = pattern_ids(codes[touched])
        count = {g: c.copy() for g, c in self.count.items()}
        for t, q in zip(touched, new):
            g = self.group[t]
            count[g][self.pid[t]] -= 1
            count[g][q] += 1
        clash = {CU: (TM, CM), TM: (CU, TU), CM: (CU,), TU: (TM,)}  # pairs that must not share a pattern
        for t, q in zip(touched, new):
            if any(count[h].get(q, 0) > 0 for h in clash[self.group[t]]):
                return None
        return new, count

    def accept(self, touched, trial):
        new, self.count = trial
        self.pid[touched] = new


def steer(codes, group, y, beta, rng, direction, tu_mask, target_d, target_z, steps, quantile=0.8, width=0.2):
    """Swap covariates until the refitted score model has direction @ level effects within
    ``target_d +- width`` and the mean score of the unmatched treated lies ``target_z`` SD above the
    `quantile` of the other patients' scores (a greedy descent; returns codes and the refitted model)."""
    x = design_matrix(codes)
    beta = newton(x, y, beta)
    groups = [np.flatnonzero(group == q) for q in range(4)]
    sizes = np.array([len(g) for g in groups], dtype=float)
    cdf = _cdf(sizes / sizes.sum())

    def objective(b):
        s = x @ b
        vd = level_effects(b) @ direction
        z = (s[tu_mask].mean() - np.quantile(s[~tu_mask], quantile)) / s.std()
        return max(0.0, vd - target_d - width) + max(0.0, target_d - width - vd) + max(0.0, target_z - z)

    cur = objective(beta)
    for _ in range(steps):
        if cur == 0:
            break
        idx = groups[pick(rng, cdf)]
        k = int(rng.integers(codes.shape[1]))
        i, j = rng.choice(idx, 2, replace=False)
        if codes[i, k] == codes[j, k]:
            continue
        _swap(codes, [(i, j)], k)
        old = x[[i, j]].copy()
        x[[i, j]] = design_matrix(codes[[i, j]])
        b2 = refit(x, y, beta)
        new = objective(b2)
        if new <= cur:
            cur, beta = new, b2
        else:
            _swap(codes, [(i, j)], k)
            x[[i, j]] = old
    return codes, newton(x, y, beta)


def calibrate(design: Design, y, beta, rng, steps, weight=10.0, temperature=0.02, caliper_margin=0.0):
    """Lower the residuals of the score equations at the fixed model `beta` (the intercept is re-solved
    now and then), paying `weight` per unit of design penalty: a refit then moves the scores less."""
    codes, group = design.codes, design.group
    x = design_matrix(codes)
    beta = np.array(beta, dtype=float)
    s = x @ beta
    p = expit(s)
    g = x.T @ (y - p)
    seq = MatchedSequence(s, group)
    cur = np.abs(g[1:]).sum() + weight * seq.penalty(s, group, caliper_margin=caliper_margin)
    for it in range(steps):
        t = temperature * (1 - it / steps) + 1e-4
        move = design.propose(rng)
        if move is None:
            continue
        rows, k = move
        touched = [i for ij in rows for i in ij]
        _swap(codes, rows, k)
        old_x, old_s, old_p = x[touched].copy(), s[touched].copy(), p[touched].copy()
        x[touched] = design_matrix(codes[touched])
        s[touched] = x[touched] @ beta
        p[touched] = expit(s[touched])
        g2 = g - old_x.T @ (y[touched] - old_p) + x[touched].T @ (y[touched] - p[touched])
        seq2 = seq if (group[touched] == CU).all() else MatchedSequence(s, group)
        new = np.abs(g2[1:]).sum() + weight * seq2.penalty(s, group, caliper_margin=caliper_margin)
        if new <= cur or rng.random() < np.exp((cur - new) / t):
            cur, g, seq = new, g2, seq2
        else:
            _swap(codes, rows, k)
            x[touched], s[touched], p[touched] = old_x, old_s, old_p
        if it % 2000 == 1999:
            shift = brentq(lambda d: expit(s + d).sum() - y.sum(), -5.0, 5.0)
            beta[0] += shift
            s += shift
            p = expit(s)
            g = x.T @ (y - p)
            seq = MatchedSequence(s, group)
            cur = np.abs(g[1:]).sum() + weight * seq.penalty(s, group, caliper_margin=caliper_margin)
    return beta


def repair(design: Design, y, beta, rng, steps, macro, temperature=0.002, targeted=0.6, stall=800):
    """Drive the design penalty to zero, refitting the score model after every move. When no move has
    helped for `stall` steps, `macro(design, beta, which)` proposes a larger change (rows, new codes); with no
    `macro` (None) the repair stops there. Returns (penalty, codes, model) of the best state seen; `design.codes`
    is left at the last state."""
    codes, group = design.codes, design.group
    x = design_matrix(codes)
    beta = newton(x, y, beta)
    cur, violations, _ = design_penalty(x @ beta, group)
    clashes = _Clashes(codes, group)
    best = (cur, codes.copy(), beta.copy())
    last, n_macro = 0, 0
    for it in range(steps):
        if cur == 0:
            break
        if it - last > stall:
            if macro is None:
                break
            last, n_macro = it, n_macro + 1
            proposal = macro(design, beta, n_macro)
            if proposal is None:
                continue
            rows_idx, new_codes = proposal
            old = codes[rows_idx].copy()
            codes[rows_idx] = new_codes
            trial = clashes.trial(codes, rows_idx)
            if trial is None:
                codes[rows_idx] = old
                continue
            old_x = x[rows_idx].copy()
            x[rows_idx] = design_matrix(new_codes)
            b2 = refit(x, y, beta, steps=4)
            new, v2, _ = design_penalty(x @ b2, group)
            if new < cur:
                cur, beta, violations = new, b2, v2
                clashes.accept(rows_idx, trial)
                if cur < best[0]:
                    best = (cur, codes.copy(), beta.copy())
            else:
                codes[rows_idx] = old
                x[rows_idx] = old_x
            continue
        move = design.targeted(rng, violations) if violations and rng.random() < targeted else design.propose(rng)
        if move is None:
            continue
        rows, k = move
        touched = [i for ij in rows for i in ij]
        _swap(codes, rows, k)
        trial = clashes.trial(codes, touched)
        if trial is None:
            _swap(codes, rows, k)
            continue
        old_x = x[touched].copy()
        x[touched] = design_matrix(codes[touched])
        b2 = refit(x, y, beta)
        new, v2, _ = design_penalty(x @ b2, group)
        t = temperature * (1 - it / steps) + 1e-6
        if new <= cur or rng.random() < np.exp((cur - new) / t):
            if new < cur - 1e-12:
                last = it
            cur, beta, violations = new, b2, v2
            clashes.accept(touched, trial)
            if cur < best[0]:
                best = (cur, codes.copy(), beta.copy())
        else:
            _swap(codes, rows, k)
            x[touched] = old_x
    return best


def polish(codes, group, y, beta, rng, tries=200):
    """Move unmatched controls off the exact patterns of matched patients (swaps with unmatched controls
    of nearby score, each kept only if the penalty falls). Returns (penalty, codes, model)."""
    x = design_matrix(codes)
    beta = newton(x, y, beta)
    s = x @ beta
    cur = design_penalty(s, group)[0]
    cu = np.flatnonzero(group == CU)
    for _ in range(tries):
        if cur == 0:
            break
        matched = set(pattern_ids(codes[group % 2 == 0]).tolist())
        bad = cu[np.isin(pattern_ids(codes[cu]), list(matched))]
        if len(bad) == 0:
            break
        i = rng.choice(bad)
        j = rng.choice(cu[np.argsort(np.abs(s[cu] - s[i]))[1:20]])
        k = int(rng.integers(codes.shape[1]))
        if codes[i, k] == codes[j, k]:
            continue
        _swap(codes, [(i, j)], k)
        if set(pattern_ids(codes[[i, j]]).tolist()) & matched:
            _swap(codes, [(i, j)], k)
            continue
        old = x[[i, j]].copy()
        x[[i, j]] = design_matrix(codes[[i, j]])
        b2 = refit(x, y, beta, steps=4)
        new = design_penalty(x @ b2, group)[0]
        if new < cur:
            cur, beta, s = new, b2, x @ b2
        else:
            _swap(codes, [(i, j)], k)
            x[[i, j]] = old
    return cur, codes, beta


__all__ = ["Design", "UnmatchedMoves", "steer", "calibrate", "repair", "polish", "refit", "TM", "TU", "CM", "CU"]
