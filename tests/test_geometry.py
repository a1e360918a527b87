"""Tests of cropcalc.geometry against values computed independently of it.

The references are: the spec's published vectors and its closed form for constant
padding (docs/accounting.md section 3), a brute force that replays torchvision's
``RandomCrop.forward`` on an image of pixel indices with ``numpy.pad`` (which is
what torchvision calls for PIL images) and enumerates every crop offset, and a
Monte-Carlo simulation drawing offsets the way ``RandomCrop.get_params`` does.
"""

from __future__ import annotations

import subprocess
import sys
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
    CropAxis,
    CropGeometry,
    InclusionResult,
    Padding,
    PaddingMode,
    box_inclusion,
)

Pair = tuple[int, int]

# numpy.pad's names for the modes that copy pixels (torchvision passes them through).
NUMPY_MODES: dict[PaddingMode, Literal["edge", "reflect", "symmetric"]] = {
    PaddingMode.EDGE: "edge",
    PaddingMode.REFLECT: "reflect",
    PaddingMode.SYMMETRIC: "symmetric",
}

# --- independent reference: torchvision's RandomCrop replayed with numpy.pad ---------


def torchvision_accepts(image: Pair, crop: Pair, padding: Padding, pad_if_needed: bool) -> bool:
    """Whether RandomCrop(crop, padding, pad_if_needed, mode) runs on a tensor image.

    torch's reflect padding needs every pad smaller than the dimension it pads; the
    crop must fit the padded image (RandomCrop.get_params raises otherwise).
    """
    reflect = padding.mode is PaddingMode.REFLECT
    height, width = image
    crop_h, crop_w = crop
    if reflect and (max(padding.top, padding.bottom) >= height):
        return False
    if reflect and (max(padding.left, padding.right) >= width):
        return False
    height += padding.top + padding.bottom
    width += padding.left + padding.right
    if pad_if_needed and width < crop_w:
        if reflect and crop_w - width >= width:
            return False
        width = 2 * crop_w - width
    if pad_if_needed and height < crop_h:
        if reflect and crop_h - height >= height:
            return False
        height = 2 * crop_h - height
    return crop_h <= height and crop_w <= width


def torchvision_sources(
    image: Pair, crop: Pair, padding: Padding, pad_if_needed: bool
) -> NDArray[np.int64]:
    """The padded image RandomCrop.forward crops from, holding source pixel ids.

    Entry ``r * W + c`` means "shows original pixel (r, c)"; -1 is constant fill.
    A line-by-line transcription of torchvision.transforms.RandomCrop.forward.
    """

    def pad(
        img: NDArray[np.int64], top: int, bottom: int, left: int, right: int
    ) -> NDArray[np.int64]:
        widths = ((top, bottom), (left, right))
        if padding.mode is PaddingMode.CONSTANT:
            return np.pad(img, widths, mode="constant", constant_values=-1)
        padded: NDArray[np.int64] = np.pad(img, widths, mode=NUMPY_MODES[padding.mode])
        return padded

    height, width = image
    crop_h, crop_w = crop
    img = np.arange(height * width, dtype=np.int64).reshape(height, width)
    img = pad(img, padding.top, padding.bottom, padding.left, padding.right)
    height, width = img.shape
    if pad_if_needed and width < crop_w:
        img = pad(img, 0, 0, crop_w - width, crop_w - width)
    if pad_if_needed and height < crop_h:
        img = pad(img, crop_h - height, crop_h - height, 0, 0)
    return img


def window_sums(mask: NDArray[np.bool_], crop: Pair) -> NDArray[np.int64]:
    """Number of True pixels in the crop window at every offset (i, j)."""
    crop_h, crop_w = crop
    table = np.zeros((mask.shape[0] + 1, mask.shape[1] + 1), dtype=np.int64)
    table[1:, 1:] = mask.cumsum(axis=0).cumsum(axis=1)
    sums: NDArray[np.int64] = (
        table[crop_h:, crop_w:]
        - table[:-crop_h, crop_w:]
        - table[crop_h:, :-crop_w]
        + table[:-crop_h, :-crop_w]
    )
    return sums


