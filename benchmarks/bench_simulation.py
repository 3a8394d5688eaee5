"""How long the PSM lab's simulation study takes: 1,000 repetitions on 2 local cores (joblib).

    cd /work/main && .venv/bin/python benchmarks/bench_simulation.py                 # 1,000 repetitions, 2 cores
    .venv/bin/python benchmarks/bench_simulation.py --repetitions 20 --out /tmp/s.md  # a quick look
    .venv/bin/python benchmarks/bench_simulation.py --chapter                        # the lab chapter's run

``--chapter`` times what the lab chapter runs by default instead (40 repetitions, survival drawn both
ways, :func:`psmbook.lab.simulation.run_designs`) in this process (``n_jobs=1``, the chapter's default)
and on two worker processes, each in a fresh Python that has already run one repetition, as the
chapter's kernel has when it reaches the simulation; it writes ``benchmarks/SIMULATION_CHAPTER.md``.

Each repetition generates a synthetic cohort from its own seed (children of the master seed under
``numpy.random.SeedSequence.spawn``), redraws overall survival from the generator's model and applies
the six analyses of the lab chapter (naive and multivariable Cox, PSM with the book's settings, with
psmpy's defaults and with the number of nodes added, ATT weighting), each with the true value of its
estimand. The wall time includes starting the worker processes. The result is written to
``benchmarks/SIMULATION.md`` with the machine, the load on it while it ran, and the performance
table of the 1,000 repetitions (the same table as the lab chapter's, with a smaller Monte Carlo error).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MASTER_SEED = 20250531  # the book's default seed, as in the lab chapter


def machine() -> dict:
    import numpy as np

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
    }


#: what the lab chapter runs by default: each repetition's cohort analysed with survival drawn both ways
CHAPTER_DESIGNS = {"model": None, "calibrated": ["naive", "multivariable"]}


def _chapter_run(n_jobs: int, repetitions: int, seed: int) -> dict:
    """One timing of the chapter's simulation, in this (fresh) process, after one warm-up repetition."""
    import json

    from psmbook.lab import simulation
    from psmbook.lab.explorer import MatchSettings
    from psmbook.study.description import load_study

    settings = MatchSettings(covariates=tuple(v.column for v in load_study().psm_covariates))
    simulation.one_repetition(1, settings)  # the kernel has imported everything and run the methods once
    load, wall, cpu = os.getloadavg()[0], time.perf_counter(), time.process_time()
    runs = simulation.run_designs(repetitions, seed, settings, CHAPTER_DESIGNS, n_jobs=n_jobs, progress=False)
    result = {
        "n_jobs": n_jobs,
        "seconds": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,  # this process only: not the workers'
        "load": (load, os.getloadavg()[0]),
        "rows": {k: len(v) for k, v in runs.items()},
        "failed": int(sum((v["error"] != "").sum() for v in runs.values())),
    }
    print(json.dumps(result))
    return result


