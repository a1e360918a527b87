r"""Privacy-loss-distribution accounting of the switching pair with Google's dp-accounting.

What this module guarantees: :func:`pld_epsilon` returns an upper bound on ε(δ) of the
composition of the patch-level *switching* pairs of all phases (accounting spec,
section 4) — the same pair the PRV accountant composes, not dp-accounting's default
add/remove accounting of the subsampled Gaussian (which takes the worse of the two
directions *after* composing each separately, a smaller and here invalid number).
Discretisation and composition are dp-accounting's own code, independent of
cropcalc's :mod:`~cropcalc.accounting.discretise` and :mod:`~cropcalc.accounting.compose`,
which is what makes this accountant a check on the default one. dp-accounting is an
optional extra (``pip install 'cropcalc[pld]'``), imported only when this runs.

**Upper bound** (``epsilon``). The single step is discretised on the grid ``k·Δ`` by
pessimistic *connect-the-dots* (Doroshenko, Ghazi, Kamath, Kumar & Manurangsi,
"Connect the Dots: Tighter Discrete Approximations of Privacy Loss Distributions",
PETS 2022, Algorithm 1; dp-accounting's ``create_pmf_pessimistic_connect_dots_fixed_gap``).
It needs the hockey-stick curve ``δ_S(ε)`` of the switching pair at the grid points:

* ``ε ≥ 0``: the switching loss equals the remove direction's above 0, so
  ``δ_S(ε) = δ_R(ε)``, taken from dp-accounting's ``GaussianPrivacyLoss`` (remove
  adjacency, ``sampling_prob = w``, standard deviation ``σ = z/2``, sensitivity 1);
* ``ε < 0``: the switching pair is symmetric, so
  ``δ_S(ε) = 1 − e^ε + e^ε·δ_S(−ε)``.

Connect-the-dots is a dominating pair (its δ-curve is the chord interpolation of the
convex curve in ``e^ε``), so it stays an upper bound under composition; mass beyond
the grid goes to +∞. Its error is second order: a cell's mass split between its two
end points raises the mean loss by at most ``Δ²/8`` per step, so ε is off by about
``c·T·Δ²`` with ``c`` below 1 in every case measured. Δ starts at ``√(accuracy/(4T))``.
Rounding losses up instead (privacy buckets) would bias ε by about ``T·Δ/2`` and need
``Δ ≈ accuracy/T`` — a grid of 10⁸ points at T = 2·10⁴ — which is why it is not used.

**Accuracy check** (heuristic, not a certificate). ε is computed at Δ and at 2Δ;
assuming the error is quadratic in Δ, ``(ε(2Δ) − ε(Δ))/3`` estimates it. Δ is
refined until that is at most half of ``accuracy·max(1, ε)``; the estimate
(``epsilon_estimate``) is the extrapolation ``ε(Δ) − (ε(2Δ) − ε(Δ))/3``, clipped into
the bracket.

**Lower bound** (``epsilon_lower``). dp-accounting's optimistic estimate of the same
pair: every loss rounded *down* to the grid (cell masses exact, from
:class:`~cropcalc.accounting.prv.SwitchingSubsampledGaussian`), mass below the grid
dropped. Since δ(ε) = E_P[(1 − e^{ε − ΣL})₊] grows with every loss, this is a valid
lower bound after any number of steps — but it is biased low by up to ``T·Δ'``, so
its grid ``Δ' = accuracy·max(1, ε)/T`` is used when the composed grid fits in
:data:`_MAX_GRID` points, else the finest grid that does (a looser lower bound).

**Numerical errors.** The composed distributions are truncated to windows holding all
but ``10⁻³·δ`` of the mass (dp-accounting's Chernoff bounds; pessimistically, the
truncated mass counts at +∞), and the FFT's floating-point error is bounded as in
:mod:`cropcalc.accounting.compose` (``2·(T(log₂n + 1) + log₂n)·u·√n·‖f_T‖₂``, the
2-norm from Parseval). The upper bound is read at δ minus that error, the lower bound
at δ plus it and the truncations. :class:`~cropcalc.errors.AccuracyError` is raised
when that error is not small against δ, when the required grid exceeds
:data:`_MAX_GRID` points, or when the accuracy check does not pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import fft, special

from cropcalc.accounting.accountants import Accountant
from cropcalc.accounting.epsilon import EpsilonBounds, Phase
from cropcalc.accounting.prv import SwitchingSubsampledGaussian
from cropcalc.errors import AccuracyError, MissingExtraError

FloatArray = npt.NDArray[np.float64]

INSTALL_HINT = "pip install 'cropcalc[pld]'"
"""How to install what this accountant needs; quoted in :class:`MissingExtraError`."""

# Share of δ allowed for each error term (tail beyond the single-step grid, window
# truncation, floating point).
_MAX_STEPS = 10**7
_ERROR_SHARE = 1e-3
# Largest grid (single step or composed window) dp-accounting is asked to handle: its
# FFT is complex, 16 bytes a point, so 2^22 points keep a run under a few hundred MB.
_MAX_GRID = 1 << 22
# The optimistic (lower-bound) grid is capped lower: a looser lower bound is cheaper
# than seconds of FFT for a number nobody quotes.
_MAX_LOWER_GRID = 1 << 20
_PASSES = 3
_UNIT_ROUNDOFF = float(np.finfo(np.float64).eps)


def pld_epsilon(phases: Sequence[Phase], delta: float, accuracy: float = 0.01) -> EpsilonBounds:
    """Upper bound on ε(δ) of ``phases`` by PLD accounting of the switching pair.

    Raises:
        MissingExtraError: dp-accounting is not installed.
        AccuracyError: the grid this accuracy needs is too large, δ is below the
            floating-point error, or the discretisation error does not shrink as expected.
    """
    steps = sum(p.steps for p in phases)
    if steps > _MAX_STEPS:
        # dp-accounting composes small (sparse) PLDs by squaring dictionaries whose
        # size grows with the steps: 10¹¹ steps ran for hours.
        raise AccuracyError(
            f"the pld accountant composes at most {_MAX_STEPS:.0e} steps in reasonable "
            f"time, not {steps}; use --accountant prv or rdp",
            field="steps",
        )
    run = _Run(
        dp=_DpAccounting.load(),
        phases=tuple(phases),
        tail=_ERROR_SHARE * delta / steps,
        truncation=_ERROR_SHARE * delta / len(phases),
    )

    spacing = math.sqrt(accuracy / (4.0 * steps))
    upper = error = math.nan
    for _ in range(_PASSES):
        try:
            fine = run.compose(spacing, pessimistic=True)
            coarse = run.compose(2.0 * spacing, pessimistic=True)
        except _GridTooLarge as too_large:
            # A large ε spreads the loss far; its tolerance is large too, so a coarser
            # grid may do. Never go coarser after a pass has succeeded.
            # Beyond a unit of loss per grid point ε is meaningless (and e^Δ overflows).
            if math.isfinite(upper) or not spacing < too_large.spacing_needed <= 1.0:
                raise
            spacing = too_large.spacing_needed
            continue
        _check_rounding(fine, delta)
        upper = fine.upper_epsilon(delta)
        error = max(coarse.upper_epsilon(delta) - upper, 0.0) / 3.0
        tolerance = accuracy * max(1.0, upper)
        if error <= tolerance / 2.0:
            break
        spacing *= min(0.5, 0.9 * math.sqrt(tolerance / (4.0 * error)))
    else:
        if not math.isfinite(upper):
            raise _GridTooLarge(_MAX_GRID + 1, spacing)
        raise AccuracyError(
            f"the pld accountant's discretisation error did not fall below "
            f"{accuracy:g}·max(1, ε) (ε ≤ {upper:.6g}, estimated error {error:.3g}); "
            "pass a larger --accuracy or use --accountant prv",
            field="accuracy",
        )
    lower = min(run.lower_epsilon(delta, tolerance, fine.span), upper)
    estimate = min(max(upper - error, lower), upper)
    return EpsilonBounds(
        epsilon=upper,
        epsilon_lower=lower,
        epsilon_estimate=estimate,
        delta=delta,
        grid_spacing=spacing,
        accountant=Accountant.PLD,
    )


@dataclass(frozen=True)
class _DpAccounting:
    """The parts of dp-accounting this module uses, imported on first use."""

    pld_pmf: Any
    distribution: Any
    mechanism: Any
    common: Any

    @classmethod
    def load(cls) -> _DpAccounting:
        try:
            from dp_accounting.pld import (
                common,
                pld_pmf,
                privacy_loss_distribution,
                privacy_loss_mechanism,
            )
        except ImportError as missing:
            raise MissingExtraError(
                f"the pld accountant needs dp-accounting, which is not installed: {INSTALL_HINT}",
                field="accountant",
            ) from missing
        return cls(pld_pmf, privacy_loss_distribution, privacy_loss_mechanism, common)

    def pessimistic(self, rate: float, sigma: float, spacing: float, tail: float) -> Any:
        """Connect-the-dots PMF of the switching pair (an upper bound)."""
        k_lo, k_hi = _grid(rate, sigma, spacing, tail)
        deltas = self._hockey_stick(rate, sigma, spacing, k_lo, k_hi)
        return self.pld_pmf.create_pmf_pessimistic_connect_dots_fixed_gap(
            spacing, k_lo, k_hi, deltas
        )

    def optimistic(self, rate: float, sigma: float, spacing: float, tail: float) -> Any:
        """Rounded-down PMF of the switching pair (a lower bound), mass below the grid dropped."""
        prv = SwitchingSubsampledGaussian(rate, sigma)
        k_lo, k_hi = _grid(rate, sigma, spacing, tail)
        nodes = np.arange(k_lo, k_hi + 1, dtype=np.float64) * spacing
        masses, _ = prv.interval_masses(np.concatenate((nodes, [np.inf])))
        masses[-k_lo] += prv.atom  # node 0 is an edge, so the atom sits exactly there
        return self.pld_pmf.DensePLDPmf(spacing, k_lo, masses, 0.0, False)

    def _hockey_stick(
        self, rate: float, sigma: float, spacing: float, k_lo: int, k_hi: int
    ) -> FloatArray:
        """``δ_S(k·Δ)`` for ``k_lo ≤ k ≤ k_hi`` (module docstring)."""
        remove = self.mechanism.GaussianPrivacyLoss(
            sigma,
            sensitivity=1.0,
            sampling_prob=rate,
            adjacency_type=self.mechanism.AdjacencyType.REMOVE,
        )
        reach = max(-k_lo, k_hi)
        positive = np.asarray(
            remove.get_delta_for_epsilon(np.arange(reach + 1, dtype=np.float64) * spacing),
            dtype=np.float64,
        )
        k = np.arange(k_lo, k_hi + 1)
        eps = k * spacing
        with np.errstate(over="ignore", invalid="ignore"):  # only k < 0 is kept
            mirrored = -np.expm1(eps) + np.exp(eps) * positive[np.abs(k)]
        deltas: FloatArray = np.clip(np.where(k >= 0, positive[np.abs(k)], mirrored), 0.0, 1.0)
        return deltas


@dataclass(frozen=True)
class _Composed:
    """A composed dp-accounting PLD and the error terms to read it with."""

    distribution: Any
    rounding: float
    """Bound on the FFT's floating-point error in δ."""
    truncation: float
    """Mass the optimistic reading may have gained from window truncation."""
    span: float
    """Loss range of the largest composed window."""

    def upper_epsilon(self, delta: float) -> float:
        eps = float(self.distribution.get_epsilon_for_delta(delta - self.rounding))
        if not math.isfinite(eps):
            raise AccuracyError(
                f"δ = {delta:g} is below the mass the pld accountant cannot resolve; "
                "increase --delta",
                field="delta",
            )
        return eps

    def lower_epsilon(self, delta: float) -> float:
        allowance = self.rounding + self.truncation
        eps = float(self.distribution.get_epsilon_for_delta(delta + allowance))
        return max(eps, 0.0) if math.isfinite(eps) else 0.0


