"""The propensity score: an unpenalised logistic regression of treatment on baseline covariates.

This is the model SPSS (and R's ``glm``, and MatchIt's default ``distance = "glm"``) fits: maximum
likelihood, no penalty, categorical covariates as indicator variables against their first level,
continuous covariates linearly on the logit scale or, where the study description gives ``spline_df``,
as a natural cubic spline (:func:`ns`, R's ``splines::ns``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from patsy import stateful_transform
from patsy.categorical import C as patsy_C
from patsy.mgcv_cubic_splines import CR
from scipy.special import logit

TREATED = "_treated"


class NaturalSpline(CR):
    """R's ``splines::ns(x, df)`` in a formula: a natural cubic spline (linear beyond its boundary knots)
    with interior knots at the quantiles of ``x`` at 1/df, ..., (df - 1)/df and boundary knots at its
    range. Built on patsy's cubic regression spline with those knots, centred so that it goes beside the
    intercept: its columns differ from R's, the curve they fit is the same."""

    def memorize_finish(self):
        args, x = self._tmp["args"], np.concatenate(self._tmp["xs"]).astype(float)
        df = args["df"]
        if df is None or int(df) != df or df < 2:
            raise ValueError(f"ns(x, df): df must be a whole number of at least 2, got {df!r}")
        knots = np.percentile(x, np.linspace(0, 100, int(df) + 1)[1:-1])
        low, high = float(np.min(x)), float(np.max(x))
        if len(np.unique(knots)) < len(knots) or knots.min() <= low or knots.max() >= high:
            raise ValueError(
                f"ns(x, df={df:g}): the quantiles that place the knots are not distinct inside the range "
                f"[{low:g}, {high:g}] ({', '.join(f'{k:g}' for k in knots)}): the values repeat too much for "
                "this many degrees of freedom; use fewer (spline_df) or enter the covariate linearly"
            )
        args.update(df=None, knots=knots, lower_bound=low, upper_bound=high, constraints="center")
        super().memorize_finish()


#: The natural cubic spline of a formula: ``ns(age, df=4)``.
ns = stateful_transform(NaturalSpline)


def covariate_term(column: str, study=None) -> str:
    """A covariate's term in the default score model: ``C(x)`` (indicators) for a categorical covariate,
    ``x`` for a continuous one (linear on the logit scale), ``ns(x, df=k)`` when its description gives
    ``spline_df: k``. Columns the study does not describe are taken as categorical."""
    variable = next((v for v in getattr(study, "covariates", ()) if v.column == column), None)
    if variable is None or not variable.continuous:
        return f"C({column})"
    return column if variable.spline_df is None else f"ns({column}, df={variable.spline_df})"


def default_formula(covariates: list[str], study=None) -> str:
    """``_treated ~ C(age_group) + C(sex) + age + ...`` (see :func:`covariate_term`); interactions can
    be added with ``a:b`` terms."""
    if not covariates:
        raise ValueError("the propensity-score model needs at least one covariate")
    return f"{TREATED} ~ " + " + ".join(covariate_term(c, study) for c in covariates)


def _names(code: str) -> list[str]:
    """The data columns a formula factor's code reads: ``C(x)``, ``ns(x, df=4)``, ``np.log(x)``, ``Q("x")``."""
    tree = ast.parse(code, mode="eval")
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called and id(node) not in bases:
            names.append(node.id)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Q" and node.args:
            arg = node.args[0]
            names += [arg.value] if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else []
    return names


def formula_covariates(formula: str) -> list[str]:
    """The data columns a formula refers to, in order of first mention."""
    from patsy import ModelDesc

    names: list[str] = []
    for term in ModelDesc.from_formula(formula).rhs_termlist:
        for factor in term.factors:
            names += [n for n in _names(factor.code) if n not in names]
    return names


