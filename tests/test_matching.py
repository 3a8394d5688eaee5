"""The matcher against a small cohort whose correct matched sets are worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.psmpy_compare import compare_pairings, psmpy_default_match, psmpy_kdtree_match
from psmbook.matching.result import caliper_width, matched_cohort

# Logit propensity scores. T3 is far from every control (the caliper of 0.37 must exclude it);
# C1 is the nearest control of both T1 and T2 (only one can have it).
SCORES = pd.Series({"T1": 0.0, "T2": 0.1, "T3": 5.0, "C1": 0.05, "C2": -0.3, "C3": 0.5, "C4": 0.9})
TREATED = pd.Series({k: k.startswith("T") for k in SCORES.index})
# SD of the 7 scores (n - 1 denominator): mean 0.892857, sum of squares 20.5786, SD 1.85196; 0.2 SD = 0.37039
CALIPER = 0.2 * 1.85196


def pairs_of(result):
    return list(zip(result.pairs["treated_id"], result.pairs["control_id"]))


def test_caliper_is_a_multiple_of_the_sd_of_the_logit_score_over_all_patients():
    assert caliper_width(SCORES, 0.2) == pytest.approx(CALIPER, abs=1e-4)
    assert caliper_width(SCORES, None) is None
    with pytest.raises(ValueError, match="caliper must be positive"):
        caliper_width(SCORES, -0.1)


def test_largest_first_with_caliper():
    # Order by descending score: T3 (no control within 0.37: unmatched), T2 takes C1 (0.05 away),
    # T1 finds C1 taken and takes C2 (0.30 away, inside the caliper).
    result = nearest_neighbour_match(SCORES, TREATED, caliper_sd=0.2, order="largest")
    assert pairs_of(result) == [("T2", "C1"), ("T1", "C2")]
    assert result.unmatched_treated == ["T3"]
    summary = result.summary()
    assert summary.loc["Matched", "Treated"] == 2 and summary.loc["Unmatched", "Treated"] == 1
    assert summary.loc["Matched", "Control"] == 2 and summary.loc["Unmatched", "Control"] == 2


def test_order_decides_who_gets_the_contested_control():
    # Smallest first: T1 takes C1; T2's next nearest controls (C2 and C3) are both 0.40 away: outside.
    result = nearest_neighbour_match(SCORES, TREATED, caliper_sd=0.2, order="smallest")
    assert pairs_of(result) == [("T1", "C1")]
    assert sorted(result.unmatched_treated) == ["T2", "T3"]


def test_without_caliper_everyone_is_matched():
    result = nearest_neighbour_match(SCORES, TREATED, caliper_sd=None, order="largest")
    # T3 takes the nearest control of all (C4, 4.1 away), then T2 -> C1, T1 -> C2 (0.30 < C3's 0.50).
    assert pairs_of(result) == [("T3", "C4"), ("T2", "C1"), ("T1", "C2")]


def test_with_replacement_a_control_serves_two_treated():
    result = nearest_neighbour_match(SCORES, TREATED, caliper_sd=0.2, order="largest", replace=True)
    assert pairs_of(result) == [("T2", "C1"), ("T1", "C1")]
    weights = result.weights()
    assert weights["C1"] == pytest.approx(1.0) and weights["T1"] == 1.0


def test_one_to_two_runs_two_rounds():
    result = nearest_neighbour_match(SCORES, TREATED, caliper_sd=None, ratio=2, order="largest")
    # Round 1: T3-C4, T2-C1, T1-C2. Round 2: T3 -> C3 (4.5 away), T2 -> nothing left, T1 -> nothing left.
    assert pairs_of(result) == [("T3", "C4"), ("T3", "C3"), ("T2", "C1"), ("T1", "C2")]
    weights = result.weights()
    assert weights[["C4", "C3"]].tolist() == pytest.approx([2 / 3, 2 / 3])  # 1/2 each, rescaled
    assert weights[["C1", "C2"]].tolist() == pytest.approx([4 / 3, 4 / 3])


def test_ties_go_to_the_control_first_in_the_data():
    scores = pd.Series({"T1": 0.0, "C1": 0.2, "C2": -0.2, "C3": 3.0})
    treated = pd.Series({"T1": True, "C1": False, "C2": False, "C3": False})
    assert pairs_of(nearest_neighbour_match(scores, treated, caliper_sd=None)) == [("T1", "C1")]


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="ratio"):
        nearest_neighbour_match(SCORES, TREATED, ratio=0)
    with pytest.raises(ValueError, match="match order"):
        nearest_neighbour_match(SCORES, TREATED, order="best")


def test_psmpy_matcher_agrees_when_given_the_same_scores_order_and_absolute_caliper():
    order = ["T3", "T2", "T1"]
    found = psmpy_kdtree_match(SCORES, TREATED, caliper=caliper_width(SCORES, 0.2), order=order)
    assert list(zip(found["treated_id"], found["control_id"])) == [("T2", "C1"), ("T1", "C2")]


def test_same_inputs_same_pairs_on_a_random_cohort():
    rng = np.random.default_rng(3)
    scores = pd.Series(rng.normal(size=300), index=[f"P{i}" for i in range(300)])
    treated = pd.Series(rng.random(300) < 0.25, index=scores.index)
    first = nearest_neighbour_match(scores, treated, caliper_sd=0.2, order="random", seed=11)
    second = nearest_neighbour_match(scores, treated, caliper_sd=0.2, order="random", seed=11)
    pd.testing.assert_frame_equal(first.pairs, second.pairs)
    # and psmpy's matcher, fed the same order, finds the same pairs
    order = list(dict.fromkeys(first.pairs["treated_id"])) + first.unmatched_treated
    theirs = psmpy_kdtree_match(scores, treated, caliper=first.caliper, order=order)
    ours = first.pairs.sort_values("treated_id")[["treated_id", "control_id"]].reset_index(drop=True)
    assert ours.equals(theirs.sort_values("treated_id").reset_index(drop=True))


def test_matched_cohort_carries_sets_and_weights():
    data = pd.DataFrame({"x": range(7)}, index=SCORES.index)
    result = nearest_neighbour_match(SCORES, TREATED, caliper_sd=0.2, order="largest")
    matched = matched_cohort(data, result)
    assert list(matched.index) == ["T2", "C1", "T1", "C2"]
    assert matched["pair"].tolist() == [1, 1, 2, 2]
    assert matched["match_weight"].tolist() == [1.0, 1.0, 1.0, 1.0]
    with pytest.raises(KeyError, match=r"matched patients not in the data: \['C1'\] \(1 in all\)"):
        matched_cohort(data.drop(index="C1"), result)  # never another patient's row in its place


def test_weights_of_a_one_to_k_match_with_replacement_are_matchits():
    from psmbook.matching.result import MatchResult

    pairs = pd.DataFrame(
        {"treated_id": ["T1", "T1", "T2"], "control_id": ["C2", "C1", "C1"], "distance": 0.0, "pair": [1, 1, 2]}
    )
    result = MatchResult(pairs, ["T1", "T2"], ["C1", "C2"], None)
    # C1: 1/2 from T1's set + 1 from T2's = 1.5, C2: 1/2; scaled to sum to 2 matched controls: 1.5, 0.5
    assert result.weights().to_dict() == {"T1": 1.0, "T2": 1.0, "C1": 1.5, "C2": 0.5}
    data = pd.DataFrame({"x": range(4)}, index=["C1", "C2", "T1", "T2"])
    matched = matched_cohort(data, result)
    assert list(matched.index) == ["T1", "C1", "C2", "T2"]  # by set, the treated first, then by id
    assert matched["pair"].tolist() == [1, 1, 1, 2]  # C1 once, in its first set


def test_compare_pairings_tells_ties_from_real_differences():
    scores = pd.Series({"T1": 0.0, "C1": 0.5, "C2": -0.5, "C3": 2.0})
    treated = pd.Series({"T1": True, "C1": False, "C2": False, "C3": False})
    ours = nearest_neighbour_match(scores, treated, caliper_sd=None)
    tie = pd.DataFrame({"treated_id": ["T1"], "control_id": ["C2"]})
    far = pd.DataFrame({"treated_id": ["T1"], "control_id": ["C3"]})
    assert compare_pairings(ours, tie, scores) == {
        "same_treated": True,
        "pairs": 1,
        "other_pairs": 1,
        "differ": 1,
        "differ_by_tie": 1,
    }
    assert compare_pairings(ours, far, scores)["differ_by_tie"] == 0


def test_psmpy_defaults_match_every_treated_patient_without_caliper():
    rng = np.random.default_rng(0)
    n = 120
    data = pd.DataFrame(
        {
            "arm": np.where(rng.random(n) < 0.3, "a", "c"),
            "x": rng.choice(["p", "q", "r"], n),
            "y": rng.choice(["u", "v"], n),
        },
        index=[f"P{i}" for i in range(n)],
    )
    pairs, scores = psmpy_default_match(data, "arm", "a", ["x", "y"])
    assert pairs["treated_id"].nunique() == (data["arm"] == "a").sum()
    assert pairs["control_id"].is_unique
    assert list(scores.index) == list(data.index)


def test_default_cohort_default_matching_keeps_68_pairs_the_same_every_run():
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.matching.score import fit_propensity
    from psmbook.study.description import load_study

    covariates = [v.column for v in load_study().psm_covariates]
    runs = []
    for _ in range(2):
        cohort = generate_cohort().set_index("patient_id")
        model = fit_propensity(cohort, "arm", "anlotinib", covariates)
        runs.append(nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2).pairs)
    assert len(runs[0]) == 68
    pd.testing.assert_frame_equal(runs[0], runs[1])
