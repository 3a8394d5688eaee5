"""The outcome search of the synthetic generator (cohort.synthetic.outcomefit) and the printed Cox rows and
log-rank p-values it aims at (cohort.synthetic.coxtargets)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test
from scipy import stats

from cohort_outcomes import cohort_outcomes
from psmbook.cohort.synthetic.coxtargets import Z95, cox_row_targets, logrank_targets
from psmbook.cohort.synthetic.landmarks import logrank_chi2
from psmbook.cohort.synthetic.outcomefit import AT_ASSESSMENT, DURING_CRT, Moves, cox_one
from psmbook.paper.strict import agrees_at_printed_precision
from psmbook.study.published import load_published


def _prints_as(value: float, entry) -> bool:
    """Whether `value` prints as the published `entry` (the discussion's rule at the printed precision)."""
    return agrees_at_printed_precision(entry, value)[0]


def test_each_printed_cox_row_has_a_point_that_prints_as_printed():
    pub = load_published()
    rows = cox_row_targets(pub)
    assert len(rows) == 20  # 15 univariate levels, 5 multivariable
    for row in rows:
        b, s = row.log_hr, row.se
        value = {"hr": math.exp(b), "ci_low": math.exp(b - Z95 * s), "ci_high": math.exp(b + Z95 * s)}
        value["p"] = 2 * stats.norm.sf(abs(b) / s)
        for pid in row.ids:
            assert _prints_as(value[pub[pid].kind], pub[pid]), pid


def test_the_rows_that_no_estimate_can_print_are_found_by_construction():
    impossible = {pid for row in cox_row_targets() for pid in row.impossible}
    # Table 3's multivariable lower limit 2.258 lies above its own HR 2.023 (the text prints 1.258); the
    # univariate response row's p (0.039) is not the Wald p of its HR and limits (which give 0.047)
    assert impossible == {
        "table3.multivariate.nodes_group.multiple.ci_low",
        "table3.univariate.response_group.less_than_cr.p",
        "text.cox.univariate.response_group.less_than_cr.p",
    }


def test_logrank_targets_are_the_printed_p_values():
    targets = {(t.endpoint, t.period): t for t in logrank_targets()}
    assert set(targets) == {("os", "before"), ("os", "after"), ("pfs", "before"), ("pfs", "after")}
    p = stats.chi2.sf(targets[("os", "after")].chi2, 1)
    assert round(p, 3) == 0.008


@pytest.fixture(scope="module")
def ties_data():
    rng = np.random.default_rng(3)
    n = 120
    t = np.round(rng.exponential(10, n), 0)  # many tied times
    e = (rng.random(n) < 0.7).astype(int)
    g = rng.random(n) < 0.5
    return t, e, g


def test_logrank_statistic_equals_lifelines_with_ties(ties_data):
    t, e, g = ties_data
    ours = logrank_chi2(t, e, g)
    theirs = logrank_test(t[g], t[~g], e[g], e[~g]).test_statistic
    assert ours == pytest.approx(theirs, rel=1e-10)


def test_one_covariate_cox_equals_lifelines_with_efron_ties(ties_data):
    t, e, g = ties_data
    b, s = cox_one(t, e, g)
    fit = CoxPHFitter().fit(pd.DataFrame({"x": g.astype(float), "T": t, "E": e}), "T", "E")
    assert b == pytest.approx(float(fit.params_["x"]), abs=1e-7)
    assert s == pytest.approx(float(fit.standard_errors_["x"]), abs=1e-7)


def test_moves_keep_every_count_and_the_order_of_each_patients_events():
    from psmbook.cohort.synthetic import generate_cohort

    df = generate_cohort()
    o, treated = cohort_outcomes(df)
    ne, pd_ = df["death_during_crt"].to_numpy(), (df["response"] == "pd").to_numpy()
    os_t, os_e, pfs_t, pfs_e = (getattr(o, k).copy() for k in ("os_t", "os_e", "pfs_t", "pfs_e"))
    assess, followup, edges_os, edges_pfs = o.assess, o.followup, o.os_edges, o.pfs_edges
    assert (o.kind[ne] == DURING_CRT).all() and (o.kind[pd_ & ~ne] == AT_ASSESSMENT).all()
    rng = np.random.default_rng(0)
    moves = Moves(o, treated, rng)
    matched = rng.random(len(df)) < 0.5
    done = 0
    for _ in range(3000):
        i, j = (int(v) for v in rng.integers(len(df), size=2))
        r = rng.random()
        moved = moves.retime_death(i) if r < 0.4 else moves.retime_progression(i) if r < 0.7 else moves.exchange(i, j)
        done += moved is not None
    assert done > 300
    for part in (matched, ~matched):
        for arm in (True, False):
            sel = part & (treated == arm)
            for t_new, t_old, edges in ((o.os_t, os_t, edges_os), (o.pfs_t, pfs_t, edges_pfs)):
                for edge in edges:  # the landmark counts of every part of every arm
                    assert (t_new[sel] >= edge).sum() == (t_old[sel] >= edge).sum()
    for arm in (True, False):
        assert o.os_e[treated == arm].sum() == os_e[treated == arm].sum()
        assert o.pfs_e[treated == arm].sum() == pfs_e[treated == arm].sum()
    ok = ~ne
    assert (o.pfs_t <= o.os_t + 1e-9).all()
    assert (o.os_t[ok] > assess[ok]).all() and (o.os_t <= followup + 0.005).all()  # times are stored to 0.01
    censored = o.os_e == 0
    assert (o.os_t[censored] == np.round(followup[censored], 2)).all()  # at the follow-up, stored to 0.01


def test_default_cohort_prints_the_papers_logrank_p_and_unadjusted_hazard_ratio():
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.cohort.synthetic.psmodel import paper_match

    df = generate_cohort()
    matched = paper_match(df)
    treated = (df["arm"] == "anlotinib").to_numpy()
    pub = load_published()
    for endpoint in ("os", "pfs"):
        t, e = df[f"{endpoint}_months"].to_numpy(), df[f"{endpoint}_event"].to_numpy()
        for period, sel in (("before", np.ones(len(df), dtype=bool)), ("after", matched)):
            a, c = sel & treated, sel & ~treated
            p = logrank_test(t[a], t[c], e[a], e[c]).p_value
            assert _prints_as(p, pub[f"text.survival.{endpoint}.{period}.p"]), (endpoint, period, p)
    m = df[matched]
    data = pd.DataFrame({"x": (m["arm"] == "anlotinib").astype(float), "T": m["os_months"], "E": m["os_event"]})
    s = CoxPHFitter().fit(data, "T", "E").summary.loc["x"]
    row = "table3.univariate.arm.anlotinib"
    for column, kind in (("exp(coef)", "hr"), ("exp(coef) lower 95%", "ci_low"), ("exp(coef) upper 95%", "ci_high")):
        assert _prints_as(s[column], pub[f"{row}.{kind}"]), kind
    assert _prints_as(s["p"], pub[f"{row}.p"])
