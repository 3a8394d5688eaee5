"""Run the book: execute every chapter with papermill, build the site with Jupyter Book, publish.

The work happens in a staging folder (``.build/stage``). The previous book in ``book/`` is replaced
only when every chapter ran and the site built without a warning; a failing chapter leaves its
executed notebook, failing cell included, in the staging folder and the message names both.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from psmbook.book import execution, stops, tailoring
from psmbook.book import parameters as params_mod

KERNEL_NAME = "psmbook"
#: files of the book's source tree that are copied as they are into the built book
STATIC_SUFFIXES = (".md", ".bib", ".png", ".svg")


class BuildError(RuntimeError):
    """A chapter or the site build failed; the previous book is untouched."""


@dataclass(frozen=True)
class Layout:
    """Where the book's sources are and where its outputs go."""

    root: Path
    out: Path | None = None

    @property
    def chapters(self) -> Path:
        return self.root / "chapters"

    @property
    def book(self) -> Path:
        return self.out or self.root / "book"

    @property
    def stage(self) -> Path:
        """Beside the book folder, so that two books built at once never share a stage."""
        return self.book.parent / ".build" / f"stage-{self.book.name}"


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder above ``start`` holding _config.yml and chapters/."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "chapters").is_dir():
            return folder
    raise FileNotFoundError(f"no book project (_config.yml and chapters/) at or above {here}")


def _say(message: str) -> None:
    print(message, flush=True)


def _kernel_environment() -> dict[str, str]:
    """Make Jupyter find this environment's kernel before any user-wide kernel of the same name."""
    env = dict(os.environ)
    own = str(Path(sys.prefix) / "share" / "jupyter")
    env["JUPYTER_PATH"] = os.pathsep.join([own, env.get("JUPYTER_PATH", "")]).rstrip(os.pathsep)
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def _check_kernel() -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    os.environ.update(_kernel_environment())
    try:
        KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        raise BuildError(
            f"Jupyter kernel {KERNEL_NAME!r} is not registered; run `make setup` "
            f"(or: {sys.executable} -m ipykernel install --sys-prefix --name {KERNEL_NAME})"
        )


def _fresh_stage(layout: Layout) -> Path:
    stage = layout.stage
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    for source in sorted(layout.chapters.iterdir()):
        if source.suffix in STATIC_SUFFIXES:
            shutil.copy2(source, stage / source.name)
        elif source.is_dir() and source.name == "_static":
            shutil.copytree(source, stage / "_static")
    shutil.copy2(layout.root / "_toc.yml", stage / "_toc.yml")
    from psmbook.book.reference import write_reference_pages

    write_reference_pages(stage)  # the package reference, from the modules the package holds now
    return stage


SYNTHETIC_ANNOUNCEMENT = (
    "Synthetic data: every patient-level result in this book comes from a synthetic "
    "cohort calibrated to the paper's published tables, not from real patients."
)


def repository_settings(root: Path) -> dict[str, Any]:
    """Jupyter Book settings for the repository and launch buttons, from the git remote ``origin``.

    A page's launch button opens its source notebook (``chapters/``) on Binder, set up by ``binder/``;
    a checkout without a public https remote gets no launch buttons (there is nowhere to launch from).
    """

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    url = git("remote", "get-url", "origin")
    match = re.fullmatch(r"(?:git@|ssh://git@)github\.com[:/](.+?)(?:\.git)?", url)
    if match:
        url = f"https://github.com/{match.group(1)}"
    url = re.sub(r"\.git$", "", url)
    if not re.fullmatch(r"https://(github\.com|gitlab\.com)/[\w.-]+/[\w.-]+", url):
        return {}
    branch = git("symbolic-ref", "--short", "HEAD") or "main"
    return {
        "repository": {"url": url, "path_to_book": "chapters", "branch": branch},
        "launch_buttons": {"binderhub_url": "https://mybinder.org", "notebook_interface": "jupyterlab"},
        "html": {"use_repository_button": True},
    }


