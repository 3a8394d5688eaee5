"""A small Sphinx extension that keeps the rendered pages free of console errors.

sphinx-thebe (loaded by Jupyter Book 1) can register its configuration script twice, and the second
``const THEBE_JS_URL`` declaration is a JavaScript error on every page (one copy has the file name
"", the other None). Script entries with the same content are
dropped here, page by page, before the page is written.
"""
from __future__ import annotations


def _deduplicate_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((str(k), str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    scripts[:] = kept   # in place: the builder and later handlers share this list


def setup(app):
    app.connect("html-page-context", _deduplicate_scripts, priority=1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
