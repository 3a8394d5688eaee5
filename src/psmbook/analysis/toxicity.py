"""Treatment-related adverse events (the paper's Table 4 and its text), per arm, beside the paper.

Grade 3-4 events are compared between arms with a 2x2 test (patients with the event vs without,
denominators: all patients of the arm, as the paper's Table 4); events specific to the added drug are
counted in the treated arm only, at any grade and at grade 3-4.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from psmbook.analysis.association import TEST_LABELS, reproduces, rule_based_test, run_test
from psmbook.analysis.paper_rule import recover_test_rule
from psmbook.analysis.tables import percent, published_number_value, published_p_text
from psmbook.present import privacy
from psmbook.present.format import format_p, p_statement
from psmbook.study.description import Study
from psmbook.study.published import published_value


def _flag(df: pd.DataFrame, column: str) -> pd.Series:
    if column not in df.columns:
        raise ValueError(f"toxicity column {column!r} missing from the data")
    values = df[column]
    bad = ~values.isin([True, False, 0, 1])
    if bad.any():
        raise ValueError(
            f"toxicity column {column!r} must hold true/false (or 0/1); "
            f"found {sorted(map(str, values[bad].unique()))[:5]}"
        )
    return values.astype(bool)


def compare_event(
    flags: pd.Series,
    arm: pd.Series,
    arms: tuple[str, str],
    *,
    published_p: str | None = None,
    test: str | None = None,
) -> dict:
    """n and % with the event per arm, and the p of a 2x2 test.

    With ``published_p`` (the paper's study) and no ``test``, the test is the paper's one rule, recovered once
    from all its printed counts and p (:mod:`psmbook.analysis.paper_rule`; this row's printed p plays no part);
    ``test="paper_rule"`` applies that rule without a printed p (e.g. to the matched cohort); otherwise ``test``
    (default Pearson chi-square; ``"rule"``: the one the usual rule of thumb picks for the table,
    :func:`~psmbook.analysis.association.rule_based_test`).
    """
    treated, control = arms
    counts = {code: (int(flags[arm == code].sum()), int((arm == code).sum())) for code in arms}
    table = np.array(
        [
            [counts[treated][0], counts[control][0]],
            [counts[treated][1] - counts[treated][0], counts[control][1] - counts[control][0]],
        ]
    )
    if test == "paper_rule" or (test is None and published_p is not None):
        test, p = recover_test_rule().test(table)
    else:
        test = rule_based_test(table) if test == "rule" else test or "pearson"
        p = run_test(table, test)
    row = {"test": test, "test_label": TEST_LABELS[test], "p": p}
    for code, side in ((treated, "treated"), (control, "control")):
        n, total = counts[code]
        row.update({f"n_{side}": n, f"N_{side}": total, f"pct_{side}": percent(n, total)})
    if published_p is not None:
        row["published_p"] = published_p
        row["p_reproduces"] = reproduces(p, published_p)
    return row


def matched_tests(severe: pd.DataFrame, study: Study) -> dict[str, str]:
    """The tests of the matched cohort's grade 3-4 rows: the paper's one recovered rule on the matched counts
    (the paper's study), or the tests `severe` (all patients, :func:`grade34_table`) used (another study)."""
    return dict.fromkeys(severe.index, "paper_rule") if study.paper else severe["test"].to_dict()


def grade34_table(
    df: pd.DataFrame, study: Study, published: Mapping | None = None, tests: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Grade 3-4 events per arm (Table 4 layout), with the overall "any grade 3-4" row last.

    ``published`` (id -> value, e.g. ``psmbook.study.published.load_published()``) puts the paper's values
    beside the computed ones, every row tested by the paper's one recovered rule (:func:`compare_event`); ``tests``
    (event -> test name) fixes the tests instead, e.g. to reuse the paper's choices on another sample.
    With neither, each row takes the test the usual rule of thumb picks for its counts. Without an
    ``any_grade3_4`` column in the study description, the last row counts the patients with any of the
    listed events ("Any listed grade 3–4 event").
    """
    spec = study.toxicity
    if spec is None or not spec.grade3_4:
        raise ValueError("the study description has no toxicity.grade3_4 events")
    arms = study.treatment.arms
    arm = df[study.treatment.column]
    rows = []
    events = {event: (item.column, item.label) for event, item in spec.grade3_4.items()}
    if spec.any_grade3_4:
        events["any_grade3_4"] = (spec.any_grade3_4, "Any grade 3–4 event")
    default = "rule" if published is None and tests is None else None
    for event, (column, label) in [*events.items(), *([] if spec.any_grade3_4 else [("any_grade3_4", (None, ""))])]:
        if column is None:  # no column for any event: any of the listed ones
            flags = pd.concat([_flag(df, c) for c, _ in events.values()], axis=1).any(axis=1)
            label = "Any listed grade 3–4 event"
        else:
            flags = _flag(df, column)
        p_id = "text.toxicity.g34_overall.p" if event == "any_grade3_4" else f"table4.{event}.p"
        published_p = published_p_text(published, p_id) if tests is None else None
        test = (tests or {}).get(event, default)
        row = {"event": event, "label": label, **compare_event(flags, arm, arms, published_p=published_p, test=test)}
        if published:
            for code, side in zip(arms, ("treated", "control")):
                if event == "any_grade3_4":
                    row[f"published_n_{side}"] = float("nan")  # the paper prints the overall % only
                    row[f"published_pct_{side}"] = published_number_value(
                        published, f"text.toxicity.g34_overall.{code}.pct"
                    )
                else:
                    row[f"published_n_{side}"] = published_number_value(published, f"table4.{event}.{code}.n")
                    row[f"published_pct_{side}"] = published_number_value(published, f"table4.{event}.{code}.pct")
        rows.append(row)
    return pd.DataFrame(rows).set_index("event")


def drug_specific_table(df: pd.DataFrame, study: Study, published: Mapping | None = None) -> pd.DataFrame:
    """Events specific to the added drug in the treated arm: any grade and grade 3-4, n (%)."""
    spec = study.toxicity.drug_specific if study.toxicity else {}
    treated = df[df[study.treatment.column] == study.treatment.treated]
    total = len(treated)
    rows = []
    for event, item in spec.items():
        grade = treated[item.column]
        if not grade.between(0, 5).all():
            raise ValueError(f"column {item.column!r}: grades must be 0 (none) to 5")
        any_grade, severe = int((grade > 0).sum()), int((grade >= 3).sum())
        row = {
            "event": event,
            "label": item.label,
            "n_any": any_grade,
            "pct_any": percent(any_grade, total),
            "n_g34": severe,
            "pct_g34": percent(severe, total),
            "N": total,
        }
        if published:
            any_id, g34_id = f"text.anlotinib.any_grade.{event}", f"table4.anlotinib_g34.{event}.anlotinib"
            row["published_n_any"] = published_number_value(published, f"{any_id}.n")
            row["published_pct_any"] = published_number_value(published, f"{any_id}.pct")
            row["published_n_g34"] = published_number_value(published, f"{g34_id}.n")
            row["published_pct_g34"] = published_number_value(published, f"{g34_id}.pct")
        rows.append(row)
    columns = ["event", "label", "n_any", "pct_any", "n_g34", "pct_g34", "N"]
    return pd.DataFrame(rows, columns=None if rows else columns).set_index("event")


def event_cell(n, pct, min_cell: int = 0) -> str:
    """One arm's cell of Table 4: "12 (15.8%)"; "15.8%" where only the percentage is known (the paper
    prints the overall rate as a percentage); "–" without a percentage; "< 5" for a count from 1 to
    ``min_cell`` - 1 (no percentage, which would give it away)."""
    if privacy.is_suppressed(n, min_cell):
        return privacy.hidden_text(min_cell)
    if pd.isna(pct):
        return "–"
    return f"{pct:.1f}%" if pd.isna(n) else f"{int(n)} ({pct:.1f}%)"


def overall_hidden(rows: pd.DataFrame, side: str, min_cell: int) -> bool:
    """Whether an arm's count of any grade 3-4 event (row ``any_grade3_4``) is hidden: it minus a listed
    event's count would give 1 to ``min_cell`` - 1 patients (those with only the other events)."""
    if not min_cell or "any_grade3_4" not in rows.index:
        return False
    overall = rows.at["any_grade3_4", f"n_{side}"]
    others = rows.drop(index="any_grade3_4")[f"n_{side}"]
    return any(privacy.is_suppressed(overall - n, min_cell) for n in others if pd.notna(n))


def grade34_display(
    rows: pd.DataFrame,
    study: Study,
    *,
    show_published: bool = True,
    min_cell: int = 0,
    computed_label: str = "Computed",
) -> pd.DataFrame:
    """Table 4 as the paper prints it: n (%) per arm and p, computed beside published; computed counts
    from 1 to ``min_cell`` - 1 print as "< min_cell" (the row of any event "hidden" when it would give
    one away, :func:`overall_hidden`). Without published numbers and with an empty
    ``computed_label`` (a study other than the paper's), the columns have one header row."""
    treated, control = study.treatment.arms
    n_t, n_c = int(rows["N_treated"].iloc[0]), int(rows["N_control"].iloc[0])
    columns = {}
    for side, code, n in (("treated", treated, n_t), ("control", control, n_c)):
        head = f"{study.arm_label(code)} (n={n})"
        hide = overall_hidden(rows, side, min_cell)
        columns[(head, "Computed")] = [
            privacy.COMPLEMENT_TEXT
            if event == "any_grade3_4" and hide and not privacy.is_suppressed(a, min_cell)
            else event_cell(a, b, min_cell)
            for event, a, b in zip(rows.index, rows[f"n_{side}"], rows[f"pct_{side}"])
        ]
        if show_published and f"published_pct_{side}" in rows:
            columns[(head, "Published")] = [
                event_cell(a, b) for a, b in zip(rows[f"published_n_{side}"], rows[f"published_pct_{side}"])
            ]
    columns[("p-value", "Computed")] = [format_p(p) for p in rows["p"]]
    if show_published and "published_p" in rows:
        columns[("p-value", "Published")] = [p or "–" for p in rows["published_p"]]
    columns[("p-value", "Test")] = list(rows["test_label"])
    table = pd.DataFrame(columns, index=pd.Index(rows["label"], name="Grade 3–4 adverse event"))
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    if not computed_label and all(sub in ("Computed", "Test") for _, sub in columns):
        table.columns = [head if sub == "Computed" else sub for head, sub in columns]
    return table


def plot_grade34(rows: pd.DataFrame, study: Study, *, title: str, min_cell: int = 0):
    """Diverging bars: % of patients with each grade 3-4 event, treated arm left, control arm right; a
    share of 1 to ``min_cell`` - 1 patients (``n_treated``, ``n_control``) is not drawn, "< 5" in its place."""
    import matplotlib.pyplot as plt

    from psmbook.present.style import CONTROL_COLOUR, TREATED_COLOUR

    shown = rows.iloc[::-1]
    y = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(7.2, 0.45 * len(shown) + 1.4))
    sides = ("treated", "control")
    small = {
        side: shown[f"n_{side}"].map(lambda n: privacy.is_suppressed(n, min_cell))
        | ((shown.index == "any_grade3_4") & overall_hidden(rows, side, min_cell))
        for side in sides
    }
    pct = {side: shown[f"pct_{side}"].mask(small[side], 0.0) for side in sides}
    ax.barh(y, -pct["treated"], color=TREATED_COLOUR, label=study.arm_label(study.treatment.treated))
    ax.barh(y, pct["control"], color=CONTROL_COLOUR, label=study.arm_label(study.treatment.control))
    for i, (t, c) in enumerate(zip(pct["treated"], pct["control"])):
        text = {s: privacy.hidden_text(min_cell) if small[s].iloc[i] else f"{pct[s].iloc[i]:.1f}" for s in sides}
        ax.text(-t - 0.8, i, text["treated"], ha="right", va="center", fontsize=8)
        ax.text(c + 0.8, i, text["control"], ha="left", va="center", fontsize=8)
    limit = float(max(pct["treated"].max(), pct["control"].max(), 1.0 if min_cell else 0.0)) * 1.25
    ax.set_xlim(-limit, limit)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, shown["label"])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{abs(v):.0f}"))
    ax.set_xlabel("Patients with the event (%)")
    ax.set_title(title, pad=24)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8.5)
    fig.tight_layout()
    return fig


