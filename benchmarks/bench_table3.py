"""Benchmark of the generator's Table 3 search: what more batches buy, which rows print when searched alone, how
finely one exchange moves a row, and what the relabelling stage after it prints.

    PYTHONPATH=src nice python benchmarks/bench_table3.py                  # default seed, 1 and 2; writes TABLE3.md
    PYTHONPATH=src python benchmarks/bench_table3.py --seeds 1 --budgets 1 4 --no-write

For each seed the cohort is generated up to the Table 3 search, whose inputs are kept as the generator hands them
over (the search is stopped there). The search (:func:`psmbook.cohort.synthetic.table3rows.fit_table3_rows`, its
defaults) then runs from that state, each time from a copy of it and of the generator's random stream:

* on all rows, as the generator runs it, with the generator's budget of batches times each factor of
  ``--budgets`` (factor 1 is the generator's own search, and gives the generator's counts);
* on each univariate characteristic alone (its rows only, without the multivariable model; responses are
  relabelled only for the response row), with the generator's budget;

and it measures, from the generator's state before its search, how far each exchange of outcomes the search may
make moves each univariate row's printed numbers (the smallest move, its 10th percentile and median). Last, the
whole generator runs on each seed, and what its next stage, the relabelling of each characteristic outside the
multivariable model (:mod:`psmbook.cohort.synthetic.table3labels`), prints beyond the search is recorded with
its time.

A number prints as printed when its deviation from the middle of its band is below one half band. The question
measured: is Table 3 short of the paper because the search stops early (more batches would close it), because a
row cannot be reached at all, or because the rows, each reachable, are not reached together? No other tool runs
this search, so each budget is set beside the generator's own (factor 1), in the same run.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import machine_facts  # noqa: E402


class _Stop(Exception):
    """Raised to stop the generator once the Table 3 search's inputs are kept."""


def search_inputs(seed: int) -> dict:
    """The Table 3 search's inputs of `seed`'s generation, as the generator hands them over."""
    from psmbook.cohort.synthetic import generate
    from psmbook.cohort.synthetic.spec import GeneratorSpec
    from psmbook.cohort.synthetic.table3rows import search_inputs as given

    kept = {}

    def keep(st, surv, matched, spec, rng):
        kept.update(copy.deepcopy(given(st, surv, matched, spec)))
        kept.update(rng=copy.deepcopy(rng), batches=spec.table3_search_batches)
        raise _Stop

    original = generate.search_table3
    generate.search_table3 = keep
    try:
        generate._generate(seed, GeneratorSpec())
    except _Stop:
        pass
    finally:
        generate.search_table3 = original
    if not kept:
        raise RuntimeError(f"seed {seed}: the generator did not reach its Table 3 search")
    return kept


def search(inputs: dict, budget: float, column: str | None = None) -> dict:
    """The search from a copy of `inputs`, with `budget` times the generator's batches; on one univariate
    characteristic (`column`) alone, or on every row."""
    from psmbook.cohort.synthetic.table3rows import fit_table3_rows, printed_counts

    s = copy.deepcopy(inputs)
    rows = [r for r in s["rows"] if column is None or r.column == column]
    relabel = s["relabel"] if column in (None, "response_group") else None
    start = time.perf_counter()
    found = fit_table3_rows(
        s["o"],
        s["treated"],
        s["matched"],
        s["columns"],
        rows,
        s["rng"],
        int(round(s["batches"] * budget)),
        adjusted=s["adjusted"] if column is None else (),
        relabel=relabel,
    )
    both = np.abs(np.concatenate([found["after"], found["adjusted_after"]]))
    return printed_counts(found) | {
        "seconds": time.perf_counter() - start,
        "median": float(np.median(both)),
        "largest": float(both.max()),
    }


