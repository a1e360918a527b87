"""The ``cropcalc`` command line (Typer): parsing, rendering, exit codes.

Nothing here computes; the numerics live in :mod:`cropcalc.calculator`,
:mod:`cropcalc.geometry` and :mod:`cropcalc.accounting`, and are imported only by
the commands that need them.
"""
