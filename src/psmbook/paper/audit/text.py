"""Checks of the text against the tables: the same quantity stated in both."""

from __future__ import annotations

from typing import Sequence

from psmbook.analysis.association import parse_printed_p
from psmbook.paper.audit.common import ARMS, Finding, PrintedNumbers, same_value, t1_label, where_of


def _primary_lesion_check(pub: PrintedNumbers) -> list[Finding]:
    """The text's "larger primary lesions (p = ...)": which Table 1 row carries that p?"""
    out: list[Finding] = []
    pl = "text.cohort.before.primary_lesion_size.p"
    if pub.has(pl):
        val = pub.v(pl)
        rows = [i for i in pub.ids(r"table1\.before\.[^.]+\.p") if same_value(pub.v(i), val)]
        own = "table1.before.primary_lesion_size.p"
        if pub.has(own):
            ok = same_value(pub.v(own), val)
            out.append(
                Finding(
                    "text vs table",
                    pub.where(pl),
                    (pl, own),
                    f"p = {pub.p_text(pl)}",
                    f"Table 1: {pub.p_text(own)}",
                    "consistent" if ok else "inconsistent",
                    "Text and table agree." if ok else "Text and table differ.",
                    "tvt.primary_lesion",
                    {},
                )
            )
        else:
            owners = ", ".join(t1_label(pub, i) for i in rows) or "no row"
            out.append(
                Finding(
                    "text vs table",
                    where_of(pub, pl, rows),
                    (pl, *rows),
                    f"'larger primary lesions (p = {pub.p_text(pl)})'",
                    f"Table 1 has no primary-lesion-size row; its before-PSM p = {pub.p_text(pl)} is on: {owners}",
                    "inconsistent",
                    f"The text attributes p = {pub.p_text(pl)} to larger primary lesions, which Table 1 does not "
                    f"report; Table 1 prints that p on {owners}.",
                    "tvt.primary_lesion",
                    {"rows_with_same_p": rows},
                )
            )
    return out


def _significant_before_check(pub: PrintedNumbers) -> list[Finding]:
    """The Results' list of significant before-PSM differences against Table 1."""
    out: list[Finding] = []
    text_ps = pub.ids(r"text\.cohort\.before\.[^.]+\.p")
    table_ps = pub.ids(r"table1\.before\.[^.]+\.p")
    if text_ps and table_ps and pub.has("text.methods.alpha.p"):
        alpha = float(pub.v("text.methods.alpha.p"))
        sig = [i for i in table_ps if float(pub.v(i)) < alpha]
        named = {i.split(".")[3] for i in text_ps}
        sig_vars = {i.split(".")[2] for i in sig}
        missing = sorted(sig_vars - named)
        ok = len(sig) == len(text_ps)
        out.append(
            Finding(
                "text vs table",
                where_of(pub, text_ps[0], sig),
                (*text_ps, *sig, "text.methods.alpha.p"),
                f"{len(text_ps)} significant differences before PSM named in the text",
                f"Table 1 before PSM: {len(sig)} p < {alpha:g} ("
                + ", ".join(f"{i.split('.')[2]} {pub.p_text(i)}" for i in sig)
                + ")",
                "consistent" if ok else "inconsistent",
                (
                    "The text names as many significant differences as Table 1 has"
                    + (
                        f"; the one it calls larger primary lesions is Table 1's "
                        f"{', '.join(t1_label(pub, f'table1.before.{v}.p') for v in missing)}."
                        if missing
                        else "."
                    )
                ),
                "tvt.significant_before",
                {"table_significant": sig, "text_named": sorted(named), "unnamed": missing},
            )
        )
    return out


def _after_matching_p_check(pub: PrintedNumbers, p_findings: Sequence[Finding]) -> list[Finding]:
    """The text's bound on every after-matching p of Table 1 ("all p > ..."), against the printed and recomputed p."""
    out: list[Finding] = []
    a_id = "text.cohort.after.all_covariates.p"
    after_ps = pub.ids(r"table1\.after\.[^.]+\.p")
    if pub.has(a_id) and after_ps:
        bound = float(pub.v(a_id))
        smallest = min(after_ps, key=lambda i: float(pub.v(i)))
        recomputed_after = [
            f.values.get("p")
            for f in p_findings
            if f.key.startswith("p.table1.after.") and f.values.get("p") is not None
        ]
        ok = float(pub.v(smallest)) > bound and all(p > bound for p in recomputed_after)
        out.append(
            Finding(
                "text vs table",
                where_of(pub, a_id, [smallest]),
                (a_id, *after_ps),
                f"all p {pub.text(a_id)}",
                f"smallest printed after-PSM p: {pub.p_text(smallest)} ({smallest.split('.')[2]}); smallest "
                f"recomputed: "
                f"{min(recomputed_after):.3f}"
                if recomputed_after
                else f"smallest printed: {pub.p_text(smallest)}",
                "consistent" if ok else "inconsistent",
                f"Every after-PSM p of Table 1, printed or recomputed, exceeds {bound:g}."
                if ok
                else f"Some after-PSM p of Table 1 is not above {bound:g}.",
                "tvt.after_all_p",
                {},
            )
        )
    return out


