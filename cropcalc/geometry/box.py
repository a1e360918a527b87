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

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from cropcalc.geometry.crop import CropGeometry

__all__ = ["box_inclusion_counts"]


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
