"""The rendered site as a reader meets it, in headless Chromium (Debian's package).

Every page of the table of contents loads without a console error, every image has loaded with a
non-zero size, and no internal link is broken. A full-page screenshot of each page, at desktop and
phone width, is saved to ``test-artifacts/screenshots`` (or $SCREENSHOT_DIR) for people to look at.
"""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = [
    pytest.mark.book,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)"),
]


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        pages += [entry["file"] for entry in part["chapters"]]
    return pages


@pytest.fixture(scope="module")
def site(built):
    """The built site served on the loopback interface."""
    html = built[0] / "_build" / "html"

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield html, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("page_name", toc_pages())
def test_page_loads_cleanly_with_its_images(site, browser, page_name):
    html, base = site
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    response = page.goto(f"{base}/{page_name}.html", wait_until="networkidle")
    assert response is not None and response.ok, f"{page_name}: HTTP {response and response.status}"
    broken_images = page.evaluate("""() => Array.from(document.images)
        .filter(i => !(i.complete && i.naturalWidth > 0 && i.naturalHeight > 0)).map(i => i.src)""")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{page_name}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"{page_name}.phone.png"), full_page=True)
    page.close()
    assert not broken_images, f"{page_name}: images not loaded: {broken_images}"
    assert not problems, f"{page_name}:\n" + "\n".join(problems)


def test_no_internal_link_is_broken(site):
    html, _ = site
    anchors: dict[Path, set[str]] = {}

    def ids(path: Path) -> set[str]:
        if path not in anchors:
            anchors[path] = set(re.findall(r'\bid="([^"]+)"', path.read_text(errors="replace")))
        return anchors[path]

    broken = []
    for page in sorted(html.glob("*.html")):
        for href in re.findall(r'\bhref="([^"]+)"', page.read_text(errors="replace")):
            if urlparse(href).scheme or href.startswith(("mailto:", "//", "javascript:")):
                continue
            parsed = urlparse(unquote(href))
            target, fragment = parsed.path, parsed.fragment
            path = (page.parent / target).resolve() if target else page
            if path.is_dir():
                path = path / "index.html"
            if not path.exists():
                broken.append(f"{page.name}: {href} (no file)")
            elif fragment and path.suffix == ".html" and fragment not in ids(path):
                broken.append(f"{page.name}: {href} (no anchor)")
    assert not broken, "\n".join(broken[:30])
