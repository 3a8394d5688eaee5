"""The book's glue sends the same display message as myst-nb's, without importing myst-nb into a chapter."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest
from IPython.display import Markdown

from psmbook.present import style


@pytest.fixture(autouse=True)
def no_shell_left_behind():
    """Formatting a value starts IPython's shell in this process; other tests expect none (outside IPython)."""
    from IPython.core.interactiveshell import InteractiveShell

    had = InteractiveShell.initialized()
    yield
    if not had:
        InteractiveShell.clear_instance()


def _messages(monkeypatch, glue, target, values, display):
    sent = []
    monkeypatch.setattr(target, lambda *args, **kwargs: sent.append((args, kwargs)))
    for name, value in values.items():
        glue(name, value, display=display)
    return sent


def _numbered_alike(messages):
    return re.sub(r"table([ -])\d+", r"table\1N", repr(messages))


VALUES = {
    "n": 68,
    "p": 0.0123,
    "text": Markdown("68 pairs, *caliper* 0.2"),
    "table": pd.DataFrame({"arm": ["A", "C"], "n": [68, 68]}),
    "plain": "a plain string",
}


@pytest.mark.parametrize("display", [False, True])
def test_glue_sends_the_message_myst_nb_sends(monkeypatch, display):
    from myst_nb.ext import glue as myst_glue

    ours = _messages(monkeypatch, style.glue, "IPython.display.display", VALUES, display)
    theirs = _messages(monkeypatch, myst_glue.glue, "myst_nb.ext.glue.ipy_display", VALUES, display)
    assert len(ours) == len(VALUES)
    # a table's download link is numbered in display order (when a chapter's downloads are active in this process)
    assert _numbered_alike(ours) == _numbered_alike(theirs)
    assert style.GLUE_PREFIX == myst_glue.GLUE_PREFIX
    hidden = ours[1][0][0]
    assert list(hidden) == [("" if display else style.GLUE_PREFIX) + "text/plain"]
    assert ours[1][1]["metadata"]["scrapbook"] == {"name": "p", "mime_prefix": "" if display else style.GLUE_PREFIX}


def test_glue_all_glues_text_as_markdown(monkeypatch):
    sent = _messages(monkeypatch, lambda n, v, display: style.glue_all({n: v}), "IPython.display.display",
                     {"sentence": "**bold** words"}, False)  # fmt: skip
    (bundle,), kwargs = sent[0]
    assert bundle[style.GLUE_PREFIX + "text/markdown"] == "**bold** words"
    assert kwargs["raw"] is True and kwargs["metadata"]["scrapbook"]["name"] == "sentence"


def test_a_chapter_gluing_does_not_import_nbformat():
    code = (
        "import sys\nfrom psmbook.present.style import glue_all\nglue_all({'n': 1, 't': 'text'})\n"
        "print(sorted(m for m in ('nbformat', 'jsonschema', 'myst_nb') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
