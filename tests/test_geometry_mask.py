"""Exact inclusion of arbitrary masks (cropcalc.geometry.inclusion and .mask).

References, each independent of the code under test: a brute force that replays
torchvision's ``RandomCrop.forward`` with ``numpy.pad`` on an image of pixel
indices, paints the placed mask through it and enumerates every crop offset with a
summed-area table; a Monte-Carlo simulation drawing offsets the way
``RandomCrop.get_params`` does; the per-axis closed form for boxes; and exact
fractions for the augmentation multiplicity.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from cropcalc.errors import InputError
from cropcalc.geometry import (
    MAX_AUGMULT,
    CropAxis,
    CropGeometry,
    Padding,
    PaddingMode,
    PatchShape,
    box_inclusion,
    inclusion,
)
from cropcalc.geometry.mask import extent_runs, mask_count_blocks

Pair = tuple[int, int]
Setup = tuple[Pair, Pair, Padding, bool, NDArray[np.bool_]]

NUMPY_MODES: dict[PaddingMode, Literal["edge", "reflect", "symmetric"]] = {
    PaddingMode.EDGE: "edge",
    PaddingMode.REFLECT: "reflect",
    PaddingMode.SYMMETRIC: "symmetric",
}

# --- independent reference ------------------------------------------------------------


def padded_sources(
    image: Pair, crop: Pair, padding: Padding, pad_if_needed: bool
) -> NDArray[np.int64]:
    """RandomCrop.forward on an image whose pixels hold their own index (-1 = fill)."""

    def pad(
        img: NDArray[np.int64], top: int, bottom: int, left: int, right: int
    ) -> NDArray[np.int64]:
        widths = ((top, bottom), (left, right))
        if padding.mode is PaddingMode.CONSTANT:
            return np.pad(img, widths, mode="constant", constant_values=-1)
        padded: NDArray[np.int64] = np.pad(img, widths, mode=NUMPY_MODES[padding.mode])
        return padded

    img = np.arange(image[0] * image[1], dtype=np.int64).reshape(image)
    img = pad(img, padding.top, padding.bottom, padding.left, padding.right)
    if pad_if_needed and img.shape[1] < crop[1]:
        img = pad(img, 0, 0, crop[1] - img.shape[1], crop[1] - img.shape[1])
    if pad_if_needed and img.shape[0] < crop[0]:
        img = pad(img, crop[0] - img.shape[0], crop[0] - img.shape[0], 0, 0)
    return img


def including_offsets(
    sources: NDArray[np.int64], width: int, crop: Pair, mask: NDArray[np.bool_], at: Pair
) -> NDArray[np.bool_]:
    """For every crop offset (i, j): does the window show a pixel of the placed mask?"""
    rows, cols = np.divmod(np.maximum(sources, 0), width)
    rows, cols = rows - at[0], cols - at[1]
    inside = (sources >= 0) & (rows >= 0) & (rows < mask.shape[0])
    inside &= (cols >= 0) & (cols < mask.shape[1])
    padded_h, padded_w = sources.shape
    shown = np.zeros((padded_h, padded_w), dtype=bool)
    shown[inside] = mask[rows[inside], cols[inside]]
    table = np.zeros((padded_h + 1, padded_w + 1), dtype=np.int64)
    table[1:, 1:] = shown.cumsum(axis=0).cumsum(axis=1)
    th, tw = crop
    sums = table[th:, tw:] - table[:-th, tw:] - table[th:, :-tw] + table[:-th, :-tw]
    hits: NDArray[np.bool_] = sums > 0
    return hits


def brute_map(
    sources: NDArray[np.int64], image: Pair, crop: Pair, mask: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Including offsets for every placement, one placement at a time."""
    h, w = mask.shape
    out = np.zeros((image[0] - h + 1, image[1] - w + 1), dtype=np.int64)
    for a, b in np.ndindex(*out.shape):
        out[a, b] = np.count_nonzero(including_offsets(sources, image[1], crop, mask, (a, b)))
    return out


