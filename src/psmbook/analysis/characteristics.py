"""Recurrence and treatment characteristics beyond Table 1, per arm and overall, beside the paper's text.

Each row says where its published counterpart is (an id of ``published.yaml``) or that the paper gives
none. Rows whose columns a dataset lacks are left out, so a real cohort without, say, nodal stations
still gets the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from psmbook.analysis.tables import percent, table1_values
from psmbook.present import privacy
from psmbook.study.published import load_published


@dataclass(frozen=True)
class Row:
    section: str
    label: str
    column: str
    select: Callable[[pd.Series], pd.Series] | None = None  # patients counted (for a count row)
    summary: str = "count"  # "count", "median_range" or "period"
    published: str | None = None  # id prefix of the published n/pct or stat
    population: str = "all"  # "all" or the treated arm only


def _rows(treated: str) -> list[Row]:
    nodes = [("1", 1, "one"), ("2", 2, "two"), ("3", 3, "three"), ("4 or more", 4, "four_plus")]
    rows = [
        Row(
            "Recurrence",
            f"Recurrent nodes: {label}",
            "n_recurrent_nodes",
            (lambda k: lambda s: s == k)(k),
            published=f"text.cohort.recurrent_nodes.{word}",
        )
        for label, k, word in nodes
    ]
    rows += [
        Row(
            "Recurrence",
            f"Confirmed by {label}",
            "recurrence_confirmed_by",
            (lambda c: lambda s: s == c)(code),
            published=f"text.cohort.recurrence_confirmation.{code}",
        )
        for label, code in (("CT", "ct"), ("PET-CT", "pet_ct"), ("histology", "histology"))
    ]
    rows += [
        Row(
            "Recurrence",
            f"Station {label} involved",
            column,
            lambda s: s.astype(bool),
            published=f"text.cohort.nodal_stations.{pid}",
        )
        for label, column, pid in (
            ("2R", "station_2r", "station_2r"),
            ("7", "station_7", "station_7"),
            ("supraclavicular", "station_supraclavicular", "supraclavicular"),
        )
    ]
    rows += [
        Row(
            "Recurrence",
            "Months from surgery to recurrence, median (range)",
            "months_surgery_to_recurrence",
            summary="median_range",
            published="text.cohort.surgery_to_recurrence",
        ),
        Row(
            "Recurrence",
            "Surgery only before recurrence (no adjuvant treatment)",
            "previous_treatment",
            lambda s: s == "none",
            published="text.cohort.surgery_only",
        ),
        Row(
            "Treatment",
            "Start of CRT, first – last month",
            "crt_start_date",
            summary="period",
            published="text.cohort.period",
        ),
        Row(
            "Treatment",
            "Prescribed radiation dose (Gy), median (range)",
            "radiation_dose_gy",
            summary="median_range",
            published="text.treatment.radiotherapy.dose",
        ),
        Row(
            "Treatment",
            "Delivered radiation dose ≥ 50 Gy",
            "delivered_dose_ge50",
            lambda s: s.astype(bool),
            published="text.treatment.before.radiation_ge50gy.{arm}",
        ),
        Row(
            "Treatment",
            "Docetaxel + cisplatin, weekly",
            "dp_schedule",
            lambda s: s == "weekly",
            published="text.treatment.concurrent_chemo.weekly",
        ),
        Row(
            "Treatment",
            "Docetaxel + cisplatin, every 3 weeks",
            "dp_schedule",
            lambda s: s == "three_weekly",
            published="text.treatment.concurrent_chemo.three_weekly",
        ),
        Row(
            "Treatment",
            "Docetaxel + cisplatin, schedule not stated",
            "dp_schedule",
            lambda s: s == "not_stated",
        ),
        Row(
            "Anlotinib",
            "Started at 12 mg",
            "anlotinib_start_dose_mg",
            lambda s: s == 12,
            published="text.anlotinib.after.start_dose_12mg",
            population=treated,
        ),
        Row(
            "Anlotinib",
            "Weeks of anlotinib, median (range)",
            "anlotinib_weeks",
            summary="median_range",
            published="text.anlotinib.after.exposure",
            population=treated,
        ),
        Row(
            "Anlotinib",
            "More than six cycles",
            "anlotinib_cycles",
            lambda s: s > 6,
            published="text.anlotinib.after.gt6_cycles",
            population=treated,
        ),
        Row(
            "Anlotinib",
            "Dose reduced",
            "anlotinib_dose_reduced",
            lambda s: s.astype(bool),
            published="text.anlotinib.dose_reduction",
            population=treated,
        ),
    ]
    return rows


def _number(x: float) -> str:
    return f"{x:g}"


def _summarise(row: Row, values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    if row.summary == "median_range":
        return f"{_number(values.median())} ({_number(values.min())}–{_number(values.max())})"
    if row.summary == "period":
        dates = pd.to_datetime(values)
        return f"{dates.min():%b %Y} – {dates.max():%b %Y}"
    n = int(row.select(values).sum())
    return f"{n} ({percent(n, len(values)):.1f}%)"


def _published(row: Row, arm: str | None, numbers: dict) -> str:
    if row.published is None:
        return "not reported"
    prefix = row.published.format(arm=arm) if "{arm}" in row.published else row.published

    def get(suffix):
        return numbers.get(f"{prefix}.{suffix}")

    if row.summary == "median_range":
        median, low, high = get("median"), get("min"), get("max")
        return "–" if median is None else f"{_number(median.value)} ({_number(low.value)}–{_number(high.value)})"
    if row.summary == "period":
        start, end = get("start"), get("end")
        return "–" if start is None else f"{start.value} – {end.value}"
    n, pct = get("n"), get("pct")
    if n is None:
        return "–"
    text = f"{n.value:g}" + (f" ({pct.value:g}%)" if pct is not None else "")
    return text + (" (matched)" if ".after." in prefix else "")


def recurrence_and_treatment(df: pd.DataFrame, study) -> pd.DataFrame:
    """The table: section, characteristic, value per arm and overall, and the paper's value."""
    numbers = load_published()
    treated, control = study.treatment.arms
    arm = df[study.treatment.column]
    records = []
    for row in _rows(treated):
        if row.column not in df.columns:
            continue
        per_arm = {code: _summarise(row, df.loc[arm == code, row.column]) for code in (treated, control)}
        if row.population == treated:
            per_arm[control] = "–"
            overall, published = per_arm[treated], _published(row, treated, numbers)
        elif row.published and "{arm}" in row.published:
            overall = _summarise(row, df[row.column])
            published = " / ".join(_published(row, code, numbers) for code in (treated, control))
        else:
            overall, published = _summarise(row, df[row.column]), _published(row, None, numbers)
        records.append(
            {
                "section": row.section,
                "characteristic": row.label,
                study.arm_label(treated): per_arm[treated],
                study.arm_label(control): per_arm[control],
                "All patients": overall,
                "Published": published,
            }
        )
    return pd.DataFrame.from_records(records).set_index(["section", "characteristic"])


