"""Greedy nearest-neighbour matching on the logit of the propensity score, as MatchIt does it.

Vocabulary and defaults follow R's MatchIt (``method = "nearest"``): the estimand is the ATT, the
distance is the logit of the propensity score, the caliper is given in standard deviations of that
distance over the whole sample (``std.caliper = TRUE``; Austin 2011 recommends 0.2), treated patients
are matched one after the other in ``m.order`` (``"largest"`` score first by default), each taking the
nearest control still available, and 1:k matching runs k rounds.

Ties in distance go to the control that comes first in the data, so the result is deterministic.

Two implementations give the same result, pair for pair and tie for tie: ``brute_force_match`` measures
every treated patient's distance to every control (n_treated x n_control work: simple, and the
reference the tests hold the other to), and :func:`psmbook.matching.fast.fast_match` sorts the scores once
and finds each nearest free control through union-find pointers (O(n log n); registry-sized cohorts).
``nearest_neighbour_match`` runs the fast one unless told otherwise and records which one ran in
``result.settings["matcher"]``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.matching.fast import fast_match
from psmbook.matching.result import MatchResult, caliper_width, check_match_inputs, treated_order

MATCHERS = ("fast", "brute-force")
MATCHER_LABELS = {  # what each matcher is, in words, for the book's prose
    "fast": "the book's O(n log n) greedy matcher (scores sorted once, union-find pointers to the nearest "
    "free control), which gives the same pairs as measuring every treated patient against every "
    "control and runs on registries of a million patients",
    "brute-force": "the book's brute-force greedy matcher, which measures every treated patient against every control",
}


def nearest_neighbour_match(
    distance: pd.Series,
    treated: pd.Series,
    *,
    caliper_sd: float | None = 0.2,
    ratio: int = 1,
    replace: bool = False,
    order: str = "largest",
    seed: int | None = None,
    matcher: str = "fast",
) -> MatchResult:
    """Greedy 1:k nearest-neighbour matching on ``distance`` (indexed by patient id).

    ``treated`` is a boolean Series with the same index. Returns every treated patient's controls.
    ``matcher`` chooses the implementation: ``"fast"`` (:func:`psmbook.matching.fast.fast_match`, O(n log n),
    the default at every size) or ``"brute-force"`` (:func:`brute_force_match`, n_treated x n_control
    work). Both give the same result; ``result.settings["matcher"]`` names the one that ran.
    """
    if matcher not in MATCHERS:
        raise ValueError(f"matcher must be one of {MATCHERS}, got {matcher!r}")
    if matcher == "brute-force":
        return brute_force_match(
            distance, treated, caliper_sd=caliper_sd, ratio=ratio, replace=replace, order=order, seed=seed
        )
    return fast_match(distance, treated, caliper_sd=caliper_sd, ratio=ratio, replace=replace, order=order, seed=seed)


def brute_force_match(
    distance: pd.Series,
    treated: pd.Series,
    *,
    caliper_sd: float | None = 0.2,
    ratio: int = 1,
    replace: bool = False,
    order: str = "largest",
    seed: int | None = None,
) -> MatchResult:
    """Greedy 1:k nearest-neighbour matching by brute force: each treated patient in turn measures its
    distance to every control (n_treated x n_control work). The reference implementation; see
    ``nearest_neighbour_match`` for the arguments.
    """
    is_treated = check_match_inputs(distance, treated, ratio)
    caliper = caliper_width(distance, caliper_sd)
    control_ids = np.array(distance.index[~is_treated], dtype=object)
    control_x = distance.to_numpy(dtype=float)[~is_treated]
    available = np.ones(len(control_ids), dtype=bool)
    order_ids = treated_order(distance, treated, order, seed)
    chosen: dict = {t: [] for t in order_ids}
    failed: set = set()
    rows = []
    for _ in range(int(ratio)):
        for t in order_ids:
            if t in failed:
                continue
            gap = np.abs(control_x - float(distance.loc[t]))
            allowed = available.copy() if not replace else np.ones_like(available)
            if replace and chosen[t]:
                allowed &= ~np.isin(control_ids, chosen[t])
            if caliper is not None:
                allowed &= gap <= caliper
            if not allowed.any():
                failed.add(t)
                continue
            candidates = np.flatnonzero(allowed)
            best = candidates[np.argmin(gap[candidates])]  # first in data order among ties
            chosen[t].append(control_ids[best])
            rows.append((t, control_ids[best], float(gap[best])))
            if not replace:
                available[best] = False
    pairs = pd.DataFrame(rows, columns=["treated_id", "control_id", "distance"])
    set_number = {t: i + 1 for i, t in enumerate(t for t in order_ids if chosen[t])}
    pairs.insert(0, "pair", pairs["treated_id"].map(set_number).astype(int))
    pairs = pairs.sort_values(["pair"], kind="stable").reset_index(drop=True)
    settings = {
        "caliper_sd": caliper_sd,
        "ratio": int(ratio),
        "replace": bool(replace),
        "order": order,
        "matcher": "brute-force",
    }
    return MatchResult(
        pairs,
        order_ids if order != "random" else list(distance.index[is_treated]),
        list(control_ids),
        caliper,
        settings,
    )