def test_reference_matches_a_literal_loop() -> None:
    # The summed-area shortcut of the reference is itself checked by enumeration.
    image, crop = (5, 6), (3, 4)
    padding = Padding(3, 2, 0, 1, PaddingMode.REFLECT)
    mask = np.array([[1, 0, 0], [0, 0, 1]], dtype=bool)
    sources = padded_sources(image, crop, padding, pad_if_needed=False)
    rows, cols = np.divmod(np.maximum(sources, 0), image[1])
    literal = 0
    for i in range(sources.shape[0] - crop[0] + 1):
        for j in range(sources.shape[1] - crop[1] + 1):
            window = (slice(i, i + crop[0]), slice(j, j + crop[1]))
            shows = {
                (int(r) - 1, int(c) - 2)
                for r, c, s in zip(
                    rows[window].ravel(), cols[window].ravel(), sources[window].ravel(), strict=True
                )
                if s >= 0
            }
            literal += any(mask[y, x] for y, x in shows if 0 <= y < 2 and 0 <= x < 3)
    hits = including_offsets(sources, image[1], crop, mask, (1, 2))
    assert literal == np.count_nonzero(hits)


# --- strategies -------------------------------------------------------------------------


def accepted(image: Pair, crop: Pair, padding: Padding, pad_if_needed: bool) -> bool:
    try:
        CropGeometry(image, crop, padding, pad_if_needed)
    except InputError:
        return False
    return True


@st.composite
def setups(draw: st.DrawFn, max_side: int = 7) -> Setup:
    """A valid small RandomCrop and a random mask (possibly with empty margins)."""
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    mode = draw(st.sampled_from(PaddingMode))
    limit_h = height - 1 if mode is PaddingMode.REFLECT else 6
    limit_w = width - 1 if mode is PaddingMode.REFLECT else 6
    top, bottom = draw(st.integers(0, limit_h)), draw(st.integers(0, limit_h))
    left, right = draw(st.integers(0, limit_w)), draw(st.integers(0, limit_w))
    padding = Padding(left, top, right, bottom, mode)
    padded = (height + top + bottom, width + left + right)
    pad_if_needed = draw(st.booleans())
    crop = (draw(st.integers(1, 2 * padded[0] - 1)), draw(st.integers(1, 2 * padded[1] - 1)))
    if not accepted((height, width), crop, padding, pad_if_needed):
        crop = (min(crop[0], padded[0]), min(crop[1], padded[1]))
    h, w = draw(st.integers(1, height)), draw(st.integers(1, width))
    bits = draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
    mask = np.array(bits, dtype=bool).reshape(h, w)
    if not mask.any():
        mask[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = True
    return (height, width), crop, padding, pad_if_needed, mask


FAST = settings(max_examples=150, deadline=None)
THOROUGH = settings(max_examples=400, deadline=None)


# --- exactness ----------------------------------------------------------------------------


@THOROUGH
@given(setups(), st.data())
def test_every_mode_matches_brute_force(setup: Setup, data: st.DataObject) -> None:
    image, crop, padding, pad_if_needed, given_mask = setup
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    shape = PatchShape.from_mask(given_mask)
    mask = shape.mask()
    sources = padded_sources(image, crop, padding, pad_if_needed)
    expected = brute_map(sources, image, crop, mask)
    positions = (sources.shape[0] - crop[0] + 1) * (sources.shape[1] - crop[1] + 1)

    worst = inclusion(geometry, shape, with_map=True)
    assert worst.counts is not None
    np.testing.assert_array_equal(worst.counts, expected)
    first = np.unravel_index(np.argmax(expected), expected.shape)
    assert worst.numerator == expected.max()
    assert worst.denominator == positions == geometry.crop_positions
    assert worst.placement == (int(first[0]), int(first[1]))
    assert worst.ties == np.count_nonzero(expected == expected.max())
    assert worst.fraction == Fraction(int(expected.max()), positions)
    # Streaming the worst case without a map finds the same placement.
    streamed = inclusion(geometry, shape)
    assert streamed.counts is None
    assert (streamed.numerator, streamed.placement, streamed.ties) == (
        worst.numerator,
        worst.placement,
        worst.ties,
    )

    at = (
        data.draw(st.integers(0, expected.shape[0] - 1)),
        data.draw(st.integers(0, expected.shape[1] - 1)),
    )
    known = inclusion(geometry, shape, at=at)
    assert (known.numerator, known.placement, known.worst_case) == (expected[at], at, False)


@st.composite
def hand_built_axes(draw: st.DrawFn) -> tuple[CropAxis, CropAxis, NDArray[np.bool_]]:
    """Axes with several padding stages: folds land inside the image (not via RandomCrop)."""
    mode = draw(st.sampled_from(PaddingMode))

    def axis(length: int) -> CropAxis:
        stages = tuple(
            (draw(st.integers(0, 5)), draw(st.integers(0, 5)))
            for _ in range(draw(st.integers(0, 3)))
        )
        padded = length + sum(a + b for a, b in stages)
        return CropAxis(length, draw(st.integers(1, padded)), stages, mode)

    height, width = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    h, w = draw(st.integers(1, height)), draw(st.integers(1, width))
    bits = draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w))
    mask = np.array(bits, dtype=bool).reshape(h, w)
    mask[0, 0] = True
    return axis(height), axis(width), mask


