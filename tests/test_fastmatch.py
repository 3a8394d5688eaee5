"""The O(n log n) matcher against the brute-force matcher, an independent reference and psmpy.

Random cohorts come from hypothesis: continuous scores, integer-rounded scores (ties everywhere: equal
scores, and controls as far below a treated patient as above it) and scores a few units in the last
place apart (distinct scores that round to the same distance). Against the brute force the result must
be identical, ties included; psmpy breaks ties by KD-tree order, so its run is checked step by step to
be the same greedy with *some* choice among equally distant controls, and pair for pair where no tie
arose.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psmbook.matching.fast import fast_match
from psmbook.matching.nearest import brute_force_match, nearest_neighbour_match
from psmbook.matching.psmpy_compare import compare_pairings, psmpy_kdtree_match
from psmbook.matching.result import caliper_width

FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
PSMPY = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SCORE_KINDS = ("continuous", "integer", "ulp")


@st.composite
def cohorts(draw, kinds=SCORE_KINDS, psmpy_runs=False, int_ids=None):
    """(distance, treated): a small cohort in random data order.

    ``psmpy_runs``: fewer treated than controls and at least two controls, where psmpy's
    ``kdtree_matched`` matches treated to controls (otherwise it swaps the arms).
    """
    kind = draw(st.sampled_from(kinds))
    n_control = draw(st.integers(2, 16))
    n_treated = draw(st.integers(1, n_control - 1 if psmpy_runs else 16))
    n = n_control + n_treated
    if kind == "continuous":
        values = st.floats(-6, 6, allow_nan=False, allow_subnormal=False)
    elif kind == "integer":
        values = st.integers(-3, 3).map(float)
    else:  # a few ulps around a base, and far-away scores whose distances to them round together
        base = draw(st.sampled_from([0.1, 0.3, -7.25, 1e3]))
        values = st.one_of(
            st.integers(-4, 4).map(lambda k: base + k * float(np.spacing(base))),
            st.sampled_from([1.0, -1.0, 0.9, 20.0]),
        )
    scores = draw(st.lists(values, min_size=n, max_size=n))
    is_treated = np.array([True] * n_treated + [False] * n_control)
    order = draw(st.permutations(range(n)))
    use_int = draw(st.booleans()) if int_ids is None else int_ids
    ids = [1000 + i for i in range(n)] if use_int else [f"P{i:02d}" for i in range(n)]
    distance = pd.Series(np.array(scores)[order], index=ids, dtype=float)
    return distance, pd.Series(is_treated[order], index=ids)


def grid_cohorts():
    """Controls on the integers, treated patients a quarter past one: ties only among controls with
    the same score, which are interchangeable, so every tie-break gives the same match up to them."""

    @st.composite
    def build(draw):
        n_control = draw(st.integers(2, 16))
        n_treated = draw(st.integers(1, n_control - 1))
        controls = draw(st.lists(st.integers(-3, 3), min_size=n_control, max_size=n_control))
        treated = draw(st.lists(st.integers(-3, 3), min_size=n_treated, max_size=n_treated))
        scores = np.array([float(c) for c in controls] + [t + 0.25 for t in treated])
        is_treated = np.array([False] * n_control + [True] * n_treated)
        order = draw(st.permutations(range(len(scores))))
        ids = [f"P{i:02d}" for i in range(len(scores))]
        return (pd.Series(scores[order], index=ids), pd.Series(is_treated[order], index=ids))

    return build()


calipers = st.one_of(st.none(), st.sampled_from([0.05, 0.2, 0.5, 1.0]))


def assert_same_result(fast, brute):
    pd.testing.assert_frame_equal(fast.pairs, brute.pairs)
    assert fast.treated_ids == brute.treated_ids
    assert fast.control_ids == brute.control_ids
    assert fast.caliper == brute.caliper
    assert {k: v for k, v in fast.settings.items() if k != "matcher"} == {
        k: v for k, v in brute.settings.items() if k != "matcher"
    }
    assert (fast.settings["matcher"], brute.settings["matcher"]) == ("fast", "brute-force")


def reference_greedy(distance, treated, caliper, ratio, replace, order_ids):
    """MatchIt's greedy, written independently in plain Python: rounds; nearest by (distance, data
    position); a treated patient without a control in a round drops out; with replacement a patient's
    controls are its k nearest distinct ones."""
    x = distance.to_dict()
    controls = [i for i in distance.index if not treated[i]]
    free = set(controls)
    chosen = {t: [] for t in order_ids}
    out = set(order_ids)
    for _ in range(ratio):
        for t in order_ids:
            if t not in out:
                continue
            pool = [c for c in controls if (c not in chosen[t] if replace else c in free)]
            ranked = sorted((abs(x[c] - x[t]), controls.index(c), c) for c in pool)
            ranked = [r for r in ranked if caliper is None or r[0] <= caliper]
            if not ranked:
                out.discard(t)
                continue
            chosen[t].append(ranked[0][2])
            free.discard(ranked[0][2])
    return [(t, c) for t in order_ids for c in chosen[t]]


def greedy_ties_in(found: pd.DataFrame, distance, treated, order_ids, caliper, replace, kdtree: bool = False) -> int:
    """Check that ``found`` (treated_id, control_id) is a run of the greedy matcher in which every
    treated patient, in order, took one of its nearest free controls within the caliper (or none if
    there was none). Returns how many steps had a choice among equally distant controls.

    ``kdtree``: measure distance as scikit-learn's KD-tree (psmpy's) does, ranking by the squared
    difference and taking its square root for the caliper. Squaring rounds distances a few units in the
    last place apart to one value and turns differences below about 1e-154 into 0, so psmpy sees ties
    there that the brute force does not; either way the nearest by ``abs`` is among the nearest by the
    square.
    """
    x = distance.to_dict()
    taken = dict(zip(found["treated_id"], found["control_id"]))
    assert len(taken) == len(found) and set(taken) <= set(order_ids)
    free = [c for c in distance.index if not treated[c]]
    everyone = list(free)
    ties = 0
    for t in order_ids:
        if kdtree:
            rank = {c: (x[c] - x[t]) * (x[c] - x[t]) for c in (everyone if replace else free)}
            within = {c: r for c, r in rank.items() if caliper is None or np.sqrt(r) <= caliper}
        else:
            gaps = {c: abs(x[c] - x[t]) for c in (everyone if replace else free)}
            within = {c: g for c, g in gaps.items() if caliper is None or g <= caliper}
        if not within:
            assert t not in taken, f"{t} was matched although no free control lies within the caliper"
            continue
        best = min(within.values())
        nearest = [c for c, g in within.items() if g == best]
        assert t in taken, f"{t} was left unmatched although {nearest} were free"
        assert taken[t] in nearest, f"{t} took {taken[t]}, not one of its nearest free controls {nearest}"
        ties += len(nearest) > 1
        if not replace:
            free.remove(taken[t])
    return ties


# --- identical to the brute-force matcher ------------------------------------------------------


@FAST
@given(
    cohort=cohorts(),
    caliper_sd=calipers,
    ratio=st.integers(1, 3),
    order=st.sampled_from(["largest", "smallest", "data", "random"]),
    seed=st.integers(0, 2**16),
)
def test_fast_matcher_equals_the_brute_force_ties_included(cohort, caliper_sd, ratio, order, seed):
    distance, treated = cohort
    kwargs = dict(caliper_sd=caliper_sd, ratio=ratio, order=order, seed=seed)
    assert_same_result(fast_match(distance, treated, **kwargs), brute_force_match(distance, treated, **kwargs))


@FAST
@given(
    cohort=cohorts(),
    caliper_sd=calipers,
    ratio=st.integers(1, 3),
    order=st.sampled_from(["largest", "smallest", "data", "random"]),
    seed=st.integers(0, 2**16),
)
def test_with_replacement_equals_the_brute_force_ties_included(cohort, caliper_sd, ratio, order, seed):
    distance, treated = cohort
    replace = True
    kwargs = dict(caliper_sd=caliper_sd, ratio=ratio, replace=replace, order=order, seed=seed)
    assert_same_result(fast_match(distance, treated, **kwargs), brute_force_match(distance, treated, **kwargs))


@FAST
@given(
    cohort=cohorts(),
    caliper_sd=calipers,
    ratio=st.integers(1, 3),
    replace=st.booleans(),
    order=st.sampled_from(["largest", "smallest", "data"]),
)
def test_one_to_k_and_replacement_equal_an_independent_reference(cohort, caliper_sd, ratio, replace, order):
    distance, treated = cohort
    result = fast_match(distance, treated, caliper_sd=caliper_sd, ratio=ratio, replace=replace, order=order)
    expected = reference_greedy(distance, treated, result.caliper, ratio, replace, result.treated_ids)
    assert list(zip(result.pairs["treated_id"], result.pairs["control_id"])) == expected
    assert (result.pairs["distance"] == [abs(distance[t] - distance[c]) for t, c in expected]).all()


def test_larger_cohort_with_heavy_ties_equals_the_brute_force():
    rng = np.random.default_rng(7)
    n = 3000
    ids = [f"R{i:05d}" for i in rng.permutation(n)]
    treated = pd.Series(rng.random(n) < 0.3, index=ids)
    distance = pd.Series(np.round(rng.normal(size=n) + treated * 0.6, 1), index=ids)
    for kwargs in (
        dict(caliper_sd=0.2),
        dict(caliper_sd=None, ratio=2),
        dict(caliper_sd=0.1, ratio=3, replace=True),
        dict(caliper_sd=0.2, replace=True),
        dict(caliper_sd=0.2, order="random", seed=5),
    ):
        assert_same_result(fast_match(distance, treated, **kwargs), brute_force_match(distance, treated, **kwargs))


def test_tie_rule_first_in_the_data_wins_on_either_side():
    # C2 is as far below T1 as C1 is above it; C2 comes first in the data, so T1 takes it.
    scores = pd.Series({"C2": -0.5, "T1": 0.0, "C1": 0.5, "C3": 0.5})
    treated = pd.Series({"C2": False, "T1": True, "C1": False, "C3": False})
    for replace in (False, True):
        result = fast_match(scores, treated, caliper_sd=None, replace=replace)
        assert result.pairs["control_id"].tolist() == ["C2"]
        # ... and if C1 comes first in the data, C1
        swapped = scores[["C1", "T1", "C2", "C3"]]
        assert fast_match(swapped, treated[swapped.index], caliper_sd=None, replace=replace).pairs[
            "control_id"
        ].tolist() == ["C1"]
    # equal scores: the earlier of C1 and C3 serves first, the other in the next round
    assert fast_match(scores.drop("C2"), treated.drop("C2"), caliper_sd=None, ratio=2).pairs["control_id"].tolist() == [
        "C1",
        "C3",
    ]


def test_distinct_scores_that_round_to_the_same_distance_go_to_the_earlier_control():
    # 0.1 and the next float above it are both 0.9 from 1.0 in floating point: the earlier one wins,
    # although the later one is the nearer on paper (and sorts nearer to the treated patient).
    above = float(np.nextafter(0.1, 1.0))
    assert 1.0 - 0.1 == 1.0 - above
    scores = pd.Series({"C_low": 0.1, "C_high": above, "T": 1.0, "C_far": 5.0})
    treated = pd.Series({"C_low": False, "C_high": False, "T": True, "C_far": False})
    for kwargs in (dict(), dict(replace=True)):
        result = fast_match(scores, treated, caliper_sd=None, **kwargs)
        assert result.pairs["control_id"].tolist() == ["C_low"]
        assert_same_result(result, brute_force_match(scores, treated, caliper_sd=None, **kwargs))


def test_a_control_exactly_at_the_caliper_is_allowed():
    # the caliper admits distances <= its width, as MatchIt's and the brute force's do
    scores = pd.Series({"T1": 0.0, "C1": 0.75, "C2": 3.0, "T2": 1.5, "C3": -2.0})
    treated = pd.Series({i: i.startswith("T") for i in scores.index})
    sd = float(np.std(scores.to_numpy(), ddof=1))
    caliper_sd = 0.75 / sd
    while caliper_width(scores, caliper_sd) < 0.75:  # step to the float that makes it exactly 0.75
        caliper_sd = float(np.nextafter(caliper_sd, np.inf))
    while caliper_width(scores, caliper_sd) > 0.75:
        caliper_sd = float(np.nextafter(caliper_sd, -np.inf))
    assert caliper_width(scores, caliper_sd) == 0.75
    for replace in (False, True):
        result = fast_match(scores, treated, caliper_sd=caliper_sd, replace=replace)
        assert set(result.pairs["distance"]) == {0.75}
        assert_same_result(result, brute_force_match(scores, treated, caliper_sd=caliper_sd, replace=replace))
        narrower = fast_match(scores, treated, caliper_sd=float(np.nextafter(caliper_sd, 0)), replace=replace)
        assert narrower.pairs.empty


def test_same_inputs_same_output():
    rng = np.random.default_rng(11)
    n = 20_000
    ids = [f"P{i:06d}" for i in range(n)]
    treated = pd.Series(rng.random(n) < 0.1, index=ids)
    distance = pd.Series(np.round(rng.normal(size=n), 2), index=ids)
    for kwargs in (dict(), dict(order="random", seed=3), dict(ratio=3), dict(replace=True, ratio=2)):
        first, second = fast_match(distance, treated, **kwargs), fast_match(distance, treated, **kwargs)
        pd.testing.assert_frame_equal(first.pairs, second.pairs)
        assert first.treated_ids == second.treated_ids and first.settings == second.settings
    other_seed = fast_match(distance, treated, order="random", seed=4)
    assert not other_seed.pairs.equals(fast_match(distance, treated, order="random", seed=3).pairs)


def test_book_matcher_runs_the_fast_one_and_says_so():
    scores = pd.Series({"T1": 0.0, "T2": 0.1, "C1": 0.05, "C2": -0.3, "C3": 0.5})
    treated = scores.index.str.startswith("T")
    treated = pd.Series(treated, index=scores.index)
    assert nearest_neighbour_match(scores, treated).settings["matcher"] == "fast"
    assert nearest_neighbour_match(scores, treated, matcher="brute-force").settings["matcher"] == "brute-force"
    with pytest.raises(ValueError, match="matcher"):
        nearest_neighbour_match(scores, treated, matcher="kd-tree")
    with pytest.raises(ValueError, match="finite"):
        nearest_neighbour_match(scores.replace(0.5, np.nan), treated)
    with pytest.raises(ValueError, match="match order"):
        fast_match(scores, treated, order="best")


# --- the same greedy as psmpy's kdtree_matched -------------------------------------------------


def _psmpy_checked(distance, treated, caliper_sd, replace, order):
    ours = fast_match(distance, treated, caliper_sd=caliper_sd, replace=replace, order=order)
    theirs = psmpy_kdtree_match(distance, treated, caliper=ours.caliper, replace=replace, order=ours.treated_ids)
    return ours, theirs


@PSMPY
@given(
    cohort=cohorts(psmpy_runs=True, int_ids=False),
    caliper_sd=calipers,
    replace=st.booleans(),
    order=st.sampled_from(["largest", "smallest", "data"]),
)
def test_psmpy_kdtree_matched_is_the_same_greedy_ties_aside(cohort, caliper_sd, replace, order):
    distance, treated = cohort
    ours, theirs = _psmpy_checked(distance, treated, caliper_sd, replace, order)
    greedy_ties_in(ours.pairs, distance, treated, ours.treated_ids, ours.caliper, replace)
    if greedy_ties_in(theirs, distance, treated, ours.treated_ids, ours.caliper, replace, kdtree=True) == 0:
        # psmpy never had a choice, so neither did we: pair for pair the same
        assert sorted(zip(theirs["treated_id"], theirs["control_id"])) == sorted(
            zip(ours.pairs["treated_id"], ours.pairs["control_id"])
        )


@PSMPY
@given(
    cohort=grid_cohorts(),
    caliper_sd=calipers,
    replace=st.booleans(),
    order=st.sampled_from(["largest", "smallest", "data"]),
)
def test_psmpy_agrees_up_to_equally_distant_controls(cohort, caliper_sd, replace, order):
    # Every tie here is between controls with the same score, so the runs cannot drift apart: the same
    # treated patients are matched, each to a control with the same score (compare_pairings: a tie).
    distance, treated = cohort
    ours, theirs = _psmpy_checked(distance, treated, caliper_sd, replace, order)
    agreement = compare_pairings(ours, theirs, distance)
    assert agreement["same_treated"] and agreement["differ"] == agreement["differ_by_tie"]
    ours_scores = ours.pairs.set_index("treated_id")["control_id"].map(distance)
    theirs_scores = theirs.set_index("treated_id")["control_id"].map(distance)
    pd.testing.assert_series_equal(ours_scores.sort_index(), theirs_scores.sort_index(), check_names=False)


# --- psmpy's kdtree_matched_12n cannot check 1:k matching ----------------------------------------


def psmpy_12n(distance: pd.Series, treated: pd.Series, k: int, order: list) -> pd.DataFrame:
    """psmpy's ``kdtree_matched_12n(how_many=k)`` on the given scores: its ``matched_ids`` table."""
    from psmpy import PsmPy

    controls = list(distance.index[~np.asarray(treated, dtype=bool)])
    ids = controls + list(order)
    frame = pd.DataFrame(
        {
            "patient": ids,
            "propensity_logit": distance.loc[ids].to_numpy(dtype=float),
            "treatment": [0] * len(controls) + [1] * len(order),
        }
    )
    matcher = PsmPy.__new__(PsmPy)
    matcher.treatment, matcher.indx, matcher.predicted_data = "treatment", "patient", frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matcher.kdtree_matched_12n(matcher="propensity_logit", how_many=k)
    return matcher.matched_ids.set_index("patient")


