"""The accountant against independent values: spec vectors, closed forms, brute force."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cropcalc.accounting import Phase, compute_epsilon
from cropcalc.accounting import epsilon as epsilon_module
from cropcalc.accounting.compose import compose, window
from cropcalc.accounting.discretise import DiscretePLD
from cropcalc.accounting.prv import SwitchingSubsampledGaussian
from cropcalc.errors import AccuracyError, InputError

from reference import SPEC_VECTORS, assert_brackets, gaussian_epsilon, tolerance


@pytest.mark.parametrize(("z", "rate", "steps", "expected"), SPEC_VECTORS)
def test_spec_vectors(z: float, rate: float, steps: int, expected: float) -> None:
    bounds = compute_epsilon([Phase(z, rate, steps)], delta=1e-5)
    # The vectors are themselves pessimistic (upper) values: ours may sit a hair below.
    assert abs(bounds.epsilon - expected) <= tolerance(expected)
    assert bounds.epsilon_lower <= expected


@pytest.mark.parametrize(
    ("z", "steps", "delta"), [(1.0, 1, 1e-5), (4.0, 100, 1e-5), (20.0, 5000, 1e-8), (2.0, 3, 1e-3)]
)
def test_full_rate_is_the_gaussian_mechanism(z: float, steps: int, delta: float) -> None:
    # With w = 1 both directions are the Gaussian mechanism with ratio σ = z/2, and T
    # compositions are one Gaussian mechanism with μ = √T/σ: a closed form. The grid
    # accountant must bracket it too (compute_epsilon takes the closed form itself).
    exact = gaussian_epsilon(math.sqrt(steps) / (z / 2), delta)
    grid = epsilon_module._prv_epsilon([Phase(z, 1.0, steps)], delta, 0.01)
    assert_brackets(grid, exact)
    assert_brackets(compute_epsilon([Phase(z, 1.0, steps)], delta=delta), exact)


def test_gaussian_closed_form_matches_dp_accounting() -> None:
    from dp_accounting.pld import privacy_loss_distribution

    # dp-accounting's own Gaussian PLD (pessimistic): an independent implementation.
    sigma, steps = 2.5, 400
    pld = privacy_loss_distribution.from_gaussian_mechanism(
        standard_deviation=sigma, value_discretization_interval=1e-4
    )
    theirs = pld.self_compose(steps).get_epsilon_for_delta(1e-6)
    ours = compute_epsilon([Phase(2 * sigma, 1.0, steps)], delta=1e-6)
    assert ours.epsilon_lower <= theirs <= ours.epsilon + 0.01 * ours.epsilon
    assert ours.epsilon - ours.epsilon_lower < 1e-6


def test_gaussian_closed_form_has_no_floor_on_delta_or_steps() -> None:
    # Far beyond what an FFT grid could certify: T = 10⁶ steps at δ = 1e-12.
    bounds = compute_epsilon([Phase(50.0, 1.0, 1_000_000)], delta=1e-12)
    assert_brackets(bounds, gaussian_epsilon(1000 / 25, 1e-12))


def test_heterogeneous_phases_compose_like_one_gaussian() -> None:
    phases = [Phase(3.0, 1.0, 40), Phase(6.0, 1.0, 300)]
    mu = math.sqrt(sum(p.steps / (p.noise_multiplier / 2) ** 2 for p in phases))
    exact = gaussian_epsilon(mu, 1e-6)
    assert_brackets(epsilon_module._prv_epsilon(phases, 1e-6, 0.01), exact)
    assert_brackets(compute_epsilon(phases, delta=1e-6), exact)


def test_remove_direction_cdf_matches_prv_accountant() -> None:
    from prv_accountant import PoissonSubsampledGaussianMechanism

    for rate, sigma in [(0.003, 0.5), (0.2, 1.3), (1.0, 0.8)]:
        theirs = PoissonSubsampledGaussianMechanism(
            sampling_probability=rate, noise_multiplier=sigma
        )
        t = np.array([0.0, 1e-4, 0.003, 0.1, 1.0, 4.0])
        ours = SwitchingSubsampledGaussian(rate, sigma).cdf(t)
        np.testing.assert_allclose(ours, np.asarray(theirs.cdf(t), dtype=float), atol=1e-13)


def test_add_direction_and_atom_match_sampling() -> None:
    # Brute force: draw x ~ N(0, σ²) (P of the add pair) and evaluate its loss directly.
    rate, sigma = 0.3, 0.7
    prv = SwitchingSubsampledGaussian(rate, sigma)
    x = np.random.default_rng(7).normal(0.0, sigma, 400_000)
    loss = -np.log1p(rate * np.expm1((2 * x - 1) / (2 * sigma**2)))
    for t in [-2.0, -0.5, -0.1, -0.01]:
        empirical = np.mean(loss <= t)
        assert abs(prv.cdf(t) - empirical) < 5 * math.sqrt(empirical * (1 - empirical) / len(x))
    h = stats.norm.cdf(1 / (2 * sigma))
    assert prv.atom == pytest.approx((1 - rate) * (2 * h - 1), rel=1e-14)
    assert prv.cdf(0.0) - prv.cdf(-1e-12) == pytest.approx(prv.atom, rel=1e-9)


def test_interval_masses_are_a_valid_pair() -> None:
    prv = SwitchingSubsampledGaussian(0.01, 0.5)
    nodes = np.linspace(-3, 12, 1501)
    edges = np.concatenate(([-np.inf], nodes, [np.inf]))
    p, q = prv.interval_masses(edges)
    assert p.sum() + prv.atom == pytest.approx(1.0, abs=1e-12)
    assert q.sum() + prv.atom == pytest.approx(1.0, abs=1e-12)
    # Inside (ℓ_k, ℓ_k+1] the likelihood ratio P/Q lies in [e^ℓ_k, e^ℓ_k+1].
    inner = slice(1, -1)
    ratio = p[inner] / q[inner]
    assert np.all(ratio >= np.exp(nodes[:-1]) * (1 - 1e-9))
    assert np.all(ratio <= np.exp(nodes[1:]) * (1 + 1e-9))
    from_cdf = prv.cdf(nodes[1:]) - prv.cdf(nodes[:-1])
    from_cdf[nodes[1:] == 0.0] -= prv.atom  # the interval (ℓ, 0] holds the atom; p does not
    np.testing.assert_allclose(p[inner], from_cdf, atol=1e-15)


def randomized_response_delta(epsilon: float, a: float, steps: int, flip: float) -> float:
    """Exact δ(ε) of ``steps`` compositions of a two-point PLD, by the binomial sum."""
    k = np.arange(steps + 1)
    pmf = stats.binom.pmf(k, steps, 1 - flip)
    loss = (2 * k - steps) * a
    return float(np.sum(pmf * -np.expm1(np.minimum(epsilon - loss, 0.0))))


def test_fft_composition_matches_binomial_sum() -> None:
    # Randomized response: loss +a w.p. 1−f, −a w.p. f with a = log((1−f)/f).
    flip, steps, spacing = 0.2, 400, math.log(4.0) / 8
    masses = np.zeros(17)
    masses[0], masses[-1] = flip, 1 - flip
    pld = DiscretePLD(masses, -8, spacing, 0.0)
    grid = window([(pld, steps)], [(pld, steps)], 1e-12)
    composed = compose([(pld, steps)], grid, 1e-12)
    # The total loss has mean 0.6·400·a ≈ 333 and standard deviation ≈ 22.
    for epsilon in [0.0, 300.0, 380.0, 440.0, 500.0]:
        exact = randomized_response_delta(epsilon, math.log(4.0), steps, flip)
        assert composed.delta(epsilon) == pytest.approx(exact, abs=composed.error_mass + 1e-15)
    target = randomized_response_delta(400.0, math.log(4.0), steps, flip)
    assert 1e-4 < target < 0.1
    assert composed.epsilon(target) == pytest.approx(400.0, rel=1e-9)


def test_prv_accountant_brackets_agree() -> None:
    from prv_accountant import PRVAccountant

    rate, z, steps = 0.02, 1.2, 300
    # eps_max because the switching PRV has no RDP method for prv-accountant's domain
    # heuristic; 30 is far above this ε, as the bracket below confirms.
    with pytest.warns(UserWarning, match="Assuming that true epsilon"):
        theirs = PRVAccountant(
            prvs=[SwitchingSubsampledGaussian(rate, z / 2)],
            max_self_compositions=[steps],
            eps_error=0.01,
            delta_error=1e-9,
            eps_max=30.0,
        )
    low, _, high = theirs.compute_epsilon(1e-5, [steps])
    ours = compute_epsilon([Phase(z, rate, steps)], delta=1e-5, accuracy=0.002)
    assert ours.epsilon >= low
    assert ours.epsilon_lower <= high


def test_more_noise_fewer_steps_lower_rate_never_raise_epsilon() -> None:
    base = compute_epsilon([Phase(1.0, 0.004, 2000)], 1e-5).epsilon
    assert compute_epsilon([Phase(1.2, 0.004, 2000)], 1e-5).epsilon < base
    assert compute_epsilon([Phase(1.0, 0.003, 2000)], 1e-5).epsilon < base
    assert compute_epsilon([Phase(1.0, 0.004, 1500)], 1e-5).epsilon < base


def test_finer_accuracy_narrows_the_bracket() -> None:
    coarse = compute_epsilon([Phase(1.0, 0.004, 2000)], 1e-5, accuracy=0.05)
    fine = compute_epsilon([Phase(1.0, 0.004, 2000)], 1e-5, accuracy=0.002)
    assert fine.epsilon - fine.epsilon_lower <= 0.002 * fine.epsilon_lower
    assert fine.epsilon_lower >= coarse.epsilon_lower - 1e-12
    assert fine.epsilon <= coarse.epsilon + 1e-12


@pytest.mark.parametrize(
    ("phase", "field"),
    [
        (lambda: Phase(0.0, 0.1, 10), "noise_multiplier"),
        (lambda: Phase(math.inf, 0.1, 10), "noise_multiplier"),
        (lambda: Phase(1.0, 0.0, 10), "sampling_rate"),
        (lambda: Phase(1.0, 1.5, 10), "sampling_rate"),
        (lambda: Phase(1.0, 0.1, 0), "steps"),
    ],
)
def test_phase_rejects_bad_input(phase: object, field: str) -> None:
    with pytest.raises(InputError) as info:
        phase()  # type: ignore[operator]
    assert info.value.field == field


@pytest.mark.parametrize("delta", [0.0, 1.0, -1e-5])
def test_delta_out_of_range(delta: float) -> None:
    with pytest.raises(InputError, match="delta"):
        compute_epsilon([Phase(1.0, 0.1, 10)], delta)


def test_impossible_accuracy_is_reported_not_guessed() -> None:
    with pytest.raises(AccuracyError, match="upper bound"):
        compute_epsilon([Phase(1.0, 0.01, 100_000)], 1e-5, accuracy=1e-6)


def test_enormous_epsilon_is_certified_on_a_coarser_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    # μ = √T/σ = 40: ε ≈ 970, beyond e^ε's float range. A small grid limit forces the
    # fallback to a coarser grid, which must still bracket the closed form.
    monkeypatch.setattr(epsilon_module, "_MAX_GRID", 1 << 16)
    bounds = epsilon_module._prv_epsilon([Phase(1.0, 1.0, 400)], 1e-5, 0.01)
    assert bounds.grid_spacing > 0.005  # the first pass would have used 0.0016
    assert_brackets(bounds, gaussian_epsilon(40.0, 1e-5))


def test_delta_below_the_floating_point_floor_is_refused() -> None:
    with pytest.raises(AccuracyError, match="floating-point error"):
        compute_epsilon([Phase(50.0, 1e-6, 1_000_000)], delta=1e-12)


def test_one_step_needs_no_transform_so_tiny_delta_is_certified() -> None:
    # A single Gaussian step at δ = 1e-12: nothing is composed, nothing rounded.
    bounds = epsilon_module._prv_epsilon([Phase(1.0, 1.0, 1)], 1e-12, 0.01)
    assert_brackets(bounds, gaussian_epsilon(2.0, 1e-12))


def test_total_variation_within_delta_is_epsilon_zero() -> None:
    # δ(0) is the total variation, at most T·w·(2Φ(1/(2σ)) − 1) = 1e6·1e-12·0.68 < δ.
    zero = compute_epsilon([Phase(1.0, 1e-12, 1_000_000)], delta=1e-5)
    assert (zero.epsilon, zero.epsilon_lower, zero.epsilon_estimate) == (0.0, 0.0, 0.0)
    # Just above the threshold the shortcut must not fire.
    rate = 2e-5 / 0.6826894921370859
    assert compute_epsilon([Phase(1.0, rate, 1)], delta=1e-5).epsilon > 0


@pytest.mark.parametrize(
    ("z", "rate", "steps"),
    # prv-accountant 0.2.0's stock PRVAccountant raises "Discrete mean differs from
    # continuous mean significantly" on these ordinary parameters (ratio z/2 = 0.8 and
    # 0.5 for its remove-direction mechanism); cropcalc composes them itself.
    [(1.6, 0.125, 1000), (1.0, 0.1, 10_000)],
)
def test_parameters_that_break_the_stock_accountant(z: float, rate: float, steps: int) -> None:
    from cropcalc.accounting.pld import pld_epsilon

    ours = compute_epsilon([Phase(z, rate, steps)], delta=1e-5)
    # Independent: dp-accounting's pessimistic PLD of the same switching pair.
    theirs = pld_epsilon([Phase(z, rate, steps)], delta=1e-5, accuracy=0.01)
    assert ours.epsilon_lower <= theirs.epsilon <= ours.epsilon + tolerance(ours.epsilon)
    assert ours.epsilon - ours.epsilon_lower <= tolerance(ours.epsilon_lower)
