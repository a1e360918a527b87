"""Test-suite configuration: deterministic property tests in CI.

CI runs with ``CI=true``: there every Hypothesis test draws the same examples on
every run, so a submission cannot fail or stall on an unlucky draw. Locally the
draws stay random, which is how the fuzz tests find new bugs.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
