"""Read a patch mask from a ``.npy`` or ``.png`` file.

This is the geometry package's only file input, kept apart from the numerics so
they stay free of I/O. Every failure is an :class:`~cropcalc.errors.InputError`
with ``field="patch_mask"`` (a missing Pillow is a
:class:`~cropcalc.errors.MissingExtraError`): one line naming the file and what to
change.

- ``.npy``: a 2-D array of ``bool`` or of integers 0 and 1 (anything else is refused
  rather than guessed), read with ``allow_pickle=False``.
- ``.png``: non-zero = sensitive. A pixel is sensitive when any of its colour
  channels is non-zero after the palette is expanded; an alpha channel is ignored
  (opacity is not a value: a mask drawn as opaque black around white would
  otherwise be sensitive everywhere). Decoding needs Pillow, an optional extra
  (``pip install 'cropcalc[png]'``): PNG has many variants (1- to 16-bit depths,
  palettes, Adam7 interlacing, per-row filters whose decoding is a byte-serial loop)
  and a home-made decoder that got one wrong would silently mis-state the patch,
  which is worse here than one well-kept dependency that ``.npy`` users never need.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cropcalc.errors import InputError, MissingExtraError
from cropcalc.geometry.shapes import PatchShape

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["PNG_HINT", "load_mask"]

FIELD = "patch_mask"

PNG_HINT = "reading PNG masks needs Pillow: pip install 'cropcalc[png]', or save the mask as .npy"


def load_mask(path: str | Path) -> PatchShape:
    """The patch shape stored in a mask file.

    Args:
        path: A ``.npy`` or ``.png`` file (the suffix decides, case-insensitively).

    Returns:
        The mask, trimmed to its sensitive pixels (:meth:`PatchShape.from_mask`);
        :attr:`PatchShape.origin` is where they start in the file.

    Raises:
        InputError: The file is missing, unreadable, of another type, not 2-D, not
            boolean or 0/1 (``.npy``) or has no sensitive pixel
            (``field="patch_mask"``).
        MissingExtraError: A ``.png`` and no Pillow (``field="patch_mask"``), with
            the install hint.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in {".npy", ".png"}:
        raise InputError(
            f"patch mask {str(file)!r} is neither .npy nor .png; save the mask as a .npy "
            "array or a PNG image",
            field=FIELD,
        )
    if not file.is_file():
        raise InputError(
            f"patch mask {str(file)!r} does not exist or is not a file; check the path",
            field=FIELD,
        )
    array = _read_npy(file) if suffix == ".npy" else _read_png(file)
    try:
        return PatchShape.from_mask(array, field=FIELD)
    except InputError as error:
        raise InputError(f"{file}: {error.message}", field=FIELD) from None


def _read_npy(file: Path) -> NDArray[np.generic]:
    import numpy as np

    try:
        array: NDArray[np.generic] = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"patch mask {str(file)!r} is not a readable .npy array ({reason}); save it "
            "with numpy.save",
            field=FIELD,
        ) from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        raise InputError(
            f"patch mask {str(file)!r} holds several arrays; save one array with numpy.save",
            field=FIELD,
        )
    return array


def _read_png(file: Path) -> NDArray[np.bool_]:
    import numpy as np

    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise MissingExtraError(f"{PNG_HINT} (for {str(file)!r})", field=FIELD) from None
    try:
        with Image.open(file) as image:
            if image.format != "PNG":
                raise InputError(
                    f"patch mask {str(file)!r} is a {image.format} image, not a PNG; "
                    "save it as PNG or .npy",
                    field=FIELD,
                )
            if image.mode in {"P", "PA"}:
                converted = image.convert("RGBA")
            elif image.mode == "LA":
                converted = image.convert("RGBA")  # keeps grey in R, G, B and alpha in A
            else:
                converted = image.copy()
            bands = converted.getbands()
            values = np.asarray(converted)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"patch mask {str(file)!r} is not a readable PNG ({reason}); save it as PNG or .npy",
            field=FIELD,
        ) from None
    if values.ndim == 2:
        grey: NDArray[np.bool_] = values != 0
        return grey
    colour = [index for index, band in enumerate(bands) if band != "A"]
    sensitive: NDArray[np.bool_] = (values[..., colour] != 0).any(axis=-1)
    return sensitive
