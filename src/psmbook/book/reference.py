"""The book's package reference: every module of psmbook, stage by stage, documented from its docstrings.

The pages are written into the book at each build (``api.md``, ``api_analysis.md``), from the modules the
package holds then, so they never list a module that is gone nor miss a new one. Sphinx's autodoc and autosummary
render them; this module is also the Sphinx extension that reads the docstrings as they are written: a numpy-style
"Parameters" section becomes a field list, ``|x|`` an absolute value (not a substitution), and a short
cross-reference (``:func:`cox_univariate```) finds the one documented object of that name.
"""

from __future__ import annotations

import re
from pathlib import Path

#: The package's folder (psmbook/, above psmbook/book/).
PACKAGE = Path(__file__).resolve().parents[1]
#: The file names of the two pages in the book (and in _toc.yml), and the stage the second one starts with.
PAGE, SECOND_PAGE, SECOND_PAGE_FROM = "api.md", "api_analysis.md", "analysis"

#: The package's stages in the order data flow through them (imports point down this list only), each
#: with what it holds.
STAGES: dict[str, str] = {
    "study": "the study description (typed), the published numbers, result ids, level codes",
    "present": "every number's format, the book's look, small-cell suppression, downloads of figures and tables",
    "cohort": "reading and validating a cohort, export, the synthetic generator and its truth, the patient flow",
    "matching": "the propensity-score model, the matchers, balance, psmpy's way",
    "analysis": "tests of association, Tables 1, 2 and 4, response, toxicity, survival (Kaplan-Meier, Cox), "
    "sensitivity",
    "paper": "the audit of the paper's printed numbers, reproduced beside published",
    "lab": "the matching explorer and the simulation study, for teaching",
    "book": "the pipeline (parameters, scheduling, cache, site), chapter set-up, tailoring, provenance, results",
}


#: members every pydantic model inherits, documented by pydantic rather than here
EXCLUDED = "   :exclude-members: model_config, model_fields, model_computed_fields"


