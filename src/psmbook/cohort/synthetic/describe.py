"""The synthetic cohort described: its data dictionary and the generating model in words and formulas."""

from __future__ import annotations

import math

import pandas as pd

from psmbook.cohort.synthetic.model import hazard_ratios
from psmbook.cohort.synthetic.spec import (
    ANLOTINIB_EVENTS,
    ARMS,
    CONFIRMATION,
    CONTROL,
    DAYS_PER_MONTH,
    DOSE_REDUCTION_REASONS,
    OS_FACTORS,
    TOXICITIES,
    TREATED,
    GeneratorSpec,
)
from psmbook.cohort.synthetic.targets import Targets, load_targets


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


def _fmt(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}g}"


def _matched_design_markdown(spec: GeneratorSpec, tg: Targets) -> str:
    """Section 1b of the generating model: the matched design (empty when it is switched off)."""
    if not spec.match_design:
        return ""
    nA, nC = tg.n[TREATED], tg.n[CONTROL]
    mA, mC = tg.n_after[TREATED], tg.n_after[CONTROL]
    ev = {a: sum(tg.response_after[a].values()) for a in ARMS}
    return f"""\
### 1b. The matched design: the paper's matching, reproduced

The paper prints Table 1 and Table 2 a second time, for the {mA} + {mC} patients its propensity-score
matching kept. The latent model alone does not make the book's default matching keep the same patients,
so the covariates drawn above are then **rearranged, without changing any published count**:

1. *Design groups.* Which patients are to be matched is decided first: {mA} of the {nA} treated and {mC}
   of the {nC} controls, each group with the paper's after-matching Table 1 counts (so the unmatched
   patients have the before-minus-after differences). The starting point is the default matching of the
   latent draw, resized; values are swapped between matched and unmatched patients of an arm until every
   group count is exact.
2. *Search.* Every later move swaps one covariate between two patients **of the same group**, so no count
   of Table 1, before or after matching, ever changes. The moves are chosen so that the propensity-score
   model the book fits to the data (main effects, unpenalised), and the greedy 1:1 caliper matching on its
   logit (largest score first, caliper 0.2 SD), select exactly the designed patients: most matched pairs are
   *twins* (the same covariate pattern, hence the same score); the unmatched treated lie at the top of the
   score range with no control within the caliper; the {spec.design_motif_pairs} pairs that are not twins
   (they carry the differences between the matched arms that the paper prints) lie just above them; no
   unmatched control shares a pattern with a matched patient. The search refits the model after its moves
   and stops when every decision of the matching agrees with the design at least
   {spec.design_delta:g} clear of a tie on the logit scale, so that the book's own model and matcher, fitted
   independently, find the same {mA} pairs. Rounds of the search that fail are replaced by new ones (at most
   {spec.design_max_rounds}); all randomness comes from the seed.
3. *After the search.* Consolidation chemotherapy and nutritional support, which are not in the score
   model, get their after-matching counts by swaps between matched and unmatched patients of an arm. The
   deaths during CRT and the interrupted radiotherapy courses are drawn among the **unmatched** patients and
   the responses within matched and unmatched patients separately, so that the matched arms are {ev[TREATED]}
   and {ev[CONTROL]} evaluable patients with the paper's matched Table 2.

This is an existence proof, not a model of how clinicians chose treatment: it shows that one cohort with
every published count before and after matching exists for the analysis the paper describes. The
within-arm dependence of section 1 is the starting point and is largely rewritten by the search; the
propensity score the book fits describes the rearranged cohort (`implied_propensity` describes the latent
model before it).

"""


