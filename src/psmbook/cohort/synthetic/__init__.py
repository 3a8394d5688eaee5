"""A synthetic patient-level cohort calibrated to the paper's published aggregates, before and after matching.

The paper publishes tables, not patients. :func:`generate_cohort` writes down a complete generating
model for 291 synthetic patients (76 CRT + anlotinib, 215 CRT alone) whose aggregates reproduce the
paper's numbers:

* **exactly, for every seed** - every before-PSM count of Table 1, Table 2 and Table 4, the cohort
  facts of the Results text (nodes, confirmation, stations, interval surgery -> recurrence, adjuvant
  treatment, chemotherapy schedules, doses >= 50 Gy, deaths during CRT and their causes, anlotinib
  events, dose reductions) and the death and progression totals;
* **after matching, with the matched design** (the default,
  :mod:`psmbook.cohort.synthetic.matchdesign`) - the book's default propensity-score matching (11
  covariates, unpenalised logit, 1:1 nearest neighbour without replacement, caliper 0.2 SD of the
  logit) keeps 68 pairs whose Table 1 (all 13 characteristics) and Table 2 are the paper's matched
  tables, count for count;
* **as counts** - the Kaplan-Meier landmarks (OS 1 and 3 years, PFS 6 and 12 months) of the whole and of
  the matched cohort (:mod:`psmbook.cohort.synthetic.landmarks`; two printed landmarks are k/n for no k, and
  :func:`landmark_findings` says so); without the design, the unmatched landmarks within 5 points;
* **by construction of the outcome model** - the true conditional overall-survival hazard ratios
  are the paper's multivariable Table 3 estimates.

Every target is read from ``psmbook/data/published.yaml`` through :mod:`psmbook.study.published`; nothing
the paper prints is typed into this file. Every other constant of the model (baseline hazards,
latent correlations, shape parameters, the search's settings) is a field of :class:`GeneratorSpec`.
:func:`generating_model_markdown` writes the model down for the book and :func:`data_dictionary`
describes every column.

Randomness comes from ``numpy.random.default_rng(seed)`` only (split into independent child streams
per generating step), so a seed always gives the same cohort."""

from __future__ import annotations

from psmbook.cohort.synthetic.describe import data_dictionary, generating_model_markdown
from psmbook.cohort.synthetic.generate import generate_cohort
from psmbook.cohort.synthetic.landmarks import landmark_findings
from psmbook.cohort.synthetic.matchdesign import MatchDesignError
from psmbook.cohort.synthetic.model import (
    baseline_cumulative_hazard,
    inverse_cumulative_hazard,
    os_linear_predictor,
    true_hazard_ratios,
)
from psmbook.cohort.synthetic.outcomefit import searched_ids
from psmbook.cohort.synthetic.propensity import implied_propensity
from psmbook.cohort.synthetic.spec import (
    ANLOTINIB_EVENTS,
    ANLOTINIB_G34,
    ARMS,
    CONFIRMATION,
    CONTROL,
    DAYS_PER_MONTH,
    DEFAULT_SEED,
    DOSE_REDUCTION_REASONS,
    LANDMARKS,
    NODE_COUNT_WORDS,
    OS_FACTORS,
    STATIONS,
    TOXICITIES,
    TREATED,
    WEEKS_PER_MONTH,
    GeneratorSpec,
    SurvivalDrawError,
)
from psmbook.cohort.synthetic.targets import Targets, load_targets

__all__ = [
    "DEFAULT_SEED",
    "GeneratorSpec",
    "inverse_cumulative_hazard",
    "Targets",
    "SurvivalDrawError",
    "load_targets",
    "generate_cohort",
    "landmark_findings",
    "searched_ids",
    "MatchDesignError",
    "data_dictionary",
    "generating_model_markdown",
    "implied_propensity",
    "os_linear_predictor",
    "baseline_cumulative_hazard",
    "true_hazard_ratios",
    "ANLOTINIB_EVENTS",
    "ANLOTINIB_G34",
    "ARMS",
    "CONFIRMATION",
    "CONTROL",
    "DAYS_PER_MONTH",
    "DOSE_REDUCTION_REASONS",
    "LANDMARKS",
    "NODE_COUNT_WORDS",
    "OS_FACTORS",
    "STATIONS",
    "TOXICITIES",
    "TREATED",
    "WEEKS_PER_MONTH",
]
