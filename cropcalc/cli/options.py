"""The command-line options, each defined once as an ``Annotated`` alias.

Commands declare a parameter with one of these aliases (``image: options.Image``) and
its default; a second command that needs the same option reuses the alias, so names,
metavars, parsers and help text never drift apart. The geometry options (image, crop,
padding, patch) are shared by every command that computes an inclusion probability,
and :func:`build_geometry` turns them into the core's :class:`CropGeometry`.

This module is imported on every start, including each Tab press of shell completion:
it imports nothing heavier than Typer and :mod:`cropcalc.geometry` (which loads numpy
only when it computes).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer

from cropcalc.accounting.accountants import Accountant
from cropcalc.cli import parse
from cropcalc.errors import InputError
from cropcalc.geometry import (
    CropGeometry,
    Padding,
    PaddingMode,
    PatchShape,
    check_vertices,
    load_mask,
    parse_polygon,
)
from cropcalc.sampling import Sampler


class PatchKind(StrEnum):
    """Shapes that ``--shape`` can give the ``--patch`` box."""

    BOX = "box"
    ELLIPSE = "ellipse"


class OutputFormat(StrEnum):
    """How results are written to stdout."""

    TABLE = "table"
    JSON = "json"


# Must equal cropcalc.calculator.DEFAULT_DELTA and DEFAULT_ACCURACY (a test checks);
# the calculator is not imported here because it loads the numerics stack.
DEFAULT_DELTA = 1e-5
DEFAULT_ACCURACY = 0.01


def _complete(enum_type: type[StrEnum]) -> Callable[[str], list[str]]:
    def complete(incomplete: str) -> list[str]:
        return [member.value for member in enum_type if member.value.startswith(incomplete)]

    return complete


Image = Annotated[
    parse.Size,
    typer.Option(
        parser=parse.parse_size,
        metavar="HxW",
        help="Image size, height x width (the order of numpy and torch shapes), e.g. 1024x2048.",
        show_default=False,
    ),
]
Crop = Annotated[
    parse.Size,
    typer.Option(
        parser=parse.parse_crop,
        metavar="S|HxW",
        help="RandomCrop size: S for a square SxS crop, or height x width.",
        show_default=False,
    ),
]
PaddingValues = Annotated[
    parse.PaddingList | None,
    typer.Option(
        "--padding",
        parser=parse.parse_padding,
        metavar="P|LR,TB|L,T,R,B",
        help=(
            "RandomCrop padding in pixels: one value for all sides, two for "
            "left/right,top/bottom, or four for left,top,right,bottom. Default: none."
        ),
        show_default=False,
    ),
]
PadIfNeeded = Annotated[
    bool,
    typer.Option(
        "--pad-if-needed",
        help=(
            "As RandomCrop(pad_if_needed=True): pad an axis still shorter than the crop "
            "by the shortfall on both sides."
        ),
    ),
]
PaddingModeChoice = Annotated[
    PaddingMode,
    typer.Option(
        "--padding-mode",
        parser=parse.enum_parser(PaddingMode),
        autocompletion=_complete(PaddingMode),
        metavar="|".join(PaddingMode),
        help=(
            "RandomCrop padding_mode. edge, reflect and symmetric fill the padding with "
            "copies of border pixels, which the inclusion probability counts."
        ),
    ),
]
Patch = Annotated[
    parse.Size | None,
    typer.Option(
        parser=parse.parse_size,
        metavar="HxW",
        help=(
            "Bounding box of the sensitive region (a face, a plate), height x width; "
            "the region is that box, or the ellipse inscribed in it with --shape "
            "ellipse. Or give --patch-polygon or --patch-mask instead."
        ),
        show_default=False,
    ),
]
ShapeChoice = Annotated[
    PatchKind,
    typer.Option(
        "--shape",
        parser=parse.enum_parser(PatchKind),
        autocompletion=_complete(PatchKind),
        metavar="|".join(PatchKind),
        help=(
            "Shape of the region in the --patch box: the whole box, or the inscribed "
            "ellipse (every pixel holding any part of it)."
        ),
    ),
]
PatchPolygon = Annotated[
    str | None,
    typer.Option(
        metavar="'Y,X Y,X ...'",
        help=(
            "The region as a polygon of at least 3 vertices in image coordinates "
            "(pixel corners are integers), e.g. '10,20 10,60 30,60'; every pixel "
            "holding any part of it is sensitive. Its position is known."
        ),
        show_default=False,
    ),
]
PatchMask = Annotated[
    str | None,
    typer.Option(
        metavar="FILE",
        help=(
            "The region as a pixel mask: .npy (bool or 0/1) or .png (non-zero is "
            "sensitive; needs cropcalc[png]). Located with --patch-at (top-left of the "
            "file's array), else the worst case over every placement."
        ),
        show_default=False,
    ),
]
PatchAt = Annotated[
    list[parse.Point] | None,
    typer.Option(
        parser=parse.parse_point,
        metavar="Y,X",
        help=(
            "Known top-left corner of the patch in the unpadded image, row,column. "
            "Repeat it to protect several --patch boxes at once (one unit, e.g. a face "
            "and a name badge). Default: the worst case over every placement."
        ),
        show_default=False,
    ),
]
Augmult = Annotated[
    int,
    typer.Option(
        parser=parse.parse_count,
        metavar="K",
        help=(
            "Augmentation multiplicity: K independent crops of each image averaged into "
            "one gradient; the patch is included when any crop includes it."
        ),
    ),
]
MapOut = Annotated[
    str | None,
    typer.Option(
        metavar="FILE",
        help=(
            "Also write p for every placement of the patch (worst case only) to FILE: "
            ".npy (float64 array), .csv (one row per patch top row) or .png (a grey "
            "picture, needs cropcalc[png])."
        ),
        show_default=False,
    ),
]
NoiseMultiplier = Annotated[
    float,
    typer.Option(
        parser=parse.parse_number,
        metavar="Z",
        help="Noise multiplier z as in Opacus: noise std = z x clipping norm.",
        show_default=False,
    ),
]
SamplingRate = Annotated[
    float | None,
    typer.Option(
        parser=parse.parse_number,
        metavar="Q",
        help=(
            "Probability q that an image enters a step's batch. Or give --batch-size "
            "and --dataset-size: q = B/N."
        ),
        show_default=False,
    ),
]
BatchSize = Annotated[
    int | None,
    typer.Option(
        parser=parse.parse_count,
        metavar="B",
        help="(Expected) batch size B; with --dataset-size it sets q = B/N.",
        show_default=False,
    ),
]
DatasetSize = Annotated[
    int | None,
    typer.Option(
        parser=parse.parse_count,
        metavar="N",
        help="Number of training images N (also checks --delta against 1/N).",
        show_default=False,
    ),
]
Steps = Annotated[
    int | None,
    typer.Option(
        parser=parse.parse_count,
        metavar="T",
        help="Number of training steps T. Or give --epochs.",
        show_default=False,
    ),
]
Epochs = Annotated[
    int | None,
    typer.Option(
        parser=parse.parse_count,
        metavar="E",
        help=(
            "Number of epochs, with --batch-size and --dataset-size: T = E x ceil(N/B), "
            "the batches per epoch of a PyTorch DataLoader without drop_last (never "
            "fewer than Opacus' int(N/B))."
        ),
        show_default=False,
    ),
]
Delta = Annotated[
    float,
    typer.Option(
        parser=parse.parse_number,
        metavar="DELTA",
        help="Target δ of the (ε, δ) guarantee; keep it well below 1/N.",
    ),
]
Accuracy = Annotated[
    float,
    typer.Option(
        parser=parse.parse_number,
        metavar="A",
        help=(
            "Tolerance of the quoted ε: the certified upper bound is within "
            "A x max(1, ε) of the true ε. Smaller is slower; at most 0.5."
        ),
    ),
]
AccountantChoice = Annotated[
    Accountant,
    typer.Option(
        "--accountant",
        parser=parse.enum_parser(Accountant),
        autocompletion=_complete(Accountant),
        metavar="|".join(Accountant),
        help=(
            "How ε is composed, all for the same pair. prv: cropcalc's certified PRV "
            "accountant with a lower bound; pld: dp-accounting's PLD (needs "
            "cropcalc[pld]), an independent check; rdp: Rényi DP, looser but always "
            "computable."
        ),
    ),
]
SamplerChoice = Annotated[
    Sampler,
    typer.Option(
        "--sampler",
        parser=parse.enum_parser(Sampler),
        autocompletion=_complete(Sampler),
        metavar="|".join(Sampler),
        help=(
            "How batches are drawn. poisson: Opacus' DPDataLoader (valid, not tight); "
            "fixed: fixed-size batches without replacement (tight); shuffle: "
            "DataLoader(shuffle=True), each image once per epoch, no sampling "
            "amplification (needs --batch-size and --dataset-size)."
        ),
    ),
]
Format = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        parser=parse.enum_parser(OutputFormat),
        autocompletion=_complete(OutputFormat),
        metavar="|".join(OutputFormat),
        help="table for people, json for pipelines (schema in the README).",
    ),
]


def build_geometry(
    *,
    image: parse.Size,
    crop: parse.Size,
    padding: parse.PaddingList | None,
    padding_mode: PaddingMode,
    pad_if_needed: bool,
) -> CropGeometry:
    """The :class:`CropGeometry` that the geometry options describe.

    Raises:
        InputError: The padding or the crop does not fit the image.
    """
    values = padding.values if padding is not None else (0,)
    return CropGeometry(
        image=image,
        crop=crop,
        padding=Padding.from_sequence(values, padding_mode),
        pad_if_needed=pad_if_needed,
    )


def build_patch(
    *,
    image: tuple[int, int],
    patch: parse.Size | None,
    shape: PatchKind,
    patch_polygon: str | None,
    patch_mask: str | None,
    patch_at: list[parse.Point] | None,
) -> tuple[PatchShape, tuple[int, int] | None]:
    """The sensitive region the patch options describe, and where the user put it.

    Returns:
        The shape, and the single ``--patch-at`` that locates it (None: unknown, or
        carried by the shape itself; :meth:`PatchShape.placement` resolves both).

    Raises:
        InputError: the region is given in none or several ways, or the options do
            not combine (several --patch-at for a non-box, --shape without --patch).
        MissingExtraError: a .png mask without Pillow.
    """
    ways = (("--patch", patch), ("--patch-polygon", patch_polygon), ("--patch-mask", patch_mask))
    given = [flag for flag, value in ways if value is not None]
    if len(given) != 1:
        raise InputError(
            "give the sensitive region one way: --patch HxW, --patch-polygon or --patch-mask"
            + (f" (got {', '.join(given)})" if given else ""),
            field="patch",
        )
    at = patch_at or []
    if shape is not PatchKind.BOX and patch is None:
        raise InputError("--shape applies to a --patch box; drop it", field="shape")
    if len(at) > 1 and (patch is None or shape is not PatchKind.BOX):
        raise InputError(
            "several --patch-at need --patch boxes; for other shapes give one mask "
            "covering all regions (--patch-mask)",
            field="patch_at",
        )
    region: PatchShape
    if patch is not None:
        height, width = patch
        if len(at) > 1:
            # Checked before the union is drawn: far-apart boxes would span a huge mask.
            for y, x in at:
                if y + height > image[0] or x + width > image[1]:
                    raise InputError(
                        f"a {height}x{width} box at {y},{x} leaves the image "
                        f"{image[0]}x{image[1]}; give corners that keep every box inside",
                        field="patch_at",
                    )
            return PatchShape.boxes([(y, x, height, width) for y, x in at]), None
        region = (
            PatchShape.ellipse(height, width)
            if shape is PatchKind.ELLIPSE
            else PatchShape.box(height, width)
        )
    elif patch_polygon is not None:
        vertices = parse_polygon(patch_polygon)
        check_vertices(vertices, image)  # before rasterising, which needs its box's memory
        region = PatchShape.polygon(vertices)
    else:
        region = load_mask(str(patch_mask))
    return region, at[0] if at else None


def build_region(
    *,
    image: parse.Size,
    crop: parse.Size,
    padding: parse.PaddingList | None,
    padding_mode: PaddingMode,
    pad_if_needed: bool,
    patch: parse.Size | None,
    shape: PatchKind,
    patch_polygon: str | None,
    patch_mask: str | None,
    patch_at: list[parse.Point] | None,
) -> tuple[CropGeometry, PatchShape, tuple[int, int] | None]:
    """The geometry and the region that the shared options describe (see both builders)."""
    geometry = build_geometry(
        image=image,
        crop=crop,
        padding=padding,
        padding_mode=padding_mode,
        pad_if_needed=pad_if_needed,
    )
    region, at = build_patch(
        image=geometry.image,
        patch=patch,
        shape=shape,
        patch_polygon=patch_polygon,
        patch_mask=patch_mask,
        patch_at=patch_at,
    )
    return geometry, region, at
