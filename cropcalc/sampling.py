"""Batch samplers, and what each one lets the accountant compose.

How batches are drawn decides how much amplification sampling gives (accounting
spec, section 4, "How tight this is depends on the batch sampler"):

* ``poisson`` — each image enters each step independently with probability ``q``
  (Opacus' ``DPDataLoader``). The switching pair at rate ``w = q·p`` per step is a
  valid upper bound, not a tight one: a skipped image adds exactly nothing, which an
  adversary cannot move.
* ``fixed`` — fixed-size batches drawn without replacement each step, ``q = B/N``.
  The same pair, and tight: an adversary can give every other image the gradient
  the substituted content would have.
* ``shuffle`` — a random permutation per epoch cut into disjoint batches (PyTorch's
  ``DataLoader(shuffle=True)``). No sampling amplification: the image appears once
  per epoch, its crop includes the patch with probability ``p``, so the pair at rate
  ``p`` is composed over the epochs, and the baseline is the plain Gaussian
  mechanism (rate 1) per epoch. Quoting Poisson numbers for such a loader is the
  classic mistake this module exists to prevent.

This module is pure: no printing, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from cropcalc.errors import InputError


class Sampler(StrEnum):
    """How the training loop draws its batches."""

    POISSON = "poisson"
    FIXED = "fixed"
    SHUFFLE = "shuffle"

    @property
    def tight(self) -> bool:
        """Whether the accounted pair is tight for this sampler (else an upper bound)."""
        return self is Sampler.FIXED


@dataclass(frozen=True)
class Schedule:
    """What the accountant composes for one run under one sampler.

    ``count`` mechanisms (one per ``unit``: a step or an epoch), each the switching
    pair at ``amplified_rate`` (with the crop) or ``baseline_rate`` (without it).
    """

    sampler: Sampler
    count: int
    unit: str
    amplified_rate: float
    baseline_rate: float


def schedule(
    sampler: Sampler,
    *,
    sampling_rate: float,
    inclusion_probability: float,
    steps: int,
    steps_per_epoch: int | None,
    epochs: int | None,
) -> Schedule:
    """The compositions of a run of ``steps`` steps under ``sampler``.

    For ``shuffle`` the number of epochs is ``epochs`` when given, else
    ``ceil(steps / steps_per_epoch)``: a last, partial epoch still shows the image
    once (or not at all), and counting it whole never under-counts.

    Raises:
        InputError: ``shuffle`` without a way to know the epochs.
    """
    if sampler is not Sampler.SHUFFLE:
        return Schedule(
            sampler, steps, "step", sampling_rate * inclusion_probability, sampling_rate
        )
    if epochs is None:
        if steps_per_epoch is None:
            raise InputError(
                "shuffle accounts per epoch, so it needs the number of epochs: give "
                "--batch-size and --dataset-size (with --epochs or --steps)",
                field="sampler",
            )
        epochs = math.ceil(steps / steps_per_epoch)
    return Schedule(sampler, epochs, "epoch", inclusion_probability, 1.0)