def _package_modules() -> list[tuple[str, bool]]:
    """(dotted name, is a package) of every module below the package, as ``pkgutil.walk_packages`` finds them
    (packages are folders with an ``__init__.py``), read from the files: walk_packages imports every package
    to look inside it, which in the build's own process means lifelines, matplotlib and the rest, seconds
    before the first chapter can start."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        folders = path.relative_to(PACKAGE).parts[:-1]
        if not all((PACKAGE.joinpath(*folders[: i + 1]) / "__init__.py").is_file() for i in range(len(folders))):
            continue  # not inside a package (walk_packages would not look there)
        if path.name == "__init__.py":
            if folders:
                found.append((".".join(("psmbook", *folders)), True))
        elif path.stem.isidentifier():
            found.append((".".join(("psmbook", *folders, path.stem)), False))
    return found


def modules() -> dict[str, list[str]]:
    """Every module of the package by stage (``cli`` and the package itself under ``""``), sorted by name."""
    found: dict[str, list[str]] = {stage: [] for stage in STAGES}
    found[""] = []
    for name, ispkg in _package_modules():
        if name.endswith("__main__"):
            continue
        stage = name.split(".")[1]
        if ispkg and name.count(".") == 1:
            continue  # a stage's own package: the section heading stands for it
        found.setdefault(stage if stage in STAGES else "", []).append(name)
    unknown = [m for m in found[""] if m.split(".")[1] != "cli"]
    if unknown:
        raise ValueError(f"modules outside the package's stages {list(STAGES)}: {unknown}; add their stage to STAGES")
    return {stage: sorted(names) for stage, names in found.items()}


def _rst(*lines: str) -> str:
    return "```{eval-rst}\n" + "\n".join(lines) + "\n```\n"


def page_of(stage: str) -> str:
    """The reference page that documents `stage` (``""``: the command line, on the second page)."""
    stages = list(STAGES)
    later = stage == "" or stages.index(stage) >= stages.index(SECOND_PAGE_FROM)
    return SECOND_PAGE if later else PAGE


def reference_pages() -> dict[str, str]:
    """Each page's file name and MyST markdown: the stages up to :data:`SECOND_PAGE_FROM` on :data:`PAGE`, that
    stage and the later ones (and the command line) on :data:`SECOND_PAGE`; per stage an overview table, then
    each module's documented members.

    Two pages, not one: Sphinx reads them in its two processes at once (autodoc imports and parses every
    module, most of the site's build), which saves about four seconds of every build
    (:func:`psmbook.book.sphinx_fixes.round_robin_chunks` sends them to different processes)."""
    by_stage = modules()
    first = [
        "# The psmbook package\n",
        "The chapters are thin: each table, figure and glued number comes from a tested function of the "
        "`psmbook` package, documented here and on the [next page](api_analysis.md) from its docstrings. The "
        "package is laid out by stage of the analysis, in the order data flow through them; a module imports "
        "only from the stages above its own (`study` and `present` serve all), and `python -m psmbook` (the "
        "`cli` module) drives them. This page holds the stages up to the matching; the next, the analysis and "
        "what follows it.\n",
    ]
    second = [
        "# The psmbook package: the analysis and what follows it\n",
        "The stages from the analysis on, and the command line; the [first page](api.md) holds those before.\n",
    ]
    for stage, what in [*STAGES.items(), ("", "the command line: build, params, cohort, match, schema")]:
        names = by_stage.get(stage, [])
        if not names:
            continue
        parts = second if page_of(stage) == SECOND_PAGE else first
        title = f"psmbook.{stage}" if stage else "python -m psmbook"
        parts.append(f"## `{title}`: {what}\n")
        parts.append(_rst(".. autosummary::", "", *[f"   {name}" for name in names]))
        for name in names:
            parts.append(f"### `{name}`\n")
            parts.append(_rst(f".. automodule:: {name}", "   :members:", "   :ignore-module-all:", EXCLUDED))
    return {PAGE: "\n".join(first), SECOND_PAGE: "\n".join(second)}


def write_reference_pages(folder: Path) -> list[Path]:
    """Write the pages into the book's source folder."""
    written = []
    for name, text in reference_pages().items():
        target = Path(folder) / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


#: numpy-style section names (a line of dashes below) turned into a rubric
_SECTIONS = {"Parameters", "Other Parameters", "Attributes", "Returns", "Yields", "Raises", "Notes", "Examples",
             "See Also", "References"}  # fmt: skip
_LISTS = {"Parameters", "Other Parameters", "Attributes"}
_LITERAL = re.compile(r"(``.*?``|`[^`]*`)")


def _escape_bars(line: str) -> str:
    """``|x|`` outside literals and roles is an absolute value, not a substitution reference."""
    parts = _LITERAL.split(line)
    return "".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def clean_docstring(lines: list[str]) -> list[str]:
    """A docstring's lines (as autodoc gives them) made valid reStructuredText, in place and returned."""
    out: list[str] = []
    section, i = "", 0
    while i < len(lines):
        line = lines[i]
        below = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() in _SECTIONS and re.fullmatch(r"\s*-{3,}\s*", below):
            section = line.strip()
            if out and out[-1].strip():
                out.append("")
            out += [f".. rubric:: {section}", ""]
            i += 2
            continue
        if not line.strip():
            section = ""  # a blank line ends a list of parameters
        entry = re.fullmatch(r"(\S[^:]*?) : (.*)", line)
        if section in _LISTS and entry:
            line = f":{entry.group(1)}: {entry.group(2)}"
        out.append(_escape_bars(line))
        i += 1
    lines[:] = out
    return lines


def _clean(app, what, name, obj, options, lines):
    clean_docstring(lines)


def resolve_short_reference(app, env, node, contnode):
    """A Python cross-reference that names an object by its last parts finds it among the documented ones."""
    if node.get("refdomain") != "py":
        return None
    from sphinx.util.nodes import make_refnode

    target = node.get("reftarget", "").lstrip("~.")
    objects = env.get_domain("py").objects
    found = [name for name in objects if name == target or name.endswith("." + target)]
    if not found and "." in target:  # a name re-exported by a package: psmbook.cohort.synthetic.generate_cohort
        package, last = target.rsplit(".", 1)
        found = [name for name in objects if name.startswith(package + ".") and name.endswith("." + last)]
    if len(found) > 1:  # one of the kind the role asks for (a function for :func:, ...)
        kinds = env.get_domain("py").objtypes_for_role(node.get("reftype", "")) or []
        found = [name for name in found if objects[name].objtype in kinds]
    if len(found) != 1:
        return None
    entry = objects[found[0]]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, found[0])


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.autosummary")
    app.connect("autodoc-process-docstring", _clean)
    app.connect("missing-reference", resolve_short_reference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