def _grid(rate: float, sigma: float, spacing: float, tail: float) -> tuple[int, int]:
    """Grid range ``[k_lo, k_hi]`` holding all but ``tail`` of the single-step mass each side."""
    t_lo, t_hi = SwitchingSubsampledGaussian(rate, sigma).loss_quantiles(tail)
    k_lo, k_hi = math.floor(t_lo / spacing), math.ceil(t_hi / spacing)
    if k_hi - k_lo + 1 > _MAX_GRID:
        raise _GridTooLarge(k_hi - k_lo + 1, spacing)
    return k_lo, k_hi


class _GridTooLarge(AccuracyError):
    """The grid a discretisation needs exceeds :data:`_MAX_GRID` points."""

    def __init__(self, points: int, spacing: float) -> None:
        super().__init__(
            f"the pld accountant would need a grid of {points:.3g} points (spacing "
            f"{spacing:.3g}), more than {_MAX_GRID}; pass a larger --accuracy "
            "or use --accountant prv or rdp",
            field="accuracy",
        )
        self.spacing_needed = 1.25 * points * spacing / _MAX_GRID
        """The spacing at which the grid would fit, with a margin."""


@dataclass(frozen=True)
class _Run:
    """The phases to compose, dp-accounting, and the mass budgets of the grids."""

    dp: _DpAccounting
    phases: tuple[Phase, ...]
    tail: float
    """Single-step mass allowed beyond the grid, on each side."""
    truncation: float
    """Mass each composition may truncate from its window."""

    def compose(self, spacing: float, *, pessimistic: bool) -> _Composed:
        """Discretise every phase and compose them all with dp-accounting."""
        build = self.dp.pessimistic if pessimistic else self.dp.optimistic
        total: Any = None
        rounding = 0.0
        span = 0.0
        for phase in self.phases:
            pmf = build(phase.rate, phase.noise_multiplier / 2.0, spacing, self.tail)
            probs = _dense_masses(pmf)
            window = _window(probs, phase.steps, self.truncation)
            size = int(fft.next_fast_len(max(window, len(probs))))
            if size > _MAX_GRID:
                raise _GridTooLarge(size, spacing)
            rounding += _fft_error(probs, phase.steps, size)
            span = max(span, size * spacing)
            composed = self.dp.distribution.PrivacyLossDistribution(pmf).self_compose(
                phase.steps, tail_mass_truncation=self.truncation
            )
            total = composed if total is None else total.compose(composed, self.truncation)
        # Optimistic readings: each self-composition counts its truncation at +∞ and may
        # alias as much again into the window; each cross-phase composition truncates once.
        return _Composed(total, rounding, 3.0 * self.truncation * len(self.phases), span)

    def lower_epsilon(self, delta: float, tolerance: float, span: float) -> float:
        """dp-accounting's optimistic ε on the finest affordable grid (0.0 if none fits)."""
        steps = sum(p.steps for p in self.phases)
        widest = span
        for phase in self.phases:
            t_lo, t_hi = SwitchingSubsampledGaussian(
                phase.rate, phase.noise_multiplier / 2.0
            ).loss_quantiles(self.tail)
            widest = max(widest, t_hi - t_lo)
        spacing = max(tolerance / steps, 1.25 * widest / _MAX_LOWER_GRID)
        for _ in range(4):
            try:
                composed = self.compose(spacing, pessimistic=False)
            except _GridTooLarge:
                spacing *= 2.0
                continue
            return composed.lower_epsilon(delta)
        return 0.0


