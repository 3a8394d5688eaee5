"""What psmpy would do: its default matching (its own score, no caliper) and its k-d tree matcher on
the book's scores, and a pair-by-pair comparison of two matchings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import MatchResult

#: Above this many patients psmpy runs on a random sample of this size: its k-d tree query asks for every
#: treated patient's distance to every control (memory n_treated x n_control, time growing with
#: n_treated^2 x n_control), which at 200,000 patients asks for 75 GiB.
PSMPY_LIMIT = 1_000
#: The seed of that sample (fixed, so that the same cohort gives the same sample).
SAMPLE_SEED = 20250531


def psmpy_sample(cohort: pd.DataFrame, size: int = PSMPY_LIMIT, seed: int = SAMPLE_SEED) -> pd.DataFrame:
    """A simple random sample of ``size`` patients (rows kept in the cohort's order), the same every run."""
    if len(cohort) <= size:
        return cohort
    rows = np.sort(np.random.default_rng(seed).choice(len(cohort), size=size, replace=False))
    return cohort.iloc[rows]


def sample_sentence(n_patients: int, size: int = PSMPY_LIMIT, seed: int = SAMPLE_SEED) -> str:
    """Why and how the psmpy comparison runs on a sample, for the prose."""
    return (
        f"on a simple random sample of {size:,} of the {n_patients:,} patients (seed {seed}): psmpy's matcher "
        "asks for every treated patient's distance to every control, so its memory grows with treated × controls "
        "and its time with treated² × controls, which a cohort of this size would not survive; the book's own "
        "matching is repeated on the same sample, with the same settings, so that the rows compare like with like"
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


def psmpy_not_run(cohort, study, result: MatchResult, logit, caliper, sample_text: str, error) -> dict[str, object]:
    """:func:`psmpy_comparison`'s numbers when psmpy itself fails on the cohort: the book's row alone, and
    psmpy's own message in the sentences."""
    book = f"This book: ML score, caliper {caliper} SD" if caliper else "This book: ML score, no caliper"
    table = pd.DataFrame([{"analysis": book, **_balance_of(cohort, result.pairs, study, logit)}])
    why = f"psmpy could not be run on this cohort ({type(error).__name__} in psmpy: {error})"
    return {"psmpy_comparison": table.set_index("analysis"), "score_correlation": "not computed",
            "psmpy_sample": sample_text, "literal_caliper": why, "kd_agreement": why}  # fmt: skip


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
    its k-d tree matcher given the book's score, treated order and caliper. Above :data:`PSMPY_LIMIT`
    patients all of it runs on a random sample (:func:`psmpy_sample`), the book's match repeated on it.
    Returns the comparison table (``psmpy_comparison``) and sentences for the prose (``psmpy_sample``: on
    which patients)."""
    arm, treated = study.treatment.column, study.treatment.treated
    numbers = [v.column for v in study.covariates if v.continuous]
    sample_text, logit = f"on all {len(cohort):,} patients", model.logit
    if len(cohort) > PSMPY_LIMIT:  # psmpy is quadratic: a stated random sample, the book's match repeated on it
        cohort, sample_text = psmpy_sample(cohort), sample_sentence(len(cohort))
        logit = model.logit.loc[cohort.index]
        result = nearest_neighbour_match(
            logit, model.treated.loc[cohort.index], caliper_sd=result.settings["caliper_sd"], ratio=ratio,
            replace=replace, order=result.settings["order"], seed=SAMPLE_SEED,
        )  # fmt: skip
    try:
        default_pairs, default_logit = psmpy_default_match(cohort, arm, treated, covariates, continuous=numbers)
        literal_pairs, _ = psmpy_default_match(
            cohort, arm, treated, covariates, caliper=caliper or None, continuous=numbers
        )
    except (ValueError, IndexError, KeyError) as error:  # psmpy's own failure (few patients, one-level covariates)
        return psmpy_not_run(cohort, study, result, logit, caliper, sample_text, error)
    book = f"This book: ML score, caliper {caliper} SD" if caliper else "This book: ML score, no caliper"
    rows = [
        (book, result.pairs),
        ("psmpy defaults: penalised score, no caliper", default_pairs),
        (f"psmpy, caliper={caliper} taken literally (absolute)", literal_pairs),
    ]
    table = pd.DataFrame([{"analysis": name, **_balance_of(cohort, pairs, study, logit)} for name, pairs in rows])
    numbers: dict[str, object] = {
        "psmpy_comparison": table.set_index("analysis"),
        "score_correlation": f"{float(np.corrcoef(default_logit.loc[cohort.index], logit)[0, 1]):.3f}",
        "psmpy_sample": sample_text,
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
            logit, model.treated.loc[logit.index], caliper=result.caliper, replace=replace, order=result.treated_ids
        )
        agreement = compare_pairings(result, kd_pairs, logit)
        numbers["kd_agreement"] = (
            f"given the book's score, the same treated order and the caliper converted to an absolute width "
            f"({'none' if result.caliper is None else f'{result.caliper:.3f}'}), psmpy's `kdtree_matched` matches "
            f"{'the same' if agreement['same_treated'] else 'different'} treated patients; "
            f"{agreement['differ']} of {agreement['pairs']} pairs differ, "
            f"{agreement['differ_by_tie']} of them only by a tie (another control exactly as close)"
        )
    else:
        numbers["kd_agreement"] = (
            "for 1:k matching psmpy's `kdtree_matched_12n` misaligns ids for k ≥ 2, so it is not used as a check here"
        )
    return numbers
