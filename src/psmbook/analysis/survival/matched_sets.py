"""The treatment's hazard ratio after any nearest-neighbour match: a Cox model of treatment alone in the
matched sample, its robust SE clustered on the matched sets, as MatchIt's guide to estimating effects
prescribes (Austin 2013; Austin and Cafri 2020).

* 1:1 without replacement: the matched pairs, every weight 1, SE clustered on the pairs;
* 1:k (or sets of unequal size after a caliper) without replacement: MatchIt's ``match.data()`` weights
  (controls 1/k of their set, scaled), SE clustered on the matched set: R
  ``coxph(Surv(t, e) ~ treated, weights = weights, cluster = subclass)``;
* with replacement: a control re-used by several treated patients belongs to several sets, so the data
  are MatchIt's ``get_matches()`` (one row per patient per set, controls weighted 1/k of their set) and
  the variance is Austin and Cafri's, clustered on the matched sets and on the patients:
  Vs G_s/(G_s − 1) + Vi G_i/(G_i − 1) − Vc G_c/(G_c − 1), with V the robust variance clustered on the
  sets (s), on the patients (i) and on the rows (c), and G each one's number of clusters.
"""

from __future__ import annotations

from dataclasses import replace as with_fields

import numpy as np
import pandas as pd

from psmbook.analysis.survival.fastcox import cox_fit
from psmbook.matching.result import MatchResult, matched_cohort

METHODS = {
    "pairs": "Cox, SE clustered on matched pairs",
    "sets": "weighted Cox, SE clustered on matched sets",
    "replacement": "weighted Cox, SE clustered on matched sets and patients (Austin and Cafri 2020)",
}


def matched_sets(data: pd.DataFrame, result: MatchResult) -> pd.DataFrame:
    """MatchIt's ``get_matches()``: one row per patient per matched set (``subclass``: the treated patient's
    set), the treated patient weighted 1 and each of its k controls 1/k (``weights``), the patient id in
    ``id``. ``data`` is indexed by patient id."""
    pairs = result.pairs
    controls = pairs.groupby("treated_id", sort=False)["control_id"].transform("size").to_numpy()
    rows = pd.concat(
        [
            pd.DataFrame({"id": pairs["treated_id"].drop_duplicates().to_numpy(), "weights": 1.0}),
            pd.DataFrame({"id": pairs["control_id"].to_numpy(), "weights": 1.0 / controls}),
        ],
        ignore_index=True,
    )
    set_of = pairs.drop_duplicates("treated_id").set_index("treated_id")["pair"]
    treated_of_row = np.concatenate([rows["id"].iloc[: len(set_of)].to_numpy(), pairs["treated_id"].to_numpy()])
    rows["subclass"] = set_of.loc[treated_of_row].to_numpy()
    rows["_treated"] = np.r_[np.ones(len(set_of)), np.zeros(len(pairs))]
    rows = rows.sort_values(["subclass", "_treated"], ascending=[True, False], kind="stable").drop(columns="_treated")
    return rows.join(data, on="id").reset_index(drop=True)


def _row(fit, method: str, sets: int, rows: int) -> pd.Series:
    s = fit.summary().loc["treated"]
    return pd.Series(
        {**{k: float(s[k]) for k in ("hr", "ci_low", "ci_high", "log_hr", "se", "p")}, "method": method}
        | {"sets": sets, "rows": rows}
    )


def austin_cafri(time, event, treated, weights, sets, patients):
    """Austin and Cafri's (2020) variance for matching with replacement (MatchIt's guide, R coxph):
    the fit with its variance from the three robust variances clustered on sets, patients and rows."""
    fits = {
        name: cox_fit(time, event, treated, terms=["treated"], weights=weights, cluster=cluster, robust=True)
        for name, cluster in (("sets", sets), ("patients", patients), ("rows", np.arange(len(time))))
    }
    var = sum(
        sign * f.var * f.n_clusters / (f.n_clusters - 1)
        for sign, f in ((1, fits["sets"]), (1, fits["patients"]), (-1, fits["rows"]))
    )
    return with_fields(fits["sets"], var=var)


def matched_set_cox(
    data: pd.DataFrame, result: MatchResult, study, time: str, event: str, *, replace: bool
) -> pd.Series:
    """The treatment's Cox model in the matched sample of ``result`` (``data`` indexed by patient id), its
    SE clustered on the matched sets: hr, ci_low, ci_high, log_hr, se, p, the ``method`` in words, and the
    number of matched ``sets`` and data ``rows``. ``replace``: whether controls could be re-used."""
    arm, treated_code = study.treatment.column, study.treatment.treated
    if replace:
        long = matched_sets(data, result)
        treated = (long[arm] == treated_code).to_numpy(dtype=float)
        fit = austin_cafri(long[time], long[event], treated, long["weights"], long["subclass"], long["id"])
        return _row(fit, METHODS["replacement"], int(long["subclass"].nunique()), len(long))
    sample = matched_cohort(data, result)
    treated = (sample[arm] == treated_code).to_numpy(dtype=float)
    weights = sample["match_weight"].to_numpy(dtype=float)
    one_to_one = bool(np.all(weights == 1))
    fit = cox_fit(
        sample[time], sample[event], treated, terms=["treated"], weights=weights, cluster=sample["pair"], robust=True
    )
    return _row(fit, METHODS["pairs" if one_to_one else "sets"], int(sample["pair"].nunique()), len(sample))
