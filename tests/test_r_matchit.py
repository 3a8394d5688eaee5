"""The book's matching and balance against R's MatchIt, on the default synthetic cohort (default seed).

MatchIt is given the book's logit distances as an N1 x N0 **matrix**, the input that runs its exact
nearest-neighbour algorithm (``nn_matchC``): for a propensity-score vector MatchIt 4.5.1 takes a fast
path (``nn_matchC_vec``) whose ``abs()`` truncates distances to integers on some systems, so that it can
ignore the caliper and skip the nearest control (MatchIt issue 163, fixed in 4.5.4). With a matrix:

* ``m.order`` cannot be "largest" or "smallest" (there is no score to sort), so the treated patients are
  handed over in the book's order and matched in that order (``m.order = "data"``); R's own
  ``order(score, decreasing = TRUE)`` is checked to give the book's "largest" order, ties in data order;
* ``std.caliper`` must be FALSE, so the caliper goes in as its absolute width on the logit scale: 0.2
  (the chapter's default) times the SD of the logit score over all patients, as the book computes it;
* ties in distance go, in both, to the control first in data order (MatchIt's ``which_min``), except
  with replacement and k > 1 controls, where MatchIt's ``std::partial_sort`` keeps no order among ties.

The scores go to R as hexadecimal doubles, bit for bit, so that equal scores stay equal there.
"""

import numpy as np
import pandas as pd
import pytest

from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.matching import report
from psmbook.matching.balance_summary import MATCHIT_NAMES
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.result import treated_order
from psmbook.matching.score import fit_propensity
from psmbook.study.description import load_study
from rbridge import needs_r, run_r

pytestmark = needs_r
STUDY = load_study()
COVARIATES = [v.column for v in STUDY.psm_covariates]  # of the score model
#: Every covariate of the study: the rows of the chapter's balance tables (the distance does not depend on them).
BALANCE = [v.column for v in STUDY.covariates]
#: Numeric columns of the synthetic cohort, summarised as continuous covariates beside the study's levels.
CONTINUOUS = ["age_years", "node_diameter_cm", "n_recurrent_nodes"]
SEED = 11  # orders the treated patients for match_order="random"


@pytest.fixture(scope="module")
def default():
    cohort = generate_cohort(DEFAULT_SEED).set_index(STUDY.id_column)
    model = fit_propensity(cohort, STUDY.treatment.column, STUDY.treatment.treated, COVARIATES, study=STUDY)
    return cohort, model


def _hex(values) -> list[str]:
    return [float(v).hex() for v in values]


def r_match(cohort, model, result, *, order, ratio=1, replace=False, summary=False):
    """MatchIt's match with the distance matrix (and, with ``summary``, its summary(un = TRUE) with the
    study's covariates, CONTINUOUS and the logit score): the pairs, the weights, the balance tables."""
    treated = model.treated.to_numpy()
    ordered = treated_order(model.logit, model.treated, order, SEED)
    data = pd.concat([cohort.loc[ordered], cohort.loc[~treated]])[[STUDY.treatment.column, *BALANCE, *CONTINUOUS]]
    data.insert(0, "id", data.index)
    data["treat"] = (data[STUDY.treatment.column] == STUDY.treatment.treated).astype(int)
    data["logit_hex"] = _hex(model.logit.loc[data.index])
    caliper = "NULL" if result.caliper is None else f'as.numeric("{float(result.caliper).hex()}")'
    factors = ", ".join(f'"{c}"' for c in BALANCE)
    code = f"""
    d$logit <- as.numeric(d$logit_hex); rownames(d) <- d$id
    for (v in c({factors})) d[[v]] <- factor(as.character(d[[v]]))
    D <- abs(outer(d$logit[d$treat == 1], d$logit[d$treat == 0], "-"))
    dimnames(D) <- list(d$id[d$treat == 1], d$id[d$treat == 0])
    m <- matchit(treat ~ {" + ".join(BALANCE + CONTINUOUS)}, data = d, method = "nearest", distance = D,
                 m.order = "data", caliper = {caliper}, std.caliper = FALSE, ratio = {ratio},
                 replace = {"TRUE" if replace else "FALSE"})
    mm <- m$match.matrix
    out$treated <- rep(rownames(mm), ncol(mm)); out$control <- as.vector(mm)
    out$ids <- d$id; out$weights <- unname(m$weights[d$id])
    if ({"TRUE" if summary else "FALSE"}) {{
      s <- summary(m, un = TRUE, addlvariables = data.frame(logit_ps = d$logit))
      out$rows <- rownames(s$sum.all)
      out$all <- as.data.frame(s$sum.all); out$matched <- as.data.frame(s$sum.matched)
    }}
    """
    return run_r(code, packages=["MatchIt"], d=data)


def pairs_of(out) -> set:
    return {(t, c) for t, c in zip(out["treated"], out["control"]) if c is not None}


def book_pairs(result) -> set:
    return set(zip(result.pairs["treated_id"], result.pairs["control_id"]))


def test_the_default_match_is_matchits(default):
    cohort, model = default
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    out = r_match(cohort, model, result, order="largest")
    assert len(result.pairs) == 68
    assert pairs_of(out) == book_pairs(result)
    weights = result.weights().reindex(cohort.index, fill_value=0.0)
    assert np.allclose(pd.Series(out["weights"], index=out["ids"]).loc[cohort.index], weights)


