"""Every figure downloadable as SVG and PDF, every table as CSV, from the page that shows it.

:func:`enable` (called by :func:`psmbook.book.chapter.setup_chapter`) hooks into IPython's display, so
the chapters need no code of their own: a matplotlib figure, when it is shown, is saved as
``<chapter>-figure-<n>.svg`` and ``.pdf``, its links shown below it when its cell ends; a table (a pandas DataFrame or
Styler), when it is displayed, is saved as ``<chapter>-table-<n>.csv`` **as displayed** (after small-cell
suppression, never the data behind it) and its HTML carries the link. A long table with one header row
and one index level becomes interactive (sortable, searchable; ITables, served with the site, no network).

The files land in ``_static/downloads/`` beside the chapter, hence in the built site; file names follow the
order of display, and the SVG and PDF carry no date and a fixed hash salt, so identical builds give
identical files.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from pandas.io.formats.style import Styler

#: Where the files go, relative to the chapter's folder (the book's source folder); also their URL.
DOWNLOADS = "_static/downloads"
#: A table with more rows than this (one header row, one index level) is shown interactive.
LONG_TABLE_ROWS = 20
#: An interactive table shows all its rows up to this many, and 25 to a page beyond.
ONE_PAGE_ROWS = 100
#: Formats every figure is saved in, with the metadata that keeps the files free of dates.
FIGURE_METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}
#: Matplotlib's SVG ids are random unless salted.
SVG_HASH_SALT = "psmbook"
#: The class of an interactive table's wrapper; the site loads the table library on pages holding one.
LONG_TABLE_CLASS = "psmbook-long-table"
#: The class of the download links.
LINKS_CLASS = "psmbook-downloads"
#: The global the site's loader sets to the promise of the table library (``psmbook.book.sphinx_tables``).
LIBRARY_GLOBAL = "psmbookITables"
#: The MIME type of the formatter that saves figures (it adds nothing to the output).
FIGURE_HOOK_MIME = "application/vnd.psmbook.figure-download"
_SEP = "\x1f"


def displayed_frame(table: pd.DataFrame | Styler) -> tuple[pd.DataFrame, bool]:
    """The table exactly as the reader sees it, and whether its index is shown.

    A DataFrame is itself (its index shown unless it is a plain 0..n-1 range without a name). A Styler
    gives its formatted cell texts, without hidden rows or columns: a value shown as "< 5" is "< 5" here.
    """
    if isinstance(table, pd.DataFrame):
        index = table.index
        plain = isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1
        return table, not plain
    if not isinstance(table, Styler):
        raise TypeError(f"a table to download must be a pandas DataFrame or Styler, got {type(table).__name__}")
    data = table.data
    text_cells = [v for v in data.to_numpy().ravel() if isinstance(v, str)]
    if any(_SEP in v or "\n" in v or "\r" in v for v in text_cells):
        raise ValueError("a Styler whose cells hold line breaks cannot be exported as displayed; show a DataFrame")
    hidden_rows, hidden_columns = set(table.hidden_rows), set(table.hidden_columns)
    rows = [i for i in range(len(data)) if i not in hidden_rows]
    columns = [j for j in range(data.shape[1]) if j not in hidden_columns]
    index_shown = not all(table.hide_index_)
    first = sum(not hidden for hidden in table.hide_index_)  # each line: the shown index levels, then columns
    lines = table.to_string(delimiter=_SEP, sparse_index=False, sparse_columns=False).splitlines()
    body = lines[len(lines) - len(rows) :] if rows else []
    values = [line.split(_SEP)[first : first + len(columns)] for line in body]
    shown = pd.DataFrame(values, index=data.index[rows], columns=data.columns[columns])
    return shown, index_shown


def save_figure(figure, stem: Path) -> list[Path]:
    """Save ``figure`` as ``stem``.svg and ``stem``.pdf, byte for byte the same on every run."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with mpl.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
        for fmt, metadata in FIGURE_METADATA.items():
            path = stem.with_name(f"{stem.name}.{fmt}")
            figure.savefig(path, format=fmt, metadata=metadata, bbox_inches="tight")
            paths.append(path)
    return paths


