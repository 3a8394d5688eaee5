"""The generator's relabelling for Table 3's rows outside the multivariable model (cohort.synthetic.table3labels):
the moves it allows, what the moved values carry, a row search that lands a reachable row, and the default cohort:
its relabelled rows print as the generator reports (lifelines on the book's matched patients), what each
characteristic carries stays consistent, and the book's matching still selects the designed patients."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from psmbook.cohort.synthetic.coxtargets import RowTarget, row_functions, table3_rows
from psmbook.cohort.synthetic.designsearch import UnmatchedMoves
from psmbook.cohort.synthetic.indicatorcox import RiskCounts, RowDesign, Slots, everyone_at_risk, fit_rows_counted
from psmbook.cohort.synthetic.psmodel import CM, CU, TM, TU, coding, pattern_ids
from psmbook.cohort.synthetic.spec import DEFAULT_SEED
from psmbook.cohort.synthetic.table3labels import (
    RELABELLED,
    RowLabels,
    _unmatched_moves,
    search_row,
    twin_pairs,
)
from psmbook.paper.strict import agrees_at_printed_precision
from psmbook.study.published import load_published
from test_synthetic import generated


def test_unmatched_moves_exchange_one_given_variable_between_two_unmatched_patients_of_one_group():
    rng = np.random.default_rng(0)
    group = np.repeat([TM, TU, CM, CU], [20, 6, 20, 40])
    codes = rng.integers(0, 3, size=(len(group), 5))
    design = UnmatchedMoves(codes=codes, group=group, variables=(1, 3))
    seen = set()
    for _ in range(2000):
        move = design.propose(rng) if rng.random() < 0.5 else design.targeted(rng, [(int(rng.integers(86)), -1)])
        if move is None:
            continue
        [(i, j)], k = move
        assert group[i] == group[j] and group[i] in (TU, CU) and i != j
        assert k in (1, 3) and codes[i, k] != codes[j, k]
        seen.add(int(group[i]))
    assert seen == {TU, CU}


def test_carried_values_follow_the_exchanges_that_turned_the_codes():
    group = np.array([CU, CU, CU, TU, TU, TM])
    before = np.array([[0, 1], [1, 1], [2, 0], [0, 0], [1, 0], [2, 2]])
    after = before.copy()
    after[[0, 2], 0] = after[[2, 0], 0]  # two unmatched controls exchange variable 0
    after[[3, 4], 0] = after[[4, 3], 0]  # two unmatched treated too
    years = np.array([60.0, 70.0, 80.0, 61.0, 71.0, 81.0])
    label = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)
    arrays = {"v0": [years, label], "v1": [np.arange(6)]}
    _unmatched_moves(before, after, group, arrays, ("v0", "v1"))
    assert years.tolist() == [80.0, 70.0, 60.0, 71.0, 61.0, 81.0]
    assert label.tolist() == ["c", "b", "a", "e", "d", "f"]
    assert arrays["v1"][0].tolist() == list(range(6))


def test_twin_pairs_share_a_pattern_and_each_control_serves_once():
    group = np.array([TM, TM, TM, CM, CM, CM, CU])
    codes = np.zeros((7, len(coding().variables)), dtype=int)  # every variable of the score model
    codes[:, :2] = [[0, 1], [0, 1], [1, 0], [0, 1], [1, 1], [0, 1], [1, 0]]
    pairs = twin_pairs(codes, group)
    assert pairs.tolist() == [[0, 3], [1, 5]]  # patient 2's pattern has no matched control (6 is unmatched)
    pid = pattern_ids(codes)
    assert (pid[pairs[:, 0]] == pid[pairs[:, 1]]).all()


def _target(term: str, b: float, s: float, half: float) -> RowTarget:
    f = row_functions(b, s)
    aims = tuple((k, f[k], half, f[k]) for k in ("hr", "ci_low", "ci_high", "p"))
    return RowTarget("univariate", term, b, s, aims, (), {})


def test_search_row_lands_a_row_that_a_relabelling_reaches():
    """The labels of one arrangement, the row aimed at that of another (exchanges within each arm): the search
    from the first prints every number of the second, keeps each arm's labels, and reports the converged fit."""
    rng = np.random.default_rng(3)
    n = 140
    t = -np.sort(-np.round(rng.exponential(20, n), 1))
    e = (rng.random(n) < 0.8).astype(float)
    slots = Slots.build(t, e)
    arm = np.arange(n) % 2
    x0 = (rng.random(n) < 0.3).astype(float)[:, None]
    goal = x0.copy()
    for a in (0, 1):
        idx = np.flatnonzero(arm == a)
        goal[idx] = x0[rng.permutation(idx)]
    everyone = everyone_at_risk(slots)

    def fit(x, design):
        c = RiskCounts.of(slots, x)
        return fit_rows_counted(everyone, RiskCounts(c.at_risk[None], c.dead[None]), design, 30)

    probe = RowDesign(goal, [_target("f.1", 0.0, 0.3, 1.0)], np.array([0]), np.array([0.0]), np.array([0.3]))
    b, s = fit(goal, probe)
    row = _target("f.1", float(b[0, 0]), float(s[0, 0]), 0.002)
    design = RowDesign(x0, [row], np.array([0]), np.array([row.log_hr]), np.array([row.se]))
    labels = RowLabels(x0, np.arange(n)[:, None], arm, np.ones(n, dtype=bool))
    holds, d = search_row(slots, design, labels, np.random.default_rng(0))
    assert np.all(np.abs(d) < 1)
    assert sorted(holds.tolist()) == list(range(n)) and (arm[holds] == arm).all()
    moved = x0[holds]
    assert (moved[arm == 0].sum(), moved[arm == 1].sum()) == (x0[arm == 0].sum(), x0[arm == 1].sum())
    b2, s2 = fit(moved, design)
    f = row_functions(float(b2[0, 0]), float(s2[0, 0]))
    assert d == pytest.approx([(f[k] - mid) / half for k, _, half, mid in row.aims], abs=1e-9)