@dataclass
class PropensityModel:
    """A fitted propensity-score model and the scores it gives each patient."""

    formula: str
    result: object  # statsmodels LogitResults
    scores: pd.Series  # P(treated | covariates), indexed like the data
    treated: pd.Series  # bool, indexed like the data
    #: continuous covariates: column -> (the step of its odds ratio, that step in words: "per 10 years")
    steps: dict[str, tuple[float, str]] = field(default_factory=dict)

    @property
    def logit(self) -> pd.Series:
        """The linear predictor (log-odds of treatment): the scale matching is done on."""
        return pd.Series(logit(self.scores.clip(1e-12, 1 - 1e-12)), index=self.scores.index, name="logit_ps")

    def odds_ratios(self) -> pd.DataFrame:
        """Odds ratio, 95% Wald CI and p-value of every term (intercept excluded); a continuous covariate's
        per its step (``per`` in the study description: 1 unit unless it says otherwise)."""
        params = self.result.params.drop("Intercept")
        ci = self.result.conf_int().drop("Intercept")
        step = pd.Series([self.steps.get(t, (1.0, ""))[0] for t in params.index], index=params.index)
        return pd.DataFrame(
            {
                "odds_ratio": np.exp(params * step),
                "ci_low": np.exp(ci[0] * step),
                "ci_high": np.exp(ci[1] * step),
                "p": self.result.pvalues.drop("Intercept"),
            }
        )

    def term_labels(self) -> dict[str, str]:
        """Model term -> how a reader names it: ``C(sex)[T.male]`` -> "sex = male", a continuous
        ``age`` -> "age, per 10 years" (its step), ``ns(age, df=4)[0]`` -> "age, spline basis 1 of 4"."""

        def label(part: str) -> str:
            level = re.fullmatch(r"C\((\w+)\)\[T\.([^\]]+)\]", part)
            spline = re.fullmatch(r"ns\((\w+), df=(\d+)\)\[(\d+)\]", part)
            if level:
                return f"{level[1]} = {level[2]}"
            if spline:
                return f"{spline[1]}, spline basis {int(spline[3]) + 1} of {spline[2]}"
            return f"{part}, {self.steps[part][1]}" if part in self.steps else part

        terms = self.result.params.index.drop("Intercept")
        return {term: ":".join(label(part) for part in term.split(":")) for term in terms}

    def terms_text(self, study=None) -> str:
        """How the covariates enter the model, in a sentence for the prose: categorical ones as indicators
        (their odds ratios against the first level in sort order, or, with the ``study``, against its first
        level in the description, as :meth:`odds_ratios_by_level` gives them), continuous ones linearly
        (odds ratio per their step) or as a natural cubic spline."""
        parts, seen = [], set()
        for term in self.result.params.index.drop("Intercept"):
            spline = re.fullmatch(r"ns\((\w+), df=(\d+)\)\[\d+\]", term)
            if spline and spline[1] not in seen:
                seen.add(spline[1])
                parts.append(
                    f"`{spline[1]}` as a natural cubic spline with {spline[2]} degrees of freedom (R's "
                    "`splines::ns`; its coefficients are not meant to be read one by one)"
                )
            elif term in self.steps:
                parts.append(f"`{term}` linearly on the logit scale, its odds ratio {self.steps[term][1]}")
        text = (
            "Each categorical covariate enters as indicators against its reference level (its first code in sort order)"
            if study is None
            else "Each categorical covariate enters as indicators of its levels; the table gives each level's odds "
            "ratio against the covariate's first level in the study description, marked (reference)"
        )
        return text + ("; " + "; ".join(parts) if parts else "") + "."

    def c_statistic(self) -> float:
        """Area under the ROC curve: the probability that a treated patient has the higher score."""
        return c_statistic(self.scores, self.treated)

    def odds_ratios_by_level(self, study) -> pd.DataFrame:
        """The odds ratios as the study describes its covariates: every level of a categorical covariate
        against its **first level in the study description** (a row of its own, odds ratio 1), labelled
        "Covariate: level label"; a continuous covariate "Covariate, per 10 years". The model's indicators
        are against patsy's first level in sort order; a level's odds ratio against another reference is
        the Wald contrast of the two coefficients (the same estimate, CI and p as a refit with that
        reference). A covariate that enters an interaction keeps the model's own terms, labelled."""
        from scipy.stats import norm

        params, cov = self.result.params, self.result.cov_params()
        terms = list(params.index.drop("Intercept"))
        raw = self.odds_ratios()
        labels = self.term_labels()
        z = float(norm.ppf(0.975))
        data = self.result.model.data
        info = getattr(data, "model_spec", None) or data.design_info  # statsmodels >= 0.15 names it model_spec
        categories = {f.name(): fi.categories for f, fi in info.factor_infos.items() if fi.type == "categorical"}
        rows, used = [], set()
        for v in getattr(study, "covariates", ()):
            name = f"C({v.column})"
            own = [t for t in terms if t.startswith(name + "[T.")]
            if v.continuous or not own or name not in categories or any(":" in t for t in terms if name in t):
                continue
            present = [c for c in v.levels if c in categories[name]]  # the study's order, levels with patients
            reference = present[0]
            for code in present:
                label = f"{v.label}: {v.levels[code]}"
                if code == reference:
                    rows.append((f"{label} (reference)", 1.0, np.nan, np.nan, np.nan))
                    continue
                weights = pd.Series(0.0, index=params.index)
                for level, sign in ((code, 1.0), (reference, -1.0)):
                    if f"{name}[T.{level}]" in weights.index:
                        weights[f"{name}[T.{level}]"] = sign
                estimate = float(weights @ params)
                se = float(np.sqrt(weights @ cov @ weights))
                p = float(2 * norm.sf(abs(estimate / se)))
                rows.append((label, np.exp(estimate), np.exp(estimate - z * se), np.exp(estimate + z * se), p))
            used.update(own)
        for term in terms:
            if term in used:
                continue
            label = labels[term]
            variable = next((v for v in getattr(study, "covariates", ()) if label.startswith(f"{v.column},")), None)
            if variable is not None:
                label = variable.label + label[len(variable.column) :]
            rows.append((label, *raw.loc[term, ["odds_ratio", "ci_low", "ci_high", "p"]]))
        return pd.DataFrame(rows, columns=["term", "odds_ratio", "ci_low", "ci_high", "p"]).set_index("term")