def patch_shown(sources: NDArray[np.int64], width: int, patch: Pair, at: Pair) -> NDArray[np.bool_]:
    """Padded pixels that show a pixel of the patch (the patch itself or a copy)."""
    rows, cols = np.divmod(sources, width)
    y, x = at
    shown: NDArray[np.bool_] = (
        (sources >= 0) & (rows >= y) & (rows < y + patch[0]) & (cols >= x) & (cols < x + patch[1])
    )
    return shown


def brute_counts(
    sources: NDArray[np.int64], image: Pair, crop: Pair, patch: Pair
) -> NDArray[np.int64]:
    """Including crop offsets for every placement, by enumerating every offset."""
    height, width = image
    counts = np.zeros((height - patch[0] + 1, width - patch[1] + 1), dtype=np.int64)
    for y in range(counts.shape[0]):
        for x in range(counts.shape[1]):
            shown = patch_shown(sources, width, patch, (y, x))
            counts[y, x] = np.count_nonzero(window_sums(shown, crop))
    return counts


def spec_axis_count(length: int, crop: int, start: int, extent: int) -> int:
    """docs/accounting.md section 3: offsets s in [0, L-c] meeting [a, a+k)."""
    return max(0, min(length - crop, start + extent - 1) - max(0, start - crop + 1) + 1)


# --- strategies -----------------------------------------------------------------------


@st.composite
def setups(draw: st.DrawFn) -> tuple[Pair, Pair, Padding, bool, Pair]:
    """Small random RandomCrop configurations with a patch that fits the image.

    Reflect padding is mostly kept below the image size (torch refuses the rest),
    and crops range up to twice the padded size, so that most draws are valid and
    the invalid ones still exercise the refusals.
    """
    height, width = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    mode = draw(st.sampled_from(PaddingMode))
    unlimited = mode is not PaddingMode.REFLECT or draw(st.integers(0, 4)) == 0
    top, bottom = (draw(st.integers(0, 5 if unlimited else height - 1)) for _ in "tb")
    left, right = (draw(st.integers(0, 5 if unlimited else width - 1)) for _ in "lr")
    padded = (height + top + bottom, width + left + right)
    crop = (draw(st.integers(1, 2 * padded[0])), draw(st.integers(1, 2 * padded[1])))
    patch = (draw(st.integers(1, height)), draw(st.integers(1, width)))
    padding = Padding(left, top, right, bottom, mode)
    return (height, width), crop, padding, draw(st.booleans()), patch


FAST = settings(max_examples=150, deadline=None)
THOROUGH = settings(max_examples=400, deadline=None)


# --- spec vectors ---------------------------------------------------------------------


def test_spec_vector_1024x2048() -> None:
    result = box_inclusion(CropGeometry((1024, 2048), (512, 512)), (64, 64))
    assert result.fraction == Fraction(575, 1537)
    assert result.probability == pytest.approx(0.374105400130, abs=1e-12)
    assert result.worst_case
    assert result.padded_size == (1024, 2048)
    assert result.crop_positions == 513 * 1537 == result.denominator


def test_spec_vector_1000x1000() -> None:
    result = box_inclusion(CropGeometry((1000, 1000), (300, 300)), (25, 25))
    assert result.probability == pytest.approx(0.2136259389, abs=1e-10)
    best = max(spec_axis_count(1000, 300, a, 25) for a in range(1000 - 25 + 1))
    assert result.fraction == Fraction(best * best, 701 * 701)


def test_spec_vector_constant_padding() -> None:
    geometry = CropGeometry((300, 400), (160, 160), Padding.from_sequence([10]))
    result = box_inclusion(geometry, (12, 40))
    assert result.fraction == Fraction(199, 261)
    assert result.probability == pytest.approx(0.7624521073, abs=1e-10)
    assert result.padded_size == (320, 420)


# --- exactness against independent counts ---------------------------------------------


def test_brute_force_helper_matches_a_literal_loop() -> None:
    # The window-sum shortcut of the reference must itself be a plain enumeration.
    image, crop, patch, at = (5, 6), (4, 3), (2, 2), (0, 3)
    padding = Padding(2, 1, 3, 0, PaddingMode.SYMMETRIC)
    sources = torchvision_sources(image, crop, padding, pad_if_needed=True)
    shown = patch_shown(sources, image[1], patch, at)
    literal = sum(
        bool(shown[i : i + crop[0], j : j + crop[1]].any())
        for i in range(sources.shape[0] - crop[0] + 1)
        for j in range(sources.shape[1] - crop[1] + 1)
    )
    assert literal == np.count_nonzero(window_sums(shown, crop))
    assert box_inclusion(CropGeometry(image, crop, padding, True), patch, at).numerator == literal