def test_psmpy_12n_gives_treated_patients_other_patients_controls_for_k_of_2():
    # psmpy collects round 1 for every treated patient, then round 2, in one flat list, and reshapes it
    # row by row (n_treated x k): row T1 receives T1's and T2's first controls, row T2 their second ones.
    scores = pd.Series({"T1": 0.0, "T2": 10.0, "C1": 0.1, "C2": 0.2, "C3": 10.1, "C4": 10.2, "C5": 20.0, "C6": 30.0})
    treated = pd.Series({i: i.startswith("T") for i in scores.index})
    table = psmpy_12n(scores, treated, 2, ["T1", "T2"])
    assert table.loc["T1"].tolist() == ["C1", "C3"]  # C3 is 10.1 from T1; C2 (0.2) was T1's
    assert table.loc["T2"].tolist() == ["C2", "C4"]  # C2 is 9.8 from T2; C3 (0.1) was T2's
    ours = fast_match(scores, treated, caliper_sd=None, ratio=2, order="data")
    assert ours.pairs.groupby("treated_id")["control_id"].agg(list).to_dict() == {
        "T1": ["C1", "C2"],
        "T2": ["C3", "C4"],
    }
    # read column by column instead (round r of treated i is flat[r * n_treated + i]), it is our result
    flat = table.to_numpy().ravel()
    realigned = flat.reshape(2, 2).T
    assert realigned.tolist() == [["C1", "C2"], ["C3", "C4"]]