def test_largest_and_smallest_are_rs_order_of_the_score_ties_in_data_order(default):
    cohort, model = default
    ids = model.logit.index[model.treated.to_numpy()]
    assert model.logit.loc[ids].duplicated().any()  # there are ties to break
    out = run_r(
        "l <- as.numeric(d$logit_hex)\n"
        "out$largest <- d$id[order(l, decreasing = TRUE)]; out$smallest <- d$id[order(l)]",
        d=pd.DataFrame({"id": ids, "logit_hex": _hex(model.logit.loc[ids])}),
    )
    assert out["largest"] == treated_order(model.logit, model.treated, "largest")
    assert out["smallest"] == treated_order(model.logit, model.treated, "smallest")


def test_the_caliper_is_02_sd_of_the_logit_over_all_patients(default):
    _, model = default
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    out = run_r("out$width <- 0.2 * sd(as.numeric(d$logit_hex))", d=pd.DataFrame({"logit_hex": _hex(model.logit)}))
    assert result.caliper == pytest.approx(out["width"], rel=1e-12)


@pytest.mark.parametrize(
    "order, caliper, ratio, replace",
    [
        ("smallest", 0.1, 1, False),
        ("data", None, 1, False),
        ("random", 0.2, 2, False),
        ("largest", 0.5, 1, True),
    ],
)
def test_other_orders_calipers_ratios_and_replacement_match_matchit(default, order, caliper, ratio, replace):
    cohort, model = default
    result = nearest_neighbour_match(
        model.logit, model.treated, caliper_sd=caliper, ratio=ratio, replace=replace, order=order, seed=SEED
    )
    out = r_match(cohort, model, result, order=order, ratio=ratio, replace=replace)
    assert pairs_of(out) == book_pairs(result)
    weights = result.weights().reindex(cohort.index, fill_value=0.0)
    assert np.allclose(pd.Series(out["weights"], index=out["ids"]).loc[cohort.index], weights)


def test_with_replacement_and_three_controls_the_matches_differ_only_among_equally_distant_controls(default):
    cohort, model = default
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2, ratio=3, replace=True)
    theirs, ours = pairs_of(r_match(cohort, model, result, order="largest", ratio=3, replace=True)), book_pairs(result)
    logit = model.logit

    def gaps(pairs):
        found: dict = {}
        for t, c in pairs:
            found.setdefault(t, []).append(abs(logit[t] - logit[c]))
        return {t: sorted(g) for t, g in found.items()}

    assert gaps(theirs) == gaps(ours)  # every treated patient: the same distances to its controls
    assert theirs != ours  # MatchIt's partial_sort breaks some ties differently


@pytest.mark.parametrize("order, ratio", [("largest", 1), ("random", 2)])
def test_balance_summary_is_matchits_summary_to_4_decimals(default, order, ratio):
    cohort, model = default
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2, ratio=ratio, order=order, seed=SEED)
    matched = report.matched_sample(cohort, model, result, 0.2)
    study = STUDY.model_copy(update={"covariates": (*STUDY.covariates, *(_continuous(c) for c in CONTINUOUS))})
    ours = report.balance_report(cohort, matched, model.logit, study)
    out = r_match(cohort, model, result, order=order, ratio=ratio, summary=True)
    names = {row: row.replace("=", "") for row in ours.index}  # R names a level column+level
    assert sorted(names.values()) == sorted(out["rows"])
    assert ours["binary"].sum() == sum(len(v.levels) for v in STUDY.covariates)
    for when, frame in (("before", out["all"]), ("after", out["matched"])):
        theirs = pd.DataFrame(frame, index=out["rows"]).rename(index={v: k for k, v in names.items()})
        for stat, column in MATCHIT_NAMES.items():
            r_values = theirs.loc[ours.index, column].astype(float).to_numpy()
            np.testing.assert_allclose(ours[f"{stat}_{when}"].to_numpy(), r_values, atol=5e-5, err_msg=f"{stat} {when}")
    # the continuous rows have what the 0/1 rows lack: variance ratios, eCDFs apart from the mean difference
    assert ours.loc[CONTINUOUS, "variance_ratio_after"].notna().all()
    assert (ours.loc[CONTINUOUS, "ecdf_max_before"] > 0).all()


def _continuous(column):
    from psmbook.study.description import Variable

    return Variable(column=column, label=column, kind="continuous")


def test_matchits_own_score_model_gives_the_book_score(default):
    cohort, model = default
    data = cohort[[STUDY.treatment.column, *COVARIATES]].reset_index()
    levels = {v.column: list(v.levels) for v in STUDY.psm_covariates}
    relevel = "; ".join(
        f"d${c} <- factor(d${c}, levels = c({', '.join(repr(x) for x in levels[c])}))" for c in COVARIATES
    )
    out = run_r(
        f"""{relevel}
        d$treat <- as.integer(d${STUDY.treatment.column} == "{STUDY.treatment.treated}")
        m <- matchit(treat ~ {" + ".join(COVARIATES)}, data = d, method = NULL, distance = "glm")
        out$ps <- unname(m$distance)""",
        packages=["MatchIt"],
        d=data,
    )
    np.testing.assert_allclose(out["ps"], model.scores.loc[data[STUDY.id_column]].to_numpy(), atol=1e-8)
