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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ORDERS = ("largest", "smallest", "data", "random")


@dataclass
class MatchResult:
    """Matched sets: one row per (treated, control) pair, plus what was left unmatched."""

    pairs: pd.DataFrame  # columns: treated_id, control_id, distance, pair (treated's set)
    treated_ids: list
    control_ids: list
    caliper: float | None  # absolute, on the distance (logit PS) scale
    settings: dict = field(default_factory=dict)

    @property
    def matched_treated(self) -> list:
        return list(dict.fromkeys(self.pairs["treated_id"]))

    @property
    def matched_controls(self) -> list:
        return list(dict.fromkeys(self.pairs["control_id"]))

    @property
    def unmatched_treated(self) -> list:
        matched = set(self.pairs["treated_id"])
        return [t for t in self.treated_ids if t not in matched]

    def summary(self) -> pd.DataFrame:
        """Sample sizes as MatchIt prints them: All, Matched, Unmatched, Discarded."""
        matched_t, matched_c = len(self.matched_treated), len(self.matched_controls)
        return pd.DataFrame(
            {
                "Control": [len(self.control_ids), matched_c, len(self.control_ids) - matched_c, 0],
                "Treated": [len(self.treated_ids), matched_t, len(self.treated_ids) - matched_t, 0],
            },
            index=pd.Index(["All", "Matched", "Unmatched", "Discarded"], name="Sample sizes"),
        )

    def weights(self) -> pd.Series:
        """MatchIt's ATT matching weights: 1 for matched treated, (k_t / k_i summed) for controls.

        A control matched to a treated patient with k controls gets weight 1/k from that set;
        control weights are then scaled to sum to the number of matched controls.
        """
        sets = self.pairs.groupby("treated_id")["control_id"].transform("size")
        contribution = (1.0 / sets).groupby(self.pairs["control_id"]).sum()
        contribution *= len(contribution) / contribution.sum()
        treated = pd.Series(1.0, index=pd.Index(self.matched_treated))
        return pd.concat([treated, contribution])


def caliper_width(distance: pd.Series, caliper_sd: float | None) -> float | None:
    """Caliper on the distance scale: ``caliper_sd`` standard deviations of the distance, all patients."""
    if caliper_sd is None:
        return None
    if caliper_sd <= 0:
        raise ValueError(f"caliper must be positive (or None for no caliper), got {caliper_sd}")
    return float(caliper_sd * np.std(np.asarray(distance, dtype=float), ddof=1))


def treated_order(distance: pd.Series, treated: pd.Series, order: str, seed: int | None = None) -> list:
    """The order in which treated patients choose their controls (MatchIt's ``m.order``)."""
    if order not in ORDERS:
        raise ValueError(f"match order must be one of {ORDERS}, got {order!r}")
    ids = list(distance.index[np.asarray(treated, dtype=bool)])
    if order == "data":
        return ids
    if order == "random":
        return list(np.random.default_rng(seed).permutation(np.array(ids, dtype=object)))
    values = distance.loc[ids].to_numpy()
    # stable sorts keep data order among ties
    ranking = np.argsort(-values if order == "largest" else values, kind="stable")
    return [ids[i] for i in ranking]


MATCHERS = ("fast", "brute-force")
MATCHER_LABELS = {  # what each matcher is, in words, for the book's prose
    "fast": "the book's O(n log n) greedy matcher (scores sorted once, union-find pointers to the nearest "
    "free control), which gives the same pairs as measuring every treated patient against every "
    "control and runs on registries of a million patients",
    "brute-force": "the book's brute-force greedy matcher, which measures every treated patient against every control",
}


def check_match_inputs(distance: pd.Series, treated: pd.Series, ratio: int) -> np.ndarray:
    """Refuse what no matcher can use; the treated indicator as a boolean array."""
    if ratio < 1 or int(ratio) != ratio:
        raise ValueError(f"ratio must be a whole number of at least 1, got {ratio}")
    if not distance.index.equals(treated.index):
        raise ValueError("distance and treated must share one index of patient ids")
    distance.index.is_monotonic_increasing  # sorted ids: pandas then knows uniqueness without hashing
    if distance.index.has_duplicates:
        raise ValueError("patient ids must be unique")
    if not np.isfinite(distance.to_numpy(dtype=float)).all():
        raise ValueError("distance must be finite for every patient (no missing or infinite scores)")
    is_treated = np.asarray(treated, dtype=bool)
    if is_treated.all() or not is_treated.any():
        raise ValueError("matching needs patients in both arms")
    return is_treated


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
    from psmbook.matching.fast import fast_match

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


