"""Privacy accounting of DP-SGD at the patch level: PRVs, discretisation, composition.

:class:`Accountant` loads nothing; the numerics (:func:`compute_epsilon` and its
value types) load on first use, so that the command line can name the accountants
without paying for numpy and scipy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cropcalc.accounting.accountants import Accountant

if TYPE_CHECKING:
    from cropcalc.accounting.epsilon import EpsilonBounds, Phase, compute_epsilon

__all__ = ["Accountant", "EpsilonBounds", "Phase", "compute_epsilon"]

_LAZY = frozenset({"EpsilonBounds", "Phase", "compute_epsilon"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from cropcalc.accounting import epsilon

        value = getattr(epsilon, name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