def dose_reductions(df: pd.DataFrame, study: Study) -> pd.Series:
    """Number of treated patients whose dose was reduced, by reason ("not recorded" without a reason
    column); empty when the study records no dose reductions."""
    spec = study.toxicity
    if spec is None or not spec.dose_reduced:
        return pd.Series(dtype=np.int64, name="patients")
    treated = df[df[study.treatment.column] == study.treatment.treated]
    reduced = _flag(treated, spec.dose_reduced)
    if not spec.dose_reduction_reason:
        return pd.Series({"not recorded": int(reduced.sum())}, name="patients")[lambda s: s > 0]
    return treated.loc[reduced, spec.dose_reduction_reason].value_counts().rename("patients")


def deaths_during_treatment(df: pd.DataFrame, study: Study, *, min_cell: int = 0) -> pd.DataFrame:
    """Deaths during treatment per arm and cause; with ``min_cell``, counts from 1 to ``min_cell`` - 1
    print as "< min_cell"."""
    spec = study.toxicity
    died = _flag(df, spec.death_during_treatment)
    recorded = (
        df.loc[died, spec.death_cause] if spec.death_cause else pd.Series(None, index=df.index[died], dtype=object)
    )
    causes = recorded.fillna("not recorded").astype(str)
    causes = causes.str.replace("_", " ").str.capitalize().rename("Cause of death")
    table = pd.crosstab(causes, df.loc[died, study.treatment.column])
    table = table.reindex(columns=list(study.treatment.arms), fill_value=0).rename(columns=study.arm_label)
    table.columns.name = None
    if min_cell:
        table = table.map(lambda n: privacy.count_text(n, min_cell))
    return table


