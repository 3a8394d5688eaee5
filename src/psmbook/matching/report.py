"""What the matching chapter reports: the score model's odds ratios, the match in numbers, the matched
sample and the flow of patients, balance before and after matching with its verdict and its figures,
and the matching chapter's results."""

from __future__ import annotations

import pandas as pd

from psmbook.cohort import flow
from psmbook.cohort.validation import check_matchable
from psmbook.matching import balance
from psmbook.matching.nearest import MATCHER_LABELS
from psmbook.matching.result import MatchResult, matched_cohort
from psmbook.matching.score import PropensityModel
from psmbook.present.format import format_p
from psmbook.present.style import CONTROL_COLOUR, TREATED_COLOUR


def odds_ratio_display(model: PropensityModel):
    """The score model's odds ratios with 95% CI and p, terms written ``covariate = level``."""
    shown = model.odds_ratios().copy()
    shown.index = shown.index.str.replace(r"C\((\w+)\)\[T\.([^\]]+)\]", r"\1 = \2", regex=True)
    shown.columns = ["odds ratio", "95% CI low", "95% CI high", "p"]
    return shown.style.format({"odds ratio": "{:.2f}", "95% CI low": "{:.2f}", "95% CI high": "{:.2f}", "p": format_p})


def matched_counts(result: MatchResult) -> dict[str, int]:
    """Treated patients matched, controls matched, treated left unmatched, treated in all."""
    summary = result.summary()
    return {
        "n_matched_treated": int(summary.loc["Matched", "Treated"]),
        "n_matched_control": int(summary.loc["Matched", "Control"]),
        "n_unmatched_treated": int(summary.loc["Unmatched", "Treated"]),
        "n_treated_all": int(summary.loc["All", "Treated"]),
    }


def match_numbers(result: MatchResult, *, caliper, ratio: int, replace: bool, match_order: str) -> dict[str, object]:
    """The match for the prose: the settings in words, the caliper's width on the logit scale, the
    counts of :func:`matched_counts` and the matcher that ran."""
    return {
        "match_order": f"`{match_order}`",
        "caliper_text": "no limit (no caliper)" if caliper is None else f"{caliper:g}",
        "caliper_width": "none" if result.caliper is None else f"{result.caliper:.3f}",
        **matched_counts(result),
        "ratio_text": f"1:{ratio}" + (" with replacement" if replace else " without replacement"),
        "matcher_used": MATCHER_LABELS[result.settings["matcher"]],
    }


def matched_sample(cohort: pd.DataFrame, model: PropensityModel, result: MatchResult, caliper) -> pd.DataFrame:
    """The matched patients with their score (``ps``) and its logit (``logit_ps``), as the later chapters
    read them; a MatchingError naming the caliper (``caliper``: SD of the logit score, None for none)
    when no treated patient found a control."""
    caliper_text = "none" if caliper is None else f"{caliper:g} SD of the logit score"
    check_matchable(matched_counts(result)["n_matched_treated"], int(model.treated.sum()), caliper_text)
    return matched_cohort(cohort.assign(ps=model.scores, logit_ps=model.logit), result)


def plot_flow(cohort: pd.DataFrame, study, result: MatchResult, ratio: int):
    """The flow of patients from the cohort through the arms to the matched sample (a Figure)."""
    counts = matched_counts(result)
    matched = {
        study.treatment.treated: counts["n_matched_treated"],
        study.treatment.control: counts["n_matched_control"],
    }
    arms = flow.arm_flows(flow.arm_counts(cohort, study), study, matched=matched)
    return flow.plot_patient_flow(
        len(cohort),
        *arms,
        matching_note=f"1:{ratio} propensity-score matching",
        population=study.population or study.name,
        evaluable=study.has_response,
    )


def level_labels(study) -> dict[str, str]:
    """``column=level`` -> 'Covariate: level' for every covariate level, and the logit score's label."""
    labels = {f"{v.column}={code}": f"{v.label}: {label}" for v in study.covariates for code, label in v.levels.items()}
    labels["logit_ps"] = "Propensity score (logit)"
    return labels


