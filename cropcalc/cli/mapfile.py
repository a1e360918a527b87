"""``--map-out``: write the map of ``p`` over every placement to a file.

``.npy`` keeps full float64 precision for numpy users; ``.csv`` is one row per patch
row position, one column per patch column position, for spreadsheets and other
languages; ``.png`` is a picture for people (grey levels from the map's minimum,
black, to its maximum, white), written with Pillow, the optional ``png`` extra. Only
the CLI writes files; the core returns the map as an array.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cropcalc.errors import InputError, MissingExtraError

if TYPE_CHECKING:
    from cropcalc.geometry import InclusionResult

SUFFIXES = (".npy", ".csv", ".png")
PNG_HINT = "writing a .png map needs Pillow: pip install 'cropcalc[png]', or write .npy"


def check_map_path(path: str) -> Path:
    """The path ``--map-out`` names, checked before anything is computed.

    Raises:
        InputError: an unknown suffix, or a folder that does not exist.
        MissingExtraError: a ``.png`` without Pillow (checked before computing).
    """
    target = Path(path)
    if target.suffix.lower() not in SUFFIXES:
        raise InputError(
            f"cannot write a map to {path!r}: give a file name ending in .npy, .csv or .png",
            field="map_out",
        )
    if not target.parent.is_dir():
        raise InputError(
            f"the folder {str(target.parent)!r} does not exist; create it or write elsewhere",
            field="map_out",
        )
    if target.suffix.lower() == ".png":
        try:
            import PIL.Image  # noqa: F401 - only whether it is there
        except ImportError:
            raise MissingExtraError(PNG_HINT, field="map_out") from None
    return target


def write_map(result: InclusionResult, target: Path) -> None:
    """Write ``p`` of every placement (rows: patch top row, columns: left column)."""
    import numpy as np

    probabilities = result.probability_map()
    suffix = target.suffix.lower()
    try:
        if suffix == ".npy":
            np.save(target, probabilities)
        elif suffix == ".png":
            from PIL import Image

            low, span = probabilities.min(), np.ptp(probabilities)
            scaled = (probabilities - low) / span if span > 0 else np.ones_like(probabilities)
            Image.fromarray(np.round(scaled * 255).astype(np.uint8)).save(target)  # 8-bit grey
        else:
            np.savetxt(target, probabilities, fmt="%.17g", delimiter=",")
    except OSError as error:
        raise InputError(
            f"cannot write {str(target)!r}: {error.strerror}", field="map_out"
        ) from error
