import hashlib

from psmbook.book.provenance import file_sha256, provenance, provenance_box
from psmbook.study.description import load_study


def test_sha256_of_a_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert file_sha256(path) == hashlib.sha256(b"a,b\n1,2\n").hexdigest()


def test_provenance_names_parameters_data_versions_commit_and_date():
    info = provenance({"seed": 7, "caliper": 0.2}, study=load_study(), seed=7)
    assert info["data"] == "synthetic cohort, seed 7"
    assert info["versions"]["lifelines"][0].isdigit() and info["versions"]["psmpy"] == "0.3.16"
    assert info["commit"] and info["date"].endswith("UTC")
    box = provenance_box({"seed": 7}, study=load_study(), seed=7)
    assert box.startswith("::::{admonition} Provenance of this page") and "`seed = 7`" in box