def generating_model_markdown(spec: GeneratorSpec | None = None) -> str:
    """The generating model written down for the book (MyST Markdown with LaTeX formulas)."""
    spec = spec or GeneratorSpec()
    tg = load_targets()
    hr = hazard_ratios(spec, tg)
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
        f"| {'age band' if c == 'age' else c} | {' > '.join(o)}"
        f"{' > others at random' if c == 'recurrence_site' else ''}"
        f" | {weight:g} | {lam * weight:.2f} | {lam_c * weight:.2f} |"
        for c, o, weight in spec.indication_loadings
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
    table3 = (
        ""
        if not spec.searches_table3
        else f"""

**Table 3.** Last, at most {spec.table3_search_batches} batches of proposed exchanges between two matched
patients of one arm aim at the rest of Table 3: its other univariate rows (age, sex, ECOG, location,
differentiation, stage, nodes, node diameter, dose, concurrent and consolidation chemotherapy, response) and its
multivariable rows (age, stage, nodes, response and treatment in one model), with the paper's five factors kept
below its entry rule (univariate p < 0.05). Two things are exchanged. Whole outcomes, between patients of one
response class: each death and progression stays in its arm and matched part, a censored outcome moves only
between censoring dates with no event between them, so the landmarks, the log-rank p-values and the treatment's
univariate row stay as they are. And responses (CR, PR, SD) between patients without progressive disease: the
matched Table 2 stays, no outcome moves, but which patients had a complete response changes, and with it how
response goes with nodes, age and stage. That is what the multivariable rows need: in the paper adjustment raises
the hazard ratios of nodes and of response, which the latent response score alone (more nodes, worse response)
cannot give. For the matched patients, therefore, the response no longer follows that score. The search first
aims at the rows' standard errors, then at each printed number, and penalises a log hazard ratio that strays more
than 0.03 from the paper's, so that a row it cannot print stays near the printed one. Exchanges of whole outcomes
leave most rows unprinted at three decimals: an exchange moves every row in which the two patients differ, the
finest already about as far as the rounding allows, so a row prints only where a few of the finest exchanges
happen to combine; more batches buy little (measured in `benchmarks/TABLE3.md`).

The rows outside the multivariable model (dose, sex, ECOG, location, differentiation, node diameter, concurrent
and consolidation chemotherapy) are therefore then searched one at a time, by moving only their own characteristic
among the matched patients: consolidation chemotherapy between two patients of one arm; the characteristics of the
score model between two matched *twin pairs* (a treated patient and its designed control of the same pattern),
both members at once, so that the pairs stay twins and each arm's counts stay (S-1 only between the two older age
bands). Such a move changes its own row and no other printed number, and a pair of them lands the row's printed
numbers where an exchange of outcomes cannot. The score model then shifts a little, so the unmatched patients'
covariates are rearranged (exchanges among unmatched controls, and among unmatched treated) until the default
matching again selects exactly the designed patients; a row whose matching cannot be restored keeps its labels.
What a characteristic carries moves with it (age in years and the docetaxel schedule with the age band, the
diameter in cm, the recurrent nodes and stations with the recurrence site, the dose in Gy and the fractions with
the dose level; the course then lasts as its fractions take, and a dose changes hands only where every course
still ends 4-5 weeks before its response assessment, which the outcomes depend on). Table 3's hazard ratios are
searched for, not produced by the model."""
    )
    conditioning = (
        ""
        if not spec.match_design
        else f"""

**With the matched design** the draw is conditioned on the paper's landmarks instead of that window: the
Kaplan-Meier landmarks of the whole cohort *and of the matched cohort* (OS at 1 and 3 years, PFS at 6 and
12 months, per arm; nobody is censored before them, so each is a count: the count nearest the printed
percentage, at most {spec.landmark_tolerance_pp:g} percentage point away). Each arm is split into its matched
and unmatched patients. In each part, the patients who die before 1 year, between 1 and 3 years, or later are
chosen with the model's own probabilities in the paper's numbers (the unmatched part: whole minus matched;
sampling in proportion to the odds), then among the patients alive at 3 years those who die before the
censoring date, in the number that gives the arm's death total; each time is drawn from the model truncated to
its interval. PFS is drawn the same way given OS, with the intervals at 6 and 12 months; among survivors
exactly the number needed for the published PFS events progress. The whole draw is made
{spec.outcome_draws} times and the one kept is the draw whose four log-rank p-values (PFS and OS, before and
after matching) lie nearest the paper's printed ones (least summed |log ratio|). Then a local search (at most
{spec.outcome_search_hops} jumps for the matched cohort's OS, {spec.outcome_search_steps} proposals for each later
stage) moves deaths and progressions within their landmark intervals
and exchanges the outcomes of patients of one arm in the same intervals, every count kept, until the four
log-rank p-values and the unadjusted hazard ratio of the treatment in the matched cohort (HR, 95% CI, p) print
as the paper prints them: those numbers are searched for, not produced by the model. This selects among the
model's own outcomes: the hazard ratios below stay the true ones, but the cohort's curves are pinned at the
paper's landmarks, so its estimates vary less than a new study would. The matched arm's weeks of anlotinib
are then moved, as little as the counts need and never past a patient's progression, to the paper's median,
range and number of patients with more than {tg.anlotinib_more_cycles[0]:g} cycles.{table3}"""
    )
    s1 = tg.s1_age_min
    nodes_shift = spec.design_nodes_arm_shift if spec.match_design else spec.nodes_arm_shift
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

