"""A synthetic patient-level cohort calibrated to the paper's published aggregates.

The paper publishes tables, not patients. :func:`generate_cohort` writes down a complete generating
model for 291 synthetic patients (76 CRT + anlotinib, 215 CRT alone) whose aggregates reproduce the
paper's numbers:

* **exactly, for every seed** - every before-PSM count of Table 1, Table 2 and Table 4, the cohort
  facts of the Results text (nodes, confirmation, stations, interval surgery -> recurrence, adjuvant
  treatment, chemotherapy schedules, doses >= 50 Gy, deaths during CRT and their causes, anlotinib
  events, dose reductions) and the death and progression totals;
* **within 5 percentage points** - the eight Kaplan-Meier landmarks of the unmatched cohort;
* **by construction of the outcome model** - the true conditional overall-survival hazard ratios
  are the paper's multivariable Table 3 estimates.

Every target is read from ``psmbook/data/published.yaml`` through :mod:`psmbook.study.published`; nothing
the paper prints is typed into this file. Every other constant of the model (baseline hazards,
latent correlations, shape parameters) is a field of :class:`GeneratorSpec`, calibrated once by
``benchmarks/calibrate_generator.py``. :func:`generating_model_markdown` writes the model down for
the book and :func:`data_dictionary` describes every column.

Randomness comes from ``numpy.random.default_rng(seed)`` only (split into independent child streams
per generating step), so a seed always gives the same cohort.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Optional

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "DEFAULT_SEED",
    "GeneratorSpec",
    "inverse_cumulative_hazard",
    "Targets",
    "SurvivalDrawError",
    "load_targets",
    "generate_cohort",
    "data_dictionary",
    "generating_model_markdown",
    "implied_propensity",
    "os_linear_predictor",
    "baseline_cumulative_hazard",
    "true_hazard_ratios",
]

#: The book's default seed (the date of the study's censoring, 31 May 2025).
DEFAULT_SEED = 20250531

TREATED, CONTROL = "anlotinib", "crt"
ARMS = (TREATED, CONTROL)
#: Calendar conversions used throughout (months are mean Gregorian months).
DAYS_PER_MONTH = 365.25 / 12
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7

#: Table 3 multivariable factors of the OS model: published-id factor -> (column, level).
OS_FACTORS = (
    ("arm.anlotinib", "arm", TREATED),
    ("nodes_group.multiple", "nodes_group", "multiple"),
    ("response_group.less_than_cr", "response_group", "less_than_cr"),
    ("age_group.ge65", "age_group", "ge65"),
    ("stage.iib_iii", "stage", "iib_iii"),
)

TOXICITIES = ("leukopenia", "neutropenia", "anemia", "nausea_vomiting", "esophagitis", "pneumonitis")
ANLOTINIB_G34 = ("hypertension", "hand_foot", "diarrhea")
ANLOTINIB_EVENTS = ("hypertension", "hand_foot", "proteinuria", "hypothyroidism", "diarrhea")
DOSE_REDUCTION_REASONS = ("hand_foot", "diarrhea", "proteinuria")
LANDMARKS = (("pfs", "6m"), ("pfs", "12m"), ("os", "1y"), ("os", "3y"))
NODE_COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four_plus"}
STATIONS = (
    ("station_2r", "station_2r"),
    ("station_7", "station_7"),
    ("station_supraclavicular", "supraclavicular"),
)
CONFIRMATION = ("ct", "pet_ct", "histology")


class SurvivalDrawError(RuntimeError):
    """The survival draw did not meet its exact totals within the allowed number of tries."""


# ====================================================================================================
# The generating model's constants


@dataclass(frozen=True)
class GeneratorSpec:
    """Every constant of the generating model that is not a published number.

    Published numbers (counts, landmarks, hazard ratios, dates, protocol doses) are read from
    ``published.yaml`` by :func:`load_targets`; the fields here are the modelling choices around them.
    The survival constants (``os_baseline_hazard``, ``nodes_arm_shift``, ``progression_*``,
    ``anlotinib_discontinuation_median_weeks``) were calibrated by ``benchmarks/calibrate_generator.py``; re-run it after changing any other
    field that touches survival.
    """

    # --- baseline covariates: the "clinical indication" latent factor ------------------------------
    indication_strength: float = 0.85
    """lambda in [0, 1): strength of the within-arm dependence between covariates. Each patient has a
    latent clinical-indication score Z ~ N(0, 1); a linked covariate k is assigned by ranking
    ``rho_k Z + sqrt(1 - rho_k^2) eps`` within the arm against the arm's exact counts, with
    ``rho_k = lambda * loading_k``. 0 makes covariates independent within arm (the true propensity
    model is then a main-effects logistic model); larger values concentrate the "indicated" levels in
    the same patients, which thins the overlap of the two arms.

    Calibrated, with ``control_indication_ratio``, so that the book's default matching (1:1 nearest
    neighbour on the logit PS, caliper 0.2 SD, largest score first) keeps 68 of 76 treated patients in
    the default cohort, as the paper's matching did; over seeds 0-29 the same setting keeps 69.1 on
    average (SD 2.7, range 64-73). ``benchmarks/calibrate_generator.py --matching`` re-measures it."""

    control_indication_ratio: float = 0.2
    """Strength of the latent dependence in the CRT-alone arm, as a fraction of ``indication_strength``.
    The indication score is what made clinicians add anlotinib, so it structures mainly the treated arm
    (0.0: covariates independent within the control arm); 1.0 gives both arms the same dependence,
    which leaves the overlap of the arms nearly as wide as with none. Calibrated with
    ``indication_strength`` (see there)."""

    indication_loadings: tuple = (
        ("node_diameter", ("ge3", "lt3"), 1.0),
        ("differentiation", ("poor", "moderate", "well"), 1.0),
        ("recurrence_site", ("multiple",), 1.0),
        ("age", ("lt65", "ge65_lt_s1", "s1_age"), 1.0),
        ("radiation_dose", ("escalated", "standard"), 1.0),
        ("consolidation_chemo", ("yes", "no"), 0.5),
    )
    """(column, levels from most to least indicated, loading). Levels not listed (recurrence site
    other than multiple) are assigned at random among the remaining patients. ``age`` is the ordered
    age band (< 65, 65 to the S-1 age, >= the S-1 age) that determines age_group and, through the
    S-1 age rule, concurrent_chemo. Covariates not listed (sex, ECOG, location, stage, previous
    treatment, nutritional support) are independent of everything within arm."""

    nodes_loading: float = 0.6
    """Loading of the recurrent-node count on Z (times ``indication_strength``)."""
    nodes_arm_shift: float = 0.6
    """Shift of the node-count ranking score for the anlotinib arm (per-arm node counts are not
    published, only the cohort totals; a positive shift gives the anlotinib arm more nodes)."""
    nodes_multiple_site_shift: float = 1.0
    """Shift of the node-count ranking score for patients with multiple recurrence sites (who need at
    least two nodes)."""

    age_group_cut: int = 65
    """Boundary of the age_group levels lt65/ge65 (the level definition in study_synthetic.yaml)."""
    age_young_mean: float = 57.0
    """Mean of the (truncated normal) age of patients under 65, years."""
    age_young_sd: float = 5.5
    """SD of the age of patients under 65, years."""
    age_young_min: int = 40
    """Youngest synthetic patient (the inclusion minimum of 20 is a bound, not a typical age)."""

    node_diameter_cut_cm: float = 3.0
    """Boundary of the node_diameter levels lt3/ge3, cm (the level definition)."""
    node_small_min_cm: float = 1.0
    """Smallest maximal nodal short axis, cm (nodes >= 1 cm enter the GTV)."""
    node_large_mean_excess_cm: float = 0.9
    """Mean excess over the cut of the >= 3 cm nodes (gamma, shape 1.5), cm."""
    node_large_max_cm: float = 7.0
    """Largest node, cm."""

    standard_fractionation: tuple = (("max", 25, 0.3), ("min", 28, 0.7))
    """Prescriptions of the 50-50.4 Gy level as (fraction size, number of fractions, probability);
    the size "min"/"max" is the published fraction-dose range (1.8/2.0 Gy): 2.0 x 25 = 50 Gy,
    1.8 x 28 = 50.4 Gy."""
    escalated_fractionation: tuple = (
        ("min", 30, 0.25),
        ("max", 28, 0.15),
        ("min", 33, 0.35),
        ("max", 30, 0.25),
    )
    """Prescriptions of the > 50.4 Gy level: 54, 56, 59.4 and 60 Gy."""
    fractions_per_week: int = 5
    """Radiotherapy fractions per week."""
    crt_interruption_days_max: float = 5.0
    """Extra days of a CRT course (holidays, short breaks): uniform on [0, this]."""

    multiple_site_supraclavicular_mediastinal_share: float = 0.75
    """Among multiple-site patients with supraclavicular involvement, the share whose second region is
    mediastinal (the others: abdominal). Multiple-site patients without supraclavicular involvement
    are mediastinal + abdominal."""

    months_to_recurrence_log_sd: float = 0.75
    """Log-SD of the log-normal interval surgery -> recurrence (its median is the published one)."""
    prior_radiotherapy_buffer_months: int = 2
    """Months between surgery and the end of adjuvant radiotherapy: patients with previous
    radiotherapy or chemoradiotherapy recur at least (published minimum interval + this) months
    after surgery."""

    # --- treatment course and response ------------------------------------------------------------
    not_evaluable_frailty_log_weight: float = 0.7
    """Log-weight of age >= 65 and of ECOG 1-2 in the choice of the patients who die during CRT."""
    not_evaluable_min_death_weeks: float = 2.0
    """Deaths during CRT happen between this week and the end of CRT (and before 2 anlotinib
    cycles)."""
    response_effects: tuple = (
        ("node_diameter_cm", 0.6),
        ("n_recurrent_nodes", 0.4),
        ("poor", 0.5),
        ("well", -0.5),
    )
    """Coefficients of the latent response score R = sum(coef * x) + Logistic(0, 1); within an arm the
    lowest scores get CR, then PR, SD, PD, to the exact Table 2 counts (x: node diameter in cm, node
    count, indicators of poor and well differentiation)."""

    # --- overall survival --------------------------------------------------------------------------
    os_breaks_months: tuple = (0.0, 6.0, 12.0, 24.0, 36.0, 60.0)
    """Start of each piece of the piecewise-constant baseline hazard, months (the last is open)."""
    os_baseline_hazard: tuple = (0.01164, 0.01198, 0.01313, 0.01023, 0.006118, 0.004934)
    """Baseline hazard per month in each piece (reference patient: CRT alone, single node, CR,
    age < 65, stage IB-IIA). Calibrated."""
    os_hazard_ratios: Optional[tuple] = None
    """((factor, HR), ...) of the proportional-hazards model; None (default) reads the paper's Table 3
    multivariable HRs for arm, nodes, response, age and stage from published.yaml."""
    max_survival_draws: int = 20000
    """Bound on the rejection draws per arm (survival totals must be exact); exceeded -> error."""
    survival_batch: int = 250
    """Draws tried at once (vectorised); the first acceptable one in draw order is kept."""
    landmark_window_pp: Optional[float] = 1.5
    """Variance reduction: a survival draw is accepted only if, in each arm, the Kaplan-Meier landmark
    survival (OS at 1 and 3 years, PFS at 6 and 12 months) is within this many percentage points of
    the *model's own expectation for that cohort* (computed from its covariates; no published
    landmark enters). None: no window (only the exact totals are conditioned on)."""
    survival_block_size: int = 12
    """The uniforms of the inverse-CDF draws are stratified, u = (permutation + v) / m, within blocks
    of about this many patients of one arm sorted by risk (OS) or by time left before death (PFS).
    Each u is still U(0, 1), so the model is unchanged; the Kaplan-Meier curves just scatter less
    around it."""

    # --- progression-free survival -----------------------------------------------------------------
    progression_anlotinib: tuple = (9.09, 0.484)
    """(median months, log-SD) of the log-normal time from the response assessment to progression for
    anlotinib patients who progress; it is truncated to end before death (or the censoring date).
    Calibrated."""
    progression_crt: tuple = (9.64, 0.689)
    """Same for CRT-alone patients. Calibrated."""
    death_without_progression_share: float = 0.08
    """Share of deaths (among evaluable, non-PD patients) without progression: PFS = OS."""

    # --- anlotinib exposure ------------------------------------------------------------------------
    anlotinib_discontinuation_median_weeks: float = 68.7
    """Median of the exponential time to discontinuation for toxicity or choice, weeks; exposure is
    min(PFS, published maximum, discontinuation). Calibrated to the published median exposure."""
    anlotinib_mid_start_share: float = 0.67
    """Among patients not starting at the highest dose, the share starting at the middle dose."""
    anlotinib_low_start_age_log_weight: float = 0.08
    """Per-year log-weight of age in the choice of the patients who start below the highest dose."""

    # --- toxicity ----------------------------------------------------------------------------------
    toxicity_frailty_log_weight: float = 0.4
    """Log-weight of age >= 65 and of ECOG 1-2 in the choice of the patients with grade 3-4 events."""
    neutropenia_within_leukopenia: float = 0.85
    """Share of grade 3-4 neutropenia that falls on patients with grade 3-4 leukopenia."""
    anlotinib_grade2_share: float = 0.35
    """Among anlotinib events below grade 3, the share of grade 2 (others grade 1)."""
    anlotinib_grade4_share: float = 0.1
    """Among grade 3-4 anlotinib events, the share of grade 4."""
    proteinuria_hypertension_weight: float = 2.0
    """Relative weight of patients with hypertension when proteinuria is filled in (both are
    VEGF-inhibition effects)."""
    incomplete_radiotherapy_toxicity_weight: float = 3.0
    """Relative weight of patients with a grade 3-4 event among those who stop before 50 Gy."""

    def __post_init__(self):
        if not 0.0 <= self.indication_strength < 1.0:
            raise ValueError(f"indication_strength must be in [0, 1), got {self.indication_strength}")
        if len(self.os_breaks_months) != len(self.os_baseline_hazard):
            raise ValueError("os_breaks_months and os_baseline_hazard must have the same length")
        if self.os_breaks_months[0] != 0 or any(np.diff(self.os_breaks_months) <= 0):
            raise ValueError("os_breaks_months must start at 0 and increase")
        if any(h <= 0 for h in self.os_baseline_hazard):
            raise ValueError("baseline hazards must be positive")
        for name, loading in (("nodes_loading", self.nodes_loading),):
            if abs(loading) > 1:
                raise ValueError(f"{name} must be in [-1, 1]")
        for column, _, loading in self.indication_loadings:
            if abs(loading) > 1:
                raise ValueError(f"loading of {column} must be in [-1, 1]")

    def with_(self, **changes) -> "GeneratorSpec":
        """A copy with some fields changed (``spec.with_(indication_strength=0.8)``)."""
        return replace(self, **changes)


# ====================================================================================================
# Published targets


def _count_from_pct(pct: float, n: int, what: str) -> int:
    """The unique count k with 100 k / n rounding (half up, one decimal) to the printed percentage."""
    hits = [k for k in range(n + 1) if math.floor(1000 * k / n + 0.5) / 10 == round(float(pct), 1)]
    if len(hits) != 1:
        raise ValueError(f"{what}: {pct}% of {n} is not a unique count ({hits})")
    return hits[0]


def _month_start(text: str) -> _dt.date:
    y, m = (int(x) for x in str(text).split("-")[:2])
    return _dt.date(y, m, 1)


def _month_end(text: str) -> _dt.date:
    start = _month_start(text)
    nxt = _dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return nxt - _dt.timedelta(days=1)


@dataclass(frozen=True)
class Targets:
    """Everything the generator takes from published.yaml (ids in :data:`ids`)."""

    n: dict
    table1: dict
    evaluable: dict
    response: dict
    not_evaluable: dict
    death_causes: dict
    toxicity: dict
    anlotinib_g34: dict
    g34_any: dict
    anlotinib_any_grade: dict
    anlotinib_any_event: int
    dose_reduction: dict
    reduced_dose_mg: float
    start_doses_mg: tuple
    high_start_share: float
    nodes: dict
    confirmation: dict
    stations: dict
    months_to_recurrence: tuple
    surgery_only: int
    os_events: dict
    pfs_events: dict
    landmarks: dict
    hazard_ratios: dict
    delivered_threshold_gy: float
    delivered_ge_threshold: dict
    dp_schedule: dict
    dose_gy: tuple
    fraction_dose_gy: tuple
    period: tuple
    cutoff: _dt.date
    age_range: tuple
    s1_age_min: int
    prior_radiotherapy_interval_months: float
    assessment_weeks: tuple
    anlotinib_cycle_weeks: tuple
    anlotinib_exposure_weeks: tuple
    ids: dict


def _landmark_months(key: str) -> float:
    number, unit = int(key[:-1]), key[-1]
    return float(number * (12 if unit == "y" else 1))


@lru_cache(maxsize=None)
def load_targets() -> Targets:
    """Read every calibration target from published.yaml (via :mod:`psmbook.study.published`)."""
    from psmbook.study.description import load_study
    from psmbook.study.published import published_value as pv

    study = load_study()
    ids: dict = {}

    def get(key, id_):
        ids[key] = id_
        return pv(id_)

    n = {a: int(get(("n", a), f"table1.before.n.{a}")) for a in ARMS}
    table1: dict = {}
    for var in study.covariates:
        table1[var.column] = {}
        for level in var.codes:
            table1[var.column][level] = {}
            for a in ARMS:
                if level in var.table1_omit:
                    continue
                table1[var.column][level][a] = int(
                    get(("table1", var.column, level, a), f"table1.before.{var.column}.{level}.{a}.n")
                )
        for level in var.table1_omit:  # e.g. previous treatment "none": n minus the rows
            for a in ARMS:
                shown = sum(table1[var.column][lv][a] for lv in var.shown_levels)
                table1[var.column][level][a] = n[a] - shown
                ids[("table1", var.column, level, a)] = f"table1.before.n.{a}"
        for a in ARMS:
            if sum(table1[var.column][lv][a] for lv in var.codes) != n[a]:
                raise ValueError(f"published Table 1 counts of {var.column} ({a}) do not add up to {n[a]}")

    evaluable = {a: int(get(("evaluable", a), f"table2.before.n.{a}")) for a in ARMS}
    response = {
        a: {r: int(get(("response", r, a), f"table2.before.{r}.{a}.n")) for r in ("cr", "pr", "sd", "pd")} for a in ARMS
    }
    not_evaluable = {a: int(get(("ne", a), f"text.response.not_evaluable.{a}.n")) for a in ARMS}
    for a in ARMS:
        if sum(response[a].values()) != evaluable[a] or evaluable[a] + not_evaluable[a] != n[a]:
            raise ValueError(f"published response counts of arm {a} are inconsistent")
    from psmbook.study.published import select

    death_causes = {}
    for a in ARMS:
        prefix = f"text.toxicity.deaths_during_crt.{a}."
        causes = {}
        for id_, entry in select(prefix).items():
            rest = id_[len(prefix) :]
            if rest.endswith(".n") and rest != "n":
                causes[rest[:-2]] = int(entry.value)
                ids[("death_cause", rest[:-2], a)] = id_
        total = int(get(("deaths_during_crt", a), f"{prefix}n"))
        if sum(causes.values()) != total or total != not_evaluable[a]:
            raise ValueError(f"published deaths during CRT of arm {a} do not match the not-evaluable count")
        death_causes[a] = causes

    toxicity = {e: {a: int(get(("tox", e, a), f"table4.{e}.{a}.n")) for a in ARMS} for e in TOXICITIES}
    anlotinib_g34 = {e: int(get(("anl_g34", e), f"table4.anlotinib_g34.{e}.{TREATED}.n")) for e in ANLOTINIB_G34}
    g34_any = {
        a: _count_from_pct(get(("g34_any", a), f"text.toxicity.g34_overall.{a}.pct"), n[a], f"grade 3-4 overall, {a}")
        for a in ARMS
    }
    any_grade = {e: int(get(("anl_any", e), f"text.anlotinib.any_grade.{e}.n")) for e in ANLOTINIB_EVENTS}
    any_event = _count_from_pct(
        get(("anl_any_event",), "text.anlotinib.any_event.pct"), n[TREATED], "anlotinib any event"
    )
    reductions = {
        r: int(get(("dose_reduction", r), f"text.anlotinib.dose_reduction.{r}.n")) for r in DOSE_REDUCTION_REASONS
    }
    if sum(reductions.values()) != int(get(("dose_reduction",), "text.anlotinib.dose_reduction.n")):
        raise ValueError("published dose-reduction reasons do not add up")
    start_doses = tuple(
        float(get(("start_dose", k), f"text.methods.anlotinib.start_dose.{k}")) for k in ("low", "mid", "high")
    )
    high_share = float(get(("start_high",), "text.anlotinib.after.start_dose_12mg.n")) / float(
        get(("anl_after_n",), "text.anlotinib.after.n")
    )

    nodes = {k: int(get(("nodes", k), f"text.cohort.recurrent_nodes.{w}.n")) for k, w in NODE_COUNT_WORDS.items()}
    confirmation = {
        c: int(get(("confirmation", c), f"text.cohort.recurrence_confirmation.{c}.n")) for c in CONFIRMATION
    }
    stations = {col: int(get(("station", col), f"text.cohort.nodal_stations.{key}.n")) for col, key in STATIONS}
    months = tuple(
        float(get(("months", k), f"text.cohort.surgery_to_recurrence.{k}")) for k in ("median", "min", "max")
    )
    surgery_only = int(get(("surgery_only",), "text.cohort.surgery_only.n"))
    os_events = {a: int(get(("os_events", a), f"text.survival.os.before.events.{a}.n")) for a in ARMS}
    pfs_events = {a: int(get(("pfs_events", a), f"text.survival.pfs.before.events.{a}.n")) for a in ARMS}
    landmarks = {}
    for endpoint, key in LANDMARKS:
        for a in ARMS:
            landmarks[(endpoint, key, a)] = (
                _landmark_months(key),
                float(get(("landmark", endpoint, key, a), f"text.survival.{endpoint}.before.{key}.{a}")),
            )
    hazard_ratios = {f: float(get(("hr", f), f"table3.multivariate.{f}.hr")) for f, _, _ in OS_FACTORS}
    threshold = float(get(("delivered_threshold",), "text.treatment.before.radiation_ge50gy.threshold"))
    delivered = {a: int(get(("delivered", a), f"text.treatment.before.radiation_ge50gy.{a}.n")) for a in ARMS}
    dp = {
        "weekly": int(get(("dp", "weekly"), "text.treatment.concurrent_chemo.weekly.n")),
        "three_weekly": int(get(("dp", "three_weekly"), "text.treatment.concurrent_chemo.three_weekly.n")),
    }
    dose = tuple(float(get(("dose", k), f"text.treatment.radiotherapy.dose.{k}")) for k in ("median", "min", "max"))
    fraction = tuple(
        float(get(("fraction", k), f"text.methods.radiotherapy.fraction_dose.{k}")) for k in ("min", "max")
    )
    period = (
        _month_start(get(("period", "start"), "text.methods.period.start")),
        _month_end(get(("period", "end"), "text.methods.period.end")),
    )
    cutoff = _dt.date.fromisoformat(str(get(("cutoff",), "text.methods.censoring_date")))
    age_range = (
        int(get(("age", "min"), "text.methods.inclusion.age.min")),
        int(get(("age", "max"), "text.methods.inclusion.age.max")),
    )
    s1_age = int(get(("s1_age",), "text.methods.chemo.s1.age.min"))
    prior_rt = float(get(("prior_rt",), "text.methods.inclusion.prior_radiotherapy_interval.min"))
    assessment = (
        float(get(("assessment", "min"), "text.methods.response.assessment.min")),
        float(get(("assessment", "max"), "text.methods.response.assessment.max")),
    )
    cycle = (
        float(get(("anl_cycle", "on"), "text.methods.anlotinib.schedule.weeks_on")),
        float(get(("anl_cycle", "off"), "text.methods.anlotinib.schedule.weeks_off")),
    )
    exposure = tuple(
        float(get(("anl_exposure", k), f"text.anlotinib.after.exposure.{k}")) for k in ("median", "min", "max")
    )
    reduced = float(get(("reduced_dose",), "text.anlotinib.dose_reduction.dose"))
    return Targets(
        n=n,
        table1=table1,
        evaluable=evaluable,
        response=response,
        not_evaluable=not_evaluable,
        death_causes=death_causes,
        toxicity=toxicity,
        anlotinib_g34=anlotinib_g34,
        g34_any=g34_any,
        anlotinib_any_grade=any_grade,
        anlotinib_any_event=any_event,
        dose_reduction=reductions,
        reduced_dose_mg=reduced,
        start_doses_mg=start_doses,
        high_start_share=high_share,
        nodes=nodes,
        confirmation=confirmation,
        stations=stations,
        months_to_recurrence=months,
        surgery_only=surgery_only,
        os_events=os_events,
        pfs_events=pfs_events,
        landmarks=landmarks,
        hazard_ratios=hazard_ratios,
        delivered_threshold_gy=threshold,
        delivered_ge_threshold=delivered,
        dp_schedule=dp,
        dose_gy=dose,
        fraction_dose_gy=fraction,
        period=period,
        cutoff=cutoff,
        age_range=age_range,
        s1_age_min=s1_age,
        prior_radiotherapy_interval_months=prior_rt,
        assessment_weeks=assessment,
        anlotinib_cycle_weeks=cycle,
        anlotinib_exposure_weeks=exposure,
        ids=ids,
    )


# ====================================================================================================
# Helpers


def _rank_assign(score: np.ndarray, levels, counts) -> np.ndarray:
    """Highest scores get levels[0] (counts[0] of them), the next ones levels[1], ... (exact counts)."""
    if sum(counts) != len(score):
        raise ValueError(f"counts {list(counts)} do not add up to {len(score)}")
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    out = np.empty(len(score), dtype=object)
    pos = 0
    for level, count in zip(levels, counts):
        out[order[pos : pos + count]] = level
        pos += count
    return out


def _choose(rng, candidates: np.ndarray, k: int, weights=None, what: str = "") -> np.ndarray:
    """k distinct members of `candidates` (weighted without replacement); error if too few."""
    candidates = np.asarray(candidates)
    if k == 0:
        return candidates[:0]
    if k > len(candidates):
        raise ValueError(f"cannot choose {k} {what} from {len(candidates)} candidates")
    p = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        p = w / w.sum()
    return rng.choice(candidates, size=k, replace=False, p=p)


def _stratified_uniforms(rng, shape) -> np.ndarray:
    """u = (permutation + v) / n along the last axis: one uniform in each of n equal strata."""
    n = shape[-1]
    perm = np.argsort(rng.random(shape), axis=-1)
    return (perm + rng.random(shape)) / n


def _arm_strength(spec: GeneratorSpec, a: str) -> float:
    """Latent-dependence strength within arm `a`."""
    return spec.indication_strength * (1.0 if a == TREATED else spec.control_indication_ratio)


def _hazard_ratios(spec: GeneratorSpec, targets: Targets) -> dict:
    if spec.os_hazard_ratios is None:
        return dict(targets.hazard_ratios)
    return {str(k): float(v) for k, v in spec.os_hazard_ratios}


def true_hazard_ratios(spec: GeneratorSpec | None = None) -> dict[str, float]:
    """The true conditional OS hazard ratios the generator encodes, by factor (``arm.anlotinib``, ...)."""
    return _hazard_ratios(spec or GeneratorSpec(), load_targets())


def baseline_cumulative_hazard(t, spec: GeneratorSpec | None = None) -> np.ndarray:
    """H0(t) of the piecewise-constant baseline hazard (t in months)."""
    spec = spec or GeneratorSpec()
    t = np.asarray(t, dtype=float)
    breaks = np.asarray(spec.os_breaks_months, dtype=float)
    h = np.asarray(spec.os_baseline_hazard, dtype=float)
    ends = np.append(breaks[1:], np.inf)
    exposure = np.clip(t[..., None] - breaks, 0.0, ends - breaks)
    return exposure @ h


def inverse_cumulative_hazard(y, spec: GeneratorSpec | None = None) -> np.ndarray:
    """The time t at which the baseline cumulative hazard H0(t) reaches y (months): the inverse of
    :func:`baseline_cumulative_hazard`, used to draw survival times by inversion."""
    spec = spec or GeneratorSpec()
    breaks = np.asarray(spec.os_breaks_months, dtype=float)
    h = np.asarray(spec.os_baseline_hazard, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(np.diff(breaks) * h[:-1])])
    y = np.asarray(y, dtype=float)
    j = np.clip(np.searchsorted(cum, y, side="right") - 1, 0, len(h) - 1)
    return breaks[j] + (y - cum[j]) / h[j]


def os_linear_predictor(df: pd.DataFrame, spec: GeneratorSpec | None = None) -> pd.Series:
    """beta'x of the OS model for each row (not-evaluable patients count as 'less than CR')."""
    spec = spec or GeneratorSpec()
    hr = _hazard_ratios(spec, load_targets())
    lp = np.zeros(len(df))
    for factor, column, level in OS_FACTORS:
        x = (df[column] == level).to_numpy()
        if column == "response_group":
            x = x | (df["response"] == "ne").to_numpy()
        lp += math.log(hr[factor]) * x
    return pd.Series(lp, index=df.index, name="os_linear_predictor")


