"""The survival chapter's numbers against R's survival package (Therneau), to 4 decimals.

The data are the book's defaults: the synthetic cohort of the default seed (before matching) and the
matched cohort the matching chapter writes (1:1 nearest neighbour on the logit score, without
replacement, caliper 0.2 SD of the logit, largest score first; ``psmbook match`` gives the same rows),
with its matched sets in ``pair``. Each side is computed once per module: ours with the functions the
chapter calls, R's in one ``Rscript`` run (tests/rbridge.py). What R computes is said in each test.
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from psmbook.analysis import km as kaplan_meier
from psmbook.analysis import survival
from psmbook.analysis.km import CI_TRANSFORM, survival_ci_at
from psmbook.analysis.survival import km_report
from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.matching.export import match_data
from psmbook.study import published
from psmbook.study.description import load_study
from rbridge import needs_r, run_r

pytestmark = needs_r

STUDY = load_study()
TREATED, CONTROL = STUDY.treatment.treated, STUDY.treatment.control
ENDPOINTS = ("pfs", "os")
DECIMALS = 4


def close(ours, theirs, decimals=DECIMALS):
    """Equal to ``decimals`` decimals (half a unit of the last decimal, as rounding would show)."""
    return abs(float(ours) - float(theirs)) < 0.5 * 10**-decimals


@pytest.fixture(scope="module")
def cohorts():
    cohort = generate_cohort(DEFAULT_SEED)
    matched = match_data(cohort, STUDY).rename(columns={"subclass": "pair"})
    assert matched["pair"].nunique() == 68  # the book's default match: 68 pairs
    return {"before": cohort, "after": matched}


# --- Kaplan-Meier: landmarks, medians, log-rank ----------------------------------------------------

KM_R = """
landmarks <- list(); medians <- list(); logrank <- list()
for (period in c("before", "after")) {
  d <- if (period == "before") before else after
  for (e in c("pfs", "os")) {
    times <- if (e == "pfs") c(6, 12) else c(12, 36)
    for (a in unique(d$arm)) {
      s <- d[d$arm == a, ]
      fit <- survfit(Surv(s[[paste0(e, "_months")]], s[[paste0(e, "_event")]]) ~ 1, conf.type = TRANSFORM)
      sm <- summary(fit, times = times)
      landmarks[[length(landmarks) + 1]] <- list(period = period, e = e, arm = a, months = sm$time,
        surv = sm$surv, lower = sm$lower, upper = sm$upper)
      q <- quantile(fit, probs = 0.5)
      medians[[length(medians) + 1]] <- list(period = period, e = e, arm = a,
        median = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper))
    }
    sd <- survdiff(Surv(d[[paste0(e, "_months")]], d[[paste0(e, "_event")]]) ~ d$arm)
    logrank[[length(logrank) + 1]] <- list(period = period, e = e, chisq = sd$chisq,
      p = pchisq(sd$chisq, 1, lower.tail = FALSE))
  }
}
out$landmarks <- landmarks; out$medians <- medians; out$logrank <- logrank
"""

KM_COLUMNS = ["arm", "pfs_months", "pfs_event", "os_months", "os_event"]


def r_km(cohorts, transform):
    code = KM_R.replace("TRANSFORM", f'"{transform}"')
    return run_r(code, packages=["survival"], before=cohorts["before"][KM_COLUMNS], after=cohorts["after"][KM_COLUMNS])


@pytest.fixture(scope="module")
def km(cohorts):
    fits, tests = km_report.fit_all(cohorts, STUDY)
    return fits, tests, r_km(cohorts, CI_TRANSFORM)


def test_landmark_survival_and_ci_equal_survfit(km):
    """R: ``summary(survfit(Surv(t, e) ~ 1, conf.type = <the book's transform>), times = ...)`` per arm:
    the Kaplan-Meier product limit at each landmark and its pointwise 95% limits, Greenwood's variance
    of the cumulative hazard transformed as ``survfit_confint`` does (log-log: exp(-exp(log(-log S) +-
    z se / log S)))."""
    fits, _, r = km
    compared = 0
    for row in r["landmarks"]:
        fit = fits[row["e"]][row["period"]][row["arm"]]
        for months, surv, lower, upper in zip(row["months"], row["surv"], row["lower"], row["upper"]):
            s, low, high = survival_ci_at(fit, months)
            assert close(s / 100, surv) and close(low / 100, lower) and close(high / 100, upper), row
            compared += 1
    assert compared == 2 * 2 * 2 * 2  # periods x endpoints x arms x landmarks


def test_landmark_table_reports_the_landmarks_r_was_asked_for(km):
    fits, _, r = km
    table = pd.concat([survival.landmark_table(fits[e], e) for e in ENDPOINTS], ignore_index=True)
    for row in r["landmarks"]:
        ours = table[
            (table["endpoint"] == row["e"]) & (table["period"] == row["period"]) & (table["arm"] == row["arm"])
        ]
        assert ours["months"].tolist() == row["months"]
        assert np.allclose(ours["survival"] / 100, row["surv"], atol=5e-5)


def test_medians_and_their_ci_equal_survfit_quantile(km):
    """R: ``quantile(survfit(...), 0.5)``, which ``print(fit)`` shows: the first time the curve is at or
    below 0.5, except where it sits exactly at 0.5 over an interval, where it takes the midpoint of that
    interval (``findq``); the limits are the same rule applied to the lower and upper pointwise bands."""
    fits, _, r = km
    for row in r["medians"]:
        ours = survival.median_table(fits[row["e"]][row["period"]]).loc[row["arm"]]
        for field, theirs in (("median", row["median"]), ("ci_low", row["lower"]), ("ci_high", row["upper"])):
            if theirs is None:  # R: NA, the curve or its band never reaches 0.5
                assert np.isinf(ours[field]), (row, field)
            else:
                assert close(ours[field], theirs), (row, field, ours[field], theirs)


def test_medians_under_rs_default_log_transform(cohorts):
    """R's default ``conf.type = "log"`` (exp(log S +- z se)) gives other limits; ours follow when asked."""
    fits, _ = km_report.fit_all(cohorts, STUDY)
    r = r_km(cohorts, "log")
    for row in r["medians"]:
        ours = survival.median_table(fits[row["e"]][row["period"]], transform="log").loc[row["arm"]]
        for field, theirs in (("ci_low", row["lower"]), ("ci_high", row["upper"])):
            assert np.isinf(ours[field]) if theirs is None else close(ours[field], theirs), (row, field)
    for row in r["landmarks"]:
        fit = fits[row["e"]][row["period"]][row["arm"]]
        for months, lower, upper in zip(row["months"], row["lower"], row["upper"]):
            _, low, high = survival_ci_at(fit, months, transform="log")
            assert close(low / 100, lower) and close(high / 100, upper), row


def test_hand_made_medians_equal_survfit():
    """R: ``quantile(survfit(Surv(t, e) ~ 1, conf.type = "log-log"), 0.5)`` on the hand-made curves of
    tests/test_km_median.py (flat at 0.5, a censoring inside the flat, a curve ending at 0.5, one half up
    to floating-point rounding): R's values are the ones worked by hand there."""
    from test_km_median import CURVES

    frames = {f"c{i}": pd.DataFrame({"t": t, "e": e}) for i, (t, e, _) in enumerate(CURVES.values())}
    code = 'for (k in KEYS) { q <- quantile(survfit(Surv(t, e) ~ 1, data = get(k), conf.type = "log-log"), 0.5);'
    code += " out[[k]] <- c(q$quantile, q$lower, q$upper) }"
    r = run_r(code.replace("KEYS", "c(" + ", ".join(f'"{k}"' for k in frames) + ")"), packages=["survival"], **frames)
    for (name, (times, events, by_hand)), key in zip(CURVES.items(), frames):
        ours = kaplan_meier.median_survival(KaplanMeierFitter().fit(times, events), "log-log")
        assert ours[0] == pytest.approx(by_hand) and r[key][0] == pytest.approx(by_hand), name
        for mine, theirs in zip(ours, r[key]):
            assert np.isinf(mine) if theirs is None else close(mine, theirs), (name, ours, r[key])


def test_logrank_equals_survdiff(km):
    """R: ``survdiff(Surv(t, e) ~ arm)``: sum over event times of observed minus expected deaths in one
    arm, squared, over the hypergeometric variance (rho = 0); p from chi-square with 1 df."""
    _, tests, r = km
    for row in r["logrank"]:
        ours = tests[(row["e"], row["period"])]
        assert close(ours.chi2, row["chisq"]) and close(ours.p, row["p"]), row


# --- Cox models of the matched cohort ---------------------------------------------------------------

PAIRS_R = """
models <- list()
for (e in c("pfs", "os")) {
  y <- Surv(after[[paste0(e, "_months")]], after[[paste0(e, "_event")]])
  treated <- as.numeric(after$arm == "TREATED"); pair <- after$pair
  fits <- list(independent = coxph(y ~ treated, ties = "efron"),
               robust = coxph(y ~ treated + cluster(pair), ties = "efron"),
               stratified = coxph(y ~ treated + strata(pair), ties = "efron"))
  for (m in names(fits)) {
    s <- summary(fits[[m]])
    co <- s$coefficients; ci <- s$conf.int
    se <- if (m == "robust") co[1, "robust se"] else co[1, "se(coef)"]
    models[[length(models) + 1]] <- list(e = e, method = m, log_hr = co[1, "coef"], se = se,
      p = co[1, "Pr(>|z|)"], hr = ci[1, "exp(coef)"], ci_low = ci[1, "lower .95"], ci_high = ci[1, "upper .95"],
      n = fits[[m]]$n, events = fits[[m]]$nevent)
  }
}
out$models <- models
"""


@pytest.fixture(scope="module")
def pair_models(cohorts):
    matched = cohorts["after"]
    ours = {e: survival.pair_aware_cox(matched, STUDY, f"{e}_months", f"{e}_event") for e in ENDPOINTS}
    columns = ["arm", "pair", "pfs_months", "pfs_event", "os_months", "os_event"]
    r = run_r(PAIRS_R.replace("TREATED", TREATED), packages=["survival"], after=matched[columns])
    return ours, r["models"]


@pytest.mark.parametrize("method", ["independent", "robust", "stratified"])
def test_treatment_cox_models_equal_coxph(pair_models, method):
    """R: ``coxph(Surv(t, e) ~ treated, ties = "efron")`` (independent); ``+ cluster(pair)`` (robust: the
    same estimate, variance D'D with D the dfbeta residuals summed within each pair, no small-sample
    factor; z and p from the robust SE); ``+ strata(pair)`` (one baseline hazard per pair, Efron's
    partial likelihood within each). HR, its 95% limits, log HR, SE and Wald p, for PFS and OS."""
    ours, r = pair_models
    rows = [row for row in r if row["method"] == method]
    assert len(rows) == 2
    for row in rows:
        mine = ours[row["e"]].loc[method]
        for field in ("log_hr", "se", "p", "hr", "ci_low", "ci_high"):
            assert close(mine[field], row[field]), (row["e"], method, field, mine[field], row[field])
        assert int(mine["n"]) == row["n"] and int(mine["events"]) == row["events"]


# --- Table 3: univariate and multivariable Cox models of OS -----------------------------------------

TABLE3_R = """
for (f in names(references)) after[[f]] <- relevel(factor(after[[f]]), ref = references[[f]])
models <- list()
fit_terms <- function(columns, label) {
  fit <- coxph(as.formula(paste("Surv(os_months, os_event) ~", paste(columns, collapse = " + "))),
               data = after, ties = "efron")
  s <- summary(fit)
  list(model = label, term = rownames(s$coefficients), log_hr = unname(s$coefficients[, "coef"]),
       se = unname(s$coefficients[, "se(coef)"]), p = unname(s$coefficients[, "Pr(>|z|)"]),
       ci_low = unname(s$conf.int[, "lower .95"]), ci_high = unname(s$conf.int[, "upper .95"]), n = fit$n)
}
for (f in names(references)) models[[length(models) + 1]] <- fit_terms(f, "univariate")
models[[length(models) + 1]] <- fit_terms(selected, "selected")
models[[length(models) + 1]] <- fit_terms(paper, "paper")
out$models <- models
"""


@pytest.fixture(scope="module")
def table3(cohorts):
    matched = cohorts["after"].copy()
    factors = survival.table3_factors(STUDY)
    univariate = survival.cox_univariate(matched, factors, "os_months", "os_event")
    selected = survival.select_factors(univariate, 0.05)
    paper_columns = {k.split(".")[2] for k in published.select("table3.multivariate.")}
    models = {
        "univariate": univariate,
        "selected": survival.cox_multivariable(
            matched, [f for f in factors if f.column in selected], "os_months", "os_event"
        ).table,
        "paper": survival.cox_multivariable(
            matched, [f for f in factors if f.column in paper_columns], "os_months", "os_event"
        ).table,
    }
    columns = [f.column for f in factors]
    references = ", ".join(f'{f.column} = "{f.reference}"' for f in factors)
    code = (
        f"references <- list({references})\n"
        f"selected <- c({', '.join(repr(c) for c in selected)})\n"
        f"paper <- c({', '.join(repr(f.column) for f in factors if f.column in paper_columns)})\n"
        'after$response_group[after$response_group == ""] <- NA\n' + TABLE3_R
    )
    r = run_r(code, packages=["survival"], after=matched[columns + ["os_months", "os_event"]])
    return models, factors, r["models"], selected


def test_table3_univariate_and_multivariable_models_equal_coxph(table3):
    """R: ``coxph(Surv(os_months, os_event) ~ <factors>, ties = "efron")`` with each factor releveled to
    the book's reference level (treatment contrasts) and patients with a missing factor dropped (R's
    na.omit; a response group is missing for patients not evaluable): one model per factor, the model of
    the factors selected at p < 0.05, and the model of the paper's multivariable factors."""
    models, factors, r, selected = table3
    assert selected, "the default cohort selects at least one factor"
    term_of = {f"{f.column}{level}": f.term(level) for f in factors for level in f.contrasts}
    compared = 0
    for row in r:
        table = models[row["model"]].set_index("id")
        for i, term in enumerate(row["term"] if isinstance(row["term"], list) else [row["term"]]):
            mine = table.loc[term_of[term]]
            for field in ("log_hr", "se", "p", "ci_low", "ci_high"):
                theirs = row[field][i] if isinstance(row[field], list) else row[field]
                assert close(mine[field], theirs), (row["model"], term, field, mine[field], theirs)
            assert int(mine["n"]) == row["n"]
            compared += 1
    n_contrasts = sum(len(f.contrasts) for f in factors)
    assert compared >= n_contrasts + 2  # every univariate term and at least one term of each model


# --- the O(n log n) Cox model at registry scale ------------------------------------------------------

LARGE_R = """
fits <- list(
  robust = coxph(Surv(time, event) ~ treated + cluster(pair), data = d),
  stratified = coxph(Surv(time, event) ~ treated + strata(pair), data = d))
SMALL_FITS
for (m in names(fits)) {
  s <- summary(fits[[m]])$coefficients
  out[[m]] <- list(coef = unname(coef(fits[[m]])), se = unname(sqrt(diag(vcov(fits[[m]])))),
                   p = unname(s[, ncol(s)]))
}
"""

#: Models fitted to 10^5 patients (the pair-aware models) and to the first 10^4 (more covariates,
#: weights, Breslow's ties): R 3.5-3's robust variance is quadratic in the patients.
LARGE_MODELS = {
    "robust": (["treated"], {"cluster": "pair"}),
    "stratified": (["treated"], {"strata": "pair"}),
}
SMALL_MODELS = {
    "robust3": (["treated", "z", "older"], {"cluster": "pair"}, "treated + z + older + cluster(pair)"),
    "stratified2": (["treated", "z"], {"strata": "pair"}, "treated + z + strata(pair)"),
    "weighted": (["treated", "older"], {"cluster": "pair", "weights": "weight"}, "treated + older + cluster(pair)"),
    "breslow": (["treated", "older"], {"ties": "breslow"}, "treated + older"),
}
SMALL_N = 10_000


def small_fits_r() -> str:
    lines = []
    for name, (_, options, formula) in SMALL_MODELS.items():
        extra = ", weights = weight" if "weights" in options else ""
        extra += ', ties = "breslow"' if options.get("ties") == "breslow" else ""
        lines.append(f"fits${name} <- coxph(Surv(time, event) ~ {formula}, data = d[1:{SMALL_N}, ]{extra})")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def large():
    """10^5 patients in 5 x 10^4 simulated pairs (ties from times rounded to 0.01), ours and R's fits."""
    from psmbook.analysis.survival.fastcox import cox_fit
    from psmbook.analysis.survival.simulate import simulated_pairs

    data = simulated_pairs(50_000, seed=2025)
    small = data.iloc[:SMALL_N]
    ours = {}
    for name, (terms, options, *_) in {**LARGE_MODELS, **SMALL_MODELS}.items():
        d = small if name in SMALL_MODELS else data
        kwargs = {k: (d[v] if k != "ties" else v) for k, v in options.items()}
        ours[name] = cox_fit(d["time"], d["event"], d[terms], **kwargs).summary()
    return data, ours, run_r(LARGE_R.replace("SMALL_FITS", small_fits_r()), packages=["survival"], d=data)


@pytest.mark.parametrize("model", [*LARGE_MODELS, *SMALL_MODELS])
def test_fast_cox_equals_coxph_at_scale(large, model):
    """R: ``coxph(Surv(time, event) ~ treated + cluster(pair))`` and ``~ treated + strata(pair)`` (Efron's
    ties) on 10^5 patients in 5 x 10^4 pairs; on the first 10^4 of them, robust variance clustered on the
    pairs with three covariates and with non-integer case weights, a stratified model with two
    covariates, and Breslow's ties with the model-based variance. Coefficients and SEs agree to 1e-6
    relative, p to 4 decimals."""
    data, ours, r = large
    mine, theirs = ours[model], r[model]
    assert len(data) == 100_000
    assert np.allclose(mine["log_hr"], theirs["coef"], rtol=1e-6, atol=0)
    assert np.allclose(mine["se"], theirs["se"], rtol=1e-6, atol=0)
    assert all(close(a, b) for a, b in zip(mine["p"], np.atleast_1d(theirs["p"])))


# --- weighted Cox after 1:k and with-replacement matching -------------------------------------------

MATCHED_SETS_R = """
md$treated <- as.numeric(md$arm == "TREATED"); gm$treated <- as.numeric(gm$arm == "TREATED")
sets <- coxph(Surv(os_months, os_event) ~ treated, data = md, robust = TRUE, weights = weights, cluster = subclass)
out$sets <- c(coef(sets), sqrt(vcov(sets)))
indep <- coxph(Surv(os_months, os_event) ~ treated, data = md, weights = weights)
strat <- coxph(Surv(os_months, os_event) ~ treated + strata(subclass), data = md, weights = weights)
out$independent <- c(coef(indep), sqrt(vcov(indep))); out$stratified <- c(coef(strat), sqrt(vcov(strat)))
fs <- coxph(Surv(os_months, os_event) ~ treated, data = gm, robust = TRUE, weights = weights, cluster = subclass)
fi <- coxph(Surv(os_months, os_event) ~ treated, data = gm, robust = TRUE, weights = weights, cluster = id)
fc <- coxph(Surv(os_months, os_event) ~ treated, data = gm, robust = TRUE, weights = weights)
ks <- length(unique(gm$subclass)); ki <- length(unique(gm$id)); kc <- nrow(gm)
v <- (ks / (ks - 1)) * fs$var + (ki / (ki - 1)) * fi$var - (kc / (kc - 1)) * fc$var
out$replacement <- c(coef(fc), sqrt(v))
"""


def test_weighted_cox_after_one_to_k_and_with_replacement_equals_matchits_recipe():
    """R, as MatchIt's guide to estimating effects prescribes: after 1:2 matching without replacement,
    ``coxph(Surv(t, e) ~ treated, data = match.data(m), robust = TRUE, weights = weights, cluster =
    subclass)``; after 1:2 matching with replacement, the ``get_matches()`` rows (one per patient per set)
    and Austin and Cafri's variance from three robust fits (clustered on subclass, on id, on rows). And
    the survival chapter's weighted models of the 1:2 match: ``coxph(... , weights = weights)`` (robust
    by default for non-integer weights), ``+ cluster(subclass)`` and ``+ strata(subclass)``."""
    from psmbook.analysis.survival.matched_sets import matched_set_cox, matched_sets
    from psmbook.matching.nearest import nearest_neighbour_match
    from psmbook.matching.result import matched_cohort
    from psmbook.matching.score import fit_propensity

    cohort = generate_cohort(DEFAULT_SEED).set_index(STUDY.id_column)
    covariates = [v.column for v in STUDY.psm_covariates]
    model = fit_propensity(cohort, STUDY.treatment.column, TREATED, covariates, study=STUDY)
    results = {
        replace: nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2, ratio=2, replace=replace)
        for replace in (False, True)
    }
    md = matched_cohort(cohort, results[False]).rename(columns={"pair": "subclass", "match_weight": "weights"})
    gm = matched_sets(cohort, results[True])
    columns = ["arm", "os_months", "os_event", "subclass", "weights"]
    r = run_r(
        MATCHED_SETS_R.replace("TREATED", TREATED),
        packages=["survival"],
        md=md[columns],
        gm=gm[columns + ["id"]],
    )
    for replace, key in ((False, "sets"), (True, "replacement")):
        fit = matched_set_cox(cohort, results[replace], STUDY, "os_months", "os_event", replace=replace)
        assert close(fit["log_hr"], r[key][0]) and close(fit["se"], r[key][1]), (key, fit.to_dict(), r[key])
        assert fit["se"] == pytest.approx(r[key][1], rel=1e-8)
    # the survival chapter's three models of a 1:2 match are weighted (R's default robust variance for
    # non-integer weights where not clustered: each patient its own cluster)
    pairs = survival.pair_aware_cox(
        md.rename(columns={"subclass": "pair"}), STUDY, "os_months", "os_event", weights="weights"
    )
    for method, key in (("independent", "independent"), ("robust", "sets"), ("stratified", "stratified")):
        mine = pairs.loc[method]
        assert close(mine["log_hr"], r[key][0]) and close(mine["se"], r[key][1]), (method, mine.to_dict(), r[key])
