"""Survival after CRT: Kaplan–Meier landmarks and medians, log-rank tests, the Cox models of Table 3,
Cox models that respect the matched pairs, and proportional-hazards checks.

Kaplan–Meier curves and the naive Cox models are lifelines'; medians and confidence limits follow R's
``survfit`` (:mod:`psmbook.analysis.km`), and the Cox models of matched sets (SE clustered on the sets,
stratified on them, weighted after 1:k matching) are the book's O(n log n) fit, which gives R ``coxph``'s
numbers. Times are in months since the start of CRT; an event column holds 1 for death (OS) or
progression or death (PFS) and 0 for censoring.

* :func:`landmark_table`, :func:`median_table`, :func:`event_table`, :func:`logrank`,
  :func:`landmark_test` - the Kaplan–Meier side (Figure 1 and the Results text);
* :func:`cox_univariate`, :func:`select_factors`, :func:`cox_multivariable` - Table 3 (one Cox model
  per factor, then the factors with a univariate p below the entry level in one model);
* :func:`pair_aware_cox`, :func:`informative_pairs` - the treatment effect in the matched cohort,
  ignoring the pairs, with a cluster-robust variance, and stratified on the pairs;
* :func:`cox_fit` - a Cox model with strata, weights and a clustered robust variance in O(n log n);
  :func:`matched_set_cox` - the treatment's hazard ratio after any nearest-neighbour match, its SE
  clustered on the matched sets (and patients, with replacement);
* :func:`ph_tests` - Schoenfeld-residual tests of proportional hazards;
* :func:`plot_figure1`, :func:`forest_plot`, :func:`plot_schoenfeld` - the figures."""

from __future__ import annotations

from psmbook.analysis.survival.cox import (
    CoxModel,
    adjusted_factors,
    cox_multivariable,
    cox_univariate,
    informative_pairs,
    pair_aware_cox,
    ph_tests,
    select_factors,
)
from psmbook.analysis.survival.factors import (
    DERIVED_FACTORS,
    TABLE3,
    Factor,
    contrast_indicators,
    covariate_factors,
    response_groups,
    table3_factors,
)
from psmbook.analysis.survival.fastcox import CoxFit, cox_fit
from psmbook.analysis.survival.landmarks import (
    LANDMARKS,
    LogrankResult,
    event_table,
    landmark_table,
    landmark_test,
    landmark_test_rates,
    logrank,
    median_table,
)
from psmbook.analysis.survival.matched_sets import matched_set_cox, matched_sets
from psmbook.analysis.survival.plots import forest_plot, plot_figure1, plot_schoenfeld
from psmbook.analysis.survival.table3 import table3_display

__all__ = [
    "LANDMARKS",
    "TABLE3",
    "Factor",
    "table3_factors",
    "covariate_factors",
    "response_groups",
    "event_table",
    "landmark_table",
    "median_table",
    "LogrankResult",
    "logrank",
    "landmark_test",
    "landmark_test_rates",
    "contrast_indicators",
    "cox_univariate",
    "select_factors",
    "adjusted_factors",
    "CoxModel",
    "cox_multivariable",
    "informative_pairs",
    "pair_aware_cox",
    "ph_tests",
    "CoxFit",
    "cox_fit",
    "matched_set_cox",
    "matched_sets",
    "plot_figure1",
    "forest_plot",
    "plot_schoenfeld",
    "table3_display",
    "DERIVED_FACTORS",
]
