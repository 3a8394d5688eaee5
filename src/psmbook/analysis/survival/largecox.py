"""The Table 3 Cox models of a registry: above :data:`LARGE` patients the chapter's lifelines fits are made by
the book's O(n log n) fit (:func:`psmbook.analysis.survival.fastcox.cox_fit`, R ``coxph``'s Newton–Raphson,
Efron's ties) and handed on with the parts of lifelines' ``CoxPHFitter`` the chapter reads. lifelines' Efron
fit loops in Python over the distinct times at every Newton step (about 8 s a model at 60,000 patients; a
3-factor model of ``tests/test_largecox.py``'s cohort, times in tenths: 0.25 s against 0.02 s at 10,000
patients, 0.09 s against 0.01 s at 2,000, measured 2026-11-28); below the threshold nothing changes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.analysis.survival.fastcox import cox_fit

#: Patients above which a Cox model of the chapter is fitted by :func:`fastcox.cox_fit`.
LARGE = 2_000


class FastCoxFitter:
    """What the chapter reads of a fitted lifelines ``CoxPHFitter`` (``params_``, ``variance_matrix_``,
    ``standard_errors_``, ``summary`` under lifelines' column names, and the ``durations``,
    ``event_observed`` and ``weights`` in order of time that ``proportional_hazard_test`` reads), from
    :func:`fastcox.cox_fit` on the same design."""

    strata = None

    def __init__(self, design: pd.DataFrame, time: pd.Series, event: pd.Series):
        terms = list(design.columns)
        t, e = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
        self.fit = cox_fit(t, e, design.to_numpy(dtype=float), terms=terms, robust=False)
        self.params_ = pd.Series(self.fit.coef, index=pd.Index(terms, name="covariate"), name="coef")
        self.variance_matrix_ = pd.DataFrame(self.fit.var, index=terms, columns=terms)
        self.standard_errors_ = pd.Series(self.fit.se, index=self.params_.index, name="se(coef)")
        order = np.argsort(t, kind="stable")
        self.durations = pd.Series(t[order], name="_time")
        self.event_observed = pd.Series(e[order] > 0, name="_event")
        self.weights = pd.Series(np.ones(len(t)), name="weights")

    @property
    def summary(self) -> pd.DataFrame:
        """lifelines' summary columns: coef, exp(coef), se(coef), the 95% limits of both, z, p."""
        s = self.fit.summary()
        out = pd.DataFrame(
            {
                "coef": s["log_hr"],
                "exp(coef)": s["hr"],
                "se(coef)": s["se"],
                "coef lower 95%": np.log(s["ci_low"]),
                "coef upper 95%": np.log(s["ci_high"]),
                "exp(coef) lower 95%": s["ci_low"],
                "exp(coef) upper 95%": s["ci_high"],
                "z": s["z"],
                "p": s["p"],
            }
        )
        out.index = self.params_.index
        return out

    def __str__(self) -> str:
        return f"<psmbook fastcox Cox model: {self.fit.n} patients, {self.fit.events} events>"
