"""Checks of time: survival landmarks against follow-up, and the study's dates against each other."""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from typing import Optional

from psmbook.paper.audit.common import (
    ARM_WORDS,
    ARMS,
    PERIODS,
    Finding,
    PrintedNumbers,
    implied_counts,
    pct_exact_of,
    pct_of,
    where_of,
)
from psmbook.study.published import landmark_months


def _parse_date(s: str) -> tuple[dt.date, dt.date]:
    """Earliest and latest day an ISO date of reduced precision ("2022", "2019-12", "2025-05-31") can be."""
    parts = [int(x) for x in str(s).split("-")]
    if len(parts) == 1:
        return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)
    if len(parts) == 2:
        last = calendar.monthrange(parts[0], parts[1])[1]
        return dt.date(parts[0], parts[1], 1), dt.date(parts[0], parts[1], last)
    d = dt.date(*parts)
    return d, d


def _months_between(a: dt.date, b: dt.date) -> float:
    """Calendar months from a to b (whole months plus the fraction of the last one)."""
    whole = (b.year - a.year) * 12 + (b.month - a.month)
    return whole + (b.day - a.day) / 30.4375


def _landmark_ids(pub: PrintedNumbers) -> list[tuple[str, str, str, str]]:
    out = []
    for i in pub.ids(r"text\.survival\.(os|pfs)\.(before|after)\.\d+[my]\.(anlotinib|crt)"):
        _, _, ep, period, lm, arm = i.split(".")
        out.append((i, ep, period, lm + "|" + arm))
    return out


def landmark_checks(pub: PrintedNumbers) -> list[Finding]:
    """Survival landmarks: the premise of complete follow-up, then (when it holds) each landmark rate as k/N,
    the curves' order over time (PFS below OS) and the survivors against the patients without an event."""
    lms = _landmark_ids(pub)
    if not lms:
        return []
    premise = _follow_up_premise(pub, lms)
    if premise is None or premise.verdict != "consistent":
        return [premise] if premise is not None else []
    rates = [_landmark_rate_check(pub, *lm) for lm in lms]
    return [
        premise,
        *(f for f in rates if f is not None),
        *_landmark_order_checks(pub, lms),
        *_event_free_checks(pub, lms),
    ]


def _follow_up_premise(pub: PrintedNumbers, lms: list[tuple[str, str, str, str]]) -> Optional[Finding]:
    """Complete follow-up past the longest landmark (the last start of treatment against the censoring date):
    consistent when every landmark rate must be k/N for a whole k."""
    longest = max(landmark_months(x[3].split("|")[0]) for x in lms)
    premise_ids = ("text.methods.period.end", "text.methods.censoring_date")
    if not pub.has(*premise_ids):
        return None
    last_start = _parse_date(pub.v(premise_ids[0]))[1]
    censor = _parse_date(pub.v(premise_ids[1]))[0]
    min_fu = _months_between(last_start, censor)
    complete = min_fu >= longest
    return Finding(
        "landmark",
        where_of(pub, premise_ids[1], [premise_ids[0]]),
        premise_ids,
        f"treatment until {pub.text(premise_ids[0])}; censoring {pub.text(premise_ids[1])}",
        f"minimum follow-up = {censor.isoformat()} − {last_start.isoformat()} ≈ {min_fu:.0f} months "
        f"≥ {longest} months (longest landmark)",
        "consistent" if complete else "needs an unstated choice",
        (
            f"Every patient was followed at least {min_fu:.0f} months and patients lost to follow-up were "
            f"excluded, so nobody is censored before the {longest}-month landmark: each landmark rate must be "
            f"k/N for a whole k."
            if complete
            else "Follow-up is not complete past the longest landmark, so landmark rates need not be k/N."
        ),
        "landmark.premise",
        {"min_follow_up_months": min_fu, "longest_landmark_months": longest},
    )


