"""The lab's third analysis: the book's match with the number of recurrent nodes added to the score."""

from dataclasses import replace

import pytest

from psmbook.cohort.synthetic import generate_cohort
from psmbook.lab import explorer as lab
from psmbook.lab import report
from psmbook.study.description import load_study


@pytest.fixture(scope="module")
def study():
    return load_study()


@pytest.fixture(scope="module")
def cohort(study):
    return generate_cohort().set_index(study.id_column)


@pytest.fixture(scope="module")
def book(study):
    return lab.MatchSettings(covariates=tuple(v.column for v in study.psm_covariates))


def test_extra_covariates_are_those_the_data_hold_and_the_score_leaves_out(cohort, book):
    assert lab.extra_covariates(book, cohort) == ("nodes_group",)
    assert lab.extra_covariates(replace(book, covariates=book.covariates + ("nodes_group",)), cohort) == ()
    assert lab.extra_covariates(book, cohort.drop(columns="nodes_group")) == ()


def test_nodes_numbers_follow_the_multiple_nodes_level(cohort, study, book):
    base = lab.explore(cohort, study, book, seed=1)
    nodes = lab.extra_covariates(book, cohort)
    with_nodes = lab.explore(cohort, study, replace(book, covariates=book.covariates + nodes), seed=1)
    numbers = report.nodes_numbers(base, with_nodes)
    assert numbers == report.nodes_numbers(base, with_nodes, "nodes_group=multiple")
    assert numbers["nodes_smd_before"] == f"{base.balance.loc['nodes_group=multiple', 'smd_before']:+.2f}"
    assert numbers["nodes_smd_with"] == f"{with_nodes.balance.loc['nodes_group=multiple', 'smd_after']:+.2f}"
    # the paper's score leaves the nodes as they fall; with them in the score the imbalance shrinks
    assert abs(float(numbers["nodes_smd_with"])) < abs(float(numbers["nodes_smd_base"]))
    assert numbers["treated_base"] == 68 and numbers["treated_with_nodes"] == with_nodes.treated == 68
    # the book's page (default cohort, seed 20250531) prints these
    assert (numbers["nodes_smd_before"], numbers["nodes_smd_base"], numbers["nodes_smd_with"]) == (
        "+0.11",
        "+0.07",
        "-0.03",
    )
    assert numbers["hr_base"] == "0.609 (95% CI 0.433–0.858)"  # SE clustered on pairs as R coxph computes it
    assert numbers["hr_with_nodes"] == "0.617 (95% CI 0.427–0.892)"
    assert (numbers["truth_base"], numbers["truth_with_nodes"]) == ("0.630", "0.631")
    assert numbers["truth_base"] == f"{base.truth:.3f}"
