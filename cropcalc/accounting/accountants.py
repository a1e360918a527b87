"""The accountants that can turn a DP-SGD schedule into (ε, δ), and what each guarantees.

All three account for the same single-step pair, the patch-level *switching* pair of
the Poisson-subsampled Gaussian (accounting spec, section 4); they differ in how they
compose it and in how close their bound is to the truth:

* ``prv`` — the default. cropcalc's own certified PRV accountant
  (:mod:`cropcalc.accounting.epsilon`): an upper bound, a certified lower bound, and
  a bracket narrowed to the requested accuracy.
* ``pld`` — privacy-loss-distribution accounting with Google's dp-accounting (an
  optional extra, ``pip install 'cropcalc[pld]'``): pessimistic connect-the-dots, so
  an upper bound, independent of cropcalc's own discretisation and FFT
  (:mod:`cropcalc.accounting.pld`).
* ``rdp`` — Rényi accounting with the tight RDP-to-(ε, δ) conversion: always valid,
  looser, no dependency beyond numpy and scipy (:mod:`cropcalc.accounting.rdp`).

This module imports nothing, so that the command line can offer the choice without
loading the numerics stack.
"""

from __future__ import annotations

from enum import StrEnum


class Accountant(StrEnum):
    """Name of the method that computes ε; the value is what the CLI and JSON show."""

    PRV = "prv"
    PLD = "pld"
    RDP = "rdp"


MAX_ACCURACY = 0.5
"""Loosest ``accuracy`` accepted: a bracket wider than half of ε says nothing."""