def _landmark_rate_check(pub: PrintedNumbers, i: str, ep: str, period: str, lm_arm: str) -> Optional[Finding]:
    """One landmark rate of the text (id `i`): a whole number k of the N patients of its arm and period."""
    lm, arm = lm_arm.split("|")
    n_id = f"table1.{period}.n.{arm}"
    if not pub.has(n_id):
        return None
    N = int(pub.v(n_id))
    rate = float(pub.v(i))
    ks = implied_counts(rate, N)
    lo = math.floor(rate * N / 100)
    dups = [
        d
        for d in pub.m
        if d != i
        and d.startswith("abstract.survival.")
        and re.fullmatch(rf"abstract\.survival\.{ep}\.{period}\.{lm}\.{arm}", d)
    ]
    if ks:
        verdict = "consistent"
        recomputed = f"{ks[0]}/{N} = {pct_exact_of(ks[0], N):.3f}%"
        expl = (
            f"{ks[0]} of {N} patients {'alive' if ep == 'os' else 'alive and progression-free'} at "
            f"{landmark_months(lm)} months, a whole number."
        )
    else:
        verdict = "inconsistent"
        recomputed = (
            f"no whole k: {lo}/{N} = {pct_of(lo, N):.1f}%, {lo + 1}/{N} = {pct_of(lo + 1, N):.1f}% "
            f"({rate * N / 100:.2f} patients)"
        )
        expl = (
            f"With complete follow-up a {landmark_months(lm)}-month {ep.upper()} rate is k/{N}, but "
            f"{pub.text(i)} is {rate * N / 100:.2f} of {N} patients; only censoring before "
            f"{landmark_months(lm)} months, which the paper rules out, could give it."
        )
    return Finding(
        "landmark",
        where_of(pub, i, dups),
        (i, n_id, *dups),
        pub.text(i),
        recomputed,
        verdict,
        expl,
        f"landmark.{ep}.{period}.{lm}.{arm}",
        {"N": N, "k": ks, "neighbours": (lo, lo + 1), "patients": rate * N / 100},
    )


def _landmark_order_checks(pub: PrintedNumbers, lms: list[tuple[str, str, str, str]]) -> list[Finding]:
    """Ordering: later landmarks lower, PFS below OS, per period and arm."""
    out: list[Finding] = []
    for period in PERIODS:
        for arm in ARMS:
            series = {}
            for i, ep, p, lm_arm in lms:
                lm, a = lm_arm.split("|")
                if p == period and a == arm:
                    series.setdefault(ep, []).append((landmark_months(lm), float(pub.v(i)), i))
            if not series:
                continue
            problems = []
            for ep, pts in series.items():
                pts.sort()
                for (m1, v1, _), (m2, v2, _) in zip(pts, pts[1:]):
                    if v2 > v1:
                        problems.append(f"{ep.upper()} rises from {v1}% at {m1} to {v2}% at {m2} months")
            if "os" in series and "pfs" in series:
                os_at = {m: v for m, v, _ in series["os"]}
                for m, v, _ in series["pfs"]:
                    if m in os_at and v > os_at[m]:
                        problems.append(f"PFS {v}% above OS {os_at[m]}% at {m} months")
            ids = tuple(i for pts in series.values() for _, _, i in pts)
            pairs = "; ".join(
                f"{ep.upper()} " + " → ".join(f"{v}% ({m} mo)" for m, v, _ in pts) for ep, pts in series.items()
            )
            out.append(
                Finding(
                    "landmark",
                    f"Results, survival ({period} PSM, {ARM_WORDS[arm]})",
                    ids,
                    pairs,
                    "; ".join(problems) or "non-increasing over time, PFS ≤ OS at the same time",
                    "inconsistent" if problems else "consistent",
                    ("Survival curves cannot rise: " + "; ".join(problems) + ".")
                    if problems
                    else "Each curve falls over time and PFS never exceeds OS at the same time.",
                    f"landmark.order.{period}.{arm}",
                    {"problems": problems},
                )
            )
    return out


