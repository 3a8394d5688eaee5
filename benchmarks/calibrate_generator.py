"""Derive the calibrated constants of :class:`psmbook.cohort.synthetic.GeneratorSpec`, and check them.

    PYTHONPATH=src python benchmarks/calibrate_generator.py            # calibrate, then check
    PYTHONPATH=src python benchmarks/calibrate_generator.py --check    # check the frozen defaults only

The published targets come from ``psmbook/data/published.yaml`` (through ``load_targets``); the script
prints the constants to freeze in ``GeneratorSpec`` and never edits the source itself.

Steps
1. Overall survival. For a grid of ``nodes_arm_shift`` values, the covariates, response and timing of
   ``--seeds`` cohorts are generated (everything before the survival draw). For a piecewise-constant
   baseline hazard the model's expected Kaplan-Meier landmarks are averages of the patients' survival
   functions (nobody is censored before 65 months) and the expected death totals are sums of death
   probabilities before each patient's censoring date - both smooth in the hazards, so the six log
   hazards are fitted by least squares to the 1- and 3-year OS landmarks and the death totals of both
   arms. The shift with the smallest residual wins.
2. Progression-free survival. With OS drawn (exact totals), the log-normal (median, log-SD) of each
   arm's time from assessment to progression is fitted by Nelder-Mead to the mean 6- and 12-month PFS
   landmarks over the same seeds (common random numbers: the PFS uniforms do not depend on them).
3. Anlotinib exposure. The median time to discontinuation is found by bisection so that the mean over
   seeds of the treated arm's median exposure equals the published median.
4. Check: full cohorts for ``--check-seeds`` seeds; mean, worst and per-landmark deviation of the eight
   landmarks, rejection draws used, time per cohort; optionally (``--matching``) the number of treated
   patients a 1:1 caliper-0.2 match keeps for a few ``indication_strength`` values.

All of this concerns the latent model (``GeneratorSpec(match_design=False)``): the constants make its
landmarks and death totals right on average. With the matched design (the default cohort) the landmarks
of the whole and the matched cohort are conditioned on directly (``landmarks.py``) and the covariates are
rearranged (``matchdesign.py``); ``benchmarks/bench_design.py`` measures that path.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings

import numpy as np
from scipy import optimize

from psmbook.cohort import synthetic as syn
from psmbook.cohort.synthetic import ARMS, TREATED, GeneratorSpec, generate_cohort, load_targets
from psmbook.cohort.synthetic.generate import _generate, _prepare
from psmbook.cohort.synthetic.outcomes import draw_os, draw_pfs
from psmbook.study.published import landmark_months

OS_LANDMARKS = (("os", "1y"), ("os", "3y"))
PFS_LANDMARKS = (("pfs", "6m"), ("pfs", "12m"))


def population(spec: GeneratorSpec, seeds) -> list[dict]:
    """The pre-survival state of each seed (arrays needed by the OS expectation)."""
    out = []
    for seed in seeds:
        st = _prepare(seed, spec)
        out.append(
            {
                "arm": st["base"]["arm"],
                "lp": st["lp"],
                "assess": st["assess"],
                "followup": st["followup"],
                "ne": st["course"]["not_evaluable"],
            }
        )
    return out


def expected_os(log_h: np.ndarray, pop: list[dict], spec: GeneratorSpec) -> dict:
    """Expected landmark survival (fraction) and death fraction per arm, averaged over the cohorts."""
    sp = spec.with_(os_baseline_hazard=tuple(np.exp(log_h)))
    res = {}
    for a in ARMS:
        surv = {k: [] for _, k in OS_LANDMARKS}
        deaths = []
        for c in pop:
            m = c["arm"] == a
            ev = m & ~c["ne"]
            r = np.exp(c["lp"][ev])
            h_a = syn.baseline_cumulative_hazard(c["assess"][ev], sp)
            for _, key in OS_LANDMARKS:
                t = landmark_months(key)
                h_t = syn.baseline_cumulative_hazard(np.full(ev.sum(), t), sp)
                surv[key].append(np.exp(-r * (h_t - h_a)).sum() / m.sum())
            h_f = syn.baseline_cumulative_hazard(c["followup"][ev], sp)
            deaths.append(((1 - np.exp(-r * (h_f - h_a))).sum() + (m & c["ne"]).sum()) / m.sum())
        res[a] = {**{k: float(np.mean(v)) for k, v in surv.items()}, "deaths": float(np.mean(deaths))}
    return res


def fit_os(spec: GeneratorSpec, seeds, shifts) -> tuple[GeneratorSpec, dict]:
    tg = load_targets()
    best = None
    for shift in shifts:
        shift = round(float(shift), 3)
        sp = spec.with_(nodes_arm_shift=shift)
        pop = population(sp, seeds)

        def residuals(log_h):
            e = expected_os(log_h, pop, sp)
            out = []
            for a in ARMS:
                for _, key in OS_LANDMARKS:
                    out.append(e[a][key] - tg.landmarks[("os", key, a)][1] / 100)
                out.append(2.0 * (e[a]["deaths"] - tg.os_events[a] / tg.n[a]))
            # mild smoothness penalty between neighbouring pieces
            out.extend(0.02 * np.diff(log_h))
            return np.array(out)

        x0 = np.log(np.asarray(spec.os_baseline_hazard))
        fit = optimize.least_squares(residuals, x0, method="lm")
        cost = float(np.sum(fit.fun[:6] ** 2))
        print(f"  nodes_arm_shift={shift:+.2f}: residual SS {cost:.2e}, h0 = {np.round(np.exp(fit.x), 4).tolist()}")
        if best is None or cost < best[0]:
            best = (cost, float(shift), fit.x, expected_os(fit.x, pop, sp))
    _, shift, log_h, expect = best
    h = tuple(float(f"{x:.4g}") for x in np.exp(log_h))
    return spec.with_(nodes_arm_shift=shift, os_baseline_hazard=h), expect


def os_draws(spec: GeneratorSpec, seeds) -> list[dict]:
    """OS for each seed, with the survival stream's state after the OS draw (to replay PFS)."""
    out = []
    for seed in seeds:
        st = _prepare(seed, spec)
        r_surv = st["streams"][0]
        pd_ = st["response"] == "pd"
        ne = st["course"]["not_evaluable"]
        os_ = draw_os(
            r_surv,
            spec,
            st["tg"],
            st["base"]["arm"],
            st["lp"],
            st["assess"],
            st["crt_end"],
            st["followup"],
            ne,
            pd_,
        )
        out.append(
            {
                "state": r_surv.bit_generator.state,
                "bitgen": type(r_surv.bit_generator),
                "arm": st["base"]["arm"],
                "assess": st["assess"],
                "followup": st["followup"],
                "ne": ne,
                "pd": pd_,
                **os_,
            }
        )
    return out