def _check_rounding(composed: _Composed, delta: float) -> None:
    if composed.rounding > 10.0 * _ERROR_SHARE * delta:
        raise AccuracyError(
            f"floating-point error ({composed.rounding:.2g}) of the pld accountant is too "
            f"large for δ = {delta:g}; increase --delta or reduce the number of steps",
            field="delta",
        )


def _window(probs: FloatArray, steps: int, truncation: float) -> int:
    """Upper bound on the window dp-accounting's ``self_compose`` will compute.

    dp-accounting takes the best Chernoff bound over 40 orders (its
    ``compute_self_convolve_bounds``); any subset of those orders gives a window at
    least as wide, and six of them cost far less.
    """
    n = len(probs)
    index = np.arange(n, dtype=np.float64)
    upper, lower = float((n - 1) * steps), 0.0
    log_tail = math.log(2.0 / truncation)
    with np.errstate(divide="ignore"):
        log_probs = np.log(probs)
    for order in (1.0 / n, 4.0 / n, 20.0 / n):
        for sign in (1.0, -1.0):
            log_mgf = float(special.logsumexp(log_probs + sign * order * index))
            bound = (steps * log_mgf + log_tail) / (sign * order)
            if sign > 0:
                upper = min(upper, bound)
            else:
                lower = max(lower, bound)
    return math.ceil(upper) - math.floor(lower) + 1


