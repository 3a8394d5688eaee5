"""The treatment-assignment propensity the generator implies, for comparison with the fitted score."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from psmbook.cohort.synthetic.model import arm_strength
from psmbook.cohort.synthetic.spec import ARMS, CONTROL, TREATED, GeneratorSpec
from psmbook.cohort.synthetic.targets import load_targets


def _level_probabilities(order, shares: dict, rho: float, z: np.ndarray) -> dict:
    """P(level | Z = z) under the ranking copula (large-n limit), for each level of one covariate.

    Levels in `order` take the top of the ranking score s = rho z + sqrt(1 - rho^2) eps ~ N(0, 1) in
    turn (shares = the arm's proportions); the remaining levels share the rest at random.
    """
    sigma = math.sqrt(1.0 - rho * rho)
    out = {}
    cum = 0.0
    prev = np.zeros_like(z)  # P(s > previous cut)
    for level in order:
        cum += shares[level]
        cut = stats.norm.ppf(1.0 - cum) if cum < 1 else -np.inf
        p_above = stats.norm.sf((cut - rho * z) / sigma) if np.isfinite(cut) else np.ones_like(z)
        out[level] = p_above - prev
        prev = p_above
    rest = [lv for lv in shares if lv not in order]
    rest_total = sum(shares[lv] for lv in rest)
    for level in rest:
        out[level] = (1.0 - prev) * (shares[level] / rest_total if rest_total > 0 else 0.0)
    return out


def implied_propensity(
    df: pd.DataFrame,
    spec: GeneratorSpec | None = None,
    covariates: list[str] | None = None,
    quadrature_nodes: int = 60,
) -> pd.Series:
    """P(arm = anlotinib | covariates) implied by the generator, for each row of `df`.

    The generator does not draw the arm from the covariates: it fixes the arm sizes (76 and 215) and
    draws the covariates *given* the arm, with the arm's exact Table 1 counts and a within-arm
    dependence through the latent indication score Z (a discrete Gaussian copula). By Bayes' rule
    the implied propensity score is

        P(anlotinib | x) = n_A f_A(x) / (n_A f_A(x) + n_C f_C(x)),

    where f_a(x) is the within-arm probability of the covariate pattern x. Given Z the linked
    covariates are independent (each is a threshold of its own ``rho_k Z + noise``), so
    ``f_a(x) = prod_unlinked p_a(x_j) * integral phi(z) prod_linked P_a(x_k | z) dz``, computed here by
    Gauss-Hermite quadrature in the large-sample limit of the ranking (thresholds at the normal
    quantiles of the arm's cumulative proportions). With ``indication_strength = 0`` the covariates
    are independent within arm and the true model is exactly a main-effects logistic regression with
    coefficients log(p_A(level) / p_C(level)); with ``indication_strength > 0`` the log-odds contain
    interactions, so a main-effects propensity model is (mildly) misspecified.

    `covariates` defaults to the propensity-score covariates of the study description. Categorical
    Table 1 columns only; age_group and concurrent_chemo are handled jointly (the S-1 age rule), and
    a pattern the generator cannot produce (S-1 under 65) gets NaN. The node count is not a Table 1
    covariate and is not supported (its distribution also depends on the arm directly).
    """
    from psmbook.study.description import load_study

    spec = spec or GeneratorSpec()
    tg = load_targets()
    study = load_study()
    covariates = list(covariates) if covariates is not None else [v.column for v in study.psm_covariates]
    unknown = [c for c in covariates if c not in tg.table1]
    if unknown:
        raise ValueError(f"implied_propensity supports the Table 1 columns only, not {unknown}")
    missing = [c for c in covariates if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are missing from the data")
    z, w = np.polynomial.hermite_e.hermegauss(quadrature_nodes)
    w = w / math.sqrt(2 * math.pi)
    linked = {c: (tuple(o), weight) for c, o, weight in spec.indication_loadings}
    rows = len(df)
    log_f = {}
    for a in ARMS:
        n_a = tg.n[a]
        integrand = np.ones((rows, len(z)))  # product of linked P(x_k | z)
        log_unlinked = np.zeros(rows)
        handled = set()
        if "age_group" in covariates or "concurrent_chemo" in covariates:
            t1 = tg.table1
            s1 = t1["concurrent_chemo"]["s1"][a]
            shares = {
                "lt65": t1["age_group"]["lt65"][a] / n_a,
                "ge65_lt_s1": (t1["age_group"]["ge65"][a] - s1) / n_a,
                "s1_age": s1 / n_a,
            }
            order, loading = linked.get("age", (("lt65", "ge65_lt_s1", "s1_age"), 0.0))
            probs = _level_probabilities(order, shares, arm_strength(spec, a) * loading, z)
            ag = df["age_group"].astype(str).to_numpy() if "age_group" in covariates else None
            cc = df["concurrent_chemo"].astype(str).to_numpy() if "concurrent_chemo" in covariates else None
            p = np.zeros((rows, len(z)))
            for band, pb in probs.items():
                group = "lt65" if band == "lt65" else "ge65"
                chemo = "s1" if band == "s1_age" else "docetaxel_cisplatin"
                match = np.ones(rows, dtype=bool)
                if ag is not None:
                    match &= ag == group
                if cc is not None:
                    match &= cc == chemo
                p[match] += pb
            integrand *= p
            handled |= {"age_group", "concurrent_chemo"}
        for column in covariates:
            if column in handled:
                continue
            shares = {lv: tg.table1[column][lv][a] / n_a for lv in tg.table1[column]}
            values = df[column].astype(str).to_numpy()
            bad = sorted(set(values) - set(shares))
            if bad:
                raise ValueError(f"column {column}: unknown levels {bad}")
            if column in linked:
                order, loading = linked[column]
                probs = _level_probabilities(order, shares, arm_strength(spec, a) * loading, z)
                p = np.zeros((rows, len(z)))
                for lv, pl in probs.items():
                    p[values == lv] = pl
                integrand *= p
            else:
                with np.errstate(divide="ignore"):
                    log_unlinked += np.log(np.array([shares[v] for v in values]))
        with np.errstate(divide="ignore"):
            log_f[a] = math.log(n_a) + log_unlinked + np.log(integrand @ w)
    num, den = log_f[TREATED], np.logaddexp(log_f[TREATED], log_f[CONTROL])
    with np.errstate(invalid="ignore"):
        ps = np.exp(num - den)
    ps[~np.isfinite(den)] = np.nan
    return pd.Series(ps, index=df.index, name="implied_propensity")
