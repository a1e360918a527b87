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

The per-axis primitives are public because shapes that are not boxes reuse them:
a crop ``(i, j)`` sees exactly the original pixels ``rows_i x cols_j`` (the two
window extents), so any pixel mask can be tested with a summed-area table over the
mask in original coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, TypeGuard

from cropcalc.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CropAxis",
    "CropGeometry",
    "InclusionResult",
    "Padding",
    "PaddingMode",
    "box_inclusion",
]


class PaddingMode(StrEnum):
    """torchvision's ``padding_mode`` values.

    ``EDGE``, ``REFLECT`` and ``SYMMETRIC`` fill the padding with copies of image
    pixels (numpy's ``np.pad`` modes of the same names, which torchvision uses for
    PIL images; for tensors it uses ``torch.nn.functional.pad`` ``replicate`` and
    ``reflect`` and its own index-based symmetric padding, which agree with numpy
    wherever torch accepts the padding). ``CONSTANT`` fills with a value that
    carries no image content.
    """

    CONSTANT = "constant"
    EDGE = "edge"
    REFLECT = "reflect"
    SYMMETRIC = "symmetric"


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; `True` as an image size is a caller bug, not a size.
    return isinstance(value, int) and not isinstance(value, bool)


def _size(pair: tuple[int, int]) -> str:
    return f"{pair[0]}x{pair[1]}"


@dataclass(frozen=True)
class Padding:
    """Explicit padding in pixels per side, as torchvision's ``padding`` argument.

    Attributes:
        left: Columns added on the left.
        top: Rows added on top.
        right: Columns added on the right.
        bottom: Rows added at the bottom.
        mode: How the added pixels are filled. It also applies to the padding that
            ``pad_if_needed`` adds (see :class:`CropGeometry`).

    Raises:
        InputError: A side is negative or not an integer (``field="padding"``), or
            ``mode`` is not a padding mode (``field="padding_mode"``).
    """

    left: int = 0
    top: int = 0
    right: int = 0
    bottom: int = 0
    mode: PaddingMode = PaddingMode.CONSTANT

    def __post_init__(self) -> None:
        sides = {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom}
        for side, value in sides.items():
            if not _is_int(value) or value < 0:
                # torchvision tensors accept negative padding (it crops), but a crop
                # of the image before cropping is not something this model covers.
                raise InputError(
                    f"padding {side}={value!r} is not a non-negative integer; "
                    "give padding as whole pixels, 0 or more",
                    field="padding",
                )
        try:
            mode = PaddingMode(self.mode)
        except ValueError:
            choices = ", ".join(m.value for m in PaddingMode)
            raise InputError(
                f"padding mode {self.mode!r} is unknown; use one of {choices}",
                field="padding_mode",
            ) from None
        # Accept the plain string too; store the enum so comparisons and hashing agree.
        object.__setattr__(self, "mode", mode)

    @classmethod
    def from_sequence(
        cls, values: Sequence[int], mode: PaddingMode = PaddingMode.CONSTANT
    ) -> Padding:
        """Build padding from torchvision's sequence convention.

        Args:
            values: One value (all sides), two (left/right, top/bottom) or four
                (left, top, right, bottom), as ``RandomCrop(padding=...)`` reads them.
            mode: The padding mode.

        Returns:
            The padding.

        Raises:
            InputError: ``values`` does not have 1, 2 or 4 entries, or one is negative
                (``field="padding"``).
        """
        match tuple(values):
            case (every,):
                return cls(every, every, every, every, mode)
            case (horizontal, vertical):
                return cls(horizontal, vertical, horizontal, vertical, mode)
            case (left, top, right, bottom):
                return cls(left, top, right, bottom, mode)
            case other:
                shown = " ".join(str(v) for v in other)
                raise InputError(
                    f"padding has {len(other)} values ({shown}); give 1 (all sides), "
                    "2 (left/right, top/bottom) or 4 (left, top, right, bottom)",
                    field="padding",
                )


