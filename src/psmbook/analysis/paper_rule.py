"""The paper's rule for choosing a test, recovered once from its own printed counts and p-values.

The Methods say only "either the χ² test or Fisher's exact test". Every printed p-value of a count table
(Table 1 before and after matching, Table 2, Table 4) comes with the counts it tests, so each candidate
*rule* (a test chosen from the table's shape and expected counts alone, as a statistician decides before
seeing p) can be scored against all of them: the rule whose p prints as the paper's (at the printed
decimals, :func:`~psmbook.analysis.association.reproduces`) in the most tables is the paper's rule.
The book then applies that one rule to its own counts in every row; no row's test is chosen by looking
at the paper's p for that row.

Candidate rules are tried on all levels of a characteristic and on the printed levels only (Table 1 does
not print "no previous treatment"). Ties are broken by the order of :data:`RULES` (simpler first) and
all levels before printed levels only; the tied rules are reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Mapping, Optional

import numpy as np
import pandas as pd

from psmbook.analysis.association import as_table, expected_counts, reproduces, run_test
from psmbook.study.published import load_published

__all__ = [
    "RULES",
    "LEVELS",
    "PrintedPair",
    "RuleRecovery",
    "printed_pairs",
    "rule_test",
    "score_rules",
    "recover_test_rule",
    "rule_numbers",
]


def _shape(table) -> tuple[int, int, float, float]:
    """Non-empty levels, patients, smallest expected count and share of expected counts below 5."""
    arr = as_table(table)
    arr = arr[arr.sum(axis=1) > 0]
    e = expected_counts(arr)
    if e.size == 0:
        return int(arr.shape[0]), int(arr.sum()), float("nan"), 0.0
    return int(arr.shape[0]), int(arr.sum()), float(e.min()), float((e < 5).mean())


def _pearson(table) -> str:
    return "pearson"


def _yates_2x2(table) -> str:
    return "yates" if _shape(table)[0] == 2 else "pearson"


def _fisher(table) -> str:
    return "fisher"


def _lr(table) -> str:
    return "likelihood_ratio"


def _fisher_if_small(table) -> str:
    return "fisher" if _shape(table)[2] < 5 else "pearson"


def _yates_if_small(table) -> str:
    levels, _, e_min, _ = _shape(table)
    return "yates" if levels == 2 and e_min < 5 else "pearson"


def _cochran(table) -> str:
    levels, n, e_min, _ = _shape(table)
    if levels != 2:
        return "pearson"
    if n < 40 or e_min < 1:
        return "fisher"
    return "yates" if e_min < 5 else "pearson"


def _cochran_rxc(table) -> str:
    _, _, e_min, small = _shape(table)
    return "fisher" if e_min < 1 or small > 0.2 else "pearson"


#: Candidate rules, simplest first: name -> (short name, what the rule says, table -> test of TEST_CHOICES).
RULES: dict[str, tuple[str, str, Callable]] = {
    "pearson": ("Pearson", "Pearson's χ² test for every table", _pearson),
    "yates_2x2": (
        "Yates for 2 × 2",
        "the Yates-corrected χ² for a 2 × 2 table, Pearson's χ² for larger ones",
        _yates_2x2,
    ),
    "fisher": ("Fisher", "Fisher's exact test for every table", _fisher),
    "likelihood_ratio": ("likelihood ratio", "the likelihood-ratio χ² test for every table", _lr),
    "fisher_if_small": (
        "Fisher if E < 5",
        "Pearson's χ², or Fisher's exact test when an expected count is below 5",
        _fisher_if_small,
    ),
    "yates_if_small": (
        "Yates if 2 × 2 and E < 5",
        "Pearson's χ², or the Yates-corrected χ² for a 2 × 2 table with an expected count below 5",
        _yates_if_small,
    ),
    "cochran": (
        "Cochran 2 × 2 (Yates if 1 ≤ E < 5, Fisher if E < 1 or N < 40)",
        "Pearson's χ²; for a 2 × 2 table the Yates-corrected χ² when the smallest expected count is in [1, 5) "
        "and Fisher's exact test when it is below 1 or N < 40",
        _cochran,
    ),
    "cochran_rxc": (
        "Cochran r × c (Fisher if > 20% of E < 5 or any E < 1)",
        "Pearson's χ², or Fisher's exact test when more than 20% of expected counts are below 5 or one is below 1",
        _cochran_rxc,
    ),
}

#: Which levels of a characteristic enter its test: all, or only those the table prints.
LEVELS: dict[str, str] = {"all": "on all levels", "printed": "on the printed levels only"}


@dataclass(frozen=True)
class PrintedPair:
    """A p-value the paper prints with the counts it tests: ``key`` (e.g. ``table1.after.ecog``), the
    ``printed`` p as text, the ``table`` of counts (levels x arms, an unprinted level included) and, when a
    level is unprinted, the ``printed_rows`` table without it."""

    key: str
    printed: str
    table: tuple
    printed_rows: Optional[tuple] = None
    where: str = ""

    def counts(self, levels: str) -> tuple:
        return self.printed_rows if levels == "printed" and self.printed_rows is not None else self.table


def _p_text(entry) -> str:
    if entry.printed is not None:
        return str(entry.printed).strip()
    return f"{float(entry.value):.3f}"


def _where(pub, p_id: str) -> str:
    """Where the paper prints a p, without the trailing "p-value" ("Table 1, after PSM, Gender")."""
    return re.sub(r",\s*p-value$", "", str(getattr(pub[p_id], "where", "") or p_id))


def printed_pairs(published: Optional[Mapping] = None) -> list[PrintedPair]:
    """Every printed p of Tables 1, 2 and 4 with the printed counts it tests (Table 1: levels x arms, the
    patients in no printed level as one more row; Tables 2 and 4: the category against all other patients)."""
    pub = load_published() if published is None else published
    arms = ("anlotinib", "crt")
    out: list[PrintedPair] = []
    for period in ("before", "after"):
        if not all(f"table1.{period}.n.{a}" in pub for a in arms):
            continue
        n_arm = [int(pub[f"table1.{period}.n.{a}"].value) for a in arms]
        for p_id in [k for k in pub if re.fullmatch(rf"table1\.{period}\.[^.]+\.p", k)]:
            var = p_id.split(".")[2]
            levels = []
            for k in pub:
                m = re.fullmatch(rf"table1\.{period}\.{re.escape(var)}\.([^.]+)\.anlotinib\.n", k)
                if m and f"table1.{period}.{var}.{m[1]}.crt.n" in pub:
                    levels.append(m[1])
            if not levels:
                continue
            rows = tuple(tuple(int(pub[f"table1.{period}.{var}.{lv}.{a}.n"].value) for a in arms) for lv in levels)
            rest = tuple(n - sum(r[j] for r in rows) for j, n in enumerate(n_arm))
            if any(x > 0 for x in rest) and all(x >= 0 for x in rest):
                out.append(PrintedPair(p_id[: -len(".p")], _p_text(pub[p_id]), (rest,) + rows, rows, _where(pub, p_id)))
            else:
                out.append(PrintedPair(p_id[: -len(".p")], _p_text(pub[p_id]), rows, None, _where(pub, p_id)))
    for prefix in ("table2.before", "table2.after", "table4"):
        if not all(f"{prefix}.n.{a}" in pub for a in arms):
            continue
        n_a, n_c = (int(pub[f"{prefix}.n.{a}"].value) for a in arms)
        for p_id in [k for k in pub if re.fullmatch(rf"{re.escape(prefix)}\.[^.]+\.p", k)]:
            cat = p_id[: -len(".p")]
            if not all(f"{cat}.{a}.n" in pub for a in arms):
                continue
            a, c = (int(pub[f"{cat}.{x}.n"].value) for x in arms)
            out.append(PrintedPair(cat, _p_text(pub[p_id]), ((a, c), (n_a - a, n_c - c)), None, _where(pub, p_id)))
    return out


def rule_test(table, rule: str) -> tuple[str, float]:
    """The test `rule` (a key of :data:`RULES`) chooses for `table`, and its p."""
    if rule not in RULES:
        raise ValueError(f"unknown test rule {rule!r}; choose one of {', '.join(RULES)}")
    test = RULES[rule][2](table)
    return test, float(run_test(np.asarray(table), test))


def _table_of(key: str) -> str:
    head = key.split(".")
    return {"table1": "Table 1", "table2": "Table 2", "table4": "Table 4"}[head[0]] + (
        f" {head[1]}" if head[0] != "table4" else ""
    )


@lru_cache(maxsize=4)
def _scores(pairs: tuple[PrintedPair, ...]) -> pd.DataFrame:
    rows = []
    for rule in RULES:
        for levels in LEVELS:
            for pair in pairs:
                test, p = rule_test(pair.counts(levels), rule)
                rows.append(
                    {
                        "rule": rule,
                        "levels": levels,
                        "key": pair.key,
                        "where": pair.where,
                        "table": _table_of(pair.key),
                        "test": test,
                        "p": p,
                        "printed": pair.printed,
                        "reproduces": bool(reproduces(p, pair.printed)),
                    }
                )
    return pd.DataFrame(rows)


def score_rules(pairs: Optional[list[PrintedPair]] = None) -> pd.DataFrame:
    """One row per (rule, levels, printed p): the test the rule chooses, its p on the paper's counts, the
    printed p and whether it prints as the paper's."""
    return _scores(tuple(printed_pairs() if pairs is None else pairs)).copy()


