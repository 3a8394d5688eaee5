"""The design search's building blocks: the draws and the design matrix its hot loops use."""

from __future__ import annotations

import numpy as np
import pytest

from psmbook.cohort.synthetic.designsearch import _cdf, pick
from psmbook.cohort.synthetic.psmodel import coding, design_matrix


@pytest.mark.parametrize("p", [(0.35, 0.4, 0.1, 0.075, 0.075), (0.5, 0.5, 0.0, 0.0, 0.0), (68, 8, 68, 147)])
def test_pick_draws_what_rng_choice_draws_from_the_same_stream(p):
    ours, theirs = np.random.default_rng(11), np.random.default_rng(11)
    probs = np.asarray(p, dtype=float) / np.sum(p)
    drawn = [pick(ours, _cdf(p)) for _ in range(20000)]
    assert drawn == [int(theirs.choice(len(p), p=probs)) for _ in range(20000)]
    assert ours.random() == theirs.random()  # and leaves the stream where choice leaves it
    assert set(drawn) == {k for k, q in enumerate(p) if q > 0}


def test_design_matrix_has_an_intercept_and_one_indicator_per_non_reference_level():
    cd = coding()
    rng = np.random.default_rng(2)
    codes = np.column_stack([rng.integers(len(lv), size=50) for lv in cd.levels])
    x = design_matrix(codes)
    assert x.shape == (50, cd.n_columns) and (x[:, 0] == 1).all()
    for k, off in enumerate(cd.offsets):
        block = x[:, off : off + len(cd.levels[k]) - 1]
        assert (block.sum(axis=1) == (codes[:, k] > 0)).all()  # the reference level has no indicator
        hit = codes[:, k] > 0
        assert (block[hit, codes[hit, k] - 1] == 1).all()
