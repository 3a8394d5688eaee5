"""Write the NCCTG lung cancer trial, resampled to ``n`` patients, for examples/lung.yaml: a scale test.

    .venv/bin/python examples/lung_resample.py 20000 --out /tmp/lung20k.parquet
    make book PARAMS="data=/tmp/lung20k.parquet study=examples/lung.yaml"
    .venv/bin/python examples/lung_resample.py 0 --out lung.csv      # the 228 patients as shipped

The data are the North Central Cancer Treatment Group's 228 patients with advanced lung cancer
(Loprinzi et al., J Clin Oncol 1994;12:601-7) as shipped inside the lifelines package
(lifelines/datasets/lung.csv, R survival's ``lung`` with its status recoded 0 = censored, 1 = dead).

**Resampling repeats patients: the result is a scale test, not a study.** ``n`` rows are drawn with
replacement from the 228 (one numpy Generator, ``seed``), so each real patient appears about n/228 times
with the same values; every p-value, confidence interval and standard error computed on it is far too
small, and nothing about lung cancer should be read from it. It exists to run the whole book on a
lung-cancer file of 20,000 or 200,000 rows (issue 16). The same ``n`` and ``seed`` give the same file.

Every patient gets a new id (``patient``, 1 to n, in the order drawn); the original row it repeats is
kept in ``source_row`` (0-227), which the study description does not name, so the book drops it on
reading. ``n = 0`` writes the shipped rows once, in their order, with ids 1 to 228. Column names get
underscores for R's dots (``ph.ecog`` becomes ``ph_ecog``): the book's model formulas read covariates by
name, and a name must be letters, digits and underscores.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_SEED = 16  # issue 16


def shipped_lung() -> pd.DataFrame:
    """The 228 patients of lifelines' lung.csv, unedited."""
    with resources.files("lifelines").joinpath("datasets/lung.csv").open("rb") as handle:
        return pd.read_csv(handle)


def resampled_lung(n: int, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """``n`` rows drawn with replacement from the shipped trial (``n = 0``: the shipped rows), new ids."""
    if n < 0:
        raise ValueError(f"n must be 0 (the shipped rows) or a number of patients, got {n}")
    lung = shipped_lung()
    rows = np.arange(len(lung)) if n == 0 else np.random.default_rng(seed).integers(0, len(lung), n)
    data = lung.iloc[rows].reset_index(drop=True)
    data.columns = [name.replace(".", "_") for name in data.columns]
    data.insert(0, "patient", np.arange(1, len(data) + 1))
    data.insert(1, "source_row", rows)
    return data


def write(data: pd.DataFrame, path: Path) -> None:
    """Parquet for a ``.parquet`` path, CSV for ``.csv``."""
    if path.suffix == ".parquet":
        data.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        data.to_csv(path, index=False)
    else:
        raise ValueError(f"--out must end in .parquet or .csv, got {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("n", type=int, help="patients (e.g. 20000); 0 for the 228 shipped rows")
    parser.add_argument("--out", type=Path, default=Path("lung.parquet"), help=".parquet (default) or .csv")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    write(resampled_lung(args.n, args.seed), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
