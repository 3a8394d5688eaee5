"""What the survival chapter says about its Cox models: the matched pairs' models, Table 3's selection
beside the paper's, the treatment's hazard ratio, proportional hazards, the generator's truth, and the
chapter's results.

Each ``*_numbers`` function returns {name: value} for the prose ({glue} names); nothing is typed.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from psmbook.analysis.survival.cox import pair_aware_cox
from psmbook.present.format import format_p, hr_ci_p_text, hr_ci_text

METHOD_LABELS = {
    "independent": "Independent (naive)",
    "robust": "Robust SE, clustered on pairs",
    "stratified": "Stratified on pairs",
}


#: The matched pairs' models as R writes them: the book's fits give R's ``coxph`` estimates (Efron's ties).
R_FORMULAS = {
    "independent": "coxph(Surv(time, event) ~ treated)",
    "robust": "coxph(Surv(time, event) ~ treated + cluster(pair))",
    "stratified": "coxph(Surv(time, event) ~ treated + strata(pair))",
}


def pair_method_numbers(matched: pd.DataFrame) -> dict[str, str]:
    """How the matched pairs' models are fitted, for the prose: their R formulas (``robust_r``,
    ``stratified_r``), the code that fits them (``pair_engine``) and the matching weights
    (``pair_weights``, :func:`pair_weights_text`)."""
    return {
        "pair_weights": pair_weights_text(matched),
        "robust_r": f"`{R_FORMULAS['robust']}`",
        "stratified_r": f"`{R_FORMULAS['stratified']}`",
        "pair_engine": "The naive model is fitted with lifelines; the robust and the stratified model with the "
        "book's own Cox code (`psmbook.analysis.survival.fastcox`), which sorts the patients once and sums "
        "every risk set cumulatively within its stratum, so that its time grows as n log n, where lifelines' "
        "robust variance grows with the square of the number of patients. All three give R survival's "
        "`coxph` estimates, with Efron's handling of tied times.",
    }


#: The multivariable lower limit the paper prints differently in its Table 3 and its text.
PAPER_CI_TYPO = "nodes_group.multiple"


def pair_models_by_endpoint(matched: pd.DataFrame, study, endpoints) -> dict[str, pd.DataFrame]:
    """The treatment's Cox models of the matched cohort (:func:`pair_aware_cox`: independent, robust,
    stratified on the pairs) for each endpoint, weighted by the matching weights when they vary."""
    weights = "match_weight" if "match_weight" in matched.columns else None
    return {
        e: pair_aware_cox(matched, study, study.outcome(e).time, study.outcome(e).event, pair="pair", weights=weights)
        for e in endpoints
    }


def pair_weights_text(matched: pd.DataFrame, weights: str = "match_weight") -> str:
    """What the matching weights do to the pair models, for the prose."""
    if weights not in matched.columns or (matched[weights] == 1).all():
        return "Every matched patient has weight 1 here (one control per treated patient, none re-used)."
    return (
        "Here the matched sets are not all pairs of one treated patient and one control, so each patient is "
        "weighted by MatchIt's matching weight (a control of a set with k controls counts 1/k, rescaled), "
        "and the robust variance is clustered on the matched sets; a control re-used by several sets "
        "(matching with replacement) is one row in its first set."
    )


def pair_table(pair_models: Mapping[str, pd.DataFrame], study, *, with_se: bool = False) -> pd.DataFrame:
    """The treatment's hazard ratio per endpoint ignoring the pairs, with SE clustered on the pairs, and
    stratified on them (``with_se``: the SE of the log HR too)."""
    blocks = []
    for t in pair_models.values():
        columns = {"HR (95% CI)": [hr_ci_text(r.hr, r.ci_low, r.ci_high) for r in t.itertuples()]}
        if with_se:
            columns["SE of log HR"] = [f"{v:.3f}" for v in t["se"]]
        columns["p"] = [format_p(p) for p in t["p"]]
        columns["Pairs used"] = [f"{r.pairs_used} of {r.pairs}" for r in t.itertuples()]
        blocks.append(pd.DataFrame(columns, index=[METHOD_LABELS[i] for i in t.index]))
    return pd.concat(blocks, axis=1, keys=[study.outcome(e).label for e in pair_models])


def pair_numbers(os_pairs: pd.DataFrame) -> dict[str, object]:
    """The three OS models of the matched pairs for the prose: each HR, CI, SE and p, the pairs the
    stratified model uses, and sentences on how the stratified and robust models differ here."""
    numbers: dict[str, object] = {}
    for method in os_pairs.index:
        r = os_pairs.loc[method]
        numbers[f"os_{method}_hr"] = f"{r['hr']:.3f}"
        numbers[f"os_{method}_ci"] = f"{r['ci_low']:.3f}–{r['ci_high']:.3f}"
        numbers[f"os_{method}_se"] = f"{r['se']:.3f}"
        numbers[f"os_{method}_p"] = format_p(r["p"])
    stratified, robust, independent = (os_pairs.loc[m] for m in ("stratified", "robust", "independent"))
    numbers["os_pairs_used"] = int(stratified["pairs_used"])
    numbers["os_pairs"] = int(stratified["pairs"])
    numbers["os_pairs_lost"] = int(stratified["pairs"] - stratified["pairs_used"])
    numbers["stratified_here"] = (
        f"Here the stratified estimate lands closer to 1 than the marginal one: with a standard error of "
        f"{stratified['se']:.3f} on the log scale, against {robust['se']:.3f} "
        f"for the robust model, its sampling error swamps that expected difference"
        if abs(stratified["log_hr"]) < abs(robust["log_hr"])
        else "Here, as expected, the stratified estimate lies further from 1 than the marginal one, "
        "with a wider interval"
    )
    robust_smaller = robust["se"] < independent["se"]
    numbers["robust_direction"] = "smaller" if robust_smaller else "larger"
    numbers["robust_reason"] = (
        "outcomes within a pair are positively correlated, and a comparison within matched patients is "
        "more precise than the naive variance assumes: ignoring the pairing is conservative here"
        if robust_smaller
        else "the pairs add little shared prognosis here, and the sandwich estimator is itself noisy with so few pairs"
    )
    return numbers


def term_labels(factors) -> dict[str, str]:
    """Model term (``column.level``) -> 'Factor: level'."""
    return {f.term(level): f"{f.label}: {label}" for f in factors for level, label in f.levels.items()}


def ph_table(ph: pd.DataFrame, labels: Mapping[str, str], *, with_chi2: bool = False) -> pd.DataFrame:
    """Schoenfeld tests of proportional hazards per term (rank and Kaplan-Meier time transforms)."""
    columns = {}
    if with_chi2:
        columns["χ² (rank)"] = ph["chi2_rank"].map(lambda v: f"{v:.2f}")
    columns["p (rank)"] = ph["p_rank"].map(format_p)
    if with_chi2:
        columns["χ² (KM)"] = ph["chi2_km"].map(lambda v: f"{v:.2f}")
    columns["p (KM)"] = ph["p_km"].map(format_p)
    columns["Proportional hazards"] = ph["fails"].map({True: "rejected", False: "not rejected"})
    table = pd.DataFrame(columns)
    table.index = [labels.get(i, i) for i in ph.index]
    return table


def ph_numbers(ph: pd.DataFrame, labels: Mapping[str, str], alpha: float) -> dict[str, object]:
    """Proportional hazards for the prose: the table ``ph_table``, the level and a verdict naming every
    term that fails."""
    failing = ph.index[ph["fails"]].tolist()
    smallest = ph[["p_rank", "p_km"]].min(axis=1)
    verdict = (
        "**no term fails**: none of the tests rejects proportional hazards, the smallest p being "
        f"{format_p(smallest.min())} ({labels.get(smallest.idxmin(), smallest.idxmin())})."
        if not failing
        else f"**{len(failing)} term(s) fail**: "
        + "; ".join(f"{labels.get(t, t)} (p = {format_p(smallest[t])})" for t in failing)
        + ". Their hazard ratio is an average over follow-up of an effect that changes with time; the "
        "residual plot shows in which direction."
    )
    return {"ph_table": ph_table(ph, labels, with_chi2=True), "alpha_text": format_p(alpha, 2), "ph_verdict": verdict}


def factor_names(columns, factors) -> str:
    """Factors named in a sentence: 'age, ECOG and response after CRT' ('none' for none)."""
    label = {f.column: f.label for f in factors}
    labels = [label[c].lower().replace("ecog", "ECOG").replace("crt", "CRT") for c in columns]
    return "none" if not labels else labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def paper_selection(factors, t3: Mapping, entry: float) -> list[str]:
    """The factors whose univariate p in the paper's Table 3 is below the paper's entry level."""
    return [
        f.column
        for f in factors
        if any(
            t3[f"table3.univariate.{f.term(level)}.p"].value < entry
            for level in f.contrasts
            if f"table3.univariate.{f.term(level)}.p" in t3
        )
    ]


def selection_text(selected: list[str], paper_selected: list[str], factors, entry_p: float) -> str:
    """The factors entering this cohort's multivariable model, against the paper's."""
    if not selected:
        return (
            f"no factor has a univariate p below {entry_p:g}, so this cohort selects no multivariable "
            f"model (the paper's selected {factor_names(paper_selected, factors)})"
        )
    both = [c for c in selected if c in paper_selected]
    agreement = (
        "the same factors as the paper's"
        if set(selected) == set(paper_selected)
        else f"{len(both)} of them ({factor_names(both, factors)}) also entered the paper's"
        if both
        else "none of them entered the paper's"
    )
    return (
        f"{len(selected)} factor{'s' if len(selected) > 1 else ''} enter this cohort's multivariable "
        f"model — {factor_names(selected, factors)}; {agreement} ({factor_names(paper_selected, factors)})"
    )


def adjusted_text(chosen, selected: list[str], treatment: str) -> str:
    """The factors of the adjusted model (:func:`~psmbook.analysis.survival.cox.adjusted_factors`) in a
    sentence, saying when the treatment is there only because it is always kept."""
    others = [f.label for f in chosen if f.column != treatment]
    if not others:
        return "no factor passed the entry rule; the model below holds treatment alone"
    text = ", ".join(f.label for f in chosen)
    if treatment not in selected:
        text += (
            " (treatment did not pass the entry rule; it is kept, since the model is there to adjust its hazard ratio)"
        )
    return text


def paper_hr_p(pub: Mapping, prefix: str) -> str:
    """A hazard ratio of the paper with its CI and p, for the prose."""
    return hr_ci_p_text(*(pub[f"{prefix}.{kind}"].value for kind in ("hr", "ci_low", "ci_high", "p")))


def row_hr_p(row: pd.Series) -> str:
    """A fitted hazard ratio with its CI and p, for the prose."""
    return hr_ci_p_text(row["hr"], row["ci_low"], row["ci_high"], row["p"])


def treatment_text(arm_mv, arm_pm: pd.Series, selected_model) -> str:
    """The treatment's hazard ratio in the model selected here (if it entered) and with the paper's factors."""
    pm_text = row_hr_p(arm_pm)
    if arm_mv is not None:
        return (
            f"In the model selected here treatment has a hazard ratio of {row_hr_p(arm_mv)}; "
            f"with the paper's factors it is {pm_text}"
        )
    if selected_model is not None:
        return (
            f"Treatment did not enter the model selected here; with the paper's factors its hazard ratio is {pm_text}"
        )
    return f"With the paper's factors the treatment hazard ratio is {pm_text}"


def estimates_table(
    study, truth, marginal, os_pairs: pd.DataFrame, models: Mapping, arm_rows: Mapping, t3: Mapping, factors
) -> pd.DataFrame:
    """Every estimate of the treatment's hazard ratio of death with the estimand it targets and, for the
    synthetic cohort, that estimand's true value. ``models``: {"selected": model or None, "paper": model};
    ``arm_rows``: the treatment's row in each ({"selected": row or None, "paper": row})."""
    arm_id = f"{study.treatment.column}.{study.treatment.treated}"
    rows = []

    def add(name, estimand, hr, low=np.nan, high=np.nan, truth_value=None):
        row = {
            "Analysis": name,
            "Estimand": estimand,
            "HR (95% CI)": f"{hr:.3f}" if np.isnan(low) else hr_ci_text(hr, low, high),
        }
        if study.synthetic:
            row["True value of its estimand"] = "—" if truth_value is None else f"{truth_value:.3f}"
        rows.append(row)

    def others(model):
        return factor_names([f.column for f in model.factors if f.column != study.treatment.column], factors)

    def true_if_same_factors(model):
        return (
            truth.loc[arm_id, "hr"] if study.synthetic and set(model.table["factor"]) == set(truth["column"]) else None
        )

    if study.synthetic:
        conditional_on = factor_names([c for c in truth["column"] if c != study.treatment.column], factors)
        add("Generator: true conditional HR", f"conditional on {conditional_on}", truth.loc[arm_id, "hr"])
        add(
            "Generator: true marginal HR in the treated",
            "marginal, in patients like the matched treated ones",
            marginal,
        )
    for method, name in (
        ("independent", "Univariate Cox, matched, independent"),
        ("robust", "Univariate Cox, matched, robust SE"),
        ("stratified", "Cox stratified on pairs"),
    ):
        r = os_pairs.loc[method]
        estimand = "conditional on the pair" if method == "stratified" else "marginal (ATT)"
        add(name, estimand, r["hr"], r["ci_low"], r["ci_high"], None if method == "stratified" else marginal)
    if arm_rows["selected"] is not None:
        r, model = arm_rows["selected"], models["selected"]
        add(
            "Multivariable Cox, factors selected here",
            f"conditional on {others(model)}",
            r["hr"],
            r["ci_low"],
            r["ci_high"],
            true_if_same_factors(model),
        )
    r, model = arm_rows["paper"], models["paper"]
    add(
        "Multivariable Cox, the paper's factors",
        f"conditional on {others(model)}",
        r["hr"],
        r["ci_low"],
        r["ci_high"],
        true_if_same_factors(model),
    )
    for key, name in (("univariate", "Paper, univariate"), ("multivariate", "Paper, multivariable")):
        add(
            name,
            "marginal (ATT)" if key == "univariate" else f"conditional on {others(models['paper'])}",
            *(t3[f"table3.{key}.{arm_id}.{kind}"].value for kind in ("hr", "ci_low", "ci_high")),
        )
    return pd.DataFrame(rows).set_index("Analysis")


