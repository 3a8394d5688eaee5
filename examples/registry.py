"""Write a registry-sized cohort for examples/registry.yaml: invented patients, a known treatment effect.

    .venv/bin/python examples/registry.py 1000000 --out /tmp/registry.parquet          # 10^6 patients
    .venv/bin/python examples/registry.py 100000 --out registry.csv --seed 7
    make book PARAMS="data=/tmp/registry.parquet study=examples/registry.yaml"

A cancer registry as an analyst meets it: patients diagnosed 2016-2021, treated with a new systemic
therapy or the standard one, followed until death, loss to follow-up or the data cut-off. Nothing here
comes from a real registry; the numbers are chosen to look like one. The same ``n`` and ``seed`` give the
same file, byte for byte (one numpy Generator, drawn in a fixed order).

Baseline (independent draws unless said): age (years, normal 66 SD 10 clipped to 18-95), sex, stage
I-IV, ECOG performance status 0/1/2 (worse with age and stage), Charlson comorbidity 0/1/2+ (more with
age), smoking never/former/current, five regions, year of diagnosis 2016-2021, body-mass index (kg/m²,
normal 26 SD 4.5 clipped to 15-50) and serum albumin (g/L, normal 40 SD 5 clipped to 20-55; lower with
worse ECOG).

Treatment (confounding by indication): the log-odds of the new therapy fall with age, ECOG, comorbidity
and stage IV, rise with stage II-III, with later years of diagnosis (its uptake) and in two regions;
about 30% are treated.

Outcomes, from a proportional-hazards model that :data:`TRUE_LOG_HR` states: death (overall survival)
is Weibull (shape 1.1) with a hazard that rises with age, stage, ECOG, comorbidity, smoking, low albumin
and low BMI, and falls by the **true conditional hazard ratio of 0.75** with treatment; progression is
Weibull (shape 1.2) with hazard ratio 0.70 for treatment, and progression-free survival ends at the
earlier of progression and death. Censoring: administrative at the data cut-off (2023-12-31, each
patient diagnosed at a uniform day of their year) and loss to follow-up (exponential, 3% a year).
Best response (RECIST: CR, PR, SD, PD; NE when the patient died before the first assessment at
2 months) is more often objective on treatment (odds ratio 1.8) and at early stage. Grade 3-4
neutropenia and fatigue are more frequent on treatment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

#: True log hazard ratios of the generating model (conditional on the covariates).
TRUE_LOG_HR = {"os": float(np.log(0.75)), "pfs_progression": float(np.log(0.70))}
DEFAULT_SEED = 2026
CUTOFF_YEAR = 2024.0  # data cut-off: 1 January 2024, in decimal years
MONTH = 1 / 12


def _choice(rng: np.random.Generator, codes: list[str], p: list[float], n: int) -> np.ndarray:
    return np.asarray(codes, dtype=object)[rng.choice(len(codes), size=n, p=p)]


def _weibull(rng: np.random.Generator, scale: float, shape: float, linear: np.ndarray) -> np.ndarray:
    """Weibull times (months) with a proportional-hazards linear predictor: S(t) = exp(-(t/scale)^shape e^lp)."""
    u = rng.random(len(linear))
    return scale * (-np.log1p(-u) * np.exp(-linear)) ** (1 / shape)


def registry_cohort(n: int, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """``n`` invented registry patients (see the module docstring), deterministic in ``seed``."""
    if n < 100:
        raise ValueError(f"n must be at least 100 patients, got {n}")
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(66, 10, n), 18, 95).round(1)
    sex = _choice(rng, ["female", "male"], [0.42, 0.58], n)
    stage = _choice(rng, ["i", "ii", "iii", "iv"], [0.18, 0.27, 0.32, 0.23], n)
    stage_n = pd.Series(stage).map({"i": 0, "ii": 1, "iii": 2, "iv": 3}).to_numpy()
    ecog_lp = 0.04 * (age - 66) + 0.35 * stage_n + rng.logistic(size=n)
    ecog = np.where(ecog_lp < 0.2, "0", np.where(ecog_lp < 2.0, "1", "2")).astype(object)
    ecog_n = ecog.astype(int)
    charlson_lp = 0.06 * (age - 66) + rng.logistic(size=n)
    charlson = np.where(charlson_lp < 0.0, "0", np.where(charlson_lp < 1.6, "1", "2")).astype(object)
    charlson_n = charlson.astype(int)
    smoking = _choice(rng, ["never", "former", "current"], [0.38, 0.40, 0.22], n)
    region = _choice(rng, ["north", "south", "east", "west", "central"], [0.22, 0.24, 0.18, 0.20, 0.16], n)
    year = rng.integers(2016, 2022, n)
    bmi = np.clip(rng.normal(26, 4.5, n), 15, 50).round(1)
    albumin = np.clip(rng.normal(40 - 1.5 * ecog_n, 5, n), 20, 55).round(1)

    # treatment: confounding by indication
    lp = (
        -0.55
        - 0.035 * (age - 66)
        - 0.45 * ecog_n
        - 0.30 * charlson_n
        + np.select([stage_n == 1, stage_n == 2, stage_n == 3], [0.35, 0.55, -0.40], 0.0)
        + 0.18 * (year - 2018.5)
        + np.where(np.isin(region, ["north", "central"]), 0.30, 0.0)
        + 0.02 * (albumin - 40)
    )
    treated = rng.random(n) < 1 / (1 + np.exp(-lp))

    # outcomes: proportional hazards, months
    risk = (
        0.025 * (age - 66)
        + np.select([stage_n == 1, stage_n == 2, stage_n == 3], [0.45, 0.95, 1.60], 0.0)
        + 0.40 * ecog_n
        + 0.20 * charlson_n
        + np.select([smoking == "former", smoking == "current"], [0.10, 0.30], 0.0)
        - 0.04 * (albumin - 40)
        - 0.015 * (bmi - 26)
    )
    death = _weibull(rng, 100.0, 1.1, risk + TRUE_LOG_HR["os"] * treated)
    progression = _weibull(rng, 45.0, 1.2, 0.9 * risk + TRUE_LOG_HR["pfs_progression"] * treated)
    diagnosed = year + rng.random(n)  # decimal year
    administrative = (CUTOFF_YEAR - diagnosed) * 12
    lost = rng.exponential(12 / 0.03, n)
    censor = np.minimum(administrative, lost)
    os_time = np.minimum(death, censor)
    os_event = (death <= censor).astype(int)
    pfs_end = np.minimum(progression, death)
    pfs_time = np.minimum(pfs_end, censor)
    pfs_event = (pfs_end <= censor).astype(int)

    # best response and adverse events
    response_lp = -0.6 + np.log(1.8) * treated - 0.45 * stage_n - 0.3 * ecog_n + rng.logistic(size=n)
    response = np.select([response_lp > 2.2, response_lp > 0.4, response_lp > -1.0], ["cr", "pr", "sd"], "pd")
    response = np.where(death < 2.0, "ne", response).astype(object)
    neutropenia = (rng.random(n) < np.where(treated, 0.22, 0.12)).astype(int)
    fatigue = (rng.random(n) < np.where(treated, 0.10, 0.06)).astype(int)

    width = len(str(n))
    return pd.DataFrame(
        {
            "patient_id": [f"R{i:0{width}d}" for i in range(1, n + 1)],
            "therapy": np.where(treated, "new", "standard"),
            "age": age,
            "sex": sex,
            "stage": stage,
            "ecog": ecog,
            "charlson": charlson,
            "smoking": smoking,
            "region": region,
            "diagnosis_year": year.astype(str),
            "bmi": bmi,
            "albumin": albumin,
            "os_months": os_time.round(2).clip(0.01),
            "os_event": os_event,
            "pfs_months": np.minimum(pfs_time.round(2).clip(0.01), os_time.round(2).clip(0.01)),
            "pfs_event": pfs_event,
            "best_response": response,
            "g34_neutropenia": neutropenia,
            "g34_fatigue": fatigue,
        }
    )


def write_registry(path: Path | str, n: int, seed: int = DEFAULT_SEED) -> Path:
    """Write :func:`registry_cohort` to ``path`` (.parquet, or .csv); returns the path."""
    path = Path(path)
    data = registry_cohort(n, seed)
    if path.suffix == ".parquet":
        data.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        data.to_csv(path, index=False)
    else:
        raise ValueError(f"--out {path}: write .parquet or .csv")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="patients (e.g. 1000000)")
    parser.add_argument("--out", type=Path, default=Path("registry.parquet"), help=".parquet (default) or .csv")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    path = write_registry(args.out, args.n, args.seed)
    print(f"{args.n:,} registry patients (seed {args.seed}) written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
