"""Batch samplers: each one's pair, checked against independent computations."""

from __future__ import annotations

import math

import pytest
from scipy import optimize, special

from cropcalc.accounting import Accountant, Phase, compute_epsilon
from cropcalc.calculator import EpsilonRequest, compute_epsilon_report, resolve_epsilon_request
from cropcalc.errors import InputError
from cropcalc.geometry import CropGeometry
from cropcalc.sampling import Sampler, schedule

from reference import gaussian_epsilon

GEOMETRY = CropGeometry(image=(1000, 1000), crop=(300, 300))
P = 0.2136259389  # spec section 5, 1000x1000 / crop 300 / patch 25x25


def request(
    sampler: Sampler, *, steps: int | None = None, epochs: int | None = None
) -> EpsilonRequest:
    return resolve_epsilon_request(
        geometry=GEOMETRY,
        patch=(25, 25),
        noise_multiplier=2.0,
        batch_size=100,
        dataset_size=10_000,
        steps=steps,
        epochs=epochs,
        sampler=sampler,
    )


@pytest.mark.parametrize("sampler", [Sampler.POISSON, Sampler.FIXED])
def test_per_step_samplers_compose_q_times_p_over_steps(sampler: Sampler) -> None:
    plan = schedule(
        sampler,
        sampling_rate=0.01,
        inclusion_probability=0.25,
        steps=700,
        steps_per_epoch=None,
        epochs=None,
    )
    assert (plan.count, plan.unit) == (700, "step")
    assert (plan.amplified_rate, plan.baseline_rate) == (0.01 * 0.25, 0.01)


@pytest.mark.parametrize(
    ("steps", "epochs", "expected"), [(700, None, 7), (701, None, 8), (700, 7, 7)]
)
def test_shuffle_composes_p_over_epochs(steps: int, epochs: int | None, expected: int) -> None:
    # A partial last epoch still shows the image once: it counts as a whole epoch.
    plan = schedule(
        Sampler.SHUFFLE,
        sampling_rate=0.01,
        inclusion_probability=0.25,
        steps=steps,
        steps_per_epoch=100,
        epochs=epochs,
    )
    assert (plan.count, plan.unit) == (expected, "epoch")
    assert (plan.amplified_rate, plan.baseline_rate) == (0.25, 1.0)


def test_shuffle_without_epochs_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        resolve_epsilon_request(
            geometry=GEOMETRY,
            patch=(25, 25),
            noise_multiplier=2.0,
            sampling_rate=0.01,
            steps=100,
            sampler=Sampler.SHUFFLE,
        )
    assert info.value.field == "sampler"


def test_only_fixed_batches_are_tight() -> None:
    assert [s.tight for s in Sampler] == [False, True, False]


def test_fixed_and_poisson_give_the_same_numbers() -> None:
    poisson = compute_epsilon_report(request(Sampler.POISSON, epochs=20))
    fixed = compute_epsilon_report(request(Sampler.FIXED, epochs=20))
    assert fixed.amplified == poisson.amplified
    assert fixed.baseline == poisson.baseline
    assert fixed.inclusion == poisson.inclusion


def single_step_delta(epsilon: float, rate: float, sigma: float) -> float:
    """δ(ε ≥ 0) of one switching pair: the remove direction's, in closed form."""
    x = sigma**2 * math.log((math.expm1(epsilon) + rate) / rate) + 0.5
    p_tail = (1 - rate) * special.ndtr(-x / sigma) + rate * special.ndtr((1 - x) / sigma)
    q_tail = special.ndtr(-x / sigma)
    return float(p_tail - math.exp(epsilon) * q_tail)


def test_shuffle_one_epoch_matches_the_single_pair_closed_form() -> None:
    report = compute_epsilon_report(request(Sampler.SHUFFLE, epochs=1))
    p = report.inclusion.probability
    assert p == pytest.approx(P, abs=1e-10)
    exact = optimize.brentq(lambda e: single_step_delta(e, p, 1.0) - 1e-5, 0.0, 50.0)
    bounds = report.amplified
    assert bounds.epsilon_lower <= exact <= bounds.epsilon
    assert bounds.epsilon - exact <= max(0.01, 0.01 * exact)


def test_shuffle_over_epochs_equals_the_pair_composed_per_epoch() -> None:
    report = compute_epsilon_report(request(Sampler.SHUFFLE, steps=1234))  # 13 epochs
    assert report.schedule.count == 13
    direct = compute_epsilon([Phase(2.0, report.inclusion.probability, 13)], 1e-5)
    assert report.amplified == direct
    # Independently: dp-accounting's PLD of the same pair, and Rényi accounting.
    pld = compute_epsilon(
        [Phase(2.0, report.inclusion.probability, 13)], 1e-5, accountant=Accountant.PLD
    )
    rdp = compute_epsilon(
        [Phase(2.0, report.inclusion.probability, 13)], 1e-5, accountant=Accountant.RDP
    )
    upper = report.amplified.epsilon
    assert report.amplified.epsilon_lower <= pld.epsilon <= upper + max(0.01, 0.01 * upper)
    assert rdp.epsilon >= report.amplified.epsilon_lower
    # Baseline: the plain Gaussian mechanism (ratio σ = z/2 = 1) once per epoch.
    exact = gaussian_epsilon(math.sqrt(13) / 1.0, 1e-5)
    assert report.baseline.epsilon_lower <= exact <= report.baseline.epsilon
    assert report.baseline.epsilon - exact <= max(0.01, 0.01 * exact)


def test_shuffle_never_reports_the_smaller_poisson_numbers() -> None:
    poisson = compute_epsilon_report(request(Sampler.POISSON, epochs=5))
    shuffle = compute_epsilon_report(request(Sampler.SHUFFLE, epochs=5))
    assert shuffle.amplified.epsilon_lower > poisson.amplified.epsilon
