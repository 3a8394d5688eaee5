"""Checks of the hazard ratios: each confidence interval and p-value against the Wald relations between them."""

from __future__ import annotations

import math
from itertools import product

from scipy.stats import norm

from psmbook.analysis.association import parse_printed_p
from psmbook.paper.audit.common import Z95, Finding, PrintedNumbers, fmt_p, place_of, same_value


def wald_check(hr: float, low: float, high: float, decimals: int = 3) -> dict[str, float]:
    """What a printed Cox HR and 95% CI imply, allowing for rounding at `decimals`.

    A Wald interval is exp(b ± 1.96 SE): the HR is the geometric mean sqrt(low × high), and
    SE = (ln high − ln low) / (2 × 1.96) gives z = ln(HR) / SE and p = 2[1 − Φ(|z|)]. Returns the
    geometric mean, SE, z and p at the printed values, and the smallest and largest geometric mean
    and p over the rounding intervals (each printed number ± half a unit of its last decimal).
    """
    h = 0.5 * 10.0 ** (-decimals)

    def one(b_hr, b_lo, b_hi):
        se = (math.log(b_hi) - math.log(b_lo)) / (2 * Z95)
        z = math.log(b_hr) / se if se > 0 else math.inf
        return math.sqrt(b_lo * b_hi), se, z, 2 * norm.sf(abs(z))

    gm, se, z, p = one(hr, low, high)
    ps, gms = [], []
    for d_hr, d_lo, d_hi in product((-h, h), repeat=3):
        lo_, hi_ = max(low + d_lo, 1e-12), high + d_hi
        if hi_ <= lo_:
            continue
        g, _, _, pp = one(max(hr + d_hr, 1e-12), lo_, hi_)
        ps.append(pp)
        gms.append(g)
    return {
        "geometric_mean": gm,
        "se": se,
        "z": z,
        "p": p,
        "p_min": min(ps),
        "p_max": max(ps),
        "gm_min": min(gms),
        "gm_max": max(gms),
        "half_unit": h,
    }


def _cox_rows(pub: PrintedNumbers) -> list[tuple[str, str]]:
    """(source, row) of every printed HR: ('table3', 'univariate.age_group.ge65') etc."""
    rows = []
    for i in pub.ids(r"(table3|text\.cox)\.(univariate|multivariate)\.[^.]+\.[^.]+\.hr"):
        source = "table3" if i.startswith("table3") else "text.cox"
        rows.append((source, i[len(source) + 1 : -3]))
    return rows


def hr_checks(pub: PrintedNumbers) -> list[Finding]:
    """Each printed hazard ratio (Table 3 and the text) against its 95% CI, then the p-value the CI implies."""
    out = []
    for source, row in _cox_rows(pub):
        base = f"{source}.{row}"
        ids = tuple(f"{base}.{s}" for s in ("hr", "ci_low", "ci_high", "p"))
        if not pub.has(*ids[:3]):
            continue
        w = wald_check(*(float(pub.v(i)) for i in ids[:3]))
        where = pub.where(ids[0]).rsplit(", HR", 1)[0]
        shown = f"HR {pub.text(ids[0])} (95% CI {pub.text(ids[1])}–{pub.text(ids[2])})"
        out.append(_hr_ci_finding(pub, source, row, ids, w, where, shown))
        if pub.has(ids[3]):
            out.append(_hr_p_finding(pub, base, ids, w, where, shown))
    return out


def _hr_ci_finding(
    pub: PrintedNumbers, source: str, row: str, ids: tuple[str, ...], w: dict[str, float], where: str, shown: str
) -> Finding:
    """The HR inside and at the centre (on the log scale) of its CI; an HR outside it is compared with the
    lower limit printed in the other place (Table 3 or the text)."""
    base = f"{source}.{row}"
    hr, lo, hi = (float(pub.v(i)) for i in ids[:3])
    inside = lo <= hr <= hi
    centred = w["gm_min"] - w["half_unit"] <= hr <= w["gm_max"] + w["half_unit"]
    values = dict(w, hr=hr, low=lo, high=hi, inside=inside)
    recomputed = f"sqrt({lo:.3f} × {hi:.3f}) = {w['geometric_mean']:.3f}"
    if not inside:
        verdict = "inconsistent"
        expl = (
            f"The interval {pub.text(ids[1])}–{pub.text(ids[2])} excludes its own HR {pub.text(ids[0])}; "
            f"a Wald interval would be centred on {w['geometric_mean']:.3f}."
        )
        other = ("text.cox." if source == "table3" else "table3.") + row + ".ci_low"
        if pub.has(other) and not same_value(pub.v(other), lo):
            w2 = wald_check(hr, float(pub.v(other)), hi)
            expl += (
                f" With the lower limit {pub.text(other)} printed in {place_of(pub.where(other))}, "
                f"the centre is {w2['geometric_mean']:.3f}."
            )
            values["other_geometric_mean"] = w2["geometric_mean"]
    elif not centred:
        verdict = "inconsistent"
        expl = (
            f"A Wald interval is symmetric about the HR on the log scale, but its centre "
            f"{w['geometric_mean']:.3f} differs from the printed HR beyond rounding."
        )
    else:
        verdict = "consistent"
        expl = f"The interval is centred on the HR on the log scale ({w['geometric_mean']:.3f}), as a Wald interval is."
    return Finding("hazard ratio", where, ids[:3], shown, recomputed, verdict, expl, f"hr.ci.{base}", values)


def _hr_p_finding(
    pub: PrintedNumbers, base: str, ids: tuple[str, ...], w: dict[str, float], where: str, shown: str
) -> Finding:
    """The p implied by the CI, p = 2[1 − Φ(|ln HR| / SE)], against the printed p, allowing for rounding."""
    hr, lo, hi = (float(pub.v(i)) for i in ids[:3])
    inside = lo <= hr <= hi
    printed_p = pub.p_text(ids[3])
    pv, decimals, upper = parse_printed_p(printed_p)
    half = 0.5 * 10.0 ** (-decimals)
    agrees = (
        (w["p_min"] < pv) if upper else (w["p_min"] <= pv + half * (1 + 1e-9) and w["p_max"] >= pv - half * (1 + 1e-9))
    )
    recomputed = (
        f"SE = {w['se']:.4f}, z = {w['z']:.2f}, p = {fmt_p(w['p'])} "
        f"(rounding range {fmt_p(w['p_min'])}–{fmt_p(w['p_max'])})"
    )
    values = dict(w, printed_p=pv)
    if agrees:
        verdict = "consistent"
        expl = (
            f"The p implied by the interval, {fmt_p(w['p'])} ({fmt_p(w['p_min'])}–{fmt_p(w['p_max'])} "
            f"allowing for rounding), agrees with the printed {printed_p}."
        )
    else:
        verdict = "inconsistent"
        expl = (
            f"The interval implies p ≈ {fmt_p(w['p'])} (between {fmt_p(w['p_min'])} and "
            f"{fmt_p(w['p_max'])} allowing for rounding), not {printed_p}."
        )
        if not inside:
            expl += " This follows from the lower limit that excludes the HR."
        elif pub.has("text.methods.alpha.p"):
            alpha = float(pub.v("text.methods.alpha.p"))
            if (w["p"] < alpha) != (pv < alpha):
                expl += f" The two disagree even on significance at {alpha:g}."
    return Finding(
        "hazard ratio",
        where,
        (ids[0], ids[1], ids[2], ids[3]),
        f"{shown}, p = {printed_p}",
        recomputed,
        verdict,
        expl,
        f"hr.p.{base}",
        values,
    )
