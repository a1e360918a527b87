r"""The privacy random variable of one patch-level DP-SGD step.

One step is dominated, in both directions at once, by the *switching* pair built
from the Poisson-subsampled Gaussian with rate ``w`` and noise-to-sensitivity ratio
``σ`` (spec, section 4; Zhu, Dong & Wang, "Optimal Accounting of Differential
Privacy via Characteristic Function", AISTATS 2022, section 5):

* remove direction ``R``: ``P = (1 − w)·N(0, σ²) + w·N(1, σ²)``, ``Q = N(0, σ²)``;
* add direction ``A``: the reverse pair ``(Q, P)``;
* the switching variable follows ``A``'s privacy loss below 0 and ``R``'s above 0,
  with an atom at 0 of mass ``(1 − w)(2Φ(1/(2σ)) − 1)``.

Both directions have a privacy loss that is monotone in the Gaussian observation
``x``. With ``ℓ(x) = log(1 − w + w·exp((2x − 1)/(2σ²)))`` (the loss of ``R``; the loss of
``A`` is ``−ℓ(x)``), a loss interval maps to an interval of ``x`` through

.. math:: x(t) = σ² \log\frac{e^t − 1 + w}{w} + \tfrac12 ,

so every probability below is a difference of normal CDFs, evaluated on the side of
the distribution where it is small so that tail masses keep their relative accuracy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special

from cropcalc.errors import AccuracyError

FloatArray = npt.NDArray[np.float64]

MAX_LOSS = 600.0
"""Largest single-step privacy loss a grid may hold (``e^ℓ`` stays a finite float)."""


def normal_mass(lower: FloatArray, upper: FloatArray) -> FloatArray:
    """``Φ(upper) − Φ(lower)``, computed on the tail side to keep relative accuracy."""
    # Right of 0 use Φ(−lower) − Φ(−upper): both terms small, no cancellation against 1.
    right = lower > 0
    hi = np.where(right, -lower, upper)
    lo = np.where(right, -upper, lower)
    mass: FloatArray = np.maximum(special.ndtr(hi) - special.ndtr(lo), 0.0)
    return mass


class SwitchingSubsampledGaussian:
    """Switching PRV of the subsampled Gaussian with rate ``rate`` and ratio ``sigma``.

    It implements prv-accountant's ``PrivacyRandomVariable`` interface (``cdf``,
    ``probability``, ``pm_inf``), so it can be handed to
    ``prv_accountant.PRVAccountant`` as an independent check, and adds the exact
    interval masses under both measures of the pair that cropcalc's own certified
    discretisation needs (:mod:`cropcalc.accounting.discretise`). It satisfies that
    interface structurally instead of inheriting from prv-accountant's base class:
    importing prv-accountant pulls in scipy.integrate, scipy.signal and scipy.stats
    (about 0.8 s), which every ``cropcalc epsilon`` run would pay for nothing.

    Args:
        rate: probability ``w ∈ (0, 1]`` that the sensitive patch influences the step.
        sigma: noise standard deviation divided by the sensitivity (``z/2`` for
            patch-level substitution with Opacus' noise multiplier ``z``).
    """

    def __init__(self, rate: float, sigma: float) -> None:
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"rate must lie in (0, 1], got {rate}")
        if not (sigma > 0.0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be positive and finite, got {sigma}")
        self.rate = rate
        self.sigma = sigma

    # -- the observation threshold of a loss value --------------------------------
    def _threshold(self, loss: FloatArray) -> FloatArray:
        """Observation ``x`` at which the remove-direction loss equals ``loss`` (≥ 0 here)."""
        w, s2 = self.rate, self.sigma**2
        return s2 * (np.log(np.expm1(loss) + w) - math.log(w)) + 0.5

    def _remove_masses(self, x_lo: FloatArray, x_hi: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Masses of ``x ∈ (x_lo, x_hi]`` under ``P_R`` (the mixture) and ``Q_R = N(0, σ²)``."""
        s, w = self.sigma, self.rate
        q = normal_mass(x_lo / s, x_hi / s)
        p = (1.0 - w) * q + w * normal_mass((x_lo - 1.0) / s, (x_hi - 1.0) / s)
        return p, q

    @property
    def atom(self) -> float:
        """Probability of a privacy loss of exactly 0 (under both measures)."""
        return (1.0 - self.rate) * (2.0 * float(special.ndtr(0.5 / self.sigma)) - 1.0)

    def interval_masses(self, edges: FloatArray) -> tuple[FloatArray, FloatArray]:
        """P- and Q-masses of the loss intervals ``(edges[i], edges[i+1]]``.

        ``edges`` must be increasing; an interval may not straddle 0 (make 0 an edge).
        The atom at 0 is not included in any interval: it is :attr:`atom`.
        ``edges`` may start at ``-inf`` and end at ``+inf``.
        """
        lo, hi = edges[:-1], edges[1:]
        if np.any((lo < 0) & (hi > 0)):
            raise ValueError("an interval straddles 0; make 0 an edge")
        split = int(np.searchsorted(lo, 0.0, side="left"))  # lo is increasing
        with np.errstate(over="ignore"):
            # Remove direction, loss t >= 0: x in (x(lo), x(hi)].
            p_r, q_r = self._remove_masses(self._threshold(lo[split:]), self._threshold(hi[split:]))
            # Add direction, loss t < 0: the loss is −ℓ(x), so t in (lo, hi] is
            # x in [x(−hi), x(−lo)); P_A = N(0, σ²) and Q_A is the mixture.
            q_a, p_a = self._remove_masses(
                self._threshold(-hi[:split]), self._threshold(-lo[:split])
            )
        return np.concatenate((p_a, p_r)), np.concatenate((q_a, q_r))

    def loss_quantiles(self, tail: float) -> tuple[float, float]:
        """Losses ``(t_lo, t_hi)`` with P-mass at most ``tail`` below and above them.

        Raises:
            AccuracyError: ``t_hi`` exceeds :data:`MAX_LOSS` (noise far too small for
                any grid: ``e^ℓ`` would not be a finite float).
        """
        s = self.sigma
        z = -float(special.ndtri(tail))  # Φ(-z) = tail
        # Above t_hi: x > 1 + σz has mass <= tail under both mixture components.
        t_hi = self._remove_loss(1.0 + s * z)
        if not t_hi <= MAX_LOSS:
            raise AccuracyError(
                f"with noise multiplier {2 * s:g} one step's privacy loss reaches "
                f"{t_hi:.3g}, beyond what a grid can hold (e^{MAX_LOSS:g}); add noise; "
                "--accountant rdp gives a looser bound that is always computable",
                field="noise_multiplier",
            )
        # Below t_lo (add direction, P_A = N(0, σ²)): x > σz has mass tail.
        t_lo = -self._remove_loss(s * z)
        return min(t_lo, 0.0), max(t_hi, 0.0)

    def _remove_loss(self, x: float) -> float:
        """``ℓ(x) = log(1 − w + w·e^{(2x−1)/(2σ²)})``, without overflow for tiny σ."""
        w, s = self.rate, self.sigma
        with np.errstate(over="ignore", divide="ignore"):  # tiny σ: the loss is +∞
            exponent = float(np.float64(2.0 * x - 1.0) / np.float64(2.0 * s * s))
        if w == 1.0 or not math.isfinite(
            exponent
        ):  # the Gaussian mechanism: the loss is linear in x
            return exponent
        if exponent < 30.0:
            return math.log1p(w * math.expm1(exponent))
        # w·e^a dominates: log(w·e^a) + log1p((1 − w)·e^{−a}/w).
        return math.log(w) + exponent + math.log1p((1.0 - w) * math.exp(-exponent) / w)

    # -- prv-accountant's interface -------------------------------------------------
    pm_inf = 0.0
    """Probability mass at +∞ (none: the Gaussian pair has no infinite loss)."""

    def probability(self, a: Any, b: Any) -> Any:
        """P-mass of the loss interval ``(a, b]``."""
        return self.cdf(b) - self.cdf(a)

    def cdf(self, t: Any) -> Any:
        """CDF of the switching variable (spec, section 4), vectorised over ``t``."""
        t = np.asarray(t, dtype=np.float64)
        s, w = self.sigma, self.rate
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            # Add direction below 0: F_A(t) = 1 − Φ(σ·L(t) + 1/(2σ)).
            inner = (np.expm1(-t) + w) / w
            f_add = np.where(inner > 0, special.ndtr(-(s * np.log(inner) + 0.5 / s)), 1.0)
            # Remove direction from 0 on: F_R(t) = P(x <= x(t)) under the mixture.
            x = self._threshold(np.maximum(t, 0.0))
            f_remove = (1.0 - w) * special.ndtr(x / s) + w * special.ndtr((x - 1.0) / s)
        return np.where(t < 0, f_add, f_remove)
