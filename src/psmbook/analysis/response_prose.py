"""What the response chapter says about Table 2: evaluable patients, the categories beside the paper, the
tests recovered from the paper's printed p-values, a rounding check, and the chapter's results; for a
study other than the paper's, the same table with the usual tests and what it shows.

Each function returns {name: value} for the prose ({glue} names), computed from the tables of
:mod:`psmbook.analysis.response`; nothing here is typed from the paper.
"""

from __future__ import annotations

import pandas as pd

from psmbook.analysis import response, response_privacy
from psmbook.analysis.association import TEST_LABELS
from psmbook.analysis.tables import percent
from psmbook.present import privacy
from psmbook.present.format import format_p
from psmbook.study.published import published_value, select

PERIODS = ("before", "after")


def table2_rows(cohort: pd.DataFrame, matched: pd.DataFrame, study) -> dict[str, pd.DataFrame]:
    """Table 2's rows before and after matching (:func:`~psmbook.analysis.response.response_table`): for the
    paper's study beside its published numbers, every p by the paper's one test rule, recovered once from all
    its printed counts and p (:mod:`psmbook.analysis.paper_rule`); for another study with the usual rule of
    thumb (Pearson's χ², Yates' correction or Fisher's exact test by the smallest expected count)."""
    if study.paper:
        published, test = select("table2."), "paper_rule"
    else:
        published, test = None, "rule"
    return {
        period: response.response_table(data, study, period, published=published, test=test)
        for period, data in (("before", cohort), ("after", matched))
    }


def _pair(counts: dict, study, min_cell: int = 0) -> str:
    treated, control = study.treatment.arms
    return (
        f"{privacy.count_text(counts[treated], min_cell)} in the {study.arm_label(treated)} arm and "
        f"{privacy.count_text(counts[control], min_cell)} in the {study.arm_label(control)} arm"
    )


def study_evaluability_numbers(not_evaluable: dict, study, min_cell: int = 0) -> dict[str, object]:
    """For a study other than the paper's: who could not be evaluated for response, in a sentence
    (``evaluability_text``); counts from 1 to ``min_cell`` - 1 as "< 5"."""
    spec = study.response
    if spec.not_evaluable is None:
        text = (
            "The study description names no not-evaluable response code, so every patient counts as evaluable "
            "and the denominators are all patients of each arm."
        )
    else:
        label = spec.levels[spec.not_evaluable]
        text = (
            f"Patients whose response is coded {label!r} ({spec.not_evaluable_reason}) are counted here and left "
            f"out of every denominator: before matching {_pair(not_evaluable['before'], study, min_cell)}, after "
            f"matching {_pair(not_evaluable['after'], study, min_cell)}."
        )
    return {"evaluability_text": text}


def rate_text(row: pd.Series, side: str, min_cell: int = 0, *, hidden_total: bool = False) -> str:
    """One arm's rate of a Table 2 row for the prose, "41.2%"; "not shown" when its count, or the count of
    the others of the arm, is from 1 to ``min_cell`` - 1 (the rate and the arm's size would give it away),
    or when the arm's evaluable patients are hidden (``hidden_total``,
    :func:`psmbook.analysis.response_privacy.hides_evaluable`)."""
    n, total = row[f"n_{side}"], row[f"N_{side}"]
    if hidden_total:
        return f"not shown (fewer than {min_cell} patients not evaluable)"
    if privacy.is_suppressed(n, min_cell) or privacy.is_suppressed(total - n, min_cell):
        return f"not shown (fewer than {min_cell} patients)"
    return f"{row[f'pct_{side}']:.1f}%"


def study_table2_numbers(rows: dict[str, pd.DataFrame], study, min_cell: int = 0) -> dict[str, object]:
    """For a study other than the paper's: the objective response rate per arm before and after matching
    (``orr_text``, or what stands in for it when the study names no objective levels; rates of small counts
    not shown, :func:`rate_text`), the categories that differ after matching (``after_significant``) and
    the tests used (``tests_used``)."""
    by = {p: rows[p].set_index("category") for p in PERIODS}
    parts = []
    if response.OBJECTIVE in by["before"].index:
        name = response.short_label(by["before"].at[response.OBJECTIVE, "category_label"])
        for period in PERIODS:
            row = by[period].loc[response.OBJECTIVE]
            rate = {
                side: rate_text(
                    row, side, min_cell, hidden_total=response_privacy.hides_evaluable(rows[period], side, min_cell)
                )
                for side in ("treated", "control")
            }
            parts.append(
                f"{response.PERIODS[period].lower()}, {rate['treated']} in the treated arm "
                f"against {rate['control']} among the controls ({_p_text(row['p'])})"
            )
        orr_text = f"{name}: " + "; ".join(parts) + "."
    else:
        orr_text = "The study description names no objective response levels, so there is no response rate row."
    before, after = rows["before"], rows["after"]
    if (before["test"].values == after["test"].values).all():
        tests = "in both periods, " + _tests_sentence(before)
    else:
        tests = "; ".join(f"{response.PERIODS[p].lower()}, {_tests_sentence(rows[p])}" for p in PERIODS)
    return {
        "orr_text": orr_text,
        "after_significant": _significant_text(by["after"]),
        "tests_used": tests,
        "n_categories": len(before),
    }


