r"""Discretisations of a privacy random variable on the grid ``ℓ_k = k·Δ``.

Two discretisations of one step are built from the same interval masses (the P- and
Q-masses of the loss intervals ``(ℓ_k, ℓ_{k+1}]``, exact to rounding):

* :func:`connect_the_dots` — a *dominating* pair on the grid (Doroshenko, Ghazi,
  Kamath, Kumar & Manurangsi, "Connect the Dots: Tighter Discrete Approximations of
  Privacy Loss Distributions", PETS 2022, Theorem 3.4). Each interval's mass is split
  between its two end nodes so that both the P- and the Q-mass are preserved, which
  makes the hockey-stick curve ``δ(ε)`` the chord interpolation of the true one at the
  grid points: above it everywhere, because that curve is convex in ``e^ε``. Being a
  dominating *pair* (not merely a pessimistic curve), it stays dominating under
  composition, so the composed δ(ε) is a certified upper bound with no error term
  and no per-step bias that grows with the number of steps.
* :func:`round_up` — every loss moved to the node above it, plus the mean shift that
  makes the rounding error mean-free. Composing it and applying Hoeffding's
  inequality to the summed rounding errors (Gopi, Lee & Wutschitz, "Numerical
  Composition of Differential Privacy", NeurIPS 2021, Theorem 5.5) yields the
  certified *lower* bound and the estimate.

The tails beyond ``[ℓ_lo, ℓ_hi]`` are handled pessimistically: mass above ``ℓ_hi``
goes to +∞ (or, in the connect-the-dots pair, as much of it as the chord allows to
``ℓ_hi``), mass below ``ℓ_lo`` to ``ℓ_lo``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class IntervalPRV(Protocol):
    """A privacy random variable that knows its exact interval masses."""

    @property
    def atom(self) -> float: ...

    def interval_masses(self, edges: FloatArray) -> tuple[FloatArray, FloatArray]: ...

    def loss_quantiles(self, tail: float) -> tuple[float, float]: ...


@dataclass(frozen=True)
class DiscretePLD:
    """P-masses at the losses ``(k_lo + i)·spacing``, plus mass at +∞."""

    masses: FloatArray
    k_lo: int
    spacing: float
    infinity_mass: float

    @property
    def k_hi(self) -> int:
        return self.k_lo + len(self.masses) - 1

    @property
    def losses(self) -> FloatArray:
        return (self.k_lo + np.arange(len(self.masses), dtype=np.float64)) * self.spacing


@dataclass(frozen=True)
class Discretisation:
    """Both discretisations of one step, and what the lower bound must allow for."""

    dominating: DiscretePLD
    rounded_up: DiscretePLD
    mean_shift: float
    """Added to every rounded-up loss, it makes the rounding error mean-free (≤ 0)."""
    mean_error: float
    """Bound on the mean of the rounding error left after the shift (``Δ²/8``)."""
    tail_mass: float
    """P-mass outside the grid, which the lower bound counts as a failure event."""
    upper_envelope: DiscretePLD
    """Finite part stochastically above both discretisations (for Chernoff bounds)."""
    lower_envelope: DiscretePLD
    """Finite part stochastically below both discretisations."""


def discretise(prv: IntervalPRV, spacing: float, tail: float) -> Discretisation:
    """Discretise ``prv`` on the grid of step ``spacing`` covering all but ``tail`` mass."""
    t_lo, t_hi = prv.loss_quantiles(tail)
    k_lo = math.floor(t_lo / spacing)
    k_hi = math.ceil(t_hi / spacing)
    nodes = np.arange(k_lo, k_hi + 1, dtype=np.float64) * spacing
    edges = np.concatenate(([-np.inf], nodes, [np.inf]))
    p, q = prv.interval_masses(edges)
    p_low, p_mid, p_high = p[0], p[1:-1], p[-1]
    q_mid, q_high = q[1:-1], q[-1]
    zero = -k_lo
    atom = prv.atom

    # Connect the dots: interval (ℓ_k, ℓ_k+1] with likelihood ratio ρ = p/q ∈ [e^ℓ_k, e^ℓ_k+1]
    # sends the P-fraction θ = (ρ − e^ℓ_k)·e^ℓ_k+1 / (ρ·(e^ℓ_k+1 − e^ℓ_k)) to its right node,
    # which keeps both its P- and its Q-mass. In units of e^ℓ_k, with r = ρ·e^-ℓ_k:
    with np.errstate(divide="ignore", invalid="ignore"):
        r = p_mid / (q_mid * np.exp(nodes[:-1]))
        theta = (r - 1.0) * math.exp(spacing) / (r * math.expm1(spacing))
    theta = np.clip(np.nan_to_num(theta, nan=1.0), 0.0, 1.0)
    dominating = np.zeros(len(nodes))
    dominating[:-1] += p_mid * (1.0 - theta)
    dominating[1:] += p_mid * theta
    dominating[0] += p_low  # the chord from (x=0, δ=1) sends all P-mass below up to ℓ_lo
    dominating[zero] += atom
    # Above ℓ_hi: the chord is flat, so the node takes e^ℓ_hi·Q and the rest goes to +∞.
    top_to_node = min(p_high, math.exp(nodes[-1]) * q_high)
    dominating[-1] += top_to_node

    rounded = np.zeros(len(nodes))
    rounded[1:] += p_mid
    rounded[0] += p_low
    rounded[zero] += atom
    above = rounded.copy()
    above[-1] += top_to_node
    below = np.zeros(len(nodes))
    below[:-1] += p_mid
    below[0] += p_low
    below[zero] += atom
    below[-1] += top_to_node

    # Mean of the loss on the grid, from each interval's ratio: by Jensen and Hoeffding's
    # lemma E[Y | interval] lies in [log ρ, log ρ + Δ²/8]. The tails are failure events.
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(p_mid > 0, np.log(p_mid / q_mid), 0.0)
    good = 1.0 - p_low - p_high
    mean_true = float(np.dot(p_mid, log_ratio))
    mean_rounded = float(np.dot(p_mid, nodes[1:]))
    return Discretisation(
        dominating=DiscretePLD(dominating, k_lo, spacing, max(p_high - top_to_node, 0.0)),
        rounded_up=DiscretePLD(rounded, k_lo, spacing, p_high),
        mean_shift=(mean_true - mean_rounded) / good,
        mean_error=spacing**2 / 8.0,
        tail_mass=p_low + p_high,
        upper_envelope=DiscretePLD(above, k_lo, spacing, 0.0),
        lower_envelope=DiscretePLD(below, k_lo, spacing, 0.0),
    )
