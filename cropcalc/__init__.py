"""cropcalc: patch-level differential privacy for DP-SGD with random cropping."""

__version__ = "0.1.0"
