"""How closely a cohort reproduces the paper's published aggregates: one row per calibrated quantity.

:func:`calibration_report` compares a (synthetic) cohort with the numbers of ``published.yaml``:
every before-PSM count of Tables 1, 2 and 4, the cohort facts of the Results text, the death and
progression totals (all *exact* for the synthetic generator) and the eight Kaplan-Meier landmarks of
the unmatched cohort (within a tolerance in percentage points). Given the patients the paper's
matching selects, it also compares every count of Tables 1 and 2 after matching, the matched arm's
anlotinib facts (exact) and the eight matched landmarks. Published values come from
:mod:`psmbook.study.published`; nothing is typed in here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.study.description import load_study
from psmbook.study.published import landmark_months, published_value

__all__ = ["calibration_report", "synthetic_calibration_report", "LANDMARK_TOLERANCE_PP"]

#: Tolerance of the Kaplan-Meier landmarks, percentage points (the generator's without its matched design).
LANDMARK_TOLERANCE_PP = 5.0

_ARMS = ("anlotinib", "crt")
_EXACT = "exact"


def _km_percent(time: pd.Series, event: pd.Series, t: float) -> float:
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(np.asarray(time, dtype=float), np.asarray(event, dtype=int))
    return 100.0 * float(km.survival_function_at_times(t).iloc[0])


class _Rows(list):
    """The report's rows, one per calibrated quantity, in the order they are added."""

    def add(self, quantity, pid, published, synthetic, tolerance_pp=None):
        """A quantity that must equal its target (``tolerance_pp`` None) or lie within so many points."""
        published = float(published)
        synthetic = float(synthetic)
        diff = synthetic - published
        ok = diff == 0 if tolerance_pp is None else abs(diff) <= tolerance_pp + 1e-9
        tolerance = _EXACT if tolerance_pp is None else f"±{tolerance_pp:g} pp"
        self.append(
            {
                "quantity": quantity,
                "published_id": pid,
                "published": published,
                "synthetic": synthetic,
                "difference": diff,
                "tolerance": tolerance,
                "passed": bool(ok),
            }
        )


def calibration_report(
    df: pd.DataFrame, matched: pd.DataFrame | None = None, landmark_tolerance_pp: float = LANDMARK_TOLERANCE_PP
) -> pd.DataFrame:
    """One row per calibrated quantity: quantity, published_id, published, synthetic, difference,
    tolerance ("exact" or "±k pp", k = ``landmark_tolerance_pp``) and passed. ``matched``: the patients the
    paper's matching selects, for the after-matching rows.

    Rows whose published value is derived rather than printed say so in `published_id` (e.g. the
    "no previous treatment" count, n minus the printed rows; counts implied by a printed percentage).
    """
    study = load_study()
    arms = {a: df[df[study.treatment.column] == a] for a in _ARMS}
    n = {a: int(published_value(f"table1.before.n.{a}")) for a in _ARMS}
    rows = _Rows()
    _table1_rows(rows, arms, n, study)
    _table2_rows(rows, arms)
    _toxicity_rows(rows, arms, n)
    _cohort_rows(rows, df)
    _treatment_rows(rows, df, arms)
    _survival_rows(rows, arms, "before", landmark_tolerance_pp)
    if matched is not None:
        after = {a: matched[matched[study.treatment.column] == a] for a in _ARMS}
        _table1_rows(rows, after, {a: int(published_value(f"table1.after.n.{a}")) for a in _ARMS}, study, "after")
        for a in _ARMS:
            _table2_counts(rows, after[a], a, "after")
        _anlotinib_after_rows(rows, after["anlotinib"])
        _survival_rows(rows, after, "after", landmark_tolerance_pp)
    return pd.DataFrame(
        rows,
        columns=["quantity", "published_id", "published", "synthetic", "difference", "tolerance", "passed"],
    )