def chapter(args) -> int:
    """Time the chapter's default simulation in this process and on two workers, alternately."""
    import json
    import subprocess

    runs = []
    for _ in range(args.rounds):
        for n_jobs in (1, 2):
            command = [
                sys.executable,
                __file__,
                "--one-chapter-run",
                str(n_jobs),
                "--repetitions",
                str(args.repetitions),
            ]
            out = subprocess.run(command + ["--seed", str(args.seed)], capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(runs[-1], file=sys.stderr)
    facts = machine()
    lines = [
        "# The lab chapter's simulation: in the chapter's process or on worker processes",
        "",
        f"Written by `benchmarks/bench_simulation.py --chapter` on {dt.date.today().isoformat()}.",
        "",
        f"What the lab chapter runs by default: {args.repetitions} repetitions (master seed {args.seed}), each "
        "cohort generated once and analysed with survival drawn afresh (six analyses) and as generated (naive "
        "and multivariable Cox), `simulation.run_designs`. Each run starts a fresh Python that has already "
        "run one repetition, as the chapter's kernel has when it reaches the simulation; with two workers "
        "(joblib's loky) the time includes starting them, and each worker imports the libraries and warms up "
        "on its first repetition. Runs alternate, to share the machine's load alike.",
        "",
        "| run | workers | seconds | CPU seconds of the calling process | load average before / after (1 min) |",
        "|---|---|---|---|---|",
        *[
            f"| {i + 1} | {'none (n_jobs=1)' if r['n_jobs'] == 1 else r['n_jobs']} | {r['seconds']:.1f} | "
            f"{r['cpu']:.1f} | {r['load'][0]:.2f} / {r['load'][1]:.2f} |"
            for i, r in enumerate(runs)
        ],
        "",
        f"Failed analyses: {sum(r['failed'] for r in runs)}. A load average above {facts['cores']} (the cores) "
        "means other work shared the machine and the times are overestimates.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in facts.items()],
        "",
        "Re-run: `.venv/bin/python benchmarks/bench_simulation.py --chapter`.",
        "",
    ]
    out = args.out if args.out != HERE / "SIMULATION.md" else HERE / "SIMULATION_CHAPTER.md"
    out.write_text("\n".join(lines))
    print(f"written to {out}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=None, help="1,000 (40 with --chapter)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=MASTER_SEED)
    parser.add_argument("--out", type=Path, default=HERE / "SIMULATION.md")
    parser.add_argument("--chapter", action="store_true", help="time the lab chapter's default simulation")
    parser.add_argument("--rounds", type=int, default=2, help="with --chapter: timings of each way")
    parser.add_argument("--one-chapter-run", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.chapter or args.one_chapter_run is not None:
        args.repetitions = args.repetitions or 40
        if args.one_chapter_run is not None:
            _chapter_run(args.one_chapter_run, args.repetitions, args.seed)
            return 0
        return chapter(args)
    args.repetitions = args.repetitions or 1000

    import pandas as pd

    from psmbook.lab import simulation
    from psmbook.lab.explorer import MatchSettings
    from psmbook.study.description import load_study

    study = load_study()
    settings = MatchSettings(covariates=tuple(v.column for v in study.psm_covariates))  # the book's defaults
    load_before = os.getloadavg()
    started = time.perf_counter()
    estimates = simulation.run_simulation(args.repetitions, args.seed, settings, n_jobs=args.n_jobs)
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()
    summary = simulation.summarise(estimates)
    failed = int((estimates["error"] != "").sum())

    facts = machine()
    per_rep = seconds / args.repetitions
    table = simulation.summary_table(summary)
    lines = [
        "# Simulation study: how long it takes",
        "",
        f"Written by `benchmarks/bench_simulation.py` on {dt.date.today().isoformat()}.",
        "",
        f"**{args.repetitions:,} repetitions on {args.n_jobs} local cores (joblib): {seconds:.0f} s** "
        f"({seconds / 60:.1f} min, {per_rep:.2f} s per repetition, {per_rep * args.n_jobs:.2f} core-seconds "
        "per repetition), worker start-up included.",
        "",
        "Each repetition: a synthetic cohort from its own seed, overall survival redrawn from the generator's "
        "model, six analyses (naive and multivariable Cox; PSM with the book's settings, with psmpy's defaults "
        "and with the number of nodes added; ATT weighting), each with the true value of its estimand. "
        f"Master seed {args.seed}; the book's matching settings (caliper 0.2 SD, 1:1, no replacement, largest "
        f"score first, the paper's 11 covariates). Failed analyses: {failed}.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in facts.items()],
        f"| load average before / after (1 min) | {load_before[0]:.2f} / {load_after[0]:.2f} |",
        "",
        "A load average above the number of cores means other work shared the machine and the time is an overestimate.",
        "",
        f"## Performance of the analyses over the {args.repetitions:,} repetitions",
        "",
        "Bias and standard errors on the log hazard ratio scale, Monte Carlo SE in brackets (see the lab "
        "chapter for the definitions).",
        "",
        table.to_markdown(disable_numparse=True),
        "",
        "Re-run: `.venv/bin/python benchmarks/bench_simulation.py` (about the time above).",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print(
        f"{args.repetitions} repetitions on {args.n_jobs} cores: {seconds:.1f} s ({per_rep:.3f} s each); "
        f"written to {args.out}",
        file=sys.stderr,
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
