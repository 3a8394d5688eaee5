"""What the matching chapter reports: the score model's odds ratios, the match in numbers, the matched
sample and the flow of patients, balance before and after matching (as MatchIt's summary and cobalt's
bal.tab show it, under each SMD convention) with its verdict and its figures, the matched data for
download, and the matching chapter's results."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from psmbook.cohort import flow
from psmbook.cohort.validation import check_matchable
from psmbook.matching import balance, balance_summary
from psmbook.matching.nearest import MATCHER_LABELS
from psmbook.matching.result import MatchResult, matched_cohort
from psmbook.matching.score import PropensityModel
from psmbook.present import privacy
from psmbook.present.format import format_p
from psmbook.present.style import CONTROL_COLOUR, TREATED_COLOUR


def odds_ratio_display(model: PropensityModel, study=None):
    """The score model's odds ratios with 95% CI and p. With the ``study``, labelled as it labels its
    covariates and levels, each categorical covariate against its first level in the description (a row
    marked "(reference)"; :meth:`PropensityModel.odds_ratios_by_level`); without, the model's own terms
    written ``covariate = level`` (a continuous covariate's "per unit", or per its step)."""
    if study is not None:
        shown = model.odds_ratios_by_level(study).rename_axis(None)
    else:
        shown = model.odds_ratios().copy()
        shown.index = shown.index.map(model.term_labels())
    shown.columns = ["odds ratio", "95% CI low", "95% CI high", "p"]
    formats = {"odds ratio": "{:.2f}", "95% CI low": "{:.2f}", "95% CI high": "{:.2f}", "p": format_p}
    return shown.style.format(formats, na_rep="").format_index(escape="html")  # labels such as "< 50 years"


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


def plot_flow(
    cohort: pd.DataFrame,
    study,
    result: MatchResult,
    ratio: int,
    cohort_results: Mapping | None = None,
    min_cell: int = 0,
):
    """The flow of patients from the cohort through the arms to the matched sample (a Figure); with the
    cohort chapter's results, from the patients of the data file and the protocol's exclusions on; counts
    from 1 to ``min_cell`` - 1 hidden as :func:`psmbook.cohort.flow.plot_patient_flow` hides them."""
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
        evaluable=study.has_response and study.response.not_evaluable is not None,
        **flow.screening_shown(cohort_results or {}),
        min_cell=min_cell,
    )


def balance_shown(table: pd.DataFrame, cohort: pd.DataFrame, matched: pd.DataFrame, study, min_cell: int = 0):
    """The balance table as the page may show it: a categorical covariate with a level of 1 to ``min_cell``
    - 1 patients in an arm (all patients for the ``*_before`` statistics, the matched ones for ``*_after``)
    has those statistics blank on every level row, since a level's mean (its share of the arm), SMD or
    variance ratio with the arm's size gives its count. The verdicts stay; with ``min_cell`` off, ``table``."""
    if not min_cell:
        return table
    shown = table.copy()
    arm, arms = study.treatment.column, study.treatment.arms
    for variable in (v for v in study.covariates if not v.continuous):
        rows = [r for r in (f"{variable.column}={code}" for code in variable.levels) if r in shown.index]
        for frame, when in ((cohort, "before"), (matched, "after")):
            if variable.column not in frame:
                continue
            counts = pd.crosstab(frame[variable.column], frame[arm]).reindex(columns=list(arms), fill_value=0)
            if any(privacy.is_suppressed(n, min_cell) for n in counts.to_numpy().ravel()):
                columns = [c for c in shown.columns if c.endswith(f"_{when}") and shown[c].dtype.kind == "f"]
                shown.loc[rows, columns] = np.nan
    return shown


def level_labels(study) -> dict[str, str]:
    """``column=level`` -> 'Covariate: level' for every covariate level, ``column`` -> 'Covariate (unit)'
    for a continuous covariate, and the logit score's label."""
    labels = {f"{v.column}={code}": f"{v.label}: {label}" for v in study.covariates for code, label in v.levels.items()}
    for v in study.covariates:
        if v.continuous:
            labels[v.column] = f"{v.label} ({v.unit})" if v.unit else v.label
    labels["logit_ps"] = "Propensity score (logit)"
    return labels


