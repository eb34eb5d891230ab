"""Statistics against values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from traitforge.audit.stats import (Z95, benjamini_hochberg, log_odds_z, over_representation_z,
                                    two_proportion_z, upper_p, wilson)


def test_wilson_hand_computed():
    # k=10, n=100, z=1.96: p=0.1, z^2=3.8415
    # denom  = 1 + 3.8415/100                      = 1.038415
    # centre = (0.1 + 3.8415/200) / denom          = 0.119207/1.038415 = 0.114797
    # half   = 1.96*sqrt(0.1*0.9/100 + 3.8415/40000) / denom
    #        = 1.96*sqrt(0.00099604)/1.038415      = 0.061858/1.038415 = 0.059570
    # -> (0.05523, 0.17437)
    lo, hi = wilson(10, 100)
    assert lo == pytest.approx(0.05523, abs=2e-5)
    assert hi == pytest.approx(0.17437, abs=2e-5)


def test_wilson_edges_and_clipping():
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson(0, 20)
    # k=0: centre == half, so the lower bound is 0 (up to rounding); upper = z^2/(n+z^2)
    assert lo == pytest.approx(0.0, abs=1e-12) and lo >= 0.0
    assert hi == pytest.approx(Z95 ** 2 / (20 + Z95 ** 2))
    lo, hi = wilson(20, 20)
    assert hi == pytest.approx(1.0, abs=1e-12) and hi <= 1.0
    assert lo == pytest.approx(20 / (20 + Z95 ** 2))
    # The interval holds the point estimate and narrows as n grows at the same rate.
    lo1, hi1 = wilson(5, 50)
    lo2, hi2 = wilson(50, 500)
    assert lo1 < 0.1 < hi1 and lo2 < 0.1 < hi2
    assert hi2 - lo2 < hi1 - lo1


def test_log_odds_hand_computed():
    # y_a=30 of n_a=100, y_b=10 of n_b=100, prior strength 100
    # pooled = (30+10)/(100+100) = 0.2
    # alpha  = 100*0.2 = 20, beta = 100 - 20 = 80
    # a1 = 30+20 = 50, a0 = 100-30+80 = 150; b1 = 10+20 = 30, b0 = 100-10+80 = 170
    # delta  = ln(50/150) - ln(30/170) = ln(17/9) = 0.635989
    # var    = 1/50 + 1/150 + 1/30 + 1/170 = 0.0658824
    # z      = 0.635989 / sqrt(0.0658824) = 0.635989/0.256676 = 2.47778
    delta, z = log_odds_z(30, 100, 10, 100, prior_strength=100.0)
    assert float(delta) == pytest.approx(math.log(17 / 9), rel=1e-9)
    assert float(delta) == pytest.approx(0.635989, abs=1e-6)
    assert float(z) == pytest.approx(2.47778, abs=1e-4)
    # Swapping the corpora flips the sign.
    d2, z2 = log_odds_z(10, 100, 30, 100, prior_strength=100.0)
    assert float(d2) == pytest.approx(-float(delta)) and float(z2) == pytest.approx(-float(z))


def test_log_odds_symmetric_case_is_zero_and_vectorised():
    delta, z = log_odds_z(np.array([7, 0, 100]), 100, np.array([7, 0, 100]), 100)
    assert np.allclose(delta, 0.0) and np.allclose(z, 0.0)
    assert np.all(np.isfinite(z))  # no division by zero for a feature in no / every document


def test_log_odds_prior_shrinks_rare_features():
    # Same rates (5% vs 0%), ten times the evidence: the bigger sample is more significant.
    _, z_small = log_odds_z(1, 20, 0, 20)
    _, z_big = log_odds_z(10, 200, 0, 200)
    assert 0 < z_small < z_big


def test_two_proportion_z_hand_computed():
    # pooled = 0.2; se = sqrt(0.2*0.8*(1/100+1/100)) = sqrt(0.0032); diff = 0.3-0.1 = 0.2
    # z = 0.2/sqrt(0.0032) = 5/sqrt(2) = 3.535534
    assert float(two_proportion_z(30, 100, 10, 100)) == pytest.approx(5 / math.sqrt(2))
    # No variance (0 in both): z is 0, not nan.
    assert float(two_proportion_z(np.array([0.0]), 50, np.array([0.0]), 50)[0]) == 0.0


def test_over_representation_z_dispatch():
    assert float(over_representation_z("z", 30, 100, 10, 100)) == pytest.approx(5 / math.sqrt(2))
    assert float(over_representation_z("log-odds", 30, 100, 10, 100)) == pytest.approx(
        float(log_odds_z(30, 100, 10, 100)[1]))
    with pytest.raises(ValueError, match="unknown test"):
        over_representation_z("chi2", 1, 2, 1, 2)


def test_benjamini_hochberg_hand_worked():
    # m = 8, p sorted already. p*m/rank:
    # 0.001*8/1=0.008, 0.008*8/2=0.032, 0.039*8/3=0.104, 0.041*8/4=0.082,
    # 0.042*8/5=0.0672, 0.06*8/6=0.08, 0.074*8/7=0.084571, 0.205*8/8=0.205
    # running minimum from the largest rank down:
    # 0.205, 0.084571, 0.08, 0.0672, 0.0672, 0.0672, 0.032, 0.008
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]
    expected = [0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 0.074 * 8 / 7, 0.205]
    assert np.allclose(benjamini_hochberg(p), expected)


def test_benjamini_hochberg_keeps_input_order():
    # sorted: 0.005 (r1) 0.01 (r2) 0.03 (r3) 0.04 (r4)
    # p*4/r : 0.02, 0.02, 0.04, 0.04 -> running min from the top: 0.02, 0.02, 0.04, 0.04
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert np.allclose(q, [0.02, 0.04, 0.04, 0.02])


def test_benjamini_hochberg_monotone_bounded_and_empty():
    rng = np.random.default_rng(7)
    p = rng.uniform(size=200) ** 3
    q = benjamini_hochberg(p)
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= -1e-15)  # larger p never gets a smaller q
    assert np.all(q >= p - 1e-15) and np.all(q <= 1.0)
    assert benjamini_hochberg([]).shape == (0,)
    assert benjamini_hochberg([0.3]).tolist() == [0.3]


def test_upper_p():
    assert float(upper_p(0.0)) == pytest.approx(0.5)
    assert float(upper_p(Z95)) == pytest.approx(0.025, abs=1e-9)
    assert float(upper_p(-Z95)) == pytest.approx(0.975, abs=1e-9)
    z = np.linspace(-4, 4, 17)
    p = upper_p(z)
    assert np.all(np.diff(p) < 0)  # larger z, smaller p
    assert np.allclose(p + upper_p(-z), 1.0)
