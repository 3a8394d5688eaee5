"""Published percentages back to counts (cohort.synthetic.targets.count_from_pct, used by the calibration)."""

from __future__ import annotations

import pytest

from psmbook.cohort.synthetic.targets import count_from_pct


@pytest.mark.parametrize(
    ("pct", "n", "count"),
    [(33.3, 3, 1), (66.7, 3, 2), (16.7, 6, 1), (12.5, 8, 1), (0.0, 40, 0), (100.0, 40, 40), (42.9, 35, 15)],
)
def test_the_unique_count_behind_a_printed_percentage(pct, n, count):
    assert count_from_pct(pct, n, "x") == count


def test_half_up_rounding_to_one_decimal():
    # 1/8 = 12.5 % exactly; 1/16 = 6.25 % prints as 6.3 (half up), not 6.2
    assert count_from_pct(6.3, 16, "x") == 1
    with pytest.raises(ValueError):
        count_from_pct(6.2, 16, "x")


def test_no_or_several_counts_are_refused_by_name():
    with pytest.raises(ValueError, match=r"odd: 50.0% of 1 is not a unique count \(\[\]\)"):
        count_from_pct(50.0, 1, "odd")
    with pytest.raises(ValueError, match=r"wide: 0.1% of 2000 is not a unique count \(\[1, 2\]\)"):
        count_from_pct(0.1, 2000, "wide")