# ----------------------------------------------------------------------------------------------------
# For the chapter's prose and results


def _rate(row: pd.Series, side: str, min_cell: int, hidden: bool = False) -> str:
    """An arm's rate for the prose; "not shown" when its count, or the rest of the arm, is below ``min_cell``
    (or the count is ``hidden`` to protect another)."""
    n, total = row[f"n_{side}"], row[f"N_{side}"]
    if privacy.is_suppressed(n, min_cell) or privacy.is_suppressed(total - n, min_cell):
        return f"not shown (fewer than {min_cell} patients)"
    if hidden:
        return f"not shown (it would give away a count of fewer than {min_cell} patients)"
    return f"{row[f'pct_{side}']:.1f}%"


def grade34_numbers(severe: pd.DataFrame, *, name: str = "g34", min_cell: int = 0) -> dict[str, object]:
    """The overall grade 3-4 rates and their p for the prose (``<name>_treated``, ``<name>_control``,
    ``<name>_p``; a rate whose count is from 1 to ``min_cell`` - 1 not shown) and what the overall row
    counts (``<name>_what``); for a table computed beside the paper, also how many p-values print as the
    paper's, which rows needed a test other than Pearson's, and the most frequent event."""
    overall = severe.loc["any_grade3_4"]
    listed = overall["label"] != "Any grade 3–4 event"  # no column for any event: any of the listed ones
    numbers: dict[str, object] = {
        f"{name}_what": "At least one of the listed grade 3–4 events" if listed else "Grade 3–4 events of any kind",
        f"{name}_treated": _rate(overall, "treated", min_cell, overall_hidden(severe, "treated", min_cell)),
        f"{name}_control": _rate(overall, "control", min_cell, overall_hidden(severe, "control", min_cell)),
        f"{name}_p": p_statement(overall["p"]),
    }
    if "p_reproduces" in severe:
        not_pearson = severe[severe["test"] != "pearson"]
        most = severe.drop(index="any_grade3_4")["pct_treated"].idxmax()
        numbers.update(
            n_severe_reproduced=int(severe["p_reproduces"].sum()),
            n_severe_rows=len(severe),
            non_pearson="; ".join(
                f"{label} needed the {test}" for label, test in zip(not_pearson["label"], not_pearson["test_label"])
            )
            or "none needed another test",
            most_common=severe.loc[most, "label"].lower(),
        )
    return numbers