def truth_numbers(study, truth, marginal, os_pairs: pd.DataFrame, univariate, paper_model, arm_pm, t3, labels) -> dict:
    """The generator's true hazard ratios beside this book's and the paper's estimates (``truth_factors``)
    and what they show (``truth_text``); for a real cohort, a sentence that the truth is unknown."""
    if not study.synthetic:
        return {
            "truth_factors": pd.DataFrame(),
            "truth_text": "With a real cohort the true effect is unknown; "
            "the table shows what each analysis estimates.",
        }
    arm_id = f"{study.treatment.column}.{study.treatment.treated}"
    uni, pm = univariate.set_index("id"), paper_model.table.set_index("id")
    factor_rows = [
        {
            "Factor": labels.get(fid, fid),
            "True conditional HR": f"{r['hr']:.3f}",
            "Multivariable, paper's factors (this book)": hr_ci_text(
                pm.loc[fid, "hr"], pm.loc[fid, "ci_low"], pm.loc[fid, "ci_high"]
            ),
            "Univariate (this book)": hr_ci_text(uni.loc[fid, "hr"], uni.loc[fid, "ci_low"], uni.loc[fid, "ci_high"]),
            "Multivariable (paper)": f"{t3[f'table3.multivariate.{fid}.hr'].value:.3f}",
        }
        for fid, r in truth.iterrows()
    ]
    covered = sum(pm.loc[fid, "ci_low"] <= r["hr"] <= pm.loc[fid, "ci_high"] for fid, r in truth.iterrows())
    low, high = os_pairs.loc["robust", "ci_low"], os_pairs.loc["robust", "ci_high"]
    text = (
        f"The synthetic cohort's generator knows the answer. Its model of OS is a proportional-hazards model "
        f"whose treatment hazard ratio, conditional on the other {len(truth) - 1} factors, is "
        f"**{truth.loc[arm_id, 'hr']:.3f}** "
        f"(the paper's multivariable estimate, built in). The marginal hazard ratio it implies for patients like "
        f"the matched treated ones — the value a Cox model of treatment alone would reach if each of them were "
        f"observed under both treatments, with the study's follow-up — is **{marginal:.3f}**: closer to 1, as "
        f"non-collapsibility predicts. The matched "
        f"univariate estimate ({os_pairs.loc['independent', 'hr']:.3f}) is to be judged against the marginal "
        f"value, and its robust interval ({low:.3f}–{high:.3f}) "
        f"{'contains' if low <= marginal <= high else 'misses'} it. "
        f"The multivariable model with the paper's factors, which are the generator's own, estimates the "
        f"conditional value ({arm_pm['hr']:.3f}); its intervals cover the true hazard ratio of {covered} of "
        f"the {len(truth)} factors (second table below). The univariate hazard ratios of the other factors "
        f"are no estimates of these conditional values: each is marginal over the rest and carries along "
        f"whatever travels with its factor, treatment included. The two true treatment values are close "
        f"because the other {len(truth) - 1} factors spread the patients' risks only moderately; the "
        f"stronger the prognostic factors a model leaves out, the further apart a conditional and a "
        f"marginal hazard ratio are."
    )
    return {"truth_factors": pd.DataFrame(factor_rows).set_index("Factor"), "truth_text": text}


