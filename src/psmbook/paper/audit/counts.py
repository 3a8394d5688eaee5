"""Checks of counts and percentages: the same number printed twice, and every percentage against its denominator."""

from __future__ import annotations

import math
import re
from typing import Callable, Mapping, Optional

from psmbook.paper.audit.common import (
    Finding,
    PrintedNumbers,
    implied_counts,
    pct_exact_of,
    pct_of,
    place_of,
    same_value,
    section_of,
    truncated,
    usual_form,
    where_of,
)

_DUPLICATE_RULES: tuple[tuple[str, Callable[[re.Match], str]], ...] = (
    (
        r"text\.response\.(before|after)\.(\w+)\.(anlotinib|crt)\.pct",
        lambda m: f"table2.{m[1]}.{m[2]}.{m[3]}.pct",
    ),
    (r"text\.response\.(before|after)\.(\w+)\.p", lambda m: f"table2.{m[1]}.{m[2]}.p"),
    (r"abstract\.response\.after\.(\w+)\.(anlotinib|crt)\.pct", lambda m: f"table2.after.{m[1]}.{m[2]}.pct"),
    (r"abstract\.response\.after\.(\w+)\.p", lambda m: f"table2.after.{m[1]}.p"),
    (r"text\.discussion\.orr\.(anlotinib|crt)\.pct", lambda m: f"table2.after.orr.{m[1]}.pct"),
    (r"text\.discussion\.orr\.p", lambda m: "table2.after.orr.p"),
    (r"text\.discussion\.outcomes\.anlotinib\.orr\.pct", lambda m: "table2.after.orr.anlotinib.pct"),
    (
        r"text\.discussion\.outcomes\.anlotinib\.pfs_12m\.pct",
        lambda m: "text.survival.pfs.after.12m.anlotinib",
    ),
    (r"text\.discussion\.outcomes\.anlotinib\.os_3y\.pct", lambda m: "text.survival.os.after.3y.anlotinib"),
    (
        r"abstract\.survival\.(os|pfs)\.after\.(\w+)\.(anlotinib|crt)",
        lambda m: f"text.survival.{m[1]}.after.{m[2]}.{m[3]}",
    ),
    (r"abstract\.survival\.(os|pfs)\.after\.p", lambda m: f"text.survival.{m[1]}.after.p"),
    (r"text\.toxicity\.g34\.(\w+)\.(anlotinib|crt)\.pct", lambda m: f"table4.{m[1]}.{m[2]}.pct"),
    (r"text\.toxicity\.g34\.(\w+)\.p", lambda m: f"table4.{m[1]}.p"),
    (r"text\.toxicity\.g34_threshold\.pct", lambda m: "table4.footnote.trae_threshold.pct"),
    (r"text\.anlotinib\.g34\.(\w+)\.pct", lambda m: f"table4.anlotinib_g34.{m[1]}.anlotinib.pct"),
    (
        r"abstract\.toxicity\.g34_overall\.(anlotinib|crt)\.pct",
        lambda m: f"text.toxicity.g34_overall.{m[1]}.pct",
    ),
    (r"abstract\.toxicity\.g34_overall\.p", lambda m: "text.toxicity.g34_overall.p"),
    (r"text\.discussion\.g34_overall\.anlotinib\.pct", lambda m: "text.toxicity.g34_overall.anlotinib.pct"),
    (r"abstract\.cox\.multivariate\.arm\.anlotinib\.p", lambda m: "table3.multivariate.arm.anlotinib.p"),
    (
        r"text\.cox\.(univariate|multivariate)\.(\w+)\.([\w-]+)\.(hr|ci_low|ci_high|p)",
        lambda m: f"table3.{m[1]}.{m[2]}.{m[3]}.{m[4]}",
    ),
    (r"text\.discussion\.cox\.multivariate\.significant\.n", lambda m: "text.cox.multivariate.significant.n"),
    (r"abstract\.cohort\.n", lambda m: "text.cohort.n"),
    (r"text\.treatment\.n", lambda m: "text.cohort.n"),
    (r"abstract\.cohort\.(before|after)\.n\.(anlotinib|crt)", lambda m: f"table1.{m[1]}.n.{m[2]}"),
    (r"text\.cohort\.(before|after)\.n\.(anlotinib|crt)", lambda m: f"table1.{m[1]}.n.{m[2]}"),
    (r"text\.cohort\.before\.(\w+)\.p", lambda m: f"table1.before.{m[1]}.p"),
    (r"text\.anlotinib\.after\.n", lambda m: "table1.after.n.anlotinib"),
    (r"text\.survival\.pfs\.before\.n\.(anlotinib|crt)", lambda m: f"table1.before.n.{m[1]}"),
    (r"(abstract|text\.cohort)\.period\.(start|end)", lambda m: f"text.methods.period.{m[2]}"),
)


