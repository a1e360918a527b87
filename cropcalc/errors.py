"""The exceptions cropcalc raises, and the exit status each one maps to.

Every error the core raises is a :class:`CropcalcError`. Its message carries the
offending value and says what to change; ``field`` names the input it concerns with
the Python parameter name (``patch_at``), which the CLI turns into its flag
(``--patch-at``). The CLI's single handler maps the class to an :class:`ExitStatus`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes of the ``cropcalc`` command, as listed in the README."""

    OK = 0
    OVER_BUDGET = 1
    BAD_INPUT = 2
    INACCURATE = 3
    INTERNAL = 70
    """A bug in cropcalc (sysexits' EX_SOFTWARE): never a number, never exit 0 or 1."""


class CropcalcError(Exception):
    """Base class of every error cropcalc reports to its user."""

    exit_status: ExitStatus = ExitStatus.BAD_INPUT

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InputError(CropcalcError):
    """An input is malformed, out of range or inconsistent with another input."""


class AccuracyError(CropcalcError):
    """The requested quantity cannot be computed to a trustworthy accuracy.

    Raised instead of returning a number whose guarantee was lost (an ε beyond the
    range the discretisation can certify, a δ below the floating-point noise floor).
    """

    exit_status = ExitStatus.INACCURATE


class MissingExtraError(CropcalcError):
    """A feature needs an optional dependency that is not installed.

    The message is one line that names the extra to install. Exit status 2, as for a
    bad input: the command asked for something this installation cannot do.
    """