def write_config(
    root: Path, stage: Path, synthetic: bool, study_name: str | None = None, title: str | None = None
) -> None:
    """The book's _config.yml, with a site-wide banner saying what data the book ran on."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    if title:
        config["title"] = title
    for key, settings in repository_settings(root).items():
        config.setdefault(key, {}).update(settings)
    if synthetic:
        config.setdefault("html", {})["announcement"] = SYNTHETIC_ANNOUNCEMENT
    elif study_name:
        config.setdefault("html", {})["announcement"] = (
            f"This build of the book ran on {study_name}: every result comes from that cohort; "
            "tables show aggregates only."
        )
    (stage / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send this process's (and the kernel's) stderr to a file: kernels print start-up chatter there."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def execute_chapter(notebook: Path, stage: Path, values: dict[str, Any], *, redirect: bool = True, kernel=None) -> Path:
    """Execute one chapter notebook into the staging folder, with the given parameters.

    ``redirect=False`` when the caller already sends stderr to the stage's kernel-stderr.log (chapters
    running side by side share one redirection). The kernel starts in the stage (nbclient's
    ``resources.metadata.path``), not through papermill's ``cwd``, which changes the working directory
    of this whole process and so cannot serve two chapters at once. ``kernel``: one started ahead in the
    stage (:class:`psmbook.book.execution.KernelPool`), stopped here when the chapter ends."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    target = stage / Path(notebook).name
    try:
        with _stderr_to(stage / "kernel-stderr.log") if redirect else contextlib.nullcontext():
            papermill.execute_notebook(
                str(notebook),
                str(target),
                parameters=values,
                kernel_name=KERNEL_NAME,
                resources={"metadata": {"path": str(stage)}},
                progress_bar=False,
                log_output=False,
                report_mode=False,
                **execution.papermill_options(kernel),  # notebook written at the start and end only
            )
    except PapermillExecutionError as error:
        stops.raise_if_stopped(params_mod.chapter_name(notebook), error)  # the data cannot support its analysis
        cell = error.exec_count if error.exec_count is not None else error.cell_index
        raise BuildError(
            f"chapter {params_mod.chapter_name(notebook)!r} failed in cell {cell}: "
            f"{error.ename}: {error.evalue}\n  the executed notebook, failing cell included: {target}"
        ) from None
    finally:
        execution.stop_kernel(kernel)
    scrub_run_details(target)
    return target


#: papermill's and nbclient's clock readings, which differ on every run and say nothing of the results
_TIMING_KEYS = ("start_time", "end_time", "duration")


def scrub_run_details(notebook: Path) -> None:
    """Remove what differs from run to run in an executed notebook and says nothing of the results: the
    clock readings of papermill and nbclient (start, end and duration of the run and of each cell), the
    stderr of cells tagged ``remove-stderr`` (progress bars with their timings, hidden on the page), and the
    folders it ran in (papermill's input and output paths, reduced to the file names), so that identical
    inputs give an identical notebook and site and no path of the user's reaches the site. The chapter's
    provenance box keeps when it ran, and the build prints each chapter's time."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    for meta in [nb.metadata, *(cell.metadata for cell in nb.cells)]:
        meta.pop("execution", None)
        for key in _TIMING_KEYS:
            meta.get("papermill", {}).pop(key, None)
    for cell in nb.cells:  # progress bars (with their timings) the page hides anyway
        if "remove-stderr" in cell.metadata.get("tags", []) and "outputs" in cell:
            cell.outputs = [
                o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    for key in ("input_path", "output_path"):
        if nb.metadata.get("papermill", {}).get(key):
            nb.metadata["papermill"][key] = Path(nb.metadata["papermill"][key]).name
    nbformat.write(nb, str(notebook))


@dataclass(frozen=True)
class Inputs:
    """The study description a build runs on (the packaged synthetic study by default) and a fingerprint
    of its file and the data file, for the cache keys."""

    study: Any
    fingerprint: str


#: stage folder of links to the data and study files, so that chapters are given relative paths (no
#: folder of the user's machine in a page, a notebook or a results file); removed before the site is built
INPUTS = ".inputs"


def _link_inputs(values: dict[str, Any], stage: Path) -> dict[str, Any]:
    """``values`` with an absolute ``data`` or ``study`` path replaced by a link inside the stage under the
    file's own name (``.inputs/data/cohort.csv``), relative to the stage where the chapters run."""
    linked = dict(values)
    for name in ("data", "study"):
        value = str(values.get(name) or "")
        if value and not value.startswith("pkg:"):
            link = stage / INPUTS / name / Path(value).name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(value)
            linked[name] = link.relative_to(stage).as_posix()
    return linked


