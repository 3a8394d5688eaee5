"""Tumour response by arm (the paper's Table 2), beside the paper's own numbers.

Response is read by RECIST 1.1 at the first assessment after CRT: complete response (CR), partial
response (PR), stable disease (SD) or progressive disease (PD); the objective response rate (ORR) is
CR + PR. Patients who died before the assessment are *not evaluable* and are left out of the
denominators, as in the paper. Each category is compared between the arms as the paper did: that
category against all the others among the evaluable patients, a 2 x 2 test.

:func:`response_counts` counts every response level by arm, :func:`paper_tests` recovers from the
paper's own counts which test printed each of its p-values, :func:`response_table` builds the tidy
rows of Table 2 (n, % and p per category, the published values beside them), :func:`table2_display`
lays them out like the paper and :func:`plot_response` draws the response of each arm as 100% stacked
bars.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from psmbook.analysis import response_privacy as suppress
from psmbook.analysis.association import (
    TEST_LABELS,
    expected_counts,
    infer_paper_test,
    paper_test_candidates,
    reproduces,
    rule_based_test,
    run_test,
)
from psmbook.analysis.paper_rule import recover_test_rule

# Shared with Table 1: the same validation (errors naming the column, the bad values and their rows)
# and the same reading of published entries.
from psmbook.analysis.tables import (
    TESTS,
    arm_codes,
    counts_by_arm,
    display_frames,
    level_codes,
    percent,
    published_number_value,
    published_p_text,
)
from psmbook.present import privacy
from psmbook.present.format import format_p
from psmbook.study.description import Study

__all__ = [
    "OBJECTIVE",
    "PERIODS",
    "RESPONSE_COLOURS",
    "response_codes",
    "response_counts",
    "not_evaluable_counts",
    "categories",
    "two_by_two",
    "published_counts",
    "paper_tests",
    "response_table",
    "not_evaluable_display",
    "table2_suppression",
    "table2_display",
    "short_label",
    "response_colours",
    "plot_response",
]

#: Category id of the objective response rate (complete + partial response).
OBJECTIVE = "orr"
#: The periods of Table 2 (the ids ``table2.{period}.…``) and how the book names them.
PERIODS: dict[str, str] = {"before": "Before matching", "after": "After matching"}
#: Ordered, colour-blind-safe colours from the best response to the worst (ColorBrewer BrBG, 4
#: classes): dark teal CR, light teal PR, sand SD, brown PD. Unlike the arm colours on purpose.
RESPONSE_COLOURS: tuple[str, ...] = ("#018571", "#80cdc1", "#dfc27d", "#a6611a")

_ORR_LABEL = "Objective Response Rate (ORR)"
# Test names short enough for a table column.
_TEST_SHORT = {"pearson": "χ²", "yates": "Yates χ²", "fisher": "Fisher", "likelihood_ratio": "LR χ²"}


# ----------------------------------------------------------------------------------------------------
# Counting


def _response_spec(study: Study) -> tuple[str, dict[str, str], Optional[str], tuple[str, ...]]:
    """(column, levels {code: label}, not-evaluable code or None, objective codes, possibly none) of the
    study's response."""
    spec = study.response
    missing = ["response"] if spec is None else [k for k in ("column", "levels") if not getattr(spec, k)]
    if missing:
        raise ValueError(
            f"study {study.name!r}: the response description lacks {', '.join(missing)} "
            "(see psmbook/data/study_synthetic.yaml, block `response`)"
        )
    levels = dict(spec.levels)
    ne = spec.not_evaluable
    objective = tuple(spec.objective)
    unknown = [c for c in ((ne,) if ne else ()) + objective if c not in levels]
    if unknown:
        raise ValueError(
            f"study {study.name!r}: response codes {unknown} are not among the response levels {list(levels)}"
        )
    return spec.column, levels, ne, objective