# ====================================================================================================
# Generating steps


def _baseline(rng, spec: GeneratorSpec, tg: Targets) -> dict:
    """Arm and the Table 1 covariates: exact per-arm counts, within-arm latent dependence."""
    arm = np.array([TREATED] * tg.n[TREATED] + [CONTROL] * tg.n[CONTROL], dtype=object)
    n_total = len(arm)
    z = rng.standard_normal(n_total)
    linked = {column: (tuple(levels), loading) for column, levels, loading in spec.indication_loadings}
    t1 = tg.table1
    out: dict = {"arm": arm, "z": z}
    score_of: dict = {}

    # Age band: < cut, cut .. S-1 age - 1, >= S-1 age (the S-1 patients)
    band_counts = {}
    for a in ARMS:
        s1 = t1["concurrent_chemo"]["s1"][a]
        ge = t1["age_group"]["ge65"][a]
        if s1 > ge:
            raise ValueError(
                f"arm {a}: {s1} S-1 patients but only {ge} aged >= {spec.age_group_cut}; "
                "the rule 'S-1 if and only if age >= S-1 age' cannot hold"
            )
        band_counts[a] = {"lt65": t1["age_group"]["lt65"][a], "ge65_lt_s1": ge - s1, "s1_age": s1}

    columns = [v for v in t1 if v not in ("age_group", "concurrent_chemo")] + ["age"]
    for column in columns:
        values = np.empty(n_total, dtype=object)
        scores = np.empty(n_total)
        levels_all = tuple(band_counts[TREATED]) if column == "age" else tuple(t1[column])
        order, loading = linked.get(column, ((), 0.0))
        for a in ARMS:
            rho = _arm_strength(spec, a) * loading
            idx = np.flatnonzero(arm == a)
            s = rho * z[idx] + math.sqrt(1.0 - rho * rho) * rng.standard_normal(len(idx))
            scores[idx] = s
            cnt = (lambda lv: band_counts[a][lv]) if column == "age" else (lambda lv: t1[column][lv][a])
            ranked = [lv for lv in order]
            rest = [lv for lv in levels_all if lv not in ranked]
            if rest:  # unranked levels: at random among the patients left over
                rng.shuffle(rest)
            seq = ranked + rest
            vals = _rank_assign(s, seq, [cnt(lv) for lv in seq])
            if rest and ranked:
                left = np.flatnonzero(~np.isin(vals, ranked))
                shuffled = rng.permutation(vals[left])
                vals[left] = shuffled
            values[idx] = vals
        out[column] = values
        score_of[column] = scores

    band = out.pop("age")
    lo_age, hi_age = tg.age_range
    if spec.age_young_min < lo_age:
        raise ValueError("age_young_min is below the published inclusion minimum")
    age = np.zeros(n_total, dtype=int)
    for a in ARMS:
        for b in ("lt65", "ge65_lt_s1", "s1_age"):
            idx = np.flatnonzero((arm == a) & (band == b))
            if b == "lt65":
                lo, hi = spec.age_young_min, spec.age_group_cut - 1
                aa, bb = (
                    (lo - 0.5 - spec.age_young_mean) / spec.age_young_sd,
                    (hi + 0.5 - spec.age_young_mean) / spec.age_young_sd,
                )
                draws = stats.truncnorm.ppf(
                    rng.random(len(idx)), aa, bb, loc=spec.age_young_mean, scale=spec.age_young_sd
                )
                years = np.clip(np.rint(draws), lo, hi).astype(int)
            elif b == "ge65_lt_s1":
                years = rng.integers(spec.age_group_cut, tg.s1_age_min, size=len(idx))
            else:
                years = rng.integers(tg.s1_age_min, hi_age + 1, size=len(idx))
            # within the band, the most "indicated" (highest score) are the youngest
            order = idx[np.argsort(-score_of["age"][idx], kind="stable")]
            age[order] = np.sort(years)
    out["age_years"] = age
    out["age_group"] = np.where(age >= spec.age_group_cut, "ge65", "lt65").astype(object)
    out["concurrent_chemo"] = np.where(age >= tg.s1_age_min, "s1", "docetaxel_cisplatin").astype(object)

    # Maximal node diameter within its level, larger for higher scores
    cm = np.zeros(n_total)
    for a in ARMS:
        for lv in ("lt3", "ge3"):
            idx = np.flatnonzero((arm == a) & (out["node_diameter"] == lv))
            if lv == "lt3":
                vals = rng.uniform(spec.node_small_min_cm, spec.node_diameter_cut_cm - 0.05, len(idx))
            else:
                vals = spec.node_diameter_cut_cm + rng.gamma(1.5, spec.node_large_mean_excess_cm / 1.5, len(idx))
                vals = np.minimum(vals, spec.node_large_max_cm)
            vals = np.round(vals, 1)
            if lv == "lt3":
                vals = np.minimum(vals, round(spec.node_diameter_cut_cm - 0.1, 1))
            else:
                vals = np.maximum(vals, spec.node_diameter_cut_cm)
            order = idx[np.argsort(-score_of["node_diameter"][idx], kind="stable")]
            cm[order] = np.sort(vals)[::-1]
    out["node_diameter_cm"] = cm
    return out


