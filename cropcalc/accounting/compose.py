r"""Composition of discrete privacy loss distributions by FFT, with certified tails.

The T-fold composition of a PLD supported on ``n`` grid nodes spans ``T·n`` nodes,
almost all of them carrying negligible mass. Only a window ``[a, b]`` of the composed
grid is computed: a circular convolution of that length (FFT, raised to the power
``T``) places the mass outside the window at wrong positions inside it. The window is
chosen with Chernoff's bound on the exact moment generating function of the discrete
PLDs, ``P(K ≥ b) ≤ exp(Σ T_i Λ_i(λ) − λ b)``, so the mass that can be misplaced is
at most a known ``aliased_mass``; δ(ε) is off by at most that much in either
direction, and the callers add it to the side that keeps their bound valid.

Floating point: the forward FFT errs by about ``u·log₂M`` (``u`` the unit roundoff,
relative to ``‖f‖₁ = 1``) per coefficient, and raising to the power ``T`` multiplies
that by ``T·|F_k|^{T−1}``; by Parseval the result errs by at most
``T·u·(log₂M + 1)·‖f_T‖₂`` in the 2-norm and ``√M`` times that in total mass. That
bound, with a factor 2 and the inverse transform's own error, is ``rounding_mass``:
it is what limits the smallest δ that can be certified after many steps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import fft

from cropcalc.accounting.discretise import DiscretePLD

FloatArray = npt.NDArray[np.float64]

# Chernoff exponents tried, in units of 1/loss.
_ORDERS = 2.0 ** np.arange(-3, 9)
# Added to each log-MGF to cover the rounding of the repeated squaring.
_MGF_SLACK = 1e-9
# Normalised MGF factors below this are dropped (and charged) rather than squared.
_NEGLIGIBLE = 1e-150
_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class ComposedPLD:
    """A composed PLD restricted to a window of the grid, with its error budget."""

    masses: FloatArray
    k_lo: int
    spacing: float
    infinity_mass: float
    aliased_mass: float
    rounding_mass: float

    @property
    def error_mass(self) -> float:
        """Bound on |δ(ε) computed − δ(ε) of the exact discrete composition|."""
        return self.aliased_mass + self.rounding_mass

    def delta(self, epsilon: float) -> float:
        """δ(ε) of the computed distribution (without the error budget)."""
        losses = (self.k_lo + np.arange(len(self.masses))) * self.spacing
        above = losses > epsilon
        gain = -np.expm1(epsilon - losses[above])
        return self.infinity_mass + float(np.dot(self.masses[above], gain))

    def epsilon(self, delta: float) -> float:
        """Smallest ε ≥ 0 with δ(ε) ≤ ``delta`` for the computed distribution (∞ if none)."""
        if delta <= self.infinity_mass:
            return math.inf
        start = max(0, 1 - self.k_lo)  # first node with a positive loss
        masses = self.masses[start:]
        losses = (self.k_lo + start + np.arange(len(masses))) * self.spacing
        # Suffix sums A_j = Σ_{i≥j} m_i and B_j = Σ_{i≥j} m_i e^{−ℓ_i}; on [ℓ_{j−1}, ℓ_j)
        # δ(ε) = m_∞ + A_j − e^ε B_j (with ℓ_{−1} = 0). B is kept as a logarithm so
        # that e^ε B_j ≤ A_j never overflows, however large ε is.
        tail_p = np.cumsum(masses[::-1])[::-1]
        with np.errstate(divide="ignore"):
            log_terms = np.log(masses) - losses
        log_tail_q = np.logaddexp.accumulate(log_terms[::-1])[::-1]
        left = np.concatenate(([0.0], losses[:-1]))
        at_left = self.infinity_mass + tail_p - np.exp(left + log_tail_q)
        below = np.nonzero(at_left <= delta)[0]
        if len(below) and below[0] == 0:
            return 0.0
        j = below[0] - 1 if len(below) else len(masses) - 1
        eps = math.log(self.infinity_mass + tail_p[j] - delta) - float(log_tail_q[j])
        return min(max(eps, float(left[j])), float(losses[j]))


def _log_mgf(masses: FloatArray, losses: FloatArray, sign: float) -> FloatArray:
    """log Σ m e^{±λℓ} for λ in :data:`_ORDERS` (finite part of the distribution).

    ``e^{λℓ}`` is normalised by its largest value and the orders are powers of two,
    so one exponential and repeated squaring give every order: no overflow, and a
    relative error of at most 2^11 unit roundoffs, which :data:`_MGF_SLACK` absorbs.
    Factors below :data:`_NEGLIGIBLE` are set to 0 before they are squared into
    subnormal numbers (whose arithmetic is ~100 times slower); each dropped term is
    below that bound, so ``n·_NEGLIGIBLE`` added to the sum keeps it an upper bound.
    """
    scaled = sign * losses
    top = float(np.max(scaled))
    base = np.exp((scaled - top) * _ORDERS[0])
    dropped = len(masses) * _NEGLIGIBLE
    logs = np.empty(len(_ORDERS))
    for i, order in enumerate(_ORDERS):
        if i:
            base[base < _NEGLIGIBLE] = 0.0
            base *= base
        total = float(np.dot(masses, base)) + dropped
        logs[i] = math.log(total) + order * top + _MGF_SLACK
    return logs


def window(
    upper_envelope: Sequence[tuple[DiscretePLD, int]],
    lower_envelope: Sequence[tuple[DiscretePLD, int]],
    tail: float,
) -> tuple[int, int]:
    """Grid window [a, b] holding all but ``tail`` of the composed mass on each side.

    The upper (lower) envelope must be stochastically above (below) every
    distribution that will be composed in this window.
    """
    log_tail = math.log(tail)
    exponent_up = sum(t * _log_mgf(p.masses, p.losses, 1.0) for p, t in upper_envelope)
    exponent_down = sum(t * _log_mgf(p.masses, p.losses, -1.0) for p, t in lower_envelope)
    spacing = upper_envelope[0][0].spacing
    b = math.ceil(float(np.min((exponent_up - log_tail) / _ORDERS)) / spacing)
    a = math.floor(-float(np.min((exponent_down - log_tail) / _ORDERS)) / spacing)
    return a, b


def compose(
    phases: Sequence[tuple[DiscretePLD, int]], grid: tuple[int, int], tail: float
) -> ComposedPLD:
    """Compose each PLD with itself ``count`` times and all of them together.

    ``grid`` is the range of grid indices to compute, from :func:`window`; ``tail`` the mass
    bound it was chosen for, on each side. All PLDs must share one grid spacing.
    """
    spacing = phases[0][0].spacing
    if [count for _, count in phases] == [1]:
        # One step: nothing to compose, so no transform and no rounding to charge.
        single = phases[0][0]
        return ComposedPLD(single.masses, single.k_lo, spacing, single.infinity_mass, 0.0, 0.0)
    lowest = sum(t * pld.k_lo for pld, t in phases)
    highest = sum(t * pld.k_hi for pld, t in phases)
    a, b = max(grid[0], lowest), min(grid[1], highest)
    size = fft.next_fast_len(b - a + 1, real=True)
    spectrum = np.ones(size // 2 + 1, dtype=np.complex128)
    for pld, count in phases:
        # Fold the single-step masses onto the circle of the window's length.
        folded = np.bincount(np.arange(len(pld.masses)) % size, pld.masses, minlength=size)
        spectrum *= fft.rfft(folded) ** count
    circular = fft.irfft(spectrum, size)
    # Index i of the circular result holds the sum index (i + lowest) mod size.
    masses = np.maximum(np.roll(circular, -((a - lowest) % size)), 0.0)
    total_steps = sum(t for _, t in phases)
    aliased = (tail if a > lowest else 0.0) + (tail if b < highest else 0.0)
    log_size = math.log2(size)
    rounding = (
        2.0
        * (total_steps * (log_size + 1.0) + log_size)
        * _UNIT_ROUNDOFF
        * math.sqrt(size)
        * float(np.linalg.norm(circular))
    )
    finite = math.fsum(t * math.log1p(-pld.infinity_mass) for pld, t in phases)
    return ComposedPLD(
        masses=masses,
        k_lo=a,
        spacing=spacing,
        infinity_mass=-math.expm1(finite),
        aliased_mass=aliased,
        rounding_mass=rounding,
    )