def granularity(inputs: dict) -> list[dict]:
    """Per univariate row, over every exchange of outcomes the search may make from the generator's state (two
    matched patients of one arm and response class, :func:`psmbook.cohort.synthetic.table3rows.compatible`): how
    far the exchange moves the row's printed numbers, in half bands (the largest over the row's numbers; converged
    fits). How many exchanges move the row, the smallest move, its 10th percentile and median: an exchange that
    moves a row by less than a band can bring it in; one that moves it by tens of bands can only jump over."""
    from psmbook.cohort.synthetic.indicatorcox import RowDesign, fit_rows
    from psmbook.cohort.synthetic.table3rows import compatible, deviations, matched_slots

    o = inputs["o"]
    members, order, slots = matched_slots(o, inputs["matched"])
    design = RowDesign.build(
        {c: np.asarray(v, dtype=object)[members] for c, v in inputs["columns"].items()}, inputs["rows"]
    )
    ok = compatible(o, inputs["treated"], members, order)
    a, c = np.triu_indices(len(members), 1)
    keep = ok[order[a], c] & ok[order[c], a]
    a, c = a[keep], c[keep]
    x = design.x[order]  # covariates in slot order
    now = deviations(design, *fit_rows(slots, x[None], design, steps=30), inside=True)[0]
    moved = []
    for k in range(0, len(a), 256):
        aa, cc = a[k : k + 256], c[k : k + 256]
        xs, i = np.repeat(x[None], len(aa), axis=0), np.arange(len(aa))
        xs[i, aa], xs[i, cc] = x[cc], x[aa]  # the two slots' holders exchanged
        moved.append(np.abs(deviations(design, *fit_rows(slots, xs, design, steps=30), inside=True) - now))
    moved = np.concatenate(moved)
    out, start = [], 0
    for r in design.rows:
        row = moved[:, start : start + len(r.aims)].max(axis=1)
        start += len(r.aims)
        touched = row[row > 1e-9]
        out.append(
            {
                "row": r.term,
                "exchanges": len(row),
                "moving": len(touched),
                "smallest": float(touched.min()),
                "p10": float(np.percentile(touched, 10)),
                "median": float(np.median(touched)),
            }
        )
    return out


def relabelling(seed: int) -> list[dict]:
    """The generator on `seed`, its relabelling stage timed: per characteristic, the numbers printed before and
    after it, and whether its labels changed."""
    from psmbook.cohort.synthetic import generate
    from psmbook.cohort.synthetic.spec import GeneratorSpec

    seconds = []
    original = generate.relabel_table3

    def timed(*args):
        start = time.perf_counter()
        try:
            return original(*args)
        finally:
            seconds.append(time.perf_counter() - start)

    generate.relabel_table3 = timed
    try:
        found = generate._generate(seed, GeneratorSpec())[1]["table3_search"]
    finally:
        generate.relabel_table3 = original
    rows = [
        {"column": c, "before": b, "after": a, "changed": changed, "seconds": seconds[0]}
        for c, (b, a, changed) in found["relabelled_rows"].items()
    ]
    return rows + [
        {
            "column": "all univariate rows",
            "before": found["search_print"],
            "after": found["print"],
            "seconds": seconds[0],
        }
    ]


def _seed_name(seed: int) -> str:
    from psmbook.cohort.synthetic.spec import DEFAULT_SEED

    return f"{seed} (default)" if seed == DEFAULT_SEED else str(seed)


