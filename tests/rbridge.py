"""Run a piece of R on data frames and read back its answer, for the parity tests.

The reference implementations (R's survival and MatchIt, from Debian) are the yardstick: a parity test
writes its data to CSV, runs a short R script with ``Rscript`` and compares what the script returns (one
JSON object, written with jsonlite) with our numbers. ``make test`` installs R when it is missing (as for
chromium); where it cannot, the tests marked ``needs_r`` are skipped with a message saying so.

    result = run_r('fit <- coxph(Surv(time, event) ~ x, data = d); out$coef <- unname(coef(fit))',
                   d=frame, packages=["survival"])
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

RSCRIPT = shutil.which("Rscript")


def _has_packages(packages: tuple[str, ...]) -> bool:
    if RSCRIPT is None:
        return False
    check = "quit(status = !all(sapply(c({}), requireNamespace, quietly = TRUE)))".format(
        ", ".join(f'"{p}"' for p in packages)
    )
    return subprocess.run([RSCRIPT, "-e", check], capture_output=True).returncode == 0


R_PACKAGES = ("survival", "MatchIt", "jsonlite")
HAVE_R = _has_packages(R_PACKAGES)

needs_r = pytest.mark.skipif(
    not HAVE_R,
    reason="R with survival, MatchIt and jsonlite is not installed (make test installs Debian's "
    "r-base-core r-cran-survival r-cran-matchit r-cran-jsonlite)",
)


class RError(RuntimeError):
    """The R script failed; the message carries R's own error output."""


def r_version(package: str) -> str:
    """The installed version of an R package, as packageVersion() prints it."""
    return run_r(f'out$version <- as.character(packageVersion("{package}"))')["version"]


def run_r(code: str, packages: list[str] | tuple[str, ...] = (), timeout: float = 600, **frames: pd.DataFrame):
    """Run ``code`` in R with each data frame in ``frames`` loaded under its name; return the list ``out``.

    The script fills a list named ``out``; it comes back as a dict (scalars unboxed, vectors as lists,
    NA as None, doubles with 15 significant digits so 4-decimal comparisons are never limited by the trip).
    """
    if RSCRIPT is None:
        raise RError("Rscript is not on PATH")
    with tempfile.TemporaryDirectory(prefix="rbridge-") as folder:
        folder = Path(folder)
        lines = ["suppressPackageStartupMessages({"]
        lines += [f"  library({p})" for p in ("jsonlite", *packages)]
        lines += ["})", "out <- list()"]
        for name, frame in frames.items():
            path = folder / f"{name}.csv"
            frame.to_csv(path, index=False)
            lines.append(f'{name} <- read.csv("{path.as_posix()}", stringsAsFactors = FALSE)')
        lines.append(code)
        result = folder / "out.json"
        lines.append(f'writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null"), "{result.as_posix()}")')
        script = folder / "script.R"
        script.write_text("\n".join(lines) + "\n")
        done = subprocess.run([RSCRIPT, "--vanilla", str(script)], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RError(f"R failed (exit {done.returncode}):\n{done.stderr.strip()[-3000:]}")
        return json.loads(result.read_text())
