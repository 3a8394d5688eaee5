"""The book's parameters: discovery from the chapters, coercion and validation of overrides."""

from pathlib import Path

import pytest

from psmbook.book import parameters as P

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def known():
    return P.discover(ROOT / "chapters")


def test_every_chapter_is_found_in_reading_order():
    names = [P.chapter_name(nb) for nb in P.chapter_notebooks(ROOT / "chapters")]
    assert names == ["cohort", "matching", "response", "survival", "toxicity", "discussion", "lab"]


def test_every_chapter_has_a_parameters_cell():
    import json

    for notebook in P.chapter_notebooks(ROOT / "chapters"):
        cells = json.loads(notebook.read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, notebook.name


def test_discovered_parameters_have_defaults_and_meanings(known):
    assert known["seed"].default == 20250531
    assert known["seed"].chapters[0] == "cohort"
    for parameter in known.values():
        assert parameter.help, f"parameter {parameter.name} has no comment saying what it means"


def test_overrides_are_converted_to_the_default_type(known):
    values = P.resolve(P.parse_assignments(["seed=7"]), known)
    assert values == {"seed": 7}
    assert P.for_chapter(values, known, "cohort") == {"seed": 7}
    caliper = P.resolve({"caliper": "0.1"}, known)
    assert P.for_chapter(caliper, known, "matching") == {"caliper": 0.1}
    assert P.for_chapter(caliper, known, "cohort") == {}


def test_space_separated_assignments_as_make_passes_them():
    assert P.parse_assignments(["seed=7 caliper=0.1"]) == {"seed": "7", "caliper": "0.1"}


def test_unknown_and_bad_values_are_all_reported_at_once(known):
    with pytest.raises(P.ParameterError) as caught:
        P.resolve({"seed": "-3", "sed": "1", "colour": "x"}, known)
    message = str(caught.value)
    assert "seed='-3': must be a non-negative integer" in message
    assert "unknown parameter 'sed' (did you mean 'seed'?)" in message
    assert "unknown parameter 'colour'" in message
    assert len(caught.value.problems) == 3


def test_non_numeric_seed_is_rejected(known):
    with pytest.raises(P.ParameterError, match="seed: expected an integer, got 'abc'"):
        P.resolve({"seed": "abc"}, known)


def test_malformed_assignment_is_rejected():
    with pytest.raises(P.ParameterError, match="expected name=value"):
        P.parse_assignments(["seed"])


def test_rules_for_later_parameters():
    caliper = P.Parameter("caliper", 0.2, "caliper")
    assert P.coerce(caliper, "none") is None
    assert P.RULES["caliper"](-0.1)
    assert P.RULES["caliper"](None) is None
    assert P.RULES["ratio"](0)
    assert P.RULES["ratio"](2) is None
    assert P.coerce(P.Parameter("replace", False, ""), "yes") is True
    with pytest.raises(ValueError):
        P.coerce(P.Parameter("replace", False, ""), "maybe")


def test_describe_lists_every_parameter(known):
    text = P.describe(known)
    for name, parameter in known.items():
        assert name in text and " ".join(parameter.help.split()) in " ".join(text.split())


def test_matching_parameters_are_checked_before_anything_runs(known):
    values = P.resolve({"covariates": "age_group,sex", "caliper": "none", "match_order": "random"}, known)
    assert values == {"covariates": ["age_group", "sex"], "caliper": None, "match_order": "random"}
    with pytest.raises(P.ParameterError) as caught:
        P.resolve(
            {
                "covariates": "age_group,shoe_size",
                "match_order": "best",
                "ratio": "0",
                "caliper": "-1",
                "ps_formula": "_treated ~ C(colour)",
            },
            known,
        )
    text = str(caught.value)
    assert "unknown covariate(s) ['shoe_size'] in study" in text
    assert "match_order='best': must be one of largest, smallest, data, random" in text
    assert "ratio='0': must be an integer of at least 1" in text
    assert "caliper='-1': must be a positive number" in text
    assert "refers to unknown covariate(s) ['colour']" in text


def test_a_parameter_shared_by_chapters_is_injected_into_each(known):
    assert {"cohort", "matching", "toxicity"} <= set(known["seed"].chapters)
    assert P.for_chapter({"seed": 3}, known, "matching") == {"seed": 3}


def test_survival_and_discussion_parameters_are_checked(known):
    with pytest.raises(P.ParameterError) as caught:
        P.resolve({"entry_p": "1.5", "calipers": "0.1,-0.2"}, known)
    assert "entry_p='1.5': must be a number in (0, 1]" in str(caught.value)
    assert "calipers='0.1,-0.2': must be positive numbers, got [-0.2]" in str(caught.value)
    assert P.resolve({"entry_p": "0.1", "calipers": "0.1,0.3"}, known) == {
        "entry_p": 0.1,
        "calipers": [0.1, 0.3],
    }


def test_chapter_inputs_are_declared_in_the_notebooks():
    from psmbook.book.pipeline import BuildError, chapter_inputs

    notebooks = {P.chapter_name(nb): nb for nb in P.chapter_notebooks(ROOT / "chapters")}
    assert chapter_inputs(notebooks["cohort"], []) == []
    assert chapter_inputs(notebooks["matching"], ["cohort"]) == ["cohort"]
    assert chapter_inputs(notebooks["toxicity"], ["cohort", "matching", "response", "survival"]) == [
        "cohort",
        "matching",
    ]
    earlier = ["cohort", "matching", "response", "survival", "toxicity", "discussion"]
    # the discussion compares every earlier chapter's numbers with the paper's
    assert chapter_inputs(notebooks["discussion"], earlier[:5]) == earlier[:5]
    assert chapter_inputs(notebooks["lab"], earlier) == ["cohort", "matching"]
    with pytest.raises(BuildError, match=r"declares it reads \['response'"):
        chapter_inputs(notebooks["discussion"], ["cohort", "matching"])  # a chapter that is not an earlier one


def test_lab_parameters_are_checked(known):
    with pytest.raises(P.ParameterError) as caught:
        P.resolve({"repetitions": "0", "n_jobs": "0", "scheduler": "not an address"}, known)
    text = str(caught.value)
    assert "repetitions='0'" in text and "n_jobs='0'" in text and "scheduler='not an address'" in text
    assert P.resolve({"n_jobs": "-1", "scheduler": "tcp://127.0.0.1:8786"}, known) == {
        "n_jobs": -1,
        "scheduler": "tcp://127.0.0.1:8786",
    }


def test_the_cache_key_hashes_every_stage_of_the_package():
    """A change anywhere in the package re-executes the chapters, not only in the book stage."""
    from psmbook.book.pipeline import package_files

    names = {p.relative_to(ROOT / "src" / "psmbook").as_posix() for p in package_files()}
    assert {"analysis/tables.py", "cohort/synthetic/generate.py", "data/published.yaml", "book/pipeline.py"} <= names


def test_values_may_contain_spaces_quoted_or_not():
    assert P.parse_assignments(['data="my data/cohort.csv" seed=7']) == {"data": "my data/cohort.csv", "seed": "7"}
    assert P.parse_assignments(["data=my data/cohort.csv"]) == {"data": "my data/cohort.csv"}
    formula = "_treated ~ C(age_group) * C(node_diameter) + C(sex)"
    assert P.parse_assignments([f"ps_formula={formula}"]) == {"ps_formula": formula}
    assert P.parse_assignments([""]) == {}
    with pytest.raises(P.ParameterError, match="No closing quotation"):
        P.parse_assignments(['data="my data'])