def balance_before_after(cohort: pd.DataFrame, matched: pd.DataFrame, logit: pd.Series, study) -> pd.DataFrame:
    """SMD and variance ratio of every covariate level and of the logit score, before matching (all
    patients) and after (the matched patients, with their matching weights)."""
    levels = {v.column: list(v.levels) for v in study.covariates}
    columns = [v.column for v in study.covariates]
    arm, treated = study.treatment.column, study.treatment.treated
    before = balance.indicators(cohort, columns, levels).assign(logit_ps=logit)
    after = balance.indicators(matched, columns, levels).assign(logit_ps=matched["logit_ps"])
    return balance.balance_table(
        before, cohort[arm].eq(treated), after, matched[arm].eq(treated), weights_after=matched["match_weight"]
    )


def balance_display(smd: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The balance table shown: SMD and variance ratio before and after, per labelled level, to 3 decimals."""
    shown = smd.rename(index=labels)[["smd_before", "smd_after", "variance_ratio_before", "variance_ratio_after"]]
    return shown.round(3)


def plot_overlap(model: PropensityModel, matched: pd.DataFrame, study):
    """Mirrored histograms of the logit score per arm, all patients and the matched ones (a Figure)."""
    logit = model.logit
    return balance.overlap_plot(
        logit,
        model.treated,
        pd.Series(logit.index.isin(matched.index), index=logit.index),
        colours=(TREATED_COLOUR, CONTROL_COLOUR),
        labels=(study.arm_label(study.treatment.treated), study.arm_label(study.treatment.control)),
    )


def balance_numbers(smd: pd.DataFrame, labels: dict[str, str], covariates: list[str]) -> dict[str, object]:
    """Balance for the prose: levels checked, imbalanced before and after (|SMD| at or above the
    threshold), the largest |SMD| after, the score's SMD after, and a verdict naming what stays imbalanced."""
    levels = smd.loc[smd.index != "logit_ps"]
    imbalanced = levels[levels["smd_after"].abs() >= balance.THRESHOLD]
    if len(imbalanced):
        items = "; ".join(
            f"{labels[c]} ({smd.loc[c, 'smd_after']:+.2f}"
            f"{'' if c.split('=')[0] in covariates else ', not in the score model'})"
            for c in imbalanced.index
        )
        verdict = (
            f"**Verdict: {len(imbalanced)} covariate level(s) remain at or above the {balance.THRESHOLD:g} threshold**"
            f" — {items}. With a few dozen patients per arm an SMD of {balance.THRESHOLD:g} is a difference of a few "
            "patients; it is worth adjusting for these in the outcome models (the Survival chapter's multivariable "
            "Cox model does)."
        )
    else:
        verdict = f"**Verdict: every covariate level is balanced** (|SMD| < {balance.THRESHOLD:g}) after matching."
    return {
        "n_levels": len(levels),
        "n_imbalanced_before": int((levels["smd_before"].abs() >= balance.THRESHOLD).sum()),
        "n_imbalanced_after": len(imbalanced),
        "max_smd_after": f"{levels['smd_after'].abs().max():.3f}",
        "smd_ps_after": f"{smd.loc['logit_ps', 'smd_after']:.3f}",
        "verdict": verdict,
    }


def matching_values(result: MatchResult, model: PropensityModel, smd: pd.DataFrame, study) -> dict[str, object]:
    """The matching chapter's results besides Table 1: matched arm sizes (under the paper's ids), the
    score model's c-statistic, the caliper's width, unmatched treated patients and the largest |SMD| after."""
    counts = matched_counts(result)
    values: dict[str, object] = {}
    for code, side in ((study.treatment.treated, "treated"), (study.treatment.control, "control")):
        values[f"table1.after.n.{code}"] = counts[f"n_matched_{side}"]
        values[f"text.cohort.after.n.{code}"] = counts[f"n_matched_{side}"]
    values.update(
        {
            "matching.c_statistic": model.c_statistic(),
            "matching.caliper_logit": result.caliper,
            "matching.unmatched.treated": counts["n_unmatched_treated"],
            "matching.max_abs_smd_after": float(smd.loc[smd.index != "logit_ps", "smd_after"].abs().max()),
        }
    )
    return values


def score_numbers(model: PropensityModel) -> dict[str, object]:
    """The score model for the prose: its c-statistic and its formula."""
    return {"c_statistic": f"{model.c_statistic():.3f}", "ps_formula": f"`{model.formula}`"}