def check_inputs(values: dict[str, Any]) -> Inputs:
    """Load the study description and validate the data against it, before any chapter runs.

    Raises ParameterError for a missing or unreadable ``study`` or a ``data`` without its description
    (or the reverse), and validation.DataError listing every problem of the data.
    """
    from psmbook.cohort import protocol, reading
    from psmbook.study.description import load_study

    study_path, data = values.get("study") or None, values.get("data") or None
    try:
        study = load_study(study_path)
    except (ValueError, FileNotFoundError) as error:
        raise params_mod.ParameterError([f"study={study_path!r}: {error}"]) from None
    problems: list[str] = []  # (covariates and ps_formula were checked against it by resolve)
    if data and not study_path:
        problems.append(
            f"data={data!r} needs its study description: add study=path/to/study.yaml (see examples/ and the README)"
        )
    if not data and not study.synthetic:
        problems.append(
            f"study={study_path!r} describes real data (synthetic: false): give its data file, data=path/to/cohort.csv"
        )
    if problems:
        raise params_mod.ParameterError(problems)
    digest = hashlib.sha256()
    digest.update((Path(study_path).read_bytes() if study_path else b"packaged"))
    if data:
        path = reading.resolve_data_path(data)
        protocol.load_cohort(data, study)  # the protocol applied, then checked; DataError: every problem at once
        digest.update(path.read_bytes())
    return Inputs(study=study, fingerprint=digest.hexdigest())


def stage_notebook(notebook: Path, stage: Path, study) -> tuple[Path | None, list[str]]:
    """Write the chapter, tailored to the study, into the stage's sources; or its skipped page.

    Returns (path of the tailored notebook or None when skipped, the needs the study does not meet).
    """
    from psmbook.book import tailoring

    source = json.loads(notebook.read_text())
    missing = tailoring.unmet(study, tailoring.chapter_needs(source))
    if missing:
        (stage / f"{notebook.stem}.md").write_text(tailoring.skipped_page(source, study, missing))
        return None, missing
    folder = stage / SOURCES
    folder.mkdir(exist_ok=True)
    target = folder / notebook.name
    target.write_text(json.dumps(tailoring.tailor(source, study), indent=1, ensure_ascii=False))
    return target, []


def build_site(stage: Path) -> Path:
    """Jupyter Book on the executed notebooks (no execution, warnings are errors)."""
    command = execution.site_command(stage)  # jupyter-book build, Sphinx in two processes
    result = subprocess.run(command, capture_output=True, text=True, env=_kernel_environment())
    log = stage / "jupyter-book.log"
    log.write_text(result.stdout + "\n" + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-25:])
        raise BuildError(f"the site build failed (warnings are errors); full log: {log}\n{tail}")
    return stage / "_build" / "html"


def publish(stage: Path, book: Path) -> None:
    """Replace the generated contents of ``book/`` with the staged build."""
    book.mkdir(parents=True, exist_ok=True)
    keep = {"README.md"}
    for entry in book.iterdir():
        if entry.name in keep:
            continue
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for entry in stage.iterdir():
        if entry.name in keep:
            continue
        shutil.move(str(entry), str(book / entry.name))
    shutil.rmtree(stage, ignore_errors=True)


MANIFEST = ".psmbook-cache.json"
#: stage folder of the chapter sources tailored to the study (not part of the book)
SOURCES = ".sources"


def chapter_inputs(notebook: Path, earlier: list[str]) -> list[str]:
    """The earlier chapters whose outputs a chapter reads, as its notebook metadata declares them
    (``psmbook.reads``); BuildError for a declared chapter that is not an earlier one.

    The chapter itself reads those outputs only through :class:`psmbook.book.chapter.Chapter`, which
    refuses an undeclared one, so the pipeline's schedule and the chapter's reads cannot drift apart.
    """
    from psmbook.book.chapter import declared_reads  # (the chapters' set-up: pandas, matplotlib; not needed here)

    declared = declared_reads(json.loads(Path(notebook).read_text()))
    unknown = [c for c in declared if c not in earlier]
    if unknown:
        raise BuildError(
            f"chapter {params_mod.chapter_name(notebook)!r} declares it reads {unknown} (metadata psmbook.reads), "
            f"which are not earlier chapters; earlier: {earlier}"
        )
    return [name for name in earlier if name in declared]


def package_files() -> list[Path]:
    """The package's code and data files (every stage, not only this one): what the cache keys hash."""
    package = Path(__file__).resolve().parents[1]  # psmbook/, above psmbook/book/
    return [
        path
        for path in sorted(package.rglob("*"))
        if path.suffix in {".py", ".yaml", ".csv", ".bib"} and "__pycache__" not in path.parts
    ]


