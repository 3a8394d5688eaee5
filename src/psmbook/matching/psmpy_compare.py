"""What psmpy would do: its default matching (its own score, no caliper) and its k-d tree matcher on
the book's scores, and a pair-by-pair comparison of two matchings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.matching.result import MatchResult


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