def covariate_kinds(study) -> dict[str, list[str] | None]:
    """The balance rows of every covariate of the study: its level codes, or None for a continuous one."""
    return {v.column: None if v.continuous else list(v.levels) for v in study.covariates}


def balance_before_after(cohort: pd.DataFrame, matched: pd.DataFrame, logit: pd.Series, study) -> pd.DataFrame:
    """SMD over the pooled SD of the unmatched arms (Austin 2009) and variance ratio of every covariate
    level and of the logit score, before matching (all patients) and after (the matched patients, with
    their matching weights): :func:`psmbook.matching.balance.balance_table`, the lab's convention."""
    levels = {v.column: list(v.levels) for v in study.covariates}
    columns = [v.column for v in study.covariates]
    arm, treated = study.treatment.column, study.treatment.treated
    before = balance.indicators(cohort, columns, levels).assign(logit_ps=logit)
    after = balance.indicators(matched, columns, levels).assign(logit_ps=matched["logit_ps"])
    return balance.balance_table(
        before, cohort[arm].eq(treated), after, matched[arm].eq(treated), weights_after=matched["match_weight"]
    )


def balance_report(cohort: pd.DataFrame, matched: pd.DataFrame, logit: pd.Series, study) -> pd.DataFrame:
    """Balance of every covariate row (each level of a categorical covariate, each continuous covariate)
    and of the logit score, in all patients and in the matched sample with its matching weights, as
    MatchIt's ``summary(m, un = TRUE)`` computes it, with the other conventions and the verdicts
    (:func:`psmbook.matching.balance_summary.before_after`); ``smd_*`` is MatchIt's ATT SMD."""
    arm, treated = study.treatment.column, study.treatment.treated
    X = balance_summary.covariate_matrix(cohort, covariate_kinds(study)).assign(logit_ps=logit)
    weights = matched["match_weight"].reindex(cohort.index, fill_value=0.0)
    return balance_summary.before_after(X, cohort[arm].eq(treated), weights)


def matchit_display(table: pd.DataFrame, labels: dict[str, str], when: str):
    """MatchIt's "Summary of Balance for All Data" (``when="before"``) or "... for Matched Data"
    (``"after"``): its six columns under its names, to 4 decimals, "." where MatchIt prints NA."""
    if when not in ("before", "after"):
        raise ValueError(f"when must be 'before' or 'after', got {when!r}")
    shown = table[[f"{s}_{when}" for s in balance_summary.STATS]].rename(index=labels)
    shown.columns = [balance_summary.MATCHIT_NAMES[s] for s in balance_summary.STATS]
    return shown.style.format("{:.4f}", na_rep=".")


def _row_types(table: pd.DataFrame) -> pd.Series:
    kinds = np.where(table["binary"], "Binary", "Contin.")
    return pd.Series(kinds, index=table.index).mask(table.index == "logit_ps", "Distance")


def _verdict(flags: pd.Series, threshold: float) -> pd.Series:
    return flags.map({True: f"Balanced, <{threshold:g}", False: f"Not Balanced, >{threshold:g}"}).fillna("")