def _cox_entry_checks(pub: PrintedNumbers) -> list[Finding]:
    """Multivariate model: entry rule and the count of significant factors."""
    out: list[Finding] = []
    if pub.has("text.methods.univariate_entry.p", "text.methods.alpha.p"):
        entry = float(pub.v("text.methods.univariate_entry.p"))
        alpha = float(pub.v("text.methods.alpha.p"))
        uni = {
            i.split(".", 2)[2].rsplit(".", 1)[0]: float(pub.v(i))
            for i in pub.ids(r"table3\.univariate\.[^.]+\.[^.]+\.p")
        }
        multi = {
            i.split(".", 2)[2].rsplit(".", 1)[0]: float(pub.v(i))
            for i in pub.ids(r"table3\.multivariate\.[^.]+\.[^.]+\.p")
        }
        if uni and multi:
            entered = {k for k, p in uni.items() if p < entry}
            ok = entered == set(multi)
            out.append(
                Finding(
                    "text vs table",
                    "Table 3 and Materials and Methods, Statistical analysis",
                    ("text.methods.univariate_entry.p", *(f"table3.univariate.{k}.p" for k in uni)),
                    f"factors with univariate p {pub.text('text.methods.univariate_entry.p')} enter the "
                    f"multivariate model",
                    f"univariate p < {entry:g}: {', '.join(sorted(entered))}; multivariate rows: "
                    f"{', '.join(sorted(multi))}",
                    "consistent" if ok else "inconsistent",
                    "The multivariate model holds exactly the factors significant on univariate analysis."
                    if ok
                    else "The multivariate model's factors are not those significant on univariate analysis.",
                    "tvt.cox_entry",
                    {"entered": sorted(entered), "multivariate": sorted(multi)},
                )
            )
            sig = sorted(k for k, p in multi.items() if p < alpha)
            for n_id in (
                "text.cox.multivariate.significant.n",
                "text.discussion.cox.multivariate.significant.n",
            ):
                if pub.has(n_id):
                    ok = int(pub.v(n_id)) == len(sig)
                    out.append(
                        Finding(
                            "text vs table",
                            pub.where(n_id),
                            (n_id, *(f"table3.multivariate.{k}.p" for k in multi)),
                            f"{pub.text(n_id)} significant factors",
                            f"Table 3 multivariate p < {alpha:g}: {len(sig)} ({', '.join(sig)})",
                            "consistent" if ok else "inconsistent",
                            "The count matches Table 3." if ok else "The count differs from Table 3.",
                            f"tvt.cox_significant.{n_id.split('.')[1]}",
                            {"significant": sig},
                        )
                    )
    return out


def _figure1_check(pub: PrintedNumbers) -> list[Finding]:
    """Figure 1 caption against the survival p-values of the text."""
    out: list[Finding] = []
    f_id = "text.figure1.p"
    surv_ps = pub.ids(r"text\.survival\.(os|pfs)\.(before|after)\.p")
    if pub.has(f_id) and surv_ps:
        bound, _, upper = parse_printed_p(pub.p_text(f_id))
        ok = all(float(pub.v(i)) < bound for i in surv_ps)
        out.append(
            Finding(
                "text vs table",
                where_of(pub, f_id, surv_ps),
                (f_id, *surv_ps),
                f"Figure 1: all p {pub.text(f_id)}",
                "text: " + ", ".join(f"{i.split('.')[2].upper()} {i.split('.')[3]} {pub.p_text(i)}" for i in surv_ps),
                "consistent" if ok else "inconsistent",
                "The caption's bound holds for the four survival p-values of the text."
                if ok
                else "A survival p of the text breaks the caption's bound.",
                "tvt.figure1",
                {},
            )
        )
    return out


