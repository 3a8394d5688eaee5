"""An audit of the paper's internal consistency: every check recomputes what the printed numbers imply.

The paper's numbers come from ``psmbook/data/published.yaml`` (:mod:`psmbook.study.published`); nothing is
typed here. Each check gives a :class:`Finding` with a verdict:

- ``"consistent"``: the printed number is what its own inputs give, at the printed precision;
- ``"needs an unstated choice"``: it is reproduced only under a choice the paper does not state (a test
  the Methods do not name, rows left out of a test, a matching caliper, a release date);
- ``"inconsistent"``: no reading of the printed inputs gives the printed number.

Families of checks (the ``check`` field): ``"p-value"`` (categorical p-values recomputed from the
printed counts with the candidate tests of :mod:`psmbook.analysis.association`), ``"percentage"`` (n / N,
rounded half up to one decimal as SPSS prints), ``"hazard ratio"`` (a Wald confidence interval
exp(b ± 1.96 SE) is symmetric about the HR on the log scale, and implies the p-value
2[1 − Φ(|ln HR| / SE)] with SE = (ln high − ln low) / (2 × 1.96)), ``"subgroup total"`` (parts against
their whole), ``"landmark"`` (with follow-up complete past a landmark and nobody lost, a Kaplan–Meier
rate is k/N for a whole k), ``"by construction"`` (numbers no patient-level dataset can have together, found
by the synthetic generator), ``"date"`` and ``"text vs table"`` (the same quantity printed twice). The
``"p-value"`` family also scores one test rule against every printed p (:mod:`psmbook.analysis.paper_rule`).

:func:`run_audit` returns the findings (consistent ones too, so that a reader sees how much was
checked), :func:`audit_table` lays them out, :func:`audit_summary` counts them by check and verdict,
:func:`not_checkable` lists what cannot be checked without the patients' data, and
:func:`provenance_note` states, as context, that the same cohort appears in a second publication."""

from __future__ import annotations

from psmbook.paper.audit.common import ARMS, CHECKS, PERIODS, VERDICTS, Z95, Finding, implied_counts
from psmbook.paper.audit.counts import denominator_id
from psmbook.paper.audit.hazard_ratios import wald_check
from psmbook.paper.audit.report import audit_summary, audit_table, not_checkable, provenance_note, run_audit

__all__ = [
    "denominator_id",
    "CHECKS",
    "VERDICTS",
    "Finding",
    "run_audit",
    "audit_table",
    "audit_summary",
    "not_checkable",
    "provenance_note",
    "wald_check",
    "implied_counts",
    "ARMS",
    "PERIODS",
    "Z95",
]
