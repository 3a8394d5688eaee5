"""Chapters fitted to the study: needs, tagged cells, skipped pages, the opening page of another study."""

import pytest

from psmbook.book import tailoring
from psmbook.study.description import load_study, study_from_dict

GBSG = load_study("examples/gbsg2_lymph_node.yaml")
PAPER = load_study()


def _nb(cells, requires=None):
    meta = {"psmbook": {"requires": requires}} if requires else {}
    return {"metadata": meta, "cells": cells}


def _cell(text, *tags, kind="code"):
    return {"cell_type": kind, "metadata": {"tags": list(tags)}, "source": [text]}


def test_needs_of_the_two_studies():
    assert tailoring.unmet(PAPER, ["paper", "synthetic", "response", "toxicity", "pfs", "os", "survival"]) == []
    assert tailoring.unmet(GBSG, ["paper", "synthetic", "response", "toxicity", "pfs", "os", "survival"]) == [
        "paper",
        "synthetic",
        "response",
        "toxicity",
    ]


def test_unknown_needs_are_errors():
    with pytest.raises(ValueError, match="unknown need"):
        tailoring.chapter_needs(_nb([], requires=["telepathy"]))
    with pytest.raises(ValueError, match="if-telepathy"):
        tailoring.tailor(_nb([_cell("x", "if-telepathy")]), PAPER)


def test_tailor_keeps_if_and_drops_if_not_cells_by_study():
    nb = _nb(
        [
            _cell("both"),
            _cell("paper only", "if-paper", "hide-input"),
            _cell("other studies", "if-not-paper"),
            _cell("synthetic only", "if-synthetic"),
        ]
    )

    def kept(study):
        return ["".join(c["source"]) for c in tailoring.tailor(nb, study)["cells"]]

    assert kept(PAPER) == ["both", "paper only", "synthetic only"]
    assert kept(GBSG) == ["both", "other studies"]
    assert len(nb["cells"]) == 4  # the original is left alone


def test_skipped_page_names_the_chapter_study_and_reasons():
    nb = _nb([_cell("# Toxicity\n\ntext", kind="markdown")], requires=["toxicity"])
    page = tailoring.skipped_page(nb, GBSG, tailoring.unmet(GBSG, tailoring.chapter_needs(nb)))
    assert page.startswith("# Toxicity\n") and GBSG.name in page and "`toxicity` section" in page


def test_intro_page_lists_what_ran_and_the_suppression_rule():
    page = tailoring.intro_page(GBSG, 5, [("The cohort", []), ("Toxicity", ["toxicity", "paper"])])
    assert page.startswith(f"# {GBSG.name}") and 'from 1 to 4 print as "< 5"' in page
    assert "- **The cohort**\n" in page and "- **Toxicity**: not run (needs toxicity, paper)" in page
    stopped = tailoring.intro_page(GBSG, 5, [("Survival", "Treatment: New has no events among its 62 patients")])
    assert "- **Survival**: stopped (Treatment: New has no events among its 62 patients)" in stopped


def test_study_description_bins_endpoints_and_defaults():
    age = GBSG.variable("age")
    assert age.derived and age.bins == (0.0, 50.0, 120.0)
    assert GBSG.endpoints == ["pfs", "os"] and GBSG.outcome("os").time == "survtime"
    assert GBSG.time_unit == "days" and GBSG.time_step == 365 and GBSG.time_label == "Days of follow-up"
    assert PAPER.paper and not GBSG.paper and PAPER.time_label == "Months since start of CRT"
    with pytest.raises(ValueError, match="no endpoint 'dfs'"):
        GBSG.outcome("dfs")
    raw = {
        "name": "s",
        "treatment": {"column": "t", "treated": "a", "control": "b"},
        "covariates": [{"column": "x", "levels": {"lo": "Low", "hi": "High"}, "bins": [0, 5]}],
    }
    with pytest.raises(ValueError, match="3 increasing edges"):
        study_from_dict(raw)
    raw["covariates"][0]["bins"] = [0, 5, 3]
    with pytest.raises(ValueError, match="increasing"):
        study_from_dict(raw)


def test_unknown_negated_need_is_an_error_too():
    with pytest.raises(ValueError, match="if-not-telepathy"):
        tailoring.tailor(_nb([_cell("x", "if-not-telepathy")]), PAPER)
