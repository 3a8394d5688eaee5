"""Launch buttons: configured from the git remote, absent without one."""

import subprocess

import yaml

from psmbook.book import pipeline


def _repo(tmp_path, remote=None):
    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path)], check=True)
    if remote:
        subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    (tmp_path / "_config.yml").write_text("title: t\nhtml: {favicon: x.svg}\n")
    return tmp_path


def test_a_github_remote_gives_binder_launch_buttons_on_the_source_notebooks(tmp_path):
    root = _repo(tmp_path / "r", "git@github.com:someone/psm-book.git")
    stage = tmp_path / "stage"
    stage.mkdir()
    pipeline.write_config(root, stage, synthetic=True)
    config = yaml.safe_load((stage / "_config.yml").read_text())
    assert config["repository"] == {
        "url": "https://github.com/someone/psm-book",
        "path_to_book": "chapters",
        "branch": "main",
    }
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["html"]["use_repository_button"] and config["html"]["favicon"] == "x.svg"


def test_no_public_remote_no_launch_buttons(tmp_path):
    for remote in (None, "/srv/git/book.git"):
        root = _repo(tmp_path / ("r" + str(bool(remote))), remote)
        assert pipeline.repository_settings(root) == {}
