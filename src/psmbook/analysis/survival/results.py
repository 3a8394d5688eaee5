"""The survival chapter's results: every number it computed under the paper's id where the paper prints
that number, and under a ``survival.*`` id where it does not."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

PAIR_KEYS = {"independent": "naive", "robust": "robust", "stratified": "stratified"}
HR_FIELDS = ("hr", "ci_low", "ci_high", "p")


def _model_terms(values: dict, prefix: str, table: pd.DataFrame) -> None:
    for r in table[~table["reference"]].itertuples():
        for field in HR_FIELDS:
            values[f"{prefix}.{r.id}.{field}"] = getattr(r, field)


def other_study_values(
    logrank: Mapping, pair_models: Mapping, medians: pd.DataFrame, univariate, multivariable
) -> dict:
    """The results of the survival chapter for a study other than the paper's (``survival.*`` ids only)."""
    values: dict[str, object] = {}
    for (e, period), r in logrank.items():
        values[f"survival.{e}.{period}.logrank_p"] = r.p
    for e, t in pair_models.items():
        for method, r in t.iterrows():
            for field in ("hr", "ci_low", "ci_high", "se", "p"):
                values[f"survival.{e}.after.{field}_{method}"] = r[field]
    for _, r in medians.iterrows():
        values[f"survival.{r['_e']}.{r['_period']}.median.{r['_arm']}"] = r["_median"]
    _model_terms(values, "survival.cox.univariate", univariate)
    _model_terms(values, "survival.cox.multivariable", multivariable.table)
    return values


def paper_study_values(
    study,
    pub: Mapping,
    *,
    cohort: pd.DataFrame,
    km: Mapping,
    cox: Mapping,
    alpha: float,
) -> dict:
    """The results of the survival chapter for the paper's study. ``km``: landmarks, events, logrank,
    medians, pair_models; ``cox``: univariate, multivariable (or None), paper_model, arm_mv (or None),
    selected, response, ph, failing, truth (or None), marginal."""
    values: dict[str, object] = {}

    def put(published_id, extra_id, value):
        """Under the published id when the paper prints that number, else under the extra id."""
        values[published_id if published_id in pub else extra_id] = value

    arm_id = f"{study.treatment.column}.{study.treatment.treated}"
    for r in km["landmarks"].itertuples():
        values[r.id] = r.survival
        values[f"survival.{r.endpoint}.{r.period}.{r.landmark}.{r.arm}.ci_low"] = r.ci_low
        values[f"survival.{r.endpoint}.{r.period}.{r.landmark}.{r.arm}.ci_high"] = r.ci_high
    for code in study.treatment.arms:
        values[f"abstract.survival.os.after.3y.{code}"] = values[f"text.survival.os.after.3y.{code}"]
        values[f"abstract.survival.pfs.after.12m.{code}"] = values[f"text.survival.pfs.after.12m.{code}"]
    for r in km["events"].itertuples():
        extra = r.id.replace("text.survival.", "survival.")
        put(f"{r.id}.n", f"{extra}.n", r.events)
        put(f"{r.id}.pct", f"{extra}.pct", 100 * r.events / r.n)
    logrank, pair_models = km["logrank"], km["pair_models"]
    for e in pair_models:
        for code in study.treatment.arms:
            put(
                f"text.survival.{e}.before.n.{code}",
                f"survival.{e}.before.n.{code}",
                int((cohort[study.treatment.column] == code).sum()),
            )
        for period in ("before", "after"):
            values[f"text.survival.{e}.{period}.p"] = logrank[(e, period)].p
            values[f"survival.{e}.{period}.logrank_chi2"] = logrank[(e, period)].chi2
        values[f"abstract.survival.{e}.after.p"] = logrank[(e, "after")].p
        for method, r in pair_models[e].iterrows():
            for field in ("hr", "ci_low", "ci_high", "se", "p"):
                values[f"survival.{e}.after.{field}_{PAIR_KEYS[method]}"] = r[field]
        values[f"survival.{e}.after.pairs_used.n"] = int(pair_models[e].loc["stratified", "pairs_used"])
    values["text.figure1.p"] = max(r.p for r in logrank.values())  # the paper: all four p < 0.05
    for _, r in km["medians"].iterrows():
        key = f"survival.{r['_e']}.{r['_period']}.median.{r['_arm']}"
        values[key], values[f"{key}.ci_low"], values[f"{key}.ci_high"] = r["_median"], r["_low"], r["_high"]
    univariate, multivariable = cox["univariate"], cox["multivariable"]
    for r in univariate[~univariate["reference"]].itertuples():
        for field in HR_FIELDS:
            values[f"table3.univariate.{r.id}.{field}"] = getattr(r, field)
        if f"text.cox.univariate.{r.id}.p" in pub:
            values[f"text.cox.univariate.{r.id}.p"] = r.p
    if multivariable is not None:
        terms = multivariable.table[~multivariable.table["reference"]]
        for r in terms.itertuples():
            for field in HR_FIELDS:
                put(f"table3.multivariate.{r.id}.{field}", f"survival.cox.selected.{r.id}.{field}", getattr(r, field))
                if f"text.cox.multivariate.{r.id}.{field}" in pub:
                    values[f"text.cox.multivariate.{r.id}.{field}"] = getattr(r, field)
        values["text.cox.multivariate.significant.n"] = int((terms["p"] < alpha).sum())
        if cox["arm_mv"] is not None:
            values[f"abstract.cox.multivariate.{arm_id}.p"] = cox["arm_mv"]["p"]
    _model_terms(values, "survival.cox.paper_factors", cox["paper_model"].table)
    values["survival.cox.selected.n"] = len(cox["selected"])
    values["survival.cox.response_dropped.n"] = int(cox["response"].isna().sum())
    values["survival.ph.failing.n"] = len(cox["failing"])
    for term, r in cox["ph"].iterrows():
        values[f"survival.ph.{term}.p_rank"] = r["p_rank"]
        values[f"survival.ph.{term}.p_km"] = r["p_km"]
    if study.synthetic:
        for fid, r in cox["truth"].iterrows():
            values[f"survival.true_hr.{fid}"] = r["hr"]
        values[f"survival.true_marginal_hr.{arm_id}"] = cox["marginal"]
    return values