def psmpy_kdtree_match(
    distance: pd.Series,
    treated: pd.Series,
    *,
    caliper: float | None,
    replace: bool = False,
    order: list | None = None,
) -> pd.DataFrame:
    """Match with psmpy's ``kdtree_matched`` on the given scores: pairs ``treated_id, control_id``.

    psmpy fits its own score in ``logistic_ps``; here its matcher is fed the book's score instead, with
    the treated patients in ``order``. psmpy's ``caliper`` is an absolute width on the matcher's scale
    (its docstring calls it a multiplier), so pass ``caliper_width(...)``, not 0.2.
    """
    from psmpy import PsmPy

    order = list(order) if order is not None else list(distance.index[np.asarray(treated, dtype=bool)])
    controls = list(distance.index[~np.asarray(treated, dtype=bool)])
    ids = controls + order
    frame = pd.DataFrame(
        {
            "patient": ids,
            "propensity_logit": distance.loc[ids].to_numpy(dtype=float),
            "treatment": [0] * len(controls) + [1] * len(order),
        }
    )
    matcher = PsmPy.__new__(PsmPy)  # skip its own score model: only the matcher is used
    matcher.treatment, matcher.indx, matcher.predicted_data = "treatment", "patient", frame
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        matcher.kdtree_matched(matcher="propensity_logit", replacement=replace, caliper=caliper, drop_unmatched=True)
    found = matcher.matched_ids.rename(columns={"patient": "treated_id", "matched_ID": "control_id"})
    return found.reset_index(drop=True)


def matched_cohort(data: pd.DataFrame, result: MatchResult) -> pd.DataFrame:
    """The matched patients (data indexed by patient id) with their set number and matching weight.

    With replacement a control can belong to several sets; it appears once, in its first set.
    """
    weights = result.weights()
    pair_of = pd.concat(
        [
            result.pairs.drop_duplicates("treated_id").set_index("treated_id")["pair"],
            result.pairs.drop_duplicates("control_id").set_index("control_id")["pair"],
        ]
    )
    ids = list(weights.index)
    matched = data.loc[ids].copy()
    matched["pair"] = pair_of.loc[ids].to_numpy()
    matched["match_weight"] = weights.loc[ids].to_numpy()
    return matched.sort_values(["pair"], kind="stable")


def psmpy_default_match(
    data: pd.DataFrame,
    treatment_column: str,
    treated_value,
    covariates: list[str],
    *,
    caliper: float | None = None,
    seed: int = 42,
) -> tuple[pd.DataFrame, pd.Series]:
    """What psmpy does when used as its README shows: ``logistic_ps(balance=True)`` then
    ``kdtree_matched(matcher="propensity_logit", replacement=False, caliper=caliper)``.

    Its score is an L2-penalised liblinear logistic regression (C = 1) on unscaled 0/1 indicators,
    averaged over folds that pair the treated with successive slices of the controls; its caliper is an
    absolute width on the logit scale. Returns the pairs (treated_id, control_id) and psmpy's logit score.
    """
    import warnings

    from psmpy import PsmPy

    from psmbook.present.style import use_book_style

    dummies = pd.get_dummies(data[covariates].astype(str), drop_first=True, dtype=int)
    frame = dummies.assign(
        patient=list(data.index), treatment=(data[treatment_column] == treated_value).astype(int).to_numpy()
    )
    frame = frame.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PsmPy(frame, treatment="treatment", indx="patient", exclude=[], seed=seed)
        model.logistic_ps(balance=True)
        model.kdtree_matched(matcher="propensity_logit", replacement=False, caliper=caliper, drop_unmatched=True)
    use_book_style()  # importing psmpy applies seaborn's global style; restore the book's
    scores = model.predicted_data.set_index("patient")["propensity_logit"].loc[list(data.index)]
    pairs = model.matched_ids.rename(columns={"patient": "treated_id", "matched_ID": "control_id"})
    return pairs.reset_index(drop=True), scores


def compare_pairings(result: MatchResult, other: pd.DataFrame, distance: pd.Series) -> dict:
    """How another matcher's pairs (treated_id, control_id) differ from ``result``'s.

    Returns whether the same treated patients were matched, how many pairs differ, and how many of
    those differ only by a tie (the other control is exactly as far from the treated patient).
    """
    ours = result.pairs.drop_duplicates("treated_id").set_index("treated_id")["control_id"]
    theirs = other.drop_duplicates("treated_id").set_index("treated_id")["control_id"]
    common = ours.index.intersection(theirs.index)
    differ = [t for t in common if ours[t] != theirs[t]]
    ties = [
        t
        for t in differ
        if np.isclose(abs(distance[t] - distance[ours[t]]), abs(distance[t] - distance[theirs[t]]), rtol=0, atol=1e-12)
    ]
    return {
        "same_treated": set(ours.index) == set(theirs.index),
        "pairs": len(ours),
        "other_pairs": len(theirs),
        "differ": len(differ),
        "differ_by_tie": len(ties),
    }
