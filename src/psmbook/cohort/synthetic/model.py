"""The generating model's building blocks: exact-count assignment, the OS hazard model and its baseline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from psmbook.cohort.synthetic.spec import OS_FACTORS, TREATED, GeneratorSpec
from psmbook.cohort.synthetic.targets import Targets, load_targets


def rank_assign(score: np.ndarray, levels, counts) -> np.ndarray:
    """Highest scores get levels[0] (counts[0] of them), the next ones levels[1], ... (exact counts)."""
    if sum(counts) != len(score):
        raise ValueError(f"counts {list(counts)} do not add up to {len(score)}")
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    out = np.empty(len(score), dtype=object)
    pos = 0
    for level, count in zip(levels, counts):
        out[order[pos : pos + count]] = level
        pos += count
    return out


def choose(rng, candidates: np.ndarray, k: int, weights=None, what: str = "") -> np.ndarray:
    """k distinct members of `candidates` (weighted without replacement); error if too few."""
    candidates = np.asarray(candidates)
    if k == 0:
        return candidates[:0]
    if k > len(candidates):
        raise ValueError(f"cannot choose {k} {what} from {len(candidates)} candidates")
    p = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        p = w / w.sum()
    return rng.choice(candidates, size=k, replace=False, p=p)


def stratified_uniforms(rng, shape) -> np.ndarray:
    """u = (permutation + v) / n along the last axis: one uniform in each of n equal strata."""
    n = shape[-1]
    perm = np.argsort(rng.random(shape), axis=-1)
    return (perm + rng.random(shape)) / n


def arm_strength(spec: GeneratorSpec, a: str) -> float:
    """Latent-dependence strength within arm `a`."""
    return spec.indication_strength * (1.0 if a == TREATED else spec.control_indication_ratio)


def hazard_ratios(spec: GeneratorSpec, targets: Targets) -> dict:
    if spec.os_hazard_ratios is None:
        return dict(targets.hazard_ratios)
    return {str(k): float(v) for k, v in spec.os_hazard_ratios}


def true_hazard_ratios(spec: GeneratorSpec | None = None) -> dict[str, float]:
    """The true conditional OS hazard ratios the generator encodes, by factor (``arm.anlotinib``, ...)."""
    return hazard_ratios(spec or GeneratorSpec(), load_targets())


def baseline_cumulative_hazard(t, spec: GeneratorSpec | None = None) -> np.ndarray:
    """H0(t) of the piecewise-constant baseline hazard (t in months)."""
    spec = spec or GeneratorSpec()
    t = np.asarray(t, dtype=float)
    breaks = np.asarray(spec.os_breaks_months, dtype=float)
    h = np.asarray(spec.os_baseline_hazard, dtype=float)
    ends = np.append(breaks[1:], np.inf)
    exposure = np.clip(t[..., None] - breaks, 0.0, ends - breaks)
    return exposure @ h


def inverse_cumulative_hazard(y, spec: GeneratorSpec | None = None) -> np.ndarray:
    """The time t at which the baseline cumulative hazard H0(t) reaches y (months): the inverse of
    :func:`baseline_cumulative_hazard`, used to draw survival times by inversion."""
    spec = spec or GeneratorSpec()
    breaks = np.asarray(spec.os_breaks_months, dtype=float)
    h = np.asarray(spec.os_baseline_hazard, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(np.diff(breaks) * h[:-1])])
    y = np.asarray(y, dtype=float)
    j = np.clip(np.searchsorted(cum, y, side="right") - 1, 0, len(h) - 1)
    return breaks[j] + (y - cum[j]) / h[j]


def os_linear_predictor(df: pd.DataFrame, spec: GeneratorSpec | None = None) -> pd.Series:
    """beta'x of the OS model for each row (not-evaluable patients count as 'less than CR')."""
    spec = spec or GeneratorSpec()
    hr = hazard_ratios(spec, load_targets())
    lp = np.zeros(len(df))
    for factor, column, level in OS_FACTORS:
        x = (df[column] == level).to_numpy()
        if column == "response_group":
            x = x | (df["response"] == "ne").to_numpy()
        lp += math.log(hr[factor]) * x
    return pd.Series(lp, index=df.index, name="os_linear_predictor")
