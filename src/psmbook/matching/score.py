"""The propensity score: an unpenalised logistic regression of treatment on baseline covariates.

This is the model SPSS (and R's ``glm``, and MatchIt's default ``distance = "glm"``) fits: maximum
likelihood, no penalty, categorical covariates as indicator variables against their first level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy.special import logit

TREATED = "_treated"


def default_formula(covariates: list[str]) -> str:
    """``_treated ~ C(age_group) + C(sex) + ...``; interactions can be added with ``a:b`` terms."""
    if not covariates:
        raise ValueError("the propensity-score model needs at least one covariate")
    return f"{TREATED} ~ " + " + ".join(f"C({c})" for c in covariates)


def formula_covariates(formula: str) -> list[str]:
    """The data columns a formula refers to."""
    from patsy import ModelDesc

    names = []
    for term in ModelDesc.from_formula(formula).rhs_termlist:
        for factor in term.factors:
            code = factor.code
            name = code[2:-1] if code.startswith("C(") and code.endswith(")") else code
            name = name.split(",")[0].strip()
            if name not in names:
                names.append(name)
    return names


@dataclass
class PropensityModel:
    """A fitted propensity-score model and the scores it gives each patient."""

    formula: str
    result: object  # statsmodels LogitResults
    scores: pd.Series  # P(treated | covariates), indexed like the data
    treated: pd.Series  # bool, indexed like the data

    @property
    def logit(self) -> pd.Series:
        """The linear predictor (log-odds of treatment): the scale matching is done on."""
        return pd.Series(logit(self.scores.clip(1e-12, 1 - 1e-12)), index=self.scores.index, name="logit_ps")

    def odds_ratios(self) -> pd.DataFrame:
        """Odds ratio, 95% Wald CI and p-value of every term (intercept excluded)."""
        params = self.result.params.drop("Intercept")
        ci = self.result.conf_int().drop("Intercept")
        return pd.DataFrame(
            {
                "odds_ratio": np.exp(params),
                "ci_low": np.exp(ci[0]),
                "ci_high": np.exp(ci[1]),
                "p": self.result.pvalues.drop("Intercept"),
            }
        )

    def c_statistic(self) -> float:
        """Area under the ROC curve: the probability that a treated patient has the higher score."""
        return c_statistic(self.scores, self.treated)


def c_statistic(scores: pd.Series, treated: pd.Series) -> float:
    """Concordance (ROC AUC) by the Mann–Whitney formula, ties counting one half."""
    from scipy.stats import rankdata

    ranks = rankdata(np.asarray(scores, dtype=float))
    is_treated = np.asarray(treated, dtype=bool)
    n1, n0 = is_treated.sum(), (~is_treated).sum()
    if n1 == 0 or n0 == 0:
        raise ValueError("the c-statistic needs patients in both arms")
    return float((ranks[is_treated].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fit_propensity(
    data: pd.DataFrame,
    treatment_column: str,
    treated_value,
    covariates: list[str],
    formula: str | None = None,
) -> PropensityModel:
    """Fit the propensity-score model by maximum likelihood.

    ``covariates`` are the data columns; ``formula`` (optional) replaces the default main-effects model,
    e.g. ``"_treated ~ C(age_group) * C(node_diameter) + C(sex)"``.
    """
    formula = formula or default_formula(covariates)
    missing = [c for c in formula_covariates(formula) + [treatment_column] if c not in data.columns]
    if missing:
        raise ValueError(f"propensity-score model: column(s) {missing} not in the data")
    frame = data.copy()
    frame[TREATED] = (frame[treatment_column] == treated_value).astype(int)
    result = smf.logit(formula, data=frame).fit(disp=False, maxiter=200)
    if not result.mle_retvals.get("converged", True):
        raise RuntimeError(
            f"the propensity-score model did not converge ({formula}); "
            "a covariate level may perfectly predict treatment"
        )
    scores = pd.Series(result.predict(frame), index=data.index, name="ps")
    return PropensityModel(formula, result, scores, frame[TREATED].astype(bool))