@dataclass(frozen=True)
class RuleRecovery:
    """The recovered rule: ``rule`` and ``levels`` (keys of :data:`RULES`, :data:`LEVELS`), how many of the
    ``n_pairs`` printed p-values it reproduces, the rules ``tied`` with it, the ``scores`` of every rule
    (reproduced per table) and the ``pairs`` frame of the chosen rule (one row per printed p)."""

    rule: str
    levels: str
    n_reproduced: int
    n_pairs: int
    tied: tuple[tuple[str, str], ...]
    scores: pd.DataFrame
    pairs: pd.DataFrame

    @property
    def statement(self) -> str:
        """The rule in words: "Pearson's χ² ... on all levels"."""
        return f"{RULES[self.rule][1]}, {LEVELS[self.levels]}"

    def test(self, table) -> tuple[str, float]:
        """The rule's test of `table` (levels x arms) and its p."""
        return rule_test(table, self.rule)

    @property
    def missed(self) -> pd.DataFrame:
        """The printed p-values the rule does not reproduce."""
        return self.pairs[~self.pairs["reproduces"]]


def recover_test_rule(published: Optional[Mapping] = None) -> RuleRecovery:
    """Score every candidate rule against every printed (counts, p) pair and keep the one that reproduces the
    most printed p-values at their printed decimals (ties: the first in :data:`RULES`, all levels first)."""
    if published is None:
        return _default_recovery()
    return _recover(tuple(printed_pairs(published)))


