"""Downloads of every figure (SVG, PDF) and table (CSV) a chapter shows, and its long tables made interactive."""

import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from psmbook.analysis import tables
from psmbook.cohort import reading, validation
from psmbook.present import downloads
from psmbook.study.description import load_study

GBSG = load_study("examples/gbsg2_lymph_node.yaml")


def _figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [1, 0.6, 0.4], label="arm")
    ax.set_title("Overall survival — treated")
    ax.legend()
    return fig


def test_a_figure_is_saved_as_svg_and_pdf_identically_every_time(tmp_path):
    fig = _figure()
    first = downloads.save_figure(fig, tmp_path / "a" / "survival-figure-1")
    second = downloads.save_figure(fig, tmp_path / "b" / "survival-figure-1")
    plt.close(fig)
    assert [p.name for p in first] == ["survival-figure-1.svg", "survival-figure-1.pdf"]
    for one, two in zip(first, second):
        assert one.read_bytes() == two.read_bytes(), one.name  # no date, no random ids
    svg, pdf = (p.read_bytes() for p in first)
    assert svg.startswith(b"<?xml") and b"<dc:date>" not in svg and b"Overall survival" in svg
    assert pdf.startswith(b"%PDF") and b"/CreationDate" not in pdf


def test_a_styler_downloads_as_displayed_without_its_hidden_parts():
    counts = pd.DataFrame({"n": [3, 40], "secret": [1, 2]}, index=pd.Index(["a", "b"], name="level"))
    styler = counts.style.format({"n": lambda v: "< 5" if 0 < v < 5 else str(v)}).hide(["secret"], axis="columns")
    shown, with_index = downloads.displayed_frame(styler)
    assert shown["n"].tolist() == ["< 5", "40"] and list(shown.columns) == ["n"] and with_index
    shown, with_index = downloads.displayed_frame(styler.hide(axis="index"))
    assert not with_index and shown["n"].tolist() == ["< 5", "40"]
    plain, with_index = downloads.displayed_frame(pd.DataFrame({"x": [1]}))
    assert not with_index  # a bare 0..n-1 index is not part of the table


def test_a_styler_with_line_breaks_is_refused_not_garbled():
    with pytest.raises(ValueError, match="line breaks"):
        downloads.displayed_frame(pd.DataFrame({"x": ["one\ntwo"]}).style)
    with pytest.raises(TypeError, match="DataFrame or Styler"):
        downloads.displayed_frame([1, 2])


def test_a_real_cohort_table_downloads_with_its_small_cells_suppressed(tmp_path):
    cohort = validation.prepare_cohort(reading.read_data("pkg:lifelines/datasets/lymph_node.csv"), GBSG)
    rows = tables.table1_before(cohort, GBSG)
    shown = tables.table1_display(rows, study=GBSG, min_cell=40, computed_label="")
    book = downloads.Downloads("cohort", tmp_path)
    page_html = book.table_html(shown)
    csv = (tmp_path / downloads.DOWNLOADS / "cohort-table-1.csv").read_text()
    cells = [c.strip('"') for line in csv.splitlines() for c in line.split(",")]
    assert "< 40" in cells  # the displayed text, not the count behind it
    small = [c for c in cells if re.fullmatch(r"\d+ \(.*", c) and 0 < int(c.split()[0]) < 40]
    assert not small, f"counts below min_cell in the download: {small}"
    raw = [n for col in rows.columns if col.startswith("n_") for n in rows[col].dropna() if 0 < n < 40]
    assert raw, "the test needs a table with small counts to hide"
    assert 'href="_static/downloads/cohort-table-1.csv"' in page_html


