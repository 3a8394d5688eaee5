"""Table 3 as the paper lays it out, this book's estimates beside the published ones."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from psmbook.analysis.survival.factors import Factor
from psmbook.present.format import format_p, hr_ci_text


def _source_has(source, factor: Factor, published: Mapping[str, Any]) -> bool:
    if isinstance(source, str):
        return any(k.startswith(f"{source}.{factor.column}.") for k in published)
    return source is not None and factor.column in set(source["factor"])


def _source_values(source, term: str, published: Mapping[str, Any]) -> tuple[float, float, float, float]:
    if isinstance(source, str):
        keys = [f"{source}.{term}.{kind}" for kind in ("hr", "ci_low", "ci_high", "p")]
        return tuple(float(published[k].value) if k in published else np.nan for k in keys)
    row = source.set_index("id").loc[term]
    return float(row["hr"]), float(row["ci_low"]), float(row["ci_high"]), float(row["p"])


def table3_display(
    groups: Sequence[tuple[str, Any]],
    factors: Sequence[Factor],
    published: Optional[Mapping[str, Any]] = None,
) -> pd.DataFrame:
    """Table 3 in the paper's layout: each factor with its levels, "1 (reference)" for the reference
    level, then HR (95% CI) and p of every other level, for each of ``groups``.

    ``groups`` is a sequence of (column title, source); a source is a tidy table from
    :func:`cox_univariate` / :func:`cox_multivariable`, or a published-id prefix
    (``"table3.univariate"``, ``"table3.multivariate"``) whose values are read from ``published``.
    A factor a model does not contain is left blank in its columns.
    """
    published = published or {}
    rows, index = [], []
    for f in factors:
        present = [_source_has(source, f, published) for _, source in groups]
        if not any(present):
            continue
        for level, label in f.levels.items():
            index.append((f.label, label))
            cells = []
            for (_, source), has in zip(groups, present):
                if not has:
                    cells += ["", ""]
                elif level == f.reference:
                    cells += ["1 (reference)", ""]
                else:
                    hr, low, high, p = _source_values(source, f.term(level), published)
                    cells += [
                        "" if np.isnan(hr) else hr_ci_text(hr, low, high),
                        "" if np.isnan(p) else format_p(p),
                    ]
            rows.append(cells)
    columns = pd.MultiIndex.from_product([[name for name, _ in groups], ["HR (95% CI)", "p"]])
    return pd.DataFrame(
        rows, index=pd.MultiIndex.from_tuples(index, names=["Prognostic factor", "Level"]), columns=columns
    )
