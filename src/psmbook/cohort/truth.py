"""The synthetic cohort's truth: the treatment effect its generating model encodes.

* :func:`true_hazard_ratio_table` - the true conditional OS hazard ratios, by Table 3 factor: what a
  correctly specified multivariable Cox model estimates;
* :func:`true_marginal_hr` (via :func:`limiting_cox_hr`) - the marginal hazard ratio the model implies
  for patients like a cohort's treated ones: what a Cox model of treatment alone in a matched cohort
  estimates. The two differ because the hazard ratio is not collapsible.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from psmbook.cohort.synthetic import (
    DAYS_PER_MONTH,
    OS_FACTORS,
    GeneratorSpec,
    baseline_cumulative_hazard,
    load_targets,
    os_linear_predictor,
    true_hazard_ratios,
)

__all__ = ["true_hazard_ratio_table", "limiting_cox_hr", "true_marginal_hr"]


def true_hazard_ratio_table(spec: GeneratorSpec | None = None) -> pd.DataFrame:
    """The true conditional OS hazard ratios of the synthetic cohort's generating model.

    The generator's proportional-hazards model has exactly these factors (the paper's multivariable
    Table 3); indexed by the Table 3 factor id (``arm.anlotinib``, ...).
    """
    hr = true_hazard_ratios(spec)
    rows = [
        {"id": f, "column": column, "level": level, "hr": float(hr[f]), "log_hr": math.log(hr[f])}
        for f, column, level in OS_FACTORS
    ]
    return pd.DataFrame(rows).set_index("id")


def limiting_cox_hr(
    hazard,
    cumulative_hazard,
    risk_treated: np.ndarray,
    risk_control: np.ndarray,
    entry: np.ndarray,
    followup: np.ndarray,
    step: float = 0.01,
) -> float:
    """The hazard ratio a Cox model of treatment alone converges to when every patient of a population
    is observed under both treatments (an infinitely large randomised trial in that population).

    Patient i has hazard ``hazard(t) * risk`` from ``entry[i]`` on (survival to entry is given) and is
    censored at ``followup[i]``. With D_a(t) the expected deaths and R_a(t) the expected number at risk
    in arm a, the limit beta* of the partial-likelihood estimate solves the expected score equation
    (Struthers and Kalbfleisch 1986)

        integral of  D_1(t) - R_1(t) e^beta / (R_1(t) e^beta + R_0(t)) * (D_1(t) + D_0(t))  dt = 0,

    computed on a grid of ``step`` months. When all patients have the same risk it is the conditional
    hazard ratio; when their risks differ it lies closer to 1 (non-collapsibility).
    """
    entry, followup = np.asarray(entry, float), np.asarray(followup, float)
    t = np.arange(step / 2, float(followup.max()), step)
    h0 = np.asarray(hazard(t), float)
    h_t = np.asarray(cumulative_hazard(t), float)
    h_entry = np.asarray(cumulative_hazard(entry), float)
    observed = (t[None, :] >= entry[:, None]) & (t[None, :] <= followup[:, None])

    def expected(risk):
        risk = np.asarray(risk, float)[:, None]
        surv = np.exp(-np.clip(h_t[None, :] - h_entry[:, None], 0, None) * risk)
        at_risk = np.where(observed, surv, 0.0)
        deaths = at_risk * h0[None, :] * risk
        return deaths.sum(axis=0), at_risk.sum(axis=0)

    d1, r1 = expected(risk_treated)
    d0, r0 = expected(risk_control)

    def score(beta):
        share = r1 * math.exp(beta) / np.maximum(r1 * math.exp(beta) + r0, 1e-300)
        return float(np.sum(d1 - share * (d1 + d0)) * step)

    return float(math.exp(brentq(score, -5.0, 5.0, xtol=1e-10)))


def true_marginal_hr(df: pd.DataFrame, study) -> float:
    """The marginal treatment hazard ratio that the generating model implies for patients like the
    treated ones of ``df`` (an ATT-type hazard ratio): the limit of a Cox model of treatment alone if
    each of them were observed under both treatments (:func:`limiting_cox_hr`).

    Nodes, response, age and stage are held at their observed values (response is a consequence of
    treatment, but its CR rates barely differ between arms); as in the generator, evaluable patients
    are known to survive to their response assessment, and each patient is followed from the start of
    CRT to the censoring date.
    """
    spec = GeneratorSpec()
    arms = study.treatment
    base = df[df[arms.column] == arms.treated]
    cutoff = pd.Timestamp(load_targets().cutoff)
    followup = ((cutoff - pd.to_datetime(base["crt_start_date"])).dt.days / DAYS_PER_MONTH).to_numpy()
    evaluable = (base[study.response.column] != study.response.not_evaluable).to_numpy()
    entry = np.where(evaluable, base["response_assessment_months"].to_numpy(dtype=float), 0.0)
    breaks = np.asarray(spec.os_breaks_months, float)
    levels = np.asarray(spec.os_baseline_hazard, float)

    def hazard(t):
        return levels[np.searchsorted(breaks, t, side="right") - 1]

    risks = [
        np.exp(os_linear_predictor(base.assign(**{arms.column: code}), spec).to_numpy())
        for code in (arms.treated, arms.control)
    ]
    return limiting_cox_hr(hazard, lambda t: baseline_cumulative_hazard(t, spec), risks[0], risks[1], entry, followup)
