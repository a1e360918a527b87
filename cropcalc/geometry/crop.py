"""The image, the crop and the padding of one ``RandomCrop``, validated.

:class:`CropGeometry` checks the configuration the way torchvision would refuse it
(a crop larger than the padded image, reflect padding not smaller than the side it
pads) and turns it into two :class:`~cropcalc.geometry.axis.CropAxis`, replaying
``RandomCrop.forward``'s order of padding: explicit ``padding`` first, then, with
``pad_if_needed``, the shortfall on both sides of the already padded image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cropcalc.errors import InputError
from cropcalc.geometry._values import positive_pair, size_text
from cropcalc.geometry.axis import CropAxis, Padding, PaddingMode

__all__ = ["CropGeometry"]


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
        object.__setattr__(self, "image", positive_pair(self.image, "image", "image size"))
        object.__setattr__(self, "crop", positive_pair(self.crop, "crop", "crop size"))
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
                f"crop {size_text(self.crop)} is larger than the padded image "
                f"{padded_h}x{padded_w} (image {size_text(self.image)} plus padding); "
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
