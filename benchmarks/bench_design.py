"""Benchmark of the matched design: for each seed, does the book's default matching select the paper's
matched tables, and how long does the generator take?

    PYTHONPATH=src nice python benchmarks/bench_design.py                    # seeds 1-20, writes DESIGN.md
    PYTHONPATH=src python benchmarks/bench_design.py --seeds 1 2 3 --no-write
    PYTHONPATH=src python benchmarks/bench_design.py --set design_calibration_steps=30000 --no-write

Each seed's cohort is generated once (timed), then checked with the book's own propensity-score model
(:func:`psmbook.matching.score.fit_propensity`) and matcher
(:func:`psmbook.matching.nearest.nearest_neighbour_match`, defaults of the book): 68 pairs, every Table 1
and Table 2 count after matching equal to the paper's, every count before matching still exact
(:func:`psmbook.cohort.calibration.calibration_report`). A seed succeeds if all of these hold.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def check(df) -> dict:
    """The book's matching on `df` against the paper's matched tables."""
    from psmbook.cohort.calibration import calibration_report
    from psmbook.matching.nearest import nearest_neighbour_match
    from psmbook.matching.result import matched_cohort
    from psmbook.matching.score import fit_propensity
    from psmbook.study.description import load_study
    from psmbook.study.published import published_value

    study = load_study()
    cohort = df.set_index(study.id_column)
    covariates = [v.column for v in study.psm_covariates]
    model = fit_propensity(cohort, study.treatment.column, study.treatment.treated, covariates)
    result = nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2)
    matched = matched_cohort(cohort, result)
    wrong_t1 = 0
    for var in study.covariates:
        for arm in ("anlotinib", "crt"):
            counts = matched.loc[matched[study.treatment.column] == arm, var.column].astype(str).value_counts()
            for level in var.shown_levels:
                wrong_t1 += int(counts.get(level, 0) != published_value(f"table1.after.{var.column}.{level}.{arm}.n"))
    wrong_t2 = 0
    for arm in ("anlotinib", "crt"):
        counts = matched.loc[matched[study.treatment.column] == arm, "response"].value_counts()
        for r in ("cr", "pr", "sd", "pd"):
            wrong_t2 += int(counts.get(r, 0) != published_value(f"table2.after.{r}.{arm}.n"))
    before_failed = int((~calibration_report(df)["passed"]).sum())
    return {
        "pairs": len(result.pairs),
        "table1_after_wrong": wrong_t1,
        "table2_after_wrong": wrong_t2,
        "before_failed": before_failed,
        "c_statistic": model.c_statistic(),
        "ok": len(result.pairs) == 68 and wrong_t1 == 0 and wrong_t2 == 0 and before_failed == 0,
    }


def run(seeds, overrides: dict) -> list[dict]:
    from psmbook.cohort.synthetic import GeneratorSpec
    from psmbook.cohort.synthetic.generate import _generate

    spec = GeneratorSpec()
    spec = spec.with_(**{k: type(getattr(spec, k))(v) for k, v in overrides.items()})
    rows = []
    for seed in seeds:
        start = time.perf_counter()
        try:
            df, info = _generate(int(seed), spec)
        except Exception as error:  # a failed search is a result, not a crash of the benchmark
            rows.append({"seed": seed, "seconds": time.perf_counter() - start, "ok": False, "error": repr(error)})
            print(f"seed {seed}: FAILED {error!r}", flush=True)
            continue
        seconds = time.perf_counter() - start
        search = info.get("outcome_search")
        found = isinstance(search, dict) and max(search.values()) < 1
        row = {"seed": seed, "seconds": seconds, "rounds": info.get("design_rounds"), "search": search, **check(df)}
        row["table3"] = info.get("table3_search")
        row["found"] = found
        rows.append(row)
        print(
            f"seed {seed}: {'ok' if row['ok'] else 'NOT OK'} in {seconds:.1f} s ({row['rounds']} rounds), "
            f"pairs {row['pairs']}, c-statistic {row['c_statistic']:.3f}",
            flush=True,
        )
    return rows


def _search_text(search) -> str:
    if not isinstance(search, dict):
        return str(search)
    worst = max(search.values())
    return f"{'found' if worst < 1 else 'not found'} ({worst:.2f})"


def _table3_text(found) -> str:
    if not isinstance(found, dict):
        return "not searched"
    entry = "" if found.get("entry_kept", True) else "; the paper's factors not selected"
    return (
        f"{found['print']} of {found['aimed']}, multivariable {found.get('adjusted_print', 0)} of "
        f"{found.get('adjusted_aimed', 0)} (x {found['hr_ratio']:.3f}{entry})"
    )


def _table3_summary(rows) -> str:
    found = [r["table3"] for r in rows if isinstance(r.get("table3"), dict)]
    if not found:
        return "- Table 3's other rows: not searched"
    printed = sorted(f["print"] for f in found)
    adjusted = sorted(f.get("adjusted_print", 0) for f in found)
    kept = sum(f.get("entry_kept", True) for f in found)
    return (
        f"- Table 3's other rows (exchanges of outcomes and responses among matched patients, then each characteristic "
        "outside the multivariable model relabelled): of the univariate "
        f"rows' {found[0]['aimed']} aimed numbers, median {printed[len(printed) // 2]} print as the paper prints them "
        f"(range {printed[0]}-{printed[-1]}); of the multivariable rows' {found[0].get('adjusted_aimed', 0)}, median "
        f"{adjusted[len(adjusted) // 2]} (range {adjusted[0]}-{adjusted[-1]}); every hazard ratio within a factor "
        f"{max(f['hr_ratio'] for f in found):.3f} of the paper's; the paper's five factors pass its entry rule "
        f"(univariate p < 0.05) in {kept} of {len(found)} seeds"
    )


def write(rows, path: Path, overrides: dict) -> None:
    ok = [r for r in rows if r["ok"]]
    secs = sorted(r["seconds"] for r in rows)
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?", "?", "?")
    lines = [
        "# Benchmark: the matched design, seeds " + ", ".join(str(r["seed"]) for r in rows),
        "",
        f"Written by `benchmarks/bench_design.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
        + (f" with overrides {overrides}" if overrides else "")
        + ". For each seed the whole cohort is generated once (`nice`; the covariate search runs its rounds in "
        "`GeneratorSpec.design_workers` = 2 processes, so on both cores), then the book's own "
        "propensity-score model and default matching (11 covariates, unpenalised logit, 1:1 nearest neighbour "
        "without replacement, largest score first, caliper 0.2 SD of the logit) are run on it. A seed succeeds "
        "if the match has 68 pairs, every Table 1 and Table 2 count after matching equals the paper's, and every "
        "count before matching stays exact.",
        "",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
        f"Python {platform.python_version()}; load average at the end {load}",
        f"- Success: **{len(ok)} of {len(rows)}** seeds",
        f"- Outcome search (the four log-rank p-values and the matched cohort's unadjusted treatment HR, 95% CI and "
        f"p print as the paper's): **{sum(bool(r.get('found')) for r in rows)} of {len(rows)}** seeds",
        _table3_summary(rows),
        f"- Generation time: median {secs[len(secs) // 2]:.1f} s, longest {secs[-1]:.1f} s "
        f"(target: under 30 s each: {'met' if secs[-1] < 30 else 'not met'})",
        "",
        "| seed | result | seconds | search rounds | pairs | Table 1 after: wrong cells | Table 2 after: wrong cells "
        "| c-statistic | outcome search (largest deviation, half bands; < 1: all print as printed) "
        "| Table 3's other rows: numbers printed as printed, univariate and multivariable (largest HR ratio to the "
        "paper's) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['seed']} | failed: {r['error']} | {r['seconds']:.1f} | | | | | | | |")
        else:
            lines.append(
                f"| {r['seed']} | {'ok' if r['ok'] else 'not ok'} | {r['seconds']:.1f} | {r['rounds']} | {r['pairs']} "
                f"| {r['table1_after_wrong']} | {r['table2_after_wrong']} | {r['c_statistic']:.3f} "
                f"| {_search_text(r['search'])} | {_table3_text(r.get('table3'))} |"
            )
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="*", default=list(range(1, 21)))
    parser.add_argument("--set", action="append", default=[], help="GeneratorSpec override, name=value")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "DESIGN.md")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    overrides = dict(item.split("=", 1) for item in args.set)
    rows = run(args.seeds, overrides)
    if not args.no_write:
        write(rows, args.out, overrides)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