@FAST
@given(hand_built_axes(), st.data())
def test_hand_built_axes_and_sub_ranges_match_brute_force(
    axes: tuple[CropAxis, CropAxis, NDArray[np.bool_]], data: st.DataObject
) -> None:
    # Multi-stage reflect/symmetric folds at interior rows take the offset-by-offset
    # fallback; sub-rectangles of placements exercise the clamped lookups.
    rows, cols, mask = axes
    row_source, col_source = rows.source_index(), cols.source_index()
    sources = np.where(
        (row_source[:, None] >= 0) & (col_source[None, :] >= 0),
        row_source[:, None] * cols.length + col_source[None, :],
        -1,
    )
    image = (rows.length, cols.length)
    expected = brute_map(sources, image, (rows.crop, cols.crop), mask)
    a0 = data.draw(st.integers(0, expected.shape[0] - 1))
    a1 = data.draw(st.integers(a0, expected.shape[0] - 1))
    b0 = data.draw(st.integers(0, expected.shape[1] - 1))
    b1 = data.draw(st.integers(b0, expected.shape[1] - 1))
    got = np.concatenate(
        [block.copy() for _, block in mask_count_blocks(mask, rows, cols, (a0, a1), (b0, b1))]
    )
    np.testing.assert_array_equal(got, expected[a0 : a1 + 1, b0 : b1 + 1])


def test_runs_cover_every_showing_window() -> None:
    axis = CropAxis(6, 3, ((2, 2), (4, 4)), PaddingMode.REFLECT)
    first, last = axis.window_extents()
    runs = extent_runs(first, last)
    replayed = [
        (run.first + t * run.step_first, run.last + t * run.step_last)
        for run in runs
        for t in range(run.count)
    ]
    assert replayed == list(zip(first.tolist(), last.tolist(), strict=True))
    # Constant fill wider than the crop: windows showing nothing are dropped.
    fill = CropAxis(4, 2, ((5, 5),), PaddingMode.CONSTANT)
    first, last = fill.window_extents()
    assert sum(run.count for run in extent_runs(first, last)) == int(
        np.count_nonzero(last >= first)
    )


@FAST
@given(setups(max_side=9))
def test_a_box_given_as_a_mask_is_identical_to_the_box(setup: Setup) -> None:
    image, crop, padding, pad_if_needed, mask = setup
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    full = PatchShape.from_mask(np.ones(mask.shape, dtype=bool))
    as_mask = inclusion(geometry, full, with_map=True)
    as_box = inclusion(geometry, PatchShape.box(*mask.shape), with_map=True)
    assert as_mask == as_box
    assert as_mask.counts is not None and as_box.counts is not None
    np.testing.assert_array_equal(as_mask.counts, as_box.counts)
    size = (mask.shape[0], mask.shape[1])
    legacy = box_inclusion(geometry, size)
    assert legacy == inclusion(geometry, size)
    assert legacy == inclusion(geometry, full)


@FAST
@given(setups(max_side=9), st.data())
def test_worst_case_dominates_every_placement(setup: Setup, data: st.DataObject) -> None:
    image, crop, padding, pad_if_needed, mask = setup
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    shape = PatchShape.from_mask(mask)
    worst = inclusion(geometry, shape, with_map=True)
    assert worst.counts is not None
    assert worst.counts.max() == worst.numerator
    at = (
        data.draw(st.integers(0, image[0] - shape.size[0])),
        data.draw(st.integers(0, image[1] - shape.size[1])),
    )
    known = inclusion(geometry, shape, at=at)
    assert known.fraction <= worst.fraction
    assert 0 < worst.probability <= 1
    # More sensitive pixels never lower p: the bounding box dominates the mask.
    box = inclusion(geometry, PatchShape.box(*shape.size), at=at)
    assert box.numerator >= known.numerator


MONTE_CARLO_CASES = [
    # An ellipse near the top-left corner: reflected copies are visible.
    (
        (40, 50),
        (12, 10),
        Padding(8, 8, 8, 8, PaddingMode.REFLECT),
        False,
        PatchShape.ellipse(7, 9),
        (1, 2),
    ),
    # A diagonal polygon under edge padding and pad_if_needed in the rows.
    (
        (6, 40),
        (14, 9),
        Padding(12, 0, 5, 1, PaddingMode.EDGE),
        True,
        PatchShape.polygon([(0, 0), (5, 7), (2, 9)]),
        (0, 0),
    ),
    # Two boxes (one unit) under symmetric padding, pad_if_needed in the rows.
    (
        (20, 24),
        (36, 6),
        Padding(8, 4, 8, 2, PaddingMode.SYMMETRIC),
        True,
        PatchShape.boxes([(0, 0, 2, 3), (5, 6, 1, 1)]),
        (12, 0),
    ),
]


