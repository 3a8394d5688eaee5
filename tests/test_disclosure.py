"""Disclosure control beyond the tables: figures, counts given away by subtraction, results files, the
user's folders and the patients' ids in error messages (issue 17). Each suppression function on its own,
then each figure drawn with ``min_cell`` against the counts behind it."""

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from psmbook.present import privacy  # noqa: E402
from psmbook.study.description import load_study  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GBSG_FILE = ROOT / "examples" / "gbsg2_lymph_node.yaml"
GBSG = load_study(GBSG_FILE)


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def _bars(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


# ----------------------------------------------------------------------------------------------------
# The suppression functions


@pytest.mark.parametrize(
    "part, whole, k, text",
    [(49, 53, 5, "> 48"), (48, 53, 5, "48"), (3, 53, 5, "< 5"), (53, 53, 5, "53"), (0, 53, 5, "0"), (49, 53, 0, "49")],
)
def test_a_count_beside_its_total_hides_a_small_rest(part, whole, k, text):
    # 49 / 53 events would tell 4 censored patients: "> 48" says as much as "< 5" of them
    assert privacy.part_text(part, whole, k) == text


def test_range_text_stands_for_a_total_minus_a_hidden_count():
    assert privacy.range_text(246, 5) == "242–245"  # 246 minus 1 to 4


def test_hidden_cells_suppress_down_each_arm():
    counts = pd.DataFrame({"t": [2, 100, 40], "c": [50, 60, 0]}, index=["a", "b", "d"])
    hidden = privacy.hidden_cells(counts, 5)
    assert hidden["t"].tolist() == [True, False, True]  # 2, and 40 (the next smallest) beside it
    assert not hidden["c"].any()  # 0 reveals no one
    assert not privacy.hidden_cells(counts, 0).to_numpy().any()


@pytest.mark.parametrize("seed", range(20))
def test_merged_histogram_bars_hold_none_or_at_least_min_cell_and_keep_the_total(seed):
    rng = np.random.default_rng(seed)
    counts = rng.choice([0, 0, 1, 2, 3, 6, 20], size=int(rng.integers(1, 30)))
    edges = np.linspace(-3, 3, len(counts) + 1)
    new_edges, new_counts = privacy.merge_small_bins(counts, edges, 5)
    if counts.sum() < 5:
        assert (new_edges, new_counts) == ([], [])
        return
    assert sum(new_counts) == counts.sum()
    assert all(c == 0 or c >= 5 for c in new_counts)
    assert len(new_edges) == len(new_counts) + 1 and new_edges[0] == edges[0] and new_edges[-1] == edges[-1]
    assert set(new_edges) <= set(edges)  # bins merged, never cut
    # each new bar holds exactly the patients of the old bins it spans
    for left, right, n in zip(new_edges, new_edges[1:], new_counts):
        inside = (edges[:-1] >= left) & (edges[1:] <= right)
        assert counts[inside].sum() == n


def test_merge_small_bins_examples():
    assert privacy.merge_small_bins([1, 3, 0, 6, 2, 7], [0, 1, 2, 3, 4, 5, 6], 5) == ([0, 4, 6], [10, 9])
    assert privacy.merge_small_bins([0, 6, 0, 1], [0, 1, 2, 3, 4], 5) == ([0, 1, 4], [0, 7])  # the rest joins
    assert privacy.merge_small_bins([1, 2], [0, 1, 2], 0) == ([0, 1, 2], [1, 2])  # off: as it was
    with pytest.raises(ValueError, match="3 bins need 4 edges"):
        privacy.merge_small_bins([1, 2, 3], [0, 1, 2], 5)


def test_group_sizes():
    assert privacy.group_sizes(53, 5, 200) == 10  # ten groups of at least 5
    assert privacy.group_sizes(5000, 5, 200) == 200
    assert privacy.group_sizes(4, 5, 200) == 0
    assert privacy.group_sizes(4, 0, 200) == 200


def test_results_values_are_what_the_page_prints():
    values = {
        "table1.before.site.a.1.n": 2,
        "table1.before.site.a.1.pct": 0.8,
        "table1.before.site.b.1.n": 180,
        "table1.before.site.b.1.pct": 73.2,
        "table1.before.site.c.1.n": 64,
        "table1.before.site.c.1.pct": 26.0,
        "table1.before.site.a.2.n": 40,
        "table1.before.site.b.2.n": 400,
        "response.before.not_evaluable.1.n": 3,
        "survival.os.after.hr": 0.7,
        "table1.before.site.p": 0.03,
    }
    shown = privacy.public_values(values, 5)
    assert shown["table1.before.site.a.1.n"] == shown["table1.before.site.a.1.pct"] == "< 5"
    # 64 is the next smallest of site in arm 1: the arm's size minus 180 would give the 2 away
    assert shown["table1.before.site.c.1.n"] == shown["table1.before.site.c.1.pct"] == privacy.COMPLEMENT_TEXT
    assert shown["table1.before.site.b.1.n"] == 180 and shown["table1.before.site.a.2.n"] == 40
    assert shown["response.before.not_evaluable.1.n"] == "< 5"
    assert shown["survival.os.after.hr"] == 0.7 and shown["table1.before.site.p"] == 0.03
    assert privacy.public_values(values, 0) == values
    numpy = {"x.n": np.int64(3), "y.n": np.float64(2.0), "z.n": np.bool_(True), "w.n": float("nan")}
    assert privacy.public_values(numpy, 5) == {"x.n": "< 5", "y.n": "< 5", "z.n": True, "w.n": numpy["w.n"]}


def test_results_parameters_name_files_without_their_folders():
    shown = privacy.public_parameters(
        {"data": "/home/ann/hospital/cohort 2024.csv", "study": r"C:\Users\ann\study.yaml", "seed": 5}
    )
    assert shown == {"data": "cohort 2024.csv", "study": "study.yaml", "seed": 5}
    packaged = {"data": "pkg:lifelines/datasets/lymph_node.csv", "study": ""}
    assert privacy.public_parameters(packaged) == packaged


def test_write_results_keeps_no_small_count_and_no_folder(tmp_path):
    from psmbook.book.results import write_results

    path = write_results(
        "cohort",
        {"table1.before.site.a.1.n": 3, "table1.before.n.1": 246},
        parameters={"data": "/secret/place/cohort.csv", "min_cell": 5},
        results_dir=tmp_path,
        min_cell=5,
    )
    text = path.read_text()
    assert "/secret/place" not in text
    payload = json.loads(text)
    assert payload["parameters"]["data"] == "cohort.csv"
    assert payload["values"] == {"table1.before.site.a.1.n": "< 5", "table1.before.n.1": 246}


def test_chapters_are_given_their_files_by_name_inside_the_stage(tmp_path):
    from psmbook.book.pipeline import INPUTS, _link_inputs

    data = tmp_path / "private folder" / "cohort.csv"
    data.parent.mkdir()
    data.write_text("id\n1\n")
    stage = tmp_path / "stage"
    stage.mkdir()
    values = _link_inputs({"data": str(data), "study": "", "seed": 3}, stage)
    assert values == {"data": f"{INPUTS}/data/cohort.csv", "study": "", "seed": 3}
    assert (stage / values["data"]).read_text() == "id\n1\n"  # the chapters run in the stage
    assert _link_inputs({"data": "pkg:lifelines/datasets/lymph_node.csv"}, stage)["data"].startswith("pkg:")


# ----------------------------------------------------------------------------------------------------
# Patient ids: in the local report only


def _bad_cohort(tmp_path):
    from psmbook.cohort import reading

    data = pd.read_csv(reading.resolve_data_path("pkg:lifelines/datasets/lymph_node.csv"))
    data["id"] = [f"PX-{7_300_000 + 17 * i}" for i in range(len(data))]
    data.loc[[3, 8], "age"] = [-4, 212]  # out of the bins
    data.loc[20, "id"] = data.loc[21, "id"]  # one id twice
    path = tmp_path / "cohort.csv"
    data.to_csv(path, index=False)
    return data, path


def test_an_error_message_loses_the_ids_and_keeps_the_rows(tmp_path):
    from psmbook.cohort import protocol
    from psmbook.cohort.validation import DataError

    data, path = _bad_cohort(tmp_path)
    with pytest.raises(DataError) as caught:
        protocol.load_cohort(path, GBSG)
    full = str(caught.value)
    named = [pid for pid in data["id"] if pid in full]
    assert data.loc[3, "id"] in named and data.loc[21, "id"] in named  # the full report names them
    assert caught.value.id_column == "id"
    summary = privacy.without_ids(full, caught.value.id_column)
    assert not [pid for pid in data["id"] if pid in summary]
    assert "rows 4, 9" in summary and "rows 21, 22" in summary  # where to look in the file stays


def test_without_ids_patterns():
    text = (
        "column 'id' (patient id): 2 ids on more than one row: 'A-1' (rows 3, 4); \"B'2\" (rows 5, 6); fix\n"
        "column 'age': 2 patients out of range at rows 3, 7 (id A-12, A-19); expected\n"
        "columns 'id' and 'type': more than one row of one event type: 'A-9', type 'death' (rows 8, 9); one"
    )
    assert privacy.without_ids(text, "id") == (
        "column 'id' (patient id): 2 ids on more than one row: a patient (rows 3, 4); a patient (rows 5, 6); fix\n"
        "column 'age': 2 patients out of range at rows 3, 7; expected\n"
        "columns 'id' and 'type': more than one row of one event type: a patient, type 'death' (rows 8, 9); one"
    )


@pytest.mark.parametrize("command", ["match", "build"])
def test_the_terminal_gets_no_patient_id_and_the_local_report_all(command, tmp_path, monkeypatch, capsys):
    from psmbook import cli

    data, path = _bad_cohort(tmp_path)
    monkeypatch.setattr(cli, "ERROR_REPORT", tmp_path / ".build" / "data-problems.txt")  # not the project's
    if command == "match":
        argv = ["match", "--data", str(path), "--study", str(GBSG_FILE), "--out", str(tmp_path / "matched.csv")]
    else:
        argv = ["build", "-p", f"data={path}", "-p", f"study={GBSG_FILE}", "--out", str(tmp_path / "book")]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 1 and "rows 4, 9" in err
    assert not [pid for pid in data["id"] if pid in err]
    report = cli.ERROR_REPORT.read_text()
    assert data.loc[3, "id"] in report and data.loc[21, "id"] in report
    assert str(cli.ERROR_REPORT.resolve()) in err  # the terminal says where the report is


# ----------------------------------------------------------------------------------------------------
# Figures


def _gbsg_like(n=400, seed=4):
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.4
    frame = pd.DataFrame(
        {
            "hormone": np.where(treated, "2", "1"),
            "grade": rng.choice(["1", "2", "3"], size=n, p=[0.2, 0.5, 0.3]),
            "menopause": rng.choice(["1", "2"], size=n),
        }
    )
    frame.loc[np.flatnonzero(treated)[:2], "grade"] = "1"
    frame.loc[frame.index[treated][2:], "grade"] = frame.loc[frame.index[treated][2:], "grade"].replace("1", "2")
    return frame


def test_arm_difference_bars_hide_small_shares_and_their_complement():
    from psmbook.analysis import characteristics

    cohort = _gbsg_like()
    rows = pd.DataFrame({"variable": ["grade", "menopause"], "test": ["x", "x"], "p": [0.01, 0.5]})
    treated = cohort["hormone"] == "2"
    assert (cohort.loc[treated, "grade"] == "1").sum() == 2  # 2 treated patients of grade I
    fig = characteristics.plot_arm_differences(cohort, rows, GBSG, n=1, min_cell=5)
    heights = [b.get_height() for b in _bars(fig.axes[0])]
    shares = pd.crosstab(cohort["grade"], cohort["hormone"], normalize="columns") * 100
    assert shares.loc["1", "2"] not in heights  # the 2 patients' share is not drawn ...
    assert shares.loc["3", "2"] not in heights  # ... nor the smallest other level of the arm (= 100 - the rest)
    assert shares.loc["2", "2"] in heights and shares.loc["1", "1"] in heights
    assert "< 5" in _texts(fig) and privacy.COMPLEMENT_TEXT in _texts(fig)
    plt.close(fig)
    fig = characteristics.plot_arm_differences(cohort, rows, GBSG, n=1)  # off: every share drawn
    assert shares.loc["1", "2"] in [b.get_height() for b in _bars(fig.axes[0])] and "< 5" not in _texts(fig)
    plt.close(fig)


def test_score_histogram_bars_hold_no_fewer_than_min_cell_patients():
    from psmbook.matching.balance import overlap_plot

    rng = np.random.default_rng(2)
    logit = pd.Series(np.concatenate([rng.normal(0.5, 1, 80), rng.normal(-0.5, 1, 160), [6.0, -6.0]]))
    treated = pd.Series([True] * 80 + [False] * 160 + [True, False])
    matched = pd.Series(rng.random(len(logit)) < 0.6)
    fig = overlap_plot(logit, treated, matched, colours=("r", "b"), labels=("T", "C"), min_cell=5)
    width = (logit.max() - logit.min()) / 24
    for ax, keep in zip(fig.axes, (pd.Series(True, index=logit.index), matched)):
        for arm, sign in ((treated, 1), (~treated, -1)):
            bars = [b for b in _bars(ax) if np.sign(b.get_height()) == sign]
            patients = [abs(b.get_height()) * b.get_width() / width for b in bars]
            assert all(p < 1e-9 or p > 5 - 1e-9 for p in patients)  # none of 1 to 4
            assert sum(patients) == pytest.approx((arm & keep).sum())  # every patient in some bar
    assert any("merged" in t for t in _texts(fig))
    plt.close(fig)
    fig = overlap_plot(logit, treated, matched, colours=("r", "b"), labels=("T", "C"))
    assert 1 in [b.get_height() for b in _bars(fig.axes[0])]  # off: the lone patient at 6.0 is a bar of 1
    plt.close(fig)


def test_schoenfeld_dots_are_means_of_at_least_min_cell_events():
    from matplotlib.collections import PathCollection

    from psmbook.analysis import survival
    from psmbook.analysis.survival.factors import Factor

    rng = np.random.default_rng(1)
    n = 123
    x = rng.integers(0, 2, n)
    data = pd.DataFrame({"arm": np.where(x == 1, "b", "a"), "t": rng.exponential(1 / np.exp(0.5 * x)), "e": 1})
    data.loc[:10, "e"] = 0
    model = survival.cox_multivariable(data, [Factor("arm", "Arm", "a", {"a": "A", "b": "B"})], "t", "e")
    events = int(data["e"].sum())
    fig = survival.plot_schoenfeld(model, min_cell=5)
    dots = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(dots) == 1 and len(dots[0].get_offsets()) == events // 5  # bins of 5 or more events
    residuals = model.fitter.compute_residuals(model.data, kind="scaled_schoenfeld")["arm.b"]
    beta = float(model.fitter.params_["arm.b"])
    assert not set(np.round(dots[0].get_offsets()[:, 1], 9)) & set(np.round(residuals + beta, 9))  # no own dot
    assert "means of bins of ≥ 5 events" in fig.get_supxlabel()  # one rank axis, labelled below the panels
    plt.close(fig)
    fig = survival.plot_schoenfeld(model, min_cell=100)  # too few events for two bins: a sentence instead
    assert all(len(c.get_offsets()) == 0 for c in fig.axes[0].collections if isinstance(c, PathCollection))
    assert "fewer than 200 events: not drawn" in _texts(fig)
    plt.close(fig)
    fig = survival.plot_schoenfeld(model)  # off: one dot per event, as cox.zph plots them
    assert len([c for c in fig.axes[0].collections if isinstance(c, PathCollection)][0].get_offsets()) == events
    plt.close(fig)


def test_toxicity_bars_of_small_counts_are_not_drawn():
    from psmbook.analysis import toxicity

    rows = pd.DataFrame(
        {
            "label": ["Fatigue", "Neutropenia"],
            "n_treated": [3, 25],
            "pct_treated": [1.2, 10.2],
            "n_control": [0, 71],
            "pct_control": [0.0, 16.1],
        }
    )
    fig = toxicity.plot_grade34(rows, GBSG, title="t", min_cell=5)
    widths = [abs(b.get_width()) for b in _bars(fig.axes[0])]
    assert 1.2 not in widths and 10.2 in widths and 16.1 in widths
    texts = _texts(fig)
    assert "< 5" in texts and "1.2" not in texts and "0.0" in texts  # 0 reveals no one
    plt.close(fig)


def _response_rows(ne_treated: int):
    import yaml

    from psmbook.analysis import response
    from psmbook.study.description import study_from_dict

    raw = yaml.safe_load(GBSG_FILE.read_text())
    raw["response"] = {
        "column": "best",
        "levels": {"good": "Good", "partial": "Partial", "none": "None", "ne": "Not evaluable"},
        "objective": ["good", "partial"],
        "not_evaluable": "ne",
    }
    study = study_from_dict(raw)
    best = ["good"] * 60 + ["partial"] * 100 + ["none"] * 40 + ["ne"] * ne_treated
    best += ["good"] * 90 + ["partial"] * 150 + ["none"] * 3 + ["ne"] * 10
    arm = ["2"] * (200 + ne_treated) + ["1"] * 253
    frame = pd.DataFrame({"hormone": arm, "best": best})
    return study, response.response_table(frame, study, period="before", test="rule")


def test_a_small_not_evaluable_count_hides_the_evaluable_patients_everywhere():
    from psmbook.analysis import response, response_prose

    study, rows = _response_rows(ne_treated=2)
    table = response.table2_display(rows, None, study=study, show_test=False, min_cell=5, computed_label="")
    treated = table.iloc[:, 0].tolist()
    assert treated[0] == "198–201"  # the 200 evaluable of an arm of 202, with 2 not evaluable
    assert "200" not in " ".join(map(str, treated)) and not any("%" in str(c) for c in treated)
    # the levels would add up to the evaluable patients: the smallest (40) is hidden too, and so is no ORR
    assert treated[1:4] == ["60", "100", privacy.COMPLEMENT_TEXT] and treated[4] == "160"
    control = table.iloc[:, 1].tolist()
    assert control[0] == "243" and control[3] == "< 5" and control[1] == privacy.COMPLEMENT_TEXT
    values = response_prose.response_values({"before": rows, "after": rows}, {}, study, min_cell=5)
    assert values["table2.before.n.2"] == "198–201" and values["table2.before.none.2.n"] == privacy.COMPLEMENT_TEXT
    assert values["table2.before.good.2.pct"] is None and values["table2.before.good.2.n"] == 60
    numbers = response_prose.study_table2_numbers({"before": rows, "after": rows}, study, min_cell=5)
    assert "80.0%" not in numbers["orr_text"] and "not shown" in numbers["orr_text"]
    fig = response.plot_response({"Before matching": rows}, study, min_cell=5)
    texts = _texts(fig)
    assert "n = 198–201" in " ".join(texts) and any("not evaluable" in t for t in texts)
    assert "30%" not in texts and "50%" not in texts  # the treated arm's shares are not drawn
    plt.close(fig)
    _, plain = _response_rows(ne_treated=12)  # enough not evaluable: nothing more hidden
    table = response.table2_display(plain, None, study=study, show_test=False, min_cell=5, computed_label="")
    assert table.iloc[0, 0] == "200" and table.iloc[1, 0] == "60 (30.0%)"


def test_the_flow_diagram_gives_no_small_count_away():
    from psmbook.cohort import flow

    screening = flow.Screening(700, (flow.Exclusion("age < 18", 3), flow.Exclusion("no treatment", 12, missing=10)))
    assert screening.lines(5) == ["age < 18: < 5", f"no treatment: {privacy.COMPLEMENT_TEXT}"]
    assert screening.screened_text(5) == 700  # 15 excluded: shown
    alone = flow.Screening(689, (flow.Exclusion("age < 18", 3),))
    assert alone.screened_text(5) == "687–690" and alone.numbers(5)["n_screened"] == "687–690"
    assert alone.values(5)["flow.screened.n"] == "687–690"  # the matching chapter's diagram reads this
    missing = flow.Screening(700, (flow.Exclusion("age < 18", 12, missing=9), flow.Exclusion("x", 30)))
    assert missing.lines(5)[0] == "age < 18: 12"  # 9 not recorded would tell 3 recorded under 18
    arm = flow.ArmFlow("Hormonal therapy", 246, 2, "not evaluable")
    fig = flow.plot_patient_flow(686, arm, arm, screened="687–690", excluded=alone.lines(5), min_cell=5)
    text = " ".join(_texts(fig))
    assert "n = 242–245" in text and "< 5 not evaluable" in text and "244" not in text
    assert "n = 687–690" in text and "Excluded\n" in text
    plt.close(fig)


def test_events_out_of_patients_hide_a_small_number_censored():
    from psmbook.analysis.km import fit_by_arm
    from psmbook.analysis.survival import km_report

    frame = pd.DataFrame({"hormone": ["2"] * 53 + ["1"] * 60, "t": np.arange(113) + 1.0})
    frame["e"] = [1] * 49 + [0] * 4 + [1] * 30 + [0] * 30
    fits = {e: {p: fit_by_arm(frame, GBSG, "t", "e") for p in ("before", "after")} for e in GBSG.endpoints}
    rows = km_report.median_rows(fits, GBSG, min_cell=5)
    shown = set(zip(rows["Arm"], rows["Events / patients"]))
    assert shown == {("Hormonal therapy", "> 48 / 53"), ("No hormonal therapy", "30 / 60")}  # 4 censored: hidden
    rows = km_report.median_rows(fits, GBSG)
    assert set(rows["Events / patients"]) == {"49 / 53", "30 / 60"}


def test_default_plots_are_unchanged_without_min_cell():
    """min_cell off (the synthetic cohort): the figures draw every count as before."""
    from psmbook.analysis import toxicity

    rows = pd.DataFrame(
        {"label": ["Fatigue"], "n_treated": [3], "pct_treated": [1.2], "n_control": [1], "pct_control": [0.4]}
    )
    fig = toxicity.plot_grade34(rows, GBSG, title="t")
    assert {"1.2", "0.4"} <= set(_texts(fig))
    plt.close(fig)
    assert re.fullmatch(r"\d+", privacy.part_text(49, 53, 0))


def _toxicity():
    from psmbook.analysis import toxicity
    from psmbook.study.description import study_from_dict
    from test_own_study_book import own_study

    study = study_from_dict(own_study())
    frame = pd.DataFrame({"hormone": ["2"] * 100 + ["1"] * 120})
    frame["g34_neutropenia"] = [True] * 25 + [False] * 75 + [True] * 30 + [False] * 90
    frame["g34_fatigue"] = [0] * 25 + [1] * 2 + [0] * 73 + [1] * 10 + [0] * 110  # treated: 2 with fatigue alone
    frame["died_on_treatment"] = False
    return study, toxicity.grade34_table(frame, study)


def test_any_event_minus_one_event_gives_no_small_count_away():
    from psmbook.analysis import toxicity

    study, severe = _toxicity()
    assert severe.at["any_grade3_4", "n_treated"] == 27 and severe.at["neutropenia", "n_treated"] == 25
    assert toxicity.overall_hidden(severe, "treated", 5) and not toxicity.overall_hidden(severe, "control", 5)
    table = toxicity.grade34_display(severe, study, min_cell=5, computed_label="")
    treated, control = table.iloc[:, 0], table.iloc[:, 1]
    assert treated.iloc[-1] == privacy.COMPLEMENT_TEXT and treated.iloc[0] == "25 (25.0%)"  # 27 - 25 = 2: hidden
    assert control.iloc[-1] == "30 (25.0%)"  # 30 - 30 = 0, 30 - 10 = 20: shown
    numbers = toxicity.grade34_numbers(severe, min_cell=5)
    assert "27.0%" not in numbers["g34_treated"] and numbers["g34_control"] == "25.0%"
    fig = toxicity.plot_grade34(severe, study, title="t", min_cell=5)
    assert "27.0" not in _texts(fig) and 27.0 not in [abs(b.get_width()) for b in _bars(fig.axes[0])]
    plt.close(fig)
    values = toxicity.toxicity_values(severe, pd.DataFrame(), None, severe, study, min_cell=5)
    assert values["toxicity.g34_overall.2.n"] == privacy.COMPLEMENT_TEXT and values["toxicity.g34_overall.1.n"] == 30
    assert toxicity.grade34_display(severe, study, computed_label="").iloc[-1, 0] == "27 (27.0%)"  # off


def test_dose_reductions_by_reason_protect_each_other():
    from psmbook.analysis import toxicity

    exposure = {
        "reductions": pd.Series({"hypertension": 2, "hand_foot": 9, "fatigue": 30}),
        "any_event": 50,
        "treated": 100,
        "any_event_pct": 50.0,
        "mild_pct": 80.0,
    }
    numbers = toxicity.drug_numbers(exposure, load_study(GBSG_FILE), min_cell=5)
    assert numbers["reductions"] == f"< 5 for hypertension, {privacy.COMPLEMENT_TEXT} for hand-foot, 30 for fatigue"
    assert numbers["n_reduced"] == 41
    few = dict(exposure, reductions=pd.Series({"hypertension": 3}))
    assert toxicity.drug_numbers(few, load_study(GBSG_FILE), min_cell=5)["n_reduced"] == "< 5"


def test_balance_statistics_of_a_covariate_with_a_small_level_are_blank():
    from psmbook.matching import report

    cohort = _gbsg_like()
    treated_grade1 = cohort.index[(cohort["hormone"] == "2") & (cohort["grade"] == "1")]
    matched = cohort.drop(index=treated_grade1[:2])  # after matching: no treated patient of grade I
    rows = ["grade=1", "grade=2", "grade=3", "menopause=1", "menopause=2", "logit_ps"]
    table = pd.DataFrame(
        {
            "mean_treated_before": np.linspace(0.1, 0.6, 6),
            "smd_before": np.linspace(-0.3, 0.2, 6),
            "smd_after": np.linspace(-0.1, 0.05, 6),
            "balanced_after": [True] * 6,
        },
        index=rows,
    )
    shown = report.balance_shown(table, cohort, matched, GBSG, 5)
    # 2 treated of grade I: a level's share of the arm (its mean), its SMD, would give them away
    assert shown.loc[rows[:3], ["mean_treated_before", "smd_before"]].isna().all().all()
    assert shown.loc[rows[:3], "smd_after"].notna().all()  # none of grade I matched: 0 reveals no one
    assert shown.loc[rows[3:]].equals(table.loc[rows[3:]])  # other covariates, and the score, as they were
    assert shown["balanced_after"].all()  # the verdicts stay
    assert report.balance_shown(table, cohort, matched, GBSG, 0) is table


def test_kaplan_meier_curves_stop_where_fewer_than_min_cell_are_at_risk():
    from psmbook.analysis.km import fit_by_arm, last_time_at_risk, plot_by_arm

    frame = pd.DataFrame({"hormone": ["2"] * 30 + ["1"] * 30, "t": np.tile(np.arange(1.0, 31.0), 2), "e": 1})
    fits = fit_by_arm(frame, GBSG, "t", "e")
    assert last_time_at_risk(fits["2"], 5) == 26.0  # 5 at risk at 26 (26..30), 4 at 27
    assert last_time_at_risk(fits["2"], 31) == 0.0
    fig, ax = plt.subplots()
    plot_by_arm(ax, fits, GBSG, ylabel="S", xmax=30, xticks=[0, 10, 20, 30], min_cell=5)
    ends = [float(np.max(line.get_xdata())) for line in ax.get_lines() if len(line.get_xdata()) > 1]
    assert ends and max(ends) <= 26.0  # the last steps, each one of 4 patients' deaths, are not drawn
    plt.close(fig)
    fig, ax = plt.subplots()
    plot_by_arm(ax, fits, GBSG, ylabel="S", xmax=30, xticks=[0, 10, 20, 30])
    assert max(float(np.max(line.get_xdata())) for line in ax.get_lines() if len(line.get_xdata()) > 1) == 30.0
    plt.close(fig)


def test_event_coding_counts_add_up_to_the_arm_so_a_lone_small_one_takes_another_with_it(tmp_path):
    from psmbook.cohort.protocol import apply_protocol, event_coding_table
    from test_protocol import CODED, frame, study

    s = study(tmp_path, base=CODED)
    status = [2, 2, 2, 2, 2, 2, 0, 2, 0, 2, 1, 2]  # treated (even rows): 3 deaths, 2 censored, 1 transplant
    data = frame(12, t=np.arange(1.0, 13), status=status).drop(columns=["os_t", "os_e"])
    table = event_coding_table(apply_protocol(data, s), s, min_cell=2)
    assert list(table.loc["death", "t"]) == ["3", privacy.COMPLEMENT_TEXT, "< 2"]  # 6 - 3 - 2 would tell the 1
    assert list(table.loc["death", "c"]) == ["6", "0", "0"]
