"""A Sphinx extension for the chapters' downloads and long tables (:mod:`psmbook.present.downloads`).

It writes two files into the site's ``_static``: the style of the download links, with a print style for
``make pdf`` (every row of a long table, no links, code wrapped), and ``psmbook-itables.js``, the table
library (ITables' DataTables bundle) inside a script that loads it without any network, even from a site
opened as files. Only pages that hold a long table load the library; their tables wait for it.
"""

from __future__ import annotations

import json
from pathlib import Path

from psmbook.present.downloads import LIBRARY_GLOBAL, LINKS_CLASS, LONG_TABLE_CLASS

LOADER = "psmbook-itables.js"
STYLE = "psmbook-downloads.css"

CSS = f"""/* Download links under figures and tables, and long interactive tables (psmbook.present.downloads) */
p.{LINKS_CLASS} {{ font-size: 0.85em; margin: 0.25em 0 1.2em; color: var(--pst-color-text-muted); }}
p.{LINKS_CLASS} a {{ margin: 0 0.15em; }}
.{LONG_TABLE_CLASS} .psmbook-screen-hidden {{ display: none; }}
.{LONG_TABLE_CLASS} table.dataTable {{ font-size: 0.9em; }}
@media print {{
  /* on paper: the whole table, not the page the reader left the interactive one on; no links */
  .{LONG_TABLE_CLASS} .psmbook-screen-hidden {{ display: block !important; }}
  .{LONG_TABLE_CLASS} .dt-container {{ display: none !important; }}
  p.{LINKS_CLASS} {{ display: none !important; }}
  /* code wraps instead of running off the page */
  div.highlight pre {{ white-space: pre-wrap !important; word-break: break-word; overflow: visible !important; }}
}}
"""


def loader_script() -> str:
    """The table library as one classic script: it sets ``window.<LIBRARY_GLOBAL>`` to the module's promise.

    The module is imported from a Blob, not from its own file, since browsers refuse module files on a
    site opened from disk (``file://``).
    """
    import itables

    folder = Path(itables.__file__).parent / "html"
    js = (folder / "dt_bundle.js").read_text(encoding="utf-8")
    css = (folder / "dt_bundle.css").read_text(encoding="utf-8")
    return (
        f"/* ITables {itables.__version__} (MIT licence): DataTables for the book's long tables, offline. */\n"
        "(function () {\n"
        f"  if (window.{LIBRARY_GLOBAL}) return;\n"
        '  var style = document.createElement("style");\n'
        f"  style.textContent = {json.dumps(css)};\n"
        "  document.head.appendChild(style);\n"
        f'  var url = URL.createObjectURL(new Blob([{json.dumps(js)}], {{ type: "text/javascript" }}));\n'
        f"  window.{LIBRARY_GLOBAL} = import(url);\n"
        "})();\n"
    )


def _add_library(app, pagename, templatename, context, doctree):
    """Pages with a long table load the library (in the head, before their tables' scripts run)."""
    if f'class="{LONG_TABLE_CLASS}"' in (context.get("body") or ""):
        app.add_js_file(LOADER)


def _write_assets(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    (static / STYLE).write_text(CSS, encoding="utf-8")
    (static / LOADER).write_text(loader_script(), encoding="utf-8")


def setup(app):
    app.add_css_file(STYLE)
    app.connect("html-page-context", _add_library)
    app.connect("build-finished", _write_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