def _p_text(p: float) -> str:
    text = format_p(p)
    return f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"


def _significant_text(after: pd.DataFrame) -> str:
    significant = [response.short_label(after.at[c, "category_label"]) for c in after.index if after.at[c, "p"] < 0.05]
    if not significant:
        return "no category differs between the arms at p < 0.05"
    verb = " differs" if len(significant) == 1 else " differ"
    return (
        ("only " if len(significant) == 1 else "") + " and ".join(significant) + verb + " between the arms at p < 0.05"
    )


def _arms(study) -> tuple[tuple[str, str], tuple[str, str]]:
    return (study.treatment.treated, "treated"), (study.treatment.control, "control")


def evaluability_numbers(not_evaluable: dict, matched: pd.DataFrame, study) -> dict[str, object]:
    """Patients not evaluable for response per period and arm beside the paper's, matched patients, and
    a sentence on the matched patients who died before their assessment."""
    treated, control = study.treatment.treated, study.treatment.control
    numbers: dict[str, object] = {}
    for period in PERIODS:
        for code, side in _arms(study):
            numbers[f"ne_{period}_{side}"] = not_evaluable[period][code]
            numbers[f"pub_N_{period}_{side}"] = int(published_value(f"table2.{period}.n.{code}"))
    numbers["pub_ne_treated"] = int(published_value(f"text.response.not_evaluable.{treated}.n"))
    numbers["pub_ne_control"] = int(published_value(f"text.response.not_evaluable.{control}.n"))
    numbers["pub_unmatched_treated"] = int(published_value(f"table1.before.n.{treated}")) - int(
        published_value(f"table1.after.n.{treated}")
    )
    n_matched = {code: int((matched[study.treatment.column] == code).sum()) for code in (treated, control)}
    numbers["n_matched_treated"], numbers["n_matched_control"] = n_matched[treated], n_matched[control]
    ne_after = not_evaluable["after"]
    if sum(ne_after.values()) == 0:
        numbers["after_ne_sentence"] = (
            "None of the matched patients died before the assessment, so every matched patient is "
            "evaluable, as in the paper."
        )
    else:
        numbers["after_ne_sentence"] = (
            f"Matching, however, does not know who would die before the assessment (a matter of the course "
            f"of treatment, not of the baseline covariates), and {sum(ne_after.values())} of the matched patients "
            f"did: {ne_after[treated]} in the {study.arm_label(treated)} arm and "
            f"{ne_after[control]} in the {study.arm_label(control)} arm. They are left out "
            f"here too, so Table 2 after matching counts "
            f"{n_matched[treated] - ne_after[treated]} and "
            f"{n_matched[control] - ne_after[control]} evaluable patients where the paper "
            f"counts {int(published_value(f'table2.after.n.{treated}'))} and "
            f"{int(published_value(f'table2.after.n.{control}'))}. "
            f"Their partners stay in: like the paper, the comparison treats the arms as independent "
            f"samples, not as pairs."
        )
    return numbers


def _pct_text(v) -> str:
    return "not printed" if pd.isna(v) else f"{v:.1f}%"


def _how_many(n: int, of: int) -> str:
    return "all" if n == of and n > 1 else "none" if n == 0 else str(n)


def _listed(items: list[str]) -> str:
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]


def _tests_sentence(part: pd.DataFrame) -> str:
    used: dict[str, list[str]] = {}
    for _, r in part.iterrows():
        used.setdefault(r["test_label"], []).append(response.short_label(r["category_label"]))
    return "; ".join(f"{label} for {_listed(cats)}" for label, cats in used.items())


def _shift(before: float, after: float) -> str:
    if round(after, 1) == round(before, 1):
        return f"stayed at {after:.1f}%"
    return f"{'rose' if after > before else 'fell'} from {before:.1f}% to {after:.1f}%"