def duplicate_pairs(pub: PrintedNumbers) -> dict[str, list[str]]:
    """canonical id -> the ids that print the same quantity elsewhere (only pairs present in `pub`)."""
    out: dict[str, list[str]] = {}
    for i in pub.m:
        for pattern, target in _DUPLICATE_RULES:
            m = re.fullmatch(pattern, i)
            if m:
                canon = target(m)
                if pub.has(canon) and canon != i:
                    out.setdefault(canon, []).append(i)
                break
    return out


def duplicate_checks(pub: PrintedNumbers, dups: Mapping[str, list[str]]) -> list[Finding]:
    out = []
    for canon, others in dups.items():
        check = "date" if pub.m[canon].kind == "date" else "text vs table"
        vals = {i: pub.v(i) for i in [canon, *others]}
        differ = [i for i in others if not same_value(vals[i], vals[canon])]
        printed = "; ".join(f"{place_of(pub.where(i))}: {pub.text(i)}" for i in [canon, *others])
        where = where_of(pub, canon, others)
        if differ:
            verdict = "inconsistent"
            recomputed = "differ: " + ", ".join(f"{pub.text(i)} vs {pub.text(canon)}" for i in differ)
            expl = (
                f"The same quantity is printed as {pub.text(canon)} in {place_of(pub.where(canon))} but "
                + "; ".join(f"{pub.text(i)} in {place_of(pub.where(i))}" for i in differ)
                + "."
            )
        else:
            verdict = "consistent"
            texts = {pub.text(i) for i in [canon, *others]}
            recomputed = f"all {len(others) + 1} occurrences equal ({usual_form(pub.v(canon), pub.m[canon].kind)})"
            expl = f"Printed {len(others) + 1} times with the same value"
            expl += f" (written {' / '.join(sorted(texts))})." if len(texts) > 1 else "."
        out.append(
            Finding(
                check,
                where,
                (canon, *others),
                printed,
                recomputed,
                verdict,
                expl,
                f"dup.{canon}",
                {"values": vals, "differ": differ},
            )
        )
    return out


_DENOMINATOR_RULES: tuple[tuple[str, Callable[[re.Match], str]], ...] = (
    (r"table1\.(before|after)\.[^.]+\.[^.]+\.(anlotinib|crt)\.pct", lambda m: f"table1.{m[1]}.n.{m[2]}"),
    (r"table2\.(before|after)\.[^.]+\.(anlotinib|crt)\.pct", lambda m: f"table2.{m[1]}.n.{m[2]}"),
    (r"table4\.anlotinib_g34\.[^.]+\.anlotinib\.pct", lambda m: "table4.n.anlotinib"),
    (r"table4\.[^.]+\.(anlotinib|crt)\.pct", lambda m: f"table4.n.{m[1]}"),
    (r"text\.treatment\.concurrent_chemo\.[^.]+\.pct", lambda m: "text.treatment.n"),
    (
        r"text\.treatment\.before\.radiation_ge50gy\.(anlotinib|crt)\.pct",
        lambda m: f"text.cohort.before.n.{m[1]}",
    ),
    (
        r"text\.cohort\.(surgery_only|adjuvant|recurrence_confirmation\.\w+|nodal_stations\.\w+|recurrent_nodes\.\w+)\.pct",
        lambda m: "text.cohort.n",
    ),
    (r"text\.anlotinib\.after\.\w+\.pct", lambda m: "text.anlotinib.after.n"),
    (r"text\.anlotinib\.any_grade\.\w+\.pct", lambda m: "text.cohort.before.n.anlotinib"),
    (
        r"text\.survival\.pfs\.before\.events\.(anlotinib|crt)\.pct",
        lambda m: f"text.survival.pfs.before.n.{m[1]}",
    ),
    (r"text\.survival\.os\.before\.events\.(anlotinib|crt)\.pct", lambda m: f"text.cohort.before.n.{m[1]}"),
    # percentages printed without a count: the count is implied
    (r"text\.toxicity\.g34_overall\.(anlotinib|crt)\.pct", lambda m: f"table4.n.{m[1]}"),
    (r"text\.anlotinib\.any_event\.pct", lambda m: "text.cohort.before.n.anlotinib"),
)