def univariate_numbers(
    pub: Mapping, study, matched: pd.DataFrame, response: pd.Series, factors, univariate, selected, entry_p: float
) -> dict[str, object]:
    """Table 3's univariate analysis beside the paper's, for the prose: the two entry levels, the patients
    without a response assessment, the factors selected here and by the paper, and the treatment's HR."""
    arm, treated, control = study.treatment.column, study.treatment.treated, study.treatment.control
    paper_entry = pub["text.methods.univariate_entry.p"].value
    paper_selected = paper_selection(factors, pub, paper_entry)
    arm_uni = univariate.set_index("id").loc[f"{arm}.{treated}"]
    return {
        "entry_p_paper": format_p(paper_entry, 2),
        "entry_p_text": f"{entry_p:g}",
        "n_ne_matched": int(response.isna().sum()),
        "n_ne_matched_treated": int((response.isna() & matched[arm].eq(treated)).sum()),
        "n_ne_matched_control": int((response.isna() & matched[arm].eq(control)).sum()),
        "n_paper_assessed": int(sum(pub[f"table2.after.n.{c}"].value for c in study.treatment.arms)),
        "selection_text": selection_text(selected, paper_selected, factors, entry_p),
        "arm_uni": row_hr_p(arm_uni),
        "arm_uni_paper": paper_hr_p(pub, f"table3.univariate.{arm}.{treated}"),
        "n_deaths_matched": int(matched[study.outcome("os").event].sum()),
    }


