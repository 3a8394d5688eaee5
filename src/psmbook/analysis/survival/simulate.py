"""Simulated matched pairs with survival times, for checking and timing the Cox models at registry scale."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulated_pairs(n_pairs: int, seed: int = 1, hr: float = 0.7, frailty_sd: float = 0.5) -> pd.DataFrame:
    """``n_pairs`` matched pairs (one treated, one control patient each) with exponential survival.

    A pair shares a log-normal frailty (SD ``frailty_sd`` on the log scale), so outcomes within a pair
    are correlated, as after matching; each patient has a standard normal covariate ``z`` (log HR 0.3)
    and a binary ``older`` (log HR 0.4); treatment has hazard ratio ``hr`` conditional on the pair.
    Follow-up is uniform over 0.5–5 years; times are rounded to 0.01, which makes ties. Columns:
    ``pair``, ``treated``, ``z``, ``older``, ``time``, ``event``, and a non-integer ``weight`` (for
    checking weighted fits).
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be at least 1, got {n_pairs}")
    rng = np.random.default_rng(seed)
    n = 2 * n_pairs
    pair = np.repeat(np.arange(1, n_pairs + 1), 2)
    treated = np.tile([1.0, 0.0], n_pairs)
    frailty = np.repeat(rng.normal(0.0, frailty_sd, n_pairs), 2)
    z = rng.normal(size=n)
    older = (rng.random(n) < 0.4).astype(float)
    rate = 0.3 * np.exp(frailty + np.log(hr) * treated + 0.3 * z + 0.4 * older)
    death = rng.exponential(1 / rate)
    follow_up = rng.uniform(0.5, 5.0, n)
    time = np.maximum(np.round(np.minimum(death, follow_up), 2), 0.01)
    return pd.DataFrame(
        {
            "pair": pair,
            "treated": treated,
            "z": z,
            "older": older,
            "time": time,
            "event": (death <= follow_up).astype(float),
            "weight": rng.uniform(0.5, 2.0, n),
        }
    )
