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
    model = fit_propensity(data, study.treatment.column, study.treatment.treated, covariates, formula=ps_formula)
    result = nearest_neighbour_match(
        model.logit, model.treated, caliper_sd=caliper, ratio=ratio, replace=replace, order=order, seed=seed
    )
    matched = matched_cohort(data.assign(distance=model.scores, logit_distance=model.logit), result)
    return matched.rename(columns={"pair": "subclass", "match_weight": "weights"}).reset_index()


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