def _fractionation(rng, spec: GeneratorSpec, tg: Targets, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prescribed dose (Gy) and number of fractions from the dose level; exact published range/median."""
    size = {"min": tg.fraction_dose_gy[0], "max": tg.fraction_dose_gy[1]}
    schemes = {"standard": spec.standard_fractionation, "escalated": spec.escalated_fractionation}
    dose = np.zeros(len(level))
    fractions = np.zeros(len(level), dtype=int)
    options = {}
    for lv, scheme in schemes.items():
        doses = np.array([round(size[s] * k, 1) for s, k, _ in scheme])
        ks = np.array([k for _, k, _ in scheme])
        p = np.array([w for _, _, w in scheme], dtype=float)
        options[lv] = (doses, ks)
        idx = np.flatnonzero(level == lv)
        pick = rng.choice(len(doses), size=len(idx), p=p / p.sum())
        dose[idx], fractions[idx] = doses[pick], ks[pick]
    if options["standard"][0].max() >= options["escalated"][0].min():
        raise ValueError("standard fractionation must give lower doses than escalated fractionation")
    median, lo, hi = tg.dose_gy
    for target, lv in ((lo, "standard"), (hi, "escalated")):  # the published range is attained
        doses, ks = options[lv]
        if target not in doses:
            raise ValueError(f"no {lv} prescription gives the published dose {target} Gy")
        if not (dose == target).any():
            idx = np.flatnonzero(level == lv)
            i = rng.choice(idx)
            j = int(np.flatnonzero(doses == target)[0])
            dose[i], fractions[i] = doses[j], ks[j]
    if dose.min() < lo or dose.max() > hi or np.median(dose) != median:
        raise ValueError(
            f"prescribed doses (median {np.median(dose)}, range {dose.min()}-{dose.max()}) "
            f"do not reproduce the published {median} ({lo}-{hi}) Gy; adjust the fractionation"
        )
    return dose, fractions


def _nodes_and_sites(rng, spec: GeneratorSpec, tg: Targets, base: dict) -> dict:
    """Node count (cohort totals exact), stations (totals exact), confirmation, interval, schedules."""
    arm, z = base["arm"], base["z"]
    n_total = len(arm)
    site = base["recurrence_site"]
    multiple = site == "multiple"
    rho = np.where(arm == TREATED, _arm_strength(spec, TREATED), _arm_strength(spec, CONTROL)) * spec.nodes_loading
    score = (
        rho * z
        + np.sqrt(1 - rho * rho) * rng.standard_normal(n_total)
        + spec.nodes_arm_shift * (arm == TREATED)
        + spec.nodes_multiple_site_shift * multiple
    )
    nodes = np.zeros(n_total, dtype=int)
    single_ok = np.flatnonzero(~multiple)
    if tg.nodes[1] > len(single_ok):
        raise ValueError("more single-node patients than patients with a single recurrence site")
    lowest = single_ok[np.argsort(score[single_ok], kind="stable")[: tg.nodes[1]]]
    nodes[lowest] = 1
    rest = np.flatnonzero(nodes == 0)
    counts = [tg.nodes[k] for k in (4, 3, 2)]
    nodes[rest] = _rank_assign(score[rest], [4, 3, 2], counts).astype(int)

    # Regions behind each site, then the three published stations
    sup_site = site == "supraclavicular"
    k_sup = tg.stations["station_supraclavicular"] - int(sup_site.sum())
    mult_idx = np.flatnonzero(multiple)
    if not 0 <= k_sup <= len(mult_idx):
        raise ValueError("supraclavicular station total is incompatible with the recurrence sites")
    has_sup = sup_site.copy()
    with_sup = _choose(rng, mult_idx, k_sup, what="multiple-site patients with supraclavicular nodes")
    has_sup[with_sup] = True
    has_med = site == "mediastinal"
    for i in mult_idx:
        if has_sup[i]:
            has_med[i] = rng.random() < spec.multiple_site_supraclavicular_mediastinal_share
        else:
            has_med[i] = True  # mediastinal + abdominal
    med_nodes = np.where(site == "mediastinal", nodes, np.where(multiple & has_med, nodes - 1, 0))
    med_idx = np.flatnonzero(has_med)
    s2r = np.zeros(n_total, dtype=bool)
    s7 = np.zeros(n_total, dtype=bool)
    s2r[_choose(rng, med_idx, tg.stations["station_2r"], what="station 2R patients")] = True
    eligible7 = med_idx[~(s2r[med_idx] & (med_nodes[med_idx] == 1))]
    s7[_choose(rng, eligible7, tg.stations["station_7"], what="station 7 patients")] = True

    confirmation = rng.permutation(
        np.repeat(np.array(CONFIRMATION, dtype=object), [tg.confirmation[c] for c in CONFIRMATION])
    )
    if len(confirmation) != n_total:
        raise ValueError("published confirmation counts do not add up to the cohort size")

    # Interval surgery -> recurrence: integers with exact median, minimum and maximum
    median, lo, hi = tg.months_to_recurrence
    n_low = (n_total - 1) // 2
    if n_total % 2 == 0:
        raise ValueError("the exact-median construction needs an odd cohort size")
    sd = spec.months_to_recurrence_log_sd
    dist = stats.lognorm(s=sd, scale=median)
    q_lo, q_med, q_hi = dist.cdf(lo), dist.cdf(median), dist.cdf(hi)
    lower = np.floor(dist.ppf(rng.uniform(q_lo, q_med, n_low)) + 0.5)
    upper = np.floor(dist.ppf(rng.uniform(q_med, q_hi, n_low)) + 0.5)
    lower = np.clip(lower, lo, median)
    upper = np.clip(upper, median, hi)
    lower[np.argmin(lower)] = lo
    upper[np.argmax(upper)] = hi
    values = np.concatenate([lower, [median], upper]).astype(int)
    prior_rt = np.isin(base["previous_treatment"], ["radiotherapy", "chemoradiotherapy"])
    floor_rt = tg.prior_radiotherapy_interval_months + spec.prior_radiotherapy_buffer_months
    late = np.flatnonzero(values >= floor_rt)
    early = np.flatnonzero(values < floor_rt)
    need = int(prior_rt.sum())
    if need > len(late):
        raise ValueError("too few late recurrences for the patients with previous radiotherapy")
    perm_late = rng.permutation(late)
    months = np.zeros(n_total, dtype=int)
    rt_idx, other_idx = np.flatnonzero(prior_rt), np.flatnonzero(~prior_rt)
    months[rt_idx] = values[perm_late[:need]]
    months[other_idx] = values[rng.permutation(np.concatenate([perm_late[need:], early]))]

    # CRT start dates, uniform over the accrual period
    start, end = tg.period
    span = (end - start).days
    offsets = rng.integers(0, span + 1, size=n_total)
    dates = np.array([np.datetime64(start) + np.timedelta64(int(d), "D") for d in offsets])

    # Docetaxel + cisplatin schedule: the published weekly + three-weekly counts fall short of the
    # docetaxel + cisplatin total; the remaining patients are "not_stated"
    dp_idx = np.flatnonzero(base["concurrent_chemo"] == "docetaxel_cisplatin")
    w, t3 = tg.dp_schedule["weekly"], tg.dp_schedule["three_weekly"]
    if w + t3 > len(dp_idx):
        raise ValueError("more docetaxel + cisplatin schedules than docetaxel + cisplatin patients")
    schedule = np.full(n_total, None, dtype=object)
    schedule[dp_idx] = rng.permutation(
        np.repeat(np.array(["weekly", "three_weekly", "not_stated"], dtype=object), [w, t3, len(dp_idx) - w - t3])
    )
    return {
        "n_recurrent_nodes": nodes,
        "station_2r": s2r,
        "station_7": s7,
        "station_supraclavicular": has_sup,
        "_has_mediastinal": has_med,
        "recurrence_confirmed_by": confirmation,
        "months_surgery_to_recurrence": months,
        "crt_start_date": dates,
        "dp_schedule": schedule,
    }


def _course_and_response(
    rng,
    spec: GeneratorSpec,
    tg: Targets,
    base: dict,
    fractions: np.ndarray,
    cm: np.ndarray,
    nodes: np.ndarray,
) -> dict:
    """Deaths during CRT (not evaluable), CRT duration, assessment time, response by latent ranking."""
    arm = base["arm"]
    n_total = len(arm)
    frail = (base["age_group"] == "ge65").astype(float) + (base["ecog"] == "1-2")
    ne = np.zeros(n_total, dtype=bool)
    cause = np.full(n_total, None, dtype=object)
    for a in ARMS:
        idx = np.flatnonzero(arm == a)
        chosen = _choose(
            rng,
            idx,
            tg.not_evaluable[a],
            np.exp(spec.not_evaluable_frailty_log_weight * frail[idx]),
            "deaths during CRT",
        )
        ne[chosen] = True
        causes = np.repeat(np.array(list(tg.death_causes[a]), dtype=object), list(tg.death_causes[a].values()))
        cause[chosen] = rng.permutation(causes)
    crt_weeks = fractions / spec.fractions_per_week + rng.uniform(0, spec.crt_interruption_days_max, n_total) / 7
    lo, hi = tg.assessment_weeks
    assess_weeks = crt_weeks + rng.uniform(lo, hi, n_total)

    effects = dict(spec.response_effects)
    latent = (
        effects.get("node_diameter_cm", 0.0) * (cm - cm.mean())
        + effects.get("n_recurrent_nodes", 0.0) * (nodes - nodes.mean())
        + effects.get("poor", 0.0) * (base["differentiation"] == "poor")
        + effects.get("well", 0.0) * (base["differentiation"] == "well")
        + rng.logistic(0.0, 1.0, n_total)
    )
    response = np.full(n_total, "ne", dtype=object)
    for a in ARMS:
        idx = np.flatnonzero((arm == a) & ~ne)
        levels = ("cr", "pr", "sd", "pd")
        response[idx] = _rank_assign(-latent[idx], levels, [tg.response[a][r] for r in levels])
    return {
        "not_evaluable": ne,
        "death_cause": cause,
        "crt_weeks": crt_weeks,
        "assessment_months": assess_weeks / WEEKS_PER_MONTH,
        "response": response,
    }


def _blocks(rng, key: np.ndarray, size: int) -> list[np.ndarray]:
    """Positions sorted by `key` (ties at random), cut into consecutive blocks of about `size`."""
    n = len(key)
    if n == 0:
        return []
    order = np.lexsort((rng.random(n), np.asarray(key, dtype=float)))
    return np.array_split(order, max(1, int(round(n / max(size, 1)))))


def _block_uniforms(rng, blocks: list[np.ndarray], n: int, k: int) -> np.ndarray:
    """k rows of n uniforms, stratified within each block: every u is still marginally U(0, 1)."""
    u = np.empty((k, n))
    for block in blocks:
        u[:, block] = _stratified_uniforms(rng, (k, len(block)))
    return u


def _landmark_times(tg: Targets, endpoint: str) -> list[float]:
    return sorted({t for (e, _, _), (t, _) in tg.landmarks.items() if e == endpoint})


def _draw_os(rng, spec: GeneratorSpec, tg: Targets, arm, lp, assess, crt_end, followup, ne, pd_) -> dict:
    """OS from the stated PH model: stratified inverse-CDF draws; exact death totals by rejection."""
    n_total = len(arm)
    os_time = np.zeros(n_total)
    risk = np.exp(lp)
    cycle = sum(tg.anlotinib_cycle_weeks)
    t_min = spec.not_evaluable_min_death_weeks / WEEKS_PER_MONTH
    times = _landmark_times(tg, "os")
    draws = {}
    for a in ARMS:
        n_arm = int((arm == a).sum())
        idx_ne = np.flatnonzero((arm == a) & ne)
        # deaths during CRT: PH model truncated to [t_min, min(end of CRT, 2 anlotinib cycles))
        upper = np.minimum(crt_end[idx_ne], 2 * cycle / WEEKS_PER_MONTH)
        h_lo = baseline_cumulative_hazard(np.full(len(idx_ne), t_min), spec)
        h_hi = baseline_cumulative_hazard(upper, spec)
        r = risk[idx_ne]
        u = rng.random(len(idx_ne))
        dh = -np.log1p(-u * (-np.expm1(-(h_hi - h_lo) * r))) / r
        os_time[idx_ne] = inverse_cumulative_hazard(h_lo + dh, spec)

        # evaluable patients: PH model truncated to [a_i, inf)
        idx = np.flatnonzero((arm == a) & ~ne)
        target = tg.os_events[a] - len(idx_ne)
        alive_pd_max = tg.pfs_events[a] - tg.os_events[a]
        h_a = baseline_cumulative_hazard(assess[idx], spec)
        h_f = baseline_cumulative_hazard(followup[idx], spec)
        r = risk[idx]
        is_pd = pd_[idx]
        # landmark cumulative hazards and the model's expected landmark survival of this cohort
        h_t = [(baseline_cumulative_hazard(np.full(len(idx), t), spec) - h_a) * r for t in times]
        expected = [np.exp(-x).sum() / n_arm for x in h_t]
        window = None if spec.landmark_window_pp is None else spec.landmark_window_pp / 100
        blocks = _blocks(rng, lp[idx], spec.survival_block_size)
        found = None
        tries = 0
        while found is None:
            if tries >= spec.max_survival_draws:
                raise SurvivalDrawError(
                    f"arm {a}: no OS draw with exactly {tg.os_events[a]} deaths, at most {alive_pd_max} "
                    f"progressive-disease patients alive and landmarks within the window, in "
                    f"{spec.max_survival_draws} tries; the baseline hazard is probably mis-calibrated "
                    "for this specification"
                )
            k = min(spec.survival_batch, spec.max_survival_draws - tries)
            e = -np.log1p(-_block_uniforms(rng, blocks, len(idx), k))
            dead = e < (h_f - h_a) * r  # T < follow-up  <=>  H(T) - H(a) < H(f) - H(a)
            ok = (dead.sum(axis=1) == target) & ((~dead & is_pd).sum(axis=1) <= alive_pd_max)
            if window is not None:
                for x, ex in zip(h_t, expected):
                    ok &= np.abs((e > x).sum(axis=1) / n_arm - ex) <= window
            hits = np.flatnonzero(ok)
            if len(hits):
                found = e[hits[0]]
                draws[a] = tries + int(hits[0]) + 1
            tries += k
        os_time[idx] = inverse_cumulative_hazard(h_a + found / r, spec)

    os_event = (os_time < followup).astype(int)
    os_months = np.where(os_event == 1, os_time, followup)
    return {"os_months": os_months, "os_event": os_event, "_draws": (draws[TREATED], draws[CONTROL])}


def _progression_dist(params):
    median, sigma = params
    return stats.lognorm(s=sigma, scale=median)


def _draw_pfs(rng, spec: GeneratorSpec, tg: Targets, arm, assess, followup, ne, pd_, os_months, os_event) -> dict:
    """PFS given OS: PD at assessment, deaths without progression, truncated time to progression."""
    n_total = len(arm)
    pfs = np.zeros(n_total)
    pfs_event = np.zeros(n_total, dtype=int)
    times = _landmark_times(tg, "pfs")
    window = None if spec.landmark_window_pp is None else spec.landmark_window_pp / 100
    draws = {}
    for a in ARMS:
        dist = _progression_dist(spec.progression_anlotinib if a == TREATED else spec.progression_crt)
        in_arm = arm == a
        n_arm = int(in_arm.sum())
        # not evaluable: PFS = OS (death); progressive disease: progression at the assessment
        m = in_arm & ne
        pfs[m], pfs_event[m] = os_months[m], 1
        m = in_arm & pd_
        pfs[m], pfs_event[m] = assess[m], 1
        others = in_arm & ~ne & ~pd_
        dead = np.flatnonzero(others & (os_event == 1))
        alive = np.flatnonzero(others & (os_event == 0))
        n_np = int(round(spec.death_without_progression_share * len(dead)))
        alive_pd = int((in_arm & pd_ & (os_event == 0)).sum())
        k_alive = tg.pfs_events[a] - tg.os_events[a] - alive_pd
        if not 0 <= k_alive <= len(alive):
            raise ValueError(f"arm {a}: cannot place {k_alive} progressions among {len(alive)} survivors")
        cand = np.concatenate([dead, alive]).astype(int)
        is_dead = np.arange(len(cand)) < len(dead)
        end = np.where(is_dead, os_months[cand], followup[cand])
        limit = end - assess[cand]
        f_limit = dist.cdf(limit)
        # expected landmark PFS of this cohort given its OS (the acceptance window's centre)
        fixed = in_arm & (ne | pd_)
        expected = []
        for t in times:
            s_fixed = float((pfs[fixed] > t).sum())
            cond = np.where(
                t <= assess[cand],
                1.0,
                np.where(t >= end, 0.0, 1.0 - dist.cdf(np.maximum(t - assess[cand], 0)) / f_limit),
            )
            p_prog = np.where(is_dead, 1.0 - n_np / max(len(dead), 1), k_alive / max(len(alive), 1))
            no_prog_surv = (end > t).astype(float)
            expected.append((s_fixed + np.sum(p_prog * cond + (1 - p_prog) * no_prog_surv)) / n_arm)
        blocks = _blocks(rng, limit, spec.survival_block_size)
        found = None
        tries = 0
        while found is None:
            if tries >= spec.max_survival_draws:
                raise SurvivalDrawError(
                    f"arm {a}: no PFS draw with landmarks within the window in {spec.max_survival_draws} tries"
                )
            k = min(spec.survival_batch, spec.max_survival_draws - tries)
            u = _block_uniforms(rng, blocks, len(cand), k)
            progressed = np.zeros((k, len(cand)), dtype=bool)
            if len(dead):
                order = np.argsort(rng.random((k, len(dead))), axis=1)
                progressed[:, : len(dead)] = np.argsort(order, axis=1) >= n_np  # n_np die unprogressed
            if len(alive):
                order = np.argsort(rng.random((k, len(alive))), axis=1)
                progressed[:, len(dead) :] = np.argsort(order, axis=1) < k_alive
            prog_time = assess[cand] + dist.ppf(u * f_limit)
            value = np.where(progressed, prog_time, end)
            ok = np.ones(k, dtype=bool)
            if window is not None:
                for t, ex in zip(times, expected):
                    s_fixed = float((pfs[fixed] > t).sum())
                    ok &= np.abs((s_fixed + (value > t).sum(axis=1)) / n_arm - ex) <= window
            hits = np.flatnonzero(ok)
            if len(hits):
                j = hits[0]
                found = (value[j], progressed[j])
                draws[a] = tries + int(j) + 1
            tries += k
        value, progressed = found
        pfs[cand] = value
        pfs_event[cand] = np.where(is_dead | progressed, 1, 0)
    return {"pfs_months": pfs, "pfs_event": pfs_event, "_pfs_draws": (draws[TREATED], draws[CONTROL])}


def _distribute(rng, must_cover, fill_pool, events, counts, seeded=None, eligible=None, fill_weight=None):
    """Spread events over patients so that each patient of `must_cover` has at least one of them.

    Every event ``e`` ends up on exactly ``counts[e]`` patients of `fill_pool` (``seeded[e]`` already
    have it). Patients of `must_cover` without an event are first given one event each, picked in
    proportion to the events' remaining room; then every event is filled to its count at random from
    `fill_pool` (``fill_weight(e, pool, sets)`` may weight the draw). Returns the sets and the
    patients that could not be covered (all room used up).
    """
    seeded = seeded or {}
    eligible = eligible or {}
    sets = {e: set(int(i) for i in seeded.get(e, ())) for e in events}
    covered = set().union(*sets.values()) if sets else set()
    leftover = []
    for i in rng.permutation(np.asarray(must_cover, dtype=int)):
        i = int(i)
        if i in covered:
            continue
        room = np.array(
            [counts[e] - len(sets[e]) if (e not in eligible or i in eligible[e]) else 0 for e in events],
            dtype=float,
        )
        if room.sum() <= 0:
            leftover.append(i)
            continue
        sets[events[rng.choice(len(events), p=room / room.sum())]].add(i)
        covered.add(i)
    for e in events:
        short = counts[e] - len(sets[e])
        if short < 0:
            raise ValueError(f"event {e}: more patients seeded than its published count")
        pool = np.array(
            [int(i) for i in fill_pool if int(i) not in sets[e] and (e not in eligible or int(i) in eligible[e])],
            dtype=int,
        )
        w = None if fill_weight is None else fill_weight(e, pool, sets)
        sets[e].update(int(i) for i in _choose(rng, pool, short, w, f"patients with {e}"))
    return sets, leftover


def _toxicity(rng, spec: GeneratorSpec, tg: Targets, base: dict, course: dict) -> dict:
    """Grade >= 3 events: exact per-arm counts and union; anlotinib events of any grade."""
    arm = base["arm"]
    n_total = len(arm)
    ne = course["not_evaluable"]
    fatal_fn = course["death_cause"] == "febrile_neutropenia"
    frail = (base["age_group"] == "ge65").astype(float) + (base["ecog"] == "1-2")
    g34 = {e: np.zeros(n_total, dtype=bool) for e in TOXICITIES + ANLOTINIB_G34}
    other = np.zeros(n_total, dtype=bool)
    for a in ARMS:
        idx = np.flatnonzero(arm == a)
        forced = idx[fatal_fn[idx]]  # fatal febrile neutropenia: neutropenia and leukopenia
        pool = idx[~ne[idx]]
        chosen = _choose(
            rng,
            pool,
            tg.g34_any[a] - len(forced),
            np.exp(spec.toxicity_frailty_log_weight * frail[pool]),
            "patients with a grade 3-4 event",
        )
        alive = np.sort(chosen)
        counts = {e: tg.toxicity[e][a] for e in TOXICITIES}
        leuk = np.concatenate(
            [forced, _choose(rng, alive, counts["leukopenia"] - len(forced), what="leukopenia")]
        ).astype(int)
        outside = np.setdiff1d(alive, leuk)
        n_in = int(round(spec.neutropenia_within_leukopenia * counts["neutropenia"]))
        n_in = max(min(n_in, len(leuk)), counts["neutropenia"] - len(outside), len(forced))
        inside = np.concatenate(
            [
                forced,
                _choose(rng, np.setdiff1d(leuk, forced), n_in - len(forced), what="neutropenia with leukopenia"),
            ]
        )
        neut = np.concatenate([inside, _choose(rng, outside, counts["neutropenia"] - n_in, what="neutropenia")]).astype(
            int
        )
        g34["leukopenia"][leuk] = True
        g34["neutropenia"][neut] = True
        events = [e for e in TOXICITIES if e not in ("leukopenia", "neutropenia")]
        room = {e: counts[e] for e in events}
        if a == TREATED:
            events += list(ANLOTINIB_G34)
            room.update(tg.anlotinib_g34)
        uncovered = np.setdiff1d(alive, np.union1d(leuk, neut))
        sets, leftover = _distribute(rng, uncovered, alive, events, room)
        for e in events:
            g34[e][sorted(sets[e])] = True
        other[leftover] = True  # only if Table 4 cannot cover everyone
    # anlotinib events of any grade; the CRT arm has none
    grades = {e: np.zeros(n_total, dtype=int) for e in ANLOTINIB_EVENTS}
    idx = np.flatnonzero(arm == TREATED)
    severe = idx[np.any([g34[e][idx] for e in ANLOTINIB_G34], axis=0)]
    with_event = np.concatenate(
        [
            severe,
            _choose(
                rng,
                np.setdiff1d(idx, severe),
                tg.anlotinib_any_event - len(severe),
                what="patients with an anlotinib event",
            ),
        ]
    ).astype(int)
    seeded = {e: np.flatnonzero(g34[e]) for e in ANLOTINIB_G34}
    eligible = {"hypothyroidism": set(int(i) for i in with_event if not ne[i])}

    def weight(e, pool, sets):
        if e != "proteinuria":
            return None
        return np.where(np.isin(pool, list(sets["hypertension"])), spec.proteinuria_hypertension_weight, 1.0)

    sets, leftover = _distribute(
        rng, with_event, with_event, list(ANLOTINIB_EVENTS), tg.anlotinib_any_grade, seeded, eligible, weight
    )
    if leftover:
        raise ValueError("the published anlotinib event counts cannot give every patient with an event one")
    for e in ANLOTINIB_EVENTS:
        members = np.array(sorted(sets[e]), dtype=int)
        severe_e = seeded.get(e, np.array([], dtype=int))
        mild = members[~np.isin(members, severe_e)]
        grades[e][mild] = np.where(rng.random(len(mild)) < spec.anlotinib_grade2_share, 2, 1)
        grades[e][severe_e] = np.where(rng.random(len(severe_e)) < spec.anlotinib_grade4_share, 4, 3)
    return {"g34": g34, "g34_other": other, "anl_grades": grades}


def _anlotinib(rng, spec: GeneratorSpec, tg: Targets, base: dict, course: dict, surv: dict, tox: dict) -> dict:
    """Start dose, weeks and cycles of anlotinib, dose reductions (CRT arm: missing / False)."""
    arm = base["arm"]
    n_total = len(arm)
    idx = np.flatnonzero(arm == TREATED)
    ne = course["not_evaluable"]
    low, mid, high = tg.start_doses_mg
    n_high = int(round(tg.high_start_share * len(idx)))
    n_mid = int(round(spec.anlotinib_mid_start_share * (len(idx) - n_high)))
    age = base["age_years"][idx].astype(float)
    lowered = _choose(
        rng,
        idx,
        len(idx) - n_high,
        np.exp(spec.anlotinib_low_start_age_log_weight * (age - age.mean())),
        "lower start doses",
    )
    start = np.full(n_total, np.nan)
    start[idx] = high
    lowered = rng.permutation(lowered)
    start[lowered[:n_mid]] = mid
    start[lowered[n_mid:]] = low

    on, off = tg.anlotinib_cycle_weeks
    cycle = on + off
    _, w_min, w_max = tg.anlotinib_exposure_weeks
    stop = spec.anlotinib_discontinuation_median_weeks * rng.exponential(1.0, len(idx)) / math.log(2)
    pfs_w = surv["pfs_months"][idx] * WEEKS_PER_MONTH
    os_w = surv["os_months"][idx] * WEEKS_PER_MONTH
    weeks = np.floor(np.minimum(np.minimum(pfs_w, w_max), stop))
    weeks = np.clip(weeks, w_min, w_max)
    died_in_crt = ne[idx]
    weeks[died_in_crt] = np.clip(np.floor(os_w[died_in_crt]), w_min, 2 * cycle - 1)
    anl_weeks = np.full(n_total, np.nan)
    anl_weeks[idx] = weeks

    reduced = np.zeros(n_total, dtype=bool)
    reason = np.full(n_total, None, dtype=object)
    grades = tox["anl_grades"]
    for r in DOSE_REDUCTION_REASONS:
        pool = np.flatnonzero((grades[r] > 0) & (start == high) & ~ne & ~reduced)
        chosen = _choose(
            rng, pool, tg.dose_reduction[r], grades[r][pool].astype(float) ** 2, f"dose reductions for {r}"
        )
        reduced[chosen] = True
        reason[chosen] = r
    return {
        "anlotinib_start_dose_mg": start,
        "anlotinib_weeks": anl_weeks,
        "anlotinib_cycles": np.round(anl_weeks / cycle, 2),
        "anlotinib_dose_reduced": reduced,
        "dose_reduction_reason": reason,
    }


# ====================================================================================================
# Public API


def _prepare(seed: int, spec: GeneratorSpec) -> dict:
    """Everything before the survival draw (also used by benchmarks/calibrate_generator.py)."""
    tg = load_targets()
    rng = np.random.default_rng(seed)
    r_base, r_dose, r_nodes, r_course, r_surv, r_tox, r_anl, r_rt, r_order = rng.spawn(9)
    base = _baseline(r_base, spec, tg)
    arm = base["arm"]
    n_total = len(arm)
    dose, fractions = _fractionation(r_dose, spec, tg, base["radiation_dose"])
    sites = _nodes_and_sites(r_nodes, spec, tg, base)
    course = _course_and_response(
        r_course, spec, tg, base, fractions, base["node_diameter_cm"], sites["n_recurrent_nodes"]
    )
    response = course["response"]
    response_group = np.where(response == "cr", "cr", np.where(response == "ne", None, "less_than_cr")).astype(object)
    hr = _hazard_ratios(spec, tg)
    design = {
        "arm.anlotinib": arm == TREATED,
        "nodes_group.multiple": sites["n_recurrent_nodes"] >= 2,
        "response_group.less_than_cr": response != "cr",
        "age_group.ge65": base["age_group"] == "ge65",
        "stage.iib_iii": base["stage"] == "iib_iii",
    }
    lp = sum(math.log(hr[f]) * design[f].astype(float) for f in design)
    cutoff = np.datetime64(tg.cutoff)
    followup = (cutoff - sites["crt_start_date"]).astype("timedelta64[D]").astype(float) / DAYS_PER_MONTH
    crt_end = course["crt_weeks"] / WEEKS_PER_MONTH
    assess = course["assessment_months"]
    return dict(
        tg=tg,
        streams=(r_surv, r_tox, r_anl, r_rt, r_order),
        base=base,
        dose=dose,
        fractions=fractions,
        sites=sites,
        course=course,
        response=response,
        response_group=response_group,
        lp=lp,
        followup=followup,
        crt_end=crt_end,
        assess=assess,
        cutoff=cutoff,
    )


def _generate(seed: int, spec: GeneratorSpec) -> tuple[pd.DataFrame, dict]:
    st = _prepare(seed, spec)
    tg, base, sites, course = st["tg"], st["base"], st["sites"], st["course"]
    r_surv, r_tox, r_anl, r_rt, r_order = st["streams"]
    dose, fractions, response, response_group = (
        st["dose"],
        st["fractions"],
        st["response"],
        st["response_group"],
    )
    lp, followup, crt_end, assess, cutoff = (
        st["lp"],
        st["followup"],
        st["crt_end"],
        st["assess"],
        st["cutoff"],
    )
    arm = base["arm"]
    n_total = len(arm)
    surv = _draw_os(r_surv, spec, tg, arm, lp, assess, crt_end, followup, course["not_evaluable"], response == "pd")
    surv.update(
        _draw_pfs(
            r_surv,
            spec,
            tg,
            arm,
            assess,
            followup,
            course["not_evaluable"],
            response == "pd",
            surv["os_months"],
            surv["os_event"],
        )
    )
    # round times to 0.01 month (monotone, so PFS <= OS and OS >= assessment survive the rounding)
    for key in ("os_months", "pfs_months"):
        surv[key] = np.round(surv[key], 2)
    assess_r = np.round(assess, 2)
    tox = _toxicity(r_tox, spec, tg, base, course)
    anl = _anlotinib(r_anl, spec, tg, base, course, surv, tox)

    # radiotherapy delivered >= threshold: everyone but the deaths during CRT and a few interruptions
    ne = course["not_evaluable"]
    delivered = ~ne
    g34_any = np.any([tox["g34"][e] for e in tox["g34"]], axis=0) | tox["g34_other"]
    for a in ARMS:
        extra = tg.n[a] - tg.delivered_ge_threshold[a] - int(ne[arm == a].sum())
        if extra < 0:
            raise ValueError(f"arm {a}: fewer patients below {tg.delivered_threshold_gy} Gy than deaths during CRT")
        pool = np.flatnonzero((arm == a) & ~ne)
        w = np.where(g34_any[pool], spec.incomplete_radiotherapy_toxicity_weight, 1.0)
        delivered[_choose(r_rt, pool, extra, w, "incomplete radiotherapy courses")] = False

    start_dates = sites["crt_start_date"]
    days = np.rint(surv["os_months"] * DAYS_PER_MONTH).astype("int64").astype("timedelta64[D]")
    last_contact = np.where(surv["os_event"] == 1, start_dates + days, cutoff)
    anl_any = np.any([anl_g > 0 for anl_g in tox["anl_grades"].values()], axis=0)
    frame = {
        "arm": arm,
        "age_years": base["age_years"],
        "age_group": base["age_group"],
        "sex": base["sex"],
        "ecog": base["ecog"],
        "location": base["location"],
        "differentiation": base["differentiation"],
        "stage": base["stage"],
        "previous_treatment": base["previous_treatment"],
        "recurrence_site": base["recurrence_site"],
        "node_diameter_cm": base["node_diameter_cm"],
        "node_diameter": base["node_diameter"],
        "n_recurrent_nodes": sites["n_recurrent_nodes"],
        "nodes_group": np.where(sites["n_recurrent_nodes"] >= 2, "multiple", "single").astype(object),
        "station_2r": sites["station_2r"],
        "station_7": sites["station_7"],
        "station_supraclavicular": sites["station_supraclavicular"],
        "recurrence_confirmed_by": sites["recurrence_confirmed_by"],
        "months_surgery_to_recurrence": sites["months_surgery_to_recurrence"],
        "crt_start_date": start_dates,
        "radiation_dose_gy": dose,
        "radiation_fractions": fractions,
        "radiation_dose": base["radiation_dose"],
        "delivered_dose_ge50": delivered,
        "concurrent_chemo": base["concurrent_chemo"],
        "dp_schedule": sites["dp_schedule"],
        "consolidation_chemo": base["consolidation_chemo"],
        "nutritional_support": base["nutritional_support"],
        "crt_weeks": np.round(course["crt_weeks"], 2),
        "response_assessment_months": assess_r,
        "response": response,
        "response_group": response_group,
        "death_during_crt": ne,
        "death_cause": course["death_cause"],
        "os_months": surv["os_months"],
        "os_event": surv["os_event"],
        "pfs_months": surv["pfs_months"],
        "pfs_event": surv["pfs_event"],
        "last_contact_date": last_contact,
        "anlotinib_start_dose_mg": anl["anlotinib_start_dose_mg"],
        "anlotinib_weeks": anl["anlotinib_weeks"],
        "anlotinib_cycles": anl["anlotinib_cycles"],
        "anlotinib_dose_reduced": anl["anlotinib_dose_reduced"],
        "dose_reduction_reason": anl["dose_reduction_reason"],
    }
    for e in TOXICITIES:
        frame[f"g34_{e}"] = tox["g34"][e]
    frame["g34_other"] = tox["g34_other"]
    frame["g34_any"] = g34_any
    for e in ANLOTINIB_EVENTS:
        frame[f"anl_{e}_grade"] = tox["anl_grades"][e]
    frame["anl_any_event"] = anl_any
    df = pd.DataFrame(frame)
    # grade >= 3 anlotinib events are part of g34_any (the paper's overall grade 3-4 rate)
    df["crt_start_date"] = pd.to_datetime(df["crt_start_date"]).astype("datetime64[ns]")
    df["last_contact_date"] = pd.to_datetime(df["last_contact_date"]).astype("datetime64[ns]")
    for col in ("anlotinib_start_dose_mg", "anlotinib_weeks"):
        df[col] = pd.array(np.where(np.isnan(df[col]), pd.NA, df[col]), dtype="Int64")
    df["anlotinib_cycles"] = df["anlotinib_cycles"].astype(float)
    for col in (
        "os_event",
        "pfs_event",
        "n_recurrent_nodes",
        "months_surgery_to_recurrence",
        "age_years",
        "radiation_fractions",
    ) + tuple(f"anl_{e}_grade" for e in ANLOTINIB_EVENTS):
        df[col] = df[col].astype("int64")
    # patient ids in order of CRT start (ties at random)
    order = np.lexsort((r_order.random(n_total), df["crt_start_date"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    df.insert(0, "patient_id", [f"SYN-{i:04d}" for i in range(1, n_total + 1)])
    info = {
        "survival_draws": surv["_draws"],
        "pfs_draws": surv["_pfs_draws"],
        "has_mediastinal": sites["_has_mediastinal"][order],
    }
    return df, info


def generate_cohort(seed: int = DEFAULT_SEED, spec: GeneratorSpec | None = None) -> pd.DataFrame:
    """The synthetic cohort of `seed`: one row per patient (291), columns of :func:`data_dictionary`.

    Deterministic: the same seed and spec give the same frame. Raises :class:`SurvivalDrawError` if
    the survival totals cannot be met within ``spec.max_survival_draws`` tries (a mis-calibrated spec).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    spec = spec or GeneratorSpec()
    if not isinstance(spec, GeneratorSpec):
        raise TypeError("spec must be a GeneratorSpec")
    return _generate(int(seed), spec)[0]


def _dictionary_rows(tg: Targets, spec: GeneratorSpec) -> list[tuple]:
    start, end = tg.period
    cycle_on, cycle_off = tg.anlotinib_cycle_weeks
    _, w_min, w_max = tg.anlotinib_exposure_weeks
    f_min, f_max = tg.fraction_dose_gy
    a_min, a_max = tg.assessment_weeks
    dp_total = sum(tg.table1["concurrent_chemo"]["docetaxel_cisplatin"].values())
    not_stated = dp_total - sum(tg.dp_schedule.values())
    causes = sorted({c for a in ARMS for c in tg.death_causes[a]})
    rows = [
        (
            "patient_id",
            "string",
            "SYN-0001 ...",
            "Synthetic patient identifier, numbered in order of CRT start.",
        ),
        ("arm", "category", ", ".join(ARMS), "Treatment received: CRT + anlotinib or CRT alone."),
        (
            "age_years",
            "integer",
            "years",
            "Age at CRT start; consistent with age_group, and S-1 if and only if "
            f"age >= {tg.s1_age_min} (the paper's S-1 rule).",
        ),
        ("age_group", "category", "lt65, ge65", "Age group (Table 1)."),
        ("sex", "category", "male, female", "Sex (Table 1 'Gender')."),
        ("ecog", "category", "0, 1-2", "ECOG performance status."),
        ("location", "category", "upper, middle, lower", "Location of the primary tumour."),
        ("differentiation", "category", "well, moderate, poor", "Differentiation of the primary tumour."),
        ("stage", "category", "ib_iia, iib_iii", "Stage of the primary tumour."),
        (
            "previous_treatment",
            "category",
            "none, radiotherapy, chemotherapy, chemoradiotherapy",
            "Adjuvant treatment after surgery ('none' = surgery only; no row in Table 1).",
        ),
        (
            "recurrence_site",
            "category",
            "supraclavicular, mediastinal, abdominal, multiple",
            "Region of the nodal recurrence ('multiple': two regions).",
        ),
        (
            "node_diameter_cm",
            "float",
            "cm",
            "Maximal short-axis diameter of the recurrent nodes; below "
            f"{spec.node_diameter_cut_cm:g} cm if and only if node_diameter = lt3.",
        ),
        ("node_diameter", "category", "lt3, ge3", "Maximal lymph-node diameter group (Table 1)."),
        ("n_recurrent_nodes", "integer", "1, 2, 3, 4 (4 = four or more)", "Number of recurrent nodes."),
        (
            "nodes_group",
            "category",
            "single, multiple",
            "Single (1) or multiple (2 or more) recurrent nodes (Table 3).",
        ),
        ("station_2r", "boolean", "", "Station 2R involved (mediastinal or multiple-site recurrences only)."),
        ("station_7", "boolean", "", "Station 7 involved (mediastinal or multiple-site recurrences only)."),
        (
            "station_supraclavicular",
            "boolean",
            "",
            "Supraclavicular region involved (every supraclavicular-site "
            "recurrence and some multiple-site ones). A single-node patient has at most one flagged station.",
        ),
        ("recurrence_confirmed_by", "category", ", ".join(CONFIRMATION), "How the recurrence was confirmed."),
        (
            "months_surgery_to_recurrence",
            "integer",
            "months",
            "Interval from surgery to the nodal recurrence.",
        ),
        (
            "crt_start_date",
            "date",
            f"{start.isoformat()} .. {end.isoformat()}",
            "Start of CRT (time zero of OS and PFS).",
        ),
        ("radiation_dose_gy", "float", "Gy", "Prescribed total dose (fraction size x number of fractions)."),
        (
            "radiation_fractions",
            "integer",
            "fractions",
            f"Prescribed number of fractions ({f_min:g} or {f_max:g} Gy each).",
        ),
        (
            "radiation_dose",
            "category",
            "standard, escalated",
            "Prescribed dose group (Table 1: 50-50.4 Gy or more).",
        ),
        (
            "delivered_dose_ge50",
            "boolean",
            "",
            f"At least {tg.delivered_threshold_gy:g} Gy actually delivered (False for "
            "the deaths during CRT and a few interrupted courses).",
        ),
        (
            "concurrent_chemo",
            "category",
            "docetaxel_cisplatin, s1",
            "Concurrent chemotherapy (S-1 for the oldest).",
        ),
        (
            "dp_schedule",
            "category",
            "weekly, three_weekly, not_stated; missing for S-1",
            f"Docetaxel + cisplatin schedule. The paper's weekly ({tg.dp_schedule['weekly']}) and three-weekly "
            f"({tg.dp_schedule['three_weekly']}) counts add up to {not_stated} fewer than its docetaxel + cisplatin "
            f"total ({dp_total}), so {not_stated} patients are 'not_stated'.",
        ),
        ("consolidation_chemo", "category", "yes, no", "Consolidation chemotherapy after CRT."),
        ("nutritional_support", "category", "yes, no", "Nutritional support."),
        (
            "crt_weeks",
            "float",
            "weeks",
            f"Duration of the CRT course (fractions / {spec.fractions_per_week} per week plus a few days).",
        ),
        (
            "response_assessment_months",
            "float",
            "months",
            f"Time of the response assessment from CRT start (end of CRT "
            f"+ {a_min:g}-{a_max:g} weeks); deaths during CRT happen before it.",
        ),
        (
            "response",
            "category",
            "cr, pr, sd, pd, ne",
            "Response after CRT (RECIST 1.1); ne = not evaluable (died during CRT).",
        ),
        ("response_group", "category", "cr, less_than_cr; missing for ne", "Response group of Table 3."),
        ("death_during_crt", "boolean", "", "Died during CRT (exactly the not-evaluable patients)."),
        (
            "death_cause",
            "category",
            ", ".join(causes) + "; missing otherwise",
            "Cause of a death during CRT.",
        ),
        ("os_months", "float", "months", "Overall survival: CRT start to death or to the censoring date."),
        ("os_event", "integer", "0, 1", "1 = died before the censoring date."),
        (
            "pfs_months",
            "float",
            "months",
            "Progression-free survival: CRT start to progression, death or censoring; never longer than os_months.",
        ),
        ("pfs_event", "integer", "0, 1", "1 = progressed or died."),
        ("last_contact_date", "date", "", f"Date of death, or the censoring date ({tg.cutoff.isoformat()})."),
        (
            "anlotinib_start_dose_mg",
            "integer (nullable)",
            "mg; missing for CRT alone",
            "Starting daily dose of anlotinib.",
        ),
        (
            "anlotinib_weeks",
            "integer (nullable)",
            "weeks; missing for CRT alone",
            f"Weeks on anlotinib: min(PFS, {w_max:g} weeks, discontinuation), at least {w_min:g}.",
        ),
        (
            "anlotinib_cycles",
            "float",
            "cycles; missing for CRT alone",
            f"anlotinib_weeks / {cycle_on + cycle_off:g} ({cycle_on:g} weeks on, {cycle_off:g} off).",
        ),
        (
            "anlotinib_dose_reduced",
            "boolean",
            "",
            f"Dose reduced (to {tg.reduced_dose_mg:g} mg) during anlotinib.",
        ),
        (
            "dose_reduction_reason",
            "category",
            ", ".join(DOSE_REDUCTION_REASONS) + "; missing otherwise",
            "Adverse event that led to the dose reduction.",
        ),
    ]
    for e in TOXICITIES:
        extra = " The fatal febrile neutropenias count here." if e in ("neutropenia", "leukopenia") else ""
        rows.append((f"g34_{e}", "boolean", "", f"Grade >= 3 {e.replace('_', '/')} (Table 4).{extra}"))
    rows += [
        (
            "g34_other",
            "boolean",
            "",
            "Grade 3-4 event not listed in Table 4 (used only if the listed events "
            "cannot cover every patient with a grade 3-4 event; normally all False).",
        ),
        (
            "g34_any",
            "boolean",
            "",
            "Any grade 3-4 event (Table 4 events, grade >= 3 anlotinib events, other): "
            "the paper's overall grade 3-4 rate.",
        ),
    ]
    rows += [
        (
            f"anl_{e}_grade",
            "integer",
            "0 (none), 1-4",
            f"Maximum grade of anlotinib-related {e.replace('_', '-')} (0 for CRT alone).",
        )
        for e in ANLOTINIB_EVENTS
    ]
    rows.append(("anl_any_event", "boolean", "", "Any anlotinib-related event (False for CRT alone)."))
    return rows


def data_dictionary() -> pd.DataFrame:
    """One row per column of :func:`generate_cohort`: column, type, unit/levels, description."""
    return pd.DataFrame(
        _dictionary_rows(load_targets(), GeneratorSpec()),
        columns=["column", "type", "unit_or_levels", "description"],
    )


# ====================================================================================================
# What the generator implies for P(arm | covariates)


def _level_probabilities(order, shares: dict, rho: float, z: np.ndarray) -> dict:
    """P(level | Z = z) under the ranking copula (large-n limit), for each level of one covariate.

    Levels in `order` take the top of the ranking score s = rho z + sqrt(1 - rho^2) eps ~ N(0, 1) in
    turn (shares = the arm's proportions); the remaining levels share the rest at random.
    """
    sigma = math.sqrt(1.0 - rho * rho)
    out = {}
    cum = 0.0
    prev = np.zeros_like(z)  # P(s > previous cut)
    for level in order:
        cum += shares[level]
        cut = stats.norm.ppf(1.0 - cum) if cum < 1 else -np.inf
        p_above = stats.norm.sf((cut - rho * z) / sigma) if np.isfinite(cut) else np.ones_like(z)
        out[level] = p_above - prev
        prev = p_above
    rest = [lv for lv in shares if lv not in order]
    rest_total = sum(shares[lv] for lv in rest)
    for level in rest:
        out[level] = (1.0 - prev) * (shares[level] / rest_total if rest_total > 0 else 0.0)
    return out


def implied_propensity(
    df: pd.DataFrame,
    spec: GeneratorSpec | None = None,
    covariates: list[str] | None = None,
    quadrature_nodes: int = 60,
) -> pd.Series:
    """P(arm = anlotinib | covariates) implied by the generator, for each row of `df`.

    The generator does not draw the arm from the covariates: it fixes the arm sizes (76 and 215) and
    draws the covariates *given* the arm, with the arm's exact Table 1 counts and a within-arm
    dependence through the latent indication score Z (a discrete Gaussian copula). By Bayes' rule
    the implied propensity score is

        P(anlotinib | x) = n_A f_A(x) / (n_A f_A(x) + n_C f_C(x)),

    where f_a(x) is the within-arm probability of the covariate pattern x. Given Z the linked
    covariates are independent (each is a threshold of its own ``rho_k Z + noise``), so
    ``f_a(x) = prod_unlinked p_a(x_j) * integral phi(z) prod_linked P_a(x_k | z) dz``, computed here by
    Gauss-Hermite quadrature in the large-sample limit of the ranking (thresholds at the normal
    quantiles of the arm's cumulative proportions). With ``indication_strength = 0`` the covariates
    are independent within arm and the true model is exactly a main-effects logistic regression with
    coefficients log(p_A(level) / p_C(level)); with ``indication_strength > 0`` the log-odds contain
    interactions, so a main-effects propensity model is (mildly) misspecified.

    `covariates` defaults to the propensity-score covariates of the study description. Categorical
    Table 1 columns only; age_group and concurrent_chemo are handled jointly (the S-1 age rule), and
    a pattern the generator cannot produce (S-1 under 65) gets NaN. The node count is not a Table 1
    covariate and is not supported (its distribution also depends on the arm directly).
    """
    from psmbook.study.description import load_study

    spec = spec or GeneratorSpec()
    tg = load_targets()
    study = load_study()
    covariates = list(covariates) if covariates is not None else [v.column for v in study.psm_covariates]
    unknown = [c for c in covariates if c not in tg.table1]
    if unknown:
        raise ValueError(f"implied_propensity supports the Table 1 columns only, not {unknown}")
    missing = [c for c in covariates if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are missing from the data")
    z, w = np.polynomial.hermite_e.hermegauss(quadrature_nodes)
    w = w / math.sqrt(2 * math.pi)
    linked = {c: (tuple(o), l) for c, o, l in spec.indication_loadings}
    rows = len(df)
    log_f = {}
    for a in ARMS:
        n_a = tg.n[a]
        integrand = np.ones((rows, len(z)))  # product of linked P(x_k | z)
        log_unlinked = np.zeros(rows)
        handled = set()
        if "age_group" in covariates or "concurrent_chemo" in covariates:
            t1 = tg.table1
            s1 = t1["concurrent_chemo"]["s1"][a]
            shares = {
                "lt65": t1["age_group"]["lt65"][a] / n_a,
                "ge65_lt_s1": (t1["age_group"]["ge65"][a] - s1) / n_a,
                "s1_age": s1 / n_a,
            }
            order, loading = linked.get("age", (("lt65", "ge65_lt_s1", "s1_age"), 0.0))
            probs = _level_probabilities(order, shares, _arm_strength(spec, a) * loading, z)
            ag = df["age_group"].astype(str).to_numpy() if "age_group" in covariates else None
            cc = df["concurrent_chemo"].astype(str).to_numpy() if "concurrent_chemo" in covariates else None
            p = np.zeros((rows, len(z)))
            for band, pb in probs.items():
                group = "lt65" if band == "lt65" else "ge65"
                chemo = "s1" if band == "s1_age" else "docetaxel_cisplatin"
                match = np.ones(rows, dtype=bool)
                if ag is not None:
                    match &= ag == group
                if cc is not None:
                    match &= cc == chemo
                p[match] += pb
            integrand *= p
            handled |= {"age_group", "concurrent_chemo"}
        for column in covariates:
            if column in handled:
                continue
            shares = {lv: tg.table1[column][lv][a] / n_a for lv in tg.table1[column]}
            values = df[column].astype(str).to_numpy()
            bad = sorted(set(values) - set(shares))
            if bad:
                raise ValueError(f"column {column}: unknown levels {bad}")
            if column in linked:
                order, loading = linked[column]
                probs = _level_probabilities(order, shares, _arm_strength(spec, a) * loading, z)
                p = np.zeros((rows, len(z)))
                for lv, pl in probs.items():
                    p[values == lv] = pl
                integrand *= p
            else:
                with np.errstate(divide="ignore"):
                    log_unlinked += np.log(np.array([shares[v] for v in values]))
        with np.errstate(divide="ignore"):
            log_f[a] = math.log(n_a) + log_unlinked + np.log(integrand @ w)
    num, den = log_f[TREATED], np.logaddexp(log_f[TREATED], log_f[CONTROL])
    with np.errstate(invalid="ignore"):
        ps = np.exp(num - den)
    ps[~np.isfinite(den)] = np.nan
    return pd.Series(ps, index=df.index, name="implied_propensity")


# ====================================================================================================
# The model in words and formulas


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}"


def generating_model_markdown(spec: GeneratorSpec | None = None) -> str:
    """The generating model written down for the book (MyST Markdown with LaTeX formulas)."""
    spec = spec or GeneratorSpec()
    tg = load_targets()
    hr = _hazard_ratios(spec, tg)
    labels = {
        "arm.anlotinib": "CRT + anlotinib (vs CRT alone)",
        "nodes_group.multiple": "multiple recurrent nodes (vs single)",
        "response_group.less_than_cr": "response less than CR (vs CR; not evaluable counted here)",
        "age_group.ge65": f"age >= {spec.age_group_cut} years",
        "stage.iib_iii": "stage IIB-III (vs IB-IIA)",
    }
    breaks = list(spec.os_breaks_months)
    pieces = [f"{_fmt(b)}-{_fmt(e)}" for b, e in zip(breaks, breaks[1:])] + [f"{_fmt(breaks[-1])}+"]
    hazard_rows = "\n".join(f"| {p} | {h:.5f} |" for p, h in zip(pieces, spec.os_baseline_hazard))
    hr_rows = "\n".join(f"| {labels[f]} | {hr[f]:.3f} | {math.log(hr[f]):+.4f} |" for f, _, _ in OS_FACTORS)
    lam = spec.indication_strength
    lam_c = lam * spec.control_indication_ratio
    loadings = "\n".join(
        f"| {'age band' if c == 'age' else c} | {' > '.join(o)}{' > others at random' if c == 'recurrence_site' else ''}"
        f" | {l:g} | {lam * l:.2f} | {lam_c * l:.2f} |"
        for c, o, l in spec.indication_loadings
    )
    eff = dict(spec.response_effects)
    m_a, s_a = spec.progression_anlotinib
    m_c, s_c = spec.progression_crt
    start, end = tg.period
    nA, nC = tg.n[TREATED], tg.n[CONTROL]
    true_hr = hr["arm.anlotinib"]
    window = (
        "no window"
        if spec.landmark_window_pp is None
        else f"within **{spec.landmark_window_pp:g} percentage points** of the model's own expected landmark "
        "for that cohort"
    )
    s1 = tg.s1_age_min
    cycle = sum(tg.anlotinib_cycle_weeks)
    _, w_min, w_max = tg.anlotinib_exposure_weeks
    min_followup = (tg.cutoff - tg.period[1]).days / DAYS_PER_MONTH
    max_landmark = max(t for t, _ in tg.landmarks.values())
    return f"""\
## How the synthetic cohort is generated

The cohort has {nA + nC} patients: {nA} treated with CRT + anlotinib and {nC} with CRT alone. **The arm
sizes are fixed and the covariates are drawn given the arm**, so every count the paper publishes per
arm is reproduced exactly. The cohort is a *calibrated model*, not the study's data: everything
below is a modelling choice except the published numbers it is calibrated to (read from
`published.yaml`).

### 1. Baseline covariates (Table 1): exact counts, latent dependence

Each patient has a latent *clinical-indication* score $Z_i \\sim N(0, 1)$ - the reasons for which a
clinician recommended anlotinib: bulky nodes, poor differentiation, several sites, many nodes, youth.
For a linked covariate $k$ the ranking score is

$$ s_{{ik}} = \\rho_{{k,a}} Z_i + \\sqrt{{1 - \\rho_{{k,a}}^2}}\\,\\varepsilon_{{ik}}, \\qquad \\varepsilon_{{ik}} \\sim N(0, 1),
\\qquad \\rho_{{k,a}} = \\lambda_a\\, \\ell_k , $$

and within each arm the patients with the highest scores receive the most indicated level, in the
numbers of the paper's Table 1, then the next level, and so on: a discrete Gaussian copula whose
margins are the published counts. The indication shaped who received anlotinib, so it structures the
treated arm: $\\lambda_A$ = `indication_strength` = **{lam:g}**; in the CRT-alone arm
$\\lambda_C = \\lambda_A \\times$ `control_indication_ratio` = **{lam_c:g}**.

| covariate | levels, most indicated first | loading $\\ell_k$ | $\\rho$ (CRT + anlotinib) | $\\rho$ (CRT alone) |
|---|---|---|---|---|
{loadings}

Sex, ECOG, location, stage, previous treatment and nutritional support are independent of everything
within arm (random assignment to the exact counts). The age band (< {spec.age_group_cut}, {spec.age_group_cut} to {s1 - 1},
≥ {s1}) has as many patients aged ≥ {s1} as the arm has S-1 patients, because the paper gives S-1 to patients
aged {s1} or more; within a band the most indicated patients are the youngest. Node diameters in cm,
prescriptions (fraction size x number of fractions) and ages in years are drawn within their Table 1
level, so continuous values always agree with the categories.

The number of recurrent nodes is published for the whole cohort only. It is assigned by ranking
$\\lambda_a {spec.nodes_loading:g}\\, Z + \\text{{noise}} + {spec.nodes_arm_shift:g}\\,[\\text{{anlotinib}}] +
{spec.nodes_multiple_site_shift:g}\\,[\\text{{multiple sites}}]$ over all patients (multiple sites need at least two
nodes), to the published totals. Stations, confirmation method, interval from surgery (exact median and
range; at least {int(tg.prior_radiotherapy_interval_months + spec.prior_radiotherapy_buffer_months)} months after previous radiotherapy), docetaxel + cisplatin schedule
(the paper's weekly and three-weekly counts leave {sum(tg.table1["concurrent_chemo"]["docetaxel_cisplatin"].values()) - sum(tg.dp_schedule.values())} patients "not stated") and CRT start
dates (uniform over {start:%B %Y} - {end:%B %Y}) follow with the published totals.

**What this implies for the propensity score.** The arm is not drawn from the covariates, but the
joint distribution defines

$$ P(\\text{{anlotinib}} \\mid x) = \\frac{{n_A f_A(x)}}{{n_A f_A(x) + n_C f_C(x)}} $$

(`implied_propensity`). With $\\lambda_A = \\lambda_C = 0$ it is exactly a main-effects logistic model
with coefficients $\\log(p_A(\\text{{level}}) / p_C(\\text{{level}}))$. With $\\lambda_A > 0$ the treated
patients concentrate the indicated levels in the same people while the controls do not, so the
implied log-odds contain interactions and the overlap between arms thins: the larger $\\lambda_A$,
the fewer treated patients a caliper match keeps.

### 2. Course and response

The deaths during CRT are drawn within arm (weights $e^{{{spec.not_evaluable_frailty_log_weight:g}\\,([\\text{{age}} \\ge {spec.age_group_cut}] + [\\text{{ECOG 1-2}}])}}$)
with the published causes; they are the patients not evaluable for response. CRT lasts (fractions / 5)
weeks plus up to {spec.crt_interruption_days_max:g} days, and the response is assessed {tg.assessment_weeks[0]:g}-{tg.assessment_weeks[1]:g} weeks later, at
time $a_i$. Among the evaluable patients of each arm the latent score

$$ R_i = {eff["node_diameter_cm"]:g}\\,(\\text{{diameter}}_i - \\bar d) + {eff["n_recurrent_nodes"]:g}\\,(\\text{{nodes}}_i - \\bar n)
 + {eff["poor"]:g}\\,[\\text{{poor}}] {eff["well"]:+g}\\,[\\text{{well}}] + \\text{{Logistic}}(0, 1) $$

is ranked: the lowest scores get CR, then PR, SD and PD, in the exact Table 2 counts.

### 3. Overall survival: a proportional-hazards model

$$ h_i(t) = h_0(t) \\exp(\\beta' x_i) $$

with the **true conditional log-hazard ratios** set to the paper's multivariable Table 3:

| factor | HR $= e^\\beta$ | $\\beta$ |
|---|---|---|
{hr_rows}

**The true treatment effect is a conditional hazard ratio of {true_hr:.3f} (CRT + anlotinib vs CRT
alone, given nodes, response, age and stage).** Response is itself affected by treatment (Table 2),
but the CR rates of the two arms are almost equal, so the effect through response is small. The
baseline hazard (per month; reference patient: CRT alone, single node, CR, < 65 years, stage IB-IIA)
is piecewise constant, calibrated once so that the cohort's Kaplan-Meier landmarks and death totals
match the paper:

| months | $h_0$ per month |
|---|---|
{hazard_rows}

Evaluable patients survive to their assessment: $T_i$ is drawn from the model truncated to
$[a_i, \\infty)$ by inverse CDF, $H_0(T_i) = H_0(a_i) - \\log(1 - u_i)\\, e^{{-\\beta' x_i}}$. Patients who die
during CRT are drawn from the model truncated to [{spec.not_evaluable_min_death_weeks:g} weeks, end of CRT) (and before two
anlotinib cycles). Follow-up ends on the censoring date, {tg.cutoff:%d %B %Y}, with no loss to follow-up, so
every patient is followed for at least {min_followup:.0f} months and the landmarks (at most
{max_landmark:g} months) are never censored.

*Sampling design.* The uniforms are **stratified**, $u_i = (\\pi_i + v_i)/m$ with $\\pi$ a random
permutation and $v_i \\sim U(0, 1)$, within blocks of about {spec.survival_block_size} patients of one arm sorted by
risk. Every $u_i$ is still uniform, so each patient's survival follows the model exactly; the blocks
only make the cohort's Kaplan-Meier curves scatter less around the model. A draw is accepted if it
has the published death totals ({tg.os_events[TREATED]} and {tg.os_events[CONTROL]}), no more progressive-disease
patients alive at the cutoff than the paper has progressions among survivors, and 1- and 3-year
survival {window} (rejection, at most {spec.max_survival_draws} tries per arm, deterministic given the seed).

### 4. Progression-free survival

PFS ends at progression or death and never exceeds OS. PD patients progress at their assessment
($\\text{{PFS}} = a_i$); patients who die during CRT have $\\text{{PFS}} = \\text{{OS}}$. Of the other patients who
die, {spec.death_without_progression_share:.0%} (a fixed number) die without progression ($\\text{{PFS}} = \\text{{OS}}$); the rest
progress at $a_i + Q_i$, where the time from assessment to progression $Q_i$ is log-normal with
median {m_a:g} months and log-SD {s_a:g} (CRT + anlotinib) or median {m_c:g} months and log-SD {s_c:g} (CRT alone),
truncated to end before death. Among the patients alive at the cutoff exactly (PFS events - deaths)
progressed (same law, truncated to the censoring date), so the published PFS totals ({tg.pfs_events[TREATED]} and
{tg.pfs_events[CONTROL]}) hold by construction. The uniforms are stratified in blocks sorted by the time left before
death, and the 6- and 12-month PFS are accepted in the same window around the model's expectation.

### 5. Anlotinib exposure and toxicity

Start dose: the highest dose in the share published for the matched cohort, the lower doses going
preferentially to older patients. Weeks on anlotinib = $\\min(\\text{{PFS}}, {w_max:g}\\text{{ weeks}}, D_i)$,
at least {w_min:g}, with $D_i$ exponential with median {spec.anlotinib_discontinuation_median_weeks:g} weeks (discontinuation for toxicity or choice;
calibrated to the published median exposure); cycles = weeks / {cycle:g}; patients who die during CRT receive
fewer than two cycles. Grade 3-4 toxicity: the set of patients with any grade 3-4 event is drawn first
(exact per-arm size, weighted towards age >= 65 and ECOG 1-2; the fatal febrile neutropenias are in it
and count as grade >= 3 neutropenia and leukopenia), then each Table 4 event is spread over the set
so that every member has at least one event ({spec.neutropenia_within_leukopenia:.0%} of neutropenia falls on patients with
leukopenia). Anlotinib events of any grade are spread the same way over the patients with at least
one (grade 3-4 events inside their any-grade counts), and the published dose reductions are drawn
from patients with the event that caused them.
"""
