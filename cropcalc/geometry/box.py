r"""Rectangular patches: the closed form, one count per axis.

A crop ``(i, j)`` shows the original rectangle ``rows_i x cols_j``, so it meets a
box ``[y, y + h) x [x, x + w)`` exactly when its row extent meets ``[y, y + h)`` and
its column extent meets ``[x, x + w)``: the count of including offsets is a row count
times a column count (``docs/accounting.md`` §3), and the worst case maximises each
factor on its own. Cost: linear in the padded lengths, for every placement at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cropcalc.errors import InputError
from cropcalc.geometry._values import placement, positive_pair
from cropcalc.geometry.result import InclusionResult

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from cropcalc.geometry.crop import CropGeometry

__all__ = ["box_inclusion", "box_inclusion_counts"]


def box_inclusion_counts(
    geometry: CropGeometry, size: tuple[int, int], name: str = "patch"
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row and column counts of including offsets for every box placement.

    Args:
        geometry: Image, crop and padding.
        size: ``(h, w)`` of the box.
        name: The input the size came from, for the error.

    Returns:
        ``(rows, cols)`` of lengths ``H - h + 1`` and ``W - w + 1``: the box with
        top-left ``(y, x)`` is included by ``rows[y] * cols[x]`` crop offsets.

    Raises:
        InputError: The box is larger than the image (``field=name``).
    """
    patch_h, patch_w = size
    height, width = geometry.image
    if patch_h > height or patch_w > width:
        raise InputError(
            f"patch {patch_h}x{patch_w} is larger than the image {height}x{width}; "
            "give a patch no larger than the image",
            field=name,
        )
    row_axis, col_axis = geometry.axes()
    return row_axis.hit_counts(patch_h), col_axis.hit_counts(patch_w)


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
    import numpy as np

    size = positive_pair(patch, "patch", "patch size")
    row_counts, col_counts = box_inclusion_counts(geometry, size)
    if at is None:
        # The axes are independent, so the product is maximised by maximising each
        # factor; argmax returns the first maximum, i.e. the smallest y and x. Every
        # axis has a window showing image content, so both maxima are positive and
        # no smaller placement ties through a zero factor.
        y, x = int(np.argmax(row_counts)), int(np.argmax(col_counts))
        ties = int(np.count_nonzero(row_counts == row_counts[y])) * int(
            np.count_nonzero(col_counts == col_counts[x])
        )
    else:
        y, x = placement(at, size, geometry.image)
        ties = 1
    rows, cols = geometry.axes()
    numerator = int(row_counts[y]) * int(col_counts[x])
    denominator = rows.positions * cols.positions
    return InclusionResult(
        probability=numerator / denominator,
        numerator=numerator,
        denominator=denominator,
        placement=(y, x),
        worst_case=at is None,
        padded_size=(rows.padded_length, cols.padded_length),
        crop_positions=denominator,
        ties=ties,
        patch_size=size,
    )