def plot_arm_differences(cohort: pd.DataFrame, rows: pd.DataFrame, study, n: int = 4, *, min_cell: int = 0):
    """Bar charts of the ``n`` characteristics whose arms differ most (smallest p in Table 1): the share
    of each arm at each level; box plots of each arm's values for a continuous characteristic. A share
    of 1 to ``min_cell`` - 1 patients (and the one hidden beside it, as in Table 1) is not drawn: "< 5"
    (or "hidden") stands in its place."""
    import matplotlib.pyplot as plt

    from psmbook.present.style import arm_colours

    by_p = rows[rows["test"].notna()].sort_values("p")
    key_columns = list(by_p["variable"].head(n))
    arm = cohort[study.treatment.column]
    measured = [study.variable(c).continuous for c in key_columns]
    fig, axes = plt.subplots(1, len(key_columns), figsize=(10, 3.2), sharey=not any(measured), squeeze=False)
    axes = axes[0]
    colours = arm_colours(study)
    for ax, column in zip(axes, key_columns):
        variable = study.variable(column)
        if variable.continuous:
            _arm_boxes(ax, cohort[column], arm, study, colours)
            ax.set_title(variable.label, fontsize=10)
            ax.set_ylabel(variable.unit, fontsize=8.5)
            continue
        shares = pd.crosstab(cohort[column], arm, normalize="columns").reindex(list(variable.levels)) * 100
        counts = pd.crosstab(cohort[column], arm).reindex(index=list(variable.levels), columns=study.treatment.arms)
        hidden = privacy.hidden_cells(counts.fillna(0), min_cell)
        x = range(len(shares))
        for offset, code in ((-0.2, study.treatment.treated), (0.2, study.treatment.control)):
            shown = shares[code].mask(hidden[code])
            ax.bar([i + offset for i in x], shown, width=0.4, color=colours[code], label=study.arm_label(code))
            for i in (i for i in x if hidden[code].iloc[i]):
                small = privacy.is_suppressed(counts[code].iloc[i], min_cell)
                text = privacy.hidden_text(min_cell) if small else privacy.COMPLEMENT_TEXT
                ax.text(i + offset, 0, text, rotation=90, ha="center", va="bottom", fontsize=7, color=colours[code])
        ax.set_xticks(list(x), [variable.levels[c] for c in shares.index], fontsize=8.5)
        ax.set_title(variable.label, fontsize=10)
    for ax, is_measured in zip(axes, measured):
        if not is_measured:
            ax.set_ylabel("Patients in the arm (%)")
            ax.legend(fontsize=8, loc="upper left")
            break
    fig.suptitle("Where the arms differ before matching")
    fig.tight_layout()
    return fig


