r"""Rényi accounting of the patch-level switching pair, converted to (ε, δ).

What this module guarantees: :func:`rdp_epsilon` returns an upper bound on ε(δ) of the
composition of the switching pairs of all phases (accounting spec, section 4). It
never depends on a discretisation; it is looser than the PRV and PLD accountants
because Rényi divergences summarise a privacy loss by its moments. It needs nothing
beyond numpy and scipy.

**The pair.** With ``μ₀ = N(0, σ²)``, ``μ₁ = N(1, σ²)`` and ``μ = (1 − w)μ₀ + wμ₁``,
the remove direction is ``R = (μ, μ₀)``, the add direction ``A = (μ₀, μ)``, and the
switching pair ``S`` has the privacy loss of ``A`` below 0, of ``R`` above 0 and an
atom at 0 (:mod:`cropcalc.accounting.prv`). ``S`` dominates every step of patch-level
DP-SGD (spec, section 4), so by the data-processing inequality its Rényi divergence
``D_α(S)`` bounds the Rényi divergence of every step, and by Rényi composition
(Mironov, "Rényi Differential Privacy", CSF 2017, Proposition 1) ``Σ_phases T·D_α(S)``
bounds the whole run.

**Why not the remove direction alone.** For the subsampled Gaussian the remove
direction is the larger of the two, ``D_α(μ‖μ₀) ≥ D_α(μ₀‖μ)`` for α ≥ 1 (Mironov,
Talwar & Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism",
arXiv:1908.10530, 2019, section 3: ``A_α ≥ B_α``). That does *not* bound ``S``: the
trade-off function of ``S`` is the convex hull of ``min(f_R, f_A)`` (Zhu, Dong &
Wang, AISTATS 2022), which lies below ``f_R``; so ``R`` is a post-processing of ``S``
and ``D_α(S) ≥ D_α(R)``, strictly at small orders (up to about 1.8 × at α ≤ 4 for
w = 10⁻³, σ = 0.75). Quasi-convexity of Rényi divergence does not help either: it
bounds *mixtures* of ``R`` and ``A``, and ``S`` is not one. So this module computes
``D_α(S)`` itself:

.. math::

    e^{(α−1)D_α(S)} = E_{P_S}[e^{(α−1)L}] = A_α + Δ_α ,\qquad
    Δ_α = E_R[u(L); L ≤ 0] − E_A[u(L); L < 0],\quad u(L) = 1 − e^{(α−1)L},

where ``A_α = E_{μ₀}[(μ/μ₀)^α]`` is the remove direction's moment and ``Δ_α ≥ 0``
collects where ``S`` and ``R`` differ (only at losses ≤ 0, where ``u ∈ [0, 1]``).
The derivation uses ``S``'s atom ``P_R(L ≤ 0) − Q_R(L > 0)`` and its symmetry.

* ``A_α`` by the published formulas (Mironov, Talwar & Zhang 2019, section 3): for
  integer α the binomial expansion
  ``A_α = Σ_k C(α,k)(1−w)^{α−k} w^k e^{(k²−k)/(2σ²)}``, summed as
  ``A_α − 1 = Σ_{k≥2} … (e^{(k²−k)/(2σ²)} − 1)`` so that tiny values keep their
  relative accuracy; for fractional α the two series split at
  ``z₀ = σ² log(1/w − 1) + 1/2``,
  ``Σ_k C(α,k)(1−w)^{α−k}w^k e^{(k²−k)/(2σ²)} Φ((z₀−k)/σ)`` and
  ``Σ_k C(α,k)w^{α−k}(1−w)^k e^{(j²−j)/(2σ²)} Φ((j−z₀)/σ)`` with ``j = α − k``
  (their section 3.3). Past ``k = ⌈α⌉`` both series alternate with terms
  decreasing in magnitude (the binomial ratio is ``(k−α)/(k+1)`` and the Gaussian
  factor's ratio is at most 1 because the inverse Mills ratio exceeds its
  argument), so the first omitted term bounds each remainder and is added.
* ``Δ_α`` as an upper bound on a grid of the observation ``x`` (both parts are
  integrals over ``x ≤ 1/2`` resp. ``x > 1/2``): ``u`` is concave in the likelihood
  ratio ``y = e^{−L}``, so on each cell Jensen's inequality bounds the first part
  from above by its value at the cell's mean ratio, and the chord between the
  cell's end ratios bounds the second from below; both cell masses are exact
  normal-CDF differences. Cells beyond the grid are covered (first part) or dropped
  (second part, ``u ≥ 0``).

**Conversion.** ε = min over orders of
``T·D_α + log((α−1)/α) − (log δ + log α)/(α−1)`` (Canonne, Kamath & Steinke, "The
Discrete Gaussian for Differential Privacy", NeurIPS 2020, Proposition 12;
Balle et al., "Hypothesis Testing Interpretations and Rényi DP", AISTATS 2020,
Theorem 21), and ε = 0 when ``δ² ≥ 1 − e^{−T·D_α}`` (Bretagnolle–Huber:
total variation ≤ ``√(1 − e^{−KL})`` and ``KL ≤ D_α``). When the total variation
itself is at most δ, ``compute_epsilon`` answers ε = 0 for every accountant
(:func:`cropcalc.accounting.epsilon.total_variation_bound`); without that, a rate of
10⁻¹² and δ = 10⁻¹² would get an RDP bound of ε ≈ 26 for a run whose true ε is 0.

**What is reported.** ``epsilon`` is that bound. RDP gives no lower bound, so
``epsilon_lower`` is 0.0 (trivially valid, never a guess), and ``epsilon_estimate``
equals ``epsilon``: the method yields a bound, not an estimate. ``grid_spacing`` is
0.0 (no privacy-loss grid); ``accuracy`` does not apply.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy import special

from cropcalc.accounting.accountants import Accountant
from cropcalc.accounting.epsilon import EpsilonBounds, Phase
from cropcalc.accounting.prv import normal_mass
from cropcalc.errors import AccuracyError, InputError

FloatArray = npt.NDArray[np.float64]

_FRACTIONAL = 1.0 + np.geomspace(0.01, 0.9, 24)
_HALVES = np.arange(2.5, 16.0, 1.0)
_INTEGERS = np.unique(np.round(np.geomspace(2, 10_000, 64)))
DEFAULT_ORDERS: tuple[float, ...] = tuple(
    float(a) for a in np.unique(np.concatenate((_FRACTIONAL, _HALVES, _INTEGERS)))
)
"""Rényi orders tried: fractional ones in (1, 2) and between 2 and 16, integers to 10⁴."""

# Cells per noise standard deviation, and standard deviations covered, of the x-grid on
# which Δ_α is bounded. The bound is rigorous for any grid; these keep it within about
# 10⁻⁴ of Δ_α (see tests/test_rdp.py), at a few thousand cells.
_CELLS_PER_SIGMA = 64
_SIGMAS_COVERED = 30.0
# Terms of a fractional-order series summed in the first block (blocks then double),
# and at most. The series converge only polynomially (terms ~ k^{−α−2}); summing stops
# when the remainder bound, which is added, is below 10⁻⁶ of A − 1 or at the rounding
# level of A.
_FIRST_BLOCK = 64
_MAX_TERMS = 1 << 17
_LOG_SERIES_TOLERANCE = math.log(1e-6)
_LOG_ROUNDING_FLOOR = math.log(1e-17)
# Relative slack added to every per-step Rényi divergence: it covers the rounding of
# the log-binomial coefficients (about 10⁻¹¹ relative at α = 10⁴) many times over.
_RELATIVE_SLACK = 1e-9
# Most cells of the observation grid for the switching correction (memory, time).
_MAX_CELLS = 200_000
_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)


def rdp_epsilon(
    phases: Sequence[Phase], delta: float, orders: Sequence[float] = DEFAULT_ORDERS
) -> EpsilonBounds:
    """Upper bound on ε(δ) of ``phases`` by Rényi accounting of the switching pair.

    Raises:
        InputError: an order not above 1 (the phases and δ are checked by
            :func:`~cropcalc.accounting.epsilon.compute_epsilon`, the entry point).
    """
    order_array = np.asarray(orders, dtype=np.float64)
    if order_array.size == 0 or not np.all(order_array > 1):
        raise InputError(f"Rényi orders must exceed 1, got {orders}", field="orders")
    total = np.zeros(len(order_array))
    # A noise far too small overflows the series to ∞ (or ∞ − ∞); the finiteness
    # check below turns that into a refusal instead of warnings.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for phase in phases:
            total += phase.steps * switching_rdp(
                order_array, phase.rate, phase.noise_multiplier / 2
            )
    epsilon, _ = rdp_to_epsilon(order_array, total, delta)
    if not math.isfinite(epsilon):
        raise AccuracyError(
            "Rényi accounting gives no finite ε here: the noise is far too small for "
            "this many steps; add noise",
            field="noise_multiplier",
        )
    return EpsilonBounds(
        epsilon=epsilon,
        epsilon_lower=0.0,
        epsilon_estimate=epsilon,
        delta=delta,
        grid_spacing=0.0,
        accountant=Accountant.RDP,
    )


def rdp_to_epsilon(orders: FloatArray, rdp: FloatArray, delta: float) -> tuple[float, float]:
    """Smallest ε over ``orders`` for a mechanism with Rényi DP ``rdp``, and its order.

    The conversion of Canonne, Kamath & Steinke (2020, Proposition 12); ε is 0 when
    the Bretagnolle–Huber bound already gives total variation ≤ δ.
    """
    if np.any(delta * delta >= -np.expm1(-rdp)):
        best = int(np.argmin(rdp))
        return 0.0, float(orders[best])
    with np.errstate(over="ignore"):
        eps = rdp + np.log1p(-1.0 / orders) - (math.log(delta) + np.log(orders)) / (orders - 1.0)
    best = int(np.argmin(eps))
    return max(float(eps[best]), 0.0), float(orders[best])


def switching_rdp(orders: FloatArray, rate: float, sigma: float) -> FloatArray:
    """Upper bound on ``D_α(S)`` of one step, for each order (see the module docstring)."""
    orders = np.asarray(orders, dtype=np.float64)
    if rate == 1.0:
        # S, R and A are all the Gaussian mechanism: D_α = α/(2σ²) exactly.
        gaussian: FloatArray = orders / (2.0 * sigma * sigma)
        return gaussian
    log_am1 = np.array([_log_moment_minus_one(float(a), rate, sigma) for a in orders])
    correction = switching_correction(orders, rate, sigma)
    with np.errstate(divide="ignore"):
        log_hm1 = np.logaddexp(log_am1, np.log(correction))
    divergence: FloatArray = np.logaddexp(0.0, log_hm1) / (orders - 1.0)
    return divergence * (1.0 + _RELATIVE_SLACK)


def remove_rdp(orders: FloatArray, rate: float, sigma: float) -> FloatArray:
    """``D_α(μ‖μ₀)`` of the remove direction alone (Mironov, Talwar & Zhang 2019).

    Not a bound for the switching pair (see the module docstring); exposed so that
    tests can compare it with other implementations of the same published formulas.
    """
    orders = np.asarray(orders, dtype=np.float64)
    if rate == 1.0:
        gaussian: FloatArray = orders / (2.0 * sigma * sigma)
        return gaussian
    log_am1 = np.array([_log_moment_minus_one(float(a), rate, sigma) for a in orders])
    divergence: FloatArray = np.logaddexp(0.0, log_am1) / (orders - 1.0)
    return divergence


def _log_moment_minus_one(order: float, rate: float, sigma: float) -> float:
    """Upper bound on ``log(A_α − 1)`` of the remove direction."""
    if order == math.floor(order):
        return _log_moment_minus_one_integer(int(order), rate, sigma)
    return _log_moment_minus_one_fractional(order, rate, sigma)


def _log_expm1(x: FloatArray) -> FloatArray:
    """``log(e^x − 1)`` for ``x > 0``, without overflow."""
    with np.errstate(over="ignore"):
        small = np.log(np.expm1(np.minimum(x, 30.0)))
    result: FloatArray = np.where(x < 30.0, small, x + np.log1p(-np.exp(-x)))
    return result


def _log_moment_minus_one_integer(order: int, rate: float, sigma: float) -> float:
    """``log(A_α − 1)`` for integer α ≥ 2 by the binomial expansion, all terms positive."""
    k = np.arange(2, order + 1, dtype=np.float64)
    log_binomial = (
        special.gammaln(order + 1.0) - special.gammaln(k + 1) - special.gammaln(order - k + 1)
    )
    log_terms = (
        log_binomial
        + k * math.log(rate)
        + (order - k) * math.log1p(-rate)
        + _log_expm1(k * (k - 1) / (2.0 * sigma * sigma))
    )
    return float(special.logsumexp(log_terms))


def _log_moment_minus_one_fractional(order: float, rate: float, sigma: float) -> float:
    """Upper bound on ``log(A_α − 1)`` for fractional α by the two series, remainder added."""
    z0 = sigma * sigma * (math.log1p(-rate) - math.log(rate)) + 0.5
    log_q, log_1mq = math.log(rate), math.log1p(-rate)
    two_var = 2.0 * sigma * sigma
    log_gamma_top = float(special.gammaln(order + 1.0))
    logs: list[FloatArray] = []
    signs: list[FloatArray] = []
    scales: list[FloatArray] = []  # magnitude of what each log term is summed from
    start, block = 0, _FIRST_BLOCK
    while True:
        k = np.arange(start, start + block + 1, dtype=np.float64)  # one extra: the remainder
        j = order - k
        log_binomial = log_gamma_top - special.gammaln(k + 1) - special.gammaln(j + 1)
        sign = special.gammasgn(j + 1)
        parts_below = (k * log_q, j * log_1mq, (k * k - k) / two_var)
        parts_above = (j * log_q, k * log_1mq, (j * j - j) / two_var)
        tail_below = special.log_ndtr((z0 - k) / sigma)
        tail_above = special.log_ndtr((j - z0) / sigma)
        below = log_binomial + sum(parts_below) + tail_below
        above = log_binomial + sum(parts_above) + tail_above
        common = log_gamma_top + np.abs(special.gammaln(k + 1)) + np.abs(special.gammaln(j + 1))
        logs += [below[:-1], above[:-1]]
        signs += [sign[:-1], sign[:-1]]
        scales += [
            (common + sum(np.abs(x) for x in parts_below) + np.abs(tail_below))[:-1],
            (common + sum(np.abs(x) for x in parts_above) + np.abs(tail_above))[:-1],
        ]
        start += block
        block *= 2
        log_total = float(
            special.logsumexp(np.concatenate(logs), b=np.concatenate(signs), return_sign=True)[0]
        )
        # Each series alternates with decreasing terms from k = ⌈α⌉ on: the first omitted
        # term bounds its remainder. Stop once that is negligible against A − 1.
        log_remainder = float(np.logaddexp(below[-1], above[-1]))
        log_excess = log_total + math.log(-math.expm1(-log_total)) if log_total > 0 else -math.inf
        negligible = log_remainder < max(
            log_excess + _LOG_SERIES_TOLERANCE, log_total + _LOG_ROUNDING_FLOOR
        )
        if start > order + 1 and (negligible or start >= _MAX_TERMS):
            break
    # Sum exactly (fsum) the terms scaled by the largest; each term's exponent is off by
    # at most a few units of roundoff times the magnitudes it was summed from.
    all_logs = np.concatenate(logs)
    peak = float(np.max(all_logs))
    scaled = np.exp(all_logs - peak)
    total = math.fsum(np.concatenate(signs) * scaled)
    rounding = _UNIT_ROUNDOFF * (
        math.fsum(scaled * (4.0 + 2.0 * np.concatenate(scales))) + 2.0 * abs(total)
    )
    log_total = peak + math.log(total)
    # A − 1 = A·(1 − 1/A), plus the remainder and the rounding, relative to A so that
    # nothing overflows however large A is.
    relative_slack = (math.exp(log_remainder - peak) + rounding) / total
    relative_slack += _UNIT_ROUNDOFF * (2.0 + abs(log_total))  # the final log and exp
    return log_total + math.log(-math.expm1(-log_total) + relative_slack)


def switching_correction(orders: FloatArray, rate: float, sigma: float) -> FloatArray:
    """Upper bound on ``Δ_α = E_R[u(L); L ≤ 0] − E_A[u(L); L < 0]`` for each order."""
    orders = np.asarray(orders, dtype=np.float64)
    alpha_m1 = (orders - 1.0)[:, None]
    # Both bounds hold for any cells; finer cells only make them tighter. A tiny σ
    # would ask for ~1/σ cells, so their number is capped (the bound gets looser).
    step = max(sigma / _CELLS_PER_SIGMA, (0.5 + _SIGMAS_COVERED * sigma) / _MAX_CELLS)

    # Remove direction on x ≤ 1/2: cells (x_i, x_i+1], the first reaching down to −∞.
    count = math.ceil((0.5 + _SIGMAS_COVERED * sigma) / step)
    edges = 0.5 - step * np.arange(count, -1, -1, dtype=np.float64)
    edges[0] = -np.inf
    m0 = normal_mass(edges[:-1] / sigma, edges[1:] / sigma)
    m1 = normal_mass((edges[:-1] - 1.0) / sigma, (edges[1:] - 1.0) / sigma)
    keep = m0 > 0
    m0, m1 = m0[keep], m1[keep]
    p = (1.0 - rate) * m0 + rate * m1
    # Jensen: u is concave in y = e^{−L}; the cell's mean y is m0/p, i.e. L = log(p/m0).
    mean_loss = np.log1p(rate * (m1 / m0 - 1.0))
    remove_part = np.dot(-np.expm1(alpha_m1 * mean_loss), p)

    # Add direction on x > 1/2 (P_A = μ₀): the loss is −ℓ(x) with ℓ the remove loss.
    top = min(_SIGMAS_COVERED * sigma, 300.0 * sigma * sigma)  # keeps e^{s} finite
    count = min(max(math.ceil(top / step), 1), _MAX_CELLS)
    edges = 0.5 + np.linspace(0.0, top, count + 1)
    s = (2.0 * edges - 1.0) / (2.0 * sigma * sigma)  # log μ₁/μ₀ at the edges
    m0 = normal_mass(edges[:-1] / sigma, edges[1:] / sigma)
    m1 = normal_mass((edges[:-1] - 1.0) / sigma, (edges[1:] - 1.0) / sigma)
    keep = m0 > 0
    m0, m1, s_lo, s_hi = m0[keep], m1[keep], s[:-1][keep], s[1:][keep]
    # Chord: the mean ratio m1/m0 sits at fraction θ between e^{s_lo} and e^{s_hi}.
    theta = np.clip((m1 / m0 * np.exp(-s_lo) - 1.0) / np.expm1(s_hi - s_lo), 0.0, 1.0)
    u_lo = -np.expm1(-alpha_m1 * np.log1p(rate * np.expm1(s_lo)))
    u_hi = -np.expm1(-alpha_m1 * np.log1p(rate * np.expm1(s_hi)))
    add_part = np.dot(theta * u_hi + (1.0 - theta) * u_lo, m0)
    correction: FloatArray = np.maximum(remove_part - add_part, 0.0)
    return correction