@pytest.fixture(scope="module")
def default():
    from psmbook.cohort.synthetic.psmodel import paper_match

    df, info = generated(DEFAULT_SEED)
    return df, info, paper_match(df)


def test_default_relabelled_rows_print_as_the_generator_reports(default):
    df, info, matched = default
    report = info["table3_search"]["relabelled_rows"]
    assert set(report) == set(RELABELLED)
    assert sum(after > before for before, after, changed in report.values() if changed) >= 4
    pub, m = load_published(), df[matched]
    for column, (before, after, changed) in report.items():
        levels = [r.term.split(".", 1)[1] for r in table3_rows() if r.column == column]
        x = pd.DataFrame({lv: (m[column] == lv).astype(float) for lv in levels})
        s = CoxPHFitter().fit(x.assign(T=m["os_months"], E=m["os_event"]), "T", "E").summary
        alike = 0
        for lv in levels:
            values = {"hr": s.loc[lv, "exp(coef)"], "p": s.loc[lv, "p"]}
            values |= {"ci_low": s.loc[lv, "exp(coef) lower 95%"], "ci_high": s.loc[lv, "exp(coef) upper 95%"]}
            for k, v in values.items():
                alike += agrees_at_printed_precision(pub[f"table3.univariate.{column}.{lv}.{k}"], float(v))[0]
        assert alike == after, column


def test_default_cohort_keeps_what_each_characteristic_carries(default):
    """Age in years with the age group and S-1, the diameter in cm with its group, the nodes with the recurrence
    site, the interval since surgery with a previous radiotherapy, the docetaxel schedule with docetaxel, the dose
    in Gy and the course's length with the dose level (the assessment 4-5 weeks after the course)."""
    from psmbook.cohort.synthetic.spec import WEEKS_PER_MONTH, GeneratorSpec
    from psmbook.cohort.synthetic.targets import load_targets

    df, info, matched = default
    spec, tg = GeneratorSpec(), load_targets()
    assert ((df["age_years"] >= spec.age_group_cut) == (df["age_group"] == "ge65")).all()
    assert ((df["age_years"] >= tg.s1_age_min) == (df["concurrent_chemo"] == "s1")).all()
    assert df.loc[df["concurrent_chemo"] == "s1", "dp_schedule"].isna().all()
    assert df.loc[df["concurrent_chemo"] != "s1", "dp_schedule"].notna().all()
    assert ((df["node_diameter_cm"] >= 3) == (df["node_diameter"] == "ge3")).all()
    assert (df.loc[df["recurrence_site"] == "multiple", "n_recurrent_nodes"] >= 2).all()
    assert ((df["n_recurrent_nodes"] >= 2) == (df["nodes_group"] == "multiple")).all()
    # the course lasts as its fractions take (plus at most the interruptions), and ends 4-5 weeks before assessment
    interruption = df["crt_weeks"] - df["radiation_fractions"] / spec.fractions_per_week
    assert interruption.between(-0.006, spec.crt_interruption_days_max / 7 + 0.006).all()
    gap = df["response_assessment_months"] * WEEKS_PER_MONTH - df["crt_weeks"]
    lo, hi = tg.assessment_weeks
    assert gap[df["response"] != "ne"].between(lo - 0.05, hi + 0.05).all()
    standard = df["radiation_dose"] == "standard"
    assert (df.loc[standard, "radiation_dose_gy"] <= 50.4).all() and (
        df.loc[~standard, "radiation_dose_gy"] > 50.4
    ).all()
    prior_rt = df["previous_treatment"].isin(["radiotherapy", "chemoradiotherapy"])
    floor = tg.prior_radiotherapy_interval_months + spec.prior_radiotherapy_buffer_months
    assert (df.loc[prior_rt, "months_surgery_to_recurrence"] >= floor).all()
    # the book's matching still selects the designed patients
    assert (matched == (np.asarray(info["design_group"]) % 2 == 0)).all()
