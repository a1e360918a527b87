r"""Patch shapes as pixel masks: box, ellipse, polygon, several boxes, given mask.

Every shape becomes a boolean mask over its *tight* bounding box (no empty border
row or column) plus where that box sits in the coordinates the shape was given in.
The inclusion probability needs nothing else: a crop includes the patch when it
shows at least one sensitive pixel.

Which pixels are sensitive: pixel ``(r, c)`` is the unit square
``[r, r + 1] x [c, c + 1]`` of the continuous image plane (integer coordinates are
pixel *corners*), and it is sensitive when the region meets its **open** square
``(r, r + 1) x (c, c + 1)``. For a region with area this means: every pixel that
holds a positive area of the region, however small, is sensitive. That is the
conservative choice a privacy tool needs (a camera integrates light over the pixel,
resampling spreads it, so any pixel partly covered by a face carries some of it),
and it is the tightest conservative one: a pixel that only touches the region along
its border or at a corner holds none of it. It also keeps the obvious identities
exact: the polygon of a box's four corners gives exactly that box, and the ellipse
inscribed in an ``h x w`` box has an ``h x w`` bounding box (the closed-square rule
would add pixels outside the box that touch the ellipse's four tangent points).

- :meth:`PatchShape.ellipse`: the closed ellipse inscribed in ``[0, h] x [0, w]``;
  pixel ``(r, c)`` is sensitive when the point of its closed square nearest to the
  centre, in the ellipse's own metric, lies strictly inside. Decided in exact integer
  arithmetic.
- :meth:`PatchShape.polygon`: vertices ``(y, x)`` in image coordinates, read as exact
  decimals. The region is the closed polygon, filled by the *non-zero* winding rule
  (for a self-intersecting outline that is a superset of even-odd, so again the
  conservative reading). A pixel is sensitive when an edge passes through its open
  square (decided exactly with fractions) or its centre is inside.
- :meth:`PatchShape.boxes`: several boxes at known positions that change together
  (one neighbouring unit, e.g. a face and a name badge): their union.
- :meth:`PatchShape.from_mask`: a given mask (``bool`` or 0/1 integers), trimmed to
  its tight bounding box; see :func:`cropcalc.geometry.maskfile.load_mask` for files.

Trimming empty border rows and columns of a given mask is deliberate: the worst
case ranges over placements whose *sensitive pixels* lie inside the image
(``docs/accounting.md`` §3), so an empty margin in a file must not forbid placements
near the image border, which could only lower the reported ``p``.

numpy is imported inside the functions (start-up time of the CLI).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING

from cropcalc.errors import InputError
from cropcalc.geometry._values import is_int, positive_pair, size_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from numpy.typing import NDArray

__all__ = ["PatchShape", "ShapeKind", "Vertex", "check_vertices", "parse_polygon"]

Vertex = tuple[Fraction, Fraction]
"""A polygon vertex ``(y, x)`` in continuous image coordinates (pixel corners are integers)."""


class ShapeKind(StrEnum):
    """What a :class:`PatchShape` was made from."""

    BOX = "box"
    ELLIPSE = "ellipse"
    POLYGON = "polygon"
    BOXES = "boxes"
    MASK = "mask"


@dataclass(frozen=True, eq=False)
class PatchShape:
    """A sensitive region as a pixel mask over its tight bounding box.

    Build one with :meth:`box`, :meth:`ellipse`, :meth:`polygon`, :meth:`boxes` or
    :meth:`from_mask`. Instances compare by identity (they may hold large arrays).

    Attributes:
        kind: What the shape was made from. Only :attr:`ShapeKind.BOX` uses the
            per-axis closed form; every other kind goes through the mask algorithm,
            even when its mask happens to be full.
        size: ``(h, w)`` of the tight bounding box: placements move this box.
        pixels: Read-only boolean array of shape ``size``, True where sensitive;
            None for a box (every pixel).
        origin: Top-left of the tight bounding box in the coordinates the shape was
            given in: image coordinates for a polygon and for boxes, the array's
            own coordinates for a mask (so an image-sized annotation mask gives its
            location), ``(0, 0)`` for a box or an ellipse.
        located: True when :attr:`origin` is an image position (polygon, boxes):
            pass ``at=shape.origin`` for the location the user gave.
        vertices: The polygon's vertices (empty for other kinds), kept to check that
            they lie inside the image.
        field: The input the shape came from (``patch``, ``patch_polygon``,
            ``patch_mask``, ``patch_at``), named by errors about it.

    Raises:
        InputError: ``size`` is not positive or ``pixels`` does not match it.
    """

    kind: ShapeKind
    size: tuple[int, int]
    pixels: NDArray[np.bool_] | None = None
    origin: tuple[int, int] = (0, 0)
    located: bool = False
    vertices: tuple[Vertex, ...] = ()
    field: str = "patch"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", positive_pair(self.size, self.field, "patch size"))
        if self.pixels is not None and tuple(self.pixels.shape) != self.size:
            raise InputError(
                f"patch mask of shape {tuple(self.pixels.shape)} does not match its size "
                f"{size_text(self.size)}; build shapes with the PatchShape constructors",
                field=self.field,
            )

    # --- constructors -------------------------------------------------------------

    @classmethod
    def box(cls, height: int, width: int) -> PatchShape:
        """An ``height x width`` box; uses the per-axis closed form."""
        return cls(ShapeKind.BOX, (height, width))

    @classmethod
    def ellipse(cls, height: int, width: int) -> PatchShape:
        """The ellipse inscribed in an ``height x width`` box (module docstring).

        Raises:
            InputError: A size is not a positive integer (``field="patch"``).
        """
        import numpy as np

        height, width = positive_pair((height, width), "patch", "ellipse size")
        # Doubled coordinates keep everything integral: the centre is (h, w) / 2 and
        # the semi-axes are h / 2 and w / 2. For pixel row r the nearest point of the
        # closed square to the centre is clamp(h / 2, r, r + 1); doubled, minus h:
        rows = np.arange(height, dtype=np.int64)
        cols = np.arange(width, dtype=np.int64)
        dy = np.clip(height, 2 * rows, 2 * rows + 2) - height
        dx = np.abs(np.clip(width, 2 * cols, 2 * cols + 2) - width)
        pixels = np.zeros((height, width), dtype=bool)
        for r, row_dy in enumerate(dy.tolist()):
            # Strictly inside: dy² w² + dx² h² < h² w², i.e. dx² < w² (h² - dy²) / h².
            # |dy| < h for every row, so the bound is positive; exact Python integers.
            room = width * width * (height * height - row_dy * row_dy)
            limit = math.isqrt(-(-room // (height * height)) - 1)
            pixels[r] = dx <= limit
        return cls(ShapeKind.ELLIPSE, (height, width), _frozen(pixels))

    @classmethod
    def polygon(cls, vertices: Sequence[tuple[object, object]]) -> PatchShape:
        """The closed polygon through ``vertices`` (``(y, x)`` in image coordinates).

        Args:
            vertices: At least three ``(y, x)`` pairs; numbers or decimal strings,
                read exactly. The outline closes from the last vertex to the first.

        Returns:
            A located shape whose :attr:`origin` is its bounding box's top-left pixel.

        Raises:
            InputError: Fewer than three vertices, a coordinate that is not a finite
                number, or a polygon that covers no pixel (``field="patch_polygon"``).
        """
        exact = tuple(_vertex(vertex) for vertex in vertices)
        if len(exact) < 3:
            raise InputError(
                f"polygon has {len(exact)} vertices; give at least three 'y,x' vertices",
                field="patch_polygon",
            )
        pixels, origin = _rasterise_polygon(exact)
        if pixels is None:
            raise InputError(
                f"polygon {_polygon_text(exact)} covers no pixel (all its vertices lie on "
                "one line along pixel borders); give vertices that enclose an area",
                field="patch_polygon",
            )
        return _trimmed(ShapeKind.POLYGON, pixels, origin, "patch_polygon", exact, located=True)

    @classmethod
    def boxes(cls, boxes: Sequence[tuple[int, int, int, int]]) -> PatchShape:
        """Several boxes at known image positions that change together: their union.

        Args:
            boxes: ``(y, x, height, width)`` of each box, top-left in image
                coordinates.

        Returns:
            A located shape: its :attr:`origin` is the union's top-left corner.

        Raises:
            InputError: No box, or a box with a negative position or a size that is not
                positive (``field="patch_at"``).
        """
        import numpy as np

        checked: list[tuple[int, int, int, int]] = []
        for box in boxes:
            values = tuple(box)
            if not (
                len(values) == 4
                and all(is_int(v) for v in values)
                and values[0] >= 0
                and values[1] >= 0
                and values[2] > 0
                and values[3] > 0
            ):
                raise InputError(
                    f"box {values!r} is not (y, x, height, width) with y, x >= 0 and a "
                    "positive size; give each box as its top-left corner and size",
                    field="patch_at",
                )
            checked.append(values)
        if not checked:
            raise InputError("no box given; give at least one box", field="patch_at")
        top = min(y for y, _, _, _ in checked)
        left = min(x for _, x, _, _ in checked)
        bottom = max(y + h for y, _, h, _ in checked)
        right = max(x + w for _, x, _, w in checked)
        pixels = np.zeros((bottom - top, right - left), dtype=bool)
        for y, x, h, w in checked:
            pixels[y - top : y - top + h, x - left : x - left + w] = True
        return cls(
            ShapeKind.BOXES,
            pixels.shape,
            _frozen(pixels),
            origin=(top, left),
            located=True,
            field="patch_at",
        )

    @classmethod
    def from_mask(cls, mask: object, *, field: str = "patch_mask") -> PatchShape:
        """A given pixel mask, trimmed to the tight box around its sensitive pixels.

        Args:
            mask: A 2-D array of ``bool``, or of integers that are all 0 or 1.
            field: The input the mask came from, named by errors.

        Returns:
            The shape; :attr:`origin` is where the tight box starts in ``mask``.

        Raises:
            InputError: ``mask`` is not a 2-D boolean or 0/1 array, or has no
                sensitive pixel (``field``).
        """
        import numpy as np

        array = np.asarray(mask)
        if array.ndim != 2:
            raise InputError(
                f"patch mask has shape {array.shape}, not 2-D; give one height x width "
                "array (a single channel)",
                field=field,
            )
        if array.dtype != np.bool_:
            if not np.issubdtype(array.dtype, np.integer):
                raise InputError(
                    f"patch mask has dtype {array.dtype}; give a bool array or integers 0 and 1",
                    field=field,
                )
            odd = np.argwhere((array != 0) & (array != 1))
            if odd.size:
                r, c = (int(v) for v in odd[0])
                raise InputError(
                    f"patch mask holds {array[r, c].item()!r} at (y={r}, x={c}); give only 0 "
                    "(not sensitive) and 1 (sensitive), or a bool array",
                    field=field,
                )
        pixels = array != 0
        if not pixels.any():
            raise InputError(
                f"patch mask of shape {pixels.shape[0]}x{pixels.shape[1]} has no "
                "sensitive pixel; mark the patch with 1 (or True)",
                field=field,
            )
        return _trimmed(ShapeKind.MASK, pixels, (0, 0), field, (), located=False)

    # --- queries ------------------------------------------------------------------

    def placement(self, at: tuple[int, int] | None) -> tuple[int, int] | None:
        """Top-left of the tight bounding box in the image, from the location given.

        ``at`` is where the user put the shape: the top-left corner of a box or an
        ellipse, or of a mask file's whole array (the tight box starts
        :attr:`origin` further in). Polygons and boxes carry their own location, so
        they take no ``at``. ``None`` (for an unlocated shape) means unknown: the
        worst case.

        Raises:
            InputError: ``at`` given for a located shape (``field="patch_at"``).
        """
        if self.located:
            if at is not None:
                raise InputError(
                    f"a {self.kind.value} patch already has its position in the image; "
                    "drop --patch-at",
                    field="patch_at",
                )
            return self.origin
        if at is None:
            return None
        return at[0] + self.origin[0], at[1] + self.origin[1]

    @property
    def pixel_count(self) -> int:
        """Number of sensitive pixels."""
        if self.pixels is None:
            return self.size[0] * self.size[1]
        return int(self.pixels.sum())

    def mask(self) -> NDArray[np.bool_]:
        """The sensitive pixels over the bounding box (all True for a box)."""
        import numpy as np

        if self.pixels is None:
            return np.ones(self.size, dtype=bool)
        return self.pixels

    def check_fits(self, image: tuple[int, int]) -> None:
        """Check that the shape can lie inside an image of size ``image``.

        Raises:
            InputError: The bounding box is larger than the image, a polygon vertex
                lies outside ``[0, H] x [0, W]``, or a located box leaves the image
                (``field`` of the shape).
        """
        height, width = image
        patch_h, patch_w = self.size
        check_vertices(self.vertices, image, self.field)
        if self.kind is ShapeKind.BOXES:
            top, left = self.origin
            if top + patch_h > height or left + patch_w > width:
                raise InputError(
                    f"boxes reach row {top + patch_h - 1}, column {left + patch_w - 1}, "
                    f"outside the image {height}x{width}; give boxes inside the image",
                    field=self.field,
                )
        if patch_h > height or patch_w > width:
            what = {
                ShapeKind.MASK: "patch mask's sensitive region",
                ShapeKind.BOXES: "union of the boxes",
            }.get(self.kind, "patch")
            raise InputError(
                f"{what} {patch_h}x{patch_w} is larger than the image {height}x{width}; "
                "give a patch no larger than the image",
                field=self.field,
            )


def check_vertices(
    vertices: Sequence[Vertex], image: tuple[int, int], field: str = "patch_polygon"
) -> None:
    """Check that polygon vertices lie in the image ``[0, H] x [0, W]``.

    Call it before :meth:`PatchShape.polygon` when the image is known: rasterising a
    polygon far larger than the image would only waste memory before being refused.

    Raises:
        InputError: a vertex lies outside the image (``field``).
    """
    height, width = image
    for y, x in vertices:
        if not (0 <= y <= height and 0 <= x <= width):
            raise InputError(
                f"polygon vertex {_number(y)},{_number(x)} lies outside the image "
                f"{height}x{width}; give vertices with 0 <= y <= {height} and "
                f"0 <= x <= {width} (y first)",
                field=field,
            )


def parse_polygon(text: str) -> tuple[Vertex, ...]:
    """Read ``"y1,x1 y2,x2 ..."`` into exact vertices.

    Raises:
        InputError: A vertex is not two comma-separated numbers, or there are fewer
            than three (``field="patch_polygon"``).
    """
    vertices: list[Vertex] = []
    for token in text.split():
        parts = token.split(",")
        if len(parts) != 2:
            raise InputError(
                f"polygon vertex {token!r} is not 'y,x'; give vertices as 'y1,x1 y2,x2 "
                "y3,x3' (row first, separated by spaces)",
                field="patch_polygon",
            )
        vertices.append(_vertex((parts[0], parts[1])))
    if len(vertices) < 3:
        raise InputError(
            f"polygon {text.strip()!r} has {len(vertices)} vertices; give at least three "
            "'y,x' vertices",
            field="patch_polygon",
        )
    return tuple(vertices)


# --- helpers ---------------------------------------------------------------------


def _frozen(pixels: NDArray[np.bool_]) -> NDArray[np.bool_]:
    pixels.setflags(write=False)
    return pixels


def _trimmed(
    kind: ShapeKind,
    pixels: NDArray[np.bool_],
    origin: tuple[int, int],
    field: str,
    vertices: tuple[Vertex, ...],
    *,
    located: bool,
) -> PatchShape:
    """Cut empty border rows and columns; ``origin`` moves with the cut."""
    import numpy as np

    rows = np.flatnonzero(pixels.any(axis=1))
    cols = np.flatnonzero(pixels.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    tight = np.array(pixels[top : bottom + 1, left : right + 1], dtype=bool, copy=True)
    return PatchShape(
        kind,
        (bottom - top + 1, right - left + 1),
        _frozen(tight),
        origin=(origin[0] + top, origin[1] + left),
        located=located,
        vertices=vertices,
        field=field,
    )


def _vertex(vertex: tuple[object, object]) -> Vertex:
    try:
        y, x = vertex
    except (TypeError, ValueError):
        raise InputError(
            f"polygon vertex {vertex!r} is not a (y, x) pair; give vertices as 'y,x'",
            field="patch_polygon",
        ) from None
    return _coordinate(y, vertex), _coordinate(x, vertex)


def _coordinate(value: object, vertex: object) -> Fraction:
    if isinstance(value, Fraction | int) and not isinstance(value, bool):
        return Fraction(value)
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(value)
    if isinstance(value, str):
        try:
            return Fraction(value.strip())
        except (ValueError, ZeroDivisionError):
            pass
    raise InputError(
        f"polygon vertex {vertex!r} has a coordinate {value!r} that is not a finite "
        "number; give numbers such as 12 or 12.5",
        field="patch_polygon",
    )


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):g}"


def _polygon_text(vertices: Sequence[Vertex]) -> str:
    return " ".join(f"{_number(y)},{_number(x)}" for y, x in vertices)


def _floor(value: Fraction) -> int:
    return math.floor(value)


def _ceil(value: Fraction) -> int:
    return math.ceil(value)


def _rasterise_polygon(
    vertices: tuple[Vertex, ...],
) -> tuple[NDArray[np.bool_] | None, tuple[int, int]]:
    """Pixels whose open square meets the closed, non-zero-filled polygon.

    Returns the mask over the pixel box that contains the polygon and that box's
    top-left pixel, or ``(None, ...)`` when no pixel is met.
    """
    import numpy as np

    ys = [y for y, _ in vertices]
    xs = [x for _, x in vertices]
    top, left = _floor(min(ys)), _floor(min(xs))
    bottom, right = _ceil(max(ys)), _ceil(max(xs))  # exclusive pixel bounds
    height, width = bottom - top, right - left
    if height <= 0 or width <= 0:
        return None, (top, left)
    pixels = np.zeros((height, width), dtype=bool)
    edges = list(zip(vertices, vertices[1:] + vertices[:1], strict=True))
    for start, end in edges:
        _mark_edge(pixels, start, end, top, left)
    pixels |= _winding_inside(edges, top, left, height, width)
    if not pixels.any():
        return None, (top, left)
    return pixels, (top, left)


def _mark_edge(pixels: NDArray[np.bool_], start: Vertex, end: Vertex, top: int, left: int) -> None:
    """Mark the pixels whose open square the closed segment ``start``-``end`` meets.

    Row band by row band, exactly: in the open band ``r < y < r + 1`` the segment
    covers an x-interval; an open pixel square ``(c, c + 1)`` meets it when the
    interval has interior and ``c < x_max`` and ``c + 1 > x_min``, or, for a vertical
    piece, when ``c < x < c + 1``.
    """
    (y0, x0), (y1, x1) = start, end
    if y0 == y1:
        if _floor(y0) == y0:
            return  # along a pixel border: inside no open square
        row = _floor(y0) - top
        lo, hi = min(x0, x1), max(x1, x0)
        _mark_span(pixels, row, lo, hi, left)
        return
    if y0 > y1:
        (y0, x0), (y1, x1) = (y1, x1), (y0, x0)
    slope = (x1 - x0) / (y1 - y0)
    for r in range(_floor(y0), _ceil(y1)):
        band_lo, band_hi = max(Fraction(r), y0), min(Fraction(r + 1), y1)
        if band_lo >= band_hi:
            continue
        xa, xb = x0 + (band_lo - y0) * slope, x0 + (band_hi - y0) * slope
        _mark_span(pixels, r - top, min(xa, xb), max(xa, xb), left)


def _mark_span(pixels: NDArray[np.bool_], row: int, lo: Fraction, hi: Fraction, left: int) -> None:
    """Mark the open squares of ``row`` that meet the x-interval ``[lo, hi]``."""
    if lo < hi:
        first, last = _floor(lo), _ceil(hi) - 1
    elif _floor(lo) != lo:
        first = last = _floor(lo)
    else:
        return  # a point on a pixel border
    pixels[row, first - left : last - left + 1] = True


def _winding_inside(
    edges: Sequence[tuple[Vertex, Vertex]], top: int, left: int, height: int, width: int
) -> NDArray[np.bool_]:
    """Pixels whose centre has a non-zero winding number.

    Which rows an edge crosses is decided exactly (half-open in y, so a vertex on a
    centre line is counted once); where it crosses is a float, which can only move
    the boundary by one pixel next to an edge passing within rounding of a centre,
    a pixel that :func:`_mark_edge` has marked already.
    """
    import numpy as np

    winding = np.zeros((height, width + 1), dtype=np.int64)
    half = Fraction(1, 2)
    for (y0, x0), (y1, x1) in edges:
        if y0 == y1:
            continue
        sign = 1 if y1 > y0 else -1
        low, high = min(y0, y1), max(y0, y1)
        # Centres r + 1/2 with low <= r + 1/2 < high.
        first, last = _ceil(low - half), _ceil(high - half) - 1
        if last < first:
            continue
        centres = np.arange(first, last + 1, dtype=np.float64) + 0.5
        crossing = float(x0) + (centres - float(y0)) * (float(x1 - x0) / float(y1 - y0))
        # Centres c + 1/2 left of the crossing get the edge's sign (a ray to the right).
        stop = np.clip(np.ceil(crossing - 0.5 - left), 0, width).astype(np.int64)
        rows = np.arange(first - top, last - top + 1)
        winding[rows, 0] += sign
        np.subtract.at(winding, (rows, stop), sign)
    inside: NDArray[np.bool_] = np.cumsum(winding, axis=1)[:, :width] != 0
    return inside
