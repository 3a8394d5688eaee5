"""A small Sphinx extension that keeps the rendered pages free of console errors.

sphinx-thebe (loaded by Jupyter Book 1) can register its configuration script twice, and the second
``const THEBE_JS_URL`` declaration is a JavaScript error on every page (one copy has the file name
"", the other None). Script entries with the same content are
dropped here, page by page, before the page is written. And the extensions that do not declare
whether Sphinx may read pages in parallel are declared, those known to be safe. And the pages are dealt to
Sphinx's processes round robin (:func:`round_robin_chunks`).
"""

from __future__ import annotations

import sphinx.builders


def round_robin_chunks(arguments, nproc: int, maxbatch: int = 10) -> list[list]:
    """Sphinx's processes' shares of the pages to read or write, dealt round robin (``nproc`` shares), where
    Sphinx cuts the sorted list into consecutive runs: the package reference's two pages, most of the reading,
    sort next to each other and would go to one process, one after the other, the other process idle."""
    arguments = list(arguments)
    return [arguments[i::nproc] for i in range(max(1, nproc)) if arguments[i::nproc]]


def _deduplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = (
            str(getattr(script, "filename", script) or ""),
            tuple(sorted((str(k), str(v)) for k, v in getattr(script, "attributes", {}).items())),
        )
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept  # in place: the builder and later handlers share this list


def declare_parallel_safe(app, env, docnames):
    """Extensions Jupyter Book loads that do not say whether Sphinx may read pages in parallel, declared
    safe for the reasons given in :data:`psmbook.book.execution.PARALLEL_SAFE` (Sphinx asks just after this).
    With any other extension not safe or silent, the pages are read and written in one process, as without
    this, rather than failing on Sphinx's warning that it reads them serially."""
    from psmbook.book.execution import PARALLEL_SAFE

    for name in PARALLEL_SAFE:
        extension = app.extensions.get(name)
        if extension is not None and extension.parallel_read_safe is None:
            extension.parallel_read_safe = True
    extensions = app.extensions.values()
    if not all(e.parallel_read_safe and e.parallel_write_safe is not False for e in extensions):
        app.parallel = 1


def setup(app):
    sphinx.builders.make_chunks = round_robin_chunks  # the name Sphinx's builders split their work with
    app.connect("html-page-context", _deduplicate_scripts, priority=1)
    app.connect("env-before-read-docs", declare_parallel_safe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
