"""The outcomes of a generated cohort as the generator's outcome searches hold them (for their tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from psmbook.cohort.synthetic.outcomefit import Outcomes, pfs_kinds
from psmbook.cohort.synthetic.spec import DAYS_PER_MONTH
from psmbook.cohort.synthetic.targets import load_targets

#: The paper's landmarks (OS at 12 and 36 months, PFS at 6 and 12) as the searches' interval edges.
OS_EDGES, PFS_EDGES = np.array([12.005, 36.005]), np.array([6.005, 12.005])


def cohort_outcomes(df: pd.DataFrame) -> tuple[Outcomes, np.ndarray]:
    """`df`'s outcomes (copies; each patient's follow-up to the cut-off, assessment, kind of PFS) and who is
    treated."""
    treated = (df["arm"] == "anlotinib").to_numpy()
    ne, pd_ = df["death_during_crt"].to_numpy(), (df["response"] == "pd").to_numpy()
    start = df["crt_start_date"].to_numpy().astype("datetime64[D]")
    followup = (np.datetime64(load_targets().cutoff) - start).astype(float) / DAYS_PER_MONTH
    os_t, pfs_t = df["os_months"].to_numpy(float).copy(), df["pfs_months"].to_numpy(float).copy()
    os_e, pfs_e = df["os_event"].to_numpy(int).copy(), df["pfs_event"].to_numpy(int).copy()
    kind = pfs_kinds(os_t, os_e, pfs_t, pfs_e, ne, pd_)
    assess = df["response_assessment_months"].to_numpy(float)
    return Outcomes(os_t, os_e, pfs_t, pfs_e, kind, assess, followup, OS_EDGES, PFS_EDGES), treated
