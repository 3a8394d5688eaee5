"""The package reference page: every module listed under its stage, every docstring valid reStructuredText."""

import importlib
import inspect
import io
from pathlib import Path

import pytest
from docutils import nodes, utils
from docutils.core import publish_doctree
from docutils.parsers.rst import roles

from psmbook.book import reference

PACKAGE = Path(reference.__file__).resolve().parents[1]
ROLES = ["func", "class", "mod", "data", "meth", "attr", "exc", "obj", "const", "cite", "cite:p", "cite:t"]


def test_every_module_of_the_package_is_on_the_page_under_its_stage():
    listed = reference.modules()
    on_disk = {
        ".".join(("psmbook", *p.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        for p in PACKAGE.rglob("*.py")
        if p.name != "__main__.py"
    }
    stages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert stages == set(reference.STAGES), "a stage of the package without its line in reference.STAGES"
    expected = on_disk - {"psmbook"} - {f"psmbook.{s}" for s in stages}
    assert {m for names in listed.values() for m in names} == expected
    assert all(name.startswith(f"psmbook.{stage}.") for stage, names in listed.items() if stage for name in names)
    pages = reference.reference_pages()
    assert list(pages) == [reference.PAGE, reference.SECOND_PAGE]
    assert [reference.page_of(s) for s in [*reference.STAGES, ""]] == [reference.PAGE] * 4 + [reference.SECOND_PAGE] * 5
    for stage, names in listed.items():
        for name in names:  # each module once, on its stage's page
            on = reference.page_of(stage)
            assert all((f".. automodule:: {name}\n" in text) == (page == on) for page, text in pages.items()), name


def test_the_pages_are_dealt_to_sphinxs_processes_round_robin():
    from psmbook.book.sphinx_fixes import round_robin_chunks

    docs = ["01_cohort", "02_matching", "07_lab", "api", "api_analysis", "intro"]
    chunks = round_robin_chunks(docs, 2)
    assert chunks == [["01_cohort", "07_lab", "api_analysis"], ["02_matching", "api", "intro"]]
    assert round_robin_chunks(docs[:1], 2) == [["01_cohort"]] and round_robin_chunks(docs, 1) == [docs]


def test_a_numpy_parameters_section_becomes_a_rubric_and_a_field_list():
    lines = [
        "One row per category.",
        "",
        "Parameters",
        "----------",
        "df : patient-level data, one row per patient.",
        'test : ``"infer"`` recovers the test;',
        "    or one fixed test.",
        "",
        "Percentages: x : y stays prose, and |SMD| an absolute value, but ``a|b`` and :func:`f` are literal.",
    ]
    assert reference.clean_docstring(lines) == [
        "One row per category.",
        "",
        ".. rubric:: Parameters",
        "",
        ":df: patient-level data, one row per patient.",
        ':test: ``"infer"`` recovers the test;',
        "    or one fixed test.",
        "",
        "Percentages: x : y stays prose, and \\|SMD\\| an absolute value, but ``a|b`` and :func:`f` are literal.",
    ]


def _problems(text: str) -> list[str]:
    """docutils' complaints about a docstring (Sphinx's cross-reference roles stand for themselves)."""
    for name in ROLES:
        roles.register_local_role(name, lambda *args, **kw: ([nodes.literal(args[1], utils.unescape(args[2]))], []))
    settings = {"report_level": 2, "halt_level": 5, "warning_stream": io.StringIO()}
    doctree = publish_doctree(text, settings_overrides=settings)
    messages = [m.astext() for m in doctree.findall(nodes.system_message) if m["level"] >= 2]
    return messages + [f"cannot read {p.astext()!r}" for p in doctree.findall(nodes.problematic)]


def _docstrings():
    for names in reference.modules().values():
        for name in names:
            module = importlib.import_module(name)
            yield name, module
            for attr, value in vars(module).items():
                if getattr(value, "__module__", None) != name or attr.startswith("_"):
                    continue
                yield f"{name}.{attr}", value
                if inspect.isclass(value):
                    for member, item in vars(value).items():
                        if not member.startswith("_") and callable(item):
                            yield f"{name}.{attr}.{member}", item


def test_every_docstring_reads_as_restructured_text_once_cleaned():
    """What the book's -W build would refuse, said here with the name of the function at fault."""
    bad = {}
    for name, obj in _docstrings():
        doc = inspect.getdoc(obj)
        if doc:
            found = _problems("\n".join(reference.clean_docstring(doc.splitlines())))
            if found:
                bad[name] = found
    assert not bad, "\n".join(f"{name}: {found}" for name, found in bad.items())


@pytest.mark.parametrize("target", ["cox_univariate", "psmbook.cohort.synthetic.generate_cohort"])
def test_a_short_or_re_exported_reference_finds_the_one_documented_object(target):
    class Entry:
        def __init__(self, objtype):
            self.objtype, self.docname, self.node_id = objtype, "api", "x"

    objects = {
        "psmbook.analysis.survival.cox.cox_univariate": Entry("function"),
        "psmbook.cohort.synthetic.generate.generate_cohort": Entry("function"),
        "psmbook.study.ids": Entry("module"),
        "psmbook.paper.audit.common.PrintedNumbers.ids": Entry("method"),
    }

    class Domain:
        def __init__(self):
            self.objects = objects

        def objtypes_for_role(self, role):
            return {"func": ["function"], "mod": ["module"], "data": ["data"]}.get(role, [])

    class Env:
        def get_domain(self, name):
            return Domain()

    class Builder:
        def get_relative_uri(self, source, target):
            return "api.html"

    class App:
        builder = Builder()

    node = {"refdomain": "py", "reftarget": target, "reftype": "func", "refdoc": "api"}
    found = reference.resolve_short_reference(App(), Env(), node, nodes.literal("", target))
    assert found is not None and found["reftitle"].endswith(target.rsplit(".", 1)[-1])
    ambiguous = {"refdomain": "py", "reftarget": "ids", "reftype": "data", "refdoc": "api"}
    assert reference.resolve_short_reference(App(), Env(), ambiguous, nodes.literal("", "ids")) is None
    module = {"refdomain": "py", "reftarget": "ids", "reftype": "mod", "refdoc": "api"}
    assert reference.resolve_short_reference(App(), Env(), module, nodes.literal("", "ids")) is not None
