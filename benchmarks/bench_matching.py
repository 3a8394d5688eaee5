"""Speed and memory of the book's matcher at registry scale, against psmpy; writes benchmarks/RESULTS.md.

    cd /work/main && .venv/bin/python benchmarks/bench_matching.py            # everything (about 40 min)
    .venv/bin/python benchmarks/bench_matching.py --quick --out /tmp/r.md     # small sizes, a minute

Measured (each figure in its own process, see harness.py):
1. 1:1 nearest-neighbour matching with a caliper of 0.2 SD, 1,000,000 patients, 10% treated, with the
   book's matcher (``matching.nearest_neighbour_match``, which runs ``fastmatch.fast_match``): best of
   5 runs, against ``numpy.sort`` of the same scores; where the time goes; variants (ids in random
   order, 1:3, with replacement, no caliper, smaller cohorts).
2. psmpy's ``kdtree_matched`` (through ``matching.psmpy_kdtree_match``: same scores, same treated order,
   the caliper as an absolute width) against the book's matcher at 1k-20k patients, with and without
   caliper: time, peak memory, the ratios, and whether the pairs agree. psmpy runs are killed after
   ``--psmpy-timeout`` seconds and reported as not finished.
3. The analysis at 1,000,000 patients (bench_pipeline.py): score model, matching, balance table and
   the Survival chapter's Cox models; each killed after ``--step-timeout`` seconds.

Scores for 1 and 2: a covariate z ~ N(0, 1), the logit of the propensity score -2.6 + z, treatment
drawn from it (about 10% treated), matching on that logit. Patient ids are strings "P0000001", ...
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from harness import HERE, machine_facts, measure, run_task

TARGET_SECONDS = 2.0
TARGET_SORT_RATIO = 20.0
MATCHIT_REFERENCE = (
    "R's MatchIt 4.5.1 nearest-neighbour matching with a caliper is measured beside the book's matcher, on the "
    'same scores, by benchmarks/bench_scale.py (SCALE.md, "Against R"): with the distances as a matrix 3.5 s '
    "at 10,000 patients (the book: 21 ms), infeasible beyond about 50,000 (the matrix alone: 16 GiB at 100,000); "
    "with the score as a vector 14.1 s at 100,000 (the book: 113 ms), not run at 1,000,000 (predicted 1,386 s)"
)


# --- tasks (each runs in its own process) ----------------------------------------------------------


def simulated_scores(n: int, seed: int = 2025) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logit = -2.6 + rng.normal(size=n)
    treated = rng.random(n) < 1 / (1 + np.exp(-logit))
    return logit, treated


def _ids(n: int, order: str) -> list[str]:
    ids = [f"P{i:07d}" for i in range(1, n + 1)]
    if order == "shuffled":
        ids = [ids[i] for i in np.random.default_rng(7).permutation(n)]
    return ids


def book_matcher(
    n: int,
    caliper_sd: float | None = 0.2,
    ratio: int = 1,
    replace: bool = False,
    ids: str = "sorted",
    repeats: int = 5,
    matcher: str = "fast",
    sort: bool = False,
) -> dict:
    """``nearest_neighbour_match`` on fresh Series (new index each run: pandas' caches start cold)."""
    from psmbook.matching.nearest import nearest_neighbour_match

    x, t = simulated_scores(n)
    names = _ids(n, ids)

    def setup():
        index = pd.Index(names, dtype=object)
        return pd.Series(x, index=index), pd.Series(t, index=index)

    m = measure(
        lambda d, tr: nearest_neighbour_match(
            d, tr, caliper_sd=caliper_sd, ratio=ratio, replace=replace, matcher=matcher
        ),
        setup=setup,
        repeats=repeats,
        budget_s=60,
    )
    result = m.pop("value")
    m.update(
        patients=n,
        treated=int(t.sum()),
        pairs=len(result.pairs),
        matcher=result.settings["matcher"],
        matched_treated=len(result.matched_treated),
    )
    if sort:
        s = measure(lambda: np.sort(x), repeats=repeats, trace=False)
        m["numpy_sort_s"] = s["best_s"]
        m["numpy_sort_times_s"] = s["times_s"]
    return m


def breakdown(n: int, repeats: int = 5) -> dict:
    """Where the time of one 1:1 caliper match goes: fast_match's steps, timed one by one."""
    from psmbook.matching import fast as fastmatch
    from psmbook.matching.result import caliper_width, check_match_inputs

    x, t = simulated_scores(n)
    names = _ids(n, "sorted")
    steps: dict[str, list[float]] = {}
    for _ in range(repeats):
        index = pd.Index(names, dtype=object)
        distance, treated = pd.Series(x, index=index), pd.Series(t, index=index)
        clock = time.perf_counter()

        def lap(name):
            nonlocal clock
            now = time.perf_counter()
            steps.setdefault(name, []).append(now - clock)
            clock = now

        is_treated = check_match_inputs(distance, treated, 1)
        lap("check inputs (ids unique, scores finite)")
        caliper = caliper_width(distance, 0.2)
        xs = distance.to_numpy(dtype=float)
        tpos, cpos = np.flatnonzero(is_treated), np.flatnonzero(~is_treated)
        tord = tpos[fastmatch._order_positions(xs[tpos], "largest", None)]
        lap("caliper, split arms, treated order (argsort)")
        blocks = fastmatch._Blocks(xs[cpos], xs)
        lap("sort controls, group equal scores")
        row_t, row_c = fastmatch._match_without_replacement(blocks, xs[tord], 1, caliper)
        lap("greedy loop (union-find, pure Python)")
        pairs = pd.DataFrame(
            {
                "pair": np.arange(1, len(row_t) + 1),
                "treated_id": index[tord[row_t]].to_numpy(),
                "control_id": index[cpos[row_c]].to_numpy(),
                "distance": np.abs(xs[cpos][row_c] - xs[tord][row_t]),
            }
        )
        index[tord].tolist(), index[cpos].tolist()
        lap("pairs frame and id lists")
    del pairs
    best = {k: min(v) for k, v in steps.items()}
    return {"steps_s": best, "sum_s": sum(best.values()), "treated": int(t.sum())}


def psmpy_matcher(n: int, caliper: bool, repeats: int = 3) -> dict:
    """psmpy's kdtree_matched on the same scores, treated order and caliper as the book's matcher."""
    from psmbook.matching.nearest import nearest_neighbour_match
    from psmbook.matching.psmpy_compare import compare_pairings, psmpy_kdtree_match

    x, t = simulated_scores(n)
    index = pd.Index(_ids(n, "sorted"), dtype=object)
    distance, treated = pd.Series(x, index=index), pd.Series(t, index=index)
    ours = nearest_neighbour_match(distance, treated, caliper_sd=0.2 if caliper else None)
    import psmpy  # noqa: F401  (imported before timing)

    m = measure(
        lambda: psmpy_kdtree_match(distance, treated, caliper=ours.caliper, order=ours.treated_ids),
        repeats=repeats,
        budget_s=30,
        trace_limit=300,
    )
    theirs = m.pop("value")
    agreement = compare_pairings(ours, theirs, distance)
    m.update(patients=n, treated=int(t.sum()), pairs=len(theirs), agreement=agreement)
    return m


# --- the report --------------------------------------------------------------------------------------


def _fmt_s(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _fmt_mib(mib) -> str:
    return "-" if mib is None else (f"{mib:.1f} MiB" if mib < 1024 else f"{mib / 1024:.2f} GiB")


def _ratio(a, b, digits=0) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    return f"{a / b:,.{digits}f}x"


def _not_finished(r: dict) -> str:
    if r["status"] == "timeout":
        return f"did not finish in {r['timeout_s']:.0f} s"
    return f"failed: {r.get('error', '?')}"


def run(args) -> str:
    facts_before = machine_facts()
    started = time.perf_counter()
    out = []
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    # 1. one million patients
    n_big = args.big
    log(f"1. book matcher at {n_big:,}")
    main = run_task("bench_matching:book_matcher", {"n": n_big, "sort": True, "repeats": 5}, args.step_timeout)
    parts = run_task("bench_matching:breakdown", {"n": n_big}, args.step_timeout)
    variants = []
    for label, params in [
        ("ids in random order (pandas must hash them to check uniqueness)", {"ids": "shuffled"}),
        ("1:3 (three rounds)", {"ratio": 3}),
        ("1:1 with replacement", {"replace": True}),
        ("1:1 without caliper", {"caliper_sd": None}),
    ]:
        log("   variant:", label)
        variants.append(
            (label, n_big, run_task("bench_matching:book_matcher", {"n": n_big, **params}, args.step_timeout))
        )
    for n in args.scaling:
        log(f"   scaling: {n:,}")
        variants.append((f"{n:,} patients", n, run_task("bench_matching:book_matcher", {"n": n}, args.step_timeout)))

    # 2. against psmpy
    table = []
    for caliper in (True, False):
        for n in args.sizes:
            log(f"2. psmpy vs book at {n:,}, caliper={caliper}")
            theirs = run_task("bench_matching:psmpy_matcher", {"n": n, "caliper": caliper}, args.psmpy_timeout)
            ours = run_task(
                "bench_matching:book_matcher",
                {"n": n, "caliper_sd": 0.2 if caliper else None},
                args.step_timeout,
            )
            table.append((caliper, n, theirs, ours))

    # 3. the analysis at one million
    steps = []
    if not args.skip_pipeline:
        n = args.pipeline_n
        log(f"3. pipeline at {n:,}: preparing the cohort")
        prepared = run_task("bench_pipeline:prepare", {"n": n}, args.step_timeout)
        for label, task, params in [
            ("Propensity score: unpenalised logistic regression, 11 covariates (statsmodels)", "ps_fit", {}),
            ("Matching: 1:1, caliper 0.2 SD, largest first (book matcher)", "match", {}),
            ("Balance table: indicators before/after, SMDs and variance ratios", "balance_table", {}),
            ("Cox, treatment only, patients independent (lifelines)", "cox", {"model": "independent"}),
            ("Cox, treatment only, SE clustered on pairs", "cox", {"model": "robust"}),
            (
                "Cox, Table 3 multivariable model (13 factors, response as cr / less than cr)",
                "cox",
                {"model": "multivariable"},
            ),
            (
                "Pairs informative for a stratified Cox model (survival.informative_pairs)",
                "informative_pairs",
                {},
            ),
            ("Cox, treatment only, stratified on pairs", "cox", {"model": "stratified"}),
        ]:
            log("   step:", label)
            steps.append((label, run_task(f"bench_pipeline:{task}", {"n": n, **params}, args.step_timeout)))
    facts_after = machine_facts()
    out = _report(
        args,
        facts_before,
        facts_after,
        main,
        parts,
        variants,
        table,
        prepared if not args.skip_pipeline else None,
        steps,
        time.perf_counter() - started,
    )
    return out


def _report(args, facts, facts_after, main, parts, variants, table, prepared, steps, elapsed) -> str:
    v = facts["versions"]
    lines = [
        "# Benchmarks: matching registry-sized cohorts",
        "",
        f"Written by `benchmarks/bench_matching.py` on {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} "
        f"({elapsed / 60:.0f} min). Re-run: `cd /work/main && .venv/bin/python benchmarks/bench_matching.py`.",
        "Every figure comes from its own Python process (`benchmarks/harness.py`): time is the best of "
        "several `time.perf_counter` runs (inputs prepared outside the timed call); *peak RSS* is the "
        "resident memory the call added at its peak (VmHWM reset through /proc/self/clear_refs, after "
        "`gc.collect()` and `malloc_trim`); *traced peak* is tracemalloc's peak in one more run (every "
        "Python and numpy allocation).",
        "",
        "## Machine",
        "",
        f"- CPU: {facts['cpu']}, {facts['logical_cpus']} logical CPUs ({facts['usable_cpus']} usable); "
        f"SIMD: {facts['simd'] or 'none reported'}; kernel {facts['kernel']}",
        f"- Memory: {facts['memory_gib']} GiB; cgroup limit: {facts['cgroup_memory_limit']}",
        f"- Python {v['python']}, numpy {v['numpy']} (BLAS: {facts['blas']}), pandas {v['pandas']}, "
        f"scipy {v['scipy']}, statsmodels {v['statsmodels']}, lifelines {v['lifelines']}, "
        f"scikit-learn {v['sklearn']}, psmpy {v['psmpy']}",
        "- Threads: "
        + ", ".join(f"{k}={val}" for k, val in facts["threads"].items())
        + " (unset: OpenBLAS and OpenMP use every CPU; only the score model and the Cox models call BLAS; "
        "the matchers are single-threaded)",
        f"- Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in facts['load_average'])}; "
        f"at the end: {', '.join(f'{x:.2f}' for x in facts_after['load_average'])}. The machine is shared "
        "(other sessions build the book on it), so single runs vary; best-of-N times are the least disturbed.",
        "",
    ]
    lines += _summary(args, main, table, steps)
    # --- 1 ---
    lines += [f"## 1. 1:1 caliper matching of {args.big:,} patients", ""]
    if main["status"] == "ok":
        best, sort_s = main["best_s"], main["numpy_sort_s"]
        ratio = best / sort_s
        lines += [
            f"{main['patients']:,} patients, {main['treated']:,} treated "
            f"({main['treated'] / main['patients']:.1%}); caliper 0.2 SD of the logit; largest score first; "
            f"matcher: `{main['matcher']}` (`matching.nearest_neighbour_match` → `fastmatch.fast_match`). "
            f"{main['matched_treated']:,} treated patients matched.",
            "",
            "| | time (best of {}) | all runs | peak RSS | traced peak |".format(main["runs"]),
            "|---|---|---|---|---|",
            f"| book matcher, 1:1 caliper | **{_fmt_s(best)}** | {', '.join(_fmt_s(s) for s in main['times_s'])} "
            f"| {_fmt_mib(main['peak_rss_mib'])} | {_fmt_mib(main['traced_peak_mib'])} |",
            f"| `numpy.sort` of the same {main['patients']:,} scores | {_fmt_s(sort_s)} | "
            f"{', '.join(_fmt_s(s) for s in main['numpy_sort_times_s'])} | | |",
            "",
            f"- Target ≤ {TARGET_SECONDS:g} s: **{'met' if best <= TARGET_SECONDS else 'missed'}** "
            f"({_fmt_s(best)}; {'margin' if best <= TARGET_SECONDS else 'over by'} "
            f"{_fmt_s(abs(TARGET_SECONDS - best))}).",
            f"- Aim ≤ {TARGET_SORT_RATIO:g}x `numpy.sort`: ratio **{ratio:.1f}x**, "
            f"**{'met' if ratio <= TARGET_SORT_RATIO else 'missed'}**"
            + (
                "."
                if ratio <= TARGET_SORT_RATIO
                else f" (by {ratio / TARGET_SORT_RATIO:.2f}x: {_fmt_s(best - TARGET_SORT_RATIO * sort_s)} too slow)."
            ),
            f"- For scale: {MATCHIT_REFERENCE}.",
            "",
        ]
    else:
        lines += [f"The 1:1 run {_not_finished(main)}.", ""]
    if parts["status"] == "ok":
        lines += [
            "Where the time goes (each step's best of 5 runs, timed separately):",
            "",
            "| step | time | share |",
            "|---|---|---|",
        ]
        total = parts["sum_s"]
        for name, seconds in parts["steps_s"].items():
            lines.append(f"| {name} | {_fmt_s(seconds)} | {seconds / total:.0%} |")
        lines += [f"| total | {_fmt_s(total)} | |", ""]
    lines += [
        "Variants (best of up to 5 runs):",
        "",
        "| variant | patients | treated | time | peak RSS | traced peak |",
        "|---|---|---|---|---|---|",
    ]
    for label, n, r in variants:
        if r["status"] == "ok":
            lines.append(
                f"| {label} | {n:,} | {r['treated']:,} | {_fmt_s(r['best_s'])} | "
                f"{_fmt_mib(r['peak_rss_mib'])} | {_fmt_mib(r['traced_peak_mib'])} |"
            )
        else:
            lines.append(f"| {label} | {n:,} | | {_not_finished(r)} | | |")
    lines.append("")
    # --- 2 ---
    lines += [
        "## 2. Against psmpy's `kdtree_matched`",
        "",
        "Same scores, same treated order (largest first), psmpy's caliper given as the absolute width "
        "the book's 0.2 SD gives. *Time ratio* and *memory ratio* are psmpy / book matcher. Memory: "
        "the traced peak (tracemalloc: what the call allocates, exact even for small calls; not "
        "measured when one untraced run took over 300 s) and, in brackets, the peak RSS the call "
        "added (a few MiB of noise at the small sizes). *Same pairs*: psmpy's pairs against the book's "
        "(`matching.compare_pairings`); with continuous scores there are no ties.",
        "",
    ]
    for caliper in (True, False):
        title = "With caliper 0.2 SD (the book’s default)" if caliper else "Without caliper (psmpy’s default)"
        lines += [
            f"### {title}",
            "",
            "| patients | treated | psmpy time | book time | time ratio | psmpy peak memory, traced (RSS) "
            "| book peak memory, traced (RSS) | memory ratio, traced (RSS) | same pairs |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for cal, n, theirs, ours in table:
            if cal != caliper:
                continue
            treated = ours.get("treated", "")
            if theirs["status"] != "ok":
                lines.append(
                    f"| {n:,} | {treated:,} | {_not_finished(theirs)} | {_fmt_s(ours.get('best_s'))} | "
                    f"> {_ratio(theirs['timeout_s'], ours.get('best_s'))} | - | "
                    f"{_fmt_mib(ours.get('traced_peak_mib'))} ({_fmt_mib(ours.get('peak_rss_mib'))}) "
                    "| - | - |"
                )
                continue
            a = theirs["agreement"]
            same = (
                "yes"
                if a["same_treated"] and a["differ"] == a["differ_by_tie"]
                else f"no ({a['differ']} differ, {a['differ_by_tie']} by a tie)"
            )
            rss = _ratio(theirs["peak_rss_mib"], ours["peak_rss_mib"])
            traced = _ratio(theirs["traced_peak_mib"], ours["traced_peak_mib"])
            lines.append(
                f"| {n:,} | {treated:,} | {_fmt_s(theirs['best_s'])} | {_fmt_s(ours['best_s'])} | "
                f"{_ratio(theirs['best_s'], ours['best_s'])} | {_fmt_mib(theirs['traced_peak_mib'])} "
                f"({_fmt_mib(theirs['peak_rss_mib'])}) | {_fmt_mib(ours['traced_peak_mib'])} "
                f"({_fmt_mib(ours['peak_rss_mib'])}) | {traced} ({rss}) | {same} |"
            )
        lines.append("")
    lines += [
        "psmpy asks the KD-tree for every treated patient's distance to *every* control "
        "(`k=len(controls)`: two n_treated x n_control arrays, 16 bytes per entry) and removes used "
        "controls by scanning Python lists, so its time grows roughly with n_treated² x n_control; "
        "the book's matcher needs O(n) memory and O(n log n) time.",
        "",
    ]
    # --- 3 ---
    if prepared is not None:
        lines += [f"## 3. The analysis at {args.pipeline_n:,} patients", ""]
        if prepared["status"] == "ok":
            lines += [
                f"Cohort: the book's synthetic cohorts of seeds 0-19 pooled, {prepared['patients']:,} "
                f"patients drawn from the pool with replacement ({prepared['treated']:,} treated, "
                f"{prepared['treated'] / prepared['patients']:.1%}; "
                f"{prepared['distinct_patients']:,} distinct "
                "covariate patterns, hence as many distinct scores: the matcher meets large groups of "
                "tied scores). Each step reads the previous step's output; time and memory are the "
                f"step's alone. Steps are stopped after {args.step_timeout:.0f} s.",
                "",
            ]
        lines += ["| step | time | runs | peak RSS | traced peak | notes |", "|---|---|---|---|---|---|"]
        for label, r in steps:
            if r["status"] != "ok":
                lines.append(f"| {label} | {_not_finished(r)} | | | | |")
                continue
            notes = []
            if "pairs" in r and "matcher" in r:
                notes.append(
                    f"{r['pairs']:,} pairs, {r['unmatched_treated']:,} treated unmatched, matcher "
                    f"`{r['matcher']}`; then `matched_cohort`: {_fmt_s(r['matched_cohort']['best_s'])}, "
                    f"peak RSS {_fmt_mib(r['matched_cohort']['peak_rss_mib'])}"
                )
            if "terms" in r and "patients" in r:
                notes.append(
                    f"{r['patients']:,} patients, {r['events']:,} events, {r['terms']} "
                    f"term{'s' if r['terms'] != 1 else ''}"
                )
            elif "terms" in r:
                notes.append(f"{r['terms']} terms, {r['distinct_scores']:,} distinct scores")
            if "informative" in r:
                notes.append(f"{r['informative']:,} of {r['pairs']:,} pairs")
            if "rows" in r:
                notes.append(f"{r['rows']} rows")
            lines.append(
                f"| {label} | {_fmt_s(r['best_s'])} | {r['runs']} | {_fmt_mib(r['peak_rss_mib'])} | "
                f"{_fmt_mib(r['traced_peak_mib'])} | {'; '.join(notes)} |"
            )
        lines += [
            "",
            "The Cox models are lifelines' (0.30). Its robust (sandwich) variance, which the "
            "pair-clustered model needs, computes score residuals in a Python loop over patients whose "
            "i-th step sums over the i earlier ones (`CoxPHFitter._compute_score_within_strata`): "
            "quadratic in the number of patients. Its stratified model handles each stratum (here each "
            "pair) separately in Python at every Newton step. Neither is a matching cost.",
        ]
        lines.append("")
    return "\n".join(lines) + "\n"


def _summary(args, main, table, steps) -> list[str]:
    """The targets of the issue, each with its measured figure and whether it is met."""
    lines = ["## Summary", "", "| target | measured | verdict |", "|---|---|---|"]
    if main["status"] == "ok":
        best, ratio = main["best_s"], main["best_s"] / main["numpy_sort_s"]
        share = main["treated"] / main["patients"]
        lines.append(
            f"| 1:1 caliper matching of {main['patients']:,} patients ({share:.1%} treated) in at most "
            f"{TARGET_SECONDS:g} s | {_fmt_s(best)} | "
            + (
                f"**met** ({TARGET_SECONDS / best:.1f}x inside)"
                if best <= TARGET_SECONDS
                else f"**missed** by {_fmt_s(best - TARGET_SECONDS)}"
            )
            + " |"
        )
        lines.append(
            f"| aim: within {TARGET_SORT_RATIO:g}x the time of `numpy.sort` on the same scores | "
            f"{ratio:.1f}x ({_fmt_s(best)} / {_fmt_s(main['numpy_sort_s'])}) | "
            + ("**met**" if ratio <= TARGET_SORT_RATIO else f"**missed** by {ratio / TARGET_SORT_RATIO:.2f}x")
            + " |"
        )
    else:
        lines.append(f"| 1:1 caliper matching of {args.big:,} patients | {_not_finished(main)} | **missed** |")
    for caliper in (True, False):
        rows = [(n, theirs, ours) for cal, n, theirs, ours in table if cal == caliper]
        done = [(n, t, o) for n, t, o in rows if t["status"] == "ok" and o["status"] == "ok"]
        if not done:
            continue
        (n0, t0, o0), (n1, t1, o1) = done[0], done[-1]
        unfinished = [n for n, t, _ in rows if t["status"] != "ok"]
        same = all(
            t["agreement"]["same_treated"] and t["agreement"]["differ"] == t["agreement"]["differ_by_tie"]
            for _, t, _ in done
        )
        lines.append(
            f"| time and memory against psmpy, {n0:,}-{rows[-1][0]:,} patients, "
            f"{'caliper 0.2 SD' if caliper else 'no caliper'} | psmpy/book time "
            f"{_ratio(t0['best_s'], o0['best_s'])}"
            f" at {n0:,} to {_ratio(t1['best_s'], o1['best_s'])} at {n1:,}; traced memory "
            f"{_ratio(t0['traced_peak_mib'], o0['traced_peak_mib'])} to "
            f"{_ratio(t1['traced_peak_mib'], o1['traced_peak_mib'])}"
            + (f"; psmpy did not finish at {', '.join(f'{n:,}' for n in unfinished)}" if unfinished else "")
            + " | measured (section 2); "
            + ("the same pairs at every size psmpy finished" if same else "**pairs differ** (see section 2)")
            + " |"
        )
    if steps:
        parts = []
        for label, r in steps:
            short = label.split(":")[0].split(" (")[0]
            measured = f"{_fmt_s(r['best_s'])}, {_fmt_mib(r['peak_rss_mib'])}" if r["status"] == "ok" else None
            parts.append(f"{short}: {measured or _not_finished(r)}")
        lines.append(
            f"| score model, balance table and Cox model at {args.pipeline_n:,} patients: "
            "time and memory (peak RSS) | " + "; ".join(parts) + " | measured (section 3) |"
        )
    return lines + [""]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--quick", action="store_true", help="small sizes only (a check of the script)")
    parser.add_argument("--psmpy-timeout", type=float, default=900.0)
    parser.add_argument("--step-timeout", type=float, default=900.0)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.big, args.scaling, args.sizes, args.pipeline_n = 100_000, [10_000], [1_000, 2_000], 20_000
        args.psmpy_timeout, args.step_timeout = min(args.psmpy_timeout, 60), min(args.step_timeout, 60)
    else:
        args.big, args.scaling, args.sizes, args.pipeline_n = (
            1_000_000,
            [10_000, 100_000],
            [1_000, 2_000, 5_000, 10_000, 20_000],
            1_000_000,
        )
    report = run(args)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    sys.path[:0] = [str(HERE.parent / "src"), str(HERE)]
    main()
