"""Tests of psmbook.present.format: every number's format in one place."""

import math

from psmbook.present.format import format_p, hr_ci_p_text, hr_ci_text, p_statement


def test_p_values_print_as_the_paper_prints_them():
    assert format_p(0.02567) == "0.026" and format_p(0.0004) == "<0.001" and format_p(1.0) == "1.000"
    assert format_p(float("nan")) == "–" and format_p(None) == "–" and format_p(0.04, 2) == "0.04"
    assert p_statement(0.0004) == "p < 0.001" and p_statement(0.0426) == "p = 0.043"


def test_hazard_ratios_with_their_limits():
    assert hr_ci_text(0.6789, 0.4681, 0.9851) == "0.679 (0.468–0.985)"
    assert hr_ci_text(0.6789, 0.4681, 0.9851, nowrap=True) == "0.679\u00a0(0.468–\u20600.985)"
    assert hr_ci_p_text(0.6789, 0.4681, 0.9851, 0.042) == "0.679 (95% CI 0.468–0.985, p = 0.042)"
    assert hr_ci_p_text(0.6789, 0.4681, 0.9851, digits=2) == "0.68 (95% CI 0.47–0.99)"
    assert not math.isnan(float(hr_ci_text(1.0, 0.5, 2.0).split()[0]))
