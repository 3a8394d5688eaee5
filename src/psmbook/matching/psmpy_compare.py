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
    continuous: tuple[str, ...] | list[str] = (),
) -> tuple[pd.DataFrame, pd.Series]:
    """What psmpy does when used as its README shows: ``logistic_ps(balance=True)`` then
    ``kdtree_matched(matcher="propensity_logit", replacement=False, caliper=caliper)``.

    Its score is an L2-penalised liblinear logistic regression (C = 1) on unscaled 0/1 indicators,
    averaged over folds that pair the treated with successive slices of the controls; its caliper is an
    absolute width on the logit scale; ``continuous`` covariates go in as their numbers, unscaled, as
    psmpy takes them. Returns the pairs (treated_id, control_id) and psmpy's logit score.
    """
    import warnings

    from psmpy import PsmPy

    from psmbook.present.style import use_book_style

    categorical = [c for c in covariates if c not in continuous]
    dummies = pd.get_dummies(data[categorical].astype(str), drop_first=True, dtype=int) if categorical else None
    numbers = data[[c for c in covariates if c in continuous]].astype(float)
    frame = pd.concat([numbers] if dummies is None else [dummies, numbers], axis=1).assign(
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


def _balance_of(cohort, pairs, study, logit: pd.Series) -> dict:
    from psmbook.matching import balance

    levels = {v.column: list(v.levels) for v in study.covariates}
    columns = [v.column for v in study.covariates]
    arm, treated = study.treatment.column, study.treatment.treated
    ids = list(pairs["treated_id"]) + list(pairs["control_id"])
    sample = cohort.loc[ids]
    before = balance.indicators(cohort, columns, levels).assign(logit_ps=logit)
    after = balance.indicators(sample, columns, levels).assign(logit_ps=logit.loc[ids])
    table = balance.balance_table(before, cohort[arm].eq(treated), after, sample[arm].eq(treated))
    smds = table.loc[table.index != "logit_ps", "smd_after"].abs()
    return {
        "treated matched": pairs["treated_id"].nunique(),
        "controls matched": pairs["control_id"].nunique(),
        "max |SMD|": round(float(smds.max()), 3),
        "levels with |SMD| ≥ 0.1": int((smds >= balance.THRESHOLD).sum()),
    }


def psmpy_comparison(
    cohort: pd.DataFrame,
    study,
    model,
    result: MatchResult,
    covariates: list[str],
    *,
    caliper,
    ratio: int,
    replace: bool,
) -> dict[str, object]:
    """What psmpy would have done with this cohort, beside the book's match: its defaults (its own
    penalised score, no caliper), its caliper taken literally (an absolute width), and, for 1:1 matching,
    its k-d tree matcher given the book's score, treated order and caliper. Returns the comparison table
    (``psmpy_comparison``) and sentences for the prose."""
    arm, treated = study.treatment.column, study.treatment.treated
    numbers = [v.column for v in study.covariates if v.continuous]
    default_pairs, default_logit = psmpy_default_match(cohort, arm, treated, covariates, continuous=numbers)
    literal_pairs, _ = psmpy_default_match(
        cohort, arm, treated, covariates, caliper=caliper or None, continuous=numbers
    )
    book = f"This book: ML score, caliper {caliper} SD" if caliper else "This book: ML score, no caliper"
    rows = [
        (book, result.pairs),
        ("psmpy defaults: penalised score, no caliper", default_pairs),
        (f"psmpy, caliper={caliper} taken literally (absolute)", literal_pairs),
    ]
    table = pd.DataFrame([{"analysis": name, **_balance_of(cohort, pairs, study, model.logit)} for name, pairs in rows])
    numbers: dict[str, object] = {
        "psmpy_comparison": table.set_index("analysis"),
        "score_correlation": f"{float(np.corrcoef(default_logit.loc[cohort.index], model.logit)[0, 1]):.3f}",
    }
    if caliper and result.caliper is not None:
        wider = caliper > result.caliper
        numbers["literal_caliper"] = (
            f"an absolute width of {caliper:g} on the logit scale is {caliper / result.caliper:.1f} times "
            f"the textbook's {caliper:g} SD ({result.caliper:.3f}) here: a {'looser' if wider else 'tighter'} limit"
        )
    else:
        numbers["literal_caliper"] = "with no caliper there is nothing to compare"
    if ratio == 1:
        kd_pairs = psmpy_kdtree_match(
            model.logit, model.treated, caliper=result.caliper, replace=replace, order=result.treated_ids
        )
        agreement = compare_pairings(result, kd_pairs, model.logit)
        numbers["kd_agreement"] = (
            f"given the book's score, the same treated order and the caliper converted to an absolute width "
            f"({result.caliper:.3f}), psmpy's `kdtree_matched` matches "
            f"{'the same' if agreement['same_treated'] else 'different'} treated patients; "
            f"{agreement['differ']} of {agreement['pairs']} pairs differ, "
            f"{agreement['differ_by_tie']} of them only by a tie (another control exactly as close)"
        )
    else:
        numbers["kd_agreement"] = (
            "for 1:k matching psmpy's `kdtree_matched_12n` misaligns ids for k ≥ 2, so it is not used as a check here"
        )
    return numbers
