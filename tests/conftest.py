"""Shared fixtures: the whole book, built once per test session with default parameters."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: 2025-05-31 00:00 UTC, the synthetic cohort's censoring date
BUILD_EPOCH = 1748649600


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """(book folder, index.html) of a fresh build into a temporary folder."""
    from psmbook.book import pipeline

    # a fixed build time (as reproducible builds set it), so that a second build can be compared byte for byte
    os.environ.setdefault("SOURCE_DATE_EPOCH", str(BUILD_EPOCH))
    out = tmp_path_factory.mktemp("site") / "book"
    index = pipeline.build({}, root=ROOT, out=out)  # default parameters
    return out, index
