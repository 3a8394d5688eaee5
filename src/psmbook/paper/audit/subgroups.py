"""Checks that parts add up to their whole: subgroups, arms and the radiation dose ranges."""

from __future__ import annotations

from typing import Optional, Sequence

from psmbook.paper.audit.common import (
    ARM_WORDS,
    ARMS,
    PERIODS,
    Finding,
    PrintedNumbers,
    implied_counts,
    section_of,
    where_of,
)
from psmbook.paper.audit.p_values import table1_levels, table1_vars


def _sum_finding(
    pub: PrintedNumbers, key: str, part_ids: Sequence[str], total_id: str, what: str, where_id: Optional[str] = None
) -> Optional[Finding]:
    """Parts (`part_ids`) against their printed whole (`total_id`); `what` names the parts."""
    if not part_ids or not pub.has(total_id, *part_ids):
        return None
    parts = [int(pub.v(i)) for i in part_ids]
    total = int(pub.v(total_id))
    s = sum(parts)
    recomputed = " + ".join(map(str, parts)) + f" = {s}"
    ok = s == total
    expl = (
        f"The {what} add up to {total}, as printed."
        if ok
        else f"The {what} add up to {s}, not the {total} printed ({abs(s - total)} {'fewer' if s < total else 'more'})."
    )
    return Finding(
        "subgroup total",
        where_of(pub, where_id or total_id, part_ids),
        (*part_ids, total_id),
        f"{pub.text(total_id)} in all",
        recomputed,
        "consistent" if ok else "inconsistent",
        expl,
        key,
        {"parts": parts, "sum": s, "total": total},
    )


def _table1_level_checks(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Table 1 rows against the arm sizes, per period."""
    return [_table1_level_finding(pub, period, var) for period in PERIODS for var in table1_vars(pub, period)]


def _table1_level_finding(pub: PrintedNumbers, period: str, var: str) -> Optional[Finding]:
    """One Table 1 characteristic: its printed levels against the arm sizes of the period."""
    levels = table1_levels(pub, period, var)
    ids = [f"table1.{period}.{var}.{lv}.{a}.n" for lv in levels for a in ARMS]
    n_ids = [f"table1.{period}.n.{a}" for a in ARMS]
    if not levels or not pub.has(*ids, *n_ids):
        return None
    sums = {a: sum(int(pub.v(f"table1.{period}.{var}.{lv}.{a}.n")) for lv in levels) for a in ARMS}
    ns = {a: int(pub.v(f"table1.{period}.n.{a}")) for a in ARMS}
    rec = "; ".join(
        f"{ARM_WORDS[a]} "
        + " + ".join(str(int(pub.v(f"table1.{period}.{var}.{lv}.{a}.n"))) for lv in levels)
        + f" = {sums[a]} of {ns[a]}"
        for a in ARMS
    )
    verdict, expl = _table1_level_verdict(pub, period, len(levels), sums, ns)
    label = section_of(pub.where(f"table1.{period}.{var}.p")).replace(", p-value", "")
    return Finding(
        "subgroup total",
        label,
        (*ids, *n_ids),
        f"n = {ns['anlotinib']} / {ns['crt']}",
        rec,
        verdict,
        expl,
        f"sum.table1.{period}.{var}",
        {"sums": sums, "n": ns},
    )


def _table1_level_verdict(
    pub: PrintedNumbers, period: str, n_levels: int, sums: dict[str, int], ns: dict[str, int]
) -> tuple[str, str]:
    """Verdict and explanation of a row's level sums `sums` against the arm sizes `ns`: all patients covered,
    some in a level the table does not print (checked against the text's adjuvant-treated patients before
    matching), or more than the arms hold."""
    if all(sums[a] == ns[a] for a in ARMS):
        return "consistent", f"The {n_levels} printed levels cover every patient of both arms."
    if not all(sums[a] < ns[a] for a in ARMS):
        return "inconsistent", "The printed levels do not add up to the arm sizes."
    rest = {a: ns[a] - sums[a] for a in ARMS}
    verdict = "consistent"
    expl = (
        f"The printed levels cover {sums['anlotinib']} and {sums['crt']} patients; the other "
        f"{rest['anlotinib']} and {rest['crt']} are in a level the table does not print "
        f"(no previous treatment)."
    )
    if period == "before" and pub.has("text.cohort.adjuvant.n"):
        adj = int(pub.v("text.cohort.adjuvant.n"))
        tot = sums["anlotinib"] + sums["crt"]
        expl += (
            f" Together {tot}, the {adj} adjuvant-treated patients of the text."
            if tot == adj
            else f" Together {tot}, not the {adj} adjuvant-treated patients of the text."
        )
        if tot != adj:
            verdict = "inconsistent"
    return verdict, expl


def _arm_and_response_checks(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Arm sizes against the cohort; Table 2's response categories against the evaluable patients, ORR = CR + PR."""
    out: list[Optional[Finding]] = []
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.arms",
            ["table1.before.n.anlotinib", "table1.before.n.crt"],
            "text.cohort.n",
            "two arms before matching",
        )
    )
    # Table 2: response categories against the evaluable patients; ORR = CR + PR.
    for period in PERIODS:
        for a in ARMS:
            cats = [i for i in pub.ids(rf"table2\.{period}\.[^.]+\.{a}\.n") if i.split(".")[2] != "orr"]
            out.append(
                _sum_finding(
                    pub,
                    f"sum.table2.{period}.{a}",
                    cats,
                    f"table2.{period}.n.{a}",
                    f"CR, PR, SD and PD counts ({ARM_WORDS[a]}, {period} PSM)",
                )
            )
            out.append(
                _sum_finding(
                    pub,
                    f"sum.table2.{period}.orr.{a}",
                    [f"table2.{period}.cr.{a}.n", f"table2.{period}.pr.{a}.n"],
                    f"table2.{period}.orr.{a}.n",
                    f"CR and PR counts ({ARM_WORDS[a]}, {period} PSM), whose sum is the ORR count,",
                )
            )
    return out


