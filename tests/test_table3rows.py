"""The generator's exchanges for Table 3's univariate rows (cohort.synthetic.table3rows): the vectorised Cox fits
against lifelines, the counts and statistics the exchanges keep, and the default cohort's rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from cohort_outcomes import cohort_outcomes
from psmbook.analysis.survival.fastcox import cox_fit
from psmbook.cohort.synthetic.coxtargets import RowTarget, adjusted_rows, row_functions, table3_rows
from psmbook.cohort.synthetic.indicatorcox import ModelDesign, RowDesign, Slots, fit_model, fit_rows
from psmbook.cohort.synthetic.landmarks import logrank_chi2
from psmbook.cohort.synthetic.outcomefit import (
    AT_ASSESSMENT,
    Outcomes,
    cox_one,
)
from psmbook.cohort.synthetic.table3rows import (
    compatible,
    deviations,
    exchange_outcomes,
    fit_table3_rows,
)
from psmbook.paper.strict import agrees_at_printed_precision
from psmbook.study.published import load_published


def _row(term: str, b: float = 0.2, s: float = 0.3) -> RowTarget:
    f = row_functions(b, s)
    aims = tuple((k, f[k], 0.001, f[k]) for k in ("hr", "ci_low", "ci_high"))
    return RowTarget("univariate", term, b, s, aims, (), {})


def _lifelines(t, e, x: pd.DataFrame) -> CoxPHFitter:
    return CoxPHFitter().fit(x.assign(T=t, E=e), "T", "E")


def test_fit_rows_equals_lifelines_for_two_and_three_level_factors_with_tied_times():
    rng = np.random.default_rng(5)
    n = 150
    sex = np.where(rng.random(n) < 0.3, "female", "male").astype(object)
    loc = rng.choice(np.array(["upper", "middle", "lower"], dtype=object), n, p=[0.2, 0.5, 0.3])
    hazard = np.exp(0.5 * (sex == "female") - 0.4 * (loc == "middle") + 0.3 * (loc == "lower"))
    t = np.round(rng.exponential(12 / hazard), 0)  # many tied times
    e = (rng.random(n) < 0.75).astype(int)
    design = RowDesign.build(
        {"sex": sex, "location": loc},
        [_row("sex.female"), _row("location.middle", 0.1), _row("location.lower", -0.1)],
    )
    order = np.argsort(-t, kind="stable")
    b, s = fit_rows(Slots.build(t[order], e[order]), design.x[order][None], design, steps=30)
    # exact references: outcomefit.cox_one and fastcox (both tested against R's coxph elsewhere); lifelines
    # stops its Newton-Raphson up to a few 1e-5 short of the optimum on these data
    assert (b[0, 0], s[0, 0]) == pytest.approx(cox_one(t, e, sex == "female"), abs=1e-10)
    dummies = np.column_stack([loc == "middle", loc == "lower"]).astype(float)
    ref = cox_fit(t, e, dummies, eps=1e-14)
    assert b[0, 1:] == pytest.approx(ref.coef, abs=1e-8)
    assert s[0, 1:] == pytest.approx(np.sqrt(np.diag(ref.var)), abs=1e-8)
    two = _lifelines(t, e, pd.DataFrame({"m": dummies[:, 0], "l": dummies[:, 1]}))
    assert b[0, 1:] == pytest.approx(two.params_[["m", "l"]].to_numpy(), abs=1e-4)


def test_a_fit_asked_for_many_steps_stops_once_converged_with_the_same_estimates(monkeypatch):
    from psmbook.cohort.synthetic import indicatorcox

    rng = np.random.default_rng(8)
    n = 120
    loc = rng.choice(np.array(["upper", "middle", "lower"], dtype=object), n, p=[0.2, 0.5, 0.3])
    t = np.round(rng.exponential(12 * np.exp(0.4 * (loc == "middle")), n), 0)
    e = (rng.random(n) < 0.7).astype(int)
    design = RowDesign.build({"location": loc}, [_row("location.middle", 0.5), _row("location.lower", -0.6)])
    order = np.argsort(-t, kind="stable")
    slots, x = Slots.build(t[order], e[order]), design.x[order][None]
    steps = []
    real = np.exp

    def counting_exp(a):  # one exp per Newton-Raphson pass
        steps.append(1)
        return real(a)

    monkeypatch.setattr(indicatorcox.np, "exp", counting_exp)
    b, s = fit_rows(slots, x, design, steps=200)
    passes = len(steps)
    monkeypatch.setattr(indicatorcox, "CONVERGED", 0.0)  # every step taken
    steps.clear()
    b_all, s_all = fit_rows(slots, x, design, steps=200)
    assert 3 < passes < 20 and len(steps) == 201
    assert b == pytest.approx(b_all, abs=1e-12) and s == pytest.approx(s_all, abs=1e-12)
    assert fit_rows(slots, x, design, steps=1)[0] != pytest.approx(b_all, abs=1e-6)  # one step is not converged


def test_fit_model_equals_fastcox_for_a_joint_model_with_tied_times():
    rng = np.random.default_rng(9)
    n = 140
    x = (rng.random((n, 4)) < [0.3, 0.5, 0.7, 0.4]).astype(float)
    hazard = np.exp(x @ np.array([0.4, -0.3, 0.6, 0.2]))
    t = np.round(rng.exponential(20 / hazard), 0)  # many tied times
    e = (rng.random(n) < 0.8).astype(int)
    order = np.argsort(-t, kind="stable")
    slots = Slots.build(t[order], e[order])
    proposals = np.stack([x[order], x[order][:, [1, 0, 2, 3]]])  # two proposals at once
    b, s = fit_model(slots, proposals, np.zeros(4), steps=30)
    for k, cols in enumerate(([0, 1, 2, 3], [1, 0, 2, 3])):
        ref = cox_fit(t, e, x[:, cols], eps=1e-14)
        assert b[k] == pytest.approx(ref.coef, abs=1e-8)
        assert s[k] == pytest.approx(np.sqrt(np.diag(ref.var)), abs=1e-8)


def test_designs_take_only_their_own_models_rows():
    columns = {"sex": np.array(["female", "male"], dtype=object)}
    univariate, adjusted = _row("sex.female"), RowTarget("multivariate", "sex.female", 0.1, 0.2, (), (), {})
    with pytest.raises(ValueError, match="only univariate rows"):
        RowDesign.build(columns, [adjusted])
    with pytest.raises(ValueError, match="not a row of the multivariable model"):
        ModelDesign.build(columns, [univariate])
    with pytest.raises(ValueError, match="no value of 'sex'"):
        RowDesign.build({"sex": np.array(["female", None], dtype=object)}, [univariate])


def test_slots_must_be_sorted_latest_first():
    with pytest.raises(ValueError, match="latest first"):
        Slots.build(np.array([1.0, 2.0]), np.array([1, 1]))


@pytest.fixture(scope="module")
def default_state():
    """The default cohort's outcomes as the generator's search holds them, its matched patients and columns."""
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.cohort.synthetic.psmodel import paper_match

    df = generate_cohort()
    o, treated = cohort_outcomes(df)
    columns = {c: df[c].to_numpy(object) for c in {r.column for r in table3_rows()}}
    return df, o, treated, paper_match(df), columns


def test_exchanges_keep_landmarks_logrank_statistics_and_the_treatment_row(default_state):
    df, o0, treated, matched, columns = default_state
    o = Outcomes(**{k: getattr(o0, k).copy() for k in o0.__dataclass_fields__})
    rows = table3_rows()
    report = fit_table3_rows(o, treated, matched, columns, rows, np.random.default_rng(7), 60, temperature=(1e6, 1e5))
    assert report["accepted"] > 20  # hot: most proposals taken, so the outcomes really move
    moved = (o.os_t != o0.os_t) | (o.os_e != o0.os_e)
    assert moved[matched].sum() > 20 and not moved[~matched].any()
    for arm in (True, False):
        for part in (matched, ~matched, np.ones_like(matched)):
            sel = part & (treated == arm)
            for t_new, t_old, e_new, e_old, edges in (
                (o.os_t, o0.os_t, o.os_e, o0.os_e, o.os_edges),
                (o.pfs_t, o0.pfs_t, o.pfs_e, o0.pfs_e, o.pfs_edges),
            ):
                for edge in edges:
                    assert (t_new[sel] >= edge).sum() == (t_old[sel] >= edge).sum()
                assert sorted(t_new[sel][e_new[sel] == 1]) == sorted(t_old[sel][e_old[sel] == 1])
    for part in (matched, np.ones_like(matched)):
        for t_new, e_new, t_old, e_old in ((o.os_t, o.os_e, o0.os_t, o0.os_e), (o.pfs_t, o.pfs_e, o0.pfs_t, o0.pfs_e)):
            assert logrank_chi2(t_new[part], e_new[part], treated[part]) == pytest.approx(
                logrank_chi2(t_old[part], e_old[part], treated[part]), rel=1e-12
            )
    new = cox_one(o.os_t[matched], o.os_e[matched], treated[matched])
    old = cox_one(o0.os_t[matched], o0.os_e[matched], treated[matched])
    assert new == pytest.approx(old, rel=1e-10)
    died, alive = o.os_e == 1, (o.os_e == 0) & (o.kind != 4)
    assert (o.os_t[died & matched] > o.assess[died & matched]).all()
    assert (o.os_t[died] < o.followup[died]).all()
    assert (o.os_t[alive] == np.round(o.followup[alive], 2)).all()  # censored at the receiver's own date
    pd_ = o.kind == AT_ASSESSMENT
    assert (o.pfs_t[pd_] == o.assess[pd_]).all() and (o.kind[pd_] == o0.kind[pd_]).all()
    assert (o.pfs_t <= o.os_t + 1e-9).all()


def test_responses_are_exchanged_within_arm_among_patients_without_progression(default_state):
    df, o0, treated, matched, columns = default_state
    o = Outcomes(**{k: getattr(o0, k).copy() for k in o0.__dataclass_fields__})
    columns = columns | {"arm": df["arm"].to_numpy(object)}
    response = df["response"].to_numpy(object)
    relabel = np.isin(response, ("cr", "pr", "sd"))
    rng = np.random.default_rng(3)
    report = fit_table3_rows(
        o, treated, matched, columns, table3_rows(), rng, 60, adjusted=adjusted_rows(), relabel=relabel,
        relabel_share=1.0, temperature=(1e6, 1e5),
    )  # fmt: skip
    assert (o.os_t == o0.os_t).all() and (o.os_e == o0.os_e).all()  # responses only: no outcome moved
    members = np.flatnonzero(matched)
    labels = report["labels"]
    assert sorted(labels) == list(range(len(members)))
    moved = labels != np.arange(len(members))
    assert report["accepted"] > 20 and moved.sum() >= 10  # hot: most proposals taken (the best state kept)
    assert relabel[members[moved]].all() and relabel[members[labels[moved]]].all()  # never PD, never NE
    assert (treated[members[moved]] == treated[members[labels[moved]]]).all()
    new = response[members][labels]
    for arm in (True, False):
        in_arm = treated[members] == arm
        assert sorted(new[in_arm]) == sorted(response[members][in_arm])  # the matched Table 2 counts stay
    assert len(report["adjusted_after"]) == sum(len(r.aims) for r in adjusted_rows())
    with pytest.raises(ValueError, match="no column 'grade'"):
        fit_table3_rows(o, treated, matched, columns, table3_rows(), rng, 1, relabel=relabel, relabel_column="grade")


def test_compatible_pairs_stay_in_one_arm_and_response_class(default_state):
    _, o, treated, matched, _ = default_state
    members = np.flatnonzero(matched)
    order = np.argsort(-o.os_t[members], kind="stable")
    ok = compatible(o, treated, members, order)
    holder = members[order]
    p, s = np.nonzero(ok)
    assert (treated[members[p]] == treated[holder[s]]).all()
    assert ((o.kind[members[p]] == AT_ASSESSMENT) == (o.kind[holder[s]] == AT_ASSESSMENT)).all()
    assert ok[np.arange(len(members)), np.argsort(order)].all()  # everyone can keep their own outcome


def test_the_search_lowers_the_rows_deviations(default_state):
    _, o0, treated, matched, columns = default_state
    o = Outcomes(**{k: getattr(o0, k).copy() for k in o0.__dataclass_fields__})
    design_rows = table3_rows()
    # start from the outcomes shuffled by random exchanges (4,000 tries), far from the rows
    rng = np.random.default_rng(11)
    members = np.flatnonzero(matched)
    order = np.argsort(-o.os_t[members], kind="stable")
    ok, holder = compatible(o, treated, members, order), order.copy()
    for a, c in rng.integers(len(order), size=(4000, 2)):
        if ok[holder[a], c] and ok[holder[c], a]:
            holder[a], holder[c] = holder[c], holder[a]
    exchange_outcomes(o, members[holder], members[order])
    order = np.argsort(-o.os_t[members], kind="stable")
    slots = Slots.build(o.os_t[members][order], o.os_e[members][order])
    design = RowDesign.build({c: v[members] for c, v in columns.items()}, design_rows)
    report = fit_table3_rows(o, treated, matched, columns, design_rows, rng, 150)
    assert np.sum(np.abs(report["after"])) < 0.5 * np.sum(np.abs(report["before"]))
    order_new = np.argsort(-o.os_t[members], kind="stable")
    b, s = fit_rows(
        Slots.build(o.os_t[members][order_new], o.os_e[members][order_new]), design.x[order_new][None], design, 30
    )
    assert deviations(design, b, s, inside=True)[0] == pytest.approx(report["after"], abs=1e-9)
    assert slots.dead.size == o.os_e[members].sum()


def test_default_cohort_rows_are_near_the_papers():
    """Each hazard ratio of Table 3 (lifelines, matched cohort), univariate and multivariable, within 2% of the
    printed one; the paper's five factors enter its multivariable model (univariate p below 0.05); adjustment raises
    the nodes' and the response's hazard ratios, as in the paper; and at least 15 of the rows' printed numbers
    print alike."""
    from psmbook.cohort.synthetic import generate_cohort
    from psmbook.cohort.synthetic.psmodel import paper_match

    df = generate_cohort()
    m = df[paper_match(df)]
    pub = load_published()
    printed_alike, entered, hr = 0, set(), {}

    def compare(row: str, s: pd.DataFrame, term: str) -> int:
        value = float(s.loc[term, "exp(coef)"])
        assert math.log(value) == pytest.approx(math.log(pub[f"{row}.hr"].value), abs=0.02), row
        hr[row] = value
        values = {"hr": value, "p": s.loc[term, "p"]}
        values |= {"ci_low": s.loc[term, "exp(coef) lower 95%"], "ci_high": s.loc[term, "exp(coef) upper 95%"]}
        return sum(agrees_at_printed_precision(pub[f"{row}.{k}"], v)[0] for k, v in values.items())

    terms = {}
    for column in dict.fromkeys(r.column for r in table3_rows()):
        levels = [r.term.split(".", 1)[1] for r in table3_rows() if r.column == column]
        x = pd.DataFrame({lv: (m[column] == lv).astype(float) for lv in levels})
        s = _lifelines(m["os_months"], m["os_event"], x).summary
        for lv in levels:
            printed_alike += compare(f"table3.univariate.{column}.{lv}", s, lv)
            terms[f"{column}.{lv}"] = (column, lv)
            if len(levels) == 1 and s.loc[lv, "p"] < 0.05:
                entered.add(column)
    assert entered == {"age_group", "stage", "nodes_group", "response_group"}  # and the treatment, always
    adjusted = ["age_group.ge65", "stage.iib_iii", "nodes_group.multiple", "response_group.less_than_cr"]
    x = pd.DataFrame({t: (m[t.split(".")[0]] == t.split(".")[1]).astype(float) for t in adjusted})
    x["arm.anlotinib"] = (m["arm"] == "anlotinib").astype(float)
    s = _lifelines(m["os_months"], m["os_event"], x).summary
    for t in x.columns:
        printed_alike += compare(f"table3.multivariate.{t}", s, t)
    for t in ("nodes_group.multiple", "response_group.less_than_cr"):
        assert hr[f"table3.multivariate.{t}"] > 1.1 * hr[f"table3.univariate.{t}"], t
    assert printed_alike >= 15


def test_counted_fits_equal_the_direct_fits_for_proposals_that_change_two_slots():
    """The search scores each proposal from the state's risk counts changed at the two slots it touches
    (exchanges of outcomes: two slots swap holders; exchanges of responses: two patients change covariates).
    Same numbers as fitting each proposal's covariates afresh, tied times included."""
    from psmbook.cohort.synthetic.indicatorcox import (
        RiskCounts,
        everyone_at_risk,
        fit_model_counted,
        fit_rows_counted,
        patterns,
    )

    rng = np.random.default_rng(4)
    n = 120
    sex = np.where(rng.random(n) < 0.3, "female", "male").astype(object)
    loc = rng.choice(np.array(["upper", "middle", "lower"], dtype=object), n, p=[0.2, 0.5, 0.3])
    t = -np.sort(-np.round(rng.exponential(12, n), 0))  # slots: latest first, many ties
    e = (rng.random(n) < 0.75).astype(int)
    slots = Slots.build(t, e)
    design = RowDesign.build(
        {"sex": sex, "location": loc},
        [_row("sex.female"), _row("location.middle", 0.1), _row("location.lower", -0.1)],
    )
    x = design.x
    batch = 30
    s1, s2 = rng.integers(n, size=batch), rng.integers(n, size=batch)
    keep = s1 != s2
    s1, s2 = s1[keep], s2[keep]
    i = np.arange(len(s1))
    swapped = np.repeat(x[None], len(s1), axis=0)  # proposals: slots s1 and s2 exchange covariates
    swapped[i, s1], swapped[i, s2] = x[s2], x[s1]
    b, s = fit_rows(slots, swapped, design)
    everyone = everyone_at_risk(slots)
    counted = RiskCounts.of(slots, x).changed(slots, s1, x[s2] - x[s1], s2, x[s1] - x[s2])
    bc, sc = fit_rows_counted(everyone, counted, design)
    assert bc == pytest.approx(b, abs=1e-10) and sc == pytest.approx(s, abs=1e-10)

    mx = (rng.random((n, 3)) < [0.3, 0.5, 0.6]).astype(float)
    beta = np.array([0.2, -0.1, 0.3])
    relabelled = np.repeat(mx[None], len(s1), axis=0)  # proposals: two patients' third covariate flipped
    relabelled[i, s1, 2], relabelled[i, s2, 2] = 1 - mx[s1, 2], 1 - mx[s2, 2]
    bm, sm = fit_model(slots, relabelled, beta)
    ids = (mx @ (1 << np.arange(3))).astype(int)
    onehot = np.eye(8)[ids]
    flipped = np.eye(8)[ids ^ 4]  # bit 2 is the third covariate
    pat = RiskCounts.of(slots, onehot).changed(slots, s1, flipped[s1] - onehot[s1], s2, flipped[s2] - onehot[s2])
    bmc, smc = fit_model_counted(pat, beta)
    assert bmc == pytest.approx(bm, abs=1e-10) and smc == pytest.approx(sm, abs=1e-10)
    assert patterns(3)[ids] == pytest.approx(mx)