def _dense_masses(pmf: Any) -> FloatArray:
    """The masses of a dp-accounting PMF on its grid, lowest loss first.

    dp-accounting has no public accessor for them; ``DensePLDPmf`` keeps them in
    ``_probs`` (dp-accounting 0.4 to 0.6). They only size the composed window and the
    FFT error bound; the composition itself is dp-accounting's.
    """
    masses: FloatArray = np.asarray(pmf.to_dense_pmf()._probs, dtype=np.float64)
    return masses


def _fft_error(probs: FloatArray, steps: int, size: int) -> float:
    """Floating-point error bound of ``steps``-fold FFT self-convolution at length ``size``.

    ``2·(T(log₂n + 1) + log₂n)·u·√n·‖f_T‖₂`` (see :mod:`cropcalc.accounting.compose`),
    with the 2-norm of the circular composition from Parseval:
    ``‖f_T‖₂² = Σ_k |F_k|^{2T} / n``.
    """
    spectrum = np.abs(fft.rfft(probs, size))
    with np.errstate(divide="ignore", under="ignore"):
        powered = np.exp(2.0 * steps * np.log(spectrum))
    # rfft holds half the spectrum: count every bin but the first (and the Nyquist) twice.
    weights = np.full(len(powered), 2.0)
    weights[0] = 1.0
    if size % 2 == 0:
        weights[-1] = 1.0
    norm = math.sqrt(float(np.dot(weights, powered)) / size)
    log_size = math.log2(size)
    return 2.0 * (steps * (log_size + 1.0) + log_size) * _UNIT_ROUNDOFF * math.sqrt(size) * norm