def table2_numbers(rows: dict[str, pd.DataFrame], synthetic: bool = True) -> dict[str, object]:
    """Table 2 for the prose: every category's percentages and p beside the paper's, how many p print as
    the paper's, the tests used, the change in objective response and what differs after matching
    (``synthetic``: the cohort was calibrated to the paper's counts, as the synthetic one is)."""
    by = {p: rows[p].set_index("category") for p in PERIODS}
    numbers: dict[str, object] = {}
    for p in PERIODS:
        for cat in by[p].index:
            for side in ("treated", "control"):
                numbers[f"{p}_{cat}_{side}_pct"] = _pct_text(by[p].at[cat, f"pct_{side}"])
                numbers[f"pub_{p}_{cat}_{side}_pct"] = _pct_text(by[p].at[cat, f"published_pct_{side}"])
            numbers[f"{p}_{cat}_p"] = format_p(by[p].at[cat, "p"])
            numbers[f"pub_{p}_{cat}_p"] = by[p].at[cat, "published_p"]
            for prefix, text in (("", format_p(by[p].at[cat, "p"])), ("pub_", by[p].at[cat, "published_p"])):
                numbers[f"{prefix}{p}_{cat}_pstat"] = (
                    f"p {text[0]} {text[1:]}" if text.startswith("<") else f"p = {text}"
                )
    before, after = rows["before"], rows["after"]
    numbers["n_categories"] = len(before)
    same_counts = all((before[f"n_{s}"] == before[f"published_n_{s}"]).all() for s in ("treated", "control"))
    if same_counts and synthetic:
        numbers["before_counts_sentence"] = (
            "The synthetic cohort was calibrated to these counts, so every count and percentage before "
            "matching is the paper's, and the figure's lines meet the paper's triangles"
        )
    elif same_counts:
        numbers["before_counts_sentence"] = "Every count before matching is the paper's"
    else:
        numbers["before_counts_sentence"] = "The counts before matching differ from the paper's (see the table)"
    n_after_ok = int(after["p_reproduces"].sum())
    numbers["before_reproduced"] = _how_many(int(before["p_reproduces"].sum()), len(before))
    numbers["after_reproduced"] = f"{_how_many(n_after_ok, len(after))} {'does' if n_after_ok == 1 else 'do'}"
    if (before["test"].values == after["test"].values).all():
        numbers["tests_used"] = "in both periods, " + _tests_sentence(before)
    else:
        numbers["tests_used"] = "; ".join(f"{response.PERIODS[p].lower()}, {_tests_sentence(rows[p])}" for p in PERIODS)
    orr_after, orr_before = by["after"].loc[response.OBJECTIVE], by["before"].loc[response.OBJECTIVE]
    numbers["orr_after_diff"] = f"{orr_after['pct_treated'] - orr_after['pct_control']:.1f}"
    numbers["pub_orr_after_diff"] = f"{orr_after['published_pct_treated'] - orr_after['published_pct_control']:.1f}"
    numbers["control_orr_shift"] = _shift(orr_before["pct_control"], orr_after["pct_control"])
    numbers["pub_control_orr_shift"] = _shift(orr_before["published_pct_control"], orr_after["published_pct_control"])
    numbers["after_significant"] = _significant_text(by["after"])
    numbers["n_pub_significant_after"] = sum(float(by["after"].at[c, "published_p"]) < 0.05 for c in by["after"].index)
    return numbers


def paper_test_numbers(paper: pd.DataFrame) -> dict[str, object]:
    """The tests behind the paper's Table 2 p-values, for the prose: how many p, how many reproduced, by
    Pearson's χ² and by the usual rule, the progressive-disease row's candidates, and the table of
    every candidate test's p (``paper_candidates``)."""
    numbers: dict[str, object] = {
        "n_paper_p": len(paper),
        "n_paper_reproduced": int(paper["reproduces"].sum()),
        "n_paper_pearson": int((paper["test"] == "pearson").sum()),
        "n_paper_rule": int((paper["test"] == paper["rule_test"]).sum()),
    }
    pd_rows = paper.xs("pd", level="category")
    for key in PERIODS:
        row = pd_rows.loc[response.PERIODS[key]]
        numbers[f"paper_pd_{key}_pearson"] = f"{row['p_pearson']:.3f}"
        numbers[f"paper_pd_{key}_yates"] = f"{row['p_yates']:.3f}"
        numbers[f"paper_pd_{key}_emin"] = f"{row['min_expected']:.2f}"
        numbers[f"paper_pd_{key}_test"] = row["test_label"]
    yates_rows = paper[paper["test"] == "yates"]
    only_yates = all(m == TEST_LABELS["yates"] for m in yates_rows["matching"])
    numbers["yates_only"] = (
        "only the Yates-corrected χ² reproduces them"
        if only_yates and len(yates_rows)
        else "they are reproduced by " + "; ".join(yates_rows["matching"])
    )
    numbers["paper_candidates"] = candidates_table(paper)
    return numbers


