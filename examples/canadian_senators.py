"""Write lifelines' Canadian senators file with a coded status, for examples/canadian_senators.yaml.

    .venv/bin/python examples/canadian_senators.py --out senators.csv
    make book PARAMS="data=senators.csv study=examples/canadian_senators.yaml"

lifelines ships the file (``lifelines/datasets/canadian_senators.csv``: the 933 senators appointed
1867-2013, how long each sat and why they left) with the reason for leaving in ``reason`` (Death,
Retirement, Resignation, Appointment declined) and nothing there for the 99 senators still sitting at
the data's cut-off, 1 October 2013 (``observed`` False). The book needs a status code on every row, so
this script writes the file as shipped, every row and value unchanged, with two columns added:

- ``status``: ``reason``, or ``In office`` where ``observed`` is False;
- ``appointed_year``: the year of ``start_date`` (a number the description can cut into eras);
- ``region``: the region of ``province`` (:data:`REGIONS`; the senatorial divisions and the territories
  keep their own name), since a study description maps one code to one level and a province with a
  handful of senators and no death in office gives no hazard ratio;

and the four column names that are not plain names (spaces, a slash, brackets) written as plain ones
(:data:`RENAMED`: ``Province / Territory`` becomes ``province``), since the propensity-score model's
formula cannot take them yet.

A row whose ``reason`` and ``observed`` disagree (a reason but not observed, or observed without one)
stops the script, named. Everything else (which senators are analysed, which codes are the event)
is the study description's protocol, counted in the book's patient flow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from psmbook.cohort import reading

#: The file as lifelines ships it.
SOURCE = "pkg:lifelines/datasets/canadian_senators.csv"
#: Status code of a senator still sitting at the data's cut-off.
IN_OFFICE = "In office"
#: Province -> region (the Senate's regions, with Newfoundland and Labrador among the Atlantic provinces).
REGIONS = {
    "Nova Scotia": "Atlantic",
    "New Brunswick": "Atlantic",
    "Prince Edward Island": "Atlantic",
    "Newfoundland and Labrador": "Atlantic",
    "Quebec": "Quebec",
    "Ontario": "Ontario",
    "Manitoba": "Western provinces",
    "Saskatchewan": "Western provinces",
    "Alberta": "Western provinces",
    "British Columbia": "Western provinces",
}
#: Column names of the shipped file -> names the score model's formula can take.
RENAMED = {
    "Political Affiliation at Appointment": "party",
    "Province / Territory": "province",
    "Appointed on the advice of": "advised_by",
    "Term (yyyy.mm.dd)": "term",
}


def senators() -> pd.DataFrame:
    """lifelines' file with ``status``, ``appointed_year`` and ``region`` added and the columns :data:`RENAMED`;
    ValueError naming rows whose ``reason`` and ``observed`` disagree."""
    data = pd.read_csv(reading.resolve_data_path(SOURCE))
    observed = data["observed"].astype(str).str.lower().map({"true": True, "false": False})
    if observed.isna().any():
        raise ValueError(f"column 'observed' is not True/False at rows {list(data.index[observed.isna()] + 2)}")
    disagree = observed != data["reason"].notna()
    if disagree.any():
        rows = list(data.index[disagree] + 2)  # file lines: header is line 1
        raise ValueError(f"'reason' and 'observed' disagree at lines {rows} of {SOURCE}")
    out = data.rename(columns=RENAMED)
    out["status"] = data["reason"].where(observed, IN_OFFICE)
    out["appointed_year"] = pd.to_datetime(data["start_date"], format="ISO8601").dt.year
    out["region"] = out["province"].map(REGIONS).fillna(out["province"])
    return out


def write(path: Path) -> Path:
    """Write :func:`senators` to ``path`` (CSV, or Parquet by the suffix)."""
    path = Path(path)
    data = senators()
    if path.suffix.lower() in (".parquet", ".pq"):
        data.to_parquet(path, index=False)
    else:
        data.to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("senators.csv"), help="file to write (.csv or .parquet)")
    print(write(parser.parse_args().out))


if __name__ == "__main__":
    main()
