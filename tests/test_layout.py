"""The package's layout contract: subpackages by stage of the analysis, imports pointing one way.

Data flow down the list ``LAYERS``: a module may import from its own subpackage and from the
subpackages above it in the list, never from one below. No module imports another module's private
name, no import circle (lazy imports inside functions count), no module over 600 lines. ruff's lint
and format checks run here too, so ``make test`` enforces them.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "psmbook"

#: Stages in the order data flow: study description -> cohort -> matching -> analyses -> paper
#: comparison -> lab -> book. ``present`` (formats, style) sits under everything that shows a number.
LAYERS = ["study", "present", "cohort", "matching", "analysis", "paper", "lab", "book"]
#: Modules allowed at the top of the package (they may import every stage).
TOP = {"__init__", "__main__", "cli"}
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for every psmbook import in the file, lazy ones included."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.split(".")[0] == "psmbook"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "psmbook":
                continue
            names = [a.name for a in node.names]
            # `from psmbook.stage import module` imports a module, not a name
            submodules = [n for n in names if f"{module}.{n}" in MODULES]
            for sub in submodules:
                found.append((f"{module}.{sub}", [], node.lineno))
            rest = [n for n in names if n not in submodules]
            if rest or not submodules:
                found.append((module, rest, node.lineno))
    return found


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(module: str) -> int:
    stage = _stage(module)
    if stage in TOP:
        return len(LAYERS)
    return LAYERS.index(stage)


def test_every_module_sits_in_a_stage():
    stray = [m for m in MODULES if _stage(m) not in LAYERS and _stage(m) not in TOP]
    assert not stray, f"modules outside the stages {LAYERS}: {stray}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} == set(LAYERS)


def test_imports_point_one_way():
    wrong = []
    for name, path in MODULES.items():
        for module, _, line in _imports(name, path):
            if module == "psmbook":
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports the package root")
            elif _rank(module) > _rank(name):
                wrong.append(
                    f"{path.relative_to(ROOT)}:{line} ({_stage(name)}) imports {module} ({_stage(module)}), "
                    "a later stage"
                )
    assert not wrong, "imports against the flow of data:\n" + "\n".join(wrong)


def test_no_module_imports_another_modules_private_name():
    wrong = []
    for name, path in MODULES.items():
        for module, names, line in _imports(name, path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and module != name:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {', '.join(private)} from {module}")
    assert not wrong, "private names used across modules:\n" + "\n".join(wrong)


def test_no_import_circle():
    graph = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, _, _ in _imports(name, path):
            target = module if module in MODULES else module.rsplit(".", 1)[0]
            if target in MODULES and target != name and not name.startswith(target + ".") and target != "psmbook":
                # a subpackage's __init__ re-exporting its modules is not a circle of the modules themselves
                if MODULES[target].name == "__init__.py" and name.startswith(target):
                    continue
                graph[name].add(target)
    state: dict[str, int] = {}
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(
                    " -> ".join(trail[trail.index(nxt) :] + [node, nxt]) if nxt in trail else f"{node} -> {nxt}"
                )
            elif nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_module_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in MODULES.values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_layout_test_can_fail(tmp_path):
    """The checks above see a wrong import: a study module importing the book stage."""
    bad = tmp_path / "psmbook" / "study" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from psmbook.book.pipeline import build\nfrom psmbook.cohort.synthetic import _private\n")
    found = _imports("psmbook.study.bad", bad)
    assert ("psmbook.book.pipeline", ["build"], 1) in found
    assert _rank("psmbook.book.pipeline") > _rank("psmbook.study.bad")
    assert any(n.startswith("_") for _, names, _ in found for n in names)


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (make test installs it from requirements.txt)")
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint():
    run = _ruff("check", "--output-format", "concise", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format():
    run = _ruff("format", "--check", ".")
    assert run.returncode == 0, "run `make lint` (ruff format) to fix:\n" + run.stdout + run.stderr
