"""`make pdf`: every page of the built site printed by Debian's headless Chromium, merged in the order of the
table of contents, one bookmark per page; and the whole book's PDF holds every chapter."""

import re
import shutil

import pytest

from psmbook.book import pdf

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"
)


def _text(path) -> list[str]:
    from pypdf import PdfReader

    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in PdfReader(str(path)).pages]


def _site(folder, pages: dict[str, str], toc: str):
    html = folder / "_build" / "html"
    html.mkdir(parents=True)
    for name, body in pages.items():
        (html / f"{name}.html").write_text(f"<!doctype html><html><body>{body}</body></html>")
    (folder / "_toc.yml").write_text(toc)
    return folder


def test_pages_and_titles_follow_the_table_of_contents(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: 02_b\n  - file: 01_a\n")
    assert pdf.toc_pages(tmp_path) == ["intro", "02_b", "01_a"]
    page = tmp_path / "p.html"
    page.write_text('<h1>Survival: <em>PFS</em> &amp; OS<a class="headerlink" href="#s" title="link">#</a></h1>')
    assert pdf.page_title(page) == "Survival: PFS & OS"


def test_no_built_book_is_named_not_crashed(tmp_path):
    with pytest.raises(pdf.PdfError, match="make book"):
        pdf.build_pdf(tmp_path)
    _site(tmp_path, {"intro": "<h1>Intro</h1>"}, "format: jb-book\nroot: intro\nchapters:\n  - file: gone\n")
    with pytest.raises(pdf.PdfError, match=r"lacks pages \['gone'\]"):
        pdf.build_pdf(tmp_path)


@needs_chromium
def test_a_small_site_prints_into_one_pdf_in_toc_order_with_bookmarks(tmp_path):
    pages = {
        "intro": "<h1>Opening page</h1><p>alpha text</p>",
        "01_cohort": "<h1>The cohort</h1><p>" + "cohort words " * 900 + "</p>",  # more than one sheet
        "02_matching": "<h1>Matching</h1><p>omega text</p>",
    }
    book = _site(tmp_path / "book", pages, "format: jb-book\nroot: intro\nchapters:\n"
                 "  - file: 02_matching\n  - file: 01_cohort\n")  # fmt: skip
    messages = []
    out = pdf.build_pdf(book, say=messages.append)
    assert out == book / "_build" / "pdf" / "book.pdf" and messages[-1].endswith(str(out))
    text = _text(out)
    order = [next(i for i, t in enumerate(text) if title in t) for title in ("Opening page", "Matching", "The cohort")]
    assert order == sorted(order) and len(text) >= 4
    from pypdf import PdfReader

    reader = PdfReader(str(out))
    marks = [(m.title, reader.get_destination_page_number(m)) for m in reader.outline]
    assert [t for t, _ in marks] == ["Opening page", "Matching", "The cohort"]
    assert [p for _, p in marks] == [0, 1, 2]
    assert not list((book / "_build" / "pdf").glob("*.tmp"))


@pytest.mark.book
@needs_chromium
def test_the_book_pdf_holds_every_chapter_in_order(built, tmp_path):
    book, _ = built
    out = pdf.build_pdf(book, tmp_path / "book.pdf")
    from pypdf import PdfReader

    reader, text = PdfReader(str(out)), _text(out)
    titles = [pdf.page_title(book / "_build" / "html" / f"{page}.html") for page in pdf.toc_pages(book)]
    marks = [(m.title, reader.get_destination_page_number(m)) for m in reader.outline]
    assert [t for t, _ in marks] == titles  # one bookmark per page of the table of contents, in its order
    starts = [p for _, p in marks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    for title, start in marks:  # each chapter's pages open with its title
        assert re.sub(r"\s+", " ", title) in text[start], f"{title!r} not on page {start + 1}"
    assert "synthetic cohort" in text[starts[1]]  # the pages print as the reader sees them, banner included
