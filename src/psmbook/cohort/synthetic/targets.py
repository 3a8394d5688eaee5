"""The published numbers the generator is calibrated to, read once from the published-numbers file."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from functools import lru_cache

from psmbook.cohort.synthetic.spec import (
    ANLOTINIB_EVENTS,
    ANLOTINIB_G34,
    ARMS,
    CONFIRMATION,
    DOSE_REDUCTION_REASONS,
    LANDMARKS,
    NODE_COUNT_WORDS,
    OS_FACTORS,
    STATIONS,
    TOXICITIES,
    TREATED,
)


def count_from_pct(pct: float, n: int, what: str) -> int:
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
    """Everything the generator takes from published.yaml (ids in :mod:`psmbook.study.ids`)."""

    n: dict
    table1: dict
    n_after: dict
    table1_after: dict
    response_after: dict
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
    landmarks_after: dict
    logrank_p: dict
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
    anlotinib_more_cycles: tuple
    ids: dict


@lru_cache(maxsize=None)
def load_targets() -> Targets:
    """Read every calibration target from published.yaml (via :mod:`psmbook.study.published`)."""
    from psmbook.study.description import load_study
    from psmbook.study.published import landmark_months
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

    n_after = {a: int(get(("n_after", a), f"table1.after.n.{a}")) for a in ARMS}
    table1_after: dict = {}
    for var in study.covariates:
        table1_after[var.column] = {level: {} for level in var.codes}
        for a in ARMS:
            for level in var.shown_levels:
                table1_after[var.column][level][a] = int(
                    get(("table1_after", var.column, level, a), f"table1.after.{var.column}.{level}.{a}.n")
                )
            for level in var.table1_omit:  # n after matching minus the printed rows
                shown = sum(table1_after[var.column][lv][a] for lv in var.shown_levels)
                table1_after[var.column][level][a] = n_after[a] - shown
                ids[("table1_after", var.column, level, a)] = f"table1.after.n.{a}"
            for level in var.codes:
                if not 0 <= table1_after[var.column][level][a] <= table1[var.column][level][a]:
                    raise ValueError(
                        f"published Table 1 after matching: {var.column} = {level} ({a}) is not between 0 and "
                        "its count before matching"
                    )
    response_after = {
        a: {r: int(get(("response_after", r, a), f"table2.after.{r}.{a}.n")) for r in ("cr", "pr", "sd", "pd")}
        for a in ARMS
    }
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
        a: count_from_pct(get(("g34_any", a), f"text.toxicity.g34_overall.{a}.pct"), n[a], f"grade 3-4 overall, {a}")
        for a in ARMS
    }
    any_grade = {e: int(get(("anl_any", e), f"text.anlotinib.any_grade.{e}.n")) for e in ANLOTINIB_EVENTS}
    any_event = count_from_pct(
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
                landmark_months(key),
                float(get(("landmark", endpoint, key, a), f"text.survival.{endpoint}.before.{key}.{a}")),
            )
    landmarks_after = {}
    for endpoint, key in LANDMARKS:
        for a in ARMS:
            landmarks_after[(endpoint, key, a)] = (
                landmark_months(key),
                float(get(("landmark_after", endpoint, key, a), f"text.survival.{endpoint}.after.{key}.{a}")),
            )
    logrank_p = {
        (endpoint, period): float(get(("logrank_p", endpoint, period), f"text.survival.{endpoint}.{period}.p"))
        for endpoint in ("os", "pfs")
        for period in ("before", "after")
    }
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
    more_cycles = (
        float(get(("anl_cycles", "threshold"), "text.anlotinib.after.gt6_cycles.threshold")),
        int(get(("anl_cycles", "n"), "text.anlotinib.after.gt6_cycles.n")),
    )
    reduced = float(get(("reduced_dose",), "text.anlotinib.dose_reduction.dose"))
    return Targets(
        n=n,
        table1=table1,
        n_after=n_after,
        table1_after=table1_after,
        response_after=response_after,
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
        landmarks_after=landmarks_after,
        logrank_p=logrank_p,
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
        anlotinib_more_cycles=more_cycles,
        ids=ids,
    )
