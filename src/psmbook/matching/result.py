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
        control weights are then scaled to sum to the number of matched controls. Treated patients in the
        order they matched, then controls in order of id.
        """
        ids, _, weight = self._members()
        return pd.Series(weight, index=ids)

    def _members(self) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """Every matched patient once (as :meth:`weights` orders them), their set (a control's first) and
        weight. Ids are hashed once per column (``pd.factorize``), the rest is integer arithmetic: at a
        million patients, hashing string ids again for every lookup took seconds and grew faster than n."""
        t_codes, t_ids = pd.factorize(self.pairs["treated_id"])  # in the order they matched
        c_codes, c_ids = pd.factorize(self.pairs["control_id"], sort=True)  # in order of id
        pair = self.pairs["pair"].to_numpy()
        set_size = np.bincount(t_codes)[t_codes]
        contribution = np.bincount(c_codes, weights=1.0 / set_size, minlength=len(c_ids))
        contribution *= len(contribution) / contribution.sum()
        first_t = np.unique(t_codes, return_index=True)[1]
        first_c = np.unique(c_codes, return_index=True)[1]
        return (
            t_ids.append(c_ids),
            np.concatenate([pair[first_t], pair[first_c]]),
            np.concatenate([np.ones(len(t_ids)), contribution]),
        )


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
    """The matched patients (data indexed by patient id) with their set number and matching weight, set by set.

    With replacement a control can belong to several sets; it appears once, in its first set.
    """
    ids, pair, weight = result._members()
    order = np.argsort(pair, kind="stable")  # by set; within a set the treated first, then by id
    rows = data.index.get_indexer(ids)
    if (rows < 0).any():
        missing = list(ids[rows < 0][:5])
        raise KeyError(f"matched patients not in the data: {missing} ({int((rows < 0).sum())} in all)")
    matched = data.take(rows[order])
    matched["pair"] = pair[order]
    matched["match_weight"] = weight[order]
    return matched