@PSMPY
@given(n_treated=st.integers(1, 6), k=st.integers(2, 3), extra=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_psmpy_12n_realigned_is_matchit_rounds_without_caliper(n_treated, k, extra, seed):
    # continuous scores (no ties), enough controls for k rounds (psmpy fails when they run out)
    rng = np.random.default_rng(seed)
    n = n_treated * (k + 1) + extra
    ids = [f"P{i:02d}" for i in range(n)]
    treated = pd.Series(rng.permutation(np.arange(n) < n_treated), index=ids)
    distance = pd.Series(rng.normal(size=n) + 0.5 * treated, index=ids)
    ours = fast_match(distance, treated, caliper_sd=None, ratio=k, order="data")
    table = psmpy_12n(distance, treated, k, ours.treated_ids)
    realigned = pd.DataFrame(table.to_numpy().ravel().reshape(k, n_treated).T, index=table.index)
    expected = ours.pairs.groupby("treated_id")["control_id"].agg(list)
    assert {t: list(row) for t, row in realigned.iterrows()} == expected.to_dict()


def test_caliper_width_is_shared():
    scores = pd.Series({"T1": 0.0, "C1": 1.0, "C2": 3.0})
    treated = pd.Series({"T1": True, "C1": False, "C2": False})
    assert fast_match(scores, treated, caliper_sd=0.2).caliper == caliper_width(scores, 0.2)
