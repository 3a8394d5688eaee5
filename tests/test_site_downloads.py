"""The built site's downloads, long tables and package reference, as a reader meets them.

Every figure of every chapter has its SVG and PDF linked right below it, every table its CSV; the files
are in the site; the long tables sort and search in headless Chromium without any network; the package
reference page documents every module.
"""

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path

import pytest
import yaml

from psmbook.book import reference
from psmbook.present import downloads

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PANDAS_TABLE = re.compile(r'<table[^>]*(?:class="dataframe|id="T_)')
FIGURE = re.compile(r'<img [^>]*src="_images/[^"]+\.png"')

pytestmark = pytest.mark.book


def chapter_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [entry["file"] for entry in toc["chapters"] if re.match(r"\d\d_", entry["file"])]


def _html(built) -> Path:
    return built[0] / "_build" / "html"


def _followed_by(text: str, starts: list[int], link: re.Pattern) -> list[int]:
    """The positions in ``starts`` whose next ``link`` comes before the next start (or the end)."""
    ends = [*starts[1:], len(text)]
    return [s for s, e in zip(starts, ends) if link.search(text, s, e)]


@pytest.mark.parametrize("page", chapter_pages())
def test_every_figure_and_table_has_its_downloads_right_below_it(built, page):
    html = _html(built)
    text = (html / f"{page}.html").read_text()
    figures = [m.start() for m in FIGURE.finditer(text)]
    tables = [m.start() for m in PANDAS_TABLE.finditer(text)]
    assert figures or tables, f"{page}: no figure and no table?"
    figure_links = re.compile(r'Download figure \d+: <a href="[^"]+\.svg"[^>]*>SVG</a> · <a href="[^"]+\.pdf"')
    table_link = re.compile(r'Download table \d+: <a href="[^"]+\.csv"')
    assert _followed_by(text, figures, figure_links) == figures, f"{page}: a figure without its SVG and PDF"
    assert _followed_by(text, tables, table_link) == tables, f"{page}: a table without its CSV"
    for href in set(re.findall(r'href="(_static/downloads/[^"]+)"', text)):
        file = html / href
        assert file.is_file() and file.stat().st_size > 0, href
        assert file.name.startswith(page.split("_", 1)[1] + "-"), f"{href}: named after another chapter"
        if file.suffix == ".svg":
            assert file.read_bytes().startswith(b"<?xml") and b"<dc:date>" not in file.read_bytes()
        if file.suffix == ".pdf":
            assert file.read_bytes().startswith(b"%PDF")


def test_downloads_are_numbered_in_order_with_no_gap(built):
    files = [p.name for p in (_html(built) / downloads.DOWNLOADS).iterdir()]
    for chapter in {name.split("-", 1)[0] for name in files}:
        for kind in ("figure", "table"):
            numbers = sorted(int(m.group(1)) for f in files if (m := re.fullmatch(rf"{chapter}-{kind}-(\d+)\.\w+", f)))
            assert sorted(set(numbers)) == list(range(1, len(set(numbers)) + 1)), (chapter, kind)


def test_each_chapter_owns_its_downloads_so_a_reused_chapter_brings_them_back(built):
    manifest = json.loads((built[0] / ".psmbook-cache.json").read_text())
    owned = set()
    for chapter, entry in manifest.items():
        mine = [f for f in entry["files"] if f.startswith(downloads.DOWNLOADS + "/")]
        assert mine and all(f.startswith(f"{downloads.DOWNLOADS}/{chapter}-") for f in mine), chapter
        owned |= set(mine)
    on_site = {f"{downloads.DOWNLOADS}/{p.name}" for p in (_html(built) / downloads.DOWNLOADS).iterdir()}
    assert on_site == owned


def test_the_package_reference_documents_every_module(built):
    text = "".join((_html(built) / name).with_suffix(".html").read_text() for name in reference.reference_pages())
    for name in [m for names in reference.modules().values() for m in names]:
        assert f'id="module-{name}"' in text, name
    assert 'class="' + downloads.LONG_TABLE_CLASS + '"' not in text  # the table library is not loaded there


@pytest.fixture(scope="module")
def site(built):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(_html(built))))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")
def test_the_long_tables_sort_and_search_offline(built, site):
    from playwright.sync_api import sync_playwright

    page_html = (_html(built) / "06_discussion.html").read_text()
    long_tables = re.findall(r'<div class="psmbook-long-table">\s*<div id="([\w-]+)-static">', page_html)
    assert long_tables, "the discussion's long tables are not interactive"
    first = long_tables[0]
    csv = _html(built) / downloads.DOWNLOADS / f"{first}.csv"
    import pandas as pd

    frame = pd.read_csv(csv)
    rows, header, computed = len(frame), list(frame.columns), frame["computed"].dropna()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems, hosts = [], set()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: hosts.add(re.sub(r"^(\w+:/*[^/]*).*", r"\1", r.url)))
        page.goto(f"{site}/06_discussion.html", wait_until="networkidle")
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        table = page.locator(f"#{first}").locator("xpath=ancestor::div[contains(@class, 'dt-container')]")
        table.locator(".dt-info").wait_for(timeout=15000)
        assert f"of {rows} entries" in table.locator(".dt-info").inner_text()  # every row, 25 to a page
        assert page.locator(f"#{first}-static").is_hidden()  # the static copy is for print and notebooks
        column = header.index("computed") + 1
        order = table.locator("thead th").filter(has_text=re.compile(r"^computed$")).locator(".dt-column-order").first
        order.click()  # the sort arrows (the header's text stays selectable)
        order.click()  # descending
        values = [float(v) for v in table.locator(f"tbody tr td:nth-child({column})").all_inner_texts()]
        assert values == sorted(values, reverse=True) and values[0] == max(computed), values
        table.locator("input[type=search]").fill("table3")
        rows = table.locator("tbody tr")  # a row matches when any of its cells does (an id, or an explanation)
        info = table.locator(".dt-info").inner_text()
        assert "filtered from" in info and all("table3" in r for r in rows.all_inner_texts())
        browser.close()
    assert not problems, problems
    assert {h for h in hosts if not h.startswith(("blob:", "data:"))} == {site}, hosts  # nothing from outside