$$ s_{{ik}} = \\rho_{{k,a}} Z_i + \\sqrt{{1 - \\rho_{{k,a}}^2}}\\,\\varepsilon_{{ik}}, \\qquad \\varepsilon_{{ik}}
\\sim N(0, 1),
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
within arm (random assignment to the exact counts). The age band (< {spec.age_group_cut}, {spec.age_group_cut} to
{s1 - 1},
≥ {s1}) has as many patients aged ≥ {s1} as the arm has S-1 patients, because the paper gives S-1 to patients
aged {s1} or more; within a band the most indicated patients are the youngest. Node diameters in cm,
prescriptions (fraction size x number of fractions) and ages in years are drawn within their Table 1
level, so continuous values always agree with the categories.

The number of recurrent nodes is published for the whole cohort only. It is assigned by ranking
$\\lambda_a {spec.nodes_loading:g}\\, Z + \\text{{noise}} + {nodes_shift:g}\\,[\\text{{anlotinib}}] +
{spec.nodes_multiple_site_shift:g}\\,[\\text{{multiple sites}}]$ over all patients (multiple sites need at least two
nodes), to the published totals. Stations, confirmation method, interval from surgery (exact median and
range; at least {int(tg.prior_radiotherapy_interval_months + spec.prior_radiotherapy_buffer_months)} months after
previous radiotherapy), docetaxel + cisplatin schedule
(the paper's weekly and three-weekly counts leave
{sum(tg.table1["concurrent_chemo"]["docetaxel_cisplatin"].values()) - sum(tg.dp_schedule.values())} patients "not
stated") and CRT start
dates (uniform over {start:%B %Y} - {end:%B %Y}) follow with the published totals.

**What this implies for the propensity score.** The arm is not drawn from the covariates, but the
joint distribution defines

$$ P(\\text{{anlotinib}} \\mid x) = \\frac{{n_A f_A(x)}}{{n_A f_A(x) + n_C f_C(x)}} $$

(`implied_propensity`). With $\\lambda_A = \\lambda_C = 0$ it is exactly a main-effects logistic model
with coefficients $\\log(p_A(\\text{{level}}) / p_C(\\text{{level}}))$. With $\\lambda_A > 0$ the treated
patients concentrate the indicated levels in the same people while the controls do not, so the
implied log-odds contain interactions and the overlap between arms thins: the larger $\\lambda_A$,
the fewer treated patients a caliper match keeps.

{_matched_design_markdown(spec, tg)}
### 2. Course and response

The deaths during CRT are drawn within arm (weights
$e^{{{spec.not_evaluable_frailty_log_weight:g}\\,([\\text{{age}} \\ge {spec.age_group_cut}] + [\\text{{ECOG 1-2}}])}}$)
with the published causes; they are the patients not evaluable for response. CRT lasts (fractions / 5)
weeks plus up to {spec.crt_interruption_days_max:g} days, and the response is assessed
{tg.assessment_weeks[0]:g}-{tg.assessment_weeks[1]:g} weeks later, at
time $a_i$. Among the evaluable patients of each arm the latent score

$$ R_i = {eff["node_diameter_cm"]:g}\\,(\\text{{diameter}}_i - \\bar d) +
{eff["n_recurrent_nodes"]:g}\\,(\\text{{nodes}}_i - \\bar n)
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
during CRT are drawn from the model truncated to [{spec.not_evaluable_min_death_weeks:g} weeks, end of CRT) (and
before two
anlotinib cycles). Follow-up ends on the censoring date, {tg.cutoff:%d %B %Y}, with no loss to follow-up, so
every patient is followed for at least {min_followup:.0f} months and the landmarks (at most
{max_landmark:g} months) are never censored.

*Sampling design.* The uniforms are **stratified**, $u_i = (\\pi_i + v_i)/m$ with $\\pi$ a random
permutation and $v_i \\sim U(0, 1)$, within blocks of about {spec.survival_block_size} patients of one arm sorted by
risk. Every $u_i$ is still uniform, so each patient's survival follows the model exactly; the blocks
only make the cohort's Kaplan-Meier curves scatter less around the model. A draw is accepted if it
has the published death totals ({tg.os_events[TREATED]} and {tg.os_events[CONTROL]}), no more progressive-disease
patients alive at the cutoff than the paper has progressions among survivors, and 1- and 3-year
survival {window} (rejection, at most {spec.max_survival_draws} tries per arm, deterministic given the
seed).{conditioning}

### 4. Progression-free survival

PFS ends at progression or death and never exceeds OS. PD patients progress at their assessment
($\\text{{PFS}} = a_i$); patients who die during CRT have $\\text{{PFS}} = \\text{{OS}}$. Of the other patients who
die, {spec.death_without_progression_share:.0%} (a fixed number) die without progression ($\\text{{PFS}} =
\\text{{OS}}$); the rest
progress at $a_i + Q_i$, where the time from assessment to progression $Q_i$ is log-normal with
median {m_a:g} months and log-SD {s_a:g} (CRT + anlotinib) or median {m_c:g} months and log-SD {s_c:g} (CRT alone),
truncated to end before death. Among the patients alive at the cutoff exactly (PFS events - deaths)
progressed (same law, truncated to the censoring date), so the published PFS totals ({tg.pfs_events[TREATED]} and
{tg.pfs_events[CONTROL]}) hold by construction. The uniforms are stratified in blocks sorted by the time left before
death, and the 6- and 12-month PFS are accepted in the same window around the model's expectation.

### 5. Anlotinib exposure and toxicity

Start dose: the highest dose in the share published for the matched cohort, the lower doses going
preferentially to older patients. Weeks on anlotinib = $\\min(\\text{{PFS}}, {w_max:g}\\text{{ weeks}}, D_i)$,
at least {w_min:g}, with $D_i$ exponential with median {spec.anlotinib_discontinuation_median_weeks:g} weeks
(discontinuation for toxicity or choice;
calibrated to the published median exposure); cycles = weeks / {cycle:g}; patients who die during CRT receive
fewer than two cycles. Grade 3-4 toxicity: the set of patients with any grade 3-4 event is drawn first
(exact per-arm size, weighted towards age >= 65 and ECOG 1-2; the fatal febrile neutropenias are in it
and count as grade >= 3 neutropenia and leukopenia), then each Table 4 event is spread over the set
so that every member has at least one event ({spec.neutropenia_within_leukopenia:.0%} of neutropenia falls on patients
with
leukopenia). Anlotinib events of any grade are spread the same way over the patients with at least
one (grade 3-4 events inside their any-grade counts), and the published dose reductions are drawn
from patients with the event that caused them.
"""