def save_table(table: pd.DataFrame | Styler, path: Path) -> tuple[pd.DataFrame, bool]:
    """Write the displayed table to ``path`` (CSV, UTF-8); return it as :func:`displayed_frame` does."""
    shown, with_index = displayed_frame(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    shown.to_csv(path, index=with_index, lineterminator="\n")
    return shown, with_index


def links_html(what: str, files: list[Path]) -> str:
    """One line of download links, e.g. "Download figure 2: SVG · PDF" (relative to the page)."""
    anchors = " · ".join(
        f'<a href="{DOWNLOADS}/{html.escape(p.name)}" download="{html.escape(p.name)}">{p.suffix[1:].upper()}</a>'
        for p in files
    )
    return f'<p class="{LINKS_CLASS}">Download {html.escape(what)}: {anchors}</p>'


def is_long(frame: pd.DataFrame) -> bool:
    """Long enough to be interactive, and laid out simply enough to be sorted (one header row, one index)."""
    return len(frame) > LONG_TABLE_ROWS and frame.columns.nlevels == 1 and frame.index.nlevels == 1


def interactive_html(frame: pd.DataFrame, static_html: str, table_id: str, show_index: bool) -> str:
    """The table as an ITables DataTable (sort, search, pages), over the full static table.

    The static table stays where the library is not loaded (a live notebook, or printing: the site's print
    style shows it, every row, instead of the current page of the interactive one).
    """
    from itables.javascript import get_expanded_classes, get_expanded_style, get_itable_arguments
    from itables.typing import DTForITablesOptions, check_itable_arguments

    args = get_itable_arguments(
        frame, None, table_id=table_id, maxBytes=0, showIndex=show_index, classes="display compact",
        lengthMenu=[10, 25, 100, -1], pageLength=-1 if len(frame) <= ONE_PAGE_ROWS else 25, scrollX=True,
        style="table-layout:auto;width:100%;margin:0;caption-side:bottom",
    )  # fmt: skip
    for key in ("dt_url", "connected", "display_logo_when_loading"):
        args.pop(key, None)
    check_itable_arguments(args, DTForITablesOptions)
    args["classes"] = get_expanded_classes(args["classes"])
    args["style"] = get_expanded_style(args["style"])
    options = json.dumps(args, sort_keys=True).replace("</", "<\\/")
    return (
        f'<div class="{LONG_TABLE_CLASS}">\n<div id="{table_id}-static">{static_html}</div>\n'
        f'<table id="{table_id}" hidden="hidden"></table>\n<script type="module">\n'
        f"const library = window.{LIBRARY_GLOBAL};  // set by the site; a live notebook keeps the static table\n"
        "if (library) library.then(({ ITable }) => {\n"
        f'  const table = document.getElementById("{table_id}");\n'
        '  table.removeAttribute("hidden");\n'
        f"  const itable = new ITable(table, {options});\n"
        f'  document.getElementById("{table_id}-static").classList.add("psmbook-screen-hidden");\n'
        "  // a table first laid out inside a closed toggle gets its column widths when it opens\n"
        '  table.closest("details")?.addEventListener("toggle", () => itable.dt.columns.adjust());\n'
        "});\n</script>\n</div>"
    )


@dataclass
class Downloads:
    """The downloads of one chapter: figures and tables numbered in the order they are displayed."""

    chapter: str
    folder: Path = Path(".")
    figures: dict[int, tuple[Any, int]] = field(default_factory=dict)  # id(figure) -> (figure, number)
    tables: int = 0
    pending: list[int] = field(default_factory=list)  # figures shown in this cell, links not yet shown

    @property
    def target(self) -> Path:
        return Path(self.folder) / DOWNLOADS

    def figure_shown(self, figure) -> None:
        """Save a figure being shown (again, under its number, if it was shown before); queue its links."""
        number = self.figures.get(id(figure), (figure, len(self.figures) + 1))[1]
        self.figures[id(figure)] = (figure, number)  # kept alive: its id stays its own
        save_figure(figure, self.target / f"{self.chapter}-figure-{number}")
        if number not in self.pending:
            self.pending.append(number)

    def pending_links(self) -> str:
        """The links of the figures shown since the last call, one line each."""
        lines = [
            links_html(f"figure {n}", [self.target / f"{self.chapter}-figure-{n}.{fmt}" for fmt in FIGURE_METADATA])
            for n in self.pending
        ]
        self.pending.clear()
        return "\n".join(lines)

    def table_html(self, table: pd.DataFrame | Styler) -> str:
        """Save a table being displayed as CSV; its HTML (interactive when long) with the link below."""
        self.tables += 1
        path = self.target / f"{self.chapter}-table-{self.tables}.csv"
        shown, show_index = save_table(table, path)
        if isinstance(table, Styler):
            # pandas gives every Styler a random id (its CSS scope); the table's own name keeps the page stable
            static = full = table.set_uuid(f"{self.chapter}-table-{self.tables}").to_html()
        else:
            static, full = table._repr_html_() or table.to_html(notebook=True), table.to_html(notebook=True)
        if is_long(shown):  # a Styler sorts and searches by its displayed texts, a DataFrame by its values
            data = shown if isinstance(table, Styler) else table
            static = interactive_html(data, full, f"{self.chapter}-table-{self.tables}", show_index)
        return static + "\n" + links_html(f"table {self.tables}", [path])


class _FigureHook:
    """A display formatter that saves every matplotlib figure shown and adds nothing to the output."""

    def __init__(self, callback) -> None:
        self.callback = callback

    def __call__(self, obj) -> None:
        from matplotlib.figure import Figure

        if isinstance(obj, Figure):
            self.callback(obj)

    def lookup(self, obj):
        raise KeyError(type(obj))  # never overrides an object's own mime bundle (IPython asks)

    def pop(self, kind, default=None):
        return default  # matplotlib's inline set-up pops Figure from every formatter: this one stays


_ACTIVE: dict[int, tuple[Downloads, Any]] = {}  # id(shell) -> (downloads, its post_run_cell callback)


def enable(chapter: str, folder: Path | str = ".", shell=None) -> Downloads | None:
    """Save every figure and table the chapter displays from now on, linked below it (None outside IPython).

    Calling it again (a chapter run twice in one kernel) starts the numbering afresh.
    """
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return None
    previous = _ACTIVE.pop(id(shell), None)
    if previous is not None:
        shell.events.unregister("post_run_cell", previous[1])
    downloads = Downloads(chapter, Path(folder))
    formatters = shell.display_formatter.formatters
    formatters[FIGURE_HOOK_MIME] = _FigureHook(downloads.figure_shown)
    for kind in (pd.DataFrame, Styler):
        formatters["text/html"].for_type(kind, downloads.table_html)
    # a Styler's plain-text form is its memory address, which differs on every run
    formatters["text/plain"].for_type(Styler, lambda table, printer, cycle: printer.text("<table>"))

    def show_links(result=None) -> None:
        links = downloads.pending_links()
        if links:
            from IPython.display import HTML, display

            display(HTML(links))

    shell.events.register("post_run_cell", show_links)
    _ACTIVE[id(shell)] = (downloads, show_links)
    return downloads
