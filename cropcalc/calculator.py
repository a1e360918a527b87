"""The ``cropcalc epsilon`` calculation: resolve the inputs, then compute ``p``, ``w`` and ε.

:func:`resolve_epsilon_request` turns the user's inputs (a sampling rate *or* a batch
and dataset size, a number of steps *or* of epochs) into one validated
:class:`EpsilonRequest`; :func:`compute_epsilon_report` computes the patch inclusion
probability ``p`` (:mod:`cropcalc.geometry`), the effective per-step rate
``w = q·p``, and ε at δ with and without crop amplification
(:mod:`cropcalc.accounting`, section 4 of the accounting specification).

Guarantees: this module never prints and imports no command-line or rendering code.
Every invalid or inconsistent input raises :class:`~cropcalc.errors.InputError` whose
``field`` is the parameter name (``sampling_rate``), which the CLI turns into its flag;
the accountant's :class:`~cropcalc.errors.AccuracyError` passes through unchanged.
Every :class:`EpsilonRequest` that exists is valid and self-consistent: its echoed
batch size, dataset size and epochs explain its sampling rate and steps exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cropcalc.accounting import Accountant, EpsilonBounds, Phase, compute_epsilon
from cropcalc.accounting.accountants import MAX_ACCURACY
from cropcalc.errors import InputError
from cropcalc.geometry import CropGeometry, InclusionRequest, InclusionResult, PatchShape
from cropcalc.sampling import Sampler, Schedule, schedule

DEFAULT_DELTA = 1e-5
"""δ when none is given: below 1/N for every dataset of fewer than 100 000 images."""

DEFAULT_ACCURACY = 0.01
"""Default tolerance: the quoted upper bound is within max(0.01, 1 %) of the true ε."""


def steps_per_epoch(batch_size: int, dataset_size: int) -> int:
    """``ceil(N / B)``: the batches per epoch of a PyTorch ``DataLoader`` without ``drop_last``.

    It is never fewer than Opacus' ``int(N / B)`` expected batches per epoch, so the
    steps it implies never under-count the training run.
    """
    return -(-dataset_size // batch_size)


@dataclass(frozen=True)
class EpsilonRequest:
    """Every input of one ε calculation, resolved and validated.

    ``sampling_rate`` (q) and ``steps`` (T) are what the accountant uses. When they
    were derived, ``batch_size`` and ``dataset_size`` (q = B/N) and ``epochs``
    (T = epochs · ceil(N/B)) echo what they were derived from; otherwise those are None
    (``dataset_size`` may also be given alone, to check δ against 1/N).
    ``patch_at`` is the known top-left corner of the patch, or None for the worst case.
    """

    geometry: CropGeometry
    patch: PatchShape
    patch_at: tuple[int, int] | None
    noise_multiplier: float
    sampling_rate: float
    steps: int
    delta: float = DEFAULT_DELTA
    accuracy: float = DEFAULT_ACCURACY
    batch_size: int | None = None
    dataset_size: int | None = None
    epochs: int | None = None
    sampler: Sampler = Sampler.POISSON
    augmult: int = 1
    accountant: Accountant = Accountant.PRV

    @property
    def inclusion_request(self) -> InclusionRequest:
        """The geometry half of this request."""
        return InclusionRequest(self.geometry, self.patch, self.patch_at, self.augmult)

    @property
    def steps_per_epoch(self) -> int | None:
        """``ceil(N/B)`` when the batch and dataset size are known."""
        if self.batch_size is None or self.dataset_size is None:
            return None
        return steps_per_epoch(self.batch_size, self.dataset_size)

    def schedule(self, inclusion_probability: float) -> Schedule:
        """What the accountant composes for this request's sampler."""
        return schedule(
            self.sampler,
            sampling_rate=self.sampling_rate,
            inclusion_probability=inclusion_probability,
            steps=self.steps,
            steps_per_epoch=self.steps_per_epoch,
            epochs=self.epochs,
        )

    def __post_init__(self) -> None:
        _check_count(self.steps, "steps")
        _check_count(self.dataset_size, "dataset_size")
        _check_sampling_rate(self.sampling_rate)
        if self.batch_size is not None:
            derived = _rate_from_batch(self.batch_size, self.dataset_size)
            if self.sampling_rate != derived:
                raise InputError(
                    f"the sampling rate {self.sampling_rate} is not B/N = {derived}",
                    field="sampling_rate",
                )
        if self.epochs is not None:
            derived_steps = _steps_from_epochs(self.epochs, self.batch_size, self.dataset_size)
            if self.steps != derived_steps:
                raise InputError(
                    f"{self.steps} steps are not {self.epochs} epochs, {derived_steps} steps",
                    field="steps",
                )
        _check_positive_finite(self.noise_multiplier, "noise_multiplier")
        if not 0 < self.delta < 1:
            raise InputError(f"δ must lie in (0, 1); got {self.delta}", field="delta")
        if not 0 < self.accuracy <= MAX_ACCURACY:
            raise InputError(
                f"the accuracy must lie in (0, {MAX_ACCURACY}]; got {self.accuracy}",
                field="accuracy",
            )
        self.schedule(1.0)  # a sampler that cannot be accounted is an input error


