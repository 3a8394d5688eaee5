"""What the survival chapter says about the Kaplan-Meier side: log-rank tests, events, landmarks, medians
and the paper's p-values, for the paper's study and for any other.

Each ``*_numbers`` function returns {name: value} for the prose ({glue} names); nothing is typed.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from psmbook.analysis.association import TEST_LABELS, paper_test_candidates
from psmbook.analysis.km import CI_TRANSFORM, ci_transform_text, fit_by_arm, median_rule_text
from psmbook.analysis.survival.landmarks import LANDMARKS, event_table, landmark_test, landmark_test_rates, logrank
from psmbook.analysis.survival.landmarks import median_table as km_median_table
from psmbook.present import privacy
from psmbook.present.format import format_p, p_statement
from psmbook.study.published import published_number

PERIODS = {"before": "before matching", "after": "after matching"}


def endpoints_of(study) -> tuple[str, ...]:
    """The endpoints the chapter analyses: the paper's PFS and OS, or every endpoint of another study."""
    return ("pfs", "os") if study.paper else tuple(study.endpoints)


def primary_endpoint(study) -> str:
    """The endpoint of the Cox models of prognosis: overall survival where there is one."""
    endpoints = endpoints_of(study)
    return "os" if "os" in endpoints else endpoints[0]


def fit_all(cohorts: Mapping[str, pd.DataFrame], study) -> tuple[dict, dict]:
    """Kaplan-Meier fits by arm and log-rank tests for every endpoint, before and after matching."""
    fits, tests = {}, {}
    for e in endpoints_of(study):
        outcome = study.outcome(e)
        fits[e] = {}
        for period, df in cohorts.items():
            fits[e][period] = fit_by_arm(df, study, outcome.time, outcome.event)
            tests[(e, period)] = logrank(df, study, outcome.time, outcome.event)
    return fits, tests


def convention_numbers(transform: str = CI_TRANSFORM) -> dict[str, str]:
    """How the chapter's medians and confidence limits are computed, for the prose: ``median_rule`` (R
    survfit's median) and ``ci_transform`` (the pointwise limits' transform, named as R names it)."""
    return {"median_rule": median_rule_text(), "ci_transform": ci_transform_text(transform)}


def logrank_text(tests: Mapping, study) -> str:
    """Every log-rank test in a sentence: 'Overall survival before matching: p = 0.04; ...'."""
    return "; ".join(
        f"{study.outcome(e).label} {PERIODS[period]}: {p_statement(r.p)}" for (e, period), r in tests.items()
    )


def time_text(x: float, study) -> str:
    """A median or limit in the study's time unit; "not reached" for a curve that stays above 50%."""
    return (f"{x:.0f}" if study.time_unit == "days" else f"{x:.1f}") if np.isfinite(x) else "not reached"


def median_rows(fits: Mapping, study, *, min_cell: int = 0) -> pd.DataFrame:
    """Events and median survival with 95% CI per endpoint, period and arm (raw values in ``_`` columns)."""
    rows = []
    for e in endpoints_of(study):
        for period in PERIODS:
            for code, r in km_median_table(fits[e][period]).iterrows():
                low, high = time_text(r["ci_low"], study), time_text(r["ci_high"], study)
                median = f"{time_text(r['median'], study)} ({low}–{high})"
                rows.append(
                    {
                        "Endpoint": e.upper() if study.paper else study.outcome(e).label,
                        "Cohort": PERIODS[period],
                        "Arm": study.arm_label(code),
                        "Events / patients": f"{privacy.part_text(r['events'], r['n'], min_cell)} / {int(r['n'])}",
                        f"Median, {study.time_unit} (95% CI)": median,
                        "_e": e,
                        "_period": period,
                        "_arm": code,
                        "_median": r["median"],
                        "_low": r["ci_low"],
                        "_high": r["ci_high"],
                        "_events": r["events"],
                    }
                )
    return pd.DataFrame(rows)


