"""Validation of the small integer values every geometry input is made of.

Each check raises :class:`~cropcalc.errors.InputError` naming the input (``field``)
with the offending value and the fix, so that callers never re-word them.
"""

from __future__ import annotations

from typing import TypeGuard

from cropcalc.errors import InputError


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is an integer; ``bool`` is not (``True`` as a size is a bug)."""
    return isinstance(value, int) and not isinstance(value, bool)


def size_text(pair: tuple[int, int]) -> str:
    """``HxW``, the way sizes are written on the command line."""
    return f"{pair[0]}x{pair[1]}"


def positive_pair(value: object, name: str, what: str) -> tuple[int, int]:
    """A ``(height, width)`` of positive integers, or an error naming ``name``."""
    first: object
    second: object
    try:
        first, second = value  # type: ignore[misc]
    except (TypeError, ValueError):
        raise InputError(
            f"{what} {value!r} is not a pair of integers; give height and width",
            field=name,
        ) from None
    if not (is_int(first) and is_int(second) and first > 0 and second > 0):
        raise InputError(
            f"{what} {first!r}x{second!r} is not positive; give a height and width of "
            "at least 1 pixel",
            field=name,
        )
    return first, second


def placement(
    at: object, patch: tuple[int, int], image: tuple[int, int], name: str = "patch_at"
) -> tuple[int, int]:
    """A top-left corner that puts a ``patch``-sized box fully inside ``image``."""
    y: object
    x: object
    try:
        y, x = at  # type: ignore[misc]
    except (TypeError, ValueError):
        raise InputError(
            f"patch location {at!r} is not a pair of integers; give the top-left corner as (y, x)",
            field=name,
        ) from None
    max_y, max_x = image[0] - patch[0], image[1] - patch[1]
    if not (is_int(y) and is_int(x) and 0 <= y <= max_y and 0 <= x <= max_x):
        raise InputError(
            f"patch {size_text(patch)} at (y={y!r}, x={x!r}) does not lie inside the image "
            f"{size_text(image)}; give a top-left corner with 0 <= y <= {max_y} and "
            f"0 <= x <= {max_x}",
            field=name,
        )
    return y, x
