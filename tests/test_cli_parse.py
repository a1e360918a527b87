"""The option parsers: documented forms round-trip, everything else is a BadParameter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from cropcalc.cli import parse
from cropcalc.cli.options import OutputFormat
from cropcalc.geometry import PaddingMode

positive = st.integers(min_value=1, max_value=10**12)
non_negative = st.integers(min_value=0, max_value=10**12)
spaces = st.sampled_from(["", " ", "  "])
separators = st.sampled_from(["x", "X", "×"])

PARSERS: list[Callable[[str], Any]] = [
    parse.parse_size,
    parse.parse_crop,
    parse.parse_point,
    parse.parse_padding,
    parse.parse_count,
    parse.parse_number,
    parse.enum_parser(PaddingMode),
    parse.enum_parser(OutputFormat),
]


@given(positive, positive, separators, spaces, spaces)
def test_size_round_trips(height: int, width: int, sep: str, pad: str, inner: str) -> None:
    text = f"{pad}{height}{inner}{sep}{inner}{width}{pad}"
    assert parse.parse_size(text) == (height, width)
    assert parse.parse_crop(text) == (height, width)


@given(positive)
def test_square_crop_round_trips(side: int) -> None:
    assert parse.parse_crop(str(side)) == (side, side)


@given(non_negative, non_negative, spaces)
def test_point_round_trips(y: int, x: int, pad: str) -> None:
    assert parse.parse_point(f"{pad}{y},{pad}{x}") == (y, x)


@given(st.sampled_from([1, 2, 4]).flatmap(lambda n: st.lists(non_negative, min_size=n, max_size=n)))
def test_padding_round_trips(values: list[int]) -> None:
    assert parse.parse_padding(",".join(map(str, values))).values == tuple(values)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_count_round_trips(value: int) -> None:
    assert parse.parse_count(str(value)) == value


@given(st.floats(allow_nan=False))
def test_number_round_trips(value: float) -> None:
    assert parse.parse_number(repr(value)) == value


@pytest.mark.parametrize("parser", PARSERS)
@given(text=st.text(max_size=30))
def test_parsers_raise_only_bad_parameter(parser: Callable[[str], Any], text: str) -> None:
    try:
        parser(text)
    except typer.BadParameter as error:
        assert repr(text) in error.message or "too large" in error.message
        assert "\n" not in error.message


HUGE = "9" * 5000  # beyond Python's limit on digits converted by int()


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (parse.parse_size, f"{HUGE}x1"),
        (parse.parse_crop, HUGE),
        (parse.parse_point, f"1,{HUGE}"),
        (parse.parse_padding, HUGE),
        (parse.parse_count, HUGE),
    ],
)
def test_absurdly_long_numbers_are_refused_cleanly(parser: Callable[[str], Any], text: str) -> None:
    with pytest.raises(typer.BadParameter, match="too large"):
        parser(text)


@pytest.mark.parametrize(
    "text", ["1024x", "-5x3", "abc", "0x100", "1x2x3", "", "x", "1.5x2", "+3x4", "1024 2048", "١x٢"]
)
def test_size_rejects(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="HxW"):
        parse.parse_size(text)


@pytest.mark.parametrize("text", ["0", "-512", "512x", "5.5", "S"])
def test_crop_rejects(text: str) -> None:
    with pytest.raises(typer.BadParameter, match=r"S \(a square crop"):
        parse.parse_crop(text)


@pytest.mark.parametrize("text", ["5", "1,2,3", "-1,0", "1;2", "a,b", ""])
def test_point_rejects(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="Y,X"):
        parse.parse_point(text)


@pytest.mark.parametrize("text", ["", "1,2,3", "1,2,3,4,5", "-1", "4,", ",4", "1.5", "4 8"])
def test_padding_rejects(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="1, 2 or 4"):
        parse.parse_padding(text)


@pytest.mark.parametrize("text", ["1.5", "1e3", "1_000", "", "ten", "0x10"])
def test_count_rejects(text: str) -> None:
    with pytest.raises(typer.BadParameter, match="whole number"):
        parse.parse_count(text)


def test_choices_are_case_insensitive_and_exact() -> None:
    parse_mode = parse.enum_parser(PaddingMode)
    assert parse_mode(" Reflect ") is PaddingMode.REFLECT
    with pytest.raises(typer.BadParameter, match="constant, edge, reflect, symmetric"):
        parse_mode("wrap")
