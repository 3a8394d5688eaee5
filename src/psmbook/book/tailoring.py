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
    "not_evaluable": lambda s: s.has_response and s.response.not_evaluable is not None,
    "toxicity": lambda s: s.has_toxicity,
    "pfs": lambda s: "pfs" in s.endpoints,
    "os": lambda s: "os" in s.endpoints,
    "survival": lambda s: bool(s.endpoints),
    "protocol": lambda s: bool(s.inclusion) or any(v.missing == "exclude" for v in s.covariates),
    "event_coding": lambda s: any(s.outcome(e).status for e in s.endpoints),
    "drug_toxicity": lambda s: s.has_toxicity and bool(s.toxicity.drug_specific),
    "treatment_deaths": lambda s: s.has_toxicity and bool(s.toxicity.death_during_treatment),
}

#: Why a need is not met, for the page of a skipped chapter.
MISSING = {
    "paper": "it sets every result beside the paper's published numbers, so it runs only on the paper's own "
             "study (its cohort in the paper's layout, described by the packaged `study_synthetic.yaml` or a "
             "copy of it)",
    "synthetic": "it needs the synthetic cohort, whose true treatment effect is known; real data do not "
                 "know their truth",
    "response": "the study description has no `response` section (tumour response by arm)",
    "not_evaluable": "the study description's `response` names no `not_evaluable` code",
    "toxicity": "the study description has no `toxicity` section with `grade3_4` events (adverse events by arm)",
    "pfs": "the study description has no `pfs` endpoint under `outcomes`",
    "os": "the study description has no `os` endpoint under `outcomes`",
    "survival": "the study description names no time-to-event endpoint under `outcomes`",
    "protocol": "the study description has no `inclusion` rules and no covariate with `missing: exclude`",
    "event_coding": "no endpoint of the study description has a coded `status` column",
    "drug_toxicity": "the study description lists no `toxicity.drug_specific` events",
    "treatment_deaths": "the study description names no `toxicity.death_during_treatment` column",
}

#: What to do about an unmet need, for the page of a skipped chapter: advice that works.
REMEDY = {
    "paper": "Nothing in your study description can add this: the chapter is about the paper's own numbers. "
             "It runs when the book runs on the synthetic cohort (no `data`), or on the paper's cohort in its "
             "layout with the packaged description (see the README, *Running it on your own data*).",
    "synthetic": "Nothing in your study description can add this: the chapter needs a cohort whose truth is "
                 "known. Build the book without `data` and `study` to see it on the synthetic cohort.",
    "response": "To run it, add a `response` section naming the response column, its level codes and labels in "
                "order from best to worst, and, optionally, the `objective` levels and a `not_evaluable` code "
                "(see `src/psmbook/data/study_synthetic.yaml`).",
    "toxicity": "To run it, add a `toxicity` section whose `grade3_4` names a true/false column for each grade 3–4 "
                "adverse event (see `src/psmbook/data/study_synthetic.yaml`).",
}
#: The comment of the `seed` parameter in a book on real data, where no cohort is generated.
SEED_COMMENT = "# not used: the cohort is read from its data file"


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
    """A copy of the notebook without the cells the study cannot support; for real data, the `seed`
    parameter says that it generates nothing (:data:`SEED_COMMENT`)."""
    tailored = copy.deepcopy(notebook)
    tailored["cells"] = [c for c in tailored["cells"] if _keep(c, study)]
    if not study.synthetic:
        for cell in tailored["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                cell["source"] = _seed_comment(cell["source"])
    return tailored


def _seed_comment(source) -> list[str]:
    """The parameters cell with the comment of its `seed` line replaced (the matching chapter's says what it
    still does: order the treated patients of a random match order)."""
    text = "".join(source) if isinstance(source, list) else source
    lines = []
    for line in text.split("\n"):
        name, _, comment = line.partition("#")
        if name.split("=")[0].strip() == "seed" and comment:
            if "random" in comment:
                line = f"{name.rstrip()}  # orders treated patients when match_order is random (no cohort is generated)"
            else:
                line = f"{name.rstrip()}  {SEED_COMMENT}"
        lines.append(line)
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


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
    remedies = [REMEDY[n] for n in missing if n in REMEDY and not (n == "paper" and "synthetic" in missing)]
    advice = " ".join(remedies) or ("To run it, add what is missing to the study description (see the README, "
                                     "*Running it on your own data*).")
    return (f"# {chapter_title(notebook)}\n\n"
            f":::{{note}}\nThis chapter was not run for **{study.name}**, because:\n\n{reasons}\n\n"
            f"The other chapters ran. {advice}\n:::\n")


def stopped_page(notebook: dict, study: Study, chapter: str, reason: str) -> str:
    """The page that stands in for a chapter whose analysis stopped on the data (MyST markdown): the
    chapter, the cause and what to change, as the error (:class:`psmbook.cohort.validation.AnalysisError`)
    gave them."""
    reason = reason.strip().rstrip(".")
    return (f"# {chapter_title(notebook)}\n\n"
            f":::{{warning}}\nThe {chapter} chapter stopped on **{study.name}**: {reason}.\n\n"
            "The chapters that do not read its results ran.\n:::\n")


def intro_page(study: Study, min_cell: int, chapters: list[tuple[str, list[str] | str]]) -> str:
    """The opening page of a book built on a study other than the paper's (MyST markdown).

    ``chapters`` lists (title, unmet needs, or the reason it stopped) in reading order: what ran, what was left
    out and what stopped on the data.
    """
    about = f"{study.description}\n\n" if study.description else ""
    privacy = (f"Tables and figures show aggregates only; counts from 1 to {min_cell - 1} print as \"< {min_cell}\"."
               if min_cell > 1 and not study.synthetic else "Tables show aggregates only.")
    lines = []
    for title, missing in chapters:
        if isinstance(missing, str):  # it ran and stopped on the data
            lines.append(f"- **{title}**: stopped ({missing})")
        else:
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
