"""The whole book as one PDF: each page of the built site printed by headless Chromium, merged in the order
of the table of contents, with a bookmark per page.

Chromium is the system's (Debian's ``chromium``); nothing is downloaded. The site is served on the
loopback interface while it prints, so that each page runs as in a browser (formulas typeset, long tables
shown whole by the site's print style). ``make pdf`` runs it on the built book::

    python -m psmbook.book.pdf book            # writes book/_build/pdf/book.pdf
"""

from __future__ import annotations

import argparse
import functools
import html as html_lib
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import yaml

#: Chromium's command names on Debian and elsewhere.
CHROMIUM_NAMES = ("chromium", "chromium-browser")
#: Flags for printing in a container: no sandbox, GPU, network chatter or header and footer lines.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=20000",  # scripts (MathJax, tables) run before the page prints
]
#: Where the PDF goes in the book folder.
PDF_PATH = Path("_build") / "pdf" / "book.pdf"
#: Seconds one page may take to print.
PAGE_TIMEOUT = 180


class PdfError(RuntimeError):
    """The PDF could not be made (no Chromium, no built site, a page that did not print)."""


def find_chromium() -> str:
    """The path of Chromium, or PdfError saying how to get it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("Chromium is not installed: `make pdf` installs Debian's package (apt-get install chromium)")


def toc_pages(book: Path) -> list[str]:
    """The pages of the built book (its ``_toc.yml``), in reading order."""
    toc_file = Path(book) / "_toc.yml"
    if not toc_file.is_file():
        raise PdfError(f"no built book in {Path(book).resolve()} (no _toc.yml): run `make book` first")
    toc = yaml.safe_load(toc_file.read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        pages += [entry["file"] for entry in part.get("chapters", [])]
    return pages


def page_title(page: Path) -> str:
    """The page's first heading as the reader sees it (without Sphinx's "#" link)."""
    text = page.read_text(encoding="utf-8", errors="replace")
    match = re.search(r"<h1[^>]*>(.*?)</h1>", text, flags=re.S)
    if not match:
        return page.stem
    heading = re.sub(r'<a class="headerlink".*?</a>', "", match.group(1), flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", "", heading))).strip()


@contextmanager
def served(folder: Path):
    """The folder served on 127.0.0.1 (a free port) while the block runs; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def print_page(chromium: str, url: str, target: Path) -> Path:
    """Print one page to ``target`` with headless Chromium."""
    with tempfile.TemporaryDirectory(prefix="psmbook-chromium-") as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={target}", url]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=PAGE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise PdfError(f"{url}: Chromium did not finish printing within {PAGE_TIMEOUT} s") from None
    if run.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-5:])
        raise PdfError(f"{url}: Chromium could not print it (exit {run.returncode})\n{tail}")
    return target


def merge(parts: list[tuple[str, Path]], out: Path) -> Path:
    """One PDF of the ``(title, file)`` parts in order, each part a bookmark; written whole or not at all."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for title, part in parts:
        start = len(writer.pages)
        writer.append(str(part))
        writer.add_outline_item(title=title, page_number=start)
    writer.add_metadata({"/Title": parts[0][0] if parts else "", "/Creator": "psmbook (Chromium, pypdf)"})
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".tmp")
    with open(partial, "wb") as sink:
        writer.write(sink)
    partial.replace(out)
    return out


def build_pdf(book: Path | str = "book", out: Path | str | None = None, *, say=print) -> Path:
    """Print every page of the built book's site, in the order of its table of contents, into one PDF.

    ``book``: the built book folder (with ``_toc.yml`` and ``_build/html``); ``out``: the PDF (default
    ``<book>/_build/pdf/book.pdf``). Returns its path.
    """
    book = Path(book)
    site = book / "_build" / "html"
    pages = toc_pages(book)
    missing = [p for p in pages if not (site / f"{p}.html").is_file()]
    if missing:
        raise PdfError(f"the site in {site} lacks pages {missing}: run `make book` first")
    chromium = find_chromium()
    target = Path(out) if out else book / PDF_PATH
    with tempfile.TemporaryDirectory(prefix="psmbook-pdf-") as scratch, served(site) as base:
        parts = []
        for number, page in enumerate(pages, start=1):
            say(f"  [{number}/{len(pages)}] printing {page}")
            part = print_page(chromium, f"{base}/{page}.html", Path(scratch) / f"{number:02d}-{page}.pdf")
            parts.append((page_title(site / f"{page}.html"), part))
        merge(parts, target)
    say(f"psmbook: the book as one PDF: {target}")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m psmbook.book.pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("book", nargs="?", default="book", help="the built book folder (default: book)")
    parser.add_argument("--out", help="the PDF to write (default: <book>/_build/pdf/book.pdf)")
    args = parser.parse_args(argv)
    try:
        build_pdf(args.book, args.out)
    except PdfError as error:
        print(f"psmbook: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
