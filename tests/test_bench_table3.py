"""benchmarks/bench_table3.py searches from the generator's own state: at the generator's budget it gives the
generator's Table 3 counts, and a characteristic searched alone aims at its rows only."""

from __future__ import annotations

import pytest

from psmbook.cohort.synthetic.spec import DEFAULT_SEED
from scripts import load_script
from test_synthetic import generated


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/bench_table3.py")


@pytest.fixture(scope="module")
def inputs(bench):
    return bench.search_inputs(DEFAULT_SEED)


def test_the_generators_budget_gives_the_generators_counts(bench, inputs):
    found = bench.search(inputs, 1)
    generator = generated(DEFAULT_SEED)[1]["table3_search"]
    assert (found["print"], found["aimed"]) == (generator["print"], generator["aimed"])
    adjusted = (generator["adjusted_print"], generator["adjusted_aimed"])
    assert (found["adjusted_print"], found["adjusted_aimed"]) == adjusted
    assert found["hr_ratio"] == pytest.approx(generator["hr_ratio"], abs=1e-12)


def test_a_characteristic_alone_aims_at_its_rows_only(bench, inputs):
    found = bench.search(inputs, 0.1, "sex")
    sex = [r for r in inputs["rows"] if r.column == "sex"]
    assert found["aimed"] == sum(len(r.aims) for r in sex) > 0
    assert found["adjusted_aimed"] == 0
