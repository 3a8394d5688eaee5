"""The R bridge itself: data go in, numbers come back at full precision, R's errors are reported."""

import pandas as pd
import pytest

from rbridge import RError, needs_r, r_version, run_r

pytestmark = needs_r


def test_a_frame_goes_in_and_full_precision_comes_back():
    frame = pd.DataFrame({"x": [1.0, 2.0, 4.0], "g": ["a", "b", "a"]})
    out = run_r("out$mean <- mean(d$x) / 3; out$n_a <- sum(d$g == 'a'); out$missing <- NA", d=frame)
    assert out["mean"] == pytest.approx(7 / 9, abs=1e-14)
    assert out["n_a"] == 2
    assert out["missing"] is None


def test_an_r_error_is_raised_with_r_message():
    with pytest.raises(RError, match="no such thing"):
        run_r('stop("no such thing")')


def test_the_reference_packages_are_the_debian_versions_we_name():
    # MatchIt 4.5.1's fast path for a score distance is the one with the known caliper bug; the
    # matching parity test gives MatchIt a distance matrix, which takes its exact algorithm.
    assert r_version("MatchIt").split(".")[0] == "4"
    assert r_version("survival").split(".")[0] == "3"