@dataclass(frozen=True)
class EpsilonReport:
    """The answer to an :class:`EpsilonRequest`.

    ``amplified`` is ε with crop amplification, ``baseline`` the same pair without it,
    both composed as ``schedule`` says (per step at rates ``q·p`` and ``q``, or per
    epoch at ``p`` and 1 for a shuffling loader); in each, ``epsilon`` is the
    certified upper bound, the number that may be quoted. ``improvement`` is
    ``baseline.epsilon / amplified.epsilon`` (None if the amplified ε is 0).
    ``warnings`` are advice about the inputs, one sentence each.
    """

    request: EpsilonRequest
    inclusion: InclusionResult
    effective_sampling_rate: float
    schedule: Schedule
    amplified: EpsilonBounds
    baseline: EpsilonBounds
    improvement: float | None
    warnings: tuple[str, ...] = ()


def resolve_epsilon_request(
    *,
    geometry: CropGeometry,
    patch: PatchShape | tuple[int, int],
    patch_at: tuple[int, int] | None = None,
    noise_multiplier: float,
    sampling_rate: float | None = None,
    batch_size: int | None = None,
    dataset_size: int | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    delta: float = DEFAULT_DELTA,
    accuracy: float = DEFAULT_ACCURACY,
    sampler: Sampler = Sampler.POISSON,
    augmult: int = 1,
    accountant: Accountant = Accountant.PRV,
) -> EpsilonRequest:
    """Derive q and T from the inputs given, and validate everything.

    The sampling rate comes from exactly one of ``sampling_rate`` or
    ``batch_size / dataset_size``; the length from exactly one of ``steps`` or
    ``epochs`` (which needs the batch and dataset size: ``ceil(N/B)`` steps per epoch,
    see :func:`steps_per_epoch`).

    Raises:
        InputError: an input is missing, out of range, or given two ways.
    """
    if batch_size is None:
        if sampling_rate is None:
            raise InputError(
                "missing: give a sampling rate q, or a batch size and a dataset size (q = B/N)",
                field="sampling_rate",
            )
    elif sampling_rate is not None:
        raise InputError(
            "give the sampling rate one way: a rate q, or a batch size and a dataset size "
            "(q = B/N), not both",
            field="sampling_rate",
        )
    else:
        sampling_rate = _rate_from_batch(batch_size, dataset_size)
    if epochs is None:
        if steps is None:
            raise InputError(
                "missing: give a number of steps, or of epochs with a batch size and a "
                "dataset size",
                field="steps",
            )
    elif steps is not None:
        raise InputError("give a number of steps or of epochs, not both", field="steps")
    else:
        steps = _steps_from_epochs(epochs, batch_size, dataset_size)
    if not isinstance(patch, PatchShape):
        patch = PatchShape.box(*patch)
    return EpsilonRequest(
        geometry=geometry,
        patch=patch,
        patch_at=patch.placement(patch_at),
        noise_multiplier=noise_multiplier,
        sampling_rate=sampling_rate,
        steps=steps,
        delta=delta,
        accuracy=accuracy,
        batch_size=batch_size,
        dataset_size=dataset_size,
        epochs=epochs,
        sampler=sampler,
        augmult=augmult,
        accountant=accountant,
    )