@lru_cache(maxsize=1)
def _default_recovery() -> RuleRecovery:
    return _recover(tuple(printed_pairs()))


def _recover(pairs: tuple[PrintedPair, ...]) -> RuleRecovery:
    if not pairs:
        raise ValueError("no printed p-value with its counts to recover a test rule from")
    long = _scores(pairs)
    order = [(r, lv) for r in RULES for lv in LEVELS]
    totals = long.groupby(["rule", "levels"], sort=False)["reproduces"].sum()
    best = max(totals)
    ranked = [key for key in order if totals[key] == best]
    rule, levels = ranked[0]
    by_table = long.pivot_table(
        index=["rule", "levels"], columns="table", values="reproduces", aggfunc="sum", sort=False
    ).astype(int)
    by_table = by_table.reindex(order)
    by_table["reproduced"] = by_table.sum(axis=1)
    by_table["of"] = len(pairs)
    by_table.index = pd.MultiIndex.from_tuples(
        [(RULES[r][0], LEVELS[lv].replace("on ", "", 1).replace("the ", "", 1)) for r, lv in order],
        names=["candidate rule", "levels tested"],
    )
    by_table.columns.name = "printed p reproduced"
    chosen = long[(long["rule"] == rule) & (long["levels"] == levels)].drop(columns=["rule", "levels"])
    return RuleRecovery(rule, levels, int(best), len(pairs), tuple(ranked[1:]), by_table, chosen.reset_index(drop=True))


def rule_numbers(recovery: Optional[RuleRecovery] = None) -> dict[str, object]:
    """The recovered rule for the prose: ``test_rule`` (the rule in words), ``test_rule_reproduced``
    ("40 of 42"), ``test_rule_missed`` (the printed p-values it misses, with the rule's p), ``test_rule_tied``
    (the rules that reproduce as many, which the paper's numbers cannot tell from it) and the
    table ``test_rule_scores`` (every candidate rule, reproduced p-values per table)."""
    rec = recovery or recover_test_rule()
    missed = "; ".join(
        f"{w} (printed {pr}; the rule gives {p:.3f})"
        for w, pr, p in rec.missed[["where", "printed", "p"]].itertuples(index=False)
    )
    return {
        "test_rule": rec.statement,
        "test_rule_reproduced": f"{rec.n_reproduced} of {rec.n_pairs}",
        "test_rule_missed": missed or "none",
        "test_rule_tied": "; ".join(f"“{RULES[r][0]}” {LEVELS[lv]}" for r, lv in rec.tied) or "no other rule",
        "test_rule_scores": rec.scores,
    }
