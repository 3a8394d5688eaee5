"""The whole book on a study of its own with response and toxicity columns: the public GBSG2 data (from
lifelines) with a tumour response and adverse events added (deterministic, invented for the test). Every
chapter that its description supports runs, with its own wording and the numbers of its patients."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import chi2_contingency

from psmbook.book import pipeline
from psmbook.cohort import reading

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
GBSG_DATA = "pkg:lifelines/datasets/lymph_node.csv"


def own_data() -> pd.DataFrame:
    data = pd.read_csv(reading.resolve_data_path(GBSG_DATA))
    rng = np.random.default_rng(17)
    n = len(data)
    data["best_response"] = rng.choice(["good", "partial", "none"], size=n, p=[0.3, 0.4, 0.3])
    data["g34_neutropenia"] = rng.random(n) < 0.15
    data["g34_fatigue"] = (rng.random(n) < 0.08).astype(int)
    data["died_on_treatment"] = rng.random(n) < 0.03
    return data


def own_study() -> dict:
    study = yaml.safe_load((ROOT / "examples" / "gbsg2_lymph_node.yaml").read_text())
    study["name"] = "GBSG2 with a response and adverse events"
    study["response"] = {  # no not-evaluable code: the section that used to crash the chapter
        "column": "best_response",
        "levels": {"good": "Good response", "partial": "Partial response", "none": "No response"},
        "objective": ["good", "partial"],
        "objective_label": "Any response",
    }
    study["toxicity"] = {  # no "any event" column, no drug of its own
        "grade3_4": {
            "neutropenia": {"column": "g34_neutropenia", "label": "Neutropenia"},
            "fatigue": {"column": "g34_fatigue", "label": "Fatigue"},
        },
        "death_during_treatment": "died_on_treatment",
    }
    return study


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own_study")
    data = own_data()
    data.to_csv(folder / "cohort.csv", index=False)
    (folder / "study.yaml").write_text(yaml.safe_dump(own_study(), sort_keys=False, allow_unicode=True))
    out = folder / "book"
    pipeline.build({"data": str(folder / "cohort.csv"), "study": str(folder / "study.yaml")}, root=ROOT, out=out)
    return data, out


def _text(out: Path, stem: str) -> str:
    import html

    page = (out / "_build" / "html" / f"{stem}.html").read_text().split("<main", 1)[-1]
    page = re.sub(r"<script.*?</script>|<style.*?</style>", "", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_response_and_toxicity_chapters_run_for_a_study_of_its_own(book):
    _, out = book
    for stem in ("01_cohort", "02_matching", "03_response", "04_survival", "05_toxicity"):
        assert (out / f"{stem}.ipynb").is_file(), stem
    intro = _text(out, "intro")
    assert "Tumour response Survival Toxicity Discussion" in intro  # listed, and not "not run"
    assert "Discussion: reproduced against published : not run (needs paper)" in intro


def test_their_numbers_are_computed_from_the_patients(book):
    data, out = book
    hormone = data["hormone"] == 2
    values = json.loads((out / "results" / "response.json").read_text())["values"]
    good = int((hormone & (data["best_response"] == "good")).sum())
    assert values["table2.before.good.2.n"] == good and values["table2.before.n.2"] == int(hormone.sum())
    responded = data["best_response"].isin(["good", "partial"])
    table = [[int((r & h).sum()) for h in (hormone, ~hormone)] for r in (responded, ~responded)]
    assert values["table2.before.orr.p"] == pytest.approx(chi2_contingency(table, correction=False)[1])
    tox = json.loads((out / "results" / "toxicity.json").read_text())["values"]
    either = data["g34_neutropenia"] | data["g34_fatigue"].astype(bool)
    assert tox["toxicity.g34_overall.2.n"] == int((either & hormone).sum())
    assert tox["table4.neutropenia.1.n"] == int((data["g34_neutropenia"] & ~hormone).sum())


def test_no_words_of_the_paper_and_no_seed_on_its_pages(book):
    _, out = book
    for stem in ("01_cohort", "02_matching", "03_response", "04_survival", "05_toxicity"):
        text = _text(out, stem)
        for words in ("SPSS", "as the paper describes", "Treatment Group", "seed of the synthetic cohort", "CRT"):
            assert words not in text, (stem, words)
        shown = text.split("Provenance of this page Parameters:", 1)[1].split("Data:", 1)[0]
        assert "seed" not in shown, (stem, shown)  # it generates nothing here
    survival = _text(out, "04_survival")
    assert (
        "Entered the multivariable model:" in survival and "Treatment" in survival.split("Entered the multivariable")[1]
    )
    matching = _text(out, "02_matching")
    assert "Menopausal status: Premenopausal (reference)" in matching and "menopause = 2" not in matching
