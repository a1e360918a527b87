"""``p`` for any patch shape: the one entry point the commands call.

:func:`inclusion` validates the shape against the image, picks the per-axis closed
form for a box and the exact mask algorithm (:mod:`cropcalc.geometry.mask`) for
everything else, applies the augmentation multiplicity and, on request, keeps the
count of every admissible placement (the map). Both paths count the same thing, so
a box given as a full mask gives the identical result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cropcalc.geometry._values import placement, positive_pair
from cropcalc.geometry.box import box_inclusion_counts
from cropcalc.geometry.crop import CropGeometry
from cropcalc.geometry.mask import mask_count_blocks
from cropcalc.geometry.result import InclusionResult, augmented_counts, check_augmult
from cropcalc.geometry.shapes import PatchShape, ShapeKind

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np
    from numpy.typing import NDArray

    Counts = NDArray[np.signedinteger[Any]]

__all__ = ["InclusionRequest", "box_inclusion", "inclusion"]


def box_inclusion(
    geometry: CropGeometry, patch: tuple[int, int], at: tuple[int, int] | None = None
) -> InclusionResult:
    r"""Probability that one random crop includes a rectangular patch.

    The count of including offsets factorises into a row count times a column count
    (module docstring). With constant padding a row count is the closed form of
    ``docs/accounting.md`` §3, :math:`\max(0, \min(L-c, a+k-1) - \max(0, a-c+1) + 1)`
    in padded coordinates; with the other modes it also counts windows that only see
    a copy of the patch in the padding.

    Args:
        geometry: Image, crop and padding.
        patch: ``(height, width)`` of the patch.
        at: Top-left ``(y, x)`` of the patch in original image coordinates, when the
            location is known. ``None`` takes the worst case over every placement
            that lies fully inside the original image.

    Returns:
        The probability with its exact counts and the placement it refers to.

    Raises:
        InputError: The patch is not a positive size or is larger than the image
            (``field="patch"``), or ``at`` does not put the patch fully inside the
            image (``field="patch_at"``).
    """
    return inclusion(geometry, PatchShape.box(*positive_pair(patch, "patch", "patch size")), at)


def inclusion(
    geometry: CropGeometry,
    patch: PatchShape | tuple[int, int],
    at: tuple[int, int] | None = None,
    augmult: int = 1,
    *,
    with_map: bool = False,
) -> InclusionResult:
    """Probability that a random crop (any of ``augmult`` crops) includes the patch.

    Exact for every shape and padding mode: ``p`` is a ratio of integer counts.

    Args:
        geometry: Image, crop and padding.
        patch: The shape, or ``(height, width)`` for a box.
        at: Top-left ``(y, x)`` of the shape's bounding box in image coordinates when
            the location is known (for a located shape, its own location is
            ``patch.origin``). ``None`` takes the worst case over every placement
            whose bounding box lies inside the image.
        augmult: ``K`` independent crops of the image per step;
            ``p_K = 1 - (1 - p)^K``.
        with_map: Also keep the count of every placement (``result.counts``, shape
            ``(H - h + 1, W - w + 1)``), for a heatmap or ``--map-out``. It costs
            memory of that size; without it the worst case streams over blocks.

    Returns:
        The result, with the worst placement (the first in row-major order) and the
        number of placements that tie with it.

    Raises:
        InputError: The shape does not fit the image (the shape's ``field``), ``at``
            puts it outside the image (``field="patch_at"``), or ``augmult`` is not
            an integer from 1 to :data:`~cropcalc.geometry.result.MAX_AUGMULT`
            (``field="augmult"``).
    """
    import numpy as np

    if not isinstance(patch, PatchShape):
        patch = PatchShape.box(*positive_pair(patch, "patch", "patch size"))
    multiplicity = check_augmult(augmult)
    patch.check_fits(geometry.image)
    known = None if at is None else placement(at, patch.size, geometry.image)
    rows, cols = geometry.axes()
    height, width = geometry.image
    last = (height - patch.size[0], width - patch.size[1])

    counts: Counts | None = None
    if patch.kind is ShapeKind.BOX:
        row_counts, col_counts = box_inclusion_counts(geometry, patch.size, patch.field)
        if with_map:
            counts = np.multiply.outer(row_counts, col_counts)
        if known is None:
            y, x = int(np.argmax(row_counts)), int(np.argmax(col_counts))
            ties = int(np.count_nonzero(row_counts == row_counts[y])) * int(
                np.count_nonzero(col_counts == col_counts[x])
            )
        else:
            (y, x), ties = known, 1
        numerator = int(row_counts[y]) * int(col_counts[x])
    elif known is not None and not with_map:
        (y, x), ties = known, 1
        ((_, block),) = mask_count_blocks(patch.mask(), rows, cols, (y, y), (x, x))
        numerator = int(block[0, 0])
    else:
        blocks = mask_count_blocks(patch.mask(), rows, cols, (0, last[0]), (0, last[1]))
        if with_map:
            # Counts never exceed the number of crop offsets.
            small = rows.positions * cols.positions < 2**31
            counts = np.empty((last[0] + 1, last[1] + 1), dtype=np.int32 if small else np.int64)
        numerator, (y, x), ties = _worst(blocks, counts)
        if known is not None and counts is not None:
            (y, x), ties = known, 1
            numerator = int(counts[y, x])

    denominator = rows.positions * cols.positions
    top, bottom = augmented_counts(numerator, denominator, multiplicity)
    return InclusionResult(
        probability=top / bottom,
        numerator=numerator,
        denominator=denominator,
        placement=(y, x),
        worst_case=known is None,
        padded_size=(rows.padded_length, cols.padded_length),
        crop_positions=denominator,
        augmult=multiplicity,
        ties=ties,
        counts=counts,
    )


def _worst(
    blocks: Iterator[tuple[int, Counts]], counts: Counts | None
) -> tuple[int, tuple[int, int], int]:
    """Maximum, its first placement (row-major) and its ties; fills ``counts`` if given."""
    import numpy as np

    numerator, where, ties = -1, (0, 0), 0
    for start, block in blocks:
        if counts is not None:
            counts[start : start + block.shape[0]] = block
        best = int(block.max())
        if best > numerator:
            flat = int(np.argmax(block))
            numerator, ties = best, 0
            where = (start + flat // block.shape[1], flat % block.shape[1])
        if best == numerator:
            ties += int(np.count_nonzero(block == best))
    return numerator, where, ties


@dataclass(frozen=True)
class InclusionRequest:
    """The geometry half of a calculation: where the patch can be, and how crops fall.

    ``patch_at`` is the top-left of the patch's bounding box in the image when its
    location is known (see :meth:`PatchShape.placement`), None for the worst case;
    ``augmult`` the number of independent crops per image and step.
    """

    geometry: CropGeometry
    patch: PatchShape
    patch_at: tuple[int, int] | None = None
    augmult: int = 1

    def compute(self, *, with_map: bool = False) -> InclusionResult:
        """The inclusion probability (and, with ``with_map``, every placement's)."""
        return inclusion(self.geometry, self.patch, self.patch_at, self.augmult, with_map=with_map)
