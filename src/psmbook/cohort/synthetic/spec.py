"""The synthetic cohort's design: its constants and the generator's settings (GeneratorSpec)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

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


@dataclass(frozen=True)
class GeneratorSpec:
    """Every constant of the generating model that is not a published number.

    Published numbers (counts, landmarks, hazard ratios, dates, protocol doses) are read from
    ``published.yaml`` by :func:`load_targets`; the fields here are the modelling choices around them.
    The survival constants (``os_baseline_hazard``, ``nodes_arm_shift``, ``progression_*``,
    ``anlotinib_discontinuation_median_weeks``) were calibrated by ``benchmarks/calibrate_generator.py``;
    re-run it after changing any other field that touches survival.
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
    the latent draw of the default seed, as the paper's matching did (the matched design then makes them the
    paper's 68); over seeds 0-29 the same setting keeps 69.1 on
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

    # --- the matched design (matchdesign.py) ---------------------------------------------------------
    match_design: bool = True
    """Rearrange the covariates (every published count kept) until the book's default matching selects
    the paper's matched Table 1 and 2 (68 pairs). False: the latent model's covariates as drawn."""
    design_motif_pairs: int = 8
    """Matched pairs that are not twins (they carry the paper's after-matching differences between the
    arms): their patterns are placed just above the unmatched treated."""
    design_margin: float = 0.3
    """Clearance of the arrangement around the caliper, as a fraction of the caliper."""
    design_steer_difference: float = 0.5
    """Target of (fitted level effects) @ (matched treated minus matched control counts): the summed
    score difference the non-twin pairs must carry within the caliper."""
    design_steer_separation: float = 0.5
    """Target distance, in SD of the score, of the unmatched treated's mean score above the 80th
    percentile of the other patients' scores."""
    design_steer_steps: int = 20000
    """Moves of the steering search (each refits the score model)."""
    design_calibration_steps: int = 20000
    """Moves of the calibration search (score model fixed)."""
    design_repair_steps: int = 5000
    """Moves of the repair search (each refits the score model)."""
    design_extend_below: float = 0.05
    """A repair that ends with a penalty below this is continued (twice as long) before a new round."""
    design_max_rounds: int = 40
    """Search rounds before :class:`MatchDesignError`."""
    design_workers: int = 2
    """Processes running search rounds side by side (1: in this process). The cohort does not depend on
    it: the first successful round in round order wins."""
    design_nodes_arm_shift: float = 0.0
    """``nodes_arm_shift`` with the matched design. The landmarks are then conditioned on directly, so the
    shift that calibrates them without the design is not needed; 0 keeps the node counts of the matched
    arms alike, as the paper's Table 3 suggests (its arm hazard ratio barely moves when nodes enter)."""
    design_delta: float = 1e-5
    """Every decision of the matching (nearest control, caliper) must be this clear of a tie on the
    logit scale, so floating-point differences between implementations cannot change the match."""

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
    landmark_tolerance_pp: float = 1.0
    """With the matched design, the survival draw is conditioned on the paper's Kaplan-Meier landmarks of
    the whole and of the matched cohort, as counts: the count nearest each printed percentage (an error if
    none lies within this many percentage points)."""
    outcome_draws: int = 4
    """With the matched design, survival is drawn this many times (each with the paper's landmarks) and the
    draw whose log-rank p-values (OS and PFS, whole and matched cohort) lie nearest the paper's printed ones
    (sum of absolute log ratios) is kept. 1: the first draw."""
    outcome_search_steps: int = 20000
    """With the matched design, after the landmark draw: at most this many proposals in each annealing stage of
    the search for the printed log-rank p-values and the treatment's univariate Cox row, every count kept
    (:mod:`psmbook.cohort.synthetic.outcomefit`). 0: no search."""
    outcome_search_hops: int = 300
    """At most this many jumps (each followed by 400 local moves) in the search's first stage, the matched
    cohort's OS; it stops as soon as its targets print as printed."""
    table3_search_batches: int = 1500
    """With the matched design and the outcome search, then: at most this many batches of proposed exchanges between
    matched patients of one arm (of whole outcomes within a response class; of responses among patients without
    progressive disease), aimed at Table 3's other univariate rows and its multivariable rows, every landmark,
    log-rank statistic, matched Table 2 count and the treatment's univariate row kept
    (:mod:`psmbook.cohort.synthetic.table3rows`). 0: none."""
    table3_rematch_steps: int = 30000
    """After that search, Table 3's rows outside the multivariable model are searched one at a time by relabelling
    their characteristic among matched twin pairs (:mod:`psmbook.cohort.synthetic.table3labels`); the unmatched
    patients are then rearranged, at most this many steps (and not past 800 steps without coming nearer), until
    the default matching selects the designed patients again. 0: no relabelling."""
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

    @property
    def searches_table3(self) -> bool:
        """Whether the generator searches for Table 3's other rows: with the matched design, after the
        outcome search, with batches to run."""
        return self.match_design and self.outcome_search_steps > 0 and self.table3_search_batches > 0

    def with_(self, **changes) -> "GeneratorSpec":
        """A copy with some fields changed (``spec.with_(indication_strength=0.8)``)."""
        return replace(self, **changes)