def _event_free_checks(pub: PrintedNumbers, lms: list[tuple[str, str, str, str]]) -> list[Finding]:
    """Before matching: survivors at each landmark are at least those who never had the event."""
    out: list[Finding] = []
    for ep, ev_key in (("os", "os"), ("pfs", "pfs")):
        for arm in ARMS:
            ev_id = f"text.survival.{ev_key}.before.events.{arm}.n"
            n_id = f"table1.before.n.{arm}"
            if not pub.has(ev_id, n_id):
                continue
            N, E = int(pub.v(n_id)), int(pub.v(ev_id))
            pts = [
                (i, lm_arm.split("|")[0])
                for i, e, p, lm_arm in lms
                if e == ep and p == "before" and lm_arm.endswith("|" + arm)
            ]
            if not pts:
                continue
            at = {lm: float(pub.v(i)) * N / 100 for i, lm in pts}
            ok = all(x >= N - E - 0.5 for x in at.values())
            out.append(
                Finding(
                    "landmark",
                    where_of(pub, ev_id, [pts[0][0]]),
                    (ev_id, n_id, *(i for i, _ in pts)),
                    f"{E} of {N} with an event; " + ", ".join(f"{lm}: {pub.text(i)}" for i, lm in pts),
                    f"event-free at the end ≥ {N} − {E} = {N - E}; at the landmarks: "
                    + ", ".join(f"{lm} {x:.1f}" for lm, x in at.items()),
                    "consistent" if ok else "inconsistent",
                    (
                        f"At every landmark at least the {N - E} patients who never had the event are still event-free."
                        if ok
                        else f"A landmark leaves fewer event-free patients than the {N - E} who never had the event."
                    ),
                    f"landmark.events.{ep}.{arm}",
                    {"N": N, "events": E, "at_landmarks": at},
                )
            )
    return out


def date_checks(pub: PrintedNumbers) -> list[Finding]:
    """The study's and the article's dates against each other: the article's order, the treatment period, the
    censoring date, the references' years and the guidelines' edition."""
    return [
        *_article_order_check(pub),
        *_period_before_submission_check(pub),
        *_censoring_date_check(pub),
        *_reference_date_checks(pub),
        *_guidelines_date_check(pub),
    ]


def _article_order_check(pub: PrintedNumbers) -> list[Finding]:
    """The article's own dates in order: received, revised, accepted, then the citation year."""
    out: list[Finding] = []
    art = (
        "article.dates.received",
        "article.dates.revised",
        "article.dates.accepted",
        "article.citation.year",
    )
    if pub.has(*art):
        rec, rev, acc = (_parse_date(pub.v(i))[0] for i in art[:3])
        cy = _parse_date(pub.v(art[3]))
        ok = rec <= rev <= acc and cy[1] >= acc
        out.append(
            Finding(
                "date",
                "Header and How to Cite",
                art,
                ", ".join(pub.text(i) for i in art),
                f"received → revised {(rev - rec).days} days → accepted {(acc - rev).days} day(s); "
                f"cited in {cy[0].year}",
                "consistent" if ok else "inconsistent",
                "The article's own dates are in order." if ok else "The article's own dates are out of order.",
                "date.article_order",
                {"days_to_revision": (rev - rec).days},
            )
        )
    return out


def _period_before_submission_check(pub: PrintedNumbers) -> list[Finding]:
    """The treatment period ends before the article was submitted."""
    out: list[Finding] = []
    per = ("text.methods.period.start", "text.methods.period.end")
    if pub.has(*per, "article.dates.received"):
        s, e = _parse_date(pub.v(per[0]))[0], _parse_date(pub.v(per[1]))[1]
        rec = _parse_date(pub.v("article.dates.received"))[0]
        ok = s <= e <= rec
        out.append(
            Finding(
                "date",
                where_of(pub, per[0], ["article.dates.received"]),
                (*per, "article.dates.received"),
                f"{pub.text(per[0])} – {pub.text(per[1])}; received {pub.text('article.dates.received')}",
                f"period of {_months_between(s, e):.0f} months ending {(rec - e).days} days before submission",
                "consistent" if ok else "inconsistent",
                "The treatment period ends before the article was submitted."
                if ok
                else "The treatment period does not end before submission.",
                "date.period_before_submission",
                {},
            )
        )
    return out


