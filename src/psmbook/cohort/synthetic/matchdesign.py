"""The matched design: covariates for which the book's default matching selects the paper's matched tables.

The latent model of :mod:`psmbook.cohort.synthetic.baseline` gives covariates with the paper's per-arm
counts (Table 1 before matching). The paper also prints Table 1 *after* matching: 68 of the 76 treated and 68 of the 215
controls, level by level. This module decides which patients are to be matched (the four *design
groups*: matched and unmatched treated, matched and unmatched controls, each with its exact Table 1
counts, so the unmatched counts are the paper's before-minus-after differences) and rearranges
covariate values until the propensity-score model fitted to the data, and the greedy caliper matching
on it (:mod:`psmbook.cohort.synthetic.psmodel`), select exactly those patients. Every move swaps one
covariate between two patients of one group, so no published count ever changes.

The arrangement that makes the fitted matching predictable:

* most matched pairs are *twins* (same covariate pattern, hence the same score: distance 0);
* the unmatched treated sit at the top of the score range with no control within the caliper;
* the pairs that are not twins (they carry the paper's after-matching differences between the arms,
  so their scores differ) sit just above the unmatched treated, their controls within the caliper;
* unmatched controls never share a pattern with a matched patient.

The fitted model depends on every patient, so the search alternates: *steer* the model (refit after
every move), *build* the arrangement under it, *calibrate* (lower the residuals of the score equations
so that the refitted model stays close), *repair* under the refitted model until every decision of
the real matching agrees with the design, ``spec.design_delta`` clear of a tie. A round that fails is
replaced by a new one (new random moves); all randomness comes from the seed.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize as so
from scipy.special import expit

from psmbook.cohort.synthetic.designsearch import Design, calibrate, polish, repair, steer
from psmbook.cohort.synthetic.psmodel import (
    CM,
    CU,
    TM,
    TU,
    all_patterns,
    coding,
    design_matrix,
    design_penalty,
    greedy_match,
    level_effects,
    newton,
    onehot,
    pattern_ids,
)
from psmbook.cohort.synthetic.spec import ARMS, CONTROL, TREATED, GeneratorSpec
from psmbook.cohort.synthetic.targets import Targets


class MatchDesignError(RuntimeError):
    """No arrangement of the covariates was found for which the default matching selects the paper's
    matched tables (within the allowed number of search rounds), or the tables cannot be arranged."""


def group_targets(tg: Targets) -> dict[int, np.ndarray]:
    """Per design group, the count of every level of every coded variable (one-hot layout)."""
    cd = coding()
    out = {}
    for g, arm, matched in ((TM, TREATED, True), (TU, TREATED, False), (CM, CONTROL, True), (CU, CONTROL, False)):

        def count(column, level):
            after = tg.table1_after[column][level][arm]
            return after if matched else tg.table1[column][level][arm] - after

        lt65, ge65, s1 = count("age_group", "lt65"), count("age_group", "ge65"), count("concurrent_chemo", "s1")
        if s1 > ge65:
            side = "matched" if matched else "unmatched"
            raise MatchDesignError(
                f"{side} {arm}: {s1} S-1 patients but only {ge65} aged 65 or more; S-1 is given from age "
                f"{tg.s1_age_min} only, so no cohort has these Table 1 counts before and after matching"
            )
        parts = [[lt65, ge65 - s1, s1]]
        for column, levels in zip(cd.variables[1:], cd.levels[1:]):
            parts.append([count(column, lv) for lv in levels])
        out[g] = np.concatenate(parts).astype(float)
    return out


def initial_groups(codes, treated, targets, rng):
    """Design groups from the default matching of the latent draw, resized to the paper's numbers, then
    covariate values swapped between matched and unmatched patients of an arm until every group has its
    exact counts (the arm's counts stay those of Table 1)."""
    beta = newton(design_matrix(codes), treated.astype(float))
    matched = greedy_match(design_matrix(codes) @ beta, treated)
    group = np.where(treated, np.where(matched, TM, TU), np.where(matched, CM, CU))
    for gm, gu in ((TM, TU), (CM, CU)):
        n_m = int(targets[gm][: coding().sizes[0]].sum())
        members = np.flatnonzero(group == gm)
        if len(members) > n_m:
            group[rng.choice(members, len(members) - n_m, replace=False)] = gu
        elif len(members) < n_m:
            group[rng.choice(np.flatnonzero(group == gu), n_m - len(members), replace=False)] = gm
    start = coding().onehot_offsets()
    for gm, gu in ((TM, TU), (CM, CU)):
        for k, size in enumerate(coding().sizes):
            want = targets[gm][start[k] : start[k + 1]]
            while True:
                have = np.bincount(codes[group == gm, k], minlength=size)
                diff = have - want
                if not diff.any():
                    break
                level, other = rng.choice(np.flatnonzero(diff > 0)), rng.choice(np.flatnonzero(diff < 0))
                i = rng.choice(np.flatnonzero((group == gm) & (codes[:, k] == level)))
                j = rng.choice(np.flatnonzero((group == gu) & (codes[:, k] == other)))
                codes[i, k], codes[j, k] = other, level
    return codes, group


def climb_unmatched(codes_tu: np.ndarray, beta: np.ndarray, rng, restarts: int = 3) -> np.ndarray:
    """Unmatched-treated patterns (their counts fixed) with the highest lowest score: hill-climbing on
    swaps of one covariate between two of them, from the current patterns and shuffled ones."""
    best = None
    for r in range(restarts):
        c = codes_tu.copy()
        if r:
            for k in range(c.shape[1]):
                c[:, k] = rng.permutation(c[:, k])

        def key(c):
            s = np.sort(design_matrix(c) @ beta)
            return s[0], s[:3].sum()

        cur, improved = key(c), True
        while improved:
            improved = False
            for a in range(len(c)):
                for b in range(a + 1, len(c)):
                    for k in range(c.shape[1]):
                        if c[a, k] == c[b, k]:
                            continue
                        c[[a, b], k] = c[[b, a], k]
                        new = key(c)
                        if new > cur:
                            cur, improved = new, True
                        else:
                            c[[a, b], k] = c[[b, a], k]
        if best is None or cur > best[0]:
            best = (cur, c.copy())
    return best[1]


def _motif(score_all, above, caliper, margin, rng, counts, widths=10):
    """Patterns for the non-twin pairs: treated patterns just above `above`, control patterns within the
    caliper below the highest of them. `counts` is either ("difference", pairs, treated minus control
    level counts, treated maximum, control maximum) or ("fixed", treated counts, control counts).
    Returns (treated pattern ids, control pattern ids), or None if no such patterns exist."""
    hot = onehot(all_patterns())
    n_lv = hot.shape[1]
    for w in np.linspace(0.1, 1.0, widths) * (caliper - margin):
        top = above + margin + w
        zt = np.flatnonzero((score_all > above + margin) & (score_all <= top))
        zc = np.flatnonzero((score_all >= top - (caliper - margin)) & (score_all <= top))
        n1, n2 = len(zt), len(zc)
        if n1 == 0 or n2 == 0:
            continue
        at = np.hstack([hot[zt].T, np.zeros((n_lv, n2))])
        ac = np.hstack([np.zeros((n_lv, n1)), hot[zc].T])
        if counts[0] == "fixed":
            a, lo = np.vstack([at, ac]), np.concatenate(counts[1:])
            hi = lo
        else:
            _, pairs, diff, tm_max, cm_max = counts
            k_row = np.concatenate([np.ones(n1), np.zeros(n2)])[None, :]
            a = np.vstack([np.hstack([hot[zt].T, -hot[zc].T]), k_row, at, ac])
            lo = np.concatenate([diff, [pairs], np.zeros(2 * n_lv)])
            hi = np.concatenate([diff, [pairs], tm_max, cm_max])
        res = so.milp(
            rng.random(n1 + n2),
            integrality=np.ones(n1 + n2),
            bounds=so.Bounds(0, 2),
            constraints=so.LinearConstraint(a, lo, hi),
            options={"time_limit": 3},
        )
        if res.status == 0:
            x = np.rint(res.x).astype(int)
            return np.repeat(zt, x[:n1]), np.repeat(zc, x[n1:])
    return None


def _recode(codes_g, target, rng):
    """Change values within one group until its level counts equal `target`."""
    c = codes_g.copy()
    start = coding().onehot_offsets()
    for k, size in enumerate(coding().sizes):
        want = target[start[k] : start[k + 1]]
        while True:
            diff = np.bincount(c[:, k], minlength=size) - want
            if not diff.any():
                break
            level, other = rng.choice(np.flatnonzero(diff > 0)), rng.choice(np.flatnonzero(diff < 0))
            c[rng.choice(np.flatnonzero(c[:, k] == level)), k] = other
    return c


def _lower_crowd(design: Design, beta, ceiling, rng, steps=40000):
    """Swaps among twin pairs and among unmatched controls until every one of them scores below
    `ceiling` and no unmatched control has a matched patient's pattern. Returns what is left to fix."""
    codes, group = design.codes, design.group
    crowd = np.concatenate([design.crowd_t, design.cu])

    def cost():
        over = np.maximum(0.0, design_matrix(codes[crowd]) @ beta - ceiling).sum()
        matched = set(pattern_ids(codes[group % 2 == 0]).tolist())
        return over + 0.05 * sum(int(q) in matched for q in pattern_ids(codes[design.cu]))

    cur = cost()
    for _ in range(steps):
        if cur == 0:
            break
        move = design.propose(rng, probs=(0.5, 0.5, 0.0, 0.0, 0.0))
        if move is None:
            continue
        rows, k = move
        for a, b in rows:
            codes[[a, b], k] = codes[[b, a], k]
        new = cost()
        if new <= cur:
            cur = new
        else:
            for a, b in rows:
                codes[[a, b], k] = codes[[b, a], k]
    return cur


def build(codes, group, beta, targets, spec: GeneratorSpec, rng):
    """Arrange the covariates under the score model `beta` (see the module docstring). None if the
    arrangement cannot be made under this model."""
    score_all = design_matrix(all_patterns()) @ beta
    s = design_matrix(codes) @ beta
    caliper = 0.2 * float(np.std(s, ddof=1))
    margin = spec.design_margin * caliper
    codes = codes.copy()
    tu = np.flatnonzero(group == TU)
    codes[tu] = climb_unmatched(codes[tu], beta, rng)
    tu_s = design_matrix(codes[tu]) @ beta
    k = spec.design_motif_pairs
    diff = targets[TM] - targets[CM]
    motif = _motif(score_all, tu_s.max(), caliper, margin, rng, ("difference", k, diff, targets[TM], targets[CM]))
    if motif is None:
        return None
    tmm, cmm = motif
    tms, cms = np.flatnonzero(group == TM), np.flatnonzero(group == CM)
    motif_t = tms[np.argsort(-s[tms], kind="stable")[:k]]
    motif_c = cms[np.argsort(-s[cms], kind="stable")[:k]]
    patterns = all_patterns()
    codes[motif_t], codes[motif_c] = patterns[tmm], patterns[cmm]
    crowd_t, crowd_c = np.setdiff1d(tms, motif_t), rng.permutation(np.setdiff1d(cms, motif_c))
    codes[crowd_t] = _recode(codes[crowd_t], targets[TM] - onehot(patterns[tmm]).sum(0), rng)
    codes[crowd_c] = codes[crowd_t]
    partner = np.full(len(group), -1)
    partner[crowd_t], partner[crowd_c] = crowd_c, crowd_t
    partner[motif_t], partner[motif_c] = motif_c, motif_t
    design = Design(codes, group, partner, motif_t, motif_c)
    ceiling = min(tu_s.min(), score_all[cmm].min()) - caliper - margin
    if _lower_crowd(design, beta, ceiling, rng) > 0:
        return None
    return design, caliper


def _macro(targets, spec, rng):
    """Larger repair moves: re-climb the unmatched treated, or re-choose the non-twin pairs' patterns."""

    def propose(design: Design, beta, n):
        if n % 2:
            return design.tu, climb_unmatched(design.codes[design.tu], beta, rng, restarts=2)
        s = design_matrix(design.codes) @ beta
        caliper = 0.2 * float(np.std(s, ddof=1))
        tm_t = onehot(design.codes[design.motif_t]).sum(0)
        cm_t = onehot(design.codes[design.motif_c]).sum(0)
        score_all = design_matrix(all_patterns()) @ beta
        tu_max = float((design_matrix(design.codes[design.tu]) @ beta).max())
        found = _motif(score_all, tu_max, caliper, spec.design_margin * caliper, rng, ("fixed", tm_t, cm_t), 5)
        if found is None:
            return None
        rows = np.concatenate([design.motif_t, design.motif_c])
        new = all_patterns()[np.concatenate([rng.permutation(found[0]), rng.permutation(found[1])])]
        return rows, new

    return propose


def _round(codes0, group, y, beta0, targets, spec: GeneratorSpec, seed):
    """One round of the search (steer, build, calibrate, repair) from its own random stream: the
    rearranged codes, or None."""
    rng = np.random.default_rng(seed)
    direction = targets[TM] - targets[CM]
    steered, beta = steer(
        codes0.copy(), group, y, beta0, rng, direction, group == TU,
        spec.design_steer_difference, spec.design_steer_separation, spec.design_steer_steps,
    )  # fmt: skip
    built = build(steered, group, beta, targets, spec, rng)
    if built is None:
        return None
    design, caliper = built
    beta = calibrate(design, y, beta, rng, spec.design_calibration_steps, caliper_margin=0.15 * caliper)
    macro = _macro(targets, spec, rng)
    pen, best_codes, best_beta = repair(design, y, beta, rng, spec.design_repair_steps, macro)
    if 0 < pen < spec.design_extend_below:
        design.codes[:] = best_codes
        pen, best_codes, best_beta = repair(design, y, best_beta, rng, 2 * spec.design_repair_steps, macro)
    if 0 < pen < spec.design_extend_below:
        pen, best_codes, best_beta = polish(best_codes, group, y, best_beta, rng)
    if pen == 0 and verify(best_codes, group, spec.design_delta):
        return best_codes
    return None


def design_groups(codes: np.ndarray, treated: np.ndarray, spec: GeneratorSpec, tg: Targets, rng, stats=None):
    """Covariate codes and design groups for which the default matching selects the paper's matched
    tables. Raises :class:`MatchDesignError` if no round of the search succeeds. Rounds run in
    ``spec.design_workers`` processes; the result is the first successful round in round order, so it
    does not depend on the number of workers. `stats` (a dict), if given, receives the rounds used."""
    targets = group_targets(tg)
    stats = {} if stats is None else stats
    y = treated.astype(float)
    codes0, group = initial_groups(codes.copy(), treated, targets, rng)
    beta0 = newton(design_matrix(codes0), y)
    root = int(rng.integers(2**62))
    args = (codes0, group, y, beta0, targets, spec)
    n = spec.design_max_rounds
    if spec.design_workers <= 1:
        results = (_round(*args, [root, i]) for i in range(n))
        for i, found in enumerate(results):
            if found is not None:
                stats["rounds"] = i + 1
                return found, group
    else:
        import multiprocessing

        # a pool, not concurrent.futures: leaving the block terminates the rounds still searching (begun ahead in
        # case this one failed), where an executor would wait for them to end, a round's time for nothing
        with multiprocessing.Pool(spec.design_workers) as pool:
            rounds = [pool.apply_async(_round, (*args, [root, i])) for i in range(min(n, spec.design_workers))]
            for i in range(n):
                found = rounds[i].get()
                if found is not None:
                    stats["rounds"] = i + 1
                    return found, group
                if len(rounds) < n:
                    rounds.append(pool.apply_async(_round, (*args, [root, len(rounds)])))
    raise MatchDesignError(
        f"no arrangement found in {n} search rounds for which the default matching selects the paper's "
        "matched tables; raise GeneratorSpec.design_max_rounds or try another seed"
    )


def verify(codes: np.ndarray, group: np.ndarray, delta: float = 1e-5) -> bool:
    """True if the fitted score and the greedy caliper match select exactly the designed groups, every
    decision `delta` clear of a tie."""
    treated = group <= TU
    beta = newton(design_matrix(codes), treated.astype(float))
    s = design_matrix(codes) @ beta
    if not np.isfinite(s).all():
        return False
    matched = greedy_match(s, treated)
    return bool((matched == (group % 2 == 0)).all() and design_penalty(s, group, delta)[0] == 0)


def implied_scores(codes: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """The fitted propensity score (probability) of every patient under the default model."""
    beta = newton(design_matrix(codes), np.asarray(treated, dtype=float))
    return expit(design_matrix(codes) @ beta)


__all__ = ["MatchDesignError", "design_groups", "group_targets", "verify", "level_effects", "ARMS"]


def rearrange(out: dict, spec: GeneratorSpec, tg: Targets, rng) -> None:
    """The matched design applied to the latent model's categorical columns, in place (``out["age"]`` is
    the age band). Adds ``out["_group"]``, the design group of every patient. Table 1 columns outside
    the score model (consolidation chemotherapy, nutritional support) get their after-matching counts by
    swapping values between matched and unmatched patients of an arm."""
    from psmbook.cohort.synthetic.psmodel import BAND_LEVELS, encode

    treated = out["arm"] == TREATED
    stats: dict = {}
    codes, group = design_groups(encode(out), treated, spec, tg, rng, stats)
    out["_design_rounds"] = stats["rounds"]
    cd = coding()
    out["age"] = np.array(BAND_LEVELS, dtype=object)[codes[:, 0]]
    for k, column in enumerate(cd.variables[1:], 1):
        out[column] = np.array(cd.levels[k], dtype=object)[codes[:, k]]
    in_model = set(cd.variables) | {"age_group", "concurrent_chemo"}
    for column in tg.table1:
        if column in in_model:
            continue
        values = out[column]
        for arm, gm, gu in ((TREATED, TM, TU), (CONTROL, CM, CU)):
            for level in tg.table1[column]:
                while (have := int(((group == gm) & (values == level)).sum())) != tg.table1_after[column][level][arm]:
                    surplus = have > tg.table1_after[column][level][arm]
                    src, dst = (gm, gu) if surplus else (gu, gm)
                    i = rng.choice(np.flatnonzero((group == src) & (values == level)))
                    j = rng.choice(np.flatnonzero((group == dst) & (values != level)))
                    values[i], values[j] = values[j], values[i]
        out[column] = values
    out["_group"] = group