def denominator_id(pct_id: str) -> Optional[str]:
    """The id of the N a printed percentage is of (None when the id is not a percentage of a count)."""
    for pattern, target in _DENOMINATOR_RULES:
        m = re.fullmatch(pattern, pct_id)
        if m:
            return target(m)
    return None


def percentage_checks(pub: PrintedNumbers, dups: Mapping[str, list[str]]) -> list[Finding]:
    """Every printed percentage against its count and denominator (or, with no count printed, the whole counts
    it implies); a percentage printed again elsewhere (`dups`) is checked once, with its repeats."""
    pairs = _percentage_pairs(pub, {i for v in dups.values() for i in v})
    rounded_up = _rounded_up(pub, pairs)
    out = []
    for pct_id, n_id, den in pairs:
        others = dups.get(pct_id, [])
        printed_vals = {i: float(pub.v(i)) for i in [pct_id, *others]}
        where = where_of(pub, pct_id, others)
        printed = pub.text(pct_id) + (
            f" (also {len(others)}× elsewhere"
            + (", same value)" if all(same_value(v, printed_vals[pct_id]) for v in printed_vals.values()) else ")")
            if others
            else ""
        )
        if n_id is None:  # implied count
            out.append(_implied_count_check(pub, pct_id, den, others, where, printed))
        else:
            out.append(_count_check(pub, (pct_id, n_id, den), others, where, printed, printed_vals, rounded_up))
    return out


def _percentage_pairs(pub: PrintedNumbers, duplicate_ids: set[str]) -> list[tuple[str, Optional[str], str]]:
    """(pct_id, n_id or None, den_id) of every percentage with a known denominator, repeats left out."""
    pairs = []  # (pct_id, n_id or None, den_id)
    for i in pub.m:
        if not i.endswith(".pct") or i in duplicate_ids:
            continue
        den = denominator_id(i)
        if den is None or not pub.has(den):
            continue
        n_id = i[:-4] + ".n"
        pairs.append((i, n_id if pub.has(n_id) else None, den))
    return pairs


def _rounded_up(pub: PrintedNumbers, pairs) -> list[tuple[int, int, float, float]]:
    """How the paper rounds: (n, N, exact, printed) of the cases that rounding half up prints and truncation
    would not."""
    rounded_up = []
    for pct_id, n_id, den in pairs:
        if n_id is None:
            continue
        n, N = int(pub.v(n_id)), int(pub.v(den))
        if N and same_value(pub.v(pct_id), pct_of(n, N)) and not same_value(truncated(n, N), pct_of(n, N)):
            rounded_up.append((n, N, pct_exact_of(n, N), pct_of(n, N)))
    return rounded_up


def _implied_count_check(
    pub: PrintedNumbers, pct_id: str, den: str, others: list[str], where: str, printed: str
) -> Finding:
    """A percentage printed without a count: some whole number of the N patients must give it."""
    N = int(pub.v(den))
    value = float(pub.v(pct_id))
    ks = implied_counts(value, N)
    ids = (pct_id, den, *others)
    if ks:
        recomputed = " or ".join(f"{k}/{N} = {pct_exact_of(k, N):.3f}%" for k in ks)
        verdict, expl = (
            "consistent",
            (
                f"No count is printed; {ks[0] if len(ks) == 1 else ks} of {N} "
                f"gives {pub.text(pct_id)}, a whole number of patients."
            ),
        )
    else:
        lo = math.floor(value * N / 100)
        recomputed = f"no whole k: {lo}/{N} = {pct_of(lo, N)}%, {lo + 1}/{N} = {pct_of(lo + 1, N)}%"
        verdict, expl = (
            "inconsistent",
            f"No whole number of the {N} patients gives {pub.text(pct_id)}.",
        )
    return Finding(
        "percentage",
        where,
        ids,
        printed,
        recomputed,
        verdict,
        expl,
        f"pct.{pct_id[:-4]}",
        {"implied_counts": ks, "N": N},
    )