def _package_fingerprint() -> str:
    """The package's code and data: a change there re-executes every chapter."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in package_files():
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _chapter_key(notebook: Path, values: dict, inputs: list[str], keys: dict[str, str], package: str) -> str:
    payload = json.dumps(
        {
            "source": hashlib.sha256(notebook.read_bytes()).hexdigest(),
            "package": package,
            "parameters": values,
            "inputs": {name: keys[name] for name in inputs},
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _files(folder: Path) -> dict[str, float]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and "_build" not in p.parts
    }


def _reuse(book: Path, stage: Path, notebook: Path, entry: dict | None, key: str) -> bool:
    """Copy a chapter's executed notebook and the files it wrote from the last book, if still valid."""
    if not entry or entry.get("key") != key:
        return False
    names = [notebook.name, *entry.get("files", [])]
    if not all((book / name).is_file() for name in names):
        return False
    for name in names:
        target = stage / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(book / name, target)
    return True


def _execute_all(
    pending: dict[str, tuple[int, Path, dict, list[str]]], stage: Path, jobs: int, total: int, priority
) -> dict[str, dict]:
    """Execute the pending chapters, up to ``jobs`` at a time, each once the chapters it reads are done.

    Returns, per chapter, the files it wrote and its time. A chapter's files are those that changed while
    it ran, less the other chapters' notebooks and results (chapters running side by side write only
    their own results, and the data files of the chapters they read were written before they started).
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    done: dict[str, dict] = {}
    running: dict = {}
    failure: BuildError | None = None

    def run(chapter: str) -> dict:
        from psmbook.present import downloads  # (while the first kernel starts: pandas, matplotlib)

        number, source, chapter_values, _ = pending[chapter]
        tick = time.perf_counter()
        before = _files(stage)
        execute_chapter(source, stage, chapter_values, redirect=False, kernel=kernels.take())
        after = _files(stage)
        others = {f"results/{c}.json" for c in pending if c != chapter}
        # and the downloads of the chapters running beside it (psmbook.present.downloads: <chapter>-figure-1.svg)
        theirs = tuple(f"{downloads.DOWNLOADS}/{c}-" for c in pending if c != chapter)
        written = sorted(
            name
            for name, mtime in after.items()
            if before.get(name) != mtime
            and "/" in name
            and name not in others
            and not name.startswith(theirs)
            and not name.endswith((".log", ".tmp"))
        )
        return {"files": written, "seconds": round(time.perf_counter() - tick, 1), "number": number}

    with (
        _stderr_to(stage / "kernel-stderr.log"),
        ThreadPoolExecutor(max_workers=max(1, jobs)) as pool,
        contextlib.closing(execution.KernelPool(KERNEL_NAME, stage, len(pending), ahead=max(1, jobs))) as kernels,
    ):
        while len(done) < len(pending) and failure is None:
            ready = [
                c
                for c in pending
                if c not in done
                and c not in running.values()
                and all(i in done or i not in pending for i in pending[c][3])
            ]
            ready = stops.stop_readers(ready, done, pending)  # a chapter that reads a stopped one stops too
            for chapter in sorted(ready, key=priority)[: max(1, jobs) - len(running)]:
                running[pool.submit(run, chapter)] = chapter
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED) if running else ((), ())
            for future in finished:
                chapter = running.pop(future)
                try:
                    done[chapter] = future.result()
                except stops.ChapterStopped as stop:  # its page says why; the build goes on
                    _say(stops.record(done, pending, stop, total))
                    continue
                except BuildError as error:
                    failure = failure or error
                    continue
                result = done[chapter]
                _say(f"  [{result['number']}/{total}] {chapter:<12} done in {result['seconds']:.1f} s")
        for future in list(running):  # let chapters already running finish before reporting
            future.exception()
    if failure is not None:
        raise failure
    return done


def build(
    overrides: dict[str, str] | None = None,
    *,
    root: Path | None = None,
    out: Path | None = None,
    force: bool = False,
    jobs: int = 2,
) -> Path:
    """Execute every chapter and build the site; return the path of the site's index.html.

    A chapter whose source, parameters, package code and inputs (the earlier chapters it reads) are
    unchanged since the last build is not executed again: its executed notebook and the files it wrote
    are reused from the last book (``force=True`` executes everything). Chapters that do not read each
    other run side by side, ``jobs`` at a time (the longest of the last build first).
    """
    layout = Layout(find_root(root), Path(out).resolve() if out else None)
    known = params_mod.discover(layout.chapters)
    values = params_mod.resolve(overrides or {}, known)  # nothing runs on a bad parameter
    for name in ("data", "study"):  # chapters run in the stage: absolute paths
        if values.get(name) and not str(values[name]).startswith("pkg:"):
            values[name] = str(Path(values[name]).expanduser().resolve())
    inputs_ = check_inputs(values)  # nor on data that do not fit their description
    notebooks = params_mod.chapter_notebooks(layout.chapters)
    _check_kernel()
    stage = _fresh_stage(layout)
    study = inputs_.study
    write_config(
        layout.root, stage, synthetic=study.synthetic, study_name=study.name, title=None if study.paper else study.name
    )
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "defaults"
    _say(f"psmbook: executing {len(notebooks)} chapters ({shown})")
    values = _link_inputs(values, stage)  # the chapters (and their pages) see the files' names, not their folders
    last = _read_manifest(layout.book)  # also how long each chapter took last time
    previous = {} if force else last
    package = _package_fingerprint() + inputs_.fingerprint
    manifest: dict[str, dict] = {}
    keys: dict[str, str] = {}
    outline: list[tuple[str, list[str] | str]] = []  # title, unmet needs or why it stopped
    pending: dict[str, tuple[int, Path, dict, list[str]]] = {}  # chapter -> (number, source, values, inputs)
    started = time.perf_counter()
    for number, notebook in enumerate(notebooks, start=1):  # plan: skip, reuse or execute
        chapter = params_mod.chapter_name(notebook)
        chapter_values = params_mod.for_chapter(values, known, chapter)
        source, missing = stage_notebook(notebook, stage, study)
        outline.append((_title(source or notebook), missing))
        head = f"  [{number}/{len(notebooks)}] {chapter:<12} "
        if source is None:
            keys[chapter] = "skipped"
            _say(f"{head}skipped: the study does not meet its needs ({', '.join(missing)})")
            continue
        inputs = chapter_inputs(source, list(keys))
        keys[chapter] = _chapter_key(source, chapter_values, inputs, keys, package)
        if _reuse(layout.book, stage, notebook, previous.get(chapter), keys[chapter]):
            manifest[chapter] = previous[chapter]
            _say(f"{head}unchanged: reused from the last build")
            continue
        pending[chapter] = (number, source, chapter_values, inputs)
    if pending:
        _say(f"  executing {len(pending)} chapter(s), up to {jobs} at a time, each once those it reads are done")
    order = {c: i for i, c in enumerate(pending)}
    expected = {c: last.get(c, {}).get("seconds", 0.0) for c in pending}
    for chapter, seconds in _execute_all(
        pending, stage, jobs, len(notebooks), priority=lambda c: (-expected[c], order[c])
    ).items():
        if stops.write_stopped_page(stage, pending[chapter][1], study, chapter, seconds):  # not cached if so
            outline[pending[chapter][0] - 1] = (outline[pending[chapter][0] - 1][0], seconds["stopped"])
        else:
            manifest[chapter] = {"key": keys[chapter], "files": seconds["files"], "seconds": seconds["seconds"]}
    (stage / MANIFEST).write_text(json.dumps(manifest, indent=1))
    shutil.rmtree(stage / SOURCES, ignore_errors=True)
    shutil.rmtree(stage / INPUTS, ignore_errors=True)
    if not study.paper:  # the opening page tells what ran, on which study
        min_cell = values.get("min_cell", known["min_cell"].default if "min_cell" in known else 0)
        (stage / "intro.md").write_text(tailoring.intro_page(study, min_cell, outline))
    print("  building the site (Jupyter Book, warnings are errors) ", end="", flush=True)
    tick = time.perf_counter()
    build_site(stage)
    _say(f"done in {time.perf_counter() - tick:.1f} s")
    publish(stage, layout.book)
    index = layout.book / "_build" / "html" / "index.html"
    _say(f"psmbook: done in {time.perf_counter() - started:.0f} s. The site: {index}")
    _say(f"         results: {layout.book / 'results'}")
    return index


def _title(notebook: Path) -> str:
    return tailoring.chapter_title(json.loads(notebook.read_text()))


def _read_manifest(book: Path) -> dict:
    try:
        return json.loads((book / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