def treatment_rows(study, multivariable, paper_model) -> tuple[pd.Series | None, pd.Series]:
    """The treatment's row in the model selected here (None without a model or when treatment did not
    enter it) and in the model with the paper's factors."""
    arm_id = f"{study.treatment.column}.{study.treatment.treated}"
    arm_mv = None
    if multivariable is not None and study.treatment.column in {f.column for f in multivariable.factors}:
        arm_mv = multivariable.table.set_index("id").loc[arm_id]
    return arm_mv, paper_model.table.set_index("id").loc[arm_id]


def multivariable_numbers(pub: Mapping, study, arm_mv, arm_pm: pd.Series, multivariable, paper_model) -> dict:
    """Table 3's multivariable analysis for the prose: the treatment's HR here and in the paper, the
    patients the paper's model keeps and drops, and the paper's inconsistent CI limit (table vs text)."""
    arm_id = f"{study.treatment.column}.{study.treatment.treated}"
    return {
        "arm_mv_text": treatment_text(arm_mv, arm_pm, multivariable),
        "arm_mv_paper": paper_hr_p(pub, f"table3.multivariate.{arm_id}"),
        "n_mv": int(paper_model.table["n"].iloc[0]),
        "n_mv_dropped": int(paper_model.dropped),
        "typo_table": f"{pub[f'table3.multivariate.{PAPER_CI_TYPO}.ci_low'].value:.3f}",
        "typo_text": f"{pub[f'text.cox.multivariate.{PAPER_CI_TYPO}.ci_low'].value:.3f}",
        "typo_hr": f"{pub[f'table3.multivariate.{PAPER_CI_TYPO}.hr'].value:.3f}",
    }