def _count_check(
    pub: PrintedNumbers,
    ids3: tuple[str, str, str],
    others: list[str],
    where: str,
    printed: str,
    printed_vals: dict[str, float],
    rounded_up: list[tuple[int, int, float, float]],
) -> Finding:
    """A percentage against its printed count n and denominator N (n / N rounded half up to one decimal), in
    every place it is printed; a truncated value is noted against the paper's rounding elsewhere."""
    pct_id, n_id, den = ids3
    N = int(pub.v(den))
    n = int(pub.v(n_id))
    exact = pct_exact_of(n, N) if N else float("nan")
    expected = pct_of(n, N)
    wrong = [i for i, v in printed_vals.items() if not same_value(v, expected)]
    ids = (pct_id, n_id, den, *others)
    recomputed = f"{n}/{N} = {exact:.3f}% → {expected:.1f}%"
    values = {
        "n": n,
        "N": N,
        "exact": exact,
        "rounded": expected,
        "truncated": truncated(n, N),
        "printed": printed_vals[pct_id],
        "wrong": wrong,
    }
    if not wrong:
        return Finding(
            "percentage",
            where,
            ids,
            printed,
            recomputed,
            "consistent",
            f"{n} of {N} is {exact:.3f}%, printed {pub.text(pct_id)}.",
            f"pct.{pct_id[:-4]}",
            values,
        )
    places = list(dict.fromkeys(place_of(pub.where(i)) for i in wrong))
    expl = f"{n} of {N} is {exact:.3f}%, which rounds to {expected:.1f}%, not {pub.text(pct_id)}" + (
        f" (printed so {len(wrong)} times: {'; '.join(places)})." if len(wrong) > 1 else "."
    )
    if same_value(truncated(n, N), printed_vals[pct_id]) and rounded_up:
        ex = rounded_up[0]
        expl += (
            f" Truncating would give {pub.text(pct_id)}, but the paper rounds elsewhere "
            f"({len(rounded_up)} percentages are rounded up, e.g. {ex[0]}/{ex[1]} = {ex[2]:.3f}% "
            f"printed {ex[3]:.1f}%)."
        )
        values["rounded_up_elsewhere"] = len(rounded_up)
    return Finding("percentage", where, ids, printed, recomputed, "inconsistent", expl, f"pct.{pct_id[:-4]}", values)


def listing_thresholds(pub: PrintedNumbers) -> list[Finding]:
    """Table 4's notes: each listed row reaches the threshold the note gives."""
    out = []
    specs = (
        (
            "table4.footnote.trae_threshold.pct",
            r"table4\.(?!anlotinib_g34|footnote)[^.]+\.(anlotinib|crt)\.pct",
            "in either arm",
        ),
        (
            "table4.footnote.anlotinib_threshold.pct",
            r"table4\.anlotinib_g34\.[^.]+\.anlotinib\.pct",
            "in the combination group",
        ),
    )
    for thr_id, pattern, scope in specs:
        rows = pub.ids(pattern)
        if not pub.has(thr_id) or not rows:
            continue
        thr = float(pub.v(thr_id))
        by_event: dict[str, float] = {}
        for i in rows:
            ev = i.split(".")[-3]
            by_event[ev] = max(by_event.get(ev, 0.0), float(pub.v(i)))
        below = {e: v for e, v in by_event.items() if v < thr}
        recomputed = ", ".join(f"{e} {v:.1f}%" for e, v in by_event.items())
        out.append(
            Finding(
                "text vs table",
                section_of(pub.where(thr_id)),
                (thr_id, *rows),
                f"listed if {pub.text(thr_id)} {scope}",
                "largest rate per row: " + recomputed,
                "inconsistent" if below else "consistent",
                (
                    f"Rows below the note's threshold: {below}."
                    if below
                    else f"Every listed row reaches {pub.text(thr_id)} {scope} "
                    f"(smallest: {min(by_event.values()):.1f}%)."
                ),
                f"listing.{thr_id}",
                {"largest": by_event, "below": below},
            )
        )
    return out
