r"""Patch inclusion probability under torchvision-style random cropping.

This module computes ``p``, the probability that one random crop contains at
least one pixel showing the sensitive patch (``docs/accounting.md`` §3), for the
crop that ``torchvision.transforms.RandomCrop(size, padding, pad_if_needed,
padding_mode)`` draws.

What it guarantees:

- **Exact counts.** ``p`` is a ratio of two integers, the number of crop offsets
  that include the patch over the number of crop offsets. Everything up to that
  ratio is integer arithmetic; the only rounding is the final division into a
  ``float``.
- **Copies in the padding count.** With ``edge``, ``reflect`` and ``symmetric``
  padding the padded border repeats image pixels, so a patch near the border is
  also visible, replicated or mirrored, inside the padding. A crop that touches
  only such a copy still includes the patch. Ignoring the copies under-reports
  ``p``, which is a privacy bug.
- **torchvision's order of padding.** ``RandomCrop.forward`` (``torchvision.transforms``,
  v1) first applies the explicit ``padding``, then, with ``pad_if_needed``, pads
  the *already padded* image by ``crop - size`` on both sides of each axis that is
  still too small, in the same mode (so a reflection of a reflection). Offsets are
  uniform on ``{0, ..., H' - th} x {0, ..., W' - tw}`` (``RandomCrop.get_params``).
- **Linear cost.** Every placement of the patch along an axis is scored at once in
  time and memory proportional to the padded axis length, never placements x offsets.

Why it is cheap: each padding mode maps a padded pixel ``(r, c)`` to the original
pixel ``(rowmap[r], colmap[c])`` *separably*. So the padded pixels that show a
rectangle ``rows x cols`` form the product set ``rowmap⁻¹(rows) x colmap⁻¹(cols)``,
and the crop at ``(i, j)`` meets that product set exactly when its row window meets
``rowmap⁻¹(rows)`` and its column window meets ``colmap⁻¹(cols)``. The number of
including offsets therefore factorises into one count per axis (:class:`CropAxis`).
Along one axis every padding map changes by at most one between neighbouring
pixels, so the original pixels a crop window shows form one interval
(:meth:`CropAxis.window_extents`); counting windows whose interval meets the patch
interval, for every patch position at once, is two cumulative histograms.

numpy is imported inside the functions that compute, not at module level: the CLI
imports this module for :class:`PaddingMode` on every start (and every Tab press once
completions are installed), and numpy alone would dominate that start-up time.

Shapes that are not boxes (ellipses, polygons, unions of boxes, pixel masks,
:mod:`~cropcalc.geometry.shapes`) reuse the per-axis primitives: a crop ``(i, j)``
sees exactly the original pixels ``rows_i x cols_j`` (the two window extents), and
:mod:`~cropcalc.geometry.mask` counts, for every placement of the mask at once, the
offsets whose rectangle holds a sensitive pixel, in a few passes over the map of
placements (never placements x pixels x offsets).

Modules, one job each:

- :mod:`~cropcalc.geometry.axis`: padding modes, one axis and its window extents;
- :mod:`~cropcalc.geometry.crop`: :class:`CropGeometry`, torchvision's validation;
- :mod:`~cropcalc.geometry.box`: the closed form for rectangles;
- :mod:`~cropcalc.geometry.shapes`: shapes as pixel masks, and which pixels count;
- :mod:`~cropcalc.geometry.mask`: exact counts for any mask, every placement;
- :mod:`~cropcalc.geometry.inclusion`: :func:`inclusion`, the entry point;
- :mod:`~cropcalc.geometry.result`: :class:`InclusionResult`, augmentation multiplicity;
- :mod:`~cropcalc.geometry.maskfile`: reading ``.npy`` / ``.png`` masks (the only I/O).
"""

from __future__ import annotations

from cropcalc.geometry.axis import CropAxis, Padding, PaddingMode
from cropcalc.geometry.crop import CropGeometry
from cropcalc.geometry.inclusion import InclusionRequest, box_inclusion, inclusion
from cropcalc.geometry.maskfile import load_mask
from cropcalc.geometry.result import MAX_AUGMULT, InclusionResult
from cropcalc.geometry.shapes import PatchShape, ShapeKind, check_vertices, parse_polygon

__all__ = [
    "MAX_AUGMULT",
    "CropAxis",
    "CropGeometry",
    "InclusionRequest",
    "InclusionResult",
    "Padding",
    "PaddingMode",
    "PatchShape",
    "ShapeKind",
    "box_inclusion",
    "check_vertices",
    "inclusion",
    "load_mask",
    "parse_polygon",
]
