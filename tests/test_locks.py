"""Two pinned locks: requirements.txt is what the book needs at run time (what `make book` and Binder
install), requirements-dev.txt the test and development tools on top of it, at the same versions."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_TOOLS = {"pytest", "ruff", "hypothesis", "playwright"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def _pins(file: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / file).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{file}: {line!r} is not pinned to one version"
            pins[_name(name)] = version
    return pins


def _inputs(file: str) -> set[str]:
    lines = [line.split("#")[0].strip() for line in (ROOT / file).read_text().splitlines()]
    return {_name(line) for line in lines if line and not line.startswith("-")}


def test_the_run_time_lock_holds_no_test_tool_and_pins_everything_the_package_needs():
    run_time = _pins("requirements.txt")
    assert not DEV_TOOLS & set(run_time), "test tools belong in requirements-dev.txt"
    assert _inputs("requirements.in") <= set(run_time)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {_name(r) for r in project["dependencies"]}
    needed |= {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    assert not needed - set(run_time), f"declared in pyproject.toml but not pinned: {needed - set(run_time)}"


def test_the_dev_lock_adds_the_tools_at_the_run_time_versions():
    run_time, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert DEV_TOOLS <= set(dev) and DEV_TOOLS <= _inputs("requirements-dev.in")
    assert "-c requirements.txt" in (ROOT / "requirements-dev.in").read_text()
    shared = set(run_time) & set(dev)
    assert {p: (run_time[p], dev[p]) for p in shared if run_time[p] != dev[p]} == {}


def test_make_installs_the_run_time_lock_for_the_book_and_both_for_the_tests():
    makefile = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(STAMP\):.*?(?=^\S)", makefile, flags=re.M | re.S).group(0)
    assert "-r requirements.txt" in rule and "requirements-dev" not in rule
    assert re.search(r"^book: setup\b", makefile, flags=re.M)
    assert re.search(r"^test: setup-dev\b", makefile, flags=re.M)
    dev_rule = re.search(r"^\$\(STAMP_DEV\): \$\(STAMP\) requirements-dev.txt\n(.*?)(?=^\S)", makefile, re.M | re.S)
    assert "-r requirements-dev.txt" in dev_rule.group(1)
    lock = re.search(r"^lock:  ##.*?(?=^\S)", makefile, flags=re.M | re.S).group(0)
    assert "requirements.in" in lock and "requirements-dev.in" in lock
    assert (ROOT / "binder" / "requirements.txt").read_text().count("-r ../requirements.txt") == 1