def drug_specific_display(specific: pd.DataFrame, study: Study, *, min_cell: int = 0) -> pd.DataFrame:
    """The added drug's own events, any grade and grade 3-4, n (%), beside the paper's (as it prints
    them: "12 (15.8%)", "3 (4%)") when `specific` carries them (:func:`drug_specific_table` with
    ``published``); computed counts from 1 to ``min_cell`` - 1 print as "< min_cell"."""
    n_treated = int(specific["N"].iloc[0])
    columns = {}
    for stat, name in (("any", "any grade"), ("g34", "grade 3–4")):
        columns[name] = [
            privacy.n_pct_text(n, p, min_cell) for n, p in zip(specific[f"n_{stat}"], specific[f"pct_{stat}"])
        ]
        if f"published_n_{stat}" in specific:
            pairs = zip(specific[f"published_n_{stat}"], specific[f"published_pct_{stat}"])
            columns[f"{name}, published"] = ["–" if pd.isna(n) else f"{n:g} ({p:g}%)" for n, p in pairs]
    name = f"{study.arm_label(study.treatment.treated)} (n={n_treated})"
    return pd.DataFrame(columns, index=pd.Index(specific["label"], name=name))


def drug_exposure(df: pd.DataFrame, study: Study) -> dict[str, object]:
    """Treated patients with any event of the added drug (n, of, %; without a ``drug_any_event`` column,
    those with any listed event), the share of those events of grade 1-2, and the dose reductions by reason."""
    treated = df[df[study.treatment.column] == study.treatment.treated]
    grades = treated[[item.column for item in study.toxicity.drug_specific.values()]]
    if study.toxicity.drug_any_event:
        any_event = int(treated[study.toxicity.drug_any_event].sum())
    else:
        any_event = int((grades > 0).any(axis=1).sum())
    events_total = int((grades > 0).sum().sum())
    mild = int(((grades > 0) & (grades < 3)).sum().sum())
    return {
        "any_event": any_event,
        "treated": len(treated),
        "any_event_pct": percent(any_event, len(treated)),
        "mild_pct": percent(mild, events_total),
        "reductions": dose_reductions(df, study),
    }