@dataclass(frozen=True)
class CropAxis:
    """One axis of the crop: the original length, the padding stages and the crop.

    The padded axis is built by applying ``stages`` in order, each ``(before,
    after)`` padding the result of the previous one in ``mode``. Crop offsets are
    ``s ∈ {0, ..., padded_length - crop}``, each equally likely.

    Attributes:
        length: Length of the original image along this axis.
        crop: Crop length along this axis.
        stages: ``(before, after)`` pads, applied one after the other.
        mode: Padding mode of every stage.

    Raises:
        InputError: A length is not positive, a pad is negative or the crop does not
            fit in the padded axis (``field="crop"``); normally
            :class:`CropGeometry` has already reported these with a better message.
    """

    length: int
    crop: int
    stages: tuple[tuple[int, int], ...] = ()
    mode: PaddingMode = PaddingMode.CONSTANT

    def __post_init__(self) -> None:
        pads_ok = all(_is_int(p) and p >= 0 for stage in self.stages for p in stage)
        if not (_is_int(self.length) and self.length > 0 and _is_int(self.crop) and self.crop > 0):
            raise InputError(
                f"axis of length {self.length!r} with crop {self.crop!r}: "
                "both must be positive integers",
                field="crop",
            )
        if not pads_ok or self.crop > self.padded_length:
            raise InputError(
                f"crop {self.crop} does not fit an axis of length {self.length} padded by "
                f"{list(self.stages)}; use non-negative pads and a crop no longer than the "
                "padded axis",
                field="crop",
            )

    @property
    def padded_length(self) -> int:
        """Length of the axis after every padding stage."""
        return self.length + sum(before + after for before, after in self.stages)

    @property
    def positions(self) -> int:
        """Number of crop offsets along this axis."""
        return self.padded_length - self.crop + 1

    def source_index(self) -> NDArray[np.int64]:
        """Map each padded position to the original position it shows.

        Returns:
            An array of length :attr:`padded_length`; entry ``r`` is the original
            index that padded position ``r`` copies, or ``-1`` for constant fill.
        """
        import numpy as np

        index = np.arange(self.padded_length, dtype=np.int64)
        shows_image = np.ones(self.padded_length, dtype=bool)
        # Lengths before each stage; walking the stages backwards turns a position in
        # a stage's output into the position it copies in that stage's input.
        inputs = [self.length]
        for before, after in self.stages:
            inputs.append(inputs[-1] + before + after)
        for (before, _after), size in zip(
            reversed(self.stages), reversed(inputs[:-1]), strict=True
        ):
            index -= before
            if self.mode is PaddingMode.CONSTANT:
                shows_image &= (index >= 0) & (index < size)
                # Fill pixels stay fill in later stages; clamp only to keep indices
                # in range, `shows_image` remembers that they are fill.
                np.clip(index, 0, size - 1, out=index)
            else:
                index = _fold(index, size, self.mode)
        return np.where(shows_image, index, -1)

    def window_extents(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The interval of original positions each crop window shows.

        A window shows an interval because every padding map moves by at most one
        original pixel between neighbouring padded pixels (edge repeats, reflect and
        symmetric turn around, constant fill is only on the outside).

        Returns:
            ``(first, last)``, arrays of length :attr:`positions`: crop offset ``s``
            shows original positions ``first[s] ... last[s]``, both included. A window
            lying entirely in constant fill shows nothing: ``first[s] == length`` and
            ``last[s] == -1``.
        """
        import numpy as np

        source = self.source_index()
        fill = source < 0
        first = _sliding_min(np.where(fill, self.length, source), self.crop)
        last = -_sliding_min(np.where(fill, 1, -source), self.crop)
        return first, last

    def hit_counts(self, extent: int) -> NDArray[np.int64]:
        """Count including crop offsets for every position of a patch interval.

        Args:
            extent: Length of the patch along this axis, at most :attr:`length`.

        Returns:
            An array of length ``length - extent + 1``: entry ``a`` is the number of
            crop offsets whose window shows at least one of the original positions
            ``a ... a + extent - 1`` (directly or as a copy in the padding).

        Raises:
            InputError: ``extent`` is not between 1 and :attr:`length`
                (``field="patch"``).
        """
        import numpy as np

        if not (_is_int(extent) and 1 <= extent <= self.length):
            raise InputError(
                f"patch extent {extent!r} does not fit an axis of length {self.length}; "
                f"give an extent between 1 and {self.length}",
                field="patch",
            )
        first, last = self.window_extents()
        shows = last >= 0
        first, last = first[shows], last[shows]
        # A window meets [a, a + extent) iff first <= a + extent - 1 and last >= a.
        # Windows with last < a have first <= last < a, so they are a subset of those
        # with first <= a + extent - 1: the count is a difference of two cumulative
        # histograms, for every a at once.
        starts_by = np.cumsum(np.bincount(first, minlength=self.length))
        ends_before = np.concatenate(([0], np.cumsum(np.bincount(last, minlength=self.length))))
        counts: NDArray[np.int64] = (
            starts_by[extent - 1 :] - ends_before[: self.length - extent + 1]
        )
        return counts


def _fold(index: NDArray[np.int64], size: int, mode: PaddingMode) -> NDArray[np.int64]:
    """Map positions relative to an axis of ``size`` pixels onto the pixel they copy.

    These are numpy's ``np.pad`` modes, including pads longer than the axis (numpy
    repeats the reflection, which is a periodic fold).
    """
    import numpy as np

    match mode:
        case PaddingMode.EDGE:
            return np.clip(index, 0, size - 1)
        case PaddingMode.REFLECT:
            if size == 1:
                # numpy extends a single pixel like `edge` (torch refuses any reflect
                # padding of it, and so does CropGeometry).
                return np.zeros_like(index)
            period = 2 * size - 2  # reflect does not repeat the border pixel
            folded = index % period
            return np.where(folded < size, folded, period - folded)
        case PaddingMode.SYMMETRIC:
            period = 2 * size  # symmetric repeats the border pixel
            folded = index % period
            return np.where(folded < size, folded, period - 1 - folded)
        case PaddingMode.CONSTANT:
            return index


def _sliding_min(values: NDArray[np.int64], width: int) -> NDArray[np.int64]:
    """Minimum of every window of ``width`` consecutive values.

    van Herk / Gil-Werman: cut the array into blocks of ``width``; a window spans at
    most two blocks, so its minimum is the suffix minimum of the first block combined
    with the prefix minimum of the second. Linear time and memory, no Python loop.
    """
    import numpy as np

    windows = values.size - width + 1
    blocks = -(-values.size // width)
    flat = np.full(blocks * width, np.iinfo(np.int64).max, dtype=np.int64)
    flat[: values.size] = values
    grid = flat.reshape(blocks, width)
    prefix = np.minimum.accumulate(grid, axis=1).ravel()
    suffix = np.minimum.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[:windows], prefix[width - 1 : width - 1 + windows])


@dataclass(frozen=True)
class CropGeometry:
    """The image, the crop and the padding of one ``RandomCrop``.

    Attributes:
        image: ``(H, W)`` of the original image.
        crop: ``(th, tw)``, torchvision's ``size``.
        padding: Explicit ``padding`` and ``padding_mode``.
        pad_if_needed: torchvision's ``pad_if_needed``: an axis still shorter than
            the crop after explicit padding is padded by ``crop - length`` on *both*
            sides, in the padding mode, on top of the explicit padding. Every crop
            along such an axis then contains the whole explicitly padded image, so
            the axis includes any patch with certainty, whatever the mode; this is
            also why torchvision v2, which pads once by the combined amount instead
            of padding twice, gives the same ``p``.

    Raises:
        InputError: With ``field="image"`` or ``field="crop"`` for sizes that are not
            positive integers; ``field="crop"`` for a crop larger than the padded image
            without ``pad_if_needed``; ``field="padding"`` for reflect padding not
            smaller than the side it pads (torch's ``reflect`` refuses it);
            ``field="padding_mode"`` when ``pad_if_needed`` would need such a reflect
            padding.
    """

    image: tuple[int, int]
    crop: tuple[int, int]
    padding: Padding = field(default_factory=Padding)
    pad_if_needed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "image", _pair(self.image, "image", "image size"))
        object.__setattr__(self, "crop", _pair(self.crop, "crop", "crop size"))
        if not isinstance(self.padding, Padding):
            raise InputError(
                f"padding {self.padding!r} is not a Padding; build it with Padding(...) "
                "or Padding.from_sequence(...)",
                field="padding",
            )
        height, width = self.image
        pad = self.padding
        if pad.mode is PaddingMode.REFLECT:
            _check_reflect(pad.top, pad.bottom, height, "height", "padding")
            _check_reflect(pad.left, pad.right, width, "width", "padding")
        crop_h, crop_w = self.crop
        padded_h, padded_w = self.explicitly_padded_size
        if not self.pad_if_needed and (crop_h > padded_h or crop_w > padded_w):
            raise InputError(
                f"crop {_size(self.crop)} is larger than the padded image "
                f"{padded_h}x{padded_w} (image {_size(self.image)} plus padding); "
                "pass --pad-if-needed or use a crop no larger than "
                f"{padded_h}x{padded_w}",
                field="crop",
            )
        if pad.mode is PaddingMode.REFLECT:
            for grow, length, axis in (
                (crop_w - padded_w, padded_w, "width"),
                (crop_h - padded_h, padded_h, "height"),
            ):
                if grow > 0 and grow >= length:
                    raise InputError(
                        f"pad_if_needed would reflect-pad the padded {axis} {length} by "
                        f"{grow} on each side to reach the crop, but reflect padding must "
                        f"be smaller than the side it pads; use a crop {axis} below "
                        f"{2 * length}, more explicit padding, or the symmetric or edge "
                        "padding mode",
                        field="padding_mode",
                    )

    @property
    def explicitly_padded_size(self) -> tuple[int, int]:
        """``(H, W)`` after the explicit padding, before ``pad_if_needed``."""
        pad = self.padding
        height, width = self.image
        return height + pad.top + pad.bottom, width + pad.left + pad.right

    @property
    def padded_size(self) -> tuple[int, int]:
        """``(H', W')``: the size crops are drawn from, after all padding."""
        rows, cols = self.axes()
        return rows.padded_length, cols.padded_length

    @property
    def crop_positions(self) -> int:
        """Number of equally likely crop offsets, ``(H' - th + 1)(W' - tw + 1)``."""
        rows, cols = self.axes()
        return rows.positions * cols.positions

    def axes(self) -> tuple[CropAxis, CropAxis]:
        """The row axis and the column axis, with torchvision's padding stages."""
        pad = self.padding
        padded_h, padded_w = self.explicitly_padded_size
        return (
            _axis(self.image[0], self.crop[0], (pad.top, pad.bottom), padded_h, self),
            _axis(self.image[1], self.crop[1], (pad.left, pad.right), padded_w, self),
        )


def _axis(
    length: int, crop: int, explicit: tuple[int, int], padded: int, geometry: CropGeometry
) -> CropAxis:
    stages = [explicit] if any(explicit) else []
    if geometry.pad_if_needed and padded < crop:
        # torchvision pads by the whole shortfall on *each* side (`[tw - width, 0]`
        # is left/right = tw - width), so the axis grows to 2*crop - padded.
        grow = crop - padded
        stages.append((grow, grow))
    return CropAxis(length, crop, tuple(stages), geometry.padding.mode)


def _pair(value: object, name: str, what: str) -> tuple[int, int]:
    first: object
    second: object
    try:
        first, second = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise InputError(
            f"{what} {value!r} is not a pair of integers; give height and width",
            field=name,
        ) from None
    if not (_is_int(first) and _is_int(second) and first > 0 and second > 0):
        raise InputError(
            f"{what} {first!r}x{second!r} is not positive; give a height and width of "
            "at least 1 pixel",
            field=name,
        )
    return first, second


def _check_reflect(before: int, after: int, length: int, axis: str, name: str) -> None:
    # torch.nn.functional.pad(mode="reflect") checks pad < input dim on each side
    # ("Padding size should be less than the corresponding input dimension").
    if before >= length or after >= length:
        raise InputError(
            f"reflect padding ({before}, {after}) is not smaller than the image {axis} "
            f"{length}; use reflect padding below {length}, or the symmetric or edge "
            "padding mode",
            field=name,
        )


@dataclass(frozen=True)
class InclusionResult:
    """Probability that one crop includes a rectangular patch.

    Attributes:
        probability: ``p = numerator / denominator``.
        numerator: Number of crop offsets whose window shows at least one pixel of
            the patch (directly or as a padding copy). Not reduced.
        denominator: Number of crop offsets, equal to :attr:`crop_positions`. Not
            reduced, so the two counts keep their meaning; use :attr:`fraction` for
            the reduced form.
        placement: Top-left ``(y, x)`` of the patch in original image coordinates:
            the given one, or a worst-case one (the smallest ``y``, then ``x``).
        worst_case: True when the location was unknown and ``p`` is the maximum over
            every placement inside the image.
        padded_size: ``(H', W')`` the crops are drawn from.
        crop_positions: ``(H' - th + 1)(W' - tw + 1)``.
    """

    probability: float
    numerator: int
    denominator: int
    placement: tuple[int, int]
    worst_case: bool
    padded_size: tuple[int, int]
    crop_positions: int

    @property
    def fraction(self) -> Fraction:
        """``p`` as an exact, reduced fraction."""
        return Fraction(self.numerator, self.denominator)


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

    patch_h, patch_w = _pair(patch, "patch", "patch size")
    height, width = geometry.image
    if patch_h > height or patch_w > width:
        raise InputError(
            f"patch {patch_h}x{patch_w} is larger than the image {height}x{width}; "
            "give a patch no larger than the image",
            field="patch",
        )
    rows, cols = geometry.axes()
    row_counts = rows.hit_counts(patch_h)
    col_counts = cols.hit_counts(patch_w)
    if at is None:
        # The axes are independent, so the product is maximised by maximising each
        # factor; argmax returns the first maximum, i.e. the smallest y and x. Every
        # axis has a window showing image content, so both maxima are positive and
        # no smaller placement ties through a zero factor.
        y, x = int(np.argmax(row_counts)), int(np.argmax(col_counts))
    else:
        y, x = _placement(at, (patch_h, patch_w), geometry.image)
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
    )


def _placement(
    at: tuple[int, int], patch: tuple[int, int], image: tuple[int, int]
) -> tuple[int, int]:
    try:
        y, x = at
    except (TypeError, ValueError):
        raise InputError(
            f"patch location {at!r} is not a pair of integers; give the top-left corner as (y, x)",
            field="patch_at",
        ) from None
    max_y, max_x = image[0] - patch[0], image[1] - patch[1]
    if not (_is_int(y) and _is_int(x) and 0 <= y <= max_y and 0 <= x <= max_x):
        raise InputError(
            f"patch {_size(patch)} at (y={y!r}, x={x!r}) does not lie inside the image "
            f"{_size(image)}; give a top-left corner with 0 <= y <= {max_y} and "
            f"0 <= x <= {max_x}",
            field="patch_at",
        )
    return y, x