@pytest.mark.parametrize("case", MONTE_CARLO_CASES)
def test_monte_carlo_like_get_params(
    case: tuple[Pair, Pair, Padding, bool, PatchShape, Pair],
) -> None:
    image, crop, padding, pad_if_needed, shape, at = case
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    exact = inclusion(geometry, shape, at=at).probability
    sources = padded_sources(image, crop, padding, pad_if_needed)
    hits = including_offsets(sources, image[1], crop, shape.mask(), at)
    # RandomCrop.get_params: i = torch.randint(0, h - th + 1, size=(1,)), j likewise.
    rng = np.random.default_rng(31337)
    draws = 40_000
    i = rng.integers(0, sources.shape[0] - crop[0] + 1, size=draws)
    j = rng.integers(0, sources.shape[1] - crop[1] + 1, size=draws)
    estimate = float(hits[i, j].mean())
    standard_error = max(math.sqrt(exact * (1 - exact) / draws), 1 / draws)
    assert abs(estimate - exact) <= 5 * standard_error
    # Copies in the padding matter here: constant padding would report less.
    constant = Padding(padding.left, padding.top, padding.right, padding.bottom)
    lower = inclusion(CropGeometry(image, crop, constant, pad_if_needed), shape, at=at)
    assert exact > lower.probability


# --- spec vectors, sizes ------------------------------------------------------------------


def test_spec_vectors_through_the_mask_path() -> None:
    full = PatchShape.from_mask(np.ones((64, 64), dtype=bool))
    result = inclusion(CropGeometry((1024, 2048), (512, 512)), full)
    assert result.fraction == Fraction(575, 1537)
    rect = PatchShape.from_mask(np.ones((12, 40), dtype=bool))
    geometry = CropGeometry((300, 400), (160, 160), Padding.from_sequence([10]))
    assert inclusion(geometry, rect).fraction == Fraction(199, 261)


def test_non_square_crop_larger_than_the_image_in_one_axis() -> None:
    # pad_if_needed: every crop contains every row, so p is the column factor alone.
    geometry = CropGeometry((20, 200), (32, 48), Padding(mode=PaddingMode.REFLECT), True)
    shape = PatchShape.ellipse(9, 15)
    result = inclusion(geometry, shape, with_map=True)
    columns = inclusion(CropGeometry((20, 200), (20, 48)), shape, with_map=True)
    assert result.counts is not None and columns.counts is not None
    rows_positions = geometry.axes()[0].positions
    np.testing.assert_array_equal(result.counts, columns.counts * rows_positions)


def test_ellipse_and_polygon_never_exceed_their_bounding_box() -> None:
    geometry = CropGeometry((60, 80), (24, 20), Padding(5, 5, 5, 5, PaddingMode.SYMMETRIC))
    for shape in (PatchShape.ellipse(13, 17), PatchShape.polygon([(0, 0), (13, 4), (6, 17)])):
        result = inclusion(geometry, shape, with_map=True)
        box = inclusion(geometry, PatchShape.box(*shape.size), with_map=True)
        assert result.counts is not None and box.counts is not None
        assert (result.counts <= box.counts).all()
        assert (result.counts > 0).all()


def test_large_images_are_fast() -> None:
    # 2 Mpx with reflect padding and a 2000-pixel circle: a few passes over the map.
    geometry = CropGeometry((1024, 2048), (384, 512), Padding(32, 32, 32, 32, PaddingMode.REFLECT))
    circle = PatchShape.ellipse(51, 51)
    start = time.perf_counter()
    result = inclusion(geometry, circle, with_map=True)
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0
    assert result.counts is not None and result.counts.shape == (1024 - 50, 2048 - 50)
    box = inclusion(geometry, PatchShape.box(51, 51))
    assert 0 < result.numerator <= box.numerator
    # Spot-check three placements against the brute force.
    sources = padded_sources((1024, 2048), (384, 512), geometry.padding, pad_if_needed=False)
    for at in ((0, 0), (500, 1000), (1024 - 51, 7)):
        hits = including_offsets(sources, 2048, (384, 512), circle.mask(), at)
        assert result.counts[at] == np.count_nonzero(hits)


