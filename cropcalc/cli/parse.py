"""Parsers that turn the text of one command-line option into a typed value.

Every parser takes the raw text and either returns the value or raises
:class:`typer.BadParameter` with a message that states the expected form and quotes
the offending text. Typer attaches the option to the exception, so the error line
names the flag. No parser raises anything else, whatever the text (a hypothesis test
checks this).

Accepted forms, as the README and ``--help`` document them:

- a size ``HxW``: two positive integers, height then width (the order of numpy and
  torch shapes), separated by ``x``, ``X`` or ``×``; spaces around the numbers are
  ignored. ``--crop`` also accepts one integer ``S`` for a square ``SxS`` crop.
- a point ``Y,X``: two non-negative integers, row then column, separated by a comma.
- a padding list: 1, 2 or 4 non-negative integers separated by commas (torchvision's
  ``RandomCrop(padding=…)``; :meth:`cropcalc.geometry.Padding.from_sequence` gives
  them their meaning).
- a count: an integer written in decimal digits, optionally signed; ranges are
  checked by the core, which names the allowed range.
- a number: a Python float literal (``0.01``, ``1e-5``); the core rejects values
  outside the option's range, including ``nan`` and ``inf``.
- a choice: one of a fixed set of names, case-insensitive.

Only these forms are accepted: ``1024x`` , ``-5x3``, ``abc``, ``0x100``, ``1x2x3`` and
``1e3`` as a count are errors, never guesses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, TypeVar

import typer

_INTEGER = r"\s*([0-9]+)\s*"
_SIZE = re.compile(_INTEGER + r"[xX×]" + _INTEGER, re.ASCII)
_SQUARE = re.compile(_INTEGER, re.ASCII)
_POINT = re.compile(_INTEGER + "," + _INTEGER, re.ASCII)
_COUNT = re.compile(r"\s*([+-]?[0-9]+)\s*", re.ASCII)
_PADDING_LENGTHS = (1, 2, 4)

E = TypeVar("E", bound=StrEnum)


class Size(NamedTuple):
    """A height × width pair, as the geometry takes it: ``(H, W)``."""

    height: int
    width: int


class Point(NamedTuple):
    """A row, column pair in image pixels: ``(y, x)``; ``(0, 0)`` is the top-left pixel."""

    y: int
    x: int


@dataclass(frozen=True)
class PaddingList:
    """The 1, 2 or 4 integers of ``--padding``, not yet given their torchvision meaning."""

    values: tuple[int, ...]


def _integer(digits: str, text: str, expected: str) -> int:
    # int() refuses numbers longer than sys.get_int_max_str_digits() with a ValueError.
    try:
        return int(digits)
    except ValueError:
        raise typer.BadParameter(f"{expected}; got {text!r}, which is too large") from None


_SIZE_FORM = "HxW, two positive integers (height x width) such as 1024x2048"


def _size(text: str, expected: str) -> Size:
    match = _SIZE.fullmatch(text)
    if match is None:
        raise typer.BadParameter(f"{expected}; got {text!r}")
    size = Size(*(_integer(group, text, expected) for group in match.groups()))
    if min(size) < 1:
        raise typer.BadParameter(f"{expected}; got {text!r}, which has a zero side")
    return size


def parse_size(text: str) -> Size:
    """Parse ``HxW`` into a :class:`Size` of two positive integers."""
    return _size(text, f"expected {_SIZE_FORM}")


def parse_crop(text: str) -> Size:
    """Parse ``HxW``, or ``S`` for a square ``SxS`` crop, into a :class:`Size`."""
    expected = f"expected S (a square crop such as 512) or {_SIZE_FORM}"
    match = _SQUARE.fullmatch(text)
    if match is None:
        return _size(text, expected)
    side = _integer(match.group(1), text, expected)
    if side < 1:
        raise typer.BadParameter(f"{expected}; got {text!r}, which has a zero side")
    return Size(side, side)


def parse_point(text: str) -> Point:
    """Parse ``Y,X`` into a :class:`Point` of two non-negative integers."""
    expected = "expected Y,X, two non-negative integers (row,column) such as 128,640"
    match = _POINT.fullmatch(text)
    if match is None:
        raise typer.BadParameter(f"{expected}; got {text!r}")
    return Point(*(_integer(group, text, expected) for group in match.groups()))


def parse_padding(text: str) -> PaddingList:
    """Parse 1, 2 or 4 comma-separated non-negative integers."""
    expected = (
        "expected 1, 2 or 4 comma-separated non-negative integers "
        "(all sides | left-right,top-bottom | left,top,right,bottom) such as 4 or 4,8"
    )
    fields = text.split(",")
    matches = [_SQUARE.fullmatch(field) for field in fields]
    if len(fields) not in _PADDING_LENGTHS or None in matches:
        raise typer.BadParameter(f"{expected}; got {text!r}")
    return PaddingList(
        tuple(_integer(match.group(1), text, expected) for match in matches if match is not None)
    )


def parse_count(text: str) -> int:
    """Parse an integer written in decimal digits (``1000``; not ``1e3`` or ``1.5``)."""
    expected = "expected a whole number such as 1000"
    text = str(text)  # Click also runs an option's default (an int) through its parser
    match = _COUNT.fullmatch(text)
    if match is None:
        raise typer.BadParameter(f"{expected}; got {text!r}")
    return _integer(match.group(1), text, expected)


def parse_number(text: str) -> float:
    """Parse a float literal such as ``0.01`` or ``1e-5``."""
    try:
        return float(text)
    except ValueError:
        raise typer.BadParameter(f"expected a number such as 0.01 or 1e-5; got {text!r}") from None


def choice_parser(choices: Sequence[str]) -> Callable[[str], str]:
    """A parser accepting exactly ``choices`` (case-insensitive), returning the choice."""

    def parse_choice(text: str) -> str:
        name = text.strip().lower()
        if name not in choices:
            raise typer.BadParameter(f"expected one of {', '.join(choices)}; got {text!r}")
        return name

    return parse_choice


def enum_parser(enum_type: type[E]) -> Callable[[str], E]:
    """A parser accepting the values of ``enum_type`` (case-insensitive)."""
    parse_choice = choice_parser([member.value for member in enum_type])

    def parse_member(text: str) -> E:
        return enum_type(parse_choice(text))

    return parse_member
