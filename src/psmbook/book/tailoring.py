"""Fit the chapters to the study they run on: drop what the data cannot support, skip what it cannot run.

A chapter notebook declares what it needs in its metadata (``"psmbook": {"requires": ["toxicity"]}``);
a chapter whose needs the study does not meet is not executed, and its page says why. Within a chapter,
a cell tagged ``if-<need>`` runs only when the study meets the need, ``if-not-<need>`` only when it does
not: the comparisons with the paper's published numbers (``if-paper``) and the synthetic cohort's
calibration and known truth (``if-synthetic``) leave a real cohort's book cleanly.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

from psmbook.study.description import Study

#: What a chapter or a cell may need, and how to tell whether a study has it.
NEEDS: dict[str, Callable[[Study], bool]] = {
    "paper": lambda s: s.paper,
    "synthetic": lambda s: s.synthetic,
    "response": lambda s: s.has_response,
    "toxicity": lambda s: s.has_toxicity,
    "pfs": lambda s: "pfs" in s.endpoints,
    "os": lambda s: "os" in s.endpoints,
    "survival": lambda s: bool(s.endpoints),
}

#: Why a need is not met, for the page of a skipped chapter.
MISSING = {
    "paper": "it compares every result with the paper's published numbers, and this study description "
             "does not say it is the paper's study (`paper: true`)",
    "synthetic": "it needs the synthetic cohort, whose true treatment effect is known; real data do not "
                 "know their truth",
    "response": "the study description has no `response` section (tumour response by arm)",
    "toxicity": "the study description has no `toxicity` section (adverse events by arm)",
    "pfs": "the study description has no `pfs` endpoint under `outcomes`",
    "os": "the study description has no `os` endpoint under `outcomes`",
    "survival": "the study description names no time-to-event endpoint under `outcomes`",
}


def _check(needs) -> list[str]:
    unknown = [n for n in needs if n not in NEEDS]
    if unknown:
        raise ValueError(f"unknown need(s) {unknown}; known: {', '.join(NEEDS)}")
    return list(needs)


def chapter_needs(notebook: dict) -> list[str]:
    """The needs a chapter notebook declares in its metadata (``psmbook.requires``)."""
    return _check(notebook.get("metadata", {}).get("psmbook", {}).get("requires", []))


def unmet(study: Study, needs) -> list[str]:
    """The needs the study does not meet."""
    return [n for n in _check(needs) if not NEEDS[n](study)]


def _keep(cell: dict, study: Study) -> bool:
    """False when a tag ``if-<need>`` names an unmet need or ``if-not-<need>`` a met one."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if not tag.startswith("if-"):
            continue
        negated = tag.startswith("if-not-")
        need = tag[7:] if negated else tag[3:]
        if need not in NEEDS:
            raise ValueError(f"cell tag {tag!r} names an unknown need; known: {', '.join(NEEDS)}")
        if NEEDS[need](study) == negated:
            return False
    return True


def tailor(notebook: dict, study: Study) -> dict:
    """A copy of the notebook without the cells the study cannot support."""
    tailored = copy.deepcopy(notebook)
    tailored["cells"] = [c for c in notebook["cells"] if _keep(c, study)]
    return tailored


def chapter_title(notebook: dict) -> str:
    """The chapter's title: the first level-1 heading of its first markdown cell."""
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Chapter"


def skipped_page(notebook: dict, study: Study, missing: list[str]) -> str:
    """The page that stands in for a chapter the study cannot run (MyST markdown)."""
    reasons = "\n".join(f"- {MISSING[n]}." for n in missing)
    return (f"# {chapter_title(notebook)}\n\n"
            f":::{{note}}\nThis chapter was not run for **{study.name}**, because:\n\n{reasons}\n\n"
            "The other chapters ran. To run this one, add what is missing to the study description "
            "(see the README, *Running the book on your own data*).\n:::\n")


def intro_page(study: Study, min_cell: int, chapters: list[tuple[str, list[str]]]) -> str:
    """The opening page of a book built on a study other than the paper's (MyST markdown).

    ``chapters`` lists (title, unmet needs) in reading order: what ran and what was left out.
    """
    about = f"{study.description}\n\n" if study.description else ""
    privacy = (f"Tables show aggregates only; counts from 1 to {min_cell - 1} print as \"< {min_cell}\"."
               if min_cell > 1 and not study.synthetic else "Tables show aggregates only.")
    lines = []
    for title, missing in chapters:
        lines.append(f"- **{title}**" + ("" if not missing else f": not run (needs {', '.join(missing)})"))
    return (f"# {study.name}\n\n{about}"
            ":::{admonition} A build of the book on another study\n:class: note\n"
            "The chapters are those of *CRT with or without anlotinib after nodal recurrence of ESCC — a "
            "re-executable PSM analysis*, run on this cohort as its study description "
            f"(`{Path(str(study.source)).name}`) names it. The parts that compare results with that paper's published "
            "numbers, or that need its synthetic cohort, are left out. " + privacy + "\n:::\n\n"
            "## The chapters\n\n" + "\n".join(lines) + "\n\n"
            "The propensity-score methods and their references are explained in the chapters themselves; "
            "see also the {doc}`references`.\n")
