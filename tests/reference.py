"""Independent reference values shared by the accountant tests.

Closed forms from the literature and the spec's public vectors, written once here
so that every test compares with the same independent value, never with
cropcalc's own output.
"""

from __future__ import annotations

import math

from scipy import optimize, special

from cropcalc.accounting import EpsilonBounds

# Spec section 5: PLD accounting of the same switching pair, pessimistic, δ = 1e-5.
# (z, rate w = q·p, steps, ε)
SPEC_VECTORS = [
    (1.0, 0.01 * 0.3741054001, 1000, 6.9130),
    (1.0, 0.01, 1000, 14.8207),
    (1.5, 0.002 * 0.2136259389, 20000, 0.6694),
    (1.5, 0.002, 20000, 3.6339),
    (1.0, 0.001, 10000, 5.6770),
]


def tolerance(value: float) -> float:
    """The accuracy cropcalc promises by default: max(0.01, 1 %)."""
    return max(0.01, 0.01 * value)


def assert_brackets(bounds: EpsilonBounds, exact: float) -> None:
    """``exact`` lies in the bracket, and the quoted bound is within the tolerance."""
    assert bounds.epsilon_lower <= exact <= bounds.epsilon
    assert bounds.epsilon - exact <= tolerance(exact)
    assert bounds.epsilon_lower <= bounds.epsilon_estimate <= bounds.epsilon


def gaussian_delta(epsilon: float, mu: float) -> float:
    """Exact δ(ε) of the Gaussian mechanism with μ = sensitivity/σ (Balle & Wang 2018)."""
    # e^ε·Φ(−ε/μ − μ/2) in logarithms, so that a huge ε does not overflow.
    second = math.exp(epsilon + float(special.log_ndtr(-epsilon / mu - mu / 2)))
    return float(special.ndtr(-epsilon / mu + mu / 2)) - second


def gaussian_epsilon(mu: float, delta: float) -> float:
    """Exact ε(δ) of the Gaussian mechanism with μ = sensitivity/σ, by root finding."""
    high = mu * mu / 2 + 10 * mu + 50  # δ(high) < 1e-20 for any δ used here
    return float(optimize.brentq(lambda e: gaussian_delta(e, mu) - delta, 0.0, high, xtol=1e-12))
