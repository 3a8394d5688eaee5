"""Table 1 (baseline characteristics by arm) in the paper's layout, beside the paper's own numbers.

:func:`crosstab` counts one characteristic by arm, :func:`categorical_rows` builds a tidy frame of
n (%) per arm and a p-value per characteristic (with the published values beside them), and
:func:`table1_display` lays it out like the paper's Table 1.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Iterable, Mapping, Optional, Sequence

import pandas as pd

from psmbook.analysis import continuous
from psmbook.analysis.association import (
    TEST_CHOICES,
    TEST_LABELS,
    infer_paper_test,
    reproduces,
    rule_based_test,
    run_test,
)
from psmbook.analysis.paper_rule import recover_test_rule
from psmbook.present import privacy
from psmbook.present.format import format_p, p_statement
from psmbook.study.codes import as_codes
from psmbook.study.description import Study, Variable
from psmbook.study.ids import frame_values
from psmbook.study.published import select

__all__ = [
    "crosstab",
    "categorical_rows",
    "table1_display",
    "table1_values",
    "table1_before",
    "table1_after",
    "recovered_tests",
    "percent",
    "published_id",
    "published_number_value",
    "published_p_text",
    "arm_codes",
    "level_codes",
    "counts_by_arm",
    "suppression_mask",
    "display_frames",
    "smallest_p",
    "table1_method",
    "TESTS",
]

#: Accepted values of ``categorical_rows(test=...)``.
TESTS: tuple[str, ...] = ("infer", "rule", "paper_rule") + TEST_CHOICES

_MISSING = "<missing>"
_MAX_ROWS_NAMED = 5
_SIDES = ("treated", "control")


# ----------------------------------------------------------------------------------------------------
# Validation


def _row_ids(df: pd.DataFrame, mask: pd.Series, study: Study) -> list:
    where = df.loc[mask]
    ids = where[study.id_column] if study.id_column in df.columns else pd.Series(where.index, index=where.index)
    return ids.head(_MAX_ROWS_NAMED).tolist()


def level_codes(df: pd.DataFrame, column: str, allowed: Sequence[str], study: Study, what: str) -> pd.Series:
    """Column `column` as level codes; ValueError naming the column, bad values and their rows."""
    if column not in df.columns:
        raise ValueError(
            f"column {column!r} ({what}) is missing from the data; columns present: {', '.join(map(str, df.columns))}"
        )
    codes = as_codes(df[column])
    bad = codes.isna() | ~codes.isin(list(allowed))
    if bad.any():
        values = sorted({_MISSING if c is None else c for c in codes[bad]})
        ids = _row_ids(df, bad, study)
        id_name = study.id_column if study.id_column in df.columns else "index"
        raise ValueError(
            f"column {column!r} ({what}) holds {int(bad.sum())} value(s) not among its levels "
            f"{list(allowed)}: {values}; first rows ({id_name}): {ids}"
        )
    return codes


def arm_codes(df: pd.DataFrame, study: Study) -> pd.Series:
    """The treatment arm of every patient as an arm code; ValueError naming the bad values and rows."""
    return level_codes(df, study.treatment.column, study.treatment.arms, study, "treatment arm")


# ----------------------------------------------------------------------------------------------------
# Counting


def counts_by_arm(codes: pd.Series, arms: pd.Series, levels: Sequence[str], study: Study, name: str) -> pd.DataFrame:
    """Patients per level (rows, in the order of ``levels``, levels nobody has kept with zero counts)
    and arm (columns, treated first), from validated level and arm codes (:func:`level_codes`,
    :func:`arm_codes`); the rows are named ``name``."""
    tab = pd.crosstab(
        pd.Categorical(codes, categories=list(levels)),
        pd.Categorical(arms, categories=list(study.treatment.arms)),
        dropna=False,
    )
    tab = tab.reindex(index=list(levels), columns=list(study.treatment.arms), fill_value=0).astype(int)
    tab.index.name = name
    tab.columns.name = study.treatment.column
    return tab


def crosstab(df: pd.DataFrame, column: str, study: Study) -> pd.DataFrame:
    """Counts of `column` by level (the study's order, omitted levels included) x arm (treated first).

    Levels nobody has are kept with zero counts. ValueError if the column is missing from `df` or holds
    a value that is not one of the variable's level codes.
    """
    var = study.variable(column)
    if var.continuous:
        raise ValueError(f"covariate {column!r} is continuous (a number): it has no levels to count")
    arms = arm_codes(df, study)
    codes = level_codes(df, column, var.codes, study, var.label)
    return counts_by_arm(codes, arms, var.codes, study, column)


def percent(n: int, total: int, decimals: int = 1) -> float:
    """100 n / total rounded half-up to `decimals` (as SPSS prints it); NaN when total is 0."""
    if total == 0:
        return float("nan")
    exact = Fraction(100 * int(n), int(total))
    q = Decimal(exact.numerator) / Decimal(exact.denominator)
    return float(q.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


# ----------------------------------------------------------------------------------------------------
# Published numbers


def published_id(
    period: str, column: str, level: Optional[str] = None, arm: Optional[str] = None, stat: str = "p"
) -> str:
    """Id of a published Table 1 number: ``table1.{period}.{column}.{level}.{arm}.{n|pct}`` or
    ``table1.{period}.{column}.p``."""
    if stat == "p":
        return f"table1.{period}.{column}.p"
    return f"table1.{period}.{column}.{level}.{arm}.{stat}"


def _pub_fields(published: Optional[Mapping], key: str) -> tuple[Any, Optional[str]]:
    """(value, printed text) of a published entry: a plain number or text, a mapping with
    ``value``/``printed`` keys, or a record with those attributes (psmbook.study.published.PublishedNumber)."""
    if published is None:
        return None, None
    try:
        entry = published[key]
    except (KeyError, TypeError):
        return None, None
    if isinstance(entry, Mapping):
        value, printed = entry.get("value"), entry.get("printed")
    elif hasattr(entry, "value"):
        value, printed = getattr(entry, "value"), getattr(entry, "printed", None)
    else:
        value, printed = entry, None
    return value, (None if printed is None else str(printed))


def published_number_value(published: Optional[Mapping], key: str) -> float:
    """A published number as a float: its value, else its printed text read as a number ("61.8%" ->
    61.8); NaN when ``published`` lacks ``key`` or prints no number there."""
    value, printed = _pub_fields(published, key)
    for raw in (value, printed):
        if raw is None or isinstance(raw, bool):
            continue
        try:
            return float(str(raw).strip().rstrip("%")) if isinstance(raw, str) else float(raw)
        except ValueError:
            continue
    return float("nan")


def published_p_text(published: Optional[Mapping], key: str) -> Optional[str]:
    """The published p as printed: the printed text when given, else the value in the paper's style."""
    value, printed = _pub_fields(published, key)
    if printed is not None:
        return printed.strip()
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    return format_p(float(value))


# ----------------------------------------------------------------------------------------------------
# Table 1 rows


def categorical_rows(
    df: pd.DataFrame,
    study: Study,
    columns: Optional[Iterable[str]] = None,
    test: str = "infer",
    published: Optional[Mapping] = None,
    period: str = "before",
    include_omitted_in_test: bool = True,
) -> pd.DataFrame:
    """One row per (characteristic, level) shown in Table 1: n and % per arm, p, and the test used; one
    row per continuous characteristic (``kind`` "continuous"): its summary per arm, mean (SD) with
    Welch's t-test or median [IQR] with the Mann-Whitney U test (:func:`psmbook.analysis.continuous.record`).

    Parameters
    ----------
    df : patient-level data, one row per patient, with the study's arm column and covariates.
    study : the study description (column names, level codes and labels, arm codes).
    columns : covariates to tabulate (default: all of the study's, in Table 1 order).
    test : ``"infer"`` recovers, per characteristic, the test whose p reproduces the published p
        (:func:`~psmbook.analysis.association.infer_paper_test`; needs `published`); ``"rule"`` applies the
        rule of thumb of :func:`~psmbook.analysis.association.rule_based_test`; ``"paper_rule"`` the one rule
        recovered from all the paper's printed counts and p (:mod:`psmbook.analysis.paper_rule`); or one fixed test of
        :data:`~psmbook.analysis.association.TEST_CHOICES` (``"pearson"``, ``"fisher"``, ``"yates"``,
        ``"likelihood_ratio"``).
    published : mapping from published-number id to value (e.g. from ``psmbook.study.published``); when
        given, the published n, % and p are set beside the computed ones.
    period : ``"before"`` or ``"after"`` matching, as in the published ids.
    include_omitted_in_test : levels listed in ``table1_omit`` (no row in the table) count in the test
        (default, e.g. "no previous treatment"); False tests the shown levels only.

    Percentages are of the arm's n, one decimal. p, test and published p sit on the first row of each
    characteristic (NaN / None on the others).
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    if test == "infer" and published is None:
        raise ValueError(
            "test='infer' recovers the paper's test from its printed p-values: pass "
            "published=... (e.g. psmbook.study.published.select('table1')) or choose a fixed test"
        )
    variables: list[Variable] = list(study.covariates) if columns is None else [study.variable(c) for c in columns]
    missing = [v.column for v in variables if v.column not in df.columns]
    if missing:
        raise ValueError(
            f"column(s) {missing} missing from the data; columns present: {', '.join(map(str, df.columns))}"
        )
    treated, control = study.treatment.arms
    arms = arm_codes(df, study)
    n_arm = {treated: int((arms == treated).sum()), control: int((arms == control).sum())}

    records = []
    for var in variables:
        if var.continuous:  # one row: mean (SD) and Welch's t-test, or median [IQR] and Mann-Whitney U
            rec = continuous.record(df, var, arms, treated, control)
            rec.update({"N_treated": n_arm[treated], "N_control": n_arm[control]})
            if published is not None:
                rec.update({f"published_{k}_{side}": float("nan") for k in ("n", "pct") for side in _SIDES})
                rec.update({"published_p": published_p_text(published, published_id(period, var.column))})
                rec["p_reproduces"] = None if rec["published_p"] is None else reproduces(rec["p"], rec["published_p"])
            records.append(rec)
            continue
        label = None
        tab = crosstab(df, var.column, study)
        test_tab = tab if include_omitted_in_test else tab.loc[list(var.shown_levels)]
        counts = test_tab.to_numpy()
        pub_p = published_p_text(published, published_id(period, var.column))
        p_reproduces: Optional[bool] = None
        if test == "infer":
            if pub_p is None:
                name = "pearson"
                p = run_test(counts, name)
                note = f"no published p ({published_id(period, var.column)}); {TEST_LABELS[name]}"
            else:
                inf = infer_paper_test(counts, pub_p)
                if not inf.reproduces and include_omitted_in_test and var.table1_omit:
                    # The paper may have tested only the levels it prints (e.g. without "none").
                    shown_only = infer_paper_test(tab.loc[list(var.shown_levels)].to_numpy(), pub_p)
                    if shown_only.reproduces:
                        omitted = ", ".join(var.levels[c] for c in var.table1_omit)
                        inf = dataclasses.replace(
                            shown_only,
                            explanation=(
                                f"only the printed levels reproduce the published p (the unprinted "
                                f"{omitted!r} row left out): " + shown_only.explanation
                            ),
                        )
                        label = f"{TEST_LABELS[inf.test]}, printed levels only"
                name, p, note = inf.test, inf.p, inf.explanation
                if not inf.reproduces:
                    label = f"{TEST_LABELS[name]} (closest; no test reproduces)"
        elif test == "paper_rule":  # one rule for every row, recovered once from the paper's (counts, p) pairs
            rule = recover_test_rule()
            name, p = rule.test((tab.loc[list(var.shown_levels)] if rule.levels == "printed" else test_tab).to_numpy())
            note = f"{TEST_LABELS[name]}, by the paper's rule: {rule.statement}"
        else:
            name = rule_based_test(counts) if test == "rule" else test
            if name == "yates" and (counts.sum(axis=1) > 0).sum() != 2:
                name = "pearson"  # no continuity correction beyond 2 x 2 (as SPSS)
            p = run_test(counts, name)
            note = TEST_LABELS[name] + (" (rule of thumb)" if test == "rule" else "")
        if pub_p is not None:
            p_reproduces = reproduces(p, pub_p)
        for i, level in enumerate(var.shown_levels):
            rec = {
                "variable": var.column,
                "variable_label": var.label,
                "kind": "categorical",
                "level": level,
                "level_label": var.levels[level],
                "n_treated": int(tab.at[level, treated]),
                "pct_treated": percent(tab.at[level, treated], n_arm[treated]),
                "n_control": int(tab.at[level, control]),
                "pct_control": percent(tab.at[level, control], n_arm[control]),
                "N_treated": n_arm[treated],
                "N_control": n_arm[control],
                "p": p if i == 0 else float("nan"),
                "test": name if i == 0 else None,
                "test_label": (label or TEST_LABELS[name]) if i == 0 else None,
                "test_note": note if i == 0 else None,
            }
            if published is not None:
                for arm, side in ((treated, "treated"), (control, "control")):
                    rec[f"published_n_{side}"] = published_number_value(
                        published, published_id(period, var.column, level, arm, "n")
                    )
                    rec[f"published_pct_{side}"] = published_number_value(
                        published, published_id(period, var.column, level, arm, "pct")
                    )
                rec["published_p"] = pub_p if i == 0 else None
                rec["p_reproduces"] = p_reproduces if i == 0 else None
            records.append(rec)
    rows = pd.DataFrame.from_records(records)
    rows.attrs.update(
        {
            "period": period,
            "test": test,
            "arms": (treated, control),
            "arm_labels": (study.arm_label(treated), study.arm_label(control)),
            "N": (n_arm[treated], n_arm[control]),
        }
    )
    return rows


# ----------------------------------------------------------------------------------------------------
# Display

_PERIOD_LABELS = {"before": "Before Propensity Score Matching", "after": "After Propensity Score Matching"}


def suppression_mask(rows: pd.DataFrame, column: str, min_cell: int) -> pd.Series:
    """Cells of one arm's counts (``column`` of :func:`categorical_rows`) to suppress: counts 1 to
    ``min_cell`` - 1, and, where a characteristic has exactly one such cell, its next smallest count too
    (else the arm total minus the others gives it away; see :func:`psmbook.present.privacy.complementary_mask`)."""
    mask = privacy.complementary_mask(rows[column].tolist(), rows["variable"].tolist(), min_cell)
    return pd.Series(mask, index=rows.index, dtype=bool)


def _one_period(
    rows: pd.DataFrame,
    arm_labels: Sequence[str],
    show_published: bool,
    show_test: bool,
    computed_label: str,
    min_cell: int = 0,
) -> pd.DataFrame:
    n_t, n_c = int(rows["N_treated"].iloc[0]), int(rows["N_control"].iloc[0])
    head_t = f"{arm_labels[0]} (n={n_t})"
    head_c = f"{arm_labels[1]} (n={n_c})"
    first = rows["test"].notna()

    def cells(side: str) -> list[str]:
        hidden = suppression_mask(rows, f"n_{side}", min_cell)
        shown = privacy.n_pct_cells(rows[f"n_{side}"], rows[f"pct_{side}"], hidden, min_cell)
        if "text_treated" not in rows.columns:
            return shown
        # a continuous row: its summary, unless fewer than min_cell patients have a value
        summaries = rows[f"text_{side}"].where(rows["kind"] == "continuous")
        return [c if pd.isna(t) or h else t for c, t, h in zip(shown, summaries, hidden)]

    data: dict[tuple[str, str], list] = {
        (head_t, computed_label): cells("treated"),
        (head_c, computed_label): cells("control"),
        ("p-value", computed_label): [format_p(p) if f else "" for p, f in zip(rows["p"], first)],
    }
    if show_published:
        data[(head_t, "Published")] = [
            privacy.n_pct_text(n, p) for n, p in zip(rows["published_n_treated"], rows["published_pct_treated"])
        ]
        data[(head_c, "Published")] = [
            privacy.n_pct_text(n, p) for n, p in zip(rows["published_n_control"], rows["published_pct_control"])
        ]
        data[("p-value", "Published")] = [(p or "") if f else "" for p, f in zip(rows["published_p"], first)]
    if show_test:
        data[("Test", "")] = [(t or "") if f else "" for t, f in zip(rows["test_label"], first)]
    order = (
        [(head_t, computed_label)]
        + ([(head_t, "Published")] if show_published else [])
        + [(head_c, computed_label)]
        + ([(head_c, "Published")] if show_published else [])
        + [("p-value", computed_label)]
        + ([("p-value", "Published")] if show_published else [])
        + ([("Test", "")] if show_test else [])
    )
    index = pd.MultiIndex.from_arrays([rows["variable_label"], rows["level_label"]], names=["Characteristic", "Level"])
    out = pd.DataFrame({k: data[k] for k in order}, index=index)
    out.columns = pd.MultiIndex.from_tuples(order)
    return out


def display_frames(
    rows: pd.DataFrame,
    after: Optional[pd.DataFrame],
    study: Optional[Study],
    show_published: Optional[bool],
    builder: str,
) -> tuple[list, tuple, bool]:
    """The periods to lay out, the arm labels and whether published columns are shown.

    Shared by the paper-layout tables (Table 1, Table 2): rows must not be empty, and published columns
    can be shown only when the rows carry published numbers (``builder`` names the function to call
    with ``published=...``).
    """
    frames = [rows] if after is None else [rows, after]
    if any(f.empty for f in frames):
        raise ValueError("no rows to display")
    if study is not None:
        arm_labels = tuple(study.arm_label(a) for a in study.treatment.arms)
    else:
        arm_labels = tuple(rows.attrs.get("arm_labels", ("Treated", "Control")))
    has_published = all("published_p" in f.columns for f in frames)
    if show_published is None:
        show_published = has_published
    elif show_published and not has_published:
        raise ValueError(
            f"show_published=True but the rows carry no published numbers (call {builder} with published=...)"
        )
    return frames, arm_labels, show_published


def table1_display(
    rows: pd.DataFrame,
    after: Optional[pd.DataFrame] = None,
    *,
    study: Optional[Study] = None,
    show_published: Optional[bool] = None,
    show_test: Optional[bool] = None,
    computed_label: str = "Computed",
    period_labels: Optional[Mapping[str, str]] = None,
    min_cell: int = 0,
) -> pd.DataFrame:
    """Table 1 laid out like the paper: rows (characteristic, level), columns per arm
    "CRT + Anlotinib (n=76)", "CRT (n=215)" and "p-value", each split into `computed_label` and
    "Published" sub-columns when the rows carry published numbers.

    `rows` comes from :func:`categorical_rows`; with `after` (the rows after matching) the two periods
    sit side by side under "Before/After Propensity Score Matching", as in the paper. n (%) prints as
    "47 (61.8%)" and p as in the paper ("0.026", "<0.001"). `show_test` adds the test used per
    characteristic (default: only when the tests differ between characteristics). Counts from 1 to
    ``min_cell`` - 1 print as "< min_cell", and the count hidden beside a lone one to protect it as
    "hidden" (see :func:`suppression_mask`).
    """
    frames, arm_labels, show_published = display_frames(rows, after, study, show_published, "categorical_rows")
    if show_test is None:
        show_test = any(f["test"].dropna().nunique() > 1 for f in frames)
    parts = [_one_period(f, arm_labels, show_published, show_test, computed_label, min_cell) for f in frames]
    if after is None:
        return parts[0]
    labels = dict(_PERIOD_LABELS)
    labels.update(period_labels or {})
    keys = [
        labels.get(f.attrs.get("period", default), f.attrs.get("period", default))
        for f, default in zip(frames, ("before", "after"))
    ]
    if keys[0] == keys[1]:
        keys = [_PERIOD_LABELS["before"], _PERIOD_LABELS["after"]]
    combined = pd.concat(parts, axis=1, keys=keys)
    return combined.reindex(parts[0].index).fillna("")


def table1_values(rows: pd.DataFrame, study: Study, period: str) -> dict[str, Any]:
    """The result ids of a Table 1 built by :func:`categorical_rows`: n and % per level and arm, and the
    p of each characteristic (``table1.<period>.<variable>.<level>.<arm>.n``, ``....pct``,
    ``table1.<period>.<variable>.p``); for a continuous characteristic, per arm the patients with a
    value, mean, SD, median and quartiles (``table1.<period>.<variable>.<arm>.mean``, ...)."""
    fields, numbers = {}, {}
    for code, side in ((study.treatment.treated, "treated"), (study.treatment.control, "control")):
        fields[f"{code}.n"] = f"n_{side}"
        fields[f"{code}.pct"] = f"pct_{side}"
        numbers.update({f"{code}.{stat}": f"{stat}_{side}" for stat in continuous.STATS})
    measured = rows["kind"].eq("continuous") if "kind" in rows.columns else pd.Series(False, index=rows.index)
    values = frame_values(rows[~measured], f"table1.{period}", keys=["variable", "level"], fields=fields)
    values.update(frame_values(rows[measured], f"table1.{period}", keys=["variable"], fields=numbers))
    values.update(frame_values(rows, f"table1.{period}", keys=["variable"], fields={"p": "p"}))
    return values


def table1_before(cohort: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Table 1 before matching. For the paper's study every p comes from the paper's one test rule, recovered
    from all its printed counts and p-values (:mod:`psmbook.analysis.paper_rule`); for another study, Pearson's
    χ² or Fisher's exact test by the usual expected-count rule."""
    if study.paper:
        return categorical_rows(cohort, study, test="paper_rule", published=select("table1.before."), period="before")
    return categorical_rows(cohort, study, test="rule", period="before")


def table1_after(matched: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Table 1 after matching, every p by the paper's one recovered test rule (the paper's study; no row's
    test is chosen from that row's printed p), or by the usual expected-count rule (another study)."""
    if study.paper:
        return categorical_rows(matched, study, test="paper_rule", published=select("table1.after."), period="after")
    return categorical_rows(matched, study, test="rule", period="after")


def recovered_tests(rows: pd.DataFrame, named: Sequence[str] = ()) -> dict[str, Any]:
    """The tests recovered from the paper's p-values, for the prose: how many characteristics, how many
    p print as the paper's, how many by Pearson's χ², ``p_<column>`` statements for the ``named``
    characteristics, and the table of the test behind each p (``tests_used``)."""
    first = rows[rows["test"].notna()].set_index("variable")
    tests_used = pd.DataFrame(
        {
            "test": first["test_label"],
            "p (computed)": first["p"].map(format_p),
            "p (published)": first["published_p"],
            "reproduced": first["p_reproduces"].map({True: "yes", False: "no"}),
        }
    )
    tests_used.index = pd.Index(first["variable_label"], name="characteristic")
    numbers: dict[str, Any] = {
        "n_characteristics": len(first),
        "n_p_reproduced": int(first["p_reproduces"].sum()),
        "n_pearson": int((first["test"] == "pearson").sum()),
    }
    numbers.update({f"p_{column}": p_statement(first.loc[column, "p"]) for column in named})
    numbers.update({f"{column}_test": first.loc[column, "test_label"] for column in named})
    numbers["tests_used"] = tests_used
    return numbers


def smallest_p(rows: pd.DataFrame, name: str = "min_p") -> dict[str, str]:
    """The smallest p of a Table 1 as printed, and the characteristic it belongs to, for the prose."""
    first = rows[rows["test"].notna()].set_index("variable")
    return {name: format_p(first["p"].min()), f"{name}_label": first.loc[first["p"].idxmin(), "variable_label"]}


def table1_method(study: Study, name: str = "table1_method") -> dict[str, str]:
    """How Table 1 shows and tests its characteristics, in a sentence for the prose (a study other than
    the paper's: the expected-count rule for categorical ones, the test of each continuous summary)."""
    text = (
        "Each categorical characteristic is shown as n (%) per arm, with a p-value from Pearson's χ² test or, "
        "where expected counts are small, the Yates-corrected χ² or Fisher's exact test (the usual rule of thumb, "
        "after Cochran)"
    )
    used = {v.summary for v in study.covariates if v.continuous}
    shown = [
        f"{continuous.SUMMARY_LABELS[s]} with {continuous.TEST_PHRASES[s]}" for s in ("mean", "median") if s in used
    ]
    if shown:
        text += "; each continuous one as " + " or ".join(shown) + ", as its study description asks"
    return {name: text + ". The test behind each p-value is named when they differ."}
