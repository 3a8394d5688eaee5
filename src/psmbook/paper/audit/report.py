"""The audit run, tabulated and summarised, with what could not be checked."""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional, Sequence

import pandas as pd

from psmbook.analysis.association import infer_paper_test
from psmbook.paper.audit.common import ARMS, CHECKS, VERDICTS, Finding, PrintedNumbers, implied_counts
from psmbook.paper.audit.construction import construction_checks, test_rule_check
from psmbook.paper.audit.counts import duplicate_checks, duplicate_pairs, listing_thresholds, percentage_checks
from psmbook.paper.audit.follow_up import date_checks, landmark_checks
from psmbook.paper.audit.hazard_ratios import hr_checks
from psmbook.paper.audit.p_values import (
    cands_text,
    g34_overall_p_check,
    table1_p_checks,
    table2_p_checks,
    table4_p_checks,
    test_choice_summary,
)
from psmbook.paper.audit.subgroups import subgroup_checks
from psmbook.paper.audit.text import text_vs_table_checks
from psmbook.study.published import published_source


def run_audit(published: Optional[Mapping[str, Any]] = None) -> list[Finding]:
    """Every check of the paper against itself, consistent ones included.

    `published` maps id -> :class:`~psmbook.study.published.PublishedNumber` (or a plain value); by default
    the package's ``published.yaml``. Checks whose ids are missing from `published` are skipped.
    """
    pub = PrintedNumbers(published)
    dups = duplicate_pairs(pub)
    p_findings = table1_p_checks(pub) + table2_p_checks(pub) + table4_p_checks(pub) + g34_overall_p_check(pub)
    findings = list(p_findings) + test_choice_summary(p_findings) + test_rule_check(pub)
    findings += percentage_checks(pub, dups)
    findings += hr_checks(pub)
    findings += subgroup_checks(pub)
    findings += landmark_checks(pub)
    findings += construction_checks(pub)
    findings += date_checks(pub)
    findings += duplicate_checks(pub, dups)
    findings += listing_thresholds(pub)
    findings += text_vs_table_checks(pub, p_findings)
    return findings


def audit_table(
    findings: Sequence[Finding], *, verdicts: Optional[Iterable[str]] = None, sort: bool = True
) -> pd.DataFrame:
    """The findings as a display table: check, where, printed, recomputed, verdict, explanation, ids.

    `verdicts` keeps only those verdicts; `sort` puts inconsistencies first, then unstated choices,
    then consistent checks (each by family, in the order of :data:`CHECKS`).
    """
    keep = set(verdicts) if verdicts is not None else set(VERDICTS)
    unknown = keep - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdict(s) {sorted(unknown)}; choose from {VERDICTS}")
    rows = [
        {
            "check": f.check,
            "where": f.where,
            "printed": f.printed,
            "recomputed": f.recomputed,
            "verdict": f.verdict,
            "explanation": f.explanation,
            "ids": ", ".join(f.ids),
            "key": f.key,
        }
        for f in findings
        if f.verdict in keep
    ]
    df = pd.DataFrame(rows, columns=["check", "where", "printed", "recomputed", "verdict", "explanation", "ids", "key"])
    if sort and not df.empty:
        df = df.assign(_v=df["verdict"].map(VERDICTS.index), _c=df["check"].map(CHECKS.index))
        df = df.sort_values(["_v", "_c"], kind="stable").drop(columns=["_v", "_c"])
    return df.reset_index(drop=True)


def audit_summary(findings: Sequence[Finding]) -> pd.DataFrame:
    """Counts of findings by check (rows, in the order of :data:`CHECKS`) and verdict (columns), with totals."""
    table = pd.DataFrame(0, index=list(CHECKS), columns=list(VERDICTS), dtype=int)
    for f in findings:
        table.loc[f.check, f.verdict] += 1
    table = table.loc[table.sum(axis=1) > 0]
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    table.index.name = "check"
    table.columns.name = "verdict"
    return table


def not_checkable(published: Optional[Mapping[str, Any]] = None) -> list[tuple[str, str]]:
    """What the printed numbers cannot settle, and why: (what, why) pairs."""
    pub = PrintedNumbers(published)
    return [
        *_models_not_checkable(pub),
        *_pairing_and_exposure_not_checkable(pub),
        *_cohort_and_references_not_checkable(pub),
    ]


def _models_not_checkable(pub: PrintedNumbers) -> list[tuple[str, str]]:
    """The matching, the survival tests, Figure 1, the Cox models, the medians and numbers at risk."""
    out: list[tuple[str, str]] = []
    out.append(
        (
            "The propensity-score model and the matching itself",
            "Which patients were matched, the propensity scores, any caliper and the balance measures "
            "(standardised differences) need the patients' data; the paper prints only counts and p-values "
            "after matching.",
        )
    )
    evidence = _survival_test_evidence(pub)
    out.append(
        (
            "The survival p-values (PFS and OS, before and after matching)",
            "The paper never names the test (log-rank, presumably); it needs each patient's time and status. "
            "Tests of the printed proportions do not give them: " + "; ".join(evidence) + "."
            if evidence
            else "The paper never names the test (log-rank, presumably); it needs each patient's time and status.",
        )
    )
    out.append(
        (
            "Figure 1 (Kaplan–Meier curves, panels a–d)",
            "The figure is not in the text of the article; only the landmark rates and p-values quoted in the "
            "Results can be checked.",
        )
    )
    out.append(
        (
            "The Cox models of Table 3",
            "Fitting them needs the patients' data: the coding of 'number of recurrent nodes' and 'response', "
            "the handling of ties, the proportional-hazards assumption and whether the matched pairs were "
            "accounted for. Only each row's HR, CI and p against each other can be checked.",
        )
    )
    out.append(
        (
            "Median survival and the number at risk",
            "The paper prints no median OS or PFS and no numbers at risk, so the curves' shape beyond the "
            "quoted landmarks cannot be checked.",
        )
    )
    return out


