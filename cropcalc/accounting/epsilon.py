r"""ε for a sequence of DP-SGD phases under the patch-level switching pair.

For each phase the switching PRV (:mod:`cropcalc.accounting.prv`) is discretised on
one common grid of spacing Δ (:mod:`cropcalc.accounting.discretise`), and all phases
are composed by FFT (:mod:`cropcalc.accounting.compose`). Three numbers come out:

* ``epsilon`` — certified upper bound: ε of the composed connect-the-dots pair, which
  dominates the true composition, at ``δ − (error mass)``.
* ``epsilon_lower`` — certified lower bound: the rounded-up composition, shifted by
  ``T·s`` (mean-free rounding error), read at ``δ + β`` and lowered by the Hoeffding
  radius ``r = Δ·sqrt(T/2·log(1/β_H))`` (one-sided) plus ``T·Δ²/8`` (Gopi et al. 2021, Thm 5.5);
  ``β`` collects the Hoeffding failure probability ``β_H``, the tail mass cut off the
  grid (``T × tail``) and the composition's error mass.
* ``epsilon_estimate`` — the shifted rounded-up composition at δ, clipped into the bracket.

Δ is chosen adaptively: a coarse pass gives a first bracket, then Δ is refined until
``epsilon − epsilon_lower ≤ accuracy·max(1, epsilon_lower)``, which certifies that
the quoted upper bound is within that tolerance of the true ε.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from scipy import special

from cropcalc.accounting.accountants import MAX_ACCURACY, Accountant
from cropcalc.accounting.compose import ComposedPLD, compose, window
from cropcalc.accounting.discretise import Discretisation, discretise
from cropcalc.accounting.prv import SwitchingSubsampledGaussian
from cropcalc.errors import AccuracyError, InputError

# Share of δ allowed for each error term of the bracket; small enough that the bracket
# barely moves, large enough that the grid stays short.
_ERROR_SHARE = 1e-3
# Largest composed grid tried (float64 entries); beyond it memory and time explode.
_MAX_GRID = 1 << 24
_MAX_PASSES = 5
# Coarsest grid worth computing: beyond a unit of loss per point, ε is meaningless.
_MAX_SPACING = 1.0
# Where the grid cannot certify ε, Rényi accounting still gives a valid, looser bound.
_RDP_HINT = "; --accountant rdp gives a looser bound that is always computable"


@dataclass(frozen=True)
class Phase:
    """``steps`` DP-SGD steps whose sensitive unit enters each step with probability ``rate``.

    ``noise_multiplier`` is Opacus' z (noise std = z·C); the sensitivity of a
    substitution is 2C, so the pair composed has noise-to-sensitivity ratio z/2.
    """

    noise_multiplier: float
    rate: float
    steps: int

    def __post_init__(self) -> None:
        z, w, t = self.noise_multiplier, self.rate, self.steps
        if not (math.isfinite(z) and z > 0):
            raise InputError(
                f"noise multiplier must be a positive finite number, got {z}",
                field="noise_multiplier",
            )
        if not (math.isfinite(w) and 0 < w <= 1):
            raise InputError(f"sampling rate must lie in (0, 1], got {w}", field="sampling_rate")
        if isinstance(t, bool) or not isinstance(t, int) or t < 1:
            raise InputError(f"steps must be a positive integer, got {t!r}", field="steps")


@dataclass(frozen=True)
class EpsilonBounds:
    """ε at ``delta``: ``epsilon`` is the certified upper bound, the number to quote.

    ``accountant`` names the method that produced the numbers; what its lower bound,
    estimate and grid spacing mean is documented with that method
    (:mod:`cropcalc.accounting.accountants`).
    """

    epsilon: float
    epsilon_lower: float
    epsilon_estimate: float
    delta: float
    grid_spacing: float
    accountant: Accountant = Accountant.PRV


def compute_epsilon(
    phases: Sequence[Phase],
    delta: float,
    accuracy: float = 0.01,
    *,
    accountant: Accountant = Accountant.PRV,
) -> EpsilonBounds:
    """Certified bracket of ε(δ) for the composition of ``phases``.

    ``accountant`` picks the method (:class:`Accountant`); the alternatives are
    imported only when asked for, so the default path loads nothing more.

    Raises:
        InputError: ``delta`` or ``accuracy`` out of range, or no phase.
        AccuracyError: the bracket cannot be made as narrow as ``accuracy`` asks
            within the grid limits, or δ is too small for the floating-point error.
        MissingExtraError: ``accountant`` is ``pld`` and dp-accounting is not installed.
    """
    try:
        method = Accountant(accountant)
    except ValueError:
        choices = ", ".join(a.value for a in Accountant)
        raise InputError(
            f"unknown accountant {accountant!r}; choose one of {choices}", field="accountant"
        ) from None
    if not phases:
        raise InputError("at least one phase is needed", field="steps")
    if not (0 < delta < 1):
        raise InputError(f"delta must lie in (0, 1), got {delta}", field="delta")
    if not (0 < accuracy <= MAX_ACCURACY):
        raise InputError(
            f"accuracy must lie in (0, {MAX_ACCURACY}], got {accuracy}", field="accuracy"
        )
    if total_variation_bound(phases) <= delta:
        # ε = 0 exactly, whatever a grid or an order could resolve (a patch that
        # almost never enters a step, e.g. a rate of 1e-12).
        return EpsilonBounds(0.0, 0.0, 0.0, delta, 0.0, accountant=method)
    match method:
        case Accountant.PRV:
            if all(p.rate == 1.0 for p in phases):
                return gaussian_epsilon(phases, delta)
            return _prv_epsilon(phases, delta, accuracy)
        case Accountant.PLD:
            from cropcalc.accounting.pld import pld_epsilon

            return pld_epsilon(phases, delta, accuracy)
        case Accountant.RDP:
            from cropcalc.accounting.rdp import rdp_epsilon

            return rdp_epsilon(phases, delta)
        case _:
            assert_never(method)


def total_variation_bound(phases: Sequence[Phase]) -> float:
    """Upper bound on the total variation, i.e. δ at ε = 0, of the whole run.

    One step's is ``δ_S(0) = w·(2Φ(1/(2σ)) − 1)`` with ``σ = z/2`` (the Gaussian pair's
    total variation, thinned by the rate), and total variation is subadditive under
    composition.
    """
    return math.fsum(
        p.steps * p.rate * math.erf(1.0 / (2.0 * math.sqrt(2.0) * (p.noise_multiplier / 2)))
        for p in phases
    )


def gaussian_epsilon(phases: Sequence[Phase], delta: float) -> EpsilonBounds:
    r"""Exact ε when every step includes the patch (rate 1): the Gaussian mechanism.

    Without sampling both directions are the Gaussian mechanism, whose compositions
    are again Gaussian with :math:`μ = \sqrt{Σ T_i/σ_i^2}` (Dong, Roth & Su, "Gaussian
    Differential Privacy", JRSS-B 2022, Corollary 3.3), and
    :math:`δ(ε) = Φ(-ε/μ + μ/2) - e^ε Φ(-ε/μ - μ/2)` (Balle & Wang, "Improving the
    Gaussian Mechanism", ICML 2018, Theorem 8). ε is found by bisection and the
    bracket is widened by a relative 1e-9 to cover the rounding of that formula:
    no grid, so no floating-point floor on δ and no limit on the number of steps.
    """
    mu = math.sqrt(math.fsum(p.steps / (p.noise_multiplier / 2) ** 2 for p in phases))

    def excess(epsilon: float) -> float:
        tail = math.exp(epsilon + float(special.log_ndtr(-epsilon / mu - mu / 2)))
        return float(special.ndtr(-epsilon / mu + mu / 2)) - tail - delta

    low, high = 0.0, mu * mu / 2 + 10.0 * mu + 50.0  # δ(high) < 1e-20
    if excess(low) <= 0:
        return EpsilonBounds(0.0, 0.0, 0.0, delta, 0.0)
    while high - low > 1e-12 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if excess(middle) > 0 else (low, middle)
    return EpsilonBounds(
        epsilon=high * (1 + 1e-9),
        epsilon_lower=low * (1 - 1e-9),
        epsilon_estimate=(low + high) / 2,
        delta=delta,
        grid_spacing=0.0,
    )


def _prv_epsilon(phases: Sequence[Phase], delta: float, accuracy: float) -> EpsilonBounds:
    """The PRV accountant: certified bracket narrowed to ``accuracy``."""
    steps = sum(p.steps for p in phases)
    hoeffding_fail = _ERROR_SHARE * delta
    # Δ per unit of Hoeffding radius: r = Δ·sqrt(T/2·log(1/β_H)) (one-sided).
    radius_per_spacing = math.sqrt(steps / 2 * math.log(1 / hoeffding_fail))
    spacing = 0.1 / radius_per_spacing  # coarse first pass: radius 0.1
    bounds: EpsilonBounds | None = None
    for _ in range(_MAX_PASSES):
        try:
            bounds = _bracket(phases, delta, spacing, hoeffding_fail, radius_per_spacing)
        except _GridTooLarge as too_large:
            # A huge ε spreads the composed loss over a huge range: a coarser grid may
            # still certify it to a relative accuracy. Never go coarser after a pass.
            if bounds is not None or not spacing < too_large.span_spacing <= _MAX_SPACING:
                break
            spacing = too_large.span_spacing
            continue
        width = bounds.epsilon - bounds.epsilon_lower
        tolerance = accuracy * max(1.0, bounds.epsilon_lower)
        if width <= tolerance:
            return bounds
        # The width is dominated by the Hoeffding radius, which is linear in Δ.
        spacing *= 0.8 * tolerance / width
    if bounds is None:
        raise AccuracyError(
            "the composed privacy loss of these parameters spreads over more than 2^24 "
            "grid points at the spacing the accuracy needs; add noise, or lower the steps "
            "or the rate"
            f"{_RDP_HINT}",
            field="steps",
        )
    raise AccuracyError(
        f"could not narrow ε to within {accuracy:g} of its value (certified upper bound "
        f"{bounds.epsilon:.6g}, lower bound {bounds.epsilon_lower:.6g}); "
        f"pass a larger --accuracy to accept a wider bracket{_RDP_HINT}",
        field="accuracy",
    )


class _GridTooLarge(Exception):
    """The grid a pass needs exceeds :data:`_MAX_GRID` points."""

    def __init__(self, loss_span: float) -> None:
        super().__init__(loss_span)
        self.span_spacing = 1.25 * loss_span / _MAX_GRID
        """The spacing at which that span would fit, with a margin."""


def _bracket(
    phases: Sequence[Phase],
    delta: float,
    spacing: float,
    hoeffding_fail: float,
    radius_per_spacing: float,
) -> EpsilonBounds:
    steps = sum(p.steps for p in phases)
    tail = _ERROR_SHARE * delta / steps
    parts: list[tuple[Discretisation, int]] = []
    for phase in phases:
        prv = SwitchingSubsampledGaussian(phase.rate, phase.noise_multiplier / 2)
        t_lo, t_hi = prv.loss_quantiles(tail)
        if (t_hi - t_lo) / spacing > _MAX_GRID:
            raise _GridTooLarge(t_hi - t_lo)
        parts.append((discretise(prv, spacing, tail), phase.steps))
    tail_each = _ERROR_SHARE * delta
    grid = window(
        [(d.upper_envelope, t) for d, t in parts],
        [(d.lower_envelope, t) for d, t in parts],
        tail_each,
    )
    if grid[1] - grid[0] > _MAX_GRID:
        raise _GridTooLarge((grid[1] - grid[0]) * spacing)
    upper_pld = compose([(d.dominating, t) for d, t in parts], grid, tail_each)
    lower_pld = compose([(d.rounded_up, t) for d, t in parts], grid, tail_each)
    _check_grid(upper_pld, delta)

    upper = upper_pld.epsilon(delta - upper_pld.error_mass)
    if not math.isfinite(upper):
        raise AccuracyError(
            f"δ = {delta:g} is below the mass the grid cannot resolve "
            f"({upper_pld.infinity_mass + upper_pld.error_mass:.3g}); increase --delta"
            f"{_RDP_HINT}",
            field="delta",
        )
    shift = math.fsum(t * d.mean_shift for d, t in parts)
    radius = spacing * radius_per_spacing + math.fsum(t * d.mean_error for d, t in parts)
    failure = hoeffding_fail + math.fsum(t * d.tail_mass for d, t in parts) + lower_pld.error_mass
    lower = max(0.0, lower_pld.epsilon(delta + failure) + shift - radius)
    estimate = lower_pld.epsilon(delta) + shift
    return EpsilonBounds(
        epsilon=upper,
        epsilon_lower=min(lower, upper),
        epsilon_estimate=min(max(estimate, lower), upper),
        delta=delta,
        grid_spacing=spacing,
    )


def _check_grid(pld: ComposedPLD, delta: float) -> None:
    if pld.rounding_mass > _ERROR_SHARE * delta * 10:
        raise AccuracyError(
            f"floating-point error ({pld.rounding_mass:.2g}) is too large for δ = {delta:g}; "
            f"increase --delta or reduce the number of steps{_RDP_HINT}",
            field="delta",
        )
