"""Why a propensity-score model cannot be fitted: the covariate levels that only one arm has.

A level whose patients are all treated (or all controls) predicts treatment perfectly: its log-odds
ratio runs off to infinity and maximum likelihood does not converge (complete or quasi-complete
separation). :func:`separating_levels` names those levels; :func:`separation_error` says what to change.
"""

from __future__ import annotations

import pandas as pd

from psmbook.cohort.validation import AnalysisError

#: At most this many separating levels are named in a message.
MAX_NAMED_LEVELS = 5


def separating_levels(data: pd.DataFrame, treated: pd.Series, columns: list[str], study=None) -> list[str]:
    """Each categorical covariate level of ``columns`` whose patients are all in one arm, as
    "Label: level label (all 7 patients treated)"; continuous columns are not looked at."""
    variables = {v.column: v for v in getattr(study, "covariates", ())}
    found = []
    for column in columns:
        variable = variables.get(column)
        if column not in data.columns or (variable is not None and variable.continuous):
            continue
        arms = pd.crosstab(data[column], treated.reindex(data.index).astype(bool))
        arms = arms.reindex(columns=[False, True], fill_value=0)
        for level, (controls, treats) in arms.iterrows():
            if controls and treats:
                continue
            label = variable.label or column if variable is not None else column
            level_label = variable.levels.get(str(level), str(level)) if variable is not None else str(level)
            who = f"all {treats} patients treated" if treats else f"all {controls} patients controls"
            found.append(f"{label}: {level_label} ({who})")
    return found


def separation_error(formula: str, levels: list[str]) -> AnalysisError:
    """The error of a score model that did not converge, naming the separating ``levels`` if any."""
    if levels:
        shown = "; ".join(levels[:MAX_NAMED_LEVELS]) + ("; ..." if len(levels) > MAX_NAMED_LEVELS else "")
        cause = (
            f"the propensity-score model ({formula}) cannot be fitted: these covariate levels are in one arm "
            f"only, so they predict treatment perfectly: {shown}"
        )
        remedy = (
            "merge each such level with a neighbouring one: for a measurement cut into levels, wider `bins` "
            "in the study description; for codes, recode the data file (a description's `levels` cannot join "
            "two codes), or leave the covariate out of the score model (its `psm: false`, or the `covariates` "
            "parameter)"
        )
    else:
        cause = (
            f"the propensity-score model ({formula}) did not converge, though no single covariate level is "
            "in one arm only: a combination of covariates (or a continuous one) predicts treatment perfectly"
        )
        remedy = "use fewer covariates in the score model (the `covariates` parameter) or a simpler `ps_formula`"
    return AnalysisError(f"{cause}; {remedy}.")
