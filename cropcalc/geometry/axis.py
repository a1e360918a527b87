"""One axis of a torchvision random crop: padding maps and the windows' extents.

A padding mode maps every padded position to the original position it copies
(or to constant fill). Along one axis that map moves by at most one original pixel
between neighbouring padded pixels, so every crop window shows an *interval* of
original positions: :meth:`CropAxis.window_extents`. Everything else in
:mod:`cropcalc.geometry` is built on those intervals, because a crop ``(i, j)``
shows exactly the original rectangle ``rows_i x cols_j``.

numpy is imported inside the functions that compute (start-up time of the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from cropcalc.errors import InputError
from cropcalc.geometry._values import is_int

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

__all__ = ["CropAxis", "Padding", "PaddingMode"]


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
            if not is_int(value) or value < 0:
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
        pads_ok = all(is_int(p) and p >= 0 for stage in self.stages for p in stage)
        if not (is_int(self.length) and self.length > 0 and is_int(self.crop) and self.crop > 0):
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

        if not (is_int(extent) and 1 <= extent <= self.length):
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