def _censoring_date_check(pub: PrintedNumbers) -> list[Finding]:
    """Follow-up is censored before the article was accepted."""
    out: list[Finding] = []
    ids = (
        "text.methods.censoring_date",
        "article.dates.accepted",
        "article.citation.year",
        "article.dates.received",
        "article.dates.revised",
    )
    if pub.has(*ids):
        cens = _parse_date(pub.v(ids[0]))[0]
        acc = _parse_date(pub.v(ids[1]))[0]
        cy_end = _parse_date(pub.v(ids[2]))[1]
        after = (cens - acc).days
        ok = cens <= acc
        out.append(
            Finding(
                "date",
                where_of(pub, ids[0], ids[1:]),
                ids,
                f"censoring {pub.text(ids[0])}; accepted {pub.text(ids[1])}; cited {pub.text(ids[2])}",
                f"censoring is {after} days ({_months_between(acc, cens):.1f} months) after acceptance and "
                f"{(cens - cy_end).days} days after the end of the citation year",
                "consistent" if ok else "inconsistent",
                (
                    "Follow-up ends before acceptance."
                    if ok
                    else f"The paper reports follow-up censored {_months_between(acc, cens) / 12:.1f} years after "
                    "its own "
                    f"acceptance ({pub.text(ids[1])}) and after its {pub.text(ids[2])} citation year; an "
                    f"article cannot "
                    f"report follow-up that ends after it was accepted."
                ),
                "date.censoring_after_acceptance",
                {"days_after_acceptance": after, "months_after_acceptance": _months_between(acc, cens)},
            )
        )
    return out


def _reference_date_checks(pub: PrintedNumbers) -> list[Finding]:
    """Each reference's year can predate acceptance."""
    out: list[Finding] = []
    for ref_id in pub.ids(r"article\.references\.ref\d+\.year"):
        if not pub.has("article.dates.accepted", "article.citation.year"):
            continue
        ry = _parse_date(pub.v(ref_id))
        acc = _parse_date(pub.v("article.dates.accepted"))[0]
        cy = _parse_date(pub.v("article.citation.year"))[1]
        number = re.search(r"ref(\d+)", ref_id)[1]
        ok = ry[0] <= acc
        out.append(
            Finding(
                "date",
                pub.where(ref_id),
                (ref_id, "article.dates.accepted", "article.citation.year"),
                f"reference {number} dated {pub.text(ref_id)}",
                f"earliest possible date {ry[0].isoformat()}, {(ry[0] - acc).days} days after acceptance"
                + (f" and after the {cy.year} citation year" if ry[0] > cy else ""),
                "consistent" if ok else "inconsistent",
                (
                    f"Reference {number} can predate acceptance."
                    if ok
                    else f"Reference {number} appeared in {pub.text(ref_id)}, after the article was accepted "
                    f"({pub.text('article.dates.accepted')}) and published ({pub.text('article.citation.year')})."
                ),
                f"date.reference.{number}",
                {"days_after_acceptance": (ry[0] - acc).days},
            )
        )
    return out


def _guidelines_date_check(pub: PrintedNumbers) -> list[Finding]:
    """The guidelines the introduction cites could have appeared before the last revision."""
    out: list[Finding] = []
    ids = ("text.intro.csco_guidelines.year", "article.dates.revised", "article.dates.accepted")
    if pub.has(*ids):
        gy = _parse_date(pub.v(ids[0]))
        rev = _parse_date(pub.v(ids[1]))[0]
        acc = _parse_date(pub.v(ids[2]))[0]
        window = (rev - gy[0]).days + 1
        if gy[0] > acc:
            verdict, expl = (
                "inconsistent",
                f"Guidelines of {pub.text(ids[0])} cannot be cited in a paper accepted {pub.text(ids[2])}.",
            )
        elif gy[1] <= rev:
            verdict, expl = "consistent", "The guidelines' year ends before the last revision."
        else:
            verdict = "needs an unstated choice"
            expl = (
                f"Citing the {pub.text(ids[0])} edition in a text last revised {pub.text(ids[1])} requires it "
                f"to have appeared within the first {window} days of {gy[0].year}; the paper gives no reference "
                f"or date for it."
            )
        out.append(
            Finding(
                "date",
                pub.where(ids[0]),
                ids,
                f"'the {pub.text(ids[0])} CSCO guidelines'",
                f"revised {rev.isoformat()}: {window} days into {gy[0].year}; accepted {acc.isoformat()}",
                verdict,
                expl,
                "date.csco_guidelines",
                {"days_into_year": window},
            )
        )
    return out