def write(budget_rows: list, alone_rows: list, grain_rows: list, path: Path, relabel_rows: list = ()) -> None:
    m = machine_facts()
    lines = [
        "# Benchmark: the Table 3 search, what more batches buy and which rows print alone",
        "",
        f"Written by `benchmarks/bench_table3.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Each search "
        "starts from the generator's own state before its Table 3 search, with a copy of its random stream; factor 1 "
        "of the budget is the generator's own search. Deviations are from the middle of each printed number's band, "
        "in half bands: below 1 the number prints as the paper prints it.",
        "",
        f"- Machine: {m['cpu']}, {m['usable_cpus']} usable of {m['logical_cpus']} logical CPUs, {m['memory_gib']} GiB; "
        f"Python {m['versions']['python']}, numpy {m['versions']['numpy']}; load average at the end "
        f"{tuple(round(x, 2) for x in m['load_average'])}",
        "",
        "## All rows, by budget",
        "",
        "| seed | budget (x the generator's batches) | batches | seconds | univariate numbers printed | multivariable "
        "numbers printed | median deviation | largest deviation | largest HR ratio to the paper's |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in budget_rows:
        lines.append(
            f"| {r['seed']} | {r['budget']:g} | {r['batches']} | {r['seconds']:.1f} | {r['print']} of {r['aimed']} | "
            f"{r['adjusted_print']} of {r['adjusted_aimed']} | {r['median']:.1f} | {r['largest']:.0f} | "
            f"{r['hr_ratio']:.3f} |"
        )
    lines += [
        "",
        "## Each univariate characteristic alone (the generator's budget)",
        "",
        "| seed | characteristic | numbers printed | median deviation | largest deviation | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in alone_rows:
        lines.append(
            f"| {r['seed']} | {r['column']} | {r['print']} of {r['aimed']} | {r['median']:.1f} | {r['largest']:.1f} | "
            f"{r['seconds']:.1f} |"
        )
    lines += [
        "",
        "## How finely one exchange moves a row (the generator's state before its search)",
        "",
        "| seed | row | exchanges allowed | exchanges that move the row | smallest move (half bands) | 10th percentile "
        "| median |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in grain_rows:
        lines.append(
            f"| {r['seed']} | {r['row']} | {r['exchanges']} | {r['moving']} | {r['smallest']:.2f} | {r['p10']:.1f} | "
            f"{r['median']:.1f} |"
        )
    lines += [
        "",
        "## Then: each characteristic outside the multivariable model relabelled (the whole generator)",
        "",
        "Numbers printed by the univariate row of each characteristic after the search above and after its "
        "relabelling among matched patients (`cohort.synthetic.table3labels`; unchanged where the search found "
        "nothing better, or the matching could not be restored); seconds: the whole stage.",
        "",
        "| seed | characteristic | printed after the search | printed after relabelling | labels changed | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in relabel_rows:
        changed = "" if "changed" not in r else ("yes" if r["changed"] else "no")
        lines.append(f"| {r['seed']} | {r['column']} | {r['before']} | {r['after']} | {changed} | {r['seconds']:.1f} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    from psmbook.cohort.synthetic.spec import DEFAULT_SEED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[DEFAULT_SEED, 1, 2])
    parser.add_argument("--budgets", type=float, nargs="+", default=[1, 4, 10])
    parser.add_argument("--alone", type=int, nargs="*", default=None, help="seeds searched row by row (first seed)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave TABLE3.md as it is")
    args = parser.parse_args(argv)
    alone_seeds = args.seeds[:1] if args.alone is None else args.alone
    budget_rows, alone_rows, grain_rows, relabel_rows = [], [], [], []
    for seed in args.seeds:
        for r in relabelling(seed):
            relabel_rows.append(r | {"seed": _seed_name(seed)})
            print(relabel_rows[-1], flush=True)
        inputs = search_inputs(seed)
        for budget in args.budgets:
            r = search(inputs, budget) | {"seed": _seed_name(seed), "budget": budget}
            r["batches"] = int(round(inputs["batches"] * budget))
            budget_rows.append(r)
            print(r, flush=True)
        if seed in alone_seeds:
            for column in dict.fromkeys(r.column for r in inputs["rows"]):
                a = search(inputs, 1, column) | {"seed": _seed_name(seed), "column": column}
                alone_rows.append(a)
                print(a, flush=True)
            for g in granularity(inputs):
                grain_rows.append(g | {"seed": _seed_name(seed)})
                print(grain_rows[-1], flush=True)
    if not args.no_write:
        write(budget_rows, alone_rows, grain_rows, HERE / "TABLE3.md", relabel_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