@THOROUGH
@given(setups())
def test_every_mode_matches_brute_force(setup: tuple[Pair, Pair, Padding, bool, Pair]) -> None:
    image, crop, padding, pad_if_needed, patch = setup
    if not torchvision_accepts(image, crop, padding, pad_if_needed):
        with pytest.raises(InputError):
            CropGeometry(image, crop, padding, pad_if_needed)
        return
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    sources = torchvision_sources(image, crop, padding, pad_if_needed)
    expected = brute_counts(sources, image, crop, patch)
    positions = (sources.shape[0] - crop[0] + 1) * (sources.shape[1] - crop[1] + 1)
    assert geometry.padded_size == sources.shape
    assert geometry.crop_positions == positions

    for y, x in np.ndindex(*expected.shape):
        result = box_inclusion(geometry, patch, at=(y, x))
        assert (result.numerator, result.denominator) == (int(expected[y, x]), positions)
        assert result.placement == (y, x)
        assert not result.worst_case

    worst = box_inclusion(geometry, patch)
    # Row-major argmax is the first maximum: smallest y, then smallest x.
    first_max = np.unravel_index(np.argmax(expected), expected.shape)
    assert worst.worst_case
    assert worst.numerator == expected.max()
    assert worst.placement == (int(first_max[0]), int(first_max[1]))
    assert worst.fraction == Fraction(int(expected.max()), positions)


@FAST
@given(setups())
def test_constant_padding_matches_spec_closed_form(
    setup: tuple[Pair, Pair, Padding, bool, Pair],
) -> None:
    image, crop, sides, pad_if_needed, patch = setup
    padding = Padding(sides.left, sides.top, sides.right, sides.bottom, PaddingMode.CONSTANT)
    if not torchvision_accepts(image, crop, padding, pad_if_needed):
        return
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    padded_h, padded_w = geometry.padded_size
    # Constant fill is symmetric about the explicitly padded image, so the patch moves
    # by the explicit top/left pad plus half of what pad_if_needed added.
    grow_h = (padded_h - (image[0] + padding.top + padding.bottom)) // 2
    grow_w = (padded_w - (image[1] + padding.left + padding.right)) // 2
    for y in range(image[0] - patch[0] + 1):
        for x in range(image[1] - patch[1] + 1):
            rows = spec_axis_count(padded_h, crop[0], y + padding.top + grow_h, patch[0])
            cols = spec_axis_count(padded_w, crop[1], x + padding.left + grow_w, patch[1])
            assert box_inclusion(geometry, patch, at=(y, x)).numerator == rows * cols


MONTE_CARLO_CASES = [
    # Reflected copies: windows near the top-left see only the mirrored patch.
    ((24, 30), (6, 5), Padding(6, 6, 6, 6, PaddingMode.REFLECT), False, (3, 3), (1, 1)),
    # Edge copies on top of pad_if_needed; the left pad is wider than the crop.
    ((3, 30), (8, 4), Padding(5, 0, 0, 2, PaddingMode.EDGE), True, (2, 5), (0, 0)),
    # Symmetric padding of an already symmetric-padded image (rows), mirrored columns.
    ((10, 9), (25, 3), Padding(4, 4, 1, 4, PaddingMode.SYMMETRIC), True, (3, 3), (7, 0)),
]


