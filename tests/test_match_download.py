"""The matched data for download from the matching page: MatchIt's match.data() columns, the same rows as
`psmbook match` writes, and a CSV only for synthetic patients (real ones stay in data/*.parquet)."""

import pandas as pd
import pytest

from psmbook.book.chapter import Chapter
from psmbook.cohort.synthetic import DEFAULT_SEED, generate_cohort
from psmbook.matching import report
from psmbook.matching.export import as_match_data, match_data
from psmbook.matching.nearest import nearest_neighbour_match
from psmbook.matching.score import fit_propensity
from psmbook.study.description import load_study

STUDY = load_study()


@pytest.fixture(scope="module")
def matched():
    cohort = generate_cohort(DEFAULT_SEED).set_index(STUDY.id_column)
    covariates = [v.column for v in STUDY.psm_covariates]
    model = fit_propensity(cohort, STUDY.treatment.column, STUDY.treatment.treated, covariates, study=STUDY)
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    return report.matched_sample(cohort, model, result, 0.2)


def test_the_chapters_matched_sample_is_the_clis_match_data(matched):
    ours = as_match_data(matched)
    assert list(ours.columns[-4:]) == ["distance", "logit_distance", "subclass", "weights"]
    assert ours.columns[0] == STUDY.id_column and len(ours) == 136 and ours["subclass"].nunique() == 68
    pd.testing.assert_frame_equal(ours, match_data(generate_cohort(DEFAULT_SEED), STUDY))


def test_match_data_names_what_the_sample_lacks(matched):
    with pytest.raises(KeyError, match=r"lacks the column\(s\) \['match_weight'\]"):
        as_match_data(matched.drop(columns="match_weight"))


def test_the_csv_is_written_for_synthetic_patients_only(matched, tmp_path):
    frame = as_match_data(matched)
    path = Chapter("matching", study=STUDY, folder=tmp_path).write_data(frame, "matched.csv")
    assert path == tmp_path / "data" / "matched.csv"
    again = pd.read_csv(path)
    assert list(again.columns) == list(frame.columns) and len(again) == len(frame)
    assert again["weights"].tolist() == frame["weights"].tolist()
    real = STUDY.model_copy(update={"synthetic": False})
    with pytest.raises(ValueError, match="is not synthetic: patient-level data stay in data/\\*.parquet"):
        Chapter("matching", study=real, folder=tmp_path / "real").write_data(frame, "matched.csv")
    assert not (tmp_path / "real" / "data" / "matched.csv").exists()
    # the Parquet file the later chapters read is written for real data as before
    assert Chapter("matching", study=real, folder=tmp_path / "real").write_data(frame, "matched.parquet").exists()
