"""The result of a match, shared by every matcher: who was matched to whom, with MatchIt's vocabulary
(treatment order ``m.order``, caliper in SD of the distance), the checks every matcher applies to its
inputs, and the matched cohort as data."""

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