def _evaluable_checks(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Evaluable = treated − not evaluable; after matching every matched patient is evaluable."""
    out: list[Optional[Finding]] = []
    ne_ids = [f"text.response.not_evaluable.{a}.n" for a in ARMS]
    out.append(
        _sum_finding(
            pub,
            "sum.not_evaluable",
            ne_ids,
            "text.response.not_evaluable.n",
            "patients not evaluable in the two arms",
        )
    )
    for a in ARMS:
        ids = (f"table1.before.n.{a}", f"text.response.not_evaluable.{a}.n", f"table2.before.n.{a}")
        if pub.has(*ids):
            n, ne, ev = (int(pub.v(i)) for i in ids)
            ok = n - ne == ev
            out.append(
                Finding(
                    "subgroup total",
                    where_of(pub, ids[2], ids[:2]),
                    ids,
                    f"{ev} evaluable ({ARM_WORDS[a]})",
                    f"{n} − {ne} = {n - ne}",
                    "consistent" if ok else "inconsistent",
                    f"{n} treated minus {ne} who died before assessment "
                    + ("leaves Table 2's denominator." if ok else f"is {n - ne}, not {ev}."),
                    f"sum.evaluable.before.{a}",
                    {"n": n, "not_evaluable": ne, "evaluable": ev},
                )
            )
    # After matching every matched patient is evaluable.
    ids = (*(f"table1.after.n.{a}" for a in ARMS), *(f"table2.after.n.{a}" for a in ARMS), *ne_ids)
    if pub.has(*ids):
        m = {a: int(pub.v(f"table1.after.n.{a}")) for a in ARMS}
        e = {a: int(pub.v(f"table2.after.n.{a}")) for a in ARMS}
        ne = {a: int(pub.v(f"text.response.not_evaluable.{a}.n")) for a in ARMS}
        if all(m[a] == e[a] for a in ARMS) and any(ne.values()):
            out.append(
                Finding(
                    "subgroup total",
                    where_of(pub, "table2.after.n.anlotinib", ["table1.after.n.anlotinib"]),
                    ids,
                    f"evaluable after PSM {e['anlotinib']} / {e['crt']} of {m['anlotinib']} / {m['crt']} matched",
                    f"not evaluable before PSM: {ne['anlotinib']} / {ne['crt']}; after: 0 / 0",
                    "needs an unstated choice",
                    f"None of the {sum(ne.values())} patients who died before assessment is among the matched "
                    f"{m['anlotinib'] + m['crt']}: either they were excluded before matching or none was matched, "
                    f"and the paper says neither.",
                    "sum.evaluable.after",
                    {"matched": m, "evaluable": e, "not_evaluable_before": ne},
                )
            )
    return out


def _matching_check(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Matching: 1:1, and how many treated patients were left unmatched."""
    out: list[Optional[Finding]] = []
    ids = (
        "table1.before.n.anlotinib",
        "table1.before.n.crt",
        "table1.after.n.anlotinib",
        "table1.after.n.crt",
        "text.methods.psm.ratio",
    )
    if pub.has(*ids):
        bt, bc, at, ac, ratio = (pub.v(i) for i in ids)
        unmatched = int(bt) - int(at)
        one_to_one = int(ac) == int(ratio) * int(at)
        if not one_to_one:
            verdict, expl = (
                "inconsistent",
                f"{ac} controls for {at} treated is not {pub.text(ids[4])} matching.",
            )
        elif unmatched > 0 and int(bc) >= int(ratio) * int(bt):
            verdict = "needs an unstated choice"
            expl = (
                f"Nearest-neighbour 1:1 matching without replacement finds a control for each of the {bt} "
                f"treated patients when there are {bc} controls; losing {unmatched} treated patients needs "
                f"a caliper or a common-support rule that the Methods do not state."
            )
        else:
            verdict, expl = "consistent", f"{at} pairs from {bt} treated and {bc} control patients."
        out.append(
            Finding(
                "subgroup total",
                where_of(pub, ids[2], [ids[4]]),
                ids,
                f"{pub.text(ids[4])} matching: {at} + {ac} of {bt} + {bc}",
                f"{bt} − {at} = {unmatched} treated unmatched; {int(bc) - int(ac)} controls unmatched",
                verdict,
                expl,
                "sum.matching",
                {"unmatched_treated": unmatched, "unmatched_controls": int(bc) - int(ac)},
            )
        )
    return out


def _chemotherapy_checks(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Chemotherapy: weekly + three-weekly against docetaxel + cisplatin; and against Table 1."""
    out: list[Optional[Finding]] = []
    out.append(
        _sum_finding(
            pub,
            "sum.chemo.schedules",
            ["text.treatment.concurrent_chemo.weekly.n", "text.treatment.concurrent_chemo.three_weekly.n"],
            "text.treatment.concurrent_chemo.docetaxel_cisplatin.n",
            "weekly and three-weekly patients ('Within this group')",
        )
    )
    out.append(
        _sum_finding(
            pub,
            "sum.chemo.table1",
            [f"table1.before.concurrent_chemo.docetaxel_cisplatin.{a}.n" for a in ARMS],
            "text.treatment.concurrent_chemo.docetaxel_cisplatin.n",
            "docetaxel + cisplatin patients of Table 1's two arms",
            where_id="text.treatment.concurrent_chemo.docetaxel_cisplatin.n",
        )
    )
    return out


def _cohort_description_checks(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Cohort description."""
    out: list[Optional[Finding]] = []
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.adjuvant",
            ["text.cohort.surgery_only.n", "text.cohort.adjuvant.n"],
            "text.cohort.n",
            "surgery-only and adjuvant-treated patients",
        )
    )
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.adjuvant_types",
            [f"text.cohort.adjuvant.{t}.n" for t in ("radiotherapy", "chemotherapy", "chemoradiotherapy")],
            "text.cohort.adjuvant.n",
            "adjuvant radiotherapy, chemotherapy and chemoradiotherapy patients",
        )
    )
    for t in ("radiotherapy", "chemotherapy", "chemoradiotherapy"):
        out.append(
            _sum_finding(
                pub,
                f"sum.cohort.adjuvant.{t}.table1",
                [f"table1.before.previous_treatment.{t}.{a}.n" for a in ARMS],
                f"text.cohort.adjuvant.{t}.n",
                f"previous-{t} patients of Table 1's two arms",
                where_id=f"text.cohort.adjuvant.{t}.n",
            )
        )
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.confirmation",
            pub.ids(r"text\.cohort\.recurrence_confirmation\.\w+\.n"),
            "text.cohort.n",
            "patients confirmed by CT, PET-CT and histology",
        )
    )
    out.append(
        _sum_finding(
            pub,
            "sum.cohort.nodes",
            pub.ids(r"text\.cohort\.recurrent_nodes\.\w+\.n"),
            "text.cohort.n",
            "patients by number of involved nodes (1, 2, 3, ≥ 4)",
        )
    )
    return out