@pytest.mark.parametrize("case", MONTE_CARLO_CASES)
def test_monte_carlo_like_get_params(case: tuple[Pair, Pair, Padding, bool, Pair, Pair]) -> None:
    image, crop, padding, pad_if_needed, patch, at = case
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    exact = box_inclusion(geometry, patch, at).probability
    sources = torchvision_sources(image, crop, padding, pad_if_needed)
    hits = window_sums(patch_shown(sources, image[1], patch, at), crop) > 0
    # RandomCrop.get_params: i = torch.randint(0, h - th + 1), j likewise (high exclusive).
    rng = np.random.default_rng(20240611)
    draws = 40_000
    i = rng.integers(0, sources.shape[0] - crop[0] + 1, size=draws)
    j = rng.integers(0, sources.shape[1] - crop[1] + 1, size=draws)
    estimate = float(hits[i, j].mean())
    standard_error = max(np.sqrt(exact * (1 - exact) / draws), 1 / draws)
    assert abs(estimate - exact) <= 5 * standard_error
    # The copies matter here: ignoring them would under-report p.
    constant = Padding(padding.left, padding.top, padding.right, padding.bottom)
    assert (
        exact
        > box_inclusion(CropGeometry(image, crop, constant, pad_if_needed), patch, at).probability
    )


@pytest.mark.parametrize("mode", [PaddingMode.EDGE, PaddingMode.REFLECT, PaddingMode.SYMMETRIC])
@pytest.mark.parametrize("length", [1, 2, 3, 7])
def test_axis_source_index_matches_numpy_pad_for_long_pads(mode: PaddingMode, length: int) -> None:
    # Several stages, pads longer than the axis: the periodic folds must be numpy's
    # (reflect of a single pixel included, which numpy extends like edge).
    stages = ((0, 2), (5, 1), (3 * length + 1, 2 * length))
    expected = np.arange(length)
    for stage in stages:
        expected = np.pad(expected, stage, mode=NUMPY_MODES[mode])
    axis = CropAxis(length, crop=1, stages=stages, mode=mode)
    np.testing.assert_array_equal(axis.source_index(), expected)


# --- invariants -----------------------------------------------------------------------


@FAST
@given(setups(), st.data())
def test_worst_case_dominates_every_placement(
    setup: tuple[Pair, Pair, Padding, bool, Pair], data: st.DataObject
) -> None:
    image, crop, padding, pad_if_needed, patch = setup
    if not torchvision_accepts(image, crop, padding, pad_if_needed):
        return
    geometry = CropGeometry(image, crop, padding, pad_if_needed)
    at = (
        data.draw(st.integers(0, image[0] - patch[0])),
        data.draw(st.integers(0, image[1] - patch[1])),
    )
    known, worst = box_inclusion(geometry, patch, at), box_inclusion(geometry, patch)
    assert worst.fraction >= known.fraction
    assert 0 < worst.probability <= 1


@FAST
@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.sampled_from(PaddingMode),
    st.integers(0, 3),
    st.data(),
)
def test_probability_is_one_when_every_crop_covers_the_image(
    height: int, width: int, mode: PaddingMode, pad: int, data: st.DataObject
) -> None:
    if mode is PaddingMode.REFLECT:
        pad = min(pad, height - 1, width - 1)
    padded = (height + 2 * pad, width + 2 * pad)
    # Crops from the padded size up to just below twice it (reflect's limit).
    crop = (data.draw(st.integers(padded[0], 2 * padded[0] - 1)),
            data.draw(st.integers(padded[1], 2 * padded[1] - 1)))  # fmt: skip
    patch = (data.draw(st.integers(1, height)), data.draw(st.integers(1, width)))
    geometry = CropGeometry((height, width), crop, Padding(pad, pad, pad, pad, mode), True)
    assert box_inclusion(geometry, patch).probability == 1.0
    assert box_inclusion(geometry, patch, at=(height - patch[0], 0)).fraction == 1


def test_crop_equal_to_image_includes_everything() -> None:
    result = box_inclusion(CropGeometry((64, 48), (64, 48)), (1, 1), at=(63, 0))
    assert (result.numerator, result.denominator, result.probability) == (1, 1, 1.0)


def test_large_images_are_fast() -> None:
    # 10^5-pixel axes must cost milliseconds, not a loop over placements x offsets.
    image, crop, patch = (100_000, 60_000), (4096, 2048), (64, 64)
    start = time.perf_counter()
    reflect = box_inclusion(
        CropGeometry(image, crop, Padding(100, 80, 90, 70, PaddingMode.REFLECT)), patch
    )
    constant = box_inclusion(CropGeometry(image, crop, Padding(100, 80, 90, 70)), patch)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0
    rows = max(spec_axis_count(100_160, 4096, a + 80, 64) for a in range(0, 100_000 - 64 + 1, 97))
    cols = max(spec_axis_count(60_190, 2048, a + 100, 64) for a in range(0, 60_000 - 64 + 1, 89))
    assert constant.numerator == rows * cols
    assert reflect.numerator >= constant.numerator


