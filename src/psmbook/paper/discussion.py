"""The discussion chapter's tables and figures: the comparison number by number, the audit's findings and
what it cannot check, the sensitivity analyses beside the synthetic cohort's true hazard ratio, and the
ATT-weighted survival curves."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pandas as pd

from psmbook.analysis import sensitivity
from psmbook.analysis.km import plot_by_arm
from psmbook.cohort.synthetic import true_hazard_ratios
from psmbook.paper import strict
from psmbook.paper.audit import not_checkable

#: Columns of the number-by-number comparison, after its index (the published id).
LISTING_COLUMNS = ["where", "published", "computed", "difference", "tolerance", "agrees", "calibrated"]

#: Columns added to the listing when the comparison carries the strict one (:mod:`psmbook.paper.strict`).
STRICT_COLUMNS = ["printed", "strict", "class"]

#: Columns of the audit's findings as the chapter shows them.
FINDING_COLUMNS = ["check", "where", "printed", "recomputed", "verdict", "explanation"]


def comparison_listing(table: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Every compared number by its published id: where it is printed, published and computed values, their
    difference, the loose tolerance, loose agreement and whether the generator was calibrated to it (rounded; left
    out when nothing was, as for real data);
    with the strict comparison, also the number as printed, agreement at the printed precision and its class."""
    columns = LISTING_COLUMNS + [c for c in STRICT_COLUMNS if c in table.columns]
    if "calibrated" in table.columns and not table["calibrated"].any():  # real data: nothing was calibrated
        columns.remove("calibrated")
    listing = table.set_index("id")[columns].round(decimals)
    return listing.rename(columns={"agrees": "agrees loosely", "strict": "agrees at printed precision"})


def disagreements_listing(strict_frame: pd.DataFrame):
    """Every number that does not agree at the printed precision, with what explains it, in full (a pandas
    Styler: long explanations are not cut)."""
    return strict.misses_listing(strict_frame).style.format({"computed": "{:.3f}"})


def findings_listing(audit_frame: pd.DataFrame):
    """The audit's findings other than "consistent" (inconsistencies, unstated choices), without the index,
    each with where it is and what the numbers imply (a pandas Styler)."""
    problems = audit_frame[audit_frame["verdict"] != "consistent"]
    return problems[FINDING_COLUMNS].style.hide(axis="index")


def not_checkable_listing(published: Optional[Mapping[str, Any]] = None):
    """What the printed numbers cannot settle, and why, as a table without the index (a pandas Styler)."""
    return pd.DataFrame(not_checkable(published), columns=["what", "why not"]).style.hide(axis="index")


def sensitivity_table(estimates: Sequence[sensitivity.Estimate]) -> pd.DataFrame:
    """One row per sensitivity analysis (indexed by its name): HR, CI, p, patients and model."""
    return pd.DataFrame([e.as_dict() for e in estimates]).set_index("analysis")


def true_treatment_hr(study, treated: str) -> Optional[float]:
    """The true conditional hazard ratio of death of the `treated` arm that the synthetic cohort's generator
    encodes; None for a study that is not synthetic (its truth is unknown)."""
    if not study.synthetic:
        return None
    return float(true_hazard_ratios()[f"arm.{treated}"])


def sensitivity_figure(results_table: pd.DataFrame, truth: Optional[float] = None):
    """Forest plot of the hazard ratio of death under each analysis, with the true HR as a reference line
    when it is known."""
    return sensitivity.forest(
        results_table,
        reference=truth,
        reference_label="true conditional HR of the synthetic cohort" if truth else "",
        title="Hazard ratio of death under the analyst's choices",
    )


def weighted_survival_figure(cohort: pd.DataFrame, study, covariates: Sequence[str]):
    """Kaplan–Meier curves of overall survival with the controls ATT-weighted to the treated (weighted numbers
    at risk under the axis), over six years."""
    import matplotlib.pyplot as plt

    fits = sensitivity.weighted_km(cohort, study, list(covariates))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plot_by_arm(ax, fits, study, ylabel="Overall survival (probability)", xmax=72, xticks=range(0, 73, 12))
    ax.set_title("Overall survival, ATT-weighted (controls reweighted to the treated)")
    fig.tight_layout()
    return fig
