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


def test_after_matching_targets_are_read_and_consistent():
    from psmbook.cohort.synthetic.targets import load_targets
    from psmbook.study.published import published_value

    tg = load_targets()
    for a in ("anlotinib", "crt"):
        assert tg.n_after[a] == published_value(f"table1.after.n.{a}")
        for column, levels in tg.table1_after.items():
            assert sum(levels[lv][a] for lv in levels) == tg.n_after[a], column
            assert all(0 <= levels[lv][a] <= tg.table1[column][lv][a] for lv in levels), column
        # the paper's matched arms are all evaluable for response
        assert sum(tg.response_after[a].values()) == published_value(f"table2.after.n.{a}") == tg.n_after[a]
    shown = sum(
        published_value(f"table1.after.previous_treatment.{t}.anlotinib.n")
        for t in ("radiotherapy", "chemotherapy", "chemoradiotherapy")
    )
    assert tg.table1_after["previous_treatment"]["none"]["anlotinib"] == tg.n_after["anlotinib"] - shown  # no row
    assert tg.landmarks_after[("os", "3y", "anlotinib")] == (36, published_value("text.survival.os.after.3y.anlotinib"))
    assert tg.logrank_p[("os", "after")] == published_value("text.survival.os.after.p")
