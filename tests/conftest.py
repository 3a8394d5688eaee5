"""Shared fixtures: the whole book, built once per test session with default parameters."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(book folder, index.html) of a fresh build into a temporary folder."""
    from psmbook.book import pipeline

    out = tmp_path_factory.mktemp("site") / "book"
    index = pipeline.build({}, root=ROOT, out=out)  # default parameters
    return out, index
