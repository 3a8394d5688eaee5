"""benchmarks/bench_scale.py rewrites SCALE.md and keeps its hand-measured sections."""

from __future__ import annotations

from pathlib import Path

from scripts import load_script

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    return load_script("benchmarks/bench_scale.py")


def test_a_rewrite_keeps_the_sections_after_the_marker(tmp_path):
    bench = _bench()
    path = tmp_path / "SCALE.md"
    path.write_text("# old report\n\nold numbers\n\n" + bench.KEEP_MARKER + "\n\n## By hand\n\nkept\n")
    for _ in range(2):  # a second rewrite keeps the same text
        path.write_text("# new report\n" + bench.kept_sections(path))
        assert path.read_text() == "# new report\n\n" + bench.KEEP_MARKER + "\n\n## By hand\n\nkept\n"
    assert bench.kept_sections(tmp_path / "missing.md") == ""
    path.write_text("# no marker\n")
    assert bench.kept_sections(path) == ""


def test_the_books_scale_file_has_its_lung_section_after_the_marker():
    text = (ROOT / "benchmarks" / "SCALE.md").read_text()
    assert _bench().KEEP_MARKER in text
    assert text.index(_bench().KEEP_MARKER) < text.index("## The issue's lung-cancer cases")


def test_the_summary_holds_the_100000_patient_book_to_30_s_beyond_its_site_build():
    bench = _bench()
    book = {"n": 100_000, "total_s": 48.0, "site_s": 17.0, "peak_rss_kib": 2**19, "steps": {}}
    text = "\n".join(bench._summary([book]))
    assert "| the whole book on 100,000 patients in at most 30 s beyond the site build | 31.0 s (48.0 s less" in text
    assert "**missed** on this machine at this load" in text
    text = "\n".join(bench._summary([{**book, "total_s": 45.5}]))
    assert "| 28.5 s (45.5 s less the site build's 17.0 s) | **met** |" in text
