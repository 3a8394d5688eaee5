"""Greedy nearest-neighbour matching in O(n log n), for registry-sized cohorts.

The same matching as :func:`psmbook.matching.nearest.brute_force_match` (MatchIt's ``method = "nearest"``:
treated patients in ``m.order`` each take the nearest control still available on the logit of the
propensity score, within the caliper; 1:k matching in k rounds; or, with replacement, each treated
patient's k nearest controls) and the same result, pair for pair and tie for tie. The brute-force
matcher measures every treated patient's distance to every control (n_treated x n_control work); this
one sorts the controls once and finds each nearest free control without rescanning:

1. Sort the controls by (score, position in the data) and group equal scores into *blocks*. A block's
   members are kept in data order, with a pointer to the first one still free.
2. Locate every treated patient's score among the blocks (one vectorised binary search).
3. Two union-find structures over the blocks point from a block to the nearest block that still has
   a free control, one looking down the scores and one looking up (a used-up block is linked to its
   neighbour; path compression keeps every look-up almost O(1)). A treated patient compares the
   nearest free block below its score with the nearest free block above it, and takes that block's
   first free control if it lies within the caliper.

Cost: one sort (O(n log n)), then O(alpha(n)) amortised per match, so 1:k matching of n patients is
O(n log n + k n_treated alpha(n)) time and O(n) memory; psmpy's ``kdtree_matched`` needs an
n_treated x n_control distance matrix.

Tie rule (the brute-force matcher's, MatchIt's as far as it defines one): among controls equally far
from the treated patient, the one that comes first in the data wins. The structure implements it in
three places:

* controls with the *same score* form one block whose members are handed out in data order, so the
  block's first free member is the earliest of them;
* a control below and a control above the treated patient at the *same distance* (``x - a == b - x``)
  are compared by their data positions, the earlier wins;
* distinct scores on the *same side* can round to the same distance in floating point (the distance is
  computed as ``abs(control - treated)``, exactly as the brute force does). That needs two scores
  within a few units in the last place of each other; blocks that close to a neighbour are flagged
  when sorting, and for them every block at the minimum distance is compared by data position.

Distances compare exactly as in the brute force (the same float subtraction), so the caliper admits the
same controls. With replacement there is no competition: each treated patient takes its k nearest
controls ordered by (distance, data position), walking outwards from its score one block at a time.

Checks (tests/test_fastmatch.py): identical to the brute force on random cohorts, ties included; the
same greedy as psmpy's ``kdtree_matched`` (1:1, with or without caliper and replacement) except where
psmpy meets a tie, which it breaks by KD-tree order and by squared distance (so distances a few units
in the last place apart, or below about 1e-154, tie for psmpy and not here). psmpy's 1:k matcher
``kdtree_matched_12n`` is no reference for k >= 2: it collects round 1 for every treated patient, then
round 2, in one flat list, and reshapes that list row by row into n_treated x k, so each row holds
other patients' controls (read column by column, the list is MatchIt's rounds without a caliper).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.matching.result import ORDERS, MatchResult, caliper_width, check_match_inputs

MATCHER = "fast"  # its name in ``MatchResult.settings["matcher"]``
_INF = float("inf")


def fast_match(
    distance: pd.Series,
    treated: pd.Series,
    *,
    caliper_sd: float | None = 0.2,
    ratio: int = 1,
    replace: bool = False,
    order: str = "largest",
    seed: int | None = None,
) -> MatchResult:
    """Greedy 1:k nearest-neighbour matching on ``distance`` (indexed by patient id), in O(n log n).

    Arguments and result as :func:`psmbook.matching.nearest.nearest_neighbour_match`; identical pairs, ids,
    caliper and settings (``settings["matcher"]`` is ``"fast"``).
    """
    is_treated = check_match_inputs(distance, treated, ratio)
    ratio = int(ratio)
    caliper = caliper_width(distance, caliper_sd)
    if order not in ORDERS:
        raise ValueError(f"match order must be one of {ORDERS}, got {order!r}")
    x = distance.to_numpy(dtype=float)
    tpos = np.flatnonzero(is_treated)
    cpos = np.flatnonzero(~is_treated)
    tord = tpos[_order_positions(x[tpos], order, seed)]  # treated, in matching order (data positions)
    xt = x[tord]
    cx = x[cpos]

    controls = _Blocks(cx, x)
    if replace:
        row_t, row_c = _match_with_replacement(controls, xt, ratio, caliper)
    else:
        row_t, row_c = _match_without_replacement(controls, xt, ratio, caliper)

    index = distance.index
    treated_ids = index[tord].tolist()
    # rows grouped by treated patient (in matching order), each patient's controls in the order chosen
    if ratio > 1:
        grouped = np.argsort(row_t, kind="stable")
        row_t, row_c = row_t[grouped], row_c[grouped]
    first_of_set = np.ones(len(row_t), dtype=bool)
    first_of_set[1:] = row_t[1:] != row_t[:-1]
    pair = np.cumsum(first_of_set)
    gap = np.abs(cx[row_c] - xt[row_t])
    if len(row_t):
        pairs = pd.DataFrame(
            {
                "pair": pair.astype(int),
                "treated_id": index[tord[row_t]].to_numpy(),
                "control_id": index[cpos[row_c]].to_numpy(),
                "distance": gap,
            }
        )
    else:  # the empty frame exactly as the brute-force matcher builds it
        pairs = pd.DataFrame([], columns=["treated_id", "control_id", "distance"])
        pairs.insert(0, "pair", pairs["treated_id"].astype(int))
    settings = {
        "caliper_sd": caliper_sd,
        "ratio": ratio,
        "replace": bool(replace),
        "order": order,
        "matcher": MATCHER,
    }
    return MatchResult(
        pairs,
        treated_ids if order != "random" else index[tpos].tolist(),
        index[cpos].tolist(),
        caliper,
        settings,
    )


def _order_positions(values: np.ndarray, order: str, seed: int | None) -> np.ndarray:
    """Positions of the treated patients in matching order; :func:`matching.treated_order`, vectorised."""
    if order == "data":
        return np.arange(len(values))
    if order == "random":
        # Generator.permutation shuffles an id array and an arange alike (same draws, same swaps)
        return np.random.default_rng(seed).permutation(len(values))
    return np.argsort(-values if order == "largest" else values, kind="stable")


class _Blocks:
    """Controls sorted by (score, data position), equal scores grouped into blocks."""

    def __init__(self, cx: np.ndarray, every_score: np.ndarray):
        m = len(cx)
        perm = np.argsort(cx)  # introsort: faster than a stable sort, ties in any order
        xs = cx[perm]
        new = np.empty(m, dtype=bool)
        new[:1] = True
        np.not_equal(xs[1:], xs[:-1], out=new[1:])
        self.starts = np.flatnonzero(new)
        if len(self.starts) < m:  # equal scores: put each block's members in data order
            size = np.diff(np.append(self.starts, m))
            shared = np.repeat(size > 1, size)
            block = np.repeat(np.arange(len(size)), size)[shared]
            members = perm[shared]
            perm[shared] = members[np.lexsort((members, block))]
        self.perm = perm  # control positions by (score, data position)
        self.ends = np.append(self.starts[1:], m)
        self.values = xs[self.starts]
        self.n = len(self.starts)
        # Blocks closer to a neighbour than this can round to the same distance from some treated score:
        # distances are below 2 max|x|, where a float is within spacing(2 max|x|) / 2 of the true value.
        eps = 4 * np.spacing(2 * float(np.max(np.abs(every_score))))
        close = np.diff(self.values) <= eps
        self.close_below = np.concatenate([[False], close])  # block b within eps of block b - 1
        self.close_above = np.concatenate([close, [False]])  # block b within eps of block b + 1
        self.any_close = bool(close.any())


def _match_without_replacement(
    blocks: _Blocks, xt: np.ndarray, ratio: int, caliper: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """MatchIt's rounds: each round every still-matchable treated patient, in order, takes the nearest
    free control within the caliper; a patient who finds none is not tried again.

    Returns (treated index in matching order, control position) of every match, in the order made.
    """
    nb = blocks.n
    cal = _INF if caliper is None else caliper
    # Union-find over blocks. ``down`` uses shifted nodes (block b is node b + 1; node 0 means "no free
    # block below"); ``up`` uses block b as node b (node nb means "no free block above").
    down = list(range(nb + 1))
    up = down.copy()
    values = blocks.values.tolist()
    below = [-_INF] + values  # below[b + 1]: score of block b
    above = values + [_INF]  # above[b]: score of block b
    nxt = blocks.starts.tolist()  # sorted position of each block's first free control
    end = blocks.ends.tolist()
    if blocks.any_close:
        close_below, close_above = blocks.close_below.tolist(), blocks.close_above.tolist()
    else:  # no two scores close enough to round to one distance
        close_below = close_above = None
    tied = _tied_block
    # the first block above each treated score (blocks below it have scores <= the treated score)
    first_above = np.searchsorted(blocks.values, xt, side="right").tolist()
    xt_list = xt.tolist()

    out_t: list[int] = []
    out_p: list[int] = []
    take_t, take_p = out_t.append, out_p.append
    active = range(len(xt_list))
    for _ in range(ratio):
        still = []
        keep = still.append
        for k in active:
            t = xt_list[k]
            a = b = first_above[k]
            # nearest free block below (node a is block a - 1), with path compression
            r = down[a]
            if r != a:
                q = down[r]
                while q != r:
                    r = q
                    q = down[r]
                while a != r:
                    q = down[a]
                    down[a] = r
                    a = q
            # nearest free block above (node b is block b)
            r = up[b]
            if r != b:
                q = up[r]
                while q != r:
                    r = q
                    q = up[r]
                while b != r:
                    q = up[b]
                    up[b] = r
                    b = q
            gap_below = t - below[a]  # = abs(control - t), as the brute force computes it
            gap_above = above[b] - t
            if gap_below < gap_above:
                if gap_below > cal:
                    continue
                block = a - 1
                if close_below is not None and close_below[block]:
                    block = tied(nb, t, a, b, gap_below, down, up, below, above, blocks.perm, nxt)
            elif gap_above < gap_below:
                if gap_above > cal:
                    continue
                block = b
                if close_above is not None and close_above[block]:
                    block = tied(nb, t, a, b, gap_above, down, up, below, above, blocks.perm, nxt)
            elif gap_below > cal or gap_below == _INF:  # none close enough, or no free control left
                continue
            else:  # as far below as above: earlier in the data wins
                block = tied(nb, t, a, b, gap_below, down, up, below, above, blocks.perm, nxt)
            p = nxt[block]
            take_t(k)
            take_p(p)
            p += 1
            nxt[block] = p
            if p == end[block]:  # block used up: link it to its neighbours
                down[block + 1] = block
                up[block] = block + 1
            keep(k)
        active = still
        if not active:
            break
    return (
        np.asarray(out_t, dtype=np.intp),
        blocks.perm[np.asarray(out_p, dtype=np.intp)].astype(np.intp, copy=False),
    )


def _find(parent: list, node: int) -> int:
    root = node
    while parent[root] != root:
        root = parent[root]
    while node != root:
        parent[node], node = root, parent[node]
    return root


def _tied_block(nb, t, a, b, gap, down, up, below, above, perm, nxt) -> int:
    """Among the free blocks at exactly ``gap`` from ``t`` (both sides), the one whose first free
    control comes first in the data. ``a``/``b`` are the nearest free nodes below/above."""
    best, best_pos = -1, None
    while a > 0 and t - below[a] == gap:
        pos = int(perm[nxt[a - 1]])
        if best_pos is None or pos < best_pos:
            best, best_pos = a - 1, pos
        a = _find(down, a - 1)
    while b < nb and above[b] - t == gap:
        pos = int(perm[nxt[b]])
        if best_pos is None or pos < best_pos:
            best, best_pos = b, pos
        b = _find(up, b + 1)
    return best


def _match_with_replacement(
    blocks: _Blocks, xt: np.ndarray, ratio: int, caliper: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each treated patient's ``ratio`` nearest controls within the caliper, by (distance, data
    position); controls may serve several treated patients."""
    if ratio == 1:
        return _nearest_with_replacement(blocks, xt, caliper)
    cal = _INF if caliper is None else caliper
    values = blocks.values.tolist()
    starts = blocks.starts.tolist()
    ends = blocks.ends.tolist()
    perm = blocks.perm.tolist()
    nb = blocks.n
    first_above = np.searchsorted(blocks.values, xt, side="right").tolist()
    out_t: list[int] = []
    out_c: list[int] = []
    for k, t in enumerate(xt.tolist()):
        candidates = []  # (distance, data position) of controls in reach
        for step, block in ((-1, first_above[k] - 1), (1, first_above[k])):
            taken = 0
            last_gap = None
            while 0 <= block < nb:
                gap = abs(values[block] - t)
                if gap > cal or (taken >= ratio and gap != last_gap):
                    break
                members = perm[starts[block] : min(ends[block], starts[block] + ratio)]
                candidates += [(gap, c) for c in members]
                taken += len(members)
                last_gap = gap
                block += step
        candidates.sort()
        for _, c in candidates[:ratio]:
            out_t.append(k)
            out_c.append(c)
    return np.asarray(out_t, dtype=np.intp), np.asarray(out_c, dtype=np.intp)