def response_codes(df: pd.DataFrame, study: Study) -> pd.Series:
    """The response of every patient as a level code (``cr``, ``pr``, ``sd``, ``pd``, or the
    not-evaluable code).

    ValueError naming the column when it is missing, and naming the values and the first patients
    (by id) when it holds a missing value or a code that is not one of the response levels.
    """
    column, levels, _, _ = _response_spec(study)
    return level_codes(df, column, list(levels), study, "tumour response")


def response_counts(df: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Patients per response level (rows, the study's order: CR, PR, SD, PD, not evaluable) and arm
    (columns, treated first). Levels nobody has are kept with zero counts."""
    _, levels, _, _ = _response_spec(study)
    return counts_by_arm(response_codes(df, study), arm_codes(df, study), list(levels), study, "response")


def not_evaluable_counts(df: pd.DataFrame, study: Study) -> dict[str, int]:
    """Patients per arm (treated first) who could not be evaluated for response (e.g. died before the
    first assessment); none when the study has no not-evaluable code."""
    _, _, ne, _ = _response_spec(study)
    if ne is None:
        response_codes(df, study)  # the column checked all the same
        return {arm: 0 for arm in study.treatment.arms}
    counts = response_counts(df, study)
    return {arm: int(counts.at[ne, arm]) for arm in study.treatment.arms}


def categories(study: Study) -> list[tuple[str, str, tuple[str, ...]]]:
    """The rows of Table 2 as (id, label, response codes counted): one per evaluable response level,
    then the objective response rate (:data:`OBJECTIVE`, the study's objective codes; no such row when
    the study names none)."""
    _, levels, ne, objective = _response_spec(study)
    rows = [(code, label, (code,)) for code, label in levels.items() if code != ne]
    if not objective:
        return rows
    label = study.response.objective_label or _ORR_LABEL
    return rows + [(OBJECTIVE, label, objective)]


def two_by_two(counts: pd.DataFrame, codes: Sequence[str], study: Study) -> np.ndarray:
    """The 2 x 2 table of one category against all the others among the evaluable patients:
    rows (in the category, not), columns (treated, control). `counts` is :func:`response_counts`."""
    _, _, ne, _ = _response_spec(study)
    evaluable = counts.drop(index=ne) if ne is not None else counts
    inside = evaluable.loc[list(codes)].sum(axis=0)
    total = evaluable.sum(axis=0)
    arms = list(study.treatment.arms)
    return np.array([[int(inside[a]) for a in arms], [int(total[a] - inside[a]) for a in arms]])


# ----------------------------------------------------------------------------------------------------
# The paper's own numbers


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; choose one of {', '.join(PERIODS)}")


def _pid(period: str, category: str, arm: Optional[str] = None, stat: str = "p") -> str:
    if stat == "p":
        return f"table2.{period}.{category}.p"
    return f"table2.{period}.{category}.{arm}.{stat}"


def published_counts(published: Optional[Mapping], period: str, study: Study) -> pd.DataFrame:
    """The paper's Table 2 for one period: per category the published n and % per arm, the evaluable
    denominators (``table2.{period}.n.{arm}``) and the printed p (text). NaN / None where the paper
    prints nothing (e.g. a bare "0" without a percentage)."""
    _check_period(period)
    treated, control = study.treatment.arms
    records = []
    for cat, label, _ in categories(study):
        rec: dict[str, Any] = {"category": cat, "category_label": label}
        for arm, side in ((treated, "treated"), (control, "control")):
            rec[f"n_{side}"] = published_number_value(published, _pid(period, cat, arm, "n"))
            rec[f"pct_{side}"] = published_number_value(published, _pid(period, cat, arm, "pct"))
            rec[f"N_{side}"] = published_number_value(published, f"table2.{period}.n.{arm}")
        rec["p"] = published_p_text(published, _pid(period, cat))
        records.append(rec)
    return pd.DataFrame.from_records(records).set_index("category")


def _complete(row: pd.Series) -> bool:
    return all(not math.isnan(float(row[k])) for k in ("n_treated", "n_control", "N_treated", "N_control"))


def _paper_table(row: pd.Series) -> np.ndarray:
    n_t, n_c, N_t, N_c = (int(row[k]) for k in ("n_treated", "n_control", "N_treated", "N_control"))
    return np.array([[n_t, n_c], [N_t - n_t, N_c - n_c]])


def paper_tests(published: Optional[Mapping], period: str, study: Study) -> pd.DataFrame:
    """Which test printed each p-value of the paper's Table 2, recovered from the paper's own counts.

    For every category with published counts and a printed p: the paper's 2 x 2 table, the p of each
    candidate test (Pearson χ², Fisher's exact, Yates-corrected χ², likelihood-ratio χ²) on it, the
    smallest expected count, the test that reproduces the printed p
    (:func:`~psmbook.analysis.association.infer_paper_test`; Pearson first when several do), whether one does,
    and the test the usual rule of thumb picks (:func:`~psmbook.analysis.association.rule_based_test`).
    """
    pub = published_counts(published, period, study)
    records = []
    for cat, row in pub.iterrows():
        if row["p"] is None or not _complete(row):
            continue
        table = _paper_table(row)
        inf = infer_paper_test(table, row["p"])
        rec = {
            "category": cat,
            "category_label": row["category_label"],
            "table": table.tolist(),
            "printed_p": row["p"],
        }
        rec.update({f"p_{name}": p for name, p in paper_test_candidates(table).items()})
        rec.update(
            {
                "min_expected": float(expected_counts(table).min()),
                "test": inf.test,
                "test_label": TEST_LABELS[inf.test],
                "reproduces": inf.reproduces,
                "matching": ", ".join(TEST_LABELS[m] for m in inf.matching),
                "rule_test": rule_based_test(table),
                "explanation": inf.explanation,
            }
        )
        records.append(rec)
    return pd.DataFrame.from_records(records).set_index("category") if records else pd.DataFrame()


# ----------------------------------------------------------------------------------------------------
# Table 2 rows


def response_table(
    df: pd.DataFrame,
    study: Study,
    period: str = "before",
    published: Optional[Mapping] = None,
    test: str = "infer",
) -> pd.DataFrame:
    """One row per response category of Table 2 (CR, PR, SD, PD, ORR): n and % of the evaluable
    patients per arm, and a p-value comparing the arms (the category against all others, 2 x 2).

    Parameters
    ----------
    df : patient-level data, one row per patient, with the arm column and the response column.
    study : the study description (arm codes and labels, response levels, not-evaluable code).
    period : ``"before"`` or ``"after"`` matching, as in the published ids ``table2.{period}.…``.
    published : mapping from published-number id to value (e.g. ``psmbook.study.published.select("table2.")``);
        when given, the published n, %, denominators and p are set beside the computed ones.
    test : ``"infer"`` uses, per category, the test that reproduces the paper's printed p *on the
        paper's own counts* (:func:`paper_tests`), so that the same test is applied to these data;
        when the paper's counts are not published, the test is recovered from the computed counts
        instead. ``"paper_rule"`` applies the paper's one rule, recovered once from all its printed counts and
        p (:mod:`psmbook.analysis.paper_rule`), to the computed counts; ``"rule"`` the rule of thumb; or one
        fixed test (``"pearson"``, ``"fisher"``, ``"yates"``, ``"likelihood_ratio"``).

    Not-evaluable patients are left out of the denominators; their number per arm is in
    ``rows.attrs["not_evaluable"]``. Percentages are of the arm's evaluable patients, one decimal,
    rounded half-up. ``p_reproduces`` says whether the computed p prints as the paper's;
    ``paper_test_reproduces`` whether the test used reproduces the paper's p on the paper's counts.
    """
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r}; choose one of {', '.join(TESTS)}")
    _check_period(period)
    if test == "infer" and published is None:
        raise ValueError(
            "test='infer' recovers the paper's test from its printed p-values: pass "
            "published=... (e.g. psmbook.study.published.select('table2.')) or choose a fixed test"
        )
    _, _, ne, objective = _response_spec(study)
    treated, control = study.treatment.arms
    counts = response_counts(df, study)
    evaluable = (counts.drop(index=ne) if ne is not None else counts).sum(axis=0)
    N = {treated: int(evaluable[treated]), control: int(evaluable[control])}
    pub = published_counts(published, period, study) if published is not None else None
    recovered = paper_tests(published, period, study) if published is not None else pd.DataFrame()

    records = []
    for cat, label, codes in categories(study):
        table = two_by_two(counts, codes, study)
        pub_p = pub.at[cat, "p"] if pub is not None else None
        paper_ok, test_label = None, None  # paper_ok: whether the test reproduces the paper's p on its counts
        if test == "infer":
            if cat in recovered.index:
                name, source = recovered.at[cat, "test"], "paper's counts"
                paper_ok = bool(recovered.at[cat, "reproduces"])
                note = "on the paper's counts: " + recovered.at[cat, "explanation"]
            elif pub_p is not None:
                inf = infer_paper_test(table, pub_p)
                name, source, note = inf.test, "computed counts", inf.explanation
                paper_ok = inf.reproduces
            else:
                name, source = "pearson", "default"
                note = f"no published p ({_pid(period, cat)}); {TEST_LABELS[name]}"
            test_label = TEST_LABELS[name] + ("" if paper_ok in (True, None) else " (closest; none reproduces)")
        elif test == "paper_rule":  # one rule for every row, recovered once from the paper's (counts, p) pairs
            rule = recover_test_rule()
            name, source = rule.test(table)[0], "paper's rule"
            note = f"{TEST_LABELS[name]}, by the paper's rule: {rule.statement}"
        else:
            name = rule_based_test(table) if test == "rule" else test
            source = "rule of thumb" if test == "rule" else "fixed"
            note = TEST_LABELS[name] + (" (rule of thumb)" if test == "rule" else "")
        test_label = test_label or TEST_LABELS[name]
        p = run_test(table, name)
        rec: dict[str, Any] = {
            "category": cat,
            "category_label": label,
            "n_treated": int(table[0, 0]),
            "pct_treated": percent(table[0, 0], N[treated]),
            "n_control": int(table[0, 1]),
            "pct_control": percent(table[0, 1], N[control]),
            "N_treated": N[treated],
            "N_control": N[control],
            "p": p,
            "test": name,
            "test_label": test_label,
            "test_source": source,
            "test_note": note,
        }
        if pub is not None:
            for side in ("treated", "control"):
                for stat in ("n", "pct", "N"):
                    rec[f"published_{stat}_{side}"] = pub.at[cat, f"{stat}_{side}"]
            rec["published_p"] = pub_p
            rec["p_reproduces"] = None if pub_p is None else bool(reproduces(p, pub_p))
            rec["paper_test_reproduces"] = paper_ok
        records.append(rec)
    rows = pd.DataFrame.from_records(records)
    rows.attrs.update(
        {
            "period": period,
            "test": test,
            "arms": (treated, control),
            "arm_labels": (study.arm_label(treated), study.arm_label(control)),
            "N": (N[treated], N[control]),
            "not_evaluable": {arm: int(counts.at[ne, arm]) if ne is not None else 0 for arm in (treated, control)},
            "objective": objective,
        }
    )
    return rows


# ----------------------------------------------------------------------------------------------------
# Display


def not_evaluable_display(
    not_evaluable: Mapping[str, Mapping[str, int]], study: Study, *, min_cell: int = 0
) -> pd.DataFrame:
    """The patients who could not be evaluated, per arm (rows) and period (columns, named as in
    :data:`PERIODS`): ``not_evaluable`` maps a period to :func:`not_evaluable_counts`; the rows are named
    by the study's reason (``not_evaluable_reason``). Counts from 1 to ``min_cell`` - 1 print as "< min_cell"."""
    reason = study.response.not_evaluable_reason if study.response is not None else "not evaluable"
    table = pd.DataFrame(
        {
            PERIODS.get(period, period): {study.arm_label(arm): n for arm, n in counts.items()}
            for period, counts in not_evaluable.items()
        }
    ).rename_axis("Not evaluable" if reason == "not evaluable" else f"Not evaluable ({reason})")
    if min_cell:
        table = table.map(lambda n: privacy.count_text(n, min_cell))
    return table


def table2_suppression(rows: pd.DataFrame, side: str, min_cell: int) -> list[bool]:
    """Which of one arm's Table 2 counts to hide (``side``: ``"treated"`` or ``"control"``; `rows` from
    :func:`response_table`, in its order).

    Counts from 1 to ``min_cell`` - 1 are hidden. The response levels add up to the evaluable patients,
    who are printed, so a level hidden alone would be their difference: the next smallest level is
    hidden with it (:func:`~psmbook.present.privacy.complementary_mask`). The ORR is the sum of the
    objective levels (CR + PR), so it is hidden too when exactly one of them is (without
    ``rows.attrs["objective"]``, whenever a level is); see also :mod:`psmbook.analysis.response_privacy`.
    """
    cats = rows["category"].tolist()
    groups = ["objective rate" if c == OBJECTIVE else "levels" for c in cats]
    counts = rows[f"n_{side}"].tolist()
    mask = privacy.complementary_mask(counts, groups, min_cell)
    levels = [i for i, g in enumerate(groups) if g == "levels"]
    mask = suppress.protect_evaluable(mask, counts, levels, suppress.hides_evaluable(rows, side, min_cell))
    objective = rows.attrs.get("objective")
    if objective is None:
        protect_orr = any(m for m, c in zip(mask, cats) if c != OBJECTIVE)
    else:
        protect_orr = sum(m for m, c in zip(mask, cats) if c in objective) == 1
    return [m or (protect_orr and c == OBJECTIVE) for m, c in zip(mask, cats)]


def short_label(label: str) -> str:
    """The abbreviation of a response label: "Complete Response (CR)" -> "CR" (else the label)."""
    label = str(label).strip()
    if label.endswith(")") and "(" in label:
        return label[label.rindex("(") + 1 : -1]
    return label


def _one_period(
    rows: pd.DataFrame,
    arm_labels: Sequence[str],
    show_published: bool,
    show_test: bool,
    short_labels: bool,
    min_cell: int = 0,
    computed_label: str = "Computed",
) -> pd.DataFrame:
    heads = list(arm_labels)
    labels = [short_label(x) if short_labels else x for x in rows["category_label"]]
    index = ["Evaluable"] + labels
    data: dict[tuple[str, str], list] = {}
    for head, side in zip(heads, ("treated", "control")):
        hidden = table2_suppression(rows, side, min_cell)
        pct = [None] * len(rows) if suppress.hides_evaluable(rows, side, min_cell) else rows[f"pct_{side}"]
        data[(head, "Computed")] = [suppress.evaluable_text(rows, side, min_cell)] + privacy.n_pct_cells(
            rows[f"n_{side}"], pct, hidden, min_cell
        )
        if show_published:
            N_pub = rows[f"published_N_{side}"].iloc[0]
            data[(head, "Published")] = [privacy.n_pct_text(N_pub, None)] + [
                privacy.n_pct_text(n, p) for n, p in zip(rows[f"published_n_{side}"], rows[f"published_pct_{side}"])
            ]
    data[("p-value", "Computed")] = [""] + [format_p(p) for p in rows["p"]]
    if show_published:
        data[("p-value", "Published")] = [""] + [p or "" for p in rows["published_p"]]
    if show_test:
        closest = rows.get("paper_test_reproduces", pd.Series([None] * len(rows))).eq(False).tolist()
        data[("Test", "")] = [""] + [
            _TEST_SHORT.get(t, t) + (" (closest)" if c else "") for t, c in zip(rows["test"], closest)
        ]
    out = pd.DataFrame(data, index=pd.Index(index, name="Response"))
    out.columns = pd.MultiIndex.from_tuples(list(data))
    if not show_published and not computed_label:  # nothing to tell apart: one header row
        out.columns = [head for head, _ in data]
    return out


def table2_display(
    rows: pd.DataFrame,
    after: Optional[pd.DataFrame] = None,
    *,
    study: Optional[Study] = None,
    show_published: Optional[bool] = None,
    show_test: bool = True,
    stacked: bool = False,
    short_labels: bool = False,
    min_cell: int = 0,
    computed_label: str = "Computed",
) -> pd.DataFrame:
    """Table 2 laid out like the paper: a row of evaluable patients, then CR, PR, SD, PD and ORR;
    per arm n (%) as "21 (28.4%)", then the p-value, each split into "Computed" and "Published" when
    the rows carry published numbers, and the test used ("χ²" Pearson's, "Yates χ²", "Fisher",
    "LR χ²" likelihood ratio; "(closest)" when no test reproduced the paper's p).

    `rows` (and `after`) come from :func:`response_table`. With `after` the two periods sit side by
    side under "Before matching" / "After matching" as in the paper, or one above the other with
    ``stacked=True`` (narrower: better on a phone). ``short_labels`` names the rows by their
    abbreviations (CR, PR, SD, PD, ORR). Computed counts from 1 to ``min_cell`` - 1 print as "< min_cell",
    and the counts hidden to protect them as "hidden" (see :func:`table2_suppression`). Without published
    numbers and with an empty ``computed_label`` (a study other than the paper's), the columns have one
    header row: the arms, the p-value and the test.
    """
    frames, arm_labels, show_published = display_frames(rows, after, study, show_published, "response_table")
    parts = [
        _one_period(f, arm_labels, show_published, show_test, short_labels, min_cell, computed_label) for f in frames
    ]
    if after is None:
        return parts[0]
    keys = [PERIODS.get(f.attrs.get("period", d), d) for f, d in zip(frames, ("before", "after"))]
    if keys[0] == keys[1]:
        keys = list(PERIODS.values())
    if stacked:
        out = pd.concat(parts, axis=0, keys=keys)
        out.index.names = ["Period", "Response"]
        return out
    return pd.concat(parts, axis=1, keys=keys)


# ----------------------------------------------------------------------------------------------------
# Figure


def response_colours(n: int) -> tuple[str, ...]:
    """Ordered colours from the best response to the worst: :data:`RESPONSE_COLOURS` for four levels,
    otherwise ``n`` colours from the same diverging ColorBrewer scale (BrBG, teal to brown)."""
    if n == len(RESPONSE_COLOURS):
        return RESPONSE_COLOURS
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    scale = colormaps["BrBG"]
    return tuple(to_hex(scale(x)) for x in np.linspace(0.9, 0.1, max(n, 1)))[:n]


def plot_response(
    rows_by_period: Mapping[str, pd.DataFrame],
    study: Study,
    *,
    show_published_orr: bool = True,
    title: Optional[str] = "",
    min_cell: int = 0,
):
    """Horizontal 100% stacked bars of CR, PR, SD and PD among the evaluable patients of each arm,
    one panel per period (e.g. {"Before matching": rows, "After matching": rows_after}, rows from
    :func:`response_table`), in an ordered colour-blind-safe palette (:data:`RESPONSE_COLOURS`).

    Where CR + PR ends (a black line) is the objective response rate; with ``show_published_orr`` the
    paper's ORR of the arm is marked above the bar (black triangle), so the distance between the
    triangle and the line is the difference from the paper. Any number of response levels gets its own
    colour (:func:`response_colours`); a study without objective levels gets no ORR line. ``title``: the
    figure's title (default: "Response by arm", "after CRT" for the paper's study; None for none).
    With ``min_cell``, levels hidden in the tables make one grey "hidden" block at the bar's end (without an
    ORR line that would tell them apart; see :mod:`~psmbook.analysis.response_privacy`). Returns the figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cats = [c for c in categories(study) if c[0] != OBJECTIVE]
    colours = response_colours(len(cats))
    objective = set(dict((c[0], c[2]) for c in categories(study)).get(OBJECTIVE, ()))
    periods = list(rows_by_period.items())
    fig, axes = plt.subplots(len(periods), 1, figsize=(7.0, 1.25 + 1.35 * len(periods)), sharex=True, squeeze=False)
    published_drawn = False
    for ax, (period_label, rows) in zip(axes[:, 0], periods):
        by_cat = rows.set_index("category")
        bars = [("treated", rows.attrs["arm_labels"][0]), ("control", rows.attrs["arm_labels"][1])]
        for y, (side, arm_label) in enumerate(bars):
            N = int(by_cat[f"N_{side}"].iloc[0])
            left = 0.0
            orr_end = None
            hidden = suppress.hidden_levels([by_cat.at[code, f"n_{side}"] for code, _, _ in cats], min_cell)
            if suppress.draw_not_shown(ax, y, rows, side, min_cell):  # its shares would give its evaluable ones away
                continue
            for (code, label, _), colour in [(cat, colour) for cat, colour, h in zip(cats, colours, hidden) if not h]:
                share = 100.0 * by_cat.at[code, f"n_{side}"] / N if N else 0.0
                ax.barh(y, share, left=left, color=colour, edgecolor="white", linewidth=0.8, height=0.62)
                if share >= 7:
                    dark = colour in (colours[0], colours[-1])
                    ax.text(
                        left + share / 2,
                        y,
                        f"{share:.0f}%",
                        ha="center",
                        va="center",
                        fontsize=8.5,
                        color="white" if dark else "black",
                    )
                left += share
                if code in objective:
                    orr_end = left
            orr_end = suppress.draw_hidden(ax, y, left, orr_end, hidden, [c in objective for c, _, _ in cats])
            if orr_end is not None:
                ax.plot([orr_end, orr_end], [y - 0.38, y + 0.38], color="black", lw=1.4, zorder=4)
            if show_published_orr and f"published_pct_{side}" in by_cat.columns and OBJECTIVE in by_cat.index:
                paper = by_cat.at[OBJECTIVE, f"published_pct_{side}"]
                if paper is not None and not math.isnan(float(paper)):
                    ax.plot(float(paper), y - 0.44, marker="v", color="black", ms=7, zorder=5, clip_on=False)
                    published_drawn = True
        ax.set_yticks([0, 1], [suppress.arm_tick(rows, side, label, min_cell) for side, label in bars], fontsize=9)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_title(period_label, loc="left", fontsize=10.5)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
    axes[-1, 0].set_xlabel("Evaluable patients of the arm (%)")
    handles = [Patch(facecolor=c, label=short_label(label)) for (_, label, _), c in zip(cats, colours)]
    if objective:
        parts = " + ".join(short_label(study.response.levels[c]) for c in study.response.objective)
        orr = short_label(study.response.objective_label or _ORR_LABEL)
        handles.append(Line2D([], [], color="black", lw=1.4, label=f"{orr} ({parts})"))
    if published_drawn:
        handles.append(Line2D([], [], color="black", marker="v", ls="none", ms=7, label="Paper's ORR"))
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=8.5,
        bbox_to_anchor=(0.5, 0.0),
        handlelength=1.2,
        columnspacing=1.0,
    )
    if title == "":  # the default: the paper's treatment named for its study only
        title = "Response after CRT by arm" if study.paper else "Response by arm"
    if title:
        fig.suptitle(title, x=0.02, ha="left", fontsize=11.5)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