def pfs_landmarks(spec: GeneratorSpec, draws: list[dict], arm: str) -> np.ndarray:
    tg = load_targets()
    vals = []
    for d in draws:
        bg = d["bitgen"]()
        bg.state = d["state"]
        rng = np.random.Generator(bg)
        p = draw_pfs(
            rng,
            spec,
            tg,
            d["arm"],
            d["assess"],
            d["followup"],
            d["ne"],
            d["pd"],
            d["os_months"],
            d["os_event"],
        )
        m = d["arm"] == arm
        vals.append([np.mean(p["pfs_months"][m] > landmark_months(k)) for _, k in PFS_LANDMARKS])
    return np.mean(vals, axis=0)


def fit_pfs(spec: GeneratorSpec, seeds) -> GeneratorSpec:
    """Fit without the landmark window (it centres draws on the model's expectation anyway, and
    without it the objective is smooth in the parameters under common random numbers)."""
    tg = load_targets()
    window = spec.landmark_window_pp
    spec = spec.with_(landmark_window_pp=None)
    draws = os_draws(spec, seeds)
    changes = {}
    for a in ARMS:
        field = "progression_anlotinib" if a == TREATED else "progression_crt"
        target = np.array([tg.landmarks[("pfs", k, a)][1] / 100 for _, k in PFS_LANDMARKS])

        def loss(x):
            sp = spec.with_(**{field: (float(np.exp(x[0])), float(np.exp(x[1])))})
            return float(np.sum((pfs_landmarks(sp, draws, a) - target) ** 2))

        x0 = np.log(np.asarray(getattr(spec, field)))
        fit = optimize.minimize(loss, x0, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-7, "maxiter": 200})
        ab = tuple(float(f"{v:.3g}") for v in np.exp(fit.x))
        changes[field] = ab
        got = pfs_landmarks(spec.with_(**{field: ab}), draws, a)
        print(
            f"  {a}: log-normal (median, log-SD) {ab}: PFS 6/12 months {np.round(100 * got, 1).tolist()} "
            f"(published {np.round(100 * target, 1).tolist()})"
        )
    return spec.with_(landmark_window_pp=window, **changes)


def fit_exposure(spec: GeneratorSpec, seeds) -> GeneratorSpec:
    tg = load_targets()
    target = tg.anlotinib_exposure_weeks[0]

    def median_weeks(m):
        sp = spec.with_(anlotinib_discontinuation_median_weeks=float(m))
        meds = []
        for seed in seeds:
            df = generate_cohort(seed, sp)
            meds.append(float(df.loc[df.arm == TREATED, "anlotinib_weeks"].astype(float).median()))
        return float(np.mean(meds))

    lo, hi = 10.0, 400.0
    for _ in range(14):
        mid = math.sqrt(lo * hi)
        if median_weeks(mid) < target:
            lo = mid
        else:
            hi = mid
    m = float(f"{math.sqrt(lo * hi):.3g}")
    print(
        f"  discontinuation median {m} weeks -> mean median exposure {median_weeks(m):.1f} "
        f"(published {target:g}, matched cohort)"
    )
    return spec.with_(anlotinib_discontinuation_median_weeks=m)