def drug_numbers(exposure: dict[str, object], study: Study | None = None, min_cell: int = 0) -> dict[str, object]:
    """:func:`drug_exposure` for the prose, beside the paper's any-event rate and reduced dose (for the
    paper's study, or without ``study``); counts from 1 to ``min_cell`` - 1 print as "< min_cell"."""
    reductions = exposure["reductions"]
    hidden = privacy.complementary_mask(list(reductions), ["all"] * len(reductions), min_cell)  # they add up
    texts = privacy.n_pct_cells(list(reductions), [None] * len(reductions), hidden, min_cell)
    total = int(reductions.sum())
    any_event, treated = exposure["any_event"], exposure["treated"]
    if privacy.is_suppressed(any_event, min_cell) or privacy.is_suppressed(treated - any_event, min_cell):
        any_text = f"{privacy.hidden_text(min_cell)} of {treated}"
    else:
        any_text = f"{any_event} of {treated} ({exposure['any_event_pct']:.1f}%)"
    numbers = {
        "any_event": any_text,
        "mild_share": "no events" if pd.isna(exposure["mild_pct"]) else f"{exposure['mild_pct']:.1f}%",
        "n_reduced": privacy.hidden_text(min_cell) if privacy.is_suppressed(total, min_cell) else total,
        "reductions": ", ".join(
            f"{text} for {reason.replace('_', '-')}" for text, reason in zip(texts, reductions.index)
        )
        or "none",
    }
    if study is None or study.paper:
        numbers["any_event_published"] = f"{published_value('text.anlotinib.any_event.pct'):g}%"
        numbers["reduction_dose"] = f"{published_value('text.anlotinib.dose_reduction.dose'):g} mg"
    return numbers