def _nearest_with_replacement(blocks: _Blocks, xt: np.ndarray, caliper: float | None) -> tuple[np.ndarray, np.ndarray]:
    """1:1 with replacement, vectorised: the nearer of the blocks either side of each treated score."""
    nb = blocks.n
    i = np.searchsorted(blocks.values, xt, side="right")
    lo, hi = np.maximum(i - 1, 0), np.minimum(i, nb - 1)
    gap_lo = np.where(i > 0, np.abs(blocks.values[lo] - xt), np.inf)
    gap_hi = np.where(i < nb, np.abs(blocks.values[hi] - xt), np.inf)
    first_lo = blocks.perm[blocks.starts[lo]]  # a block's first member comes first in the data
    first_hi = blocks.perm[blocks.starts[hi]]
    take_lo = (gap_lo < gap_hi) | ((gap_lo == gap_hi) & (first_lo < first_hi))
    gap = np.where(take_lo, gap_lo, gap_hi)
    control = np.where(take_lo, first_lo, first_hi)
    ok = np.isfinite(gap) if caliper is None else gap <= caliper
    # scores that could round to the same distance as a neighbouring block: settle them exactly
    if blocks.any_close:
        near = ok & ((blocks.close_below[lo] & (gap_lo == gap)) | (blocks.close_above[hi] & (gap_hi == gap)))
        for k in np.flatnonzero(near):
            t = float(xt[k])
            best = None
            for step, block in ((-1, int(lo[k])), (1, int(hi[k]))):
                if (step < 0 and i[k] == 0) or (step > 0 and i[k] == nb):
                    continue
                while 0 <= block < nb and abs(float(blocks.values[block]) - t) == gap[k]:
                    cand = int(blocks.perm[blocks.starts[block]])
                    best = cand if best is None else min(best, cand)
                    block += step
            control[k] = best
    rows = np.flatnonzero(ok)
    return rows.astype(np.intp), control[rows].astype(np.intp)