def c_statistic(scores: pd.Series, treated: pd.Series) -> float:
    """Concordance (ROC AUC) by the Mann–Whitney formula, ties counting one half."""
    from scipy.stats import rankdata

    ranks = rankdata(np.asarray(scores, dtype=float))
    is_treated = np.asarray(treated, dtype=bool)
    n1, n0 = is_treated.sum(), (~is_treated).sum()
    if n1 == 0 or n0 == 0:
        raise ValueError("the c-statistic needs patients in both arms")
    return float((ranks[is_treated].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def as_categories(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``frame`` with each of ``columns`` that holds text (object or string dtype) as a pandas Categorical of
    the values present, in patsy's own sort order: patsy then reads its codes at once instead of testing
    every value in Python (about 10x faster at 10^5 patients), and builds the very same design matrix
    (same levels, same order, same reference level), so the fit and the scores are unchanged."""
    from patsy.util import SortAnythingKey

    out = frame.copy(deep=False)
    for column in columns:
        if column not in out.columns:
            continue
        values = out[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        present = [v for v in pd.unique(values) if not (v is None or (isinstance(v, float) and np.isnan(v)))]
        if any(isinstance(v, bool) for v in present):  # patsy's own handling of True/False levels
            continue
        out[column] = pd.Categorical(values, categories=sorted(present, key=SortAnythingKey))
    return out


def categorical(data, contrast=None, levels=None):
    """patsy's ``C(x)`` for the score's formula: a pandas Categorical (:func:`as_categories`) with neither
    ``contrast`` nor ``levels`` is returned as it is, which patsy codes the same way (its categories as the
    levels, treatment contrasts) but reads at once; anything else goes to patsy's ``C``."""
    if contrast is None and levels is None and isinstance(getattr(data, "dtype", None), pd.CategoricalDtype):
        return data
    return patsy_C(data, contrast, levels)


def fit_propensity(
    data: pd.DataFrame,
    treatment_column: str,
    treated_value,
    covariates: list[str],
    formula: str | None = None,
    study=None,
) -> PropensityModel:
    """Fit the propensity-score model by maximum likelihood.

    ``covariates`` are the data columns; ``formula`` (optional) replaces the default main-effects model,
    e.g. ``"_treated ~ C(age_group) * C(node_diameter) + C(sex)"``. With the ``study`` description,
    continuous covariates enter the default model linearly (or as a spline, :func:`covariate_term`) and
    their odds ratios are given per their step; without it every covariate is taken as categorical.
    """
    formula = formula or default_formula(covariates, study)
    missing = [c for c in formula_covariates(formula) + [treatment_column] if c not in data.columns]
    if missing:
        raise ValueError(f"propensity-score model: column(s) {missing} not in the data")
    frame = data.copy()
    frame[TREATED] = (frame[treatment_column] == treated_value).astype(int)
    model_frame = as_categories(frame, formula_covariates(formula))
    names = {**globals(), "C": categorical}  # what the formula may call: ns, np, and the fast C(x)
    result = smf.logit(formula, data=model_frame, eval_env=names).fit(disp=False, maxiter=200)
    if not result.mle_retvals.get("converged", True):  # separation: name the levels in one arm only
        from psmbook.matching.separation import separating_levels, separation_error

        columns = formula_covariates(formula)
        raise separation_error(formula, separating_levels(frame, frame[TREATED], columns, study))
    fitted = result.predict() if result.nobs == len(frame) else result.predict(model_frame)  # the same numbers
    scores = pd.Series(np.asarray(fitted), index=data.index, name="ps")
    steps = {v.column: (v.per, v.per_text) for v in getattr(study, "covariates", ()) if v.continuous}
    return PropensityModel(formula, result, scores, frame[TREATED].astype(bool), steps)
