"""How the geometry half of a result reads: rows for a table, fields for JSON, a heatmap.

Shared by every command that computes an inclusion probability, so ``epsilon`` and
``inclusion`` describe a patch, its placement and ``p`` in the same words and the
same JSON fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from cropcalc.geometry import PaddingMode, ShapeKind

if TYPE_CHECKING:
    from cropcalc.geometry import CropGeometry, InclusionRequest, InclusionResult, PatchShape

# Shades from the lowest to the highest p of the map.
_SHADES = " ░▒▓█"
_STYLES = ("grey23", "blue", "cyan", "yellow", "red")


def inclusion_inputs(request: InclusionRequest) -> dict[str, Any]:
    """The geometry inputs as resolved, for the ``inputs`` object of the JSON."""
    geometry, patch = request.geometry, request.patch
    padding = geometry.padding
    return {
        "image": list(geometry.image),
        "crop": list(geometry.crop),
        "padding": {
            "left": padding.left,
            "top": padding.top,
            "right": padding.right,
            "bottom": padding.bottom,
        },
        "padding_mode": padding.mode.value,
        "pad_if_needed": geometry.pad_if_needed,
        "patch": list(patch.size),
        "patch_shape": patch.kind.value,
        "patch_pixels": patch.pixel_count,
        "patch_at": None if request.patch_at is None else list(request.patch_at),
        "augmult": request.augmult,
    }


def inclusion_fields(result: InclusionResult) -> dict[str, Any]:
    """``inclusion_probability`` and the ``inclusion`` object of the JSON."""
    return {
        "inclusion_probability": result.probability,
        "inclusion": {
            "numerator": result.numerator,
            "denominator": result.denominator,
            "single_crop_probability": result.single_crop_probability,
            "augmult": result.augmult,
            "placement": list(result.placement),
            "worst_case": result.worst_case,
            "ties": result.ties,
            "padded_size": list(result.padded_size),
            "crop_positions": result.crop_positions,
        },
    }


def geometry_rows(request: InclusionRequest, result: InclusionResult) -> list[tuple[str, str]]:
    """Table rows describing the image, crop, padding, patch and its placement."""
    geometry = request.geometry
    y, x = result.placement
    if result.worst_case:
        ties = "" if result.ties == 1 else f" (and {result.ties - 1} more placements)"
        location = f"unknown: the worst case, attained at top-left y={y}, x={x}{ties}"
    else:
        location = f"known: top-left y={y}, x={x}"
    rows = [
        ("image H×W", size_text(geometry.image)),
        ("crop H×W", size_text(geometry.crop)),
        ("padding", _padding(geometry)),
        ("patch", _patch(request.patch)),
        ("patch location", location),
    ]
    if request.augmult > 1:
        rows.append(("crops per image K", f"{request.augmult} (augmentation multiplicity)"))
    return rows


def probability_rows(result: InclusionResult) -> list[tuple[str, str]]:
    """Table rows for ``p`` (and ``p_K`` with several crops per image)."""
    single = (
        f"{result.single_crop_probability:.10g} = {result.numerator}/{result.denominator} "
        "of the crop positions include the patch"
    )
    if result.augmult == 1:
        return [("inclusion probability p", single)]
    return [
        ("one crop includes it", single),
        (
            f"inclusion probability p_{result.augmult}",
            f"{result.probability:.10g} = 1 − (1 − p)^{result.augmult}: any of the "
            f"{result.augmult} crops includes the patch",
        ),
    ]


def heatmap(result: InclusionResult, width: int = 64, height: int = 16) -> list[Text]:
    """The map of ``p`` over every placement, shrunk to fit, as shaded text lines.

    Each character covers a block of placements and shows the block's *largest* p, so
    the picture never hides a worse placement than it shows.
    """
    import numpy as np

    probabilities = result.probability_map()
    rows, cols = probabilities.shape
    step_y, step_x = -(-rows // height), -(-cols // width)
    pad_y, pad_x = -rows % step_y, -cols % step_x
    padded = np.pad(probabilities, ((0, pad_y), (0, pad_x)), mode="edge")
    blocks = padded.reshape(-(-rows // step_y), step_y, -(-cols // step_x), step_x)
    peak = blocks.max(axis=(1, 3))
    low, high = float(probabilities.min()), float(probabilities.max())
    span = high - low
    levels = np.zeros(peak.shape, dtype=int)
    if span > 0:
        scaled = (peak - low) / span * (len(_SHADES) - 1)
        levels = np.clip(np.ceil(scaled - 1e-12), 0, len(_SHADES) - 1).astype(int)
    lines = []
    for row in levels:
        line = Text("  ")
        for level in row:
            line.append(_SHADES[level], style=_STYLES[level])
        lines.append(line)
    legend = Text(
        f"  p over the top-left corner of the patch ({rows}×{cols} placements, "
        f"each character the largest of a {step_y}×{step_x} block): "
        f"'{_SHADES[1]}' just above the minimum {low:.4g}, '{_SHADES[-1]}' up to the "
        f"maximum {high:.4g}"
    )
    return [*lines, legend]


def size_text(pair: tuple[int, int]) -> str:
    return f"{pair[0]}×{pair[1]}"


def _patch(patch: PatchShape) -> str:
    box = size_text(patch.size)
    match patch.kind:
        case ShapeKind.BOX:
            return f"{box} box"
        case ShapeKind.ELLIPSE:
            return f"ellipse in a {box} box ({patch.pixel_count} pixels)"
        case ShapeKind.POLYGON:
            return f"polygon, bounding box {box} ({patch.pixel_count} pixels)"
        case ShapeKind.BOXES:
            return f"union of boxes, bounding box {box} ({patch.pixel_count} pixels)"
        case ShapeKind.MASK:
            return f"pixel mask, bounding box {box} ({patch.pixel_count} pixels)"


def _padding(geometry: CropGeometry) -> str:
    pad = geometry.padding
    sides = (pad.left, pad.top, pad.right, pad.bottom)
    parts = []
    if any(sides):
        parts.append("left {}, top {}, right {}, bottom {}".format(*sides))
    if geometry.pad_if_needed:
        parts.append("pad_if_needed")
    if not parts:
        return "none"
    if pad.mode is not PaddingMode.CONSTANT or any(sides):
        parts.append(f"{pad.mode.value} mode")
    return "; ".join(parts) + f" (padded {size_text(geometry.padded_size)})"
