"""How a chapter's notebook is run by papermill, and how the site is built: the fixed costs of a build.

A chapter's run by papermill has costs that do not depend on the chapter: papermill writes the whole
notebook to disk before and after every cell (twice per cell, each a JSON dump and a schema check of
every output so far, a second or more per chapter here), and it stops the kernel gracefully, waiting
for Python to tear down (half a second). The book reads the executed notebook only once the chapter
ends, so the engine here writes it when the run starts (the chapter reads its own metadata from it)
and when it ends or fails (``ENGINE``), and the kernel is stopped at once (``KERNEL_OPTIONS``) after
its last reply, every output already received. The executed notebook is the same, cell for cell.

Starting a kernel and importing what every chapter imports first (pandas, matplotlib, scipy.stats,
the book's chapter set-up) takes about two seconds. :class:`KernelPool` does it ahead, in the
background, while earlier chapters run (the cohort chapter runs alone, so a core is free), and hands
each chapter a kernel that is ready: the imports run silently (no output, no execution count, no history), so the
chapter's notebook is the same as in a fresh kernel.

The site is built by Jupyter Book with Sphinx reading and writing pages in ``SITE_JOBS`` processes,
which Jupyter Book's command line does not offer (``python -m psmbook.book.execution <source>`` runs
it so). Sphinx refuses to read in parallel when an extension does not declare itself safe for it;
the ones Jupyter Book loads that do not declare it are declared here (``PARALLEL_SAFE``, by
:mod:`psmbook.book.sphinx_fixes`), each after reading what it does.
"""

from __future__ import annotations

import asyncio
import functools
import queue
import sys
import threading

#: the name papermill knows the engine by (its nbclient engine, writing the notebook at the start and end only)
ENGINE = "psmbook"
#: nbclient options for every chapter: stop the kernel at once after the run (all its output received)
KERNEL_OPTIONS = {"shutdown_kernel": "immediate"}
#: processes Sphinx reads and writes the site's pages in (the build's 2 cores)
SITE_JOBS = 2
#: extensions Jupyter Book loads that say nothing of parallel reading, and why each is safe:
PARALLEL_SAFE = {
    # replaces the toctree collector's numbering, which Sphinx runs in the main process after reading
    "sphinx_multitoc_numbering": "section numbers are assigned after the pages are read, in one process",
    # sets mathjax_path at set-up and copies MathJax's files when the build ends, in the main process
    "sphinx-mathjax-offline": "copies files once the build has finished",
    # transforms of one page at a time, for the LaTeX builder (the book builds HTML)
    "sphinx_jupyterbook_latex": "per-page transforms only",
}


#: what every chapter imports first, run silently in a kernel started ahead of its chapter
WARM_UP = "\n".join(
    f"import {module}"
    for module in ("matplotlib.pyplot", "pandas", "scipy.stats", "psmbook.book.chapter", "psmbook.present.style")
)
#: nbclient's own kernel arguments (IPython's history in memory), which a kernel started ahead gets too
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]


def papermill_options(kernel=None) -> dict:
    """papermill's options for a chapter: the engine, the kernel options, the kernel started ahead if any."""
    return {"engine_name": register_engine(), **KERNEL_OPTIONS, **({"km": kernel} if kernel is not None else {})}


def start_kernel(kernel_name: str, folder, warm_up: str = WARM_UP):
    """A kernel started in ``folder`` with ``warm_up`` run silently; its (asynchronous) kernel manager."""
    from jupyter_client.manager import AsyncKernelManager

    async def start():
        kernel = AsyncKernelManager(kernel_name=kernel_name)
        await kernel.start_kernel(cwd=str(folder), extra_arguments=list(KERNEL_ARGUMENTS))
        client = kernel.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute_interactive(warm_up, silent=True, store_history=False, timeout=300)
        except Exception:
            await kernel.shutdown_kernel(now=True)
            raise
        finally:
            client.stop_channels()
        if reply["content"]["status"] != "ok":
            await kernel.shutdown_kernel(now=True)
            raise RuntimeError(f"the kernel's warm-up failed: {reply['content'].get('evalue')}")
        return kernel

    return asyncio.run(start())


def stop_kernel(kernel) -> None:
    """Stop a kernel started by :func:`start_kernel` at once (nbclient leaves one it did not start running)."""
    if kernel is not None and kernel.has_kernel:
        asyncio.run(kernel.shutdown_kernel(now=True))