def compute_epsilon_report(request: EpsilonRequest) -> EpsilonReport:
    """Inclusion probability, effective rate and ε with and without crop amplification.

    Both ε are of the same switching pair (accounting spec, section 4) with
    noise-to-sensitivity ratio ``z/2``, composed as the sampler's schedule says:
    per step at rate ``w = q·p`` (amplified) and ``q`` (baseline), or, for a
    shuffling loader, per epoch at ``p`` and 1. When the two rates coincide the
    accountant runs once.

    Raises:
        InputError: the patch does not fit the image or ``patch_at`` lies outside it.
        AccuracyError: the accountant cannot certify ε to ``request.accuracy``.
    """
    included = request.inclusion_request.compute()
    # p > 0 always: the crop windows cover the padded image, so some crop touches
    # every pixel of the patch. w can only vanish by underflow of q·p, which the
    # accountant rejects as a sampling rate outside (0, 1].
    plan = request.schedule(included.probability)
    baseline = _epsilon(request, plan.baseline_rate, plan.count)
    amplified = (
        baseline
        if plan.amplified_rate == plan.baseline_rate
        else _epsilon(request, plan.amplified_rate, plan.count)
    )
    return EpsilonReport(
        request=request,
        inclusion=included,
        effective_sampling_rate=plan.amplified_rate,
        schedule=plan,
        amplified=amplified,
        baseline=baseline,
        improvement=baseline.epsilon / amplified.epsilon if amplified.epsilon > 0 else None,
        warnings=_warnings(request),
    )


def _epsilon(request: EpsilonRequest, rate: float, count: int) -> EpsilonBounds:
    phase = Phase(noise_multiplier=request.noise_multiplier, rate=rate, steps=count)
    return compute_epsilon([phase], request.delta, request.accuracy, accountant=request.accountant)


def _warnings(request: EpsilonRequest) -> tuple[str, ...]:
    size = request.dataset_size
    if size is not None and request.delta >= 1 / size:
        return (
            f"δ = {request.delta:g} is not below 1/N = {1 / size:g} (N = {size} images): "
            "a mechanism that publishes one record in the clear with probability δ "
            "meets such a guarantee; choose δ well below 1/N",
        )
    return ()


def _rate_from_batch(batch_size: int, dataset_size: int | None) -> float:
    _check_count(batch_size, "batch_size")
    if dataset_size is None:
        raise InputError("a batch size needs a dataset size too (q = B/N)", field="dataset_size")
    _check_count(dataset_size, "dataset_size")
    if batch_size > dataset_size:
        raise InputError(
            f"the batch size {batch_size} exceeds the dataset size {dataset_size}; "
            "q = B/N must be at most 1",
            field="batch_size",
        )
    return batch_size / dataset_size


def _steps_from_epochs(epochs: int, batch_size: int | None, dataset_size: int | None) -> int:
    _check_count(epochs, "epochs")
    if batch_size is None or dataset_size is None:
        raise InputError(
            "epochs need a batch size and a dataset size to count the steps (ceil(N/B) per epoch)",
            field="epochs",
        )
    _check_count(batch_size, "batch_size")
    _check_count(dataset_size, "dataset_size")
    return epochs * steps_per_epoch(batch_size, dataset_size)


def _check_count(value: int | None, field: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"must be a whole number; got {value!r}", field=field)
    if value < 1:
        raise InputError(f"must be at least 1; got {value}", field=field)


def _check_sampling_rate(rate: float) -> None:
    if not (math.isfinite(rate) and 0 < rate <= 1):
        raise InputError(
            f"the sampling rate q must lie in (0, 1]; got {rate}", field="sampling_rate"
        )


def _check_positive_finite(value: float, field: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"must be a finite number above 0; got {value}", field=field)
