"""How long the PSM lab's simulation study takes: 1,000 repetitions on 2 local cores (joblib).

    cd /work/main && .venv/bin/python benchmarks/bench_simulation.py                 # 1,000 repetitions, 2 cores
    .venv/bin/python benchmarks/bench_simulation.py --repetitions 20 --out /tmp/s.md  # a quick look

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=1000)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=MASTER_SEED)
    parser.add_argument("--out", type=Path, default=HERE / "SIMULATION.md")
    args = parser.parse_args(argv)

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