def shown(table: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """A table without its raw ``_`` columns (``columns``: those to keep), indexed by endpoint, cohort, arm."""
    kept = table.drop(columns=[c for c in table if c.startswith("_")])
    if columns is not None:
        kept = kept[["Endpoint", "Cohort", "Arm", *columns]]
    return kept.set_index(["Endpoint", "Cohort", "Arm"])


def logrank_numbers(tests: Mapping) -> dict[str, object]:
    """The four log-rank p-values as printed, and the paper's statement that all of them are below a bound."""
    numbers: dict[str, object] = {f"p_logrank_{e}_{period}": format_p(r.p) for (e, period), r in tests.items()}
    bound = published_number("text.figure1.p")
    max_p = max(r.p for r in tests.values())
    numbers["figure1_bound"] = bound.printed
    numbers["figure1_verdict"] = (
        f"all four computed p-values are below {bound.value:g} too (the largest is {format_p(max_p)})"
        if max_p < bound.value
        else f"here the largest of the four p-values is {format_p(max_p)}, "
        "so that statement does not hold for this cohort"
    )
    return numbers


def published_marks(landmarks: pd.DataFrame) -> dict:
    """The paper's landmark rates to mark on Figure 1: (endpoint, period) -> arm -> months -> %."""
    marks: dict = {}
    for row in landmarks.dropna(subset=["published"]).itertuples():
        marks.setdefault((row.endpoint, row.period), {}).setdefault(row.arm, {})[row.months] = row.published
    return marks


def event_numbers(cohorts: Mapping[str, pd.DataFrame], study, pub: Mapping) -> tuple[pd.DataFrame, dict[str, object]]:
    """Events per endpoint, period and arm beside the paper's: the events (id, events, n, paper) and the
    prose numbers (the table ``events_table``, how many counts the paper prints and how many agree)."""
    event_rows, shown_rows = [], {}
    for e in endpoints_of(study):
        for period, df in cohorts.items():
            counts = event_table(df, study, study.outcome(e).event)
            cells = {}
            for code in study.treatment.arms:
                id_ = f"text.survival.{e}.{period}.events.{code}"
                entry, paper_pct = pub.get(f"{id_}.n"), pub.get(f"{id_}.pct")
                n, k = int(counts.loc[code, "n"]), int(counts.loc[code, "events"])
                cells[(study.arm_label(code), "This book")] = f"{k}/{n} ({counts.loc[code, 'pct']:.1f}%)"
                cells[(study.arm_label(code), "Paper")] = (
                    "—" if entry is None else f"{entry.value:g} ({paper_pct.value:.1f}%)"
                )
                event_rows.append({"id": id_, "events": k, "n": n, "paper": np.nan if entry is None else entry.value})
            shown_rows[(study.outcome(e).label, PERIODS[period])] = cells
    events = pd.DataFrame(event_rows)
    table = pd.DataFrame.from_dict(shown_rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    table.index = pd.MultiIndex.from_tuples(table.index, names=["Endpoint", "Cohort"])
    with_paper = events.dropna(subset=["paper"])
    return events, {
        "events_table": table,
        "n_event_counts": len(with_paper),
        "n_event_counts_equal": int((with_paper["events"] == with_paper["paper"]).sum()),
    }


def landmark_numbers(landmarks: pd.DataFrame, study, matched: pd.DataFrame) -> dict[str, object]:
    """Landmark rates beside the paper's: the table ``landmark_table``, the largest differences before and
    after matching, how many published rates fall inside this book's CI, and the 12-month PFS after matching."""
    treated, control = study.treatment.arms
    when = landmarks["landmark"].map({"6m": "6 months", "12m": "12 months", "1y": "1 year", "3y": "3 years"})
    table = landmarks.assign(
        when=when,
        book=[f"{r.survival:.1f} ({r.ci_low:.1f}–{r.ci_high:.1f})" for r in landmarks.itertuples()],
        paper=landmarks["published"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
        endpoint_label=landmarks["endpoint"].map(lambda e: e.upper()),
        cohort=landmarks["period"].map(PERIODS),
    ).pivot_table(
        index=["endpoint_label", "cohort", "when"], columns="arm", values=["book", "paper"], aggfunc="first", sort=False
    )
    table = table.reindex(columns=[(v, a) for a in study.treatment.arms for v in ("book", "paper")])
    table.columns = pd.MultiIndex.from_tuples(
        [(study.arm_label(a), "This book, % (95% CI)" if v == "book" else "Paper, %") for v, a in table.columns]
    )
    table.index.names = ["Endpoint", "Cohort", "Landmark"]
    diff = landmarks.dropna(subset=["published"])
    worst = {period: diff[diff["period"] == period]["difference"].abs().max() for period in PERIODS}
    inside = diff[(diff["published"] >= diff["ci_low"]) & (diff["published"] <= diff["ci_high"])]
    after_rates = landmarks[landmarks["period"] == "after"]
    a12 = landmarks.set_index("id")
    pfs12 = [f"text.survival.pfs.after.12m.{code}" for code in (treated, control)]
    return {
        "landmark_table": table,
        "worst_before_pp": f"{worst['before']:.1f}",
        "worst_after_pp": f"{worst['after']:.1f}",
        "n_landmarks": len(diff),
        "n_landmarks_inside": len(inside),
        "n_pairs": int(matched["pair"].nunique()),
        "ci_width_after": f"{(after_rates['ci_high'] - after_rates['ci_low']).mean():.0f}",
        "pfs12_after": f"{a12.loc[pfs12[0], 'survival']:.1f}% vs {a12.loc[pfs12[1], 'survival']:.1f}%",
        "pfs12_after_paper": f"{a12.loc[pfs12[0], 'published']:.1f}% vs {a12.loc[pfs12[1], 'published']:.1f}%",
    }


def median_numbers(medians: pd.DataFrame, study) -> dict[str, object]:
    """Median OS and PFS after matching per arm, for the prose, and the table of medians (``median_table``)."""
    treated, control = study.treatment.arms
    m = medians.set_index(["_e", "_period", "_arm"])["_median"]
    return {
        "median_table": shown(medians, ["Median, months (95% CI)"]),
        "os_median_after": f"{m[('os', 'after', treated)]:.1f} and {m[('os', 'after', control)]:.1f} months",
        "pfs_median_after": f"{m[('pfs', 'after', treated)]:.1f} and {m[('pfs', 'after', control)]:.1f} months",
    }


def paper_p_numbers(fits: Mapping, tests: Mapping, medians: pd.DataFrame, study, pub: Mapping) -> dict[str, object]:
    """The paper's survival p-values beside this book's log-rank and landmark tests (``p_table``), the
    tests that give the paper's PFS p before matching from its counts, and the direction of the medians."""
    treated, control = study.treatment.arms
    attached = {"pfs": "12m", "os": "3y"}
    n_paper = {code: int(pub[f"table1.after.n.{code}"].value) for code in study.treatment.arms}
    numbers: dict[str, object] = {"paper_n_after": n_paper[treated]}
    p_rows = []
    for e in endpoints_of(study):
        for period in PERIODS:
            entry = pub[f"text.survival.{e}.{period}.p"]
            row = {
                "Endpoint": e.upper(),
                "Cohort": PERIODS[period],
                "Where the paper prints it": entry.where.split(": ", 1)[1] if ": " in entry.where else entry.where,
                "Paper's p": format_p(entry.value),
                "Log-rank p (this book)": format_p(tests[(e, period)].p),
                "Landmark test p (this book)": "—",
                "Landmark test on the paper's rates": "—",
            }
            if period == "after":
                key = attached[e]
                months = dict(LANDMARKS[e])[key]
                by_arm = fits[e][period]
                row["Landmark test p (this book)"] = format_p(landmark_test(by_arm[treated], by_arm[control], months))
                rates = [pub[f"text.survival.{e}.{period}.{key}.{code}"].value / 100 for code in (treated, control)]
                paper_landmark_p = landmark_test_rates(rates[0], n_paper[treated], rates[1], n_paper[control])
                row["Landmark test on the paper's rates"] = format_p(paper_landmark_p)
                numbers[f"paper_landmark_p_{e}"] = format_p(paper_landmark_p)
                numbers[f"paper_p_{e}_after"] = format_p(entry.value)
            p_rows.append(row)
    numbers["p_table"] = pd.DataFrame(p_rows).set_index(["Endpoint", "Cohort"])
    progression = [
        [
            pub[f"text.survival.pfs.before.events.{c}.n"].value,
            pub[f"text.survival.pfs.before.n.{c}"].value - pub[f"text.survival.pfs.before.events.{c}.n"].value,
        ]
        for c in (treated, control)
    ]
    candidates = paper_test_candidates(np.array(progression, dtype=int).T)
    numbers["progression_tests"] = ", ".join(f"{TEST_LABELS[k]} {format_p(v)}" for k, v in candidates.items())
    numbers["paper_p_pfs_before"] = format_p(pub["text.survival.pfs.before.p"].value)
    m = medians.set_index(["_e", "_period", "_arm"])["_median"]
    longer = [m[(e, period, treated)] > m[(e, period, control)] for e in endpoints_of(study) for period in PERIODS]
    where = "In the synthetic cohort" if study.synthetic else "In this cohort"
    numbers["direction_text"] = (
        f"{where}, as in the paper, CRT + anlotinib has the longer median in all four comparisons"
        if all(longer)
        else f"{where} CRT + anlotinib has the longer median in {sum(longer)} of the four comparisons"
    )
    return numbers