def _supraclavicular_check(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Supraclavicular involvement (a station, not exclusive) against Table 1's exclusive sites."""
    out: list[Optional[Finding]] = []
    ids = (
        "text.cohort.nodal_stations.supraclavicular.n",
        *(f"table1.before.recurrence_site.supraclavicular.{a}.n" for a in ARMS),
        *(f"table1.before.recurrence_site.multiple.{a}.n" for a in ARMS),
    )
    if pub.has(*ids):
        st = int(pub.v(ids[0]))
        only = int(pub.v(ids[1])) + int(pub.v(ids[2]))
        multi = int(pub.v(ids[3])) + int(pub.v(ids[4]))
        ok = only <= st <= only + multi
        out.append(
            Finding(
                "subgroup total",
                where_of(pub, ids[0], [ids[1]]),
                ids,
                f"supraclavicular nodes in {st} patients",
                f"Table 1: {only} supraclavicular only + up to {multi} with multiple sites = {only}–{only + multi}",
                "consistent" if ok else "inconsistent",
                (
                    f"{st} lies between the {only} patients with supraclavicular recurrence only and the "
                    f"{only + multi} who could have it among multiple sites."
                    if ok
                    else f"{st} lies outside the {only}–{only + multi} that Table 1 allows."
                ),
                "sum.cohort.supraclavicular",
                {"station": st, "only": only, "multiple": multi},
            )
        )
    return out


def _death_and_dose_reduction_checks(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Deaths during CRT and dose reductions."""
    out: list[Optional[Finding]] = []
    for a in ARMS:
        out.append(
            _sum_finding(
                pub,
                f"sum.deaths_during_crt.{a}",
                pub.ids(rf"text\.toxicity\.deaths_during_crt\.{a}\.\w+\.n"),
                f"text.toxicity.deaths_during_crt.{a}.n",
                f"deaths by cause during CRT ({ARM_WORDS[a]})",
            )
        )
        ids = (f"text.toxicity.deaths_during_crt.{a}.n", f"text.response.not_evaluable.{a}.n")
        if pub.has(*ids):
            d, ne = (int(pub.v(i)) for i in ids)
            out.append(
                Finding(
                    "subgroup total",
                    where_of(pub, ids[1], [ids[0]]),
                    ids,
                    f"{ne} died before response assessment; {d} died during CRT ({ARM_WORDS[a]})",
                    f"{ne} {'=' if d == ne else '≠'} {d}",
                    "consistent" if d == ne else "inconsistent",
                    "The deaths before assessment and the deaths during CRT are the same number."
                    if d == ne
                    else "The deaths before assessment and during CRT differ.",
                    f"sum.deaths_vs_not_evaluable.{a}",
                    {"deaths": d, "not_evaluable": ne},
                )
            )
    out.append(
        _sum_finding(
            pub,
            "sum.dose_reductions",
            pub.ids(r"text\.anlotinib\.dose_reduction\.\w+\.n"),
            "text.anlotinib.dose_reduction.n",
            "dose reductions by reason",
        )
    )
    return out


def _grade_checks(pub: PrintedNumbers) -> list[Optional[Finding]]:
    """Grade 3–4 against any grade, and any grade 3–4 against the single events."""
    out: list[Optional[Finding]] = []
    for ev_id in pub.ids(r"table4\.anlotinib_g34\.\w+\.anlotinib\.n"):
        ev = ev_id.split(".")[2]
        any_id = f"text.anlotinib.any_grade.{ev}.n"
        if pub.has(any_id):
            g, anyg = int(pub.v(ev_id)), int(pub.v(any_id))
            out.append(
                Finding(
                    "subgroup total",
                    where_of(pub, ev_id, [any_id]),
                    (ev_id, any_id),
                    f"grade 3–4 {ev.replace('_', '-')}: {g}; any grade: {anyg}",
                    f"{g} ≤ {anyg}: {g <= anyg}",
                    "consistent" if g <= anyg else "inconsistent",
                    "Grade 3–4 cases are a subset of all grades."
                    if g <= anyg
                    else "More grade 3–4 cases than cases of any grade.",
                    f"sum.g34_within_any.{ev}",
                    {"g34": g, "any": anyg},
                )
            )
    for a in ARMS:
        pct_id, n_id = f"text.toxicity.g34_overall.{a}.pct", f"table4.n.{a}"
        singles = pub.ids(rf"table4\.(?!anlotinib_g34)[^.]+\.{a}\.n")
        if pub.has(pct_id, n_id) and singles:
            ks = implied_counts(float(pub.v(pct_id)), int(pub.v(n_id)))
            top = max(singles, key=lambda i: int(pub.v(i)))
            if ks:
                ok = ks[0] >= int(pub.v(top))
                out.append(
                    Finding(
                        "subgroup total",
                        where_of(pub, pct_id, [top]),
                        (pct_id, n_id, *singles),
                        f"any grade 3–4: {pub.text(pct_id)} ({ARM_WORDS[a]})",
                        f"{ks[0]} patients ≥ largest single event {int(pub.v(top))}: {ok}",
                        "consistent" if ok else "inconsistent",
                        "Patients with any grade 3–4 event are at least as many as those with the most frequent one."
                        if ok
                        else "Fewer patients with any event than with one event.",
                        f"sum.g34_overall_vs_single.{a}",
                        {"any": ks[0], "largest": int(pub.v(top))},
                    )
                )
    return out


def subgroup_checks(pub: PrintedNumbers) -> list[Finding]:
    """Parts against their whole: Table 1's levels, arms, response categories, evaluable and matched patients,
    treatment and cohort subgroups, deaths, dose reductions, toxicity grades and the radiation dose."""
    steps = (
        _table1_level_checks,
        _arm_and_response_checks,
        _evaluable_checks,
        _matching_check,
        _chemotherapy_checks,
        _cohort_description_checks,
        _supraclavicular_check,
        _death_and_dose_reduction_checks,
        _grade_checks,
    )
    out = [finding for step in steps for finding in step(pub)]
    # Radiation dose: Table 1 and the Methods put everyone at ≥ 50 Gy, the Results do not.
    out.append(_radiation_dose_check(pub))
    return [f for f in out if f is not None]


def _radiation_dose_check(pub: PrintedNumbers) -> Optional[Finding]:
    text_ids = [f"text.treatment.before.radiation_ge50gy.{a}.n" for a in ARMS]
    n_ids = [f"table1.before.n.{a}" for a in ARMS]
    level_ids = pub.ids(r"table1\.before\.radiation_dose\.[^.]+\.(anlotinib|crt)\.n")
    if (
        not pub.has(
            *text_ids,
            *n_ids,
            "text.treatment.before.radiation_ge50gy.threshold",
            "text.treatment.radiotherapy.dose.min",
        )
        or not level_ids
    ):
        return None
    thr = float(pub.v("text.treatment.before.radiation_ge50gy.threshold"))
    dmin = float(pub.v("text.treatment.radiotherapy.dose.min"))
    t1 = {a: sum(int(pub.v(i)) for i in level_ids if i.split(".")[-2] == a) for a in ARMS}
    n = {a: int(pub.v(f"table1.before.n.{a}")) for a in ARMS}
    txt = {a: int(pub.v(f"text.treatment.before.radiation_ge50gy.{a}.n")) for a in ARMS}
    below = {a: n[a] - txt[a] for a in ARMS}
    consistent = all(b == 0 for b in below.values()) or (dmin < thr)
    recomputed = (
        f"Table 1's {len(level_ids) // len(ARMS)} dose levels: {t1['anlotinib']} of "
        f"{n['anlotinib']} and {t1['crt']} of {n['crt']}; text: {below['anlotinib']} and {below['crt']} "
        f"patients below {thr:g} Gy"
    )
    expl = (
        f"Table 1 and the Methods' dose range (from {dmin:g} Gy) leave nobody below {thr:g} Gy, yet the "
        f"Results say {txt['anlotinib']} of {n['anlotinib']} and {txt['crt']} of {n['crt']} reached it, so "
        f"{below['anlotinib']} and {below['crt']} did not."
    )
    dose_max_id = "text.treatment.radiotherapy.dose.max"
    dose_max = pub.text(dose_max_id) if pub.has(dose_max_id) else "?"
    return Finding(
        "subgroup total",
        where_of(pub, text_ids[0], [level_ids[0], "text.treatment.radiotherapy.dose.min"]),
        (
            *text_ids,
            *level_ids,
            *n_ids,
            "text.treatment.before.radiation_ge50gy.threshold",
            "text.treatment.radiotherapy.dose.min",
        ),
        f"≥ {thr:g} Gy: {txt['anlotinib']} (of {n['anlotinib']}) and {txt['crt']} (of {n['crt']}); "
        f"range {dmin:g}–{dose_max} Gy",
        recomputed,
        "consistent" if consistent else "inconsistent",
        expl if not consistent else "Every statement on dose agrees.",
        "sum.radiation_dose",
        {"table1_at_or_above": t1, "text_at_or_above": txt, "text_below": below, "n": n},
    )