def test_long_flat_tables_are_interactive_with_every_row_and_short_ones_stay_plain(tmp_path):
    book = downloads.Downloads("discussion", tmp_path)
    n = downloads.LONG_TABLE_ROWS + 5
    long = pd.DataFrame({"value": range(n), "where": [f"row {i}" for i in range(n)]}, index=pd.Index(
        [f"id.{i}" for i in range(n)], name="id"))  # fmt: skip
    page_html = book.table_html(long)
    assert downloads.LONG_TABLE_CLASS in page_html and 'id="discussion-table-1"' in page_html
    options = json.loads(re.search(r"new ITable\(table, (\{.*\})\);", page_html).group(1))
    data = json.loads(options["data_json"])
    assert len(data) == n and data[-1][0] == f"id.{n - 1}"  # every row, the index shown
    assert options["pageLength"] == -1 and options["scrollX"]  # all on one page, scrolled sideways if wide
    static = page_html.split('<table id="discussion-table-1"')[0]
    assert static.count("<tr") == n + 2  # the full static table, for print and a live notebook (2 header rows)
    assert len((tmp_path / downloads.DOWNLOADS / "discussion-table-1.csv").read_text().splitlines()) == n + 1

    short = book.table_html(long.head(3))
    assert downloads.LONG_TABLE_CLASS not in short and "discussion-table-2.csv" in short
    grouped = long.set_index("where", append=True)  # two index levels: a layout, not sorted
    assert downloads.LONG_TABLE_CLASS not in book.table_html(grouped)
    hidden_index = book.table_html(long.reset_index(drop=True).style.hide(axis="index"))
    assert downloads.LONG_TABLE_CLASS in hidden_index and '"showIndex": false' not in hidden_index
    options = json.loads(re.search(r"new ITable\(table, (\{.*\})\);", hidden_index).group(1))
    assert len(json.loads(options["data_json"])[0]) == 2  # the Styler's index stays hidden


def test_enable_does_nothing_outside_ipython(monkeypatch):
    assert downloads.enable("cohort", ".") is None


def test_a_chapter_kernel_saves_and_links_every_figure_and_table(tmp_path):
    """The hooks as a chapter meets them: a real kernel, the inline backend, plt.show(), displayed tables."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    cells = [
        "import matplotlib.pyplot as plt\nimport pandas as pd\nfrom psmbook.present import downloads\n"
        "_ = downloads.enable('demo', '.')",
        "fig, ax = plt.subplots()\nax.plot([1, 2])\nplt.show()",
        "fig, ax = plt.subplots()\nax.bar([1, 2], [3, 4])",  # shown when the cell ends
        "pd.DataFrame({'n': ['< 5', '12']}, index=pd.Index(['a', 'b'], name='level'))",
        "from myst_nb import glue\nglue('counts', pd.DataFrame({'n': [7]}), display=False)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}, timeout=120).execute()
    for number, cell in ((1, nb.cells[1]), (2, nb.cells[2])):
        shown = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        kinds = [next(k for k in ("image/png", "text/html", "text/plain") if k in o.get("data", {})) for o in shown]
        assert kinds[-2:] == ["image/png", "text/html"], kinds  # the links right below the figure
        links = shown[-1]["data"]["text/html"]
        assert f"demo-figure-{number}.svg" in links and f"demo-figure-{number}.pdf" in links
    assert not [o for c in nb.cells for o in c.outputs if o.output_type in ("error", "stream")]
    table = nb.cells[3].outputs[0]["data"]["text/html"]
    assert "&lt; 5" in table and "demo-table-1.csv" in table
    glued = nb.cells[4].outputs[0]["data"]["application/papermill.record/text/html"]
    assert "demo-table-2.csv" in glued
    folder = tmp_path / downloads.DOWNLOADS
    assert sorted(p.name for p in folder.iterdir()) == [
        "demo-figure-1.pdf", "demo-figure-1.svg", "demo-figure-2.pdf", "demo-figure-2.svg",
        "demo-table-1.csv", "demo-table-2.csv",
    ]  # fmt: skip
    assert (folder / "demo-table-1.csv").read_text() == "level,n\na,< 5\nb,12\n"


def test_a_styler_renders_with_the_same_ids_every_time(tmp_path):
    """pandas gives each Styler a random id; the page would change between identical builds."""
    frame = pd.DataFrame({"odds ratio": [1.5, 0.7]}, index=["a", "b"])
    pages = [downloads.Downloads("matching", tmp_path / str(i)).table_html(frame.style) for i in range(2)]
    assert pages[0] == pages[1]
    assert 'id="T_matching-table-1"' in pages[0]


def test_a_styler_plain_text_form_holds_no_memory_address(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    downloads.enable("matching", tmp_path, shell=shell)
    bundle, _ = shell.display_formatter.format(pd.DataFrame({"x": [1]}).style)
    assert bundle["text/plain"] == "<table>"
