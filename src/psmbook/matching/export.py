"""The matched data out, as R's MatchIt gives them with ``match.data()``: every column of the cohort, the
propensity score (``distance``) and its logit, the matched set (``subclass``) and the matching weight
(``weights``), one row per matched patient."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import matched_cohort
from psmbook.matching.score import fit_propensity

#: Output formats of :func:`write_match_data`, by suffix.
SUFFIXES = (".csv", ".parquet")


def match_data(
    cohort: pd.DataFrame,
    study,
    *,
    covariates: list[str] | None = None,
    ps_formula: str | None = None,
    caliper: float | None = 0.2,
    ratio: int = 1,
    replace: bool = False,
    order: str = "largest",
    seed: int | None = None,
) -> pd.DataFrame:
    """Match as the book's matching chapter does (same score model, matcher and defaults) and return the
    matched patients with ``distance``, ``logit_distance``, ``subclass`` and ``weights``."""
    data = cohort.set_index(study.id_column)
    covariates = list(covariates or [v.column for v in study.psm_covariates])
    model = fit_propensity(
        data, study.treatment.column, study.treatment.treated, covariates, formula=ps_formula, study=study
    )
    result = nearest_neighbour_match(
        model.logit, model.treated, caliper_sd=caliper, ratio=ratio, replace=replace, order=order, seed=seed
    )
    return as_match_data(matched_cohort(data.assign(ps=model.scores, logit_ps=model.logit), result))


#: The matching chapter's names of the matched data's columns -> MatchIt's (``match.data()``).
MATCH_DATA_NAMES = {"ps": "distance", "logit_ps": "logit_distance", "pair": "subclass", "match_weight": "weights"}


def as_match_data(matched: pd.DataFrame) -> pd.DataFrame:
    """The matched sample as the matching chapter keeps it (indexed by patient id, with ``ps``,
    ``logit_ps``, ``pair`` and ``match_weight``) under MatchIt's names, the patient id a column."""
    missing = [c for c in MATCH_DATA_NAMES if c not in matched.columns]
    if missing:
        raise KeyError(f"the matched sample lacks the column(s) {missing} that match.data() names")
    return matched.rename(columns=MATCH_DATA_NAMES).reset_index()


def write_match_data(matched: pd.DataFrame, out: Path | str) -> Path:
    """Write the matched data as CSV or Parquet (by ``out``'s suffix), whole or not at all."""
    out = Path(out)
    if out.suffix not in SUFFIXES:
        raise ValueError(
            f"--out {out}: the matched data are written as {' or '.join(SUFFIXES)}, not {out.suffix or 'no suffix'}"
        )
    temporary = out.with_name(out.name + ".tmp")
    if out.suffix == ".csv":
        matched.to_csv(temporary, index=False)
    else:
        matched.to_parquet(temporary, index=False)
    temporary.replace(out)
    return out