def toxicity_values(
    severe: pd.DataFrame,
    specific: pd.DataFrame,
    exposure: dict[str, object],
    severe_matched: pd.DataFrame,
    study: Study,
    min_cell: int = 0,
) -> dict[str, object]:
    """The toxicity chapter's results under the paper's ids (Table 4, the text) and ``toxicity.*`` ids
    for what the paper does not print (the overall counts, the matched cohort); for another study,
    Table 4's ids for its events and ``toxicity.*`` ids for the rest (:func:`study_toxicity_values`)."""
    if not study.paper:
        return study_toxicity_values(severe, specific, exposure, severe_matched, study, min_cell=min_cell)
    values: dict[str, object] = {}
    sides = ((study.treatment.treated, "treated"), (study.treatment.control, "control"))
    for event, row in severe.iterrows():
        for code, side in sides:
            if event == "any_grade3_4":
                values[f"text.toxicity.g34_overall.{code}.pct"] = row[f"pct_{side}"]
                values[f"toxicity.g34_overall.{code}.n"] = row[f"n_{side}"]
            else:
                values[f"table4.{event}.{code}.n"] = row[f"n_{side}"]
                values[f"table4.{event}.{code}.pct"] = row[f"pct_{side}"]
                values[f"text.toxicity.g34.{event}.{code}.pct"] = row[f"pct_{side}"]
        if event == "any_grade3_4":
            values["text.toxicity.g34_overall.p"] = row["p"]
        else:
            values[f"table4.{event}.p"] = row["p"]
            values[f"text.toxicity.g34.{event}.p"] = row["p"]
    for event, row in specific.iterrows():
        values[f"text.anlotinib.any_grade.{event}.n"] = row["n_any"]
        values[f"text.anlotinib.any_grade.{event}.pct"] = row["pct_any"]
        if pd.notna(row.get("published_n_g34")):
            values[f"table4.anlotinib_g34.{event}.anlotinib.n"] = row["n_g34"]
            values[f"table4.anlotinib_g34.{event}.anlotinib.pct"] = row["pct_g34"]
            values[f"text.anlotinib.g34.{event}.pct"] = row["pct_g34"]
    values["text.anlotinib.any_event.pct"] = exposure["any_event_pct"]
    values["text.anlotinib.dose_reduction.n"] = int(exposure["reductions"].sum())
    for reason, n in exposure["reductions"].items():
        values[f"text.anlotinib.dose_reduction.{reason}.n"] = int(n)
    for event, row in severe_matched.iterrows():
        for code, side in sides:
            values[f"toxicity.after.{event}.{code}.n"] = row[f"n_{side}"]
            values[f"toxicity.after.{event}.{code}.pct"] = row[f"pct_{side}"]
        values[f"toxicity.after.{event}.p"] = row["p"]
    return values


def study_toxicity_values(
    severe: pd.DataFrame,
    specific: pd.DataFrame,
    exposure: dict[str, object] | None,
    severe_matched: pd.DataFrame,
    study: Study,
    min_cell: int = 0,
) -> dict[str, object]:
    """The results of the toxicity chapter for a study other than the paper's: per grade 3-4 event and arm
    n and % and the p (``table4.<event>...``; the row of any event as ``toxicity.g34_overall...``), the
    added drug's events in the treated arm (``toxicity.drug.<event>.any|g34.n|pct``, with ``exposure``)
    and the matched cohort's rows (``toxicity.after...``); the row of any event as its page prints it
    (:func:`overall_hidden`)."""
    values: dict[str, object] = {}
    sides = ((study.treatment.treated, "treated"), (study.treatment.control, "control"))
    for prefix, rows in (("", severe), ("toxicity.after.", severe_matched)):
        for event, row in rows.iterrows():
            key = (
                f"{prefix}{event}"
                if prefix
                else ("toxicity.g34_overall" if event == "any_grade3_4" else f"table4.{event}")
            )
            for code, side in sides:
                values[f"{key}.{code}.n"] = row[f"n_{side}"]
                values[f"{key}.{code}.pct"] = row[f"pct_{side}"]
                if event == "any_grade3_4" and overall_hidden(rows, side, min_cell):
                    values[f"{key}.{code}.n"] = values[f"{key}.{code}.pct"] = privacy.COMPLEMENT_TEXT
            values[f"{key}.p"] = row["p"]
    for event, row in specific.iterrows():
        for stat in ("any", "g34"):
            values[f"toxicity.drug.{event}.{stat}.n"] = row[f"n_{stat}"]
            values[f"toxicity.drug.{event}.{stat}.pct"] = row[f"pct_{stat}"]
    if exposure is not None:
        values["toxicity.drug.any_event.n"] = exposure["any_event"]
        values["toxicity.drug.any_event.pct"] = exposure["any_event_pct"]
        values["toxicity.drug.dose_reduction.n"] = int(exposure["reductions"].sum())
    return values
