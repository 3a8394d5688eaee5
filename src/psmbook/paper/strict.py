"""Reproduced against published at the printed precision, in three classes, with every disagreement explained.

The loose comparison (:mod:`psmbook.paper.comparison`) allows tolerances (p on the same side of 0.05, HR
within 25%). Here a number agrees only if it prints as the paper prints it: counts exactly; a percentage
rounded half up to the printed decimals; a p-value at the printed decimals, a printed "< 0.001" or
"> 0.4" read as the inequality it is; HRs and confidence limits at the printed decimals; months and weeks
within the printed rounding.

Three classes (synthetic cohort): *calibrated* — counts (and landmark counts, cohort facts) the generator
was built to reproduce; *fixed by the counts* — percentages and p-values of count tables, which follow from
calibrated counts; *produced* — what the synthetic patients gave when put through the paper's analysis
(survival p-values, Cox models). On real data every number is *computed from the data*.

Every number that does not agree gets an explanation: an audit finding of the paper against itself
(:mod:`psmbook.paper.audit`; numbers impossible by construction first), or a named reason.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Mapping, Optional, Sequence

import pandas as pd

from psmbook.analysis.association import reproduces
from psmbook.analysis.tables import percent
from psmbook.paper.audit import Finding, denominator_id
from psmbook.paper.audit.common import PrintedNumbers
from psmbook.paper.audit.counts import duplicate_pairs
from psmbook.paper.comparison import aliases, numeric
from psmbook.study.published import load_published, printed_text

#: The classes, in display order.
CLASSES: tuple[str, ...] = ("calibrated", "fixed by the counts", "produced", "computed from the data")

CLASS_LABELS = {
    "calibrated": "Counts (and log-rank p, Table 3's rows) the generator was calibrated to",
    "fixed by the counts": "Fixed by those counts (percentages, p-values of count tables)",
    "produced": "Produced by the synthetic patients (survival, Cox models)",
    "computed from the data": "Computed from the data",
}

#: Columns of the listing of disagreements, after its index (the published id).
MISS_COLUMNS = ["where", "printed", "computed", "class", "explained by", "explanation"]

_COUNT_TABLE_P = re.compile(
    r"(table1\.(before|after)|table2\.(before|after)|table4)\.[^.]+\.p|text\.toxicity\..*\.p"
    r"|text\.cohort\.after\.all_covariates\.p"
)

_LANDMARK = re.compile(r"\.survival\.(os|pfs)\.(before|after)\.\d+[my]\.")


def _decimals(text: str) -> int:
    m = re.search(r"\d+(?:\.(\d+))?", text)
    return len(m[1]) if m and m[1] else 0


def _half_up(x: float, decimals: int) -> Decimal:
    return Decimal(repr(round(float(x), 10))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def agrees_at_printed_precision(entry, computed: float) -> tuple[bool, str]:
    """Whether `computed` prints as the published `entry` does, and the rule applied (for the table)."""
    text = printed_text(entry)
    if computed is None or (isinstance(computed, float) and math.isnan(computed)):
        return False, "no value"
    bound = re.match(r"^\s*([<>≤≥])\s*(\d*\.?\d+)", text)
    if bound and entry.kind in ("p", "percent"):
        limit = float(bound[2])
        ok = {"<": computed < limit, "≤": computed <= limit, ">": computed > limit, "≥": computed >= limit}[bound[1]]
        return bool(ok), f"inequality {bound[1]} {bound[2]}"
    if entry.kind == "count":
        return bool(round(float(computed), 9) == float(entry.value)), "exact"
    d = _decimals(text)
    if entry.kind == "p":
        return bool(reproduces(float(computed), text)), f"{d} decimals"
    if entry.kind == "percent":
        return bool(_half_up(computed, d) == _half_up(entry.value, d)), f"{d} decimal(s), half up"
    if entry.kind in ("hr", "ci_low", "ci_high"):
        return bool(_half_up(computed, d) == _half_up(entry.value, d)), f"{d} decimals, half up"
    half = 0.5 * 10.0 ** (-d)
    return bool(abs(float(computed) - float(entry.value)) <= half * (1 + 1e-9)), f"± {half:g} (printed rounding)"


#: Printed numbers that are another printed number's quantity (Table 4 covers the whole cohort of Table 1).
_SAME_QUANTITY = {"table4.n.anlotinib": "table1.before.n.anlotinib", "table4.n.crt": "table1.before.n.crt"}

#: Why a printed result is not compared: no chapter computes it.
NOT_COMPUTED = "a result the book does not compute"

#: The text's "all p > 0.4" after matching: a bound on every p of Table 1 after matching.
ALL_AFTER_P = "text.cohort.after.all_covariates.p"


def extend_results(
    results: Mapping[str, tuple[str, object]], published: Optional[Mapping] = None
) -> tuple[dict[str, tuple[str, object]], dict[str, list[str]]]:
    """The chapters' results (id -> (chapter, value)) with what the book's own numbers already give for printed
    numbers no chapter wrote: a percentage n/N from the book's count and denominator (rounded as the paper
    rounds, chapter "n / N"); and, for a number the paper prints again elsewhere (the audit's duplicates), the
    ids of the same quantity to compare through (the second item, for :func:`comparison.compare`)."""
    pub = published or load_published()
    out = dict(results)
    groups: dict[str, list[str]] = {}
    for canon, others in duplicate_pairs(PrintedNumbers(pub)).items():
        for i in (canon, *others):
            groups[i] = [j for j in (canon, *others) if j != i]

    def value_of(pid: str):
        for name in (pid, *aliases(pid), *groups.get(pid, ())):
            for alias in (name, *aliases(name)):
                if alias in out and numeric(out[alias][1]) is not None:
                    return numeric(out[alias][1])
        return None

    for pid, same in _SAME_QUANTITY.items():  # printed once more under a name the audit does not pair
        if pid in pub:
            groups.setdefault(pid, []).append(same)
    after_p = [numeric(v) for k, (_, v) in out.items() if re.fullmatch(r"table1\.after\.[^.]+\.p", k)]
    after_p = [v for v in after_p if v is not None]
    if ALL_AFTER_P in pub and value_of(ALL_AFTER_P) is None and after_p:  # "all p > 0.4": the smallest p
        out[ALL_AFTER_P] = ("smallest p of Table 1 after matching", min(after_p))
    for pid, entry in pub.items():
        if entry.kind != "percent" or value_of(pid) is not None:
            continue
        den = denominator_id(pid)
        n, total = value_of(pid.removesuffix(".pct") + ".n"), value_of(den) if den else None
        if n is not None and total:
            out[pid] = ("n / N", percent(int(n), int(total)))
    return out, groups


def not_compared(table: pd.DataFrame, published: Optional[Mapping] = None) -> pd.DataFrame:
    """The printed numbers the comparison leaves out, by why: settings of the protocol and the tables'
    thresholds, dates, doses, and results the book does not compute (each listed by id)."""
    pub = published or load_published()
    left = [pid for pid in pub if pid not in set(table["id"])]

    def why(pid: str) -> str:
        e = pub[pid]
        if e.kind == "date" or pid.startswith("article.") or pid.endswith(".year"):
            return "a date of the study or the article"
        if pid.startswith("text.methods.") or "threshold" in pid:
            return "a setting of the protocol or a threshold of a table"
        if e.kind in ("gy", "mg"):
            return "a dose of the protocol"
        return NOT_COMPUTED

    frame = pd.DataFrame({"id": left, "why": [why(i) for i in left]})
    return frame.groupby("why", sort=False)["id"].agg(numbers="size", ids=lambda ids: ", ".join(ids))


def calibration_targets() -> set[str]:
    """The published ids the synthetic generator is built to reproduce: its counts, and the log-rank p-values and
    Table 3's univariate and multivariable rows its outcome searches look for (not the hazard ratios of its model,
    which it only draws from)."""
    from psmbook.cohort.synthetic import load_targets, searched_ids

    pub = load_published()
    kinds = ("p", "hr", "ci_low", "ci_high")
    counts = {i for i in load_targets().ids.values() if i in pub and pub[i].kind not in kinds}
    return counts | {i for i in searched_ids() if i in pub}


def _is_cox(pid: str) -> bool:
    """Whether a published id is a number of Table 3's Cox models (the table's or a copy in the text)."""
    return pid.startswith("table3.") or ".cox." in pid


def number_class(pid: str, computed_as: str, kind: str, calibrated: set[str], synthetic: bool) -> str:
    """The class of one compared number (see the module's docstring): calibrated when the generator targets it
    (under any id of the same quantity), fixed by the counts when it follows from them (totals and sums of
    counts, percentages other than survival landmarks, p-values of count tables), else produced."""
    if not synthetic:
        return "computed from the data"
    names = [pid, computed_as, *aliases(pid)]
    if any(n in calibrated for n in names):
        return "calibrated"
    if kind == "count" and not any(_is_cox(n) for n in names):
        return "fixed by the counts"
    if kind == "percent" and not any(_LANDMARK.search(n) for n in names):
        return "fixed by the counts"
    if kind == "p" and any(_COUNT_TABLE_P.fullmatch(n) for n in names):
        return "fixed by the counts"
    return "produced"


def _rank(f: Finding) -> tuple[int, int]:
    """Most telling first: impossible by construction, then inconsistent, then an unstated choice."""
    return (0 if f.check == "by construction" else 1, 0 if f.verdict == "inconsistent" else 1)


def _finding_index(findings: Iterable[Finding]) -> dict[str, Finding]:
    """Published id -> the most telling finding that names it (see :func:`_rank`)."""
    ordered = sorted((f for f in findings if f.verdict != "consistent" and f.key != "p.tests_used"), key=_rank)
    out: dict[str, Finding] = {}
    for f in ordered:
        for i in f.ids:
            out.setdefault(i, f)
    return out


def named_reason(pid: str, kind: str, klass: str) -> str:
    """Why a number that no audit finding explains can differ, by what produced it."""
    if klass == "computed from the data":
        return "computed from this cohort's patients; a replication need not agree"
    if klass == "calibrated":
        if _is_cox(pid):
            return (
                "a Table 3 row the generator's searches aim at for the default matching (of outcomes, then of each "
                "characteristic's labels) but did not bring to the printed precision (see the cohort chapter's "
                "generator)"
            )
        if ".after." in pid:
            return "calibrated for the default matching; a build with other matching settings selects other patients"
        return "a calibrated number the generator did not reproduce: a failure of the generator"
    if klass == "fixed by the counts":
        return "follows from counts that differ from the paper's (see those counts)"
    if _is_cox(pid):
        return (
            "a Cox model fitted to the synthetic patients: the generator searches Table 3's printed rows, not what "
            "follows from them (such as how many factors are significant)"
        )
    if kind == "p" and (".survival." in pid or pid.startswith("text.figure1")):
        return (
            "a log-rank test of the synthetic patients that the generator's outcome search did not bring to the "
            "printed value"
        )
    return "produced by the synthetic patients; the generator does not target it"


def strict_compare(
    table: pd.DataFrame,
    findings: Sequence[Finding] = (),
    calibrated: Iterable[str] = (),
    synthetic: bool = True,
    published: Optional[Mapping] = None,
) -> pd.DataFrame:
    """The loose comparison (:func:`psmbook.paper.comparison.compare`) with, per number: the ``printed`` text,
    the ``precision`` rule, ``strict`` agreement, its ``class`` and, when it disagrees, who explains it
    (``explained by``: "impossible by construction", "audit finding" or "named reason") and how."""
    pub = published or load_published()
    calibrated = set(calibrated)
    index = _finding_index(findings)
    rows = []
    for r in table.itertuples(index=False):
        entry = pub[r.id]
        ok, rule = agrees_at_printed_precision(entry, r.computed)
        klass = number_class(r.id, r.computed_as, r.kind, calibrated, synthetic)
        by, why = "", ""
        if not ok:
            same = [n for n in (r.computed_as, *aliases(r.id)) if n in pub and pub[n].value == entry.value]
            # a duplicate printed alike shares the findings on that one number (not those on a whole HR row)
            found = [index[n] for n in (r.id, *same) if n in index and (n == r.id or index[n].check != "hazard ratio")]
            f = min(found, key=_rank) if found else None
            if f is not None:
                by = "impossible by construction" if f.check == "by construction" else "audit finding"
                why = f"{f.check}, {f.verdict}: {f.explanation}"
            else:
                by, why = "named reason", named_reason(r.computed_as, r.kind, klass)
        rows.append(
            {"printed": printed_text(entry), "precision": rule, "strict": ok, "class": klass, "explained by": by}
            | {"explanation": why}
        )
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def strict_agreement(strict: pd.DataFrame) -> pd.DataFrame:
    """Numbers per class: compared, agreeing at the printed precision, agreeing loosely (labelled as such)."""
    grouped = strict.groupby("class", sort=False)
    out = pd.DataFrame(
        {
            "numbers": grouped.size(),
            "agree at printed precision": grouped["strict"].sum().astype(int),
            "agree loosely (tolerances)": grouped["agrees"].sum().astype(int),
        }
    )
    out = out.reindex([c for c in CLASSES if c in out.index])
    out.loc["all"] = out.sum()
    out.index = pd.Index([CLASS_LABELS.get(c, "All compared numbers") for c in out.index], name="class")
    return out


def misses_listing(strict: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Every number that does not agree at the printed precision, by published id, with its explanation."""
    miss = strict[~strict["strict"]].set_index("id")
    return miss[MISS_COLUMNS].assign(computed=miss["computed"].round(decimals))


def strict_numbers(strict: pd.DataFrame, published: Optional[Mapping] = None) -> dict[str, object]:
    """The strict comparison's headline numbers for the prose (``n_strict_agree`` of ``n_strict_compared``, the
    share, the disagreements by what explains them, ``strict_<class>_n`` and ``strict_<class>_agree`` for the
    classes calibrated, fixed, produced and data) and the table ``strict_agreement``."""
    pub = published or load_published()
    miss = strict[~strict["strict"]]
    n, agree = len(strict), int(strict["strict"].sum())
    by_class = {c: strict[strict["class"] == c] for c in CLASSES}
    values: dict[str, object] = {
        "n_published": len(pub),
        "n_strict_compared": n,
        "n_strict_agree": agree,
        "strict_share": f"{100 * agree / n:.1f}%" if n else "–",
        "n_strict_miss": len(miss),
        "n_miss_construction": int((miss["explained by"] == "impossible by construction").sum()),
        "n_miss_audit": int((miss["explained by"] == "audit finding").sum()),
        "n_miss_named": int((miss["explained by"] == "named reason").sum()),
        "n_miss_unexplained": int((miss["explained by"] == "").sum()),
        "strict_agreement": strict_agreement(strict),
    }
    left = not_compared(strict, pub)
    values["not_compared"] = left[["numbers"]]
    values["n_not_computed"] = int(left["numbers"].get(NOT_COMPUTED, 0))
    values["not_computed_ids"] = left["ids"].get(NOT_COMPUTED, "none")
    for c, key in zip(CLASSES, ("calibrated", "fixed", "produced", "data")):
        values[f"strict_{key}_n"] = len(by_class[c])
        values[f"strict_{key}_agree"] = int(by_class[c]["strict"].sum())
    return values