def km_at(time_, event, t):
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(time_, event)
    return float(km.survival_function_at_times(t).iloc[0])


def check(spec: GeneratorSpec, seeds) -> None:
    tg = load_targets()
    devs, times, draws = [], [], []
    for seed in seeds:
        t0 = time.perf_counter()
        df, info = _generate(seed, spec)
        times.append(time.perf_counter() - t0)
        draws.append(info["survival_draws"])
        row = []
        for endpoint, key in syn.LANDMARKS:
            for a in ARMS:
                t, pub = tg.landmarks[(endpoint, key, a)]
                d = df[df.arm == a]
                got = 100 * km_at(d[f"{endpoint}_months"], d[f"{endpoint}_event"], t)
                row.append(got - pub)
        devs.append(row)
    devs = np.array(devs)
    names = [f"{e} {k} {a}" for e, k in syn.LANDMARKS for a in ARMS]
    print(f"  {len(seeds)} seeds: landmark deviation (synthetic - published, pp)")
    for j, name in enumerate(names):
        print(
            f"    {name:16s} mean {devs[:, j].mean():+5.2f}  sd {devs[:, j].std():4.2f}  "
            f"min {devs[:, j].min():+5.2f}  max {devs[:, j].max():+5.2f}"
        )
    worst = np.abs(devs).max()
    i, j = np.unravel_index(np.abs(devs).argmax(), devs.shape)
    print(
        f"  worst |deviation| {worst:.2f} pp ({names[j]}, seed {seeds[i]}); "
        f"seeds over 5 pp: {int((np.abs(devs) > 5).any(axis=1).sum())}"
    )
    draws = np.array(draws)
    print(
        f"  rejection draws per arm: treated mean {draws[:, 0].mean():.0f} max {draws[:, 0].max()}, "
        f"control mean {draws[:, 1].mean():.0f} max {draws[:, 1].max()}"
    )
    print(f"  time per cohort: mean {1000 * np.mean(times):.0f} ms, max {1000 * np.max(times):.0f} ms")


def matching(spec: GeneratorSpec, seeds, strengths) -> None:
    import pandas as pd

    from psmbook.matching.nearest import nearest_neighbour_match
    from psmbook.matching.score import fit_propensity
    from psmbook.study.description import load_study

    covs = [v.column for v in load_study().psm_covariates]
    warnings.simplefilter("ignore")
    for lam in strengths:
        kept = []
        for seed in seeds:
            st = _prepare(seed, spec.with_(indication_strength=lam))
            df = pd.DataFrame({c: st["base"][c] for c in covs + ["arm"]})
            df.index = [f"P{i}" for i in range(len(df))]
            model = fit_propensity(df, "arm", TREATED, covs)
            kept.append(len(nearest_neighbour_match(model.logit, model.treated, caliper_sd=0.2).matched_treated))
        kept = np.array(kept)
        print(
            f"  indication_strength {lam:.2f}: treated kept mean {kept.mean():.1f} "
            f"(min {kept.min()}, max {kept.max()}) of {load_targets().n[TREATED]}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=60, help="cohorts used to calibrate")
    parser.add_argument("--check-seeds", type=int, default=200, help="cohorts used to check")
    parser.add_argument("--check", action="store_true", help="check the frozen defaults only")
    parser.add_argument("--matching", action="store_true", help="also count treated kept by PS matching")
    args = parser.parse_args(argv)
    spec = GeneratorSpec(match_design=False)
    calib_seeds = list(range(1000, 1000 + args.seeds))  # disjoint from the checked seeds
    if not args.check:
        print("1. overall survival")
        spec, expect = fit_os(spec, calib_seeds, shifts=np.arange(0.0, 1.01, 0.1))
        for a in ARMS:
            print(
                f"  {a}: expected OS 1y/3y {100 * expect[a]['1y']:.1f}/{100 * expect[a]['3y']:.1f}, "
                f"deaths {expect[a]['deaths'] * load_targets().n[a]:.1f}"
            )
        print("2. progression-free survival")
        spec = fit_pfs(spec, calib_seeds)
        print("3. anlotinib exposure")
        spec = fit_exposure(spec, calib_seeds[:30])
        print("\nFreeze in GeneratorSpec:")
        for name in (
            "nodes_arm_shift",
            "os_baseline_hazard",
            "progression_anlotinib",
            "progression_crt",
            "anlotinib_discontinuation_median_weeks",
        ):
            print(f"    {name} = {getattr(spec, name)!r}")
    print("4. check")
    check(spec, list(range(args.check_seeds)) + [syn.DEFAULT_SEED])
    if args.matching:
        print("5. matching (1:1 nearest neighbour, caliper 0.2 SD of the logit PS, largest first)")
        matching(spec, list(range(40)), (0.0, 0.5, 0.8, 0.9, 0.95))
    return 0


if __name__ == "__main__":
    sys.exit(main())