#: Whiskers of the box plots (percentiles): no single patient's value is drawn, not even the extremes.
WHISKERS = (5, 95)


def _arm_boxes(ax, values: pd.Series, arm: pd.Series, study, colours) -> None:
    """Box plots of a continuous characteristic, one per arm (treated first), in the arms' colours: the
    quartiles and whiskers at the 5th and 95th percentiles, without outlying points (a patient's value)."""
    import textwrap

    codes = study.treatment.arms
    boxes = ax.boxplot(
        [values[arm == code].dropna() for code in codes],
        patch_artist=True,
        widths=0.6,
        whis=WHISKERS,
        showfliers=False,
        medianprops={"color": "black"},
    )
    for patch, code in zip(boxes["boxes"], codes):
        patch.set_facecolor(colours[code])
    ax.set_xticks([1, 2], [textwrap.fill(study.arm_label(code), 14) for code in codes], fontsize=8)
    ax.set_xlabel(f"whiskers: {WHISKERS[0]}th–{WHISKERS[1]}th percentile", fontsize=7.5)


def cohort_values(counts: dict, rows: pd.DataFrame, study, calibration: pd.DataFrame | None = None) -> dict:
    """The cohort chapter's results: arm sizes, the not-evaluable patients (with response data), every
    Table 1 count, percentage and p before matching, and the synthetic cohort's calibrated quantities."""
    treated, control = study.treatment.treated, study.treatment.control
    values = {
        f"table1.before.n.{treated}": counts["n_treated"],
        f"table1.before.n.{control}": counts["n_control"],
        "text.cohort.n": counts["n_total"],
    }
    if study.has_response:
        values[f"text.response.not_evaluable.{treated}.n"] = counts["ne_treated"]
        values[f"text.response.not_evaluable.{control}.n"] = counts["ne_control"]
    values.update(table1_values(rows, study, "before"))
    if calibration is not None:
        values.update(dict(zip(calibration["published_id"], calibration["synthetic"])))
    return values