def candidates_table(paper: pd.DataFrame) -> pd.DataFrame:
    """Every candidate test's p for each of the paper's Table 2 rows, beside the printed p and the test
    that reproduces it."""
    columns = [
        "table",
        "printed_p",
        "p_pearson",
        "p_fisher",
        "p_yates",
        "p_likelihood_ratio",
        "min_expected",
        "test_label",
    ]
    candidates = paper.reset_index().assign(row=lambda t: t["category_label"].map(response.short_label))
    candidates = candidates.set_index(["period", "row"])[columns]
    candidates["table"] = candidates["table"].map(
        lambda t: f"{t[0][0]}/{t[0][0] + t[1][0]} vs {t[0][1]}/{t[0][1] + t[1][1]}"
    )
    for col in ["p_pearson", "p_fisher", "p_yates", "p_likelihood_ratio"]:
        candidates[col] = candidates[col].map(lambda v: f"{v:.4f}")
    candidates["min_expected"] = candidates["min_expected"].map(lambda v: f"{v:.2f}")
    candidates.columns = [
        "paper's counts",
        "printed p",
        "Pearson χ²",
        "Fisher",
        "Yates χ²",
        "LR χ²",
        "smallest expected",
        "reproduced by",
    ]
    return candidates


def rounding_numbers(study) -> dict[str, object]:
    """The paper's objective response after matching in the treated arm: n of N, the exact percentage,
    that percentage rounded to one decimal, and the percentage the paper printed."""
    treated = study.treatment.treated
    orr_n = int(published_value(f"table2.after.orr.{treated}.n"))
    orr_N = int(published_value(f"table2.after.n.{treated}"))
    return {
        "pub_orr_after_n": orr_n,
        "pub_orr_after_N": orr_N,
        "pub_orr_after_exact": f"{100 * orr_n / orr_N:.2f}%",
        "pub_orr_after_rounded": f"{percent(orr_n, orr_N):.1f}%",
        "pub_orr_after_printed": f"{published_value(f'table2.after.orr.{treated}.pct'):.1f}%",
    }


def response_values(rows: dict[str, pd.DataFrame], not_evaluable: dict, study, min_cell: int = 0) -> dict[str, object]:
    """The response chapter's results: Table 2 in both periods under the paper's ids, the test used for
    each row, the patients not evaluable, and the text's and abstract's repeats of Table 2's numbers. With
    ``min_cell``, Table 2's counts as its page prints them (hidden ones as text, :func:`response.table2_display`)."""
    values: dict[str, object] = {}
    for period in PERIODS:
        part = rows[period]
        (
            values[f"table2.{period}.n.{study.treatment.treated}"],
            values[f"table2.{period}.n.{study.treatment.control}"],
        ) = part.attrs["N"]
        for code, side in _arms(study):
            if response_privacy.hides_evaluable(part, side, min_cell):
                values[f"table2.{period}.n.{code}"] = response_privacy.evaluable_text(part, side, min_cell)
        hidden = {side: response.table2_suppression(part, side, min_cell) for _, side in _arms(study)}
        for i, (_, row) in enumerate(part.iterrows()):
            for code, side in _arms(study):
                n, pct = row[f"n_{side}"], row[f"pct_{side}"]
                if hidden[side][i]:
                    n = pct = privacy.n_pct_cells([n], [pct], [True], min_cell)[0]
                elif response_privacy.hides_evaluable(part, side, min_cell):
                    pct = None
                values[f"table2.{period}.{row['category']}.{code}.n"] = n
                values[f"table2.{period}.{row['category']}.{code}.pct"] = pct
            values[f"table2.{period}.{row['category']}.p"] = row["p"]
            values[f"response.{period}.{row['category']}.test"] = row["test"]  # not published: the test used
        for code in study.treatment.arms:
            values[f"response.{period}.not_evaluable.{code}.n"] = part.attrs["not_evaluable"][code]
    if not study.paper:
        return values
    # The text and the abstract repeat Table 2's numbers: the same quantities under their own ids.
    for pid in [*select("text.response."), *select("abstract.response.")]:
        parts = pid.split(".")
        if parts[2] in PERIODS:
            values[pid] = values[".".join(["table2", *parts[2:]])]
    values["text.response.not_evaluable.n"] = sum(not_evaluable["before"].values())
    for code in study.treatment.arms:
        values[f"text.response.not_evaluable.{code}.n"] = not_evaluable["before"][code]
    return values