# --- augmentation multiplicity ---------------------------------------------------------------


@pytest.mark.parametrize("augmult", [1, 2, 3, 16])
def test_augmult_is_exact(augmult: int) -> None:
    geometry = CropGeometry((64, 96), (32, 32), Padding(4, 4, 4, 4, PaddingMode.REFLECT))
    shape = PatchShape.ellipse(9, 11)
    single = inclusion(geometry, shape)
    multi = inclusion(geometry, shape, augmult=augmult, with_map=True)
    p = Fraction(single.numerator, single.denominator)
    assert multi.fraction == 1 - (1 - p) ** augmult
    assert multi.probability == float(1 - (1 - p) ** augmult)
    assert (multi.numerator, multi.denominator, multi.placement) == (
        single.numerator,
        single.denominator,
        single.placement,
    )
    assert multi.single_crop_fraction == p
    assert multi.augmult == augmult
    assert multi.counts is not None
    pictured = multi.probability_map()
    assert pictured is not None
    assert pictured.max() == pytest.approx(multi.probability, rel=1e-12)
    assert box_inclusion(geometry, (9, 11)).augmult == 1


def test_augmult_of_certain_inclusion_stays_one() -> None:
    result = inclusion(
        CropGeometry((8, 8), (8, 8)), PatchShape.ellipse(3, 3), augmult=7, with_map=True
    )
    assert result.fraction == 1
    pictured = result.probability_map()
    assert pictured is not None and (pictured == 1).all()


@pytest.mark.parametrize("augmult", [0, -1, 1.5, True, MAX_AUGMULT + 1, "2"])
def test_bad_augmult_names_its_field(augmult: object) -> None:
    with pytest.raises(InputError) as caught:
        inclusion(CropGeometry((8, 8), (4, 4)), (2, 2), augmult=augmult)  # type: ignore[arg-type]
    assert caught.value.field == "augmult"
    assert repr(augmult) in caught.value.message
    assert "\n" not in caught.value.message


# --- map and placements -----------------------------------------------------------------------


def test_map_ties_and_worst_placements() -> None:
    geometry = CropGeometry((30, 40), (10, 10))
    result = inclusion(geometry, PatchShape.ellipse(5, 7), with_map=True)
    assert result.counts is not None
    assert result.counts.shape == (26, 34)
    worst = np.argwhere(result.counts == result.numerator)
    assert result.ties == len(worst)
    assert result.worst_placements(limit=5) == [(int(y), int(x)) for y, x in worst[:5]]
    assert result.worst_placements(limit=5)[0] == result.placement
    known = inclusion(geometry, PatchShape.ellipse(5, 7), at=(0, 0), with_map=True)
    assert known.counts is not None
    assert known.numerator == known.counts[0, 0]
    assert known.worst_placements() == [(0, 0)]
    assert known.ties == 1


def test_box_map_is_the_outer_product_of_axis_counts() -> None:
    geometry = CropGeometry((12, 15), (5, 7), Padding(2, 1, 0, 3, PaddingMode.EDGE))
    result = inclusion(geometry, (3, 4), with_map=True)
    assert result.counts is not None
    for (y, x), count in np.ndenumerate(result.counts):
        assert count == box_inclusion(geometry, (3, 4), at=(y, x)).numerator


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "at", "field", "says"),
    [
        (PatchShape.from_mask(np.ones((9, 3), dtype=bool)), None, "patch_mask", "9x3"),
        (PatchShape.ellipse(3, 9), None, "patch", "3x9"),
        (PatchShape.polygon([(0, 0), (8.5, 2), (3, 8)]), None, "patch_polygon", "8.5,2"),
        (PatchShape.boxes([(3, 0, 2, 2), (7, 5, 2, 2)]), None, "patch_at", "row 8"),
        (PatchShape.ellipse(3, 3), (6, 0), "patch_at", "y=6"),
    ],
)
def test_shapes_that_do_not_fit_name_their_field(
    shape: PatchShape, at: Pair | None, field: str, says: str
) -> None:
    with pytest.raises(InputError) as caught:
        inclusion(CropGeometry((8, 8), (4, 4)), shape, at=at)
    assert caught.value.field == field
    assert says in caught.value.message
    assert "\n" not in caught.value.message


def test_polygon_vertices_on_the_image_border_are_inside() -> None:
    shape = PatchShape.polygon([(0, 0), (8, 0), (8, 8), (0, 8)])
    result = inclusion(CropGeometry((8, 8), (4, 4)), shape, at=shape.origin)
    assert result.fraction == 1
