"""Privacy accounting of DP-SGD at the patch level: PRVs, discretisation, composition."""

from cropcalc.accounting.epsilon import EpsilonBounds, Phase, compute_epsilon

__all__ = ["EpsilonBounds", "Phase", "compute_epsilon"]
