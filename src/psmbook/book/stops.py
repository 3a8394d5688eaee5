"""Chapters that stop on data they cannot analyse: the page that says why, in place of the chapter.

A chapter's analysis raises :class:`psmbook.cohort.validation.AnalysisError` when the data, valid as
they are, cannot support it (no event in the matched cohort, a covariate level in one arm only...),
with a sentence naming the cause and what to change. The build then replaces the chapter's page by
one that gives that sentence, does the same for the chapters that read its results, and goes on.
"""

from __future__ import annotations

import json
from pathlib import Path

#: Errors with which a chapter stops on data it cannot analyse (their class names, as the kernel reports them).
STOPPING_ERRORS = ("AnalysisError",)


class ChapterStopped(RuntimeError):
    """A chapter stopped on one of :data:`STOPPING_ERRORS`: the ``chapter`` and the ``reason`` its page gives."""

    def __init__(self, chapter: str, reason: str):
        self.chapter, self.reason = chapter, reason
        super().__init__(f"chapter {chapter!r} stopped: {reason}")


def raise_if_stopped(chapter: str, error) -> None:
    """ChapterStopped when a chapter's execution error (papermill's, with the kernel's ``ename`` and
    ``evalue``) is one of :data:`STOPPING_ERRORS`."""
    if error.ename in STOPPING_ERRORS:
        raise ChapterStopped(chapter, error.evalue) from None


def stop_readers(ready: list[str], done: dict[str, dict], pending: dict) -> list[str]:
    """Mark stopped (in ``done``) the ``ready`` chapters that read a stopped chapter's results; the others."""
    for chapter in ready:
        stopped = [i for i in pending[chapter][3] if "stopped" in done.get(i, {})]
        if stopped:
            reason = f"it reads the results of the {stopped[0]} chapter, which stopped (see its page)"
            done[chapter] = {"stopped": reason, "number": pending[chapter][0]}
    return [c for c in ready if c not in done]


def record(done: dict[str, dict], pending: dict, stop: ChapterStopped, total: int) -> str:
    """Mark the chapter stopped in ``done``; the line the build prints."""
    number = pending[stop.chapter][0]
    done[stop.chapter] = {"stopped": stop.reason, "number": number}
    return f"  [{number}/{total}] {stop.chapter:<12} stopped: {stop.reason}"


def write_stopped_page(stage: Path, source: Path, study, chapter: str, result: dict) -> bool:
    """For a chapter that stopped (its ``result`` from the build), its page
    (:func:`psmbook.book.tailoring.stopped_page`) in place of its executed notebook (``source``: the chapter's
    tailored notebook); whether it stopped."""
    from psmbook.book import tailoring

    if "stopped" not in result:
        return False
    (stage / source.name).unlink(missing_ok=True)
    page = tailoring.stopped_page(json.loads(source.read_text()), study, chapter, result["stopped"])
    (stage / f"{source.stem}.md").write_text(page)
    return True