def _survival_test_evidence(pub: PrintedNumbers) -> list[str]:
    """Tests of the printed event proportions (and 12-month PFS after matching) against the printed survival
    p-values: none of them gives those p-values."""
    evidence = []
    for ep, word in (("pfs", "progression"), ("os", "death")):
        ids = [f"text.survival.{ep}.before.events.{a}.n" for a in ARMS]
        ns = [f"table1.before.n.{a}" for a in ARMS]
        p_id = f"text.survival.{ep}.before.p"
        if pub.has(*ids, *ns, p_id):
            e = [int(pub.v(i)) for i in ids]
            n = [int(pub.v(i)) for i in ns]
            inf = infer_paper_test([[e[0], e[1]], [n[0] - e[0], n[1] - e[1]]], pub.p_text(p_id))
            evidence.append(
                f"{word} {e[0]}/{n[0]} vs {e[1]}/{n[1]}: {cands_text(inf.candidates)} "
                f"against the printed {pub.p_text(p_id)}" + ("" if not inf.reproduces else " (reproduced)")
            )
    ids = [f"text.survival.pfs.after.12m.{a}" for a in ARMS]
    if pub.has(*ids, "table1.after.n.anlotinib", "table1.after.n.crt", "text.survival.pfs.after.p"):
        ns = [int(pub.v(f"table1.after.n.{a}")) for a in ARMS]
        ks = [implied_counts(float(pub.v(i)), n) for i, n in zip(ids, ns)]
        if all(len(k) == 1 for k in ks):
            k = [x[0] for x in ks]
            inf = infer_paper_test(
                [[k[0], k[1]], [ns[0] - k[0], ns[1] - k[1]]], pub.p_text("text.survival.pfs.after.p")
            )
            evidence.append(
                f"12-month PFS {k[0]}/{ns[0]} vs {k[1]}/{ns[1]}: {cands_text(inf.candidates)} against "
                f"the printed {pub.p_text('text.survival.pfs.after.p')}"
                + ("" if not inf.reproduces else " (reproduced)")
            )
    return evidence


def _pairing_and_exposure_not_checkable(pub: PrintedNumbers) -> list[tuple[str, str]]:
    """The pairing of the matched comparisons, anlotinib exposure and the overlap of grade 3–4 events."""
    out: list[tuple[str, str]] = []
    after_p = [f for f in table1_p_checks(pub) + table2_p_checks(pub) if ".after." in f.key]
    unpaired = sum(1 for f in after_p if f.values.get("test") is not None)
    out.append(
        (
            "Whether the matched comparisons respect the pairing",
            f"{unpaired} of {len(after_p)} after-matching p-values of Tables 1–2 are reproduced by unpaired "
            "tests; a paired analysis (McNemar's test, a stratified Cox model) needs to know who is paired "
            "with whom.",
        )
    )
    ex = (
        "text.anlotinib.after.n",
        "text.anlotinib.after.start_dose_12mg.dose",
        "text.anlotinib.after.exposure.median",
        "text.anlotinib.after.gt6_cycles.threshold",
        "text.methods.anlotinib.maintenance.max",
    )
    if pub.has(*ex):
        out.append(
            (
                f"Anlotinib exposure in the matched arm ({pub.text(ex[1])} mg start, concurrent cycles, median "
                f"{pub.text(ex[2])} weeks, more than {pub.text(ex[3])} cycles)",
                f"Only the percentages of {pub.text(ex[0])} can be recomputed (see the percentage checks); the "
                f"distribution of exposure and its relation to the {pub.text(ex[4])}-month maintenance limit "
                f"need the patients' records.",
            )
        )
    g = [f"text.toxicity.g34_overall.{a}.pct" for a in ARMS]
    if pub.has(*g):
        out.append(
            (
                "Grade 3–4 toxicity overall and its overlap between events",
                f"The overall rates ({pub.text(g[0])} vs {pub.text(g[1])}) come without counts; the counts they "
                f"imply are whole numbers, but how the single events overlap within patients needs the "
                f"patients' data.",
            )
        )
    return out


def _cohort_and_references_not_checkable(pub: PrintedNumbers) -> list[tuple[str, str]]:
    """Nodal stations and the surgery-to-recurrence interval; the references' dates against acceptance."""
    out: list[tuple[str, str]] = []
    out.append(
        (
            "Nodal stations (2R, 7, supraclavicular) and the surgery-to-recurrence interval",
            "Stations overlap within patients and the interval is a median with range; neither can be "
            "checked beyond the bounds that Table 1 sets.",
        )
    )
    if pub.has("article.dates.accepted", "article.citation.year"):
        out.append(
            (
                f"Whether references dated {pub.text('article.citation.year')} predate acceptance",
                f"Only the year of each reference is printed; a paper of {pub.text('article.citation.year')} "
                f"may have appeared before or after the acceptance date, {pub.text('article.dates.accepted')}.",
            )
        )
    return out


def provenance_note() -> str:
    """Context, stated neutrally: the same cohort and results also appear in a second publication."""
    src = published_source()
    prov = str(src.get("provenance", "")).strip()
    prov = re.sub(r"^Per PROVENANCE\.md,\s*", "", prov)
    if prov:
        prov = prov[0].upper() + prov[1:]
    this = src.get("citation", "")
    other = src.get("also_published_as", "")
    return (
        f"This book reproduces {this}. {prov} Full reference: {other}. Both publications are public and "
        f"can be compared by any reader."
    ).strip()
