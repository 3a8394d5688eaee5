"""Checks that need more than the printed numbers: what no dataset can satisfy (found by building one) and the
one test rule the printed p-values reveal.

*By construction*: the synthetic generator is asked for every printed number at once; where two of them
cannot hold together in any patient-level dataset, it says which and why
(:func:`psmbook.cohort.synthetic.landmark_findings`), an inconsistency stronger than any pairwise check
(the idea of GRIM and SPRITE, applied to a whole study). *Test rule*: the rule recovered from all printed
(counts, p) pairs (:func:`psmbook.analysis.paper_rule.recover_test_rule`) and the printed p-values it
leaves unexplained.
"""

from __future__ import annotations

from psmbook.analysis.paper_rule import printed_pairs, recover_test_rule
from psmbook.paper.audit.common import Finding, PrintedNumbers, same_value


def construction_checks(pub: PrintedNumbers) -> list[Finding]:
    """One finding per printed number the generator shows no dataset can have (only for the numbers as the
    package prints them: the generator reads the package's published numbers)."""
    from psmbook.cohort.synthetic import landmark_findings

    out = []
    for item in landmark_findings():
        pid = item["published_id"]
        if not pub.has(pid) or not same_value(pub.v(pid), item["printed"]):
            continue
        out.append(
            Finding(
                "by construction",
                pub.where(pid),
                (pid,),
                pub.text(pid),
                f"nearest possible: {item['nearest_count']}/{item['n']} = {item['nearest_printed']:.1f}%",
                "inconsistent",
                f"Impossible by construction: {item['why']}. A cohort that reproduces every other printed number "
                f"can only come nearest, with {item['nearest_count']} of {item['n']} patients.",
                f"construction.{pid}",
                dict(item),
            )
        )
    out += cox_row_checks(pub)
    return out


def cox_row_checks(pub: PrintedNumbers) -> list[Finding]:
    """One finding per printed Cox number that no (log HR, SE) prints together with the rest of its row (the
    generator's row targets, :func:`psmbook.cohort.synthetic.coxtargets.cox_row_targets`)."""
    from psmbook.cohort.synthetic.coxtargets import cox_row_targets

    out = []
    for row in cox_row_targets(pub.m):
        for pid, why in row.impossible.items():
            out.append(
                Finding(
                    "by construction",
                    pub.where(pid),
                    (pid,),
                    pub.text(pid),
                    f"log HR {row.log_hr:.4f}, SE {row.se:.4f} print the rest of the row",
                    "inconsistent",
                    f"Impossible by construction: {why} (HR = exp(b), limits exp(b ∓ 1.96 SE), Wald p from b / SE).",
                    f"construction.{pid}",
                    {"log_hr": row.log_hr, "se": row.se, "kept": row.ids},
                )
            )
    return out


def test_rule_check(pub: PrintedNumbers) -> list[Finding]:
    """The one test rule of the printed p-values: how many it reproduces, and which it does not."""
    if not printed_pairs(pub.m):
        return []
    rec = recover_test_rule(pub.m)
    missed = rec.missed
    if missed.empty:
        verdict, expl = "consistent", f"One rule reproduces every printed p-value: {rec.statement}."
    else:
        verdict = "needs an unstated choice"
        listed = "; ".join(
            f"{w} (printed {pr}; the rule gives {p:.3f})"
            for w, pr, p in missed[["where", "printed", "p"]].itertuples(index=False)
        )
        expl = (
            f"Of the candidate rules, {rec.statement} reproduces the most printed p-values, {rec.n_reproduced} of "
            f"{rec.n_pairs}; the Methods state no rule. It misses {listed}."
        )
    return [
        Finding(
            "p-value",
            "Tables 1, 2 and 4 (every printed p with its counts)",
            tuple(f"{k}.p" for k in rec.pairs["key"]),
            "Methods: 'either the χ² test or Fisher's exact test'",
            f"{rec.statement}: {rec.n_reproduced} of {rec.n_pairs} printed p-values",
            verdict,
            expl,
            "p.test_rule",
            {"rule": rec.rule, "levels": rec.levels, "reproduced": rec.n_reproduced, "pairs": rec.n_pairs},
        )
    ]
