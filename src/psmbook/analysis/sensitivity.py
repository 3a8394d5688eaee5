"""How the main result — the hazard ratio of death for treatment after matching — depends on the
analyst's choices: caliper, ratio, replacement, covariates, or weighting instead of matching.

Every analysis estimates the effect in the treated (ATT) with a Cox model of overall survival on
treatment alone, in the matched (or weighted) sample, with robust standard errors: after matching
clustered on the matched sets, and with replacement on the sets and the patients (Austin 2013; Austin and
Cafri 2020; :func:`psmbook.analysis.survival.matched_sets.matched_set_cox`); sandwich with weights after
weighting (Austin 2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter

from psmbook.analysis.survival.matched_sets import matched_set_cox
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.score import fit_propensity
from psmbook.present.format import hr_ci_p_text


@dataclass(frozen=True)
class Estimate:
    """One analysis: its label and settings, the hazard ratio with its 95% CI, and the sample."""

    analysis: str
    hr: float
    ci_low: float
    ci_high: float
    p: float
    treated: int
    controls: int
    method: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def treatment_cox(
    frame: pd.DataFrame, time: str, event: str, *, weights: str | None = None, cluster: str | None = None
) -> tuple[float, float, float, float]:
    columns = [time, event, "_treated"] + [c for c in (weights, cluster) if c]
    fitter = CoxPHFitter()
    fitter.fit(
        frame[columns],
        duration_col=time,
        event_col=event,
        weights_col=weights,
        cluster_col=cluster,
        robust=bool(weights or cluster),
    )
    row = fitter.summary.loc["_treated"]
    return (
        float(row["exp(coef)"]),
        float(row["exp(coef) lower 95%"]),
        float(row["exp(coef) upper 95%"]),
        float(row["p"]),
    )


def matched_estimate(
    cohort: pd.DataFrame,
    study,
    *,
    label: str,
    covariates: list[str],
    caliper: float | None = 0.2,
    ratio: int = 1,
    replace: bool = False,
    order: str = "largest",
    seed: int | None = None,
    formula: str | None = None,
) -> Estimate:
    """Match with the given settings, then fit the Cox model of OS on treatment in the matched sample."""
    arm = study.treatment.column
    model = fit_propensity(cohort, arm, study.treatment.treated, covariates, formula=formula, study=study)
    result = nearest_neighbour_match(
        model.logit, model.treated, caliper_sd=caliper, ratio=ratio, replace=replace, order=order, seed=seed
    )
    os_ = study.outcome("os")
    fit = matched_set_cox(cohort, result, study, os_.time, os_.event, replace=replace)  # SE clustered on the sets
    hr, low, high, p, method = (fit[k] for k in ("hr", "ci_low", "ci_high", "p", "method"))
    return Estimate(label, hr, low, high, p, len(result.matched_treated), len(result.matched_controls), method)


def att_weights(scores: pd.Series, treated: pd.Series) -> pd.Series:
    """Weights for the effect in the treated: 1 for treated patients, e/(1-e) for controls."""
    e = scores.clip(1e-6, 1 - 1e-6)
    return pd.Series(np.where(treated, 1.0, e / (1 - e)), index=scores.index, name="att_weight")


def weighted_estimate(cohort: pd.DataFrame, study, *, label: str, covariates: list[str]) -> Estimate:
    """Inverse-probability (ATT) weighting in place of matching: weighted Cox with robust SE."""
    arm = study.treatment.column
    model = fit_propensity(cohort, arm, study.treatment.treated, covariates, study=study)
    frame = cohort.assign(
        _treated=model.treated.astype(int).to_numpy(), _w=att_weights(model.scores, model.treated).to_numpy()
    )
    os_ = study.outcome("os")
    hr, low, high, p = treatment_cox(frame, os_.time, os_.event, weights="_w")
    return Estimate(
        label,
        hr,
        low,
        high,
        p,
        int(model.treated.sum()),
        int((~model.treated).sum()),
        "ATT-weighted Cox, robust (sandwich) SE",
    )


def weighted_km(cohort: pd.DataFrame, study, covariates: list[str], endpoint: str = "os") -> dict:
    """Kaplan–Meier curves per arm with ATT weights (the controls reweighted to resemble the treated)."""
    arm = study.treatment.column
    model = fit_propensity(cohort, arm, study.treatment.treated, covariates, study=study)
    weights = att_weights(model.scores, model.treated)
    outcome = study.outcome(endpoint)
    fits = {}
    import warnings

    for code in study.treatment.arms:
        keep = cohort[arm] == code
        with warnings.catch_warnings():  # lifelines warns that weighted variances are naive: no CI is shown
            warnings.simplefilter("ignore")
            fits[code] = KaplanMeierFitter(label=study.arm_label(code)).fit(
                cohort.loc[keep, outcome.time], cohort.loc[keep, outcome.event], weights=weights[keep]
            )
    return fits


def hr_to_rr(hr: float) -> float:
    """Approximate risk ratio of a hazard ratio for a common outcome (VanderWeele 2017)."""
    return (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))


def e_value(hr: float, ci_low: float, ci_high: float, common_outcome: bool = True) -> tuple[float, float]:
    """E-values of a hazard ratio and of its CI limit nearest to 1 (VanderWeele and Ding 2017).

    The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured
    confounder would need with both treatment and outcome to explain the estimate away. For a common
    outcome (more than 15% events) the HR is first converted to an approximate risk ratio.
    """

    def one(value: float) -> float:
        rr = hr_to_rr(value) if common_outcome else value
        rr = 1 / rr if rr < 1 else rr
        return rr + math.sqrt(rr * (rr - 1))

    if ci_low <= 1 <= ci_high:
        limit = 1.0
    else:
        limit = one(ci_high if hr < 1 else ci_low)
    return one(hr), limit


def forest(estimates: pd.DataFrame, *, reference: float | None = None, reference_label: str = "", title: str = ""):
    """Hazard ratio and 95% CI of every analysis on a log axis, the main analysis first."""
    import matplotlib.pyplot as plt

    shown = estimates.iloc[::-1]
    y = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(7.4, 0.42 * len(shown) + 1.5))
    ax.errorbar(
        shown["hr"],
        y,
        xerr=[shown["hr"] - shown["ci_low"], shown["ci_high"] - shown["hr"]],
        fmt="s",
        color="black",
        ecolor="#555555",
        capsize=3,
        ms=5,
    )
    ax.axvline(1.0, color="#999999", lw=1)
    if reference is not None:
        ax.axvline(reference, color="#D55E00", ls="--", lw=1.2, label=reference_label)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8.5)
    ax.set_xscale("log")
    ticks = [0.25, 0.35, 0.5, 0.7, 1.0, 1.4]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_yticks(y, shown.index)
    ax.set_xlabel("Hazard ratio of death, CRT + anlotinib vs CRT alone (log scale)")
    ax.set_title(title, pad=26 if reference is not None else 6)
    fig.tight_layout()
    return fig


def standard_analyses(cohort: pd.DataFrame, study, main: dict, calipers: list[float]) -> list[Estimate]:
    """The main matched analysis and its variations: other calipers and none, 1:2, with replacement,
    all Table 1 covariates, only age/differentiation/node diameter, and ATT weighting.

    ``main`` holds the matching chapter's settings (covariates, ps_formula, caliper, ratio, replace,
    match_order, seed).
    """
    covariates = list(main["covariates"])
    base = dict(
        covariates=covariates,
        ratio=main["ratio"],
        replace=main["replace"],
        order=main["match_order"],
        seed=main["seed"],
        formula=main.get("ps_formula") or None,
        caliper=main["caliper"],
    )
    runs = [("Main analysis (matching chapter)", {})]
    others = [c for c in calipers if c != main["caliper"]] + ([None] if main["caliper"] is not None else [])
    runs += [(f"Caliper {c:g} SD" if c else "No caliper", {"caliper": c}) for c in others]
    runs += [("1:2 matching", {"ratio": 2}), ("With replacement", {"replace": True})]
    extra = [c for c in study.covariate_columns if c not in covariates]
    if extra:
        runs.append(("All Table 1 covariates", {"covariates": covariates + extra, "formula": None}))
    core = [c for c in ("age_group", "differentiation", "node_diameter") if c in covariates]
    if core and len(core) < len(covariates):
        runs.append(("Only age, differentiation, node diameter", {"covariates": core, "formula": None}))
    estimates = [matched_estimate(cohort, study, label=label, **{**base, **change}) for label, change in runs]
    estimates.append(
        weighted_estimate(cohort, study, label="Inverse-probability weighting (ATT)", covariates=covariates)
    )
    return estimates


def sensitivity_numbers(estimates: list[Estimate], truth: float | None = None) -> dict[str, object]:
    """The sensitivity analysis for the prose: the main estimate (the first), the range over all
    analyses, how many intervals lie below 1, the E-value of the main estimate, and a sentence on the
    synthetic cohort's true hazard ratio when there is one (empty otherwise)."""
    first = estimates[0]
    hrs = [e.hr for e in estimates]
    e_point, e_limit = e_value(first.hr, first.ci_low, first.ci_high)
    truth_text = (
        ""
        if truth is None
        else f" The synthetic cohort's true conditional hazard ratio, {truth:.3f}, is drawn as a dashed line; the "
        "matched estimates target a marginal effect in the treated, which for a hazard ratio is not the "
        "same number even without bias (the hazard ratio is non-collapsible), so the line is a guide, "
        "not a bull's-eye."
    )
    return {
        "main_hr": hr_ci_p_text(first.hr, first.ci_low, first.ci_high, digits=2),
        "hr_range": f"{min(hrs):.2f} to {max(hrs):.2f}",
        "n_analyses": len(estimates),
        "n_significant": sum(e.ci_high < 1 for e in estimates),
        "e_point": f"{e_point:.2f}",
        "e_limit": f"{e_limit:.2f}",
        "truth": truth_text,
    }
