"""Patch shapes as pixel masks, and mask files (cropcalc.geometry.shapes, .maskfile).

The rule under test: a pixel is sensitive when the region meets its open unit
square (it holds a positive area of the region). References: witnesses built with
exact fractions (a point strictly inside both the square and the region), dense
supersampling, Sutherland-Hodgman clipping of the polygon against every pixel with
exact areas, and the area of a disc.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from cropcalc.errors import InputError, MissingExtraError
from cropcalc.geometry import PatchShape, ShapeKind, load_mask, parse_polygon
from cropcalc.geometry.maskfile import PNG_HINT

Point = tuple[Fraction, Fraction]

# --- ellipse ----------------------------------------------------------------------------


def ellipse_q(h: int, w: int, y: Fraction, x: Fraction) -> Fraction:
    return ((2 * y - h) / h) ** 2 + ((2 * x - w) / w) ** 2


def ellipse_reference(h: int, w: int) -> NDArray[np.bool_]:
    """Pixel (r, c) is in iff some point strictly inside its square is strictly inside.

    The point of the closed square nearest the centre (per-axis clamp, the
    ellipse's metric being separable) decides; a pixel that passes gets a witness
    moved towards the square's centre, checked exactly.
    """
    out = np.zeros((h, w), dtype=bool)
    centre = (Fraction(h, 2), Fraction(w, 2))
    for r in range(h):
        for c in range(w):
            near = (min(max(centre[0], Fraction(r)), Fraction(r + 1)),
                    min(max(centre[1], Fraction(c)), Fraction(c + 1)))  # fmt: skip
            if ellipse_q(h, w, *near) >= 1:
                continue
            step = Fraction(1, 10**6)
            witness = (near[0] + step * (r + Fraction(1, 2) - near[0]),
                       near[1] + step * (c + Fraction(1, 2) - near[1]))  # fmt: skip
            assert r < witness[0] < r + 1 and c < witness[1] < c + 1
            assert ellipse_q(h, w, *witness) < 1
            out[r, c] = True
    return out


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 24), st.integers(1, 24))
def test_ellipse_matches_the_exact_rule(h: int, w: int) -> None:
    shape = PatchShape.ellipse(h, w)
    assert shape.kind is ShapeKind.ELLIPSE
    assert shape.size == (h, w)  # the four tangent points keep the full box
    np.testing.assert_array_equal(shape.mask(), ellipse_reference(h, w))
    mask = shape.mask()
    np.testing.assert_array_equal(mask, mask[::-1])
    np.testing.assert_array_equal(mask, mask[:, ::-1])


@pytest.mark.parametrize(("h", "w"), [(7, 7), (31, 31), (12, 40), (5, 2)])
def test_ellipse_contains_every_supersampled_hit(h: int, w: int) -> None:
    # 16 x 16 samples strictly inside each pixel; any one strictly inside the
    # ellipse makes the pixel sensitive (conservative: never fewer pixels).
    offsets = (np.arange(16) + 0.5) / 16
    ys = (np.arange(h)[:, None] + offsets[None, :]).ravel()
    xs = (np.arange(w)[:, None] + offsets[None, :]).ravel()
    inside = ((2 * ys[:, None] - h) / h) ** 2 + ((2 * xs[None, :] - w) / w) ** 2 < 1 - 1e-12
    sampled = inside.reshape(h, 16, w, 16).any(axis=(1, 3))
    mask = PatchShape.ellipse(h, w).mask()
    assert (mask >= sampled).all()


@pytest.mark.parametrize("diameter", [1, 2, 3, 10, 31, 113, 151, 400])
def test_circle_pixel_count_is_bracketed_by_areas(diameter: int) -> None:
    # Every sensitive pixel meets the disc, so it lies in the disc grown by the
    # pixel diagonal; every point of the disc is in a sensitive or border pixel.
    radius = diameter / 2
    count = PatchShape.ellipse(diameter, diameter).pixel_count
    assert math.pi * radius**2 <= count <= math.pi * (radius + math.sqrt(2)) ** 2
    if diameter == 151:
        assert count == 18177  # pinned: the benchmark's circle


def test_small_ellipses() -> None:
    assert PatchShape.ellipse(1, 5).mask().all()
    assert PatchShape.ellipse(2, 2).mask().all()
    # Conservative: a corner pixel of a 3x3 or 5x5 circle holds a sliver of it (its
    # inner corner is 0.71 or 2.12 from the centre, inside radius 1.5 or 2.5) ...
    assert PatchShape.ellipse(3, 3).mask().all()
    assert PatchShape.ellipse(5, 5).mask().all()
    # ... while a 7x7 circle misses its corner pixels (3.54 > 3.5).
    seven = PatchShape.ellipse(7, 7).mask()
    assert seven.sum() == 45
    assert not seven[0, 0] and not seven[6, 6] and seven[0, 1] and seven[1, 0]


# --- polygon ----------------------------------------------------------------------------


def clip_area(polygon: list[Point], r: int, c: int) -> Fraction:
    """Exact area of the polygon inside pixel (r, c) (Sutherland-Hodgman)."""

    def clip(points: list[Point], inside: object, cross: object) -> list[Point]:
        out: list[Point] = []
        for k, current in enumerate(points):
            previous = points[k - 1]
            now_in, before_in = inside(current), inside(previous)  # type: ignore[operator]
            if now_in:
                if not before_in:
                    out.append(cross(previous, current))  # type: ignore[operator]
                out.append(current)
            elif before_in:
                out.append(cross(previous, current))  # type: ignore[operator]
        return out

    def on_y(level: Fraction) -> object:
        return lambda p, q: (level, p[1] + (q[1] - p[1]) * (level - p[0]) / (q[0] - p[0]))

    def on_x(level: Fraction) -> object:
        return lambda p, q: (p[0] + (q[0] - p[0]) * (level - p[1]) / (q[1] - p[1]), level)

    points = polygon
    for inside, cross in (
        (lambda p: p[0] >= r, on_y(Fraction(r))),
        (lambda p: p[0] <= r + 1, on_y(Fraction(r + 1))),
        (lambda p: p[1] >= c, on_x(Fraction(c))),
        (lambda p: p[1] <= c + 1, on_x(Fraction(c + 1))),
    ):
        points = clip(points, inside, cross)
        if not points:
            return Fraction(0)
    twice = sum(
        (p[0] * q[1] - q[0] * p[1] for p, q in zip(points, points[1:] + points[:1], strict=True)),
        Fraction(0),
    )
    return abs(twice) / 2


def segments_cross(p: Point, q: Point, s: Point, t: Point) -> bool:
    def orient(a: Point, b: Point, c: Point) -> Fraction:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(s, t, p), orient(s, t, q)
    d3, d4 = orient(p, q, s), orient(p, q, t)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    return 0 in (d1, d2, d3, d4)  # touching or collinear: treat as not simple


def is_simple(polygon: list[Point]) -> bool:
    edges = list(zip(polygon, polygon[1:] + polygon[:1], strict=True))
    for k, (p, q) in enumerate(edges):
        for m in range(k + 1, len(edges)):
            if m in (k + 1, k - 1 + len(edges)) or (k == 0 and m == len(edges) - 1):
                continue
            if segments_cross(p, q, *edges[m]):
                return False
    return True


@st.composite
def star_polygons(draw: st.DrawFn) -> list[Point]:
    """Star-shaped polygons with quarter-pixel vertices, kept only when simple."""
    n = draw(st.integers(3, 8))
    angles = sorted(
        draw(
            st.lists(
                st.floats(0, 2 * math.pi, exclude_max=True), min_size=n, max_size=n, unique=True
            )
        )
    )
    centre = (draw(st.integers(8, 16)), draw(st.integers(8, 16)))
    polygon: list[Point] = []
    for angle in angles:
        radius = draw(st.floats(0.5, 7.5))
        y = Fraction(round(4 * (centre[0] + radius * math.sin(angle))), 4)
        x = Fraction(round(4 * (centre[1] + radius * math.cos(angle))), 4)
        polygon.append((y, x))
    assume(len(set(polygon)) == n and is_simple(polygon))
    twice = sum(
        p[0] * q[1] - q[0] * p[1] for p, q in zip(polygon, polygon[1:] + polygon[:1], strict=True)
    )
    assume(twice != 0)
    return polygon


@settings(max_examples=60, deadline=None)
@given(star_polygons())
def test_polygon_matches_exact_clipped_areas(polygon: list[Point]) -> None:
    shape = PatchShape.polygon(polygon)
    top, left = shape.origin
    h, w = shape.size
    mask = shape.mask()
    ys = [p[0] for p in polygon]
    xs = [p[1] for p in polygon]
    for r in range(math.floor(min(ys)) - 1, math.ceil(max(ys)) + 1):
        for c in range(math.floor(min(xs)) - 1, math.ceil(max(xs)) + 1):
            expected = clip_area(polygon, r, c) > 0
            inside_box = top <= r < top + h and left <= c < left + w
            got = inside_box and bool(mask[r - top, c - left])
            assert got == expected, (r, c)
    # Orientation does not matter.
    reversed_shape = PatchShape.polygon(polygon[::-1])
    assert reversed_shape.origin == shape.origin
    np.testing.assert_array_equal(reversed_shape.mask(), mask)


@pytest.mark.parametrize(
    ("corners", "origin", "size"),
    [
        ((2, 3, 7, 11), (2, 3), (5, 8)),  # integer corners: exactly that box
        ((Fraction(5, 2), 3, 7, Fraction(21, 2)), (2, 3), (5, 8)),  # partly covered pixels count
        ((0, 0, 1, 1), (0, 0), (1, 1)),
    ],
)
def test_axis_aligned_rectangle_gives_exactly_its_box(
    corners: tuple[Fraction, Fraction, Fraction, Fraction],
    origin: tuple[int, int],
    size: tuple[int, int],
) -> None:
    y0, x0, y1, x1 = corners
    shape = PatchShape.polygon([(y0, x0), (y0, x1), (y1, x1), (y1, x0)])
    assert (shape.origin, shape.size, shape.located) == (origin, size, True)
    assert shape.mask().all()


def test_polygon_coordinates_are_read_exactly() -> None:
    # 0.1 is not a binary float; read from text it is exactly 1/10.
    text = parse_polygon("0.1,0 0.1,3 2.9,3 2.9,0")
    assert text[0] == (Fraction(1, 10), Fraction(0))
    shape = PatchShape.polygon(text)
    assert (shape.origin, shape.size) == ((0, 0), (3, 3))


def test_degenerate_polygons() -> None:
    # A zero-area diagonal passes through the open squares of the diagonal pixels
    # only (it meets the others at corners): drawn like a line, conservatively.
    line = PatchShape.polygon([(0, 0), (4, 4), (8, 8)])
    np.testing.assert_array_equal(line.mask(), np.eye(8, dtype=bool))
    with pytest.raises(InputError) as caught:
        PatchShape.polygon([(2, 0), (2, 5), (2, 9)])
    assert caught.value.field == "patch_polygon"
    assert "covers no pixel" in caught.value.message


def test_self_intersecting_polygon_is_filled_by_nonzero_winding() -> None:
    # A pentagram: even-odd would leave the central pentagon empty.
    points = [(10 + 9 * math.sin(a), 10 + 9 * math.cos(a)) for a in np.arange(5) * 4 * math.pi / 5]
    star = PatchShape.polygon([(Fraction(round(y, 3)), Fraction(round(x, 3))) for y, x in points])
    top, left = star.origin
    assert star.mask()[10 - top, 10 - left]


def test_parse_polygon_errors() -> None:
    exact = tuple((Fraction(y), Fraction(x)) for y, x in ((1, 2), (3, 4), (5, 6)))
    assert parse_polygon(" 1,2  3,4\t5,6 ") == exact
    for text, says in [
        ("1,2 3,4", "2 vertices"),
        ("1,2 3;4 5,6", "'3;4'"),
        ("1,2 a,4 5,6", "'a'"),
        ("1,2 nan,4 5,6", "'nan'"),
        ("1,2,3 4,5 6,7", "'1,2,3'"),
    ]:
        with pytest.raises(InputError) as caught:
            parse_polygon(text)
        assert caught.value.field == "patch_polygon"
        assert says in caught.value.message
        assert "\n" not in caught.value.message
    with pytest.raises(InputError) as caught:
        PatchShape.polygon([(0, 0), (1, 1)])
    assert "at least three" in caught.value.message


# --- boxes and given masks -----------------------------------------------------------------


def test_boxes_are_one_unit() -> None:
    shape = PatchShape.boxes([(10, 20, 3, 4), (12, 30, 2, 2), (11, 21, 1, 1)])
    assert (shape.kind, shape.origin, shape.size, shape.located) == (
        ShapeKind.BOXES,
        (10, 20),
        (4, 12),
        True,
    )
    expected = np.zeros((4, 12), dtype=bool)
    expected[0:3, 0:4] = True
    expected[2:4, 10:12] = True
    np.testing.assert_array_equal(shape.mask(), expected)
    assert shape.pixel_count == 16
    for bad in ([], [(0, 0, 0, 3)], [(-1, 0, 2, 2)], [(0, 0, 2)], [(0.5, 0, 2, 2)]):
        with pytest.raises(InputError) as caught:
            PatchShape.boxes(bad)  # type: ignore[arg-type]
        assert caught.value.field == "patch_at"


def test_given_mask_is_trimmed_to_its_sensitive_pixels() -> None:
    array = np.zeros((6, 7), dtype=np.uint8)
    array[2, 3] = array[4, 1] = 1
    shape = PatchShape.from_mask(array)
    assert (shape.kind, shape.origin, shape.size, shape.located) == (
        ShapeKind.MASK,
        (2, 1),
        (3, 3),
        False,
    )
    assert shape.mask().tolist() == [
        [False, False, True],
        [False, False, False],
        [True, False, False],
    ]
    assert shape.pixels is not None and not shape.pixels.flags.writeable
    array[2, 3] = 0  # the shape holds its own copy
    assert shape.pixel_count == 2


@pytest.mark.parametrize(
    ("array", "says"),
    [
        (np.ones((2, 2, 3), dtype=bool), "(2, 2, 3)"),
        (np.ones(4, dtype=bool), "(4,)"),
        (np.ones((2, 2)), "float64"),
        (np.array([[0, 1], [2, 0]]), "holds 2 at (y=1, x=0)"),
        (np.zeros((3, 4), dtype=bool), "3x4 has no sensitive pixel"),
        (np.zeros((0, 4), dtype=bool), "no sensitive pixel"),
    ],
)
def test_bad_masks_name_their_field(array: NDArray[np.generic], says: str) -> None:
    with pytest.raises(InputError) as caught:
        PatchShape.from_mask(array)
    assert caught.value.field == "patch_mask"
    assert says in caught.value.message
    assert "\n" not in caught.value.message


def test_box_and_ellipse_sizes_are_checked() -> None:
    with pytest.raises(InputError) as caught:
        PatchShape.ellipse(0, 4)
    assert caught.value.field == "patch"
    with pytest.raises(InputError):
        PatchShape.box(3, -1)
    assert PatchShape.box(3, 4).mask().all() and PatchShape.box(3, 4).pixel_count == 12


# --- mask files ------------------------------------------------------------------------------


def test_npy_masks(tmp_path: Path) -> None:
    array = np.zeros((5, 6), dtype=bool)
    array[1:3, 2:5] = True
    np.save(tmp_path / "face.npy", array)
    shape = load_mask(tmp_path / "face.npy")
    assert (shape.origin, shape.size, shape.pixel_count) == ((1, 2), (2, 3), 6)
    np.save(tmp_path / "ints.npy", array.astype(np.int16))
    (tmp_path / "ints.npy").rename(tmp_path / "ints.NPY")  # the suffix is not case-sensitive
    assert load_mask(str(tmp_path / "ints.NPY")).pixel_count == 6


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [
        ("missing.npy", None, "does not exist"),
        ("mask.tif", b"II*\x00", "neither .npy nor .png"),
        ("broken.npy", b"not an array", "not a readable .npy"),
        ("rgb.npy", np.ones((2, 2, 3), dtype=bool), "not 2-D"),
        ("empty.npy", np.zeros((2, 2), dtype=np.uint8), "no sensitive pixel"),
        ("grey.npy", np.full((2, 2), 255, dtype=np.uint8), "holds 255"),
        ("pickled.npy", np.array([{"a": 1}], dtype=object), "not a readable .npy"),
    ],
)
def test_bad_mask_files_name_their_field(
    tmp_path: Path, name: str, make: object, says: str
) -> None:
    path = tmp_path / name
    if isinstance(make, bytes):
        write(path, make)
    elif isinstance(make, np.ndarray):
        np.save(path, make, allow_pickle=True)
    with pytest.raises(InputError) as caught:
        load_mask(path)
    assert caught.value.field == "patch_mask"
    assert says in caught.value.message
    assert name in caught.value.message
    assert "\n" not in caught.value.message


def test_png_masks(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image")
    grey = np.zeros((6, 8), dtype=np.uint8)
    grey[2:4, 3:6] = 200
    image.fromarray(grey, mode="L").save(tmp_path / "grey.png")
    shape = load_mask(tmp_path / "grey.png")
    assert (shape.origin, shape.size, shape.pixel_count) == ((2, 3), (2, 3), 6)

    # RGBA: opaque black background, white patch; alpha is not a value.
    rgba = np.zeros((6, 8, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[1, 1, :3] = 255
    rgba[4, 6, 0] = 1
    image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    assert load_mask(tmp_path / "rgba.png").size == (4, 6)

    # Palette: index 0 is a non-black colour, so the palette is expanded first.
    palette = image.fromarray(np.array([[0, 1], [1, 1]], dtype=np.uint8), mode="P")
    palette.putpalette([9, 9, 9, 0, 0, 0] + [0] * 762)
    palette.save(tmp_path / "palette.png")
    assert load_mask(tmp_path / "palette.png").mask().tolist() == [[True]]

    bilevel = image.fromarray(np.eye(3, dtype=bool))
    bilevel.save(tmp_path / "bits.png")
    np.testing.assert_array_equal(load_mask(tmp_path / "bits.png").mask(), np.eye(3, dtype=bool))

    image.fromarray(np.zeros((3, 3), dtype=np.uint8)).save(tmp_path / "blank.png")
    write(tmp_path / "fake.png", b"\x89PNG\r\n\x1a\n garbage")
    image.fromarray(grey).save(tmp_path / "really.png", format="BMP")
    for name, says in [
        ("blank.png", "no sensitive pixel"),
        ("fake.png", "not a readable PNG"),
        ("really.png", "BMP"),
    ]:
        with pytest.raises(InputError) as caught:
            load_mask(tmp_path / name)
        assert caught.value.field == "patch_mask"
        assert says in caught.value.message


def test_png_without_pillow_gives_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    write(tmp_path / "mask.png", b"\x89PNG\r\n\x1a\n")
    with pytest.raises(MissingExtraError) as caught:
        load_mask(tmp_path / "mask.png")
    assert caught.value.field == "patch_mask"
    assert PNG_HINT in caught.value.message
    assert "cropcalc[png]" in caught.value.message
