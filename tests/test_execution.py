"""A chapter's run without papermill's fixed costs: the executed notebook is the same, written once; the
site's Sphinx may read in parallel only with the extensions it would otherwise refuse declared safe."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import nbformat
import papermill
import papermill.engines
import pytest
from papermill.exceptions import PapermillExecutionError

from psmbook.book import execution, pipeline, sphinx_fixes

CELLS = [  # the first reads the notebook being run, as a chapter reads its own metadata
    "import json\nx = 6 * 7\nprint(''.join(json.load(open('chapter.ipynb'))['cells'][1]['source']))",
    "print(x)",
    "import pandas as pd\npd.DataFrame({'n': [x]})",
]


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": pipeline.KERNEL_NAME, "display_name": "psmbook", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def _run(source, target, writes, monkeypatch, **options):
    real = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (writes.append(path), real(nb, path)))
    pipeline._check_kernel()
    try:
        Path(target).parent.mkdir(exist_ok=True)
        papermill.execute_notebook(
            str(source), str(target), kernel_name=pipeline.KERNEL_NAME, progress_bar=False, report_mode=False,
            resources={"metadata": {"path": str(Path(target).parent)}}, **options,
        )  # fmt: skip
    finally:
        monkeypatch.setattr(papermill.engines, "write_ipynb", real)


def _outputs(path):
    nb = json.loads(path.read_text())
    return [(c["source"], c.get("outputs"), c.get("execution_count")) for c in nb["cells"]]


def test_the_engine_writes_the_notebook_twice_with_the_same_outputs(tmp_path, monkeypatch):
    source = _notebook(tmp_path / "in.ipynb", CELLS)
    ours, theirs = [], []
    mine, papermills = tmp_path / "ours" / "chapter.ipynb", tmp_path / "theirs" / "chapter.ipynb"
    _run(source, mine, ours, monkeypatch, engine_name=execution.register_engine(), **execution.KERNEL_OPTIONS)
    _run(source, papermills, theirs, monkeypatch)  # papermill's own engine
    assert ours == [str(mine)] * 2  # when the run starts and when it ends
    assert len(theirs) >= 2 * len(CELLS)  # before and after every cell
    assert _outputs(mine) == _outputs(papermills)
    assert "".join(_outputs(mine)[0][1][0]["text"]) == "print(x)\n"  # the chapter found its notebook
    assert "".join(_outputs(mine)[1][1][0]["text"]) == "42\n"


def test_a_failing_cell_still_leaves_the_executed_notebook_with_the_error(tmp_path, monkeypatch):
    source = _notebook(tmp_path / "in.ipynb", ["y = 1", "raise ValueError('the cohort has no column age')", "z = 2"])
    with pytest.raises(PapermillExecutionError, match="no column age"):
        _run(source, tmp_path / "out" / "chapter.ipynb", [], monkeypatch, engine_name=execution.register_engine())
    text = (tmp_path / "out" / "chapter.ipynb").read_text()
    assert "no column age" in text and "ValueError" in text
    assert _outputs(tmp_path / "out" / "chapter.ipynb")[-1][2] is None  # the cell after the failure did not run


def _app(**extensions):
    return SimpleNamespace(
        parallel=2,
        extensions={
            name: SimpleNamespace(parallel_read_safe=v, parallel_write_safe=True) for name, v in extensions.items()
        },
    )


def test_the_listed_silent_extensions_are_declared_parallel_safe():
    app = _app(sphinx_multitoc_numbering=None, **{"sphinx-mathjax-offline": None}, myst_nb=True)
    sphinx_fixes.declare_parallel_safe(app, None, [])
    assert app.extensions["sphinx_multitoc_numbering"].parallel_read_safe is True
    assert app.extensions["sphinx-mathjax-offline"].parallel_read_safe is True
    assert app.parallel == 2


@pytest.mark.parametrize("other", [None, False])
def test_any_other_silent_or_unsafe_extension_keeps_the_build_serial(other):
    app = _app(sphinx_multitoc_numbering=None, sphinx_jupyterbook_latex=False, other_ext=other)
    sphinx_fixes.declare_parallel_safe(app, None, [])
    assert app.extensions["sphinx_multitoc_numbering"].parallel_read_safe is True
    assert app.extensions["sphinx_jupyterbook_latex"].parallel_read_safe is False  # it said no: stays no
    assert app.extensions["other_ext"].parallel_read_safe is other
    assert app.parallel == 1  # read and written in one process, without Sphinx's warning (an error here)


def test_an_extension_unsafe_for_parallel_writing_keeps_the_build_serial():
    app = _app(myst_nb=True)
    app.extensions["myst_nb"].parallel_write_safe = False
    sphinx_fixes.declare_parallel_safe(app, None, [])
    assert app.parallel == 1


def test_the_site_command_is_jupyter_books_with_warnings_as_errors(tmp_path):
    command = execution.site_command(tmp_path)
    assert command[1:5] == ["-m", "psmbook.book.execution", "build", str(tmp_path)]
    assert {"--warningiserror", "--nitpick", "--keep-going"} <= set(command)


def test_a_kernel_started_ahead_runs_the_chapter_as_a_fresh_one(tmp_path, monkeypatch):
    pipeline._check_kernel()
    source = _notebook(tmp_path / "in.ipynb", CELLS + ["import sys\nprint('wave' in sys.modules)"])
    (tmp_path / "warm").mkdir()
    pool = execution.KernelPool(pipeline.KERNEL_NAME, tmp_path / "warm", count=1, ahead=1, warm_up="import wave")
    try:
        kernel = pool.take()
        assert kernel is not None and kernel.has_kernel
        assert pool.take(timeout=1) is None  # one kernel asked for, one given
        warm, fresh = tmp_path / "warm" / "chapter.ipynb", tmp_path / "fresh" / "chapter.ipynb"
        try:
            _run(source, warm, [], monkeypatch, **execution.papermill_options(kernel))
        finally:
            execution.stop_kernel(kernel)
        assert not kernel.has_kernel
        _run(source, fresh, [], monkeypatch, **execution.papermill_options())
    finally:
        pool.close()
    ran_warm, ran_fresh = _outputs(warm), _outputs(fresh)
    assert [count for _, _, count in ran_warm] == [1, 2, 3, 4]  # the warm-up counted no cell
    assert ran_warm[:3] == ran_fresh[:3]
    assert "".join(ran_warm[3][1][0]["text"]) == "True\n"  # imported ahead
    assert "".join(ran_fresh[3][1][0]["text"]) == "False\n"


def test_the_reference_page_lists_what_walk_packages_finds_without_importing_the_package():
    import pkgutil
    import subprocess
    import sys

    from psmbook.book import reference

    walked = [(i.name, i.ispkg) for i in pkgutil.walk_packages([str(reference.PACKAGE)], prefix="psmbook.")]
    assert sorted(reference._package_modules()) == sorted(walked)
    code = (
        "import sys\nfrom psmbook.book import reference\nreference.modules()\n"
        "print(sorted(m for m in ('pandas', 'matplotlib', 'lifelines', 'psmbook.paper.audit') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