def bal_tab_display(table: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The balance table as cobalt prints ``bal.tab(m, un = TRUE, binary = "std", thresholds = c(m = .1,
    v = 2))``: type, SMD before (Diff.Un) and after (Diff.Adj), the verdict after (M.Threshold, the
    ``balanced_after`` column), variance ratios and their verdict after (continuous rows); the score's
    row (Distance) is shown but not judged."""
    judged = table.index != "logit_ps"
    shown = pd.DataFrame(
        {
            "Type": _row_types(table),
            "Diff.Un": table["smd_before"].round(4),
            "Diff.Adj": table["smd_after"].round(4),
            "M.Threshold": _verdict(table["balanced_after"].where(judged), balance_summary.SMD_THRESHOLD),
            "V.Ratio.Un": table["variance_ratio_before"].round(4),
            "V.Ratio.Adj": table["variance_ratio_after"].round(4),
            "V.Threshold": _verdict(
                table["variance_balanced_after"].where(judged), balance_summary.VARIANCE_RATIO_THRESHOLD
            ),
        }
    )
    return shown.rename(index=labels).fillna("")


def balance_tally(table: pd.DataFrame) -> pd.DataFrame:
    """cobalt's balance tally, before and after matching: covariate rows (the score excluded) within and
    beyond |SMD| 0.1, and continuous rows whose variance ratio is within or beyond 1/2 to 2."""
    rows = table.loc[table.index != "logit_ps"]
    m, v = balance_summary.SMD_THRESHOLD, balance_summary.VARIANCE_RATIO_THRESHOLD
    tally = {}
    for when, name in (("before", "Before matching"), ("after", "After matching")):
        balanced = rows[f"balanced_{when}"]
        ratios = rows[f"variance_balanced_{when}"].dropna().astype(bool)
        tally[name] = {
            f"Mean differences: balanced, <{m:g}": int(balanced.sum()),
            f"Mean differences: not balanced, >{m:g}": int((~balanced).sum()),
        }
        if rows["variance_ratio_before"].notna().any():
            tally[name] |= {
                f"Variance ratios: balanced, <{v:g}": int(ratios.sum()),
                f"Variance ratios: not balanced, >{v:g}": int((~ratios).sum()),
            }
    return pd.DataFrame(tally).rename_axis("Balance tally")


#: The SMD conventions set side by side, by the column of the balance table that holds them.
CONVENTIONS = {
    "smd": "SMD, treated SD (MatchIt; ATT)",
    "smd_pooled": "SMD, pooled SD (Austin 2009)",
    "cobalt": "cobalt default (raw for binary)",
}


def _convention_values(table: pd.DataFrame, when: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "smd": table[f"smd_{when}"],
            "smd_pooled": table[f"smd_pooled_{when}"],
            "cobalt": table[f"difference_{when}"].where(table["binary"], table[f"smd_{when}"]),
        }
    )


def convention_differences(table: pd.DataFrame) -> pd.Series:
    """For every covariate row (the score excluded): True where the verdict at |SMD| 0.1, before or
    after matching, is not the same under every convention of :data:`CONVENTIONS`."""
    rows = table.loc[table.index != "logit_ps"]
    differs = pd.Series(False, index=rows.index)
    for when in ("before", "after"):
        verdicts = _convention_values(rows, when).abs() < balance_summary.SMD_THRESHOLD
        differs |= verdicts.nunique(axis=1) > 1
    return differs


def conventions_display(table: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The three conventions of :data:`CONVENTIONS`, before and after matching, for the covariate rows
    whose verdict depends on the convention (every covariate row when none does), to 3 decimals."""
    differs = convention_differences(table)
    rows = table.loc[differs.index[differs] if differs.any() else differs.index]
    frames = {
        name: _convention_values(rows, when).rename(columns=CONVENTIONS)
        for when, name in (("before", "Before matching"), ("after", "After matching"))
    }
    return pd.concat(frames, axis=1).round(3).rename(index=labels)


def convention_numbers(table: pd.DataFrame) -> dict[str, object]:
    """The conventions for the prose: covariate rows imbalanced after matching under each convention, and
    how many rows' verdict depends on the convention."""
    rows = table.loc[table.index != "logit_ps"]
    after = _convention_values(rows, "after").abs() >= balance_summary.SMD_THRESHOLD
    differs = convention_differences(table)
    return {
        "n_imbalanced_after_treated_sd": int(after["smd"].sum()),
        "n_imbalanced_after_pooled_sd": int(after["smd_pooled"].sum()),
        "n_imbalanced_after_cobalt": int(after["cobalt"].sum()),
        "n_convention_rows": int(differs.sum()),
        "convention_rows_text": "the rows where the verdict depends on the convention"
        if differs.any()
        else "every covariate row (no verdict depends on the convention)",
    }


def plot_overlap(model: PropensityModel, matched: pd.DataFrame, study, *, min_cell: int = 0):
    """Mirrored histograms of the logit score per arm, all patients and the matched ones (a Figure); no bar
    of 1 to ``min_cell`` - 1 patients (see :func:`psmbook.matching.balance.overlap_plot`)."""
    logit = model.logit
    return balance.overlap_plot(
        logit,
        model.treated,
        pd.Series(logit.index.isin(matched.index), index=logit.index),
        colours=(TREATED_COLOUR, CONTROL_COLOUR),
        labels=(study.arm_label(study.treatment.treated), study.arm_label(study.treatment.control)),
        min_cell=min_cell,
    )


def balance_numbers(smd: pd.DataFrame, labels: dict[str, str], covariates: list[str]) -> dict[str, object]:
    """Balance for the prose: covariate rows checked (levels and continuous covariates), imbalanced
    before and after (|SMD| at or above the threshold), the largest |SMD| after and its row, the score's
    SMD after, and a verdict naming what stays imbalanced (and, given variance ratios, which continuous
    rows' ratio after lies beyond 1/2 to 2)."""
    threshold = balance.THRESHOLD
    rows = smd.loc[smd.index != "logit_ps"]
    imbalanced = rows[rows["smd_after"].abs() >= threshold]
    spread = pd.Series(dtype=float)
    if "variance_balanced_after" in rows:
        flags = rows["variance_balanced_after"].dropna().astype(bool)
        spread = rows.loc[flags.index[~flags], "variance_ratio_after"]
    problems = [
        f"{labels.get(c, c)} ({smd.loc[c, 'smd_after']:+.2f}"
        f"{'' if c.split('=')[0] in covariates else ', not in the score model'})"
        for c in imbalanced.index
    ] + [f"{labels.get(c, c)} (variance ratio {r:.2f})" for c, r in spread.items()]
    ratio = balance_summary.VARIANCE_RATIO_THRESHOLD
    found = []
    if len(imbalanced):
        found.append(f"{len(imbalanced)} covariate row(s) remain at or above the {threshold:g} threshold")
    if len(spread):
        found.append(f"{len(spread)} continuous covariate(s) have a variance ratio beyond 1/{ratio:g} to {ratio:g}")
    if problems:
        verdict = (
            f"**Verdict: {' and '.join(found)}** — {'; '.join(problems)}. With a few dozen patients per arm an SMD "
            f"of {threshold:g} is a difference of a few patients; it is worth adjusting for these in the outcome "
            "models (the Survival chapter's multivariable Cox model does)."
        )
    else:
        verdict = (
            f"**Verdict: every covariate row is balanced** (|SMD| < {threshold:g}"
            + (f", variance ratios within 1/{ratio:g} to {ratio:g}" if "variance_balanced_after" in rows else "")
            + ") after matching."
        )
    largest = rows["smd_after"].abs().idxmax()
    return {
        "smd_threshold": f"{threshold:g}",
        "vr_threshold": f"{ratio:g}",
        "cobalt_thresholds": f"`thresholds = c(m = {threshold:g}, v = {ratio:g})`",
        "bal_tab_call": f'`bal.tab(m, un = TRUE, binary = "std", thresholds = c(m = {threshold:g}, v = {ratio:g}))`',
        "n_levels": len(rows),
        "n_imbalanced_before": int((rows["smd_before"].abs() >= threshold).sum()),
        "n_imbalanced_after": len(imbalanced),
        "max_smd_after": f"{abs(smd.loc[largest, 'smd_after']):.3f}",
        "max_smd_after_label": labels.get(largest, largest),
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


def score_numbers(model: PropensityModel, study=None) -> dict[str, object]:
    """The score model for the prose: its c-statistic, its formula and how its covariates enter it (their
    odds ratios against the study's first levels, with the ``study``: :func:`odds_ratio_display`)."""
    return {
        "c_statistic": f"{model.c_statistic():.3f}",
        "ps_formula": f"`{model.formula}`",
        "ps_terms": model.terms_text(study),
    }