def synthetic_calibration_report(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`calibration_report` of a cohort from the generator with its matched design: after-matching rows
    for the patients the paper's matching selects, landmarks within the generator's tolerance."""
    from psmbook.cohort.synthetic import GeneratorSpec
    from psmbook.cohort.synthetic.psmodel import paper_match

    return calibration_report(df, df[paper_match(df)], GeneratorSpec().landmark_tolerance_pp)


def _table1_rows(rows: _Rows, arms: dict, n: dict, study, period: str = "before") -> None:
    """Table 1, before or after PSM: n and every level of every characteristic."""
    when = "before PSM" if period == "before" else "after PSM"
    for a in _ARMS:
        rows.add(f"Table 1 {when}: n ({a})", f"table1.{period}.n.{a}", n[a], len(arms[a]))
    for var in study.covariates:
        for a in _ARMS:
            counts = arms[a][var.column].astype(str).value_counts()
            for level in var.codes:
                if level in var.table1_omit:
                    shown = sum(
                        int(published_value(f"table1.{period}.{var.column}.{lv}.{a}.n")) for lv in var.shown_levels
                    )
                    pid = f"table1.{period}.n.{a} minus the printed {var.column} rows (derived)"
                    pub = n[a] - shown
                else:
                    pid = f"table1.{period}.{var.column}.{level}.{a}.n"
                    pub = published_value(pid)
                rows.add(f"Table 1 {when}: {var.column} = {level} ({a})", pid, pub, int(counts.get(level, 0)))


def _table2_rows(rows: _Rows, arms: dict) -> None:
    """Table 2, before PSM, the not evaluable and the deaths during CRT by cause."""
    from psmbook.study.published import select

    for a in _ARMS:
        d = arms[a]
        _table2_counts(rows, d, a, "before")
        pid = f"text.response.not_evaluable.{a}.n"
        died = int(((d["response"] == "ne") & d["death_during_crt"]).sum())
        rows.add(f"Not evaluable, died during CRT ({a})", pid, published_value(pid), died)
        prefix = f"text.toxicity.deaths_during_crt.{a}."
        for pid, entry in select(prefix).items():
            cause = pid[len(prefix) :]
            if cause.endswith(".n") and cause != "n":
                cause = cause[:-2]
                rows.add(
                    f"Death during CRT from {cause} ({a})", pid, entry.value, int((d["death_cause"] == cause).sum())
                )


def _table2_counts(rows: _Rows, d: pd.DataFrame, a: str, period: str) -> None:
    """Table 2 of arm ``a`` (its patients ``d``), before or after PSM: the evaluable patients and each response."""
    pid = f"table2.{period}.n.{a}"
    what = f"Table 2 {period} PSM"
    rows.add(f"{what}: evaluable ({a})", pid, published_value(pid), int((d["response"] != "ne").sum()))
    for r in ("cr", "pr", "sd", "pd"):
        pid = f"table2.{period}.{r}.{a}.n"
        rows.add(f"{what}: {r.upper()} ({a})", pid, published_value(pid), int((d["response"] == r).sum()))


def _anlotinib_after_rows(rows: _Rows, treated: pd.DataFrame) -> None:
    """The matched arm's anlotinib: start dose, weeks (median and range) and patients past the printed cycles."""
    dose = published_value("text.anlotinib.after.start_dose_12mg.dose")
    pid = "text.anlotinib.after.start_dose_12mg.n"
    rows.add(
        f"Matched arm: started at {dose:g} mg",
        pid,
        published_value(pid),
        int((treated["anlotinib_start_dose_mg"] == dose).sum()),
    )
    weeks = treated["anlotinib_weeks"]
    for stat, value in (("median", weeks.median()), ("min", weeks.min()), ("max", weeks.max())):
        pid = f"text.anlotinib.after.exposure.{stat}"
        rows.add(f"Matched arm: weeks of anlotinib, {stat}", pid, published_value(pid), value)
    threshold = published_value("text.anlotinib.after.gt6_cycles.threshold")
    pid = "text.anlotinib.after.gt6_cycles.n"
    more = int((treated["anlotinib_cycles"] > threshold).sum())
    rows.add(f"Matched arm: more than {threshold:g} cycles", pid, published_value(pid), more)


def _toxicity_rows(rows: _Rows, arms: dict, n: dict) -> None:
    """Table 4 and the toxicity and anlotinib facts of the text."""
    from psmbook.cohort.synthetic.targets import count_from_pct

    for e in ("leukopenia", "neutropenia", "anemia", "nausea_vomiting", "esophagitis", "pneumonitis"):
        for a in _ARMS:
            pid = f"table4.{e}.{a}.n"
            rows.add(f"Table 4: grade 3-4 {e} ({a})", pid, published_value(pid), int(arms[a][f"g34_{e}"].sum()))
    treated = arms["anlotinib"]
    for e in ("hypertension", "hand_foot", "diarrhea"):
        pid = f"table4.anlotinib_g34.{e}.anlotinib.n"
        rows.add(
            f"Table 4: grade 3-4 anlotinib {e}", pid, published_value(pid), int((treated[f"anl_{e}_grade"] >= 3).sum())
        )
    implied = "(count implied by the printed %)"
    for a in _ARMS:
        pid = f"text.toxicity.g34_overall.{a}.pct"
        pub = count_from_pct(published_value(pid), n[a], pid)
        rows.add(f"Any grade 3-4 event ({a})", f"{pid} {implied}", pub, int(arms[a]["g34_any"].sum()))
    for e in ("hypertension", "hand_foot", "proteinuria", "hypothyroidism", "diarrhea"):
        pid = f"text.anlotinib.any_grade.{e}.n"
        rows.add(f"Anlotinib {e}, any grade", pid, published_value(pid), int((treated[f"anl_{e}_grade"] > 0).sum()))
    pid = "text.anlotinib.any_event.pct"
    pub = count_from_pct(published_value(pid), n["anlotinib"], pid)
    rows.add("At least one anlotinib event", f"{pid} {implied}", pub, int(treated["anl_any_event"].sum()))
    pid = "text.anlotinib.dose_reduction.n"
    rows.add("Anlotinib dose reductions", pid, published_value(pid), int(treated["anlotinib_dose_reduced"].sum()))
    for r in ("hand_foot", "diarrhea", "proteinuria"):
        pid = f"text.anlotinib.dose_reduction.{r}.n"
        reduced = int((treated["dose_reduction_reason"] == r).sum())
        rows.add(f"Dose reductions for {r}", pid, published_value(pid), reduced)


def _cohort_rows(rows: _Rows, df: pd.DataFrame) -> None:
    """The cohort facts of the Results text: nodes, confirmation, stations, timing, previous treatment."""
    for k, word in ((1, "one"), (2, "two"), (3, "three"), (4, "four_plus")):
        pid = f"text.cohort.recurrent_nodes.{word}.n"
        quantity = f"Recurrent nodes: {word.replace('_plus', ' or more')}"
        rows.add(quantity, pid, published_value(pid), int((df["n_recurrent_nodes"] == k).sum()))
    for c in ("ct", "pet_ct", "histology"):
        pid = f"text.cohort.recurrence_confirmation.{c}.n"
        rows.add(
            f"Recurrence confirmed by {c}", pid, published_value(pid), int((df["recurrence_confirmed_by"] == c).sum())
        )
    for col, key in (
        ("station_2r", "station_2r"),
        ("station_7", "station_7"),
        ("station_supraclavicular", "supraclavicular"),
    ):
        pid = f"text.cohort.nodal_stations.{key}.n"
        rows.add(f"Nodal station {key}", pid, published_value(pid), int(df[col].sum()))
    months = df["months_surgery_to_recurrence"]
    for stat, value in (("median", months.median()), ("min", months.min()), ("max", months.max())):
        pid = f"text.cohort.surgery_to_recurrence.{stat}"
        rows.add(f"Months surgery -> recurrence, {stat}", pid, published_value(pid), value)
    pid = "text.cohort.surgery_only.n"
    none = int((df["previous_treatment"] == "none").sum())
    rows.add("Surgery only (no adjuvant treatment)", pid, published_value(pid), none)
    for t in ("radiotherapy", "chemotherapy", "chemoradiotherapy"):
        pid = f"text.cohort.adjuvant.{t}.n"
        rows.add(f"Adjuvant {t}", pid, published_value(pid), int((df["previous_treatment"] == t).sum()))


def _treatment_rows(rows: _Rows, df: pd.DataFrame, arms: dict) -> None:
    """The treatment facts of the text: concurrent chemotherapy, radiation dose."""
    pid = "text.treatment.concurrent_chemo.docetaxel_cisplatin.n"
    dp = int((df["concurrent_chemo"] == "docetaxel_cisplatin").sum())
    rows.add("Docetaxel + cisplatin", pid, published_value(pid), dp)
    for sched in ("weekly", "three_weekly"):
        pid = f"text.treatment.concurrent_chemo.{sched}.n"
        quantity = f"Docetaxel + cisplatin, {sched.replace('_', '-')} schedule"
        rows.add(quantity, pid, published_value(pid), int((df["dp_schedule"] == sched).sum()))
    dose = df["radiation_dose_gy"]
    for stat, value in (("median", dose.median()), ("min", dose.min()), ("max", dose.max())):
        pid = f"text.treatment.radiotherapy.dose.{stat}"
        rows.add(f"Prescribed radiation dose, {stat} (Gy)", pid, published_value(pid), value)
    for a in _ARMS:
        pid = f"text.treatment.before.radiation_ge50gy.{a}.n"
        rows.add(f"Delivered dose >= 50 Gy ({a})", pid, published_value(pid), int(arms[a]["delivered_dose_ge50"].sum()))


def _survival_rows(rows: _Rows, arms: dict, period: str, tolerance_pp: float) -> None:
    """Survival: event totals (exact; printed before matching only) and Kaplan-Meier landmarks (within
    ``tolerance_pp`` points)."""
    if period == "before":
        for endpoint, word in (("os", "deaths"), ("pfs", "progression or death")):
            for a in _ARMS:
                pid = f"text.survival.{endpoint}.before.events.{a}.n"
                events = int(arms[a][f"{endpoint}_event"].sum())
                rows.add(f"{endpoint.upper()} events: {word} ({a})", pid, published_value(pid), events)
    when = "" if period == "before" else ", matched"
    for endpoint, key in (("pfs", "6m"), ("pfs", "12m"), ("os", "1y"), ("os", "3y")):
        t = landmark_months(key)
        for a in _ARMS:
            pid = f"text.survival.{endpoint}.{period}.{key}.{a}"
            d = arms[a]
            km = _km_percent(d[f"{endpoint}_months"], d[f"{endpoint}_event"], t)
            label = f"Kaplan-Meier {endpoint.upper()} at {key} ({a}{when}), %"
            rows.add(label, pid, published_value(pid), round(km, 2), tolerance_pp)


_GROUPS = (
    ("table1.before", "Table 1 counts, before matching"),
    ("table2.before", "Table 2 counts, before matching"),
    ("table1.after", "Table 1 counts, after matching"),
    ("table2.after", "Table 2 counts, after matching"),
    ("text.anlotinib.after", "Anlotinib in the matched arm"),
    ("text.survival.os.after", "Kaplan–Meier landmarks, matched"),
    ("text.survival.pfs.after", "Kaplan–Meier landmarks, matched"),
    ("table4.", "Table 4 counts"),
    ("text.toxicity", "Toxicity counts in the text"),
    ("text.anlotinib", "Anlotinib events, doses and exposure"),
    ("text.cohort", "Cohort facts"),
    ("text.treatment", "Treatment facts"),
    ("text.response", "Response facts"),
    ("text.survival", "Survival: event totals and Kaplan–Meier landmarks"),
)


def calibration_summary(report: pd.DataFrame) -> pd.DataFrame:
    """How many calibrated quantities of each kind meet their target (exact, or within their tolerance)."""

    def group(pid: str) -> str:
        return next((label for prefix, label in _GROUPS if pid.startswith(prefix)), "Other")

    grouped = report.assign(group=report["published_id"].map(group)).groupby("group", sort=False)
    return pd.DataFrame(
        {
            "quantities": grouped.size(),
            "meet the target": grouped["passed"].sum().astype(int),
            "tolerance": grouped["tolerance"].agg(lambda t: " / ".join(sorted(set(t)))),
            "largest |difference|": grouped["difference"].agg(lambda d: float(np.abs(d).max())).round(2),
        }
    ).rename_axis("calibrated quantities")


def calibration_numbers(report: pd.DataFrame) -> dict[str, object]:
    """The calibration for the prose: quantities checked, those meeting their target, and the largest
    landmark difference in percentage points."""
    landmarks = report[report["tolerance"] != "exact"]
    after = report["published_id"].str.contains(r"^table[12]\.after\.|^text\.anlotinib\.after\.", regex=True)
    return {
        "n_calibrated": len(report),
        "n_calibrated_pass": int(report["passed"].sum()),
        "worst_landmark_pp": f"{landmarks['difference'].abs().max():.1f}",
        "landmark_tolerance": " / ".join(sorted(set(landmarks["tolerance"]))),
        "n_calibrated_after": int(after.sum()),
        "n_calibrated_after_pass": int(report.loc[after, "passed"].sum()),
    }


def published_landmarks(report: pd.DataFrame) -> dict[str, dict[str, dict[int, float]]]:
    """The paper's Kaplan-Meier landmarks of the whole cohort among the calibrated quantities: endpoint -> arm ->
    months -> %."""
    found: dict[str, dict[str, dict[int, float]]] = {}
    for _, row in report[report["tolerance"] != "exact"].iterrows():
        endpoint, period, when, code = row["published_id"].split(".")[2:6]
        if period != "before":
            continue
        found.setdefault(endpoint, {}).setdefault(code, {})[landmark_months(when)] = row["published"]
    return found
