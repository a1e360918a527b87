"""The Rényi accountant against independent values: quadrature, closed forms, other libraries."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special

from cropcalc.accounting import Accountant, Phase, compute_epsilon
from cropcalc.accounting.epsilon import total_variation_bound
from cropcalc.accounting.rdp import (
    DEFAULT_ORDERS,
    rdp_epsilon,
    rdp_to_epsilon,
    remove_rdp,
    switching_rdp,
)
from cropcalc.errors import InputError

from reference import gaussian_epsilon


def log_ratio(x: float, rate: float, sigma: float) -> float:
    """Remove-direction privacy loss ℓ(x) = log(1 − w + w·e^{(2x−1)/(2σ²)})."""
    return float(np.logaddexp(math.log1p(-rate), math.log(rate) + (2 * x - 1) / (2 * sigma**2)))


def log_gaussian_integral(power: float, rate: float, sigma: float, lo: float, hi: float) -> float:
    """log ∫_lo^hi N(0, σ²)(x)·e^{power·ℓ(x)} dx by adaptive quadrature, scaled to not overflow."""

    def log_integrand(x: float) -> float:
        log_density = -x * x / (2 * sigma**2) - math.log(math.sqrt(2 * math.pi) * sigma)
        return log_density + power * log_ratio(x, rate, sigma)

    peak = max(log_integrand(x) for x in np.linspace(lo, hi, 4001))
    value = integrate.quad(
        lambda x: math.exp(log_integrand(x) - peak), lo, hi, epsabs=0, epsrel=1e-12, limit=500
    )[0]
    return peak + math.log(value)


def quadrature_rdp(order: float, rate: float, sigma: float) -> tuple[float, float, float]:
    """(D_α(R), D_α(A), D_α(S)) by direct numerical integration over the observation x.

    S is realised as in the module docstring: P_S is the mixture on one copy of
    x > 1/2, N(0, σ²) on another copy, and the atom; Q_S swaps the first two.
    """
    lo, hi = -30 * sigma, 30 * sigma + order + 2
    parts = {
        name: [log_gaussian_integral(power, rate, sigma, a, b) for a, b in ((lo, 0.5), (0.5, hi))]
        for name, power in (("remove", order), ("add", 1 - order))
    }
    atom = (1 - rate) * (2 * float(special.ndtr(0.5 / sigma)) - 1)
    log_remove = float(np.logaddexp(*parts["remove"]))
    log_add = float(np.logaddexp(*parts["add"]))
    log_switching = float(
        np.logaddexp(np.logaddexp(math.log(atom), parts["remove"][1]), parts["add"][1])
    )
    return (
        log_remove / (order - 1),
        log_add / (order - 1),
        log_switching / (order - 1),
    )


QUADRATURE_CASES = [(0.01, 0.5), (0.1, 0.5), (0.001, 0.75), (0.3, 1.0), (0.5, 2.0), (0.02, 0.15)]
QUADRATURE_ORDERS = [1.01, 1.5, 2.0, 2.5, 4.0, 7.5]


@pytest.mark.parametrize(("rate", "sigma"), QUADRATURE_CASES)
def test_switching_rdp_is_a_tight_upper_bound_on_quadrature(rate: float, sigma: float) -> None:
    orders = np.array(QUADRATURE_ORDERS)
    ours = switching_rdp(orders, rate, sigma)
    for order, value in zip(orders, ours, strict=True):
        _, _, exact = quadrature_rdp(float(order), rate, sigma)
        assert value >= exact * (1 - 1e-9)
        assert value <= exact * (1 + 1e-4)


@pytest.mark.parametrize(("rate", "sigma"), [(0.01, 0.5), (0.001, 0.75), (0.3, 1.0)])
def test_switching_pair_is_less_private_than_either_direction(rate: float, sigma: float) -> None:
    # Data processing: R is a post-processing of S (f_S ≤ f_R), so D_α(S) ≥ D_α(R) ≥ D_α(A);
    # at small orders strictly, which is why the remove direction alone is not a bound.
    for order in [1.5, 2.0, 4.0]:
        remove, add, _ = quadrature_rdp(order, rate, sigma)
        (switching,) = switching_rdp(np.array([order]), rate, sigma)
        assert add <= remove * (1 + 1e-9)
        assert switching >= remove * (1 - 1e-9)
        if order <= 2:
            assert switching >= remove * 1.05


# log A_α ≈ 0 has an absolute floating-point floor of a few units of roundoff, so a
# Rényi divergence near zero is only known to within that much over (α − 1).
FLOOR = 64 * np.finfo(np.float64).eps


def test_remove_direction_matches_prv_accountant() -> None:
    # prv-accountant's rdp() is TF Privacy's implementation of the same formulas.
    from prv_accountant import PoissonSubsampledGaussianMechanism

    orders = [1.01, 1.25, 1.5, 2.0, 2.5, 3.0, 5.5, 8.0, 32.0, 256.0]
    for rate, sigma in [(0.01, 0.5), (0.3, 1.0), (0.0037, 0.5), (0.5, 2.0), (1e-4, 1.5)]:
        theirs = np.array(
            [PoissonSubsampledGaussianMechanism(rate, sigma).rdp(a) for a in orders], dtype=float
        )
        ours = remove_rdp(np.array(orders), rate, sigma)
        floor = FLOOR / (np.array(orders) - 1)
        np.testing.assert_array_less(np.abs(ours - theirs), 1e-6 * theirs + floor)


def test_remove_direction_matches_dp_accounting() -> None:
    from dp_accounting.rdp import rdp_privacy_accountant

    compute = rdp_privacy_accountant._compute_rdp_poisson_subsampled_gaussian
    integers = np.array([2.0, 3.0, 4.0, 10.0, 64.0, 1000.0])
    fractional = np.array([1.5, 2.5, 7.5])
    for rate, sigma in [(0.01, 0.5), (0.2, 1.3), (1e-5, 0.8)]:
        np.testing.assert_allclose(
            remove_rdp(integers, rate, sigma), compute(rate, sigma, integers), rtol=1e-10
        )
        # dp-accounting adds the fractional series' terms in absolute value, an upper bound.
        ours = remove_rdp(fractional, rate, sigma)
        upper = compute(rate, sigma, fractional) * (1 + 1e-12) + FLOOR / (fractional - 1)
        assert np.all(ours <= upper)


def test_second_order_closed_form_keeps_relative_accuracy_at_tiny_rates() -> None:
    # D_2(R) = log(1 + w²(e^{1/σ²} − 1)), exactly: no cancellation against 1 allowed.
    for rate, sigma in [(1e-6, 0.5), (1e-6, 25.0), (1e-9, 1.0)]:
        exact = math.log1p(rate**2 * math.expm1(1 / sigma**2))
        (ours,) = remove_rdp(np.array([2.0]), rate, sigma)
        assert ours == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("sigma", [0.15, 0.5, 25.0])
def test_full_rate_is_the_gaussian_mechanism(sigma: float) -> None:
    orders = np.array(DEFAULT_ORDERS)
    np.testing.assert_allclose(switching_rdp(orders, 1.0, sigma), orders / (2 * sigma**2))


@pytest.mark.parametrize(("z", "steps"), [(1.0, 1), (4.0, 100), (20.0, 5000)])
def test_rdp_bounds_the_exact_gaussian_composition(z: float, steps: int) -> None:
    bounds = rdp_epsilon([Phase(z, 1.0, steps)], 1e-5)
    exact = gaussian_epsilon(math.sqrt(steps) / (z / 2), 1e-5)
    assert exact <= bounds.epsilon <= 1.5 * exact + 0.5


def test_conversion_matches_dp_accounting() -> None:
    from dp_accounting.rdp import rdp_privacy_accountant

    orders = np.array(DEFAULT_ORDERS)
    for rate, sigma, steps, delta in [(0.004, 0.5, 1000, 1e-5), (0.3, 2.0, 50, 1e-8)]:
        rdp = steps * switching_rdp(orders, rate, sigma)
        ours, order = rdp_to_epsilon(orders, rdp, delta)
        theirs, their_order = rdp_privacy_accountant.compute_epsilon(orders, rdp, delta)
        assert ours == pytest.approx(theirs, rel=1e-12)
        assert order == their_order


def test_heterogeneous_phases_add_per_order() -> None:
    phases = [Phase(1.0, 0.01, 300), Phase(2.0, 0.05, 700)]
    orders = np.array(DEFAULT_ORDERS)
    total = sum(p.steps * switching_rdp(orders, p.rate, p.noise_multiplier / 2) for p in phases)
    expected, _ = rdp_to_epsilon(orders, np.asarray(total), 1e-6)
    assert rdp_epsilon(phases, 1e-6).epsilon == pytest.approx(expected, rel=1e-12)


def test_reported_fields_say_what_rdp_can_and_cannot_give() -> None:
    bounds = compute_epsilon([Phase(1.0, 0.004, 1000)], 1e-5, accountant=Accountant.RDP)
    assert bounds.accountant is Accountant.RDP
    assert bounds.epsilon_lower == 0.0  # RDP gives no lower bound
    assert bounds.epsilon_estimate == bounds.epsilon
    assert bounds.grid_spacing == 0.0
    assert 0 < bounds.epsilon < math.inf


@pytest.mark.parametrize(("z", "rate"), [(0.3, 0.01), (1.0, 0.5), (50.0, 1e-6)])
def test_total_variation_of_one_step_is_the_remove_directions_delta_at_zero(
    z: float, rate: float
) -> None:
    # δ_S(0) = δ_R(0), from dp-accounting's own remove-direction subsampled Gaussian.
    from dp_accounting.pld import privacy_loss_mechanism as mechanism

    remove = mechanism.GaussianPrivacyLoss(
        z / 2, sampling_prob=rate, adjacency_type=mechanism.AdjacencyType.REMOVE
    )
    expected = remove.get_delta_for_epsilon(0.0)
    assert total_variation_bound([Phase(z, rate, 1)]) == pytest.approx(expected, rel=1e-9)
    assert total_variation_bound([Phase(z, rate, 7)]) == pytest.approx(7 * expected, rel=1e-9)


def test_total_variation_settles_negligible_inclusion() -> None:
    # w = 10⁻¹²: δ(0) ≤ w·(2Φ(1/z) − 1) < δ, so ε = 0 exactly; Rényi alone would say ≈ 26.
    phases = [Phase(0.3, 1e-12, 1)]
    assert total_variation_bound(phases) <= 1e-12
    assert rdp_epsilon(phases, 1e-12).epsilon > 20  # Rényi alone cannot see it
    for accountant in Accountant:
        assert compute_epsilon(phases, 1e-12, accountant=accountant).epsilon == 0.0
    assert compute_epsilon([Phase(0.3, 1e-6, 1)], 1e-12, accountant=Accountant.RDP).epsilon > 0


def test_rdp_rejects_orders_at_or_below_one() -> None:
    with pytest.raises(InputError, match="orders"):
        rdp_epsilon([Phase(1.0, 0.01, 10)], 1e-5, orders=[1.0, 2.0])
