"""Time `make book` after set-up: every chapter executed and the site built, then a re-run with one
changed parameter, which must re-execute only the chapters that parameter affects. Writes BOOK.md.

    .venv/bin/python benchmarks/bench_book.py            # three full builds and two re-runs
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from harness import machine_facts, reference_seconds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_SECONDS = 60.0
ORDER = ["cohort", "matching", "response", "survival", "toxicity", "discussion", "lab"]
#: (parameter override, the chapters it must re-execute)
RERUNS = (
    ("calipers=0.1,0.3", ["discussion"]),
    ("entry_p=0.1", ["survival", "discussion"]),
    ("caliper=0.1", ["matching", "response", "survival", "toxicity", "discussion", "lab"]),
)


def build(out: Path, *params: str, force: bool = False) -> tuple[float, dict[str, str]]:
    """Run the book's build as `make book` does; wall time and each chapter's line of progress."""
    command = [sys.executable, "-m", "psmbook", "build", "--out", str(out)]
    for p in params:
        command += ["-p", p]
    if force:
        command.append("--force")
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{proc.stdout}\n{proc.stderr}")
    chapters = dict(re.findall(r"\]\s+(\w+)\s+(.+)", proc.stdout))
    site = re.search(r"building the site.*done in ([0-9.]+) s", proc.stdout)
    if site:
        chapters["site build"] = f"{float(site.group(1)):.1f} s"
    return seconds, chapters


def load() -> str:
    """The load average (1, 5, 15 min) now: the 2 cores are shared, so every time is read beside it."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "BOOK.md")
    parser.add_argument("--no-reruns", dest="reruns", action="store_false", help="full builds only")
    args = parser.parse_args(argv)
    facts = machine_facts()
    folder = Path(tempfile.mkdtemp(prefix="bench-book-"))
    try:
        full = []
        for i in range(args.runs):
            before, reference = load(), reference_seconds()
            seconds, chapters = build(folder / "book", force=True)
            full.append((seconds, chapters, before, load(), reference))
            print(
                f"full build {i + 1}: {seconds:.1f} s (load {before} -> {load()}; reference {reference:.2f} s)",
                flush=True,
            )
        reruns = []
        for override, expected in RERUNS if args.reruns else ():
            shutil.rmtree(folder / "again", ignore_errors=True)
            shutil.copytree(folder / "book", folder / "again")
            seconds, chapters = build(folder / "again", override)
            ran = sorted((c for c, line in chapters.items() if line.startswith("done")), key=ORDER.index)
            reruns.append((override, expected, ran, seconds))
            print(f"re-run with {override}: {seconds:.1f} s, executed {ran}", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    best, best_chapters, *_ = min(full, key=lambda r: r[0])
    lines = [
        "# Benchmark: `make book` after set-up",
        "",
        f"Written by `benchmarks/bench_book.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. "
        "Each full build is `python -m psmbook build --force` (what `make book` runs once `.venv` "
        "exists, every chapter executed), timed from the outside, into a temporary folder.",
        "",
        "Chapters that do not read each other run side by side, two at a time (`--jobs 2`): after "
        "the cohort and matching chapters, the lab (the longest) runs beside response, survival, "
        "toxicity and discussion, so the chapter times below overlap and do not add up to the wall "
        "time.",
        "",
        "## Machine",
        "",
        f"- CPU: {facts.get('cpu', '?')}, {facts.get('logical_cpus', '?')} logical CPUs",
        f"- Memory: {facts['memory_gib']} GiB; Python {facts['versions']['python']}",
        "- Load average (1, 5, 15 min) at the start: " + ", ".join(f"{x:.2f}" for x in facts["load_average"]),
        "",
        "## Full build",
        "",
        "The reference workload, timed just before each build, is a fixed pure-Python loop and numpy factorisation "
        "that does not depend on the book's code (`harness.reference_seconds`): it tells a slower machine from "
        "slower code when runs of different days are compared.",
        "",
        "| run | wall time | site build | reference workload | load average (1, 5, 15 min) at the start → end |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {i + 1} | {s:.1f} s | {c.get('site build', '?')} | {r:.2f} s | {a} → {b} |"
        for i, (s, c, a, b, r) in enumerate(full)
    ]
    verdict = "**met**" if best <= TARGET_SECONDS else f"**missed** by {best - TARGET_SECONDS:.1f} s"
    lines += [
        "",
        f"Best: **{best:.1f} s** against the target of {TARGET_SECONDS:.0f} s: {verdict}.",
        "",
        "Per chapter in the best run (papermill execution, as the build prints it):",
        "",
        "| chapter | time |",
        "|---|---|",
    ]
    lines += [
        f"| {c} | {best_chapters[c].replace('done in ', '')} |" for c in [*ORDER, "site build"] if c in best_chapters
    ]
    lines += [
        "",
        "What every chapter and the site pay whatever the data (`psmbook.book.execution`): papermill writes the "
        "executed notebook when the run starts and ends, not around every cell; the kernel is stopped at once "
        "after its last reply; kernels are started ahead, with the imports every chapter makes first, while "
        "earlier chapters run; glued numbers are sent without importing myst-nb (and nbformat, jsonschema) into "
        "the kernel; Sphinx reads and writes the site's pages in two processes.",
    ]
    if not reruns:
        args.out.write_text("\n".join(lines) + "\n")
        print(f"written: {args.out}")
        return
    lines += [
        "",
        "## Re-running with one changed parameter",
        "",
        "| override | must re-execute | re-executed | wall time | as expected |",
        "|---|---|---|---|---|",
    ]
    for override, expected, ran, seconds in reruns:
        lines.append(
            f"| `{override}` | {', '.join(expected)} | {', '.join(ran) or 'none'} | {seconds:.1f} s | "
            f"{'yes' if ran == expected else '**no**'} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
