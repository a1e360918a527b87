"""The PLD accountant (dp-accounting) against independent values and its failure modes."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import integrate, special

from cropcalc.accounting import Accountant, EpsilonBounds, Phase, compute_epsilon
from cropcalc.accounting import pld as pld_module
from cropcalc.errors import AccuracyError, ExitStatus, InputError, MissingExtraError

from reference import SPEC_VECTORS, assert_brackets, gaussian_epsilon, tolerance


def pld(phases: list[Phase], delta: float, accuracy: float = 0.01) -> EpsilonBounds:
    return compute_epsilon(phases, delta, accuracy, accountant=Accountant.PLD)


@pytest.mark.parametrize(("z", "rate", "steps", "expected"), SPEC_VECTORS)
def test_spec_vectors(z: float, rate: float, steps: int, expected: float) -> None:
    bounds = pld([Phase(z, rate, steps)], 1e-5)
    assert bounds.accountant is Accountant.PLD
    assert abs(bounds.epsilon - expected) <= tolerance(expected)
    assert abs(bounds.epsilon_estimate - expected) <= tolerance(expected) / 2
    assert bounds.epsilon_lower <= expected


@pytest.mark.parametrize(
    ("z", "steps", "delta"), [(1.0, 1, 1e-5), (4.0, 100, 1e-5), (2.0, 3, 1e-3)]
)
def test_full_rate_brackets_the_gaussian_mechanism(z: float, steps: int, delta: float) -> None:
    assert_brackets(
        pld([Phase(z, 1.0, steps)], delta), gaussian_epsilon(2 * math.sqrt(steps) / z, delta)
    )


def test_heterogeneous_phases_compose_like_one_gaussian() -> None:
    phases = [Phase(3.0, 1.0, 40), Phase(6.0, 1.0, 300)]
    mu = math.sqrt(sum(p.steps / (p.noise_multiplier / 2) ** 2 for p in phases))
    assert_brackets(pld(phases, 1e-6), gaussian_epsilon(mu, 1e-6))


def switching_delta_by_quadrature(epsilon: float, rate: float, sigma: float) -> float:
    """δ_S(ε) = ∫(p − e^ε q)₊ over the switching pair realised on x, by quadrature.

    P_S: the mixture on one copy of x > 1/2, N(0, σ²) on another copy, the atom;
    Q_S swaps the first two (see cropcalc.accounting.rdp's module docstring).
    """

    def mixture(x: float) -> float:
        return (1 - rate) * special_norm(x, sigma) + rate * special_norm(x - 1, sigma)

    def gap(x: float) -> float:
        p, q = mixture(x), special_norm(x, sigma)
        return max(p - math.exp(epsilon) * q, 0.0) + max(q - math.exp(epsilon) * p, 0.0)

    atom = (1 - rate) * (2 * float(special.ndtr(0.5 / sigma)) - 1)
    hi = 0.5 + 40 * sigma + 2
    body = integrate.quad(gap, 0.5, hi, epsabs=1e-15, epsrel=1e-10, limit=500)[0]
    return body + atom * max(1 - math.exp(epsilon), 0.0)


def special_norm(x: float, sigma: float) -> float:
    return math.exp(-x * x / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma)


@pytest.mark.parametrize(("rate", "sigma"), [(0.004, 0.5), (0.3, 1.0), (1.0, 0.75)])
def test_hockey_stick_curve_of_the_switching_pair(rate: float, sigma: float) -> None:
    # The curve the connect-the-dots discretisation is built from, against quadrature of
    # the pair itself (which also checks the symmetry used for ε < 0).
    dp = pld_module._DpAccounting.load()
    spacing = 0.25
    deltas = dp._hockey_stick(rate, sigma, spacing, -12, 12)
    for k, value in zip(range(-12, 13), deltas, strict=True):
        exact = switching_delta_by_quadrature(k * spacing, rate, sigma)
        assert value == pytest.approx(exact, rel=1e-7, abs=1e-14)


def test_is_not_dp_accountings_per_direction_number() -> None:
    # The switching pair is less private than either direction composed on its own.
    from dp_accounting.pld import privacy_loss_distribution

    z, rate, steps = 0.8, 0.05, 200
    direction = privacy_loss_distribution.from_gaussian_mechanism(
        standard_deviation=z / 2, sampling_prob=rate, value_discretization_interval=1e-3
    )
    per_direction = direction.self_compose(steps).get_epsilon_for_delta(1e-5)
    bounds = pld([Phase(z, rate, steps)], 1e-5)
    assert bounds.epsilon_lower > per_direction + 0.05


def test_missing_extra_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dp_accounting.pld", None)
    with pytest.raises(MissingExtraError) as info:
        pld([Phase(1.0, 0.01, 10)], 1e-5)
    assert info.value.exit_status == ExitStatus.BAD_INPUT
    assert "pip install 'cropcalc[pld]'" in info.value.message
    assert "\n" not in info.value.message
    assert info.value.field == "accountant"


def test_grid_beyond_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pld_module, "_MAX_GRID", 1 << 10)
    with pytest.raises(AccuracyError, match="--accuracy") as info:
        pld([Phase(1.5, 0.002, 20000)], 1e-5, accuracy=0.001)
    assert info.value.exit_status == ExitStatus.INACCURATE
    assert "\n" not in info.value.message


def test_coarser_grid_for_an_enormous_epsilon(monkeypatch: pytest.MonkeyPatch) -> None:
    # μ = √T/σ = 40 puts ε near 970: with a small grid limit the first grid does not fit,
    # a coarser one does and still brackets the closed form to within 1 %.
    monkeypatch.setattr(pld_module, "_MAX_GRID", 1 << 16)
    bounds = pld([Phase(1.0, 1.0, 400)], 1e-5)
    assert bounds.grid_spacing > math.sqrt(0.01 / (4 * 400))
    assert_brackets(bounds, gaussian_epsilon(40.0, 1e-5))


@pytest.mark.parametrize(
    ("delta", "accuracy"), [(0.0, 0.01), (1.0, 0.01), (1e-5, 0.0), (1e-5, 0.6)]
)
def test_bad_input_is_rejected(delta: float, accuracy: float) -> None:
    with pytest.raises(InputError):
        pld([Phase(1.0, 0.01, 10)], delta, accuracy)


def test_unknown_accountant_is_bad_input() -> None:
    with pytest.raises(InputError, match="accountant") as info:
        compute_epsilon([Phase(1.0, 0.01, 10)], 1e-5, accountant="moments")  # type: ignore[arg-type]
    assert info.value.field == "accountant"
    assert compute_epsilon([Phase(1.0, 0.01, 10)], 1e-5, accountant="rdp").accountant == "rdp"  # type: ignore[arg-type]


def test_default_path_loads_no_alternative_accountant() -> None:
    code = (
        "import sys\n"
        "from cropcalc.accounting import Accountant\n"
        "assert 'numpy' not in sys.modules\n"
        "from cropcalc.accounting import Phase, compute_epsilon\n"
        "b = compute_epsilon([Phase(1.0, 0.01, 100)], 1e-5)\n"
        "assert b.accountant is Accountant.PRV\n"
        "loaded = [m for m in ('dp_accounting', 'cropcalc.accounting.pld',"
        " 'cropcalc.accounting.rdp', 'prv_accountant') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=pld_module.__file__.rsplit("/cropcalc/", 1)[0]
    )


def test_rates_and_noise_of_every_phase_are_used() -> None:
    one = pld([Phase(1.0, 0.01, 500)], 1e-5)
    two = pld([Phase(1.0, 0.01, 250), Phase(1.0, 0.01, 250)], 1e-5)
    assert abs(one.epsilon - two.epsilon) <= tolerance(one.epsilon)
    noisier = pld([Phase(1.0, 0.01, 250), Phase(2.0, 0.01, 250)], 1e-5)
    assert noisier.epsilon < one.epsilon_lower
    assert np.isfinite(noisier.epsilon)


def test_step_counts_beyond_reach_are_refused_at_once() -> None:
    # A sparse PLD composed 10¹¹ times ran for hours inside dp-accounting.
    with pytest.raises(AccuracyError, match="at most") as info:
        pld([Phase(50.0, 1e-7, 99_999_999_999)], 1e-5)
    assert info.value.exit_status == ExitStatus.INACCURATE
