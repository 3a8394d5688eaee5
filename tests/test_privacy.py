"""Small-cell suppression in published tables and under Kaplan–Meier plots."""

import matplotlib

matplotlib.use("Agg")
import pandas as pd
import pytest

from psmbook.analysis import tables
from psmbook.present import privacy
from psmbook.study.description import load_study

PAPER = load_study()
GBSG = load_study("examples/gbsg2_lymph_node.yaml")


def test_threshold_is_off_for_synthetic_data_and_checked():
    assert privacy.effective_min_cell(PAPER, 5) == 0
    assert privacy.effective_min_cell(GBSG, 5) == 5
    with pytest.raises(ValueError, match="min_cell"):
        privacy.effective_min_cell(GBSG, -1)


@pytest.mark.parametrize("n, k, text", [(0, 5, "0"), (1, 5, "< 5"), (4, 5, "< 5"), (5, 5, "5"), (3, 0, "3")])
def test_count_text(n, k, text):
    assert privacy.count_text(n, k) == text


def test_n_pct_hides_the_percentage_of_a_suppressed_count():
    assert privacy.n_pct_text(3, 4.1, 5) == "< 5"
    assert privacy.n_pct_text(47, 61.84, 5) == "47 (61.8%)"
    assert privacy.n_pct_text(float("nan"), None, 5) == ""


def test_table1_suppresses_small_cells_and_their_complement():
    rows = pd.DataFrame(
        {
            "variable": ["x", "x", "y", "y", "y"],
            "level": ["a", "b", "c", "d", "e"],
            "n_treated": [3, 73, 2, 1, 73],
            "n_control": [100, 115, 80, 60, 75],
        }
    )
    hidden = tables.suppression_mask(rows, "n_treated", 5)
    # x: 3 is small and alone, so 73 (= 76 - 3) is hidden too; y: two small cells protect each other
    assert hidden.tolist() == [True, True, True, True, False]
    assert not tables.suppression_mask(rows, "n_control", 5).any()
    assert not tables.suppression_mask(rows, "n_treated", 0).any()


def test_numbers_at_risk_below_min_cell_are_hidden():
    import matplotlib.pyplot as plt

    from psmbook.analysis.km import fit_by_arm, plot_by_arm

    df = pd.DataFrame({"hormone": ["2"] * 6 + ["1"] * 6, "t": [1, 2, 3, 4, 5, 6] * 2, "e": [1] * 12})
    fig, ax = plt.subplots()
    plot_by_arm(ax, fit_by_arm(df, GBSG, "t", "e"), GBSG, ylabel="S", xmax=6, xticks=[0, 3, 6], min_cell=5)
    labels = " ".join(t.get_text() for extra in fig.axes[1:] for t in extra.get_xticklabels())
    assert "<5" in labels and "6" in labels  # 6 at risk at time 0 shown, 3 and 0 ...
    assert "\n3" not in labels  # ... 3 at risk hidden
    plt.close(fig)


def test_complementary_mask_by_group():
    # a: 2 is small and alone, so the next smallest of its group (10, not 40) goes too; b: nothing small
    hidden = privacy.complementary_mask([2, 40, 10, 30, 0], ["a", "a", "a", "b", "b"], 5)
    assert hidden == [True, False, True, False, False]
    # two small counts in a group protect each other; a group of one has nothing to protect it with
    assert privacy.complementary_mask([1, 4, 50, 3], ["a", "a", "a", "b"], 5) == [True, True, False, True]
    assert privacy.complementary_mask([2, 40], ["a", "a"], 0) == [False, False]
    with pytest.raises(ValueError, match="2 counts but 1 group"):
        privacy.complementary_mask([2, 40], ["a"], 5)


def test_n_pct_cells_print_suppressed_and_complementary_cells_apart():
    cells = privacy.n_pct_cells([2, 10, 64], [2.6, 13.2, 84.2], [True, True, False], 5)
    assert cells == ["< 5", privacy.COMPLEMENT_TEXT, "64 (84.2%)"]