class KernelPool:
    """Up to ``count`` kernels started ahead, one after the other in a background thread, at most ``ahead``
    of them waiting at any time. :meth:`take` gives the next (None if it could not be started: the chapter
    starts its own, as papermill does); :meth:`close` stops the thread and every kernel not taken."""

    def __init__(self, kernel_name: str, folder, count: int, ahead: int = 2, warm_up: str = WARM_UP) -> None:
        self._ready: queue.Queue = queue.Queue()
        self._left, self._lock = count, threading.Lock()
        self._room = threading.Semaphore(max(1, ahead))
        self._closed = threading.Event()
        self._thread = threading.Thread(
            target=self._fill, args=(kernel_name, folder, count, warm_up), name="psmbook-kernels", daemon=True
        )
        self._thread.start()

    def _fill(self, kernel_name, folder, count, warm_up) -> None:
        for _ in range(count):
            self._room.acquire()
            if self._closed.is_set():
                return
            try:
                kernel = start_kernel(kernel_name, folder, warm_up)
            except Exception:
                kernel = None
            self._ready.put(kernel)

    def take(self, timeout: float = 120):
        """The next kernel started ahead (waiting for the one being started), or None."""
        with self._lock:
            if self._closed.is_set() or self._left <= 0:
                return None
            self._left -= 1
        try:
            kernel = self._ready.get(timeout=timeout)
        except queue.Empty:
            return None
        self._room.release()
        return kernel

    def close(self) -> None:
        """Stop starting kernels and stop those not taken."""
        self._closed.set()
        self._room.release()  # a thread waiting for room wakes up and ends
        self._thread.join()
        while not self._ready.empty():
            stop_kernel(self._ready.get())


def register_engine() -> str:
    """Register the engine that writes the notebook at the end of the run with papermill; its name."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE, _engine_class())
    return ENGINE


@functools.cache
def _engine_class():
    from papermill.engines import NBClientEngine, NotebookExecutionManager

    class WriteAtEndManager(NotebookExecutionManager):
        """papermill's record of a run, writing the notebook when the run starts (the chapter reads its own
        metadata from it) and when it ends or fails, not before and after every cell."""

        quiet = False

        def save(self, **kwargs):
            if not self.quiet:
                super().save(**kwargs)

        def cell_start(self, cell, cell_index=None, **kwargs):
            self.quiet = True
            try:
                super().cell_start(cell, cell_index, **kwargs)
            finally:
                self.quiet = False

        def cell_complete(self, cell, cell_index=None, **kwargs):
            self.quiet = True
            try:
                super().cell_complete(cell, cell_index, **kwargs)
            finally:
                self.quiet = False

    class WriteAtEndEngine(NBClientEngine):
        """papermill's nbclient engine with :class:`WriteAtEndManager` (papermill's own execute_notebook,
        with the manager class swapped)."""

        @classmethod
        def execute_notebook(
            cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False, autosave_cell_every=30, **kw
        ):
            manager = WriteAtEndManager(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            manager.notebook_start()
            try:
                cls.execute_managed_notebook(manager, kernel_name, log_output=log_output, **kw)
            finally:
                manager.cleanup_pbar()
                manager.notebook_complete()
            return manager.nb

    return WriteAtEndEngine


def site_command(source) -> list[str]:
    """The command that builds the site from ``source`` (warnings are errors), Sphinx in ``SITE_JOBS`` processes."""
    return [
        sys.executable,
        "-m",
        "psmbook.book.execution",
        "build",
        str(source),
        "--warningiserror",
        "--nitpick",
        "--keep-going",
        "--quiet",
    ]


def without_iri_format() -> None:
    """jsonschema checks the formats "iri" and "iri-reference" with rfc3987-syntax when it is installed, which
    compiles its 38 grammars when imported: a second (three on a busy machine) in every process that reads a
    notebook (nbformat) or Jupyter Book's configuration, none of whose schemas uses those formats. Called
    before jsonschema is imported, this process goes without them (``import rfc3987_syntax`` raises the
    ImportError jsonschema expects of a package not installed); nothing else changes."""
    sys.modules.setdefault("rfc3987_syntax", None)


def run_jupyter_book(argv: list[str], jobs: int = SITE_JOBS) -> None:
    """Jupyter Book's command line (``jupyter-book build ...``) with Sphinx's ``parallel=jobs``, without the
    "iri" format check (:func:`without_iri_format`)."""
    without_iri_format()
    import jupyter_book.sphinx
    from jupyter_book.cli.main import main

    jupyter_book.sphinx.build_sphinx = functools.partial(jupyter_book.sphinx.build_sphinx, jobs=jobs)
    sys.argv = ["jupyter-book", *argv]
    main()


if __name__ == "__main__":
    run_jupyter_book(sys.argv[1:])