# --- inputs ---------------------------------------------------------------------------


def test_padding_from_sequence_follows_torchvision() -> None:
    assert Padding.from_sequence([3]) == Padding(3, 3, 3, 3)
    assert Padding.from_sequence([1, 2], PaddingMode.EDGE) == Padding(1, 2, 1, 2, PaddingMode.EDGE)
    assert Padding.from_sequence((1, 2, 3, 4)) == Padding(left=1, top=2, right=3, bottom=4)
    assert Padding(mode="reflect").mode is PaddingMode.REFLECT  # type: ignore[arg-type]


def test_pad_if_needed_pads_the_shortfall_on_both_sides() -> None:
    geometry = CropGeometry((10, 30), (16, 40), Padding(2, 1, 3, 0), pad_if_needed=True)
    # Height 11 -> 16 needs 5 on top and bottom; width 35 -> 40 needs 5 left and right.
    assert geometry.padded_size == (21, 45)
    assert geometry.crop_positions == 6 * 6


@pytest.mark.parametrize(
    ("build", "field", "says"),
    [
        (lambda: CropGeometry((0, 10), (5, 5)), "image", "0x10"),
        (lambda: CropGeometry((10, 10, 3), (5, 5)), "image", "(10, 10, 3)"),  # type: ignore[arg-type]
        (lambda: CropGeometry((10, 10), (5, -1)), "crop", "5x-1"),
        (lambda: CropGeometry((10, 10), (5, 5), Padding(-1)), "padding", "-1"),
        (lambda: Padding(mode="wrap"), "padding_mode", "wrap"),  # type: ignore[arg-type]
        (lambda: Padding.from_sequence([1, 2, 3]), "padding", "1 2 3"),
        (lambda: Padding.from_sequence([]), "padding", "0 values"),
        (
            lambda: CropGeometry((10, 8), (5, 5), Padding(8, 0, 0, 0, PaddingMode.REFLECT)),
            "padding",
            "8",
        ),
        (lambda: CropGeometry((10, 10), (12, 9), Padding(1)), "crop", "--pad-if-needed"),
        (
            lambda: CropGeometry((10, 10), (5, 21), Padding(mode=PaddingMode.REFLECT), True),
            "padding_mode",
            "reflect",
        ),
        (lambda: box_inclusion(CropGeometry((64, 64), (32, 32)), (80, 64)), "patch", "80x64"),
        (lambda: box_inclusion(CropGeometry((64, 64), (32, 32)), (0, 4)), "patch", "0x4"),
        (
            lambda: box_inclusion(CropGeometry((64, 64), (32, 32)), (8, 8), (57, 0)),
            "patch_at",
            "57",
        ),
        (
            lambda: box_inclusion(CropGeometry((64, 64), (32, 32)), (8, 8), (0, -1)),
            "patch_at",
            "-1",
        ),
    ],
)
def test_invalid_inputs_name_their_field(build: object, field: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field
    assert says in caught.value.message
    assert "\n" not in caught.value.message


def test_error_messages_say_what_to_change() -> None:
    with pytest.raises(InputError) as caught:
        box_inclusion(CropGeometry((64, 64), (32, 32)), (80, 64))
    assert caught.value.message == (
        "patch 80x64 is larger than the image 64x64; give a patch no larger than the image"
    )
    with pytest.raises(InputError) as caught:
        CropGeometry((100, 120), (128, 64), Padding.from_sequence([4]))
    assert "padded image 108x128" in caught.value.message
    assert "--pad-if-needed" in caught.value.message


def test_result_is_a_frozen_value() -> None:
    result = box_inclusion(CropGeometry((8, 8), (4, 4)), (2, 2))
    assert isinstance(result, InclusionResult)
    with pytest.raises(AttributeError):
        result.probability = 0.0  # type: ignore[misc]


def test_importing_the_module_does_not_load_numpy() -> None:
    # The CLI imports PaddingMode on every start and Tab press; numpy loads on use only.
    code = "import sys, cropcalc.geometry; sys.exit('numpy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
