r"""The value object every inclusion calculation returns.

:class:`InclusionResult` keeps ``p`` as exact integer counts (one crop), the
augmentation multiplicity ``K`` and, when it was asked for, the count of including
crop offsets for every admissible placement of the patch (the map behind the
heatmap and ``--map-out``). With ``K`` independent crops of one image the patch is
included when any crop includes it (``docs/accounting.md`` §3):

.. math:: p_K = 1 - (1 - p)^K = \frac{D^K - (D - N)^K}{D^K},

a ratio of integers, so :attr:`InclusionResult.fraction` is exact and
:attr:`InclusionResult.probability` is its correctly rounded ``float``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cropcalc.errors import InputError
from cropcalc.geometry._values import is_int

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["MAX_AUGMULT", "InclusionResult", "augmented_counts", "check_augmult"]

MAX_AUGMULT = 10_000
"""Largest augmentation multiplicity accepted.

``p_K`` is computed exactly from ``D^K``, an integer of ``K · log10(D)`` digits; the
cap keeps that below a second of work. Published multiplicities are 1 to 64.
"""


def check_augmult(augmult: object) -> int:
    """The augmentation multiplicity ``K`` as a validated integer.

    Raises:
        InputError: ``augmult`` is not an integer from 1 to :data:`MAX_AUGMULT`
            (``field="augmult"``).
    """
    if not (is_int(augmult) and 1 <= augmult <= MAX_AUGMULT):
        raise InputError(
            f"augmentation multiplicity {augmult!r} is not a whole number of crops; "
            f"give an integer from 1 (one crop per image, the default) to {MAX_AUGMULT}",
            field="augmult",
        )
    return augmult


def augmented_counts(numerator: int, denominator: int, augmult: int) -> tuple[int, int]:
    """``(D^K - (D - N)^K, D^K)``: K-tuples of crop offsets including the patch, and all.

    Each of the ``K`` crops is drawn independently and uniformly, so the ``D^K``
    tuples are equally likely and the patch is missed only by the ``(D - N)^K``
    tuples whose every crop misses it.
    """
    return denominator**augmult - (denominator - numerator) ** augmult, denominator**augmult


@dataclass(frozen=True)
class InclusionResult:
    """Probability that a random crop (or any of ``K`` crops) includes the patch.

    Attributes:
        probability: ``p_K`` as a float, correctly rounded from :attr:`fraction`; the
            number to account with. Equal to ``numerator / denominator`` when
            ``augmult`` is 1.
        numerator: Number of crop offsets whose window shows at least one pixel of
            the patch (directly or as a padding copy), for *one* crop. Not reduced.
        denominator: Number of crop offsets, equal to :attr:`crop_positions`. Not
            reduced, so the two counts keep their meaning.
        placement: Top-left ``(y, x)`` of the patch's bounding box in original image
            coordinates: the given one, or a worst-case one (the smallest ``y``, then
            ``x``).
        worst_case: True when the location was unknown and ``p`` is the maximum over
            every placement inside the image.
        padded_size: ``(H', W')`` the crops are drawn from.
        crop_positions: ``(H' - th + 1)(W' - tw + 1)``.
        augmult: ``K``, the number of independent crops of the image per step.
        ties: Number of placements attaining :attr:`numerator` (1 for a known
            location); more than one means the worst case is not unique.
        counts: When a map was asked for, ``counts[y, x]`` is the one-crop numerator
            of the placement with top-left ``(y, x)``, for every placement inside the
            image, shape ``(H - h + 1, W - w + 1)``; otherwise None.
    """

    probability: float
    numerator: int
    denominator: int
    placement: tuple[int, int]
    worst_case: bool
    padded_size: tuple[int, int]
    crop_positions: int
    augmult: int = 1
    ties: int = 1
    counts: NDArray[np.signedinteger[Any]] | None = field(default=None, compare=False, repr=False)

    @property
    def fraction(self) -> Fraction:
        """``p_K`` as an exact, reduced fraction (``p`` itself when ``augmult`` is 1)."""
        return Fraction(*augmented_counts(self.numerator, self.denominator, self.augmult))

    @property
    def single_crop_fraction(self) -> Fraction:
        """``p`` of one crop, ``numerator / denominator``, exact and reduced."""
        return Fraction(self.numerator, self.denominator)

    @property
    def single_crop_probability(self) -> float:
        """``p`` of one crop as a float."""
        return self.numerator / self.denominator

    def probability_map(self) -> NDArray[np.float64]:
        """``p_K`` of every placement (floats, for pictures and ``--map-out``).

        Computed as ``-expm1(K · log1p(-p))``, which keeps small ``p_K`` accurate.

        Raises:
            ValueError: the result was computed without its map (``with_map=False``).
        """
        if self.counts is None:
            raise ValueError("this result has no map; compute it with with_map=True")
        import numpy as np

        single = self.counts / self.denominator
        if self.augmult == 1:
            return single
        with np.errstate(divide="ignore"):  # p = 1 gives log1p(-1) = -inf, p_K = 1
            augmented: NDArray[np.float64] = -np.expm1(self.augmult * np.log1p(-single))
        return augmented

    def worst_placements(self, limit: int = 16) -> list[tuple[int, int]]:
        """Up to ``limit`` placements attaining ``p``, row-major (smallest ``y``, then ``x``).

        Without a map only :attr:`placement` is known; :attr:`ties` says how many
        there are in all.
        """
        if self.counts is None or not self.worst_case:
            return [self.placement]
        import numpy as np

        found: list[tuple[int, int]] = []
        for y in range(self.counts.shape[0]):
            for x in np.flatnonzero(self.counts[y] == self.numerator)[: limit - len(found)]:
                found.append((y, int(x)))
            if len(found) >= limit:
                break
        return found
