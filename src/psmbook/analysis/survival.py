"""Survival after CRT: Kaplan–Meier landmarks and medians, log-rank tests, the Cox models of Table 3,
Cox models that respect the matched pairs, and proportional-hazards checks.

Everything is fitted with lifelines. Times are in months since the start of CRT; an event column holds
1 for death (OS) or progression or death (PFS) and 0 for censoring.

* :func:`landmark_table`, :func:`median_table`, :func:`event_table`, :func:`logrank`,
  :func:`landmark_test` - the Kaplan–Meier side (Figure 1 and the Results text);
* :func:`cox_univariate`, :func:`select_factors`, :func:`cox_multivariable` - Table 3 (one Cox model
  per factor, then the factors with a univariate p below the entry level in one model);
* :func:`pair_aware_cox`, :func:`informative_pairs` - the treatment effect in the matched cohort,
  ignoring the pairs, with a cluster-robust variance, and stratified on the pairs;
* :func:`ph_tests` - Schoenfeld-residual tests of proportional hazards;
* :func:`plot_figure1`, :func:`forest_plot`, :func:`plot_schoenfeld` - the figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, proportional_hazard_test
from lifelines.utils import median_survival_times
from scipy import stats

from psmbook.analysis.km import fit_by_arm, plot_by_arm, survival_ci_at
from psmbook.present.format import format_p, hr_ci_text, p_statement

__all__ = [
    "LANDMARKS",
    "TABLE3",
    "Factor",
    "table3_factors",
    "response_groups",
    "event_table",
    "landmark_table",
    "median_table",
    "LogrankResult",
    "logrank",
    "landmark_test",
    "landmark_test_rates",
    "indicators",
    "cox_univariate",
    "select_factors",
    "CoxModel",
    "cox_multivariable",
    "informative_pairs",
    "pair_aware_cox",
    "ph_tests",
    "plot_figure1",
    "forest_plot",
    "plot_schoenfeld",
    "table3_display",
]

#: The landmarks the paper reports, per endpoint: (key used in the published ids, months).
LANDMARKS: dict[str, tuple[tuple[str, float], ...]] = {
    "pfs": (("6m", 6.0), ("12m", 12.0)),
    "os": (("1y", 12.0), ("3y", 36.0)),
}

#: The factors of the paper's Table 3, in its order, with their reference levels. ``None`` stands for
#: the treatment column, whose reference is the control arm.
TABLE3: tuple[tuple[Optional[str], Optional[str]], ...] = (
    ("age_group", "lt65"),
    ("sex", "male"),
    ("ecog", "0"),
    ("location", "upper"),
    ("differentiation", "well"),
    ("stage", "ib_iia"),
    ("nodes_group", "single"),
    ("node_diameter", "lt3"),
    ("radiation_dose", "standard"),
    ("concurrent_chemo", "docetaxel_cisplatin"),
    ("consolidation_chemo", "yes"),
    ("response_group", "cr"),
    (None, None),
)

#: Factors of Table 3 that are not Table 1 covariates: column -> (label, {level: label}).
DERIVED_FACTORS = {
    "nodes_group": ("Number of Recurrent Lymph Nodes", {"single": "Single", "multiple": "Multiple"}),
    "response_group": (
        "Tumor Response After CRT",
        {"cr": "Complete Response (CR)", "less_than_cr": "Less than CR"},
    ),
}


@dataclass(frozen=True)
class Factor:
    """A categorical prognostic factor: ``column``, its ``label``, the ``reference`` level and all
    ``levels`` (code -> label, in the table's order)."""

    column: str
    label: str
    reference: str
    levels: dict[str, str]

    @property
    def contrasts(self) -> tuple[str, ...]:
        """The non-reference levels: one indicator (and one hazard ratio) each."""
        return tuple(c for c in self.levels if c != self.reference)

    def term(self, level: str) -> str:
        """Name of the indicator of ``level``: ``column.level``, the factor part of a Table 3 id."""
        return f"{self.column}.{level}"


def table3_factors(study, spec: Sequence = TABLE3) -> list[Factor]:
    """The factors of the paper's Table 3, labelled from the study description.

    Table 1 covariates take their label and levels from ``study``; the node-count and response groups
    are labelled here; the treatment column uses the study's arms, with the control arm as reference.
    """
    factors = []
    for column, reference in spec:
        if column is None or column == study.treatment.column:
            arms = study.treatment
            factors.append(
                Factor(
                    arms.column,
                    "Treatment Group",
                    arms.control,
                    {
                        arms.control: study.arm_label(arms.control),
                        arms.treated: study.arm_label(arms.treated),
                    },
                )
            )
        elif column in DERIVED_FACTORS:
            label, levels = DERIVED_FACTORS[column]
            factors.append(Factor(column, label, reference, dict(levels)))
        else:
            variable = study.variable(column)
            if reference not in variable.levels:
                raise ValueError(f"reference level {reference!r} is not a level of {column!r}: {list(variable.levels)}")
            factors.append(Factor(column, variable.label, reference, dict(variable.levels)))
    return factors


def response_groups(df: pd.DataFrame, study) -> pd.Series:
    """Response after CRT as 'cr' / 'less_than_cr', missing for patients not evaluable.

    The ``response_group`` column when the data have one; otherwise derived from the study's response
    column (its first level is complete response).
    """
    if "response_group" in df.columns:
        return df["response_group"]
    column, ne = study.response["column"], study.response["not_evaluable"]
    complete = next(iter(study.response["levels"]))
    values = df[column]
    return pd.Series(
        np.where(values == complete, "cr", np.where(values == ne, None, "less_than_cr")),
        index=df.index,
        dtype=object,
        name="response_group",
    )


# ----------------------------------------------------------------------------------------------------
# Kaplan–Meier side


def event_table(df: pd.DataFrame, study, event: str) -> pd.DataFrame:
    """Patients, events and the percentage with an event, per arm (treated first)."""
    rows = []
    for code in study.treatment.arms:
        part = df[df[study.treatment.column] == code]
        n, events = len(part), int(part[event].sum())
        rows.append({"arm": code, "n": n, "events": events, "pct": 100 * events / n if n else np.nan})
    return pd.DataFrame(rows).set_index("arm")


def landmark_table(
    fits: Mapping[str, Mapping[str, KaplanMeierFitter]],
    endpoint: str,
    published: Optional[Mapping[str, Any]] = None,
    landmarks: Optional[Sequence[tuple[str, float]]] = None,
) -> pd.DataFrame:
    """Kaplan–Meier survival at the paper's landmarks, with 95% CIs, per period and arm.

    ``fits`` maps a period ("before", "after") to {arm: KaplanMeierFitter}. One row per period,
    landmark and arm: survival, CI limits and number at risk, in percent, under the id the paper's
    number has (``text.survival.<endpoint>.<period>.<landmark>.<arm>``) and, when ``published`` (id ->
    PublishedNumber) is given, with the paper's value beside it.
    """
    rows = []
    for period, by_arm in fits.items():
        for key, months in landmarks or LANDMARKS[endpoint]:
            for arm, fit in by_arm.items():
                s, low, high = survival_ci_at(fit, months)
                at_risk = int((fit.durations > months).sum())
                id_ = f"text.survival.{endpoint}.{period}.{key}.{arm}"
                entry = (published or {}).get(id_)
                rows.append(
                    {
                        "endpoint": endpoint,
                        "period": period,
                        "landmark": key,
                        "months": months,
                        "arm": arm,
                        "survival": s,
                        "ci_low": low,
                        "ci_high": high,
                        "at_risk": at_risk,
                        "id": id_,
                        "published": np.nan if entry is None else float(entry.value),
                    }
                )
    table = pd.DataFrame(rows)
    table["difference"] = table["survival"] - table["published"]
    return table


def median_table(fits: Mapping[str, KaplanMeierFitter]) -> pd.DataFrame:
    """Median survival per arm with its 95% CI (months; inf when a curve does not reach 50%).

    The CI is read off the pointwise log(-log) confidence band of the curve (the Brookmeyer–Crowley
    construction, as in R's survfit): the times at which the band's limits cross 50%.
    """
    rows = []
    for arm, fit in fits.items():
        ci = median_survival_times(fit.confidence_interval_)
        rows.append(
            {
                "arm": arm,
                "n": int(len(fit.durations)),
                "events": int(fit.event_observed.sum()),
                "median": float(fit.median_survival_time_),
                "ci_low": float(ci.iloc[0, 0]),
                "ci_high": float(ci.iloc[0, 1]),
            }
        )
    return pd.DataFrame(rows).set_index("arm")


@dataclass(frozen=True)
class LogrankResult:
    """A two-arm log-rank test: chi-square statistic (1 df) and p-value."""

    chi2: float
    p: float


def logrank(df: pd.DataFrame, study, time: str, event: str) -> LogrankResult:
    """Log-rank test of the two arms' survival curves (Mantel's version, hypergeometric variance).

    It treats the patients as independent: in a matched cohort it ignores the pairs (as the paper's
    Figure 1 presumably did); :func:`pair_aware_cox` gives the pair-aware comparison.
    """
    arm = df[study.treatment.column]
    a, b = df[arm == study.treatment.treated], df[arm == study.treatment.control]
    result = logrank_test(a[time], b[time], a[event], b[event])
    return LogrankResult(float(result.test_statistic), float(result.p_value))


def _cloglog_p(s_a: float, var_log_a: float, s_b: float, var_log_b: float) -> float:
    if not (0 < s_a < 1 and 0 < s_b < 1):
        return float("nan")
    z = (math.log(-math.log(s_a)) - math.log(-math.log(s_b))) / math.sqrt(
        var_log_a / math.log(s_a) ** 2 + var_log_b / math.log(s_b) ** 2
    )
    return float(2 * stats.norm.sf(abs(z)))


def landmark_test(fit_a: KaplanMeierFitter, fit_b: KaplanMeierFitter, months: float) -> float:
    """p-value of a difference in Kaplan–Meier survival at one time (Klein et al. 2007).

    The two survival probabilities are compared on the log(-log) scale with Greenwood's variances,
    the test Klein and colleagues recommend for "survival at t years". (lifelines'
    ``survival_difference_at_fixed_point_in_time_test`` computes the same statistic but interpolates
    Greenwood's sum linearly between event times; here it is a step function, like the curve.)
    """
    values = []
    for fit in (fit_a, fit_b):
        greenwood = fit._cumulative_sq_
        values += [
            float(fit.survival_function_at_times(months).iloc[0]),
            float(greenwood.loc[greenwood.index <= months].iloc[-1]),
        ]
    return _cloglog_p(*values)


def landmark_test_rates(s_a: float, n_a: int, s_b: float, n_b: int) -> float:
    """The same test from two printed rates (proportions) and arm sizes, assuming nobody was censored
    before the landmark: Greenwood's variance of log S is then (1 - S) / (n S)."""
    return _cloglog_p(s_a, (1 - s_a) / (n_a * s_a), s_b, (1 - s_b) / (n_b * s_b))


# ----------------------------------------------------------------------------------------------------
# Cox models


def indicators(df: pd.DataFrame, factors: Sequence[Factor]) -> pd.DataFrame:
    """0/1 indicators of every non-reference level (columns ``column.level``), against the reference.

    Rows must hold a known level of every factor: a ValueError names the column and the values.
    """
    out = {}
    for f in factors:
        values = df[f.column].astype(object)
        bad = ~values.isin(list(f.levels))
        if bad.any():
            raise ValueError(
                f"column {f.column!r} holds values outside its levels {list(f.levels)}: "
                f"{sorted(map(str, values[bad].unique()))}"
            )
        for level in f.contrasts:
            out[f.term(level)] = (values == level).astype(float)
    return pd.DataFrame(out, index=df.index)


def _complete(df: pd.DataFrame, factors: Sequence[Factor]) -> pd.DataFrame:
    return df.dropna(subset=[f.column for f in factors])


def _fit(design: pd.DataFrame, time: pd.Series, event: pd.Series, **kwargs) -> CoxPHFitter:
    data = design.assign(_time=time.to_numpy(), _event=event.to_numpy())
    return CoxPHFitter().fit(data, "_time", "_event", **kwargs)


def _joint_wald_p(fitter: CoxPHFitter, terms: Sequence[str]) -> float:
    """Wald test that all of a factor's log-hazard ratios are zero (SPSS's line for a categorical)."""
    b = fitter.params_.loc[list(terms)].to_numpy()
    v = fitter.variance_matrix_.loc[list(terms), list(terms)].to_numpy()
    w = float(b @ np.linalg.solve(v, b))
    return float(stats.chi2.sf(w, len(terms)))


def _rows(fitter: CoxPHFitter, factors: Sequence[Factor], n: int, events: int, model: str) -> list[dict]:
    summary = fitter.summary
    rows = []
    for f in factors:
        factor_p = _joint_wald_p(fitter, [f.term(l) for l in f.contrasts])
        for level, level_label in f.levels.items():
            row = {
                "model": model,
                "factor": f.column,
                "factor_label": f.label,
                "level": level,
                "level_label": level_label,
                "id": f.term(level),
                "reference": level == f.reference,
                "n": n,
                "events": events,
                "factor_p": factor_p,
                "hr": 1.0 if level == f.reference else np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p": np.nan,
                "log_hr": 0.0 if level == f.reference else np.nan,
                "se": np.nan,
            }
            if level != f.reference:
                s = summary.loc[f.term(level)]
                row.update(
                    hr=float(s["exp(coef)"]),
                    ci_low=float(s["exp(coef) lower 95%"]),
                    ci_high=float(s["exp(coef) upper 95%"]),
                    p=float(s["p"]),
                    log_hr=float(s["coef"]),
                    se=float(s["se(coef)"]),
                )
            rows.append(row)
    return rows


def cox_univariate(df: pd.DataFrame, factors: Sequence[Factor], time: str, event: str) -> pd.DataFrame:
    """One Cox model per factor (Table 3, univariate analysis): HR, 95% CI and Wald p of each level.

    Each model uses the patients with a known value of its factor (patients not evaluable for
    response have none, so they leave the response model only). ``factor_p`` is the joint Wald test
    of the factor's levels, which decides entry into the multivariable model; for a two-level factor
    it is the level's own p. Ties are handled by Efron's method (lifelines).
    """
    rows = []
    for f in factors:
        data = _complete(df, [f])
        fitter = _fit(indicators(data, [f]), data[time], data[event])
        rows += _rows(fitter, [f], len(data), int(data[event].sum()), "univariate")
    return pd.DataFrame(rows)


def select_factors(univariate: pd.DataFrame, entry_p: float = 0.05) -> list[str]:
    """The factors whose univariate p is below ``entry_p`` (the paper: "variables showing p < 0.05 in
    univariate testing were included in the multivariate model"), in the table's order."""
    if not 0 < entry_p <= 1:
        raise ValueError(f"entry_p must be in (0, 1], got {entry_p}")
    first = univariate.drop_duplicates("factor")
    return first.loc[first["factor_p"] < entry_p, "factor"].tolist()


@dataclass
class CoxModel:
    """A fitted multivariable Cox model: the lifelines ``fitter``, the ``data`` it was fitted on
    (indicators + ``_time`` + ``_event``), the tidy ``table`` and the patients ``dropped`` for missing
    values."""

    fitter: CoxPHFitter
    data: pd.DataFrame
    table: pd.DataFrame
    dropped: int
    factors: list = field(default_factory=list)


def cox_multivariable(
    df: pd.DataFrame, factors: Sequence[Factor], time: str, event: str, model: str = "multivariable"
) -> CoxModel:
    """All ``factors`` in one Cox model (Table 3, multivariate analysis), on the complete cases."""
    if not factors:
        raise ValueError("a multivariable model needs at least one factor")
    data = _complete(df, factors)
    design = indicators(data, factors)
    fitter = _fit(design, data[time], data[event])
    table = pd.DataFrame(_rows(fitter, factors, len(data), int(data[event].sum()), model))
    fitted = design.assign(_time=data[time].to_numpy(), _event=data[event].to_numpy())
    return CoxModel(fitter, fitted, table, len(df) - len(data), list(factors))


def informative_pairs(df: pd.DataFrame, study, time: str, event: str, pair: str = "pair") -> int:
    """Matched sets that contribute to a Cox model stratified on them.

    Within a set, the partial likelihood compares treated and control only at an event time at which
    patients of both arms are still at risk. A pair in which the first time is a censoring (or in
    which both are censored) contributes nothing: the stratified model discards it.
    """
    arm = df[study.treatment.column]
    count = 0
    for _, part in df.assign(_arm=arm).groupby(pair):
        t, e, a = part[time].to_numpy(), part[event].to_numpy(), part["_arm"].to_numpy()
        for ti in t[e == 1]:
            if len(set(a[t >= ti])) > 1:
                count += 1
                break
    return count


def pair_aware_cox(df: pd.DataFrame, study, time: str, event: str, pair: str = "pair") -> pd.DataFrame:
    """The treatment hazard ratio in a matched cohort, three ways.

    * ``independent`` - a Cox model of treatment alone, patients taken as independent (the naive
      analysis, which matches the paper's Table 3 univariate row);
    * ``robust`` - the same model and point estimate, with the Lin–Wei sandwich variance clustered on
      the matched pairs (lifelines ``cluster_col``): the marginal HR with a pair-aware SE, Austin's
      (2014) recommendation;
    * ``stratified`` - a Cox model stratified on the pairs (``strata``): each pair has its own
      baseline hazard, so the HR is conditional on the pair, and only pairs with an event-order
      contrast contribute.
    """
    arm = (df[study.treatment.column] == study.treatment.treated).astype(float)
    data = pd.DataFrame(
        {
            "treated": arm.to_numpy(),
            "_time": df[time].to_numpy(),
            "_event": df[event].to_numpy(),
            "_pair": df[pair].to_numpy(),
        }
    )
    n_pairs = int(data["_pair"].nunique())
    informative = informative_pairs(df, study, time, event, pair)
    fits = {
        "independent": CoxPHFitter().fit(data.drop(columns="_pair"), "_time", "_event"),
        "robust": CoxPHFitter().fit(data, "_time", "_event", cluster_col="_pair"),
        "stratified": CoxPHFitter().fit(data, "_time", "_event", strata=["_pair"]),
    }
    rows = []
    for method, fitter in fits.items():
        s = fitter.summary.loc["treated"]
        rows.append(
            {
                "method": method,
                "hr": float(s["exp(coef)"]),
                "ci_low": float(s["exp(coef) lower 95%"]),
                "ci_high": float(s["exp(coef) upper 95%"]),
                "log_hr": float(s["coef"]),
                "se": float(s["se(coef)"]),
                "p": float(s["p"]),
                "n": len(data),
                "events": int(data["_event"].sum()),
                "pairs": n_pairs,
                "pairs_used": informative if method == "stratified" else n_pairs,
            }
        )
    return pd.DataFrame(rows).set_index("method")


def ph_tests(model: CoxModel, alpha: float = 0.05, time_transforms: Sequence[str] = ("rank", "km")) -> pd.DataFrame:
    """Schoenfeld-residual tests of proportional hazards for each term of a Cox model.

    For each time transform g, the test asks whether the scaled Schoenfeld residuals of a term trend
    with g(t) (Grambsch and Therneau 1994; lifelines ``proportional_hazard_test``, the test
    ``check_assumptions`` runs, without its printed advice). ``fails`` marks a term with p < alpha
    under any transform.
    """
    out = {}
    for transform in time_transforms:
        result = proportional_hazard_test(model.fitter, model.data, time_transform=transform)
        summary = result.summary
        out[f"chi2_{transform}"] = summary["test_statistic"]
        out[f"p_{transform}"] = summary["p"]
    table = pd.DataFrame(out)
    table.index = [i[0] if isinstance(i, tuple) else i for i in table.index]
    table = table.reindex([t for t in model.fitter.params_.index if t in table.index])
    table["fails"] = (table[[f"p_{t}" for t in time_transforms]] < alpha).any(axis=1)
    return table


# ----------------------------------------------------------------------------------------------------
# The generator's truth (synthetic cohort only)


# ----------------------------------------------------------------------------------------------------
# Display


def _source_has(source, factor: Factor, published: Mapping[str, Any]) -> bool:
    if isinstance(source, str):
        return any(k.startswith(f"{source}.{factor.column}.") for k in published)
    return source is not None and factor.column in set(source["factor"])


def _source_values(source, term: str, published: Mapping[str, Any]) -> tuple[float, float, float, float]:
    if isinstance(source, str):
        get = lambda kind: (
            float(published[f"{source}.{term}.{kind}"].value) if f"{source}.{term}.{kind}" in published else np.nan
        )
        return get("hr"), get("ci_low"), get("ci_high"), get("p")
    row = source.set_index("id").loc[term]
    return float(row["hr"]), float(row["ci_low"]), float(row["ci_high"]), float(row["p"])


def table3_display(
    groups: Sequence[tuple[str, Any]],
    factors: Sequence[Factor],
    published: Optional[Mapping[str, Any]] = None,
) -> pd.DataFrame:
    """Table 3 in the paper's layout: each factor with its levels, "1 (reference)" for the reference
    level, then HR (95% CI) and p of every other level, for each of ``groups``.

    ``groups`` is a sequence of (column title, source); a source is a tidy table from
    :func:`cox_univariate` / :func:`cox_multivariable`, or a published-id prefix
    (``"table3.univariate"``, ``"table3.multivariate"``) whose values are read from ``published``.
    A factor a model does not contain is left blank in its columns.
    """
    published = published or {}
    rows, index = [], []
    for f in factors:
        present = [_source_has(source, f, published) for _, source in groups]
        if not any(present):
            continue
        for level, label in f.levels.items():
            index.append((f.label, label))
            cells = []
            for (_, source), has in zip(groups, present):
                if not has:
                    cells += ["", ""]
                elif level == f.reference:
                    cells += ["1 (reference)", ""]
                else:
                    hr, low, high, p = _source_values(source, f.term(level), published)
                    cells += [
                        "" if np.isnan(hr) else hr_ci_text(hr, low, high),
                        "" if np.isnan(p) else format_p(p),
                    ]
            rows.append(cells)
    columns = pd.MultiIndex.from_product([[name for name, _ in groups], ["HR (95% CI)", "p"]])
    return pd.DataFrame(
        rows, index=pd.MultiIndex.from_tuples(index, names=["Prognostic factor", "Level"]), columns=columns
    )


def plot_figure1(
    cohorts: Mapping[str, pd.DataFrame],
    study,
    *,
    p_values: Mapping[tuple[str, str], float],
    published_landmarks: Optional[Mapping] = None,
    xmax: Optional[float] = None,
    endpoints: Optional[Sequence[str]] = None,
    min_cell: int = 0,
):
    """The paper's Figure 1: Kaplan–Meier curves of each endpoint (columns) before and after matching
    (rows), with censoring marks, numbers at risk, the log-rank p and the paper's landmarks.

    ``xmax`` defaults to 60 months for the paper's study, else to the longest follow-up rounded up to
    a whole year of the study's time unit; ``endpoints`` to the study's."""
    import matplotlib.pyplot as plt

    endpoints = list(endpoints or study.endpoints)
    periods = list(cohorts)
    step = study.time_step
    if xmax is None:
        longest = max(float(df[study.outcome(e)["time"]].max()) for df in cohorts.values() for e in endpoints)
        xmax = 60.0 if study.paper else step * math.ceil(longest / step)
    fig, axes = plt.subplots(
        len(periods), len(endpoints), figsize=(5 * len(endpoints), 5.2 * len(periods)), squeeze=False
    )
    letters = iter("abcdefghijkl")
    names = {"before": "before matching", "after": "after matching"}
    for i, period in enumerate(periods):
        df = cohorts[period]
        for j, endpoint in enumerate(endpoints):
            ax = axes[i, j]
            outcome = study.outcome(endpoint)
            fits = fit_by_arm(df, study, outcome["time"], outcome["event"])
            marks = (published_landmarks or {}).get((endpoint, period))
            plot_by_arm(
                ax,
                fits,
                study,
                ylabel=f"{outcome['label']} (probability)",
                xmax=xmax,
                xticks=np.arange(0, xmax + 1, step),
                landmarks=marks,
                min_cell=min_cell,
                p_text=f"Log-rank {p_statement(p_values[(endpoint, period)])}",
            )
            short = outcome.get("short", endpoint.upper())
            ax.set_title(
                f"({next(letters)}) {short}, {names.get(period, period)} (n = {len(df)})",
                loc="left",
                fontsize=11,
            )
    fig.subplots_adjust(left=0.13, right=0.98, top=0.96, bottom=0.09, hspace=0.62, wspace=0.42)
    return fig


def forest_plot(
    univariate: pd.DataFrame,
    multivariable: Optional[pd.DataFrame] = None,
    published: Optional[Mapping[str, Any]] = None,
    *,
    colour: str = "#000000",
    published_colour: str = "#999999",
    event: str = "death",
):
    """Hazard ratios of Table 3 with 95% CIs on a log scale, univariate and multivariable side by
    side, the paper's values (grey) beside the book's (black)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    terms = univariate[~univariate["reference"]].reset_index(drop=True)
    labels = [f"{r.factor_label}: {r.level_label}" for r in terms.itertuples()]
    y = np.arange(len(terms))[::-1]
    panels = [("univariate", "Univariate", univariate)]
    if multivariable is not None:
        panels.append(("multivariate", "Multivariable", multivariable))
    fig, axes = plt.subplots(1, len(panels), figsize=(10, 0.36 * len(terms) + 1.6), sharey=True, squeeze=False)
    limits = pd.concat([t.loc[~t["reference"].astype(bool), ["ci_low", "ci_high"]] for _, _, t in panels])
    low_all, high_all = float(np.nanmin(limits["ci_low"])), float(np.nanmax(limits["ci_high"]))
    for ax, (key, title, table) in zip(axes[0], panels):
        est = table.set_index("id")
        for yi, term in zip(y, terms["id"]):
            if term in est.index and not est.loc[term, "reference"]:
                r = est.loc[term]
                ax.plot([r["ci_low"], r["ci_high"]], [yi + 0.14] * 2, color=colour, lw=1.4)
                ax.plot(r["hr"], yi + 0.14, "s", color=colour, ms=5)
            pid = f"table3.{key}.{term}"
            hr = (published or {}).get(f"{pid}.hr")
            if hr is not None:
                low, high = published[f"{pid}.ci_low"].value, published[f"{pid}.ci_high"].value
                if low > hr.value:  # the paper's printed typo (2.258 for 1.258): no bar
                    low = np.nan
                ax.plot([low, high], [yi - 0.14] * 2, color=published_colour, lw=1.4)
                ax.plot(hr.value, yi - 0.14, "D", color=published_colour, ms=4.5, mfc="white")
        ax.axvline(1, color="#555555", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_xlim(min(0.2, low_all / 1.15), max(5, high_all * 1.15))
        ticks = [t for t in (0.125, 0.25, 0.5, 1, 2, 4, 8, 16) if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(f"Hazard ratio of {event} (log scale)")
        ax.set_title(title)
    axes[0, 0].set_yticks(y, labels, fontsize=9)
    axes[0, 0].set_ylim(-0.7, len(terms) - 0.3)
    if published:
        handles = [
            plt.Line2D([], [], marker="s", color=colour, ms=5, label="This book"),
            plt.Line2D([], [], marker="D", color=published_colour, ms=4.5, mfc="white", label="Paper"),
        ]
        fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=9, bbox_to_anchor=(0.62, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.95 if published else 1))
    return fig


def plot_schoenfeld(model: CoxModel, labels: Optional[Mapping[str, str]] = None):
    """Scaled Schoenfeld residuals plus the estimated coefficient (R's ``cox.zph`` plot, an estimate of
    beta(t)) against the rank of the event time, with a lowess smooth: under proportional hazards the
    smooth is flat around the term's log-HR."""
    import matplotlib.pyplot as plt
    from statsmodels.nonparametric.smoothers_lowess import lowess

    residuals = model.fitter.compute_residuals(model.data, kind="scaled_schoenfeld")
    times = model.data.loc[residuals.index, "_time"].to_numpy()
    rank = stats.rankdata(times)
    terms = list(residuals.columns)
    ncols = min(3, len(terms))
    nrows = math.ceil(len(terms) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(10, 3.0 * nrows), squeeze=False)
    for ax, term in zip(axes.flat, terms):
        beta = float(model.fitter.params_[term])
        r = residuals[term].to_numpy() + beta  # lifelines leaves beta out; R's cox.zph adds it
        ax.scatter(rank, r, s=9, color="#555555", alpha=0.6)
        smooth = lowess(r, rank, frac=0.6, it=0)  # no robustness steps: they would discount the rarer level
        ax.plot(smooth[:, 0], smooth[:, 1], color="#D55E00", lw=2)
        ax.axhline(beta, color="#0072B2", ls="--", lw=1)
        ax.set_title((labels or {}).get(term, term), fontsize=9.5)
        ax.set_xlabel("Rank of death time")
    for ax in list(axes.flat)[len(terms) :]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("β(t), log hazard ratio")
    fig.tight_layout()
    return fig
