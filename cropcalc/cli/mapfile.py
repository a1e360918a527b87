"""``--map-out``: write the map of ``p`` over every placement to a file.

``.npy`` keeps full float64 precision for numpy users; ``.csv`` is one row per patch
row position, one column per patch column position, for spreadsheets and other
languages. Only the CLI writes files; the core returns the map as an array.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cropcalc.errors import InputError

if TYPE_CHECKING:
    from cropcalc.geometry import InclusionResult

SUFFIXES = (".npy", ".csv")


def check_map_path(path: str) -> Path:
    """The path ``--map-out`` names, checked before anything is computed.

    Raises:
        InputError: an unknown suffix, or a folder that does not exist.
    """
    target = Path(path)
    if target.suffix.lower() not in SUFFIXES:
        raise InputError(
            f"cannot write a map to {path!r}: give a file name ending in .npy or .csv",
            field="map_out",
        )
    if not target.parent.is_dir():
        raise InputError(
            f"the folder {str(target.parent)!r} does not exist; create it or write elsewhere",
            field="map_out",
        )
    return target


def write_map(result: InclusionResult, target: Path) -> None:
    """Write ``p`` of every placement (rows: patch top row, columns: left column)."""
    import numpy as np

    probabilities = result.probability_map()
    try:
        if target.suffix.lower() == ".npy":
            np.save(target, probabilities)
        else:
            np.savetxt(target, probabilities, fmt="%.17g", delimiter=",")
    except OSError as error:
        raise InputError(
            f"cannot write {str(target)!r}: {error.strerror}", field="map_out"
        ) from error