def _median_dose_check(pub: PrintedNumbers) -> list[Finding]:
    """Median radiation dose against Table 1's dose levels."""
    out: list[Finding] = []
    med = "text.treatment.radiotherapy.dose.median"
    std = [f"table1.before.radiation_dose.standard.{a}.n" for a in ARMS]
    esc = [f"table1.before.radiation_dose.escalated.{a}.n" for a in ARMS]
    if pub.has(med, *std, *esc):
        s = sum(int(pub.v(i)) for i in std)
        e = sum(int(pub.v(i)) for i in esc)
        frac = s / (s + e)
        ok = frac >= 0.5
        out.append(
            Finding(
                "text vs table",
                where_of(pub, med, [std[0]]),
                (med, *std, *esc),
                f"median {pub.text(med)} Gy",
                f"{s} of {s + e} ({100 * frac:.1f}%) in the lowest dose level (up to {pub.text(med)} Gy)",
                "consistent" if ok else "inconsistent",
                "More than half the patients are in the dose level that ends at the median, as it must be."
                if ok
                else "The median cannot fall in the lowest dose level.",
                "tvt.median_dose",
                {"lowest_level": s, "total": s + e},
            )
        )
    return out


def _respectively_check(pub: PrintedNumbers) -> list[Finding]:
    """The toxicities listed, then their grade 3–4 rates "respectively", against Table 4."""
    out: list[Finding] = []
    listed = pub.ids(r"text\.anlotinib\.any_grade\.\w+\.n")
    rates = pub.ids(r"text\.anlotinib\.g34\.\w+\.pct")
    if listed and rates:
        listed_events = [i.split(".")[3] for i in listed]
        rate_events = [i.split(".")[3] for i in rates]
        literal = dict(zip(listed_events, rates))
        table_rows = {i.split(".")[2]: i for i in pub.ids(r"table4\.anlotinib_g34\.\w+\.anlotinib\.pct")}
        matches_table = all(
            ev in table_rows and same_value(pub.v(table_rows[ev]), pub.v(r)) for ev, r in zip(rate_events, rates)
        )
        literal_pairs = ", ".join(f"{ev} {pub.text(r)}" for ev, r in literal.items())
        thr_note = ""
        if pub.has("table4.footnote.anlotinib_threshold.pct"):
            thr = float(pub.v("table4.footnote.anlotinib_threshold.pct"))
            extra = [ev for ev, r in literal.items() if ev not in table_rows and float(pub.v(r)) >= thr]
            if extra:
                thr_note = (
                    f" Read literally, {', '.join(extra)} would have a grade 3–4 rate ≥ {thr:g}%, yet "
                    f"Table 4 (which lists such events) has no row for it."
                )
        ok = len(listed) == len(rates)
        out.append(
            Finding(
                "text vs table",
                where_of(pub, rates[0], [*(table_rows.values())][:1]),
                (*listed, *rates, *table_rows.values()),
                f"{len(listed)} toxicities listed, then {len(rates)} grade 3–4 rates 'respectively'",
                f"literal pairing: {literal_pairs}; Table 4 pairing: "
                + ", ".join(f"{ev} {pub.text(table_rows[ev])}" for ev in table_rows),
                "consistent" if ok else "inconsistent",
                (
                    f"'Respectively' pairs {len(rates)} rates with {len(listed)} toxicities; the rates are Table 4's "
                    f"({', '.join(rate_events)}) only if the list is read out of order." + thr_note
                )
                if not ok
                else "One rate per listed toxicity.",
                "tvt.g34_respectively",
                {"listed": listed_events, "rates": rate_events, "matches_table": matches_table},
            )
        )
    return out


def text_vs_table_checks(pub: PrintedNumbers, p_findings: Sequence[Finding]) -> list[Finding]:
    """The same quantity in the text and in a table: the primary lesion's p, the significant differences before
    matching, the after-matching bound, the Cox model's entry rule and significant factors, Figure 1's bound,
    the median radiation dose and the grade 3–4 rates listed "respectively"; `p_findings` are the p-value
    checks (their recomputed p)."""
    return [
        *_primary_lesion_check(pub),
        *_significant_before_check(pub),
        *_after_matching_p_check(pub, p_findings),
        *_cox_entry_checks(pub),
        *_figure1_check(pub),
        *_median_dose_check(pub),
        *_respectively_check(pub),
    ]
