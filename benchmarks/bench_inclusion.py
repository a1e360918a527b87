"""Whole-process time and memory of exact patch inclusion for masks (issue 3).

Every measurement is a fresh Python process that imports cropcalc and computes, as
the CLI will; it is timed from the parent and its peak resident memory is read
from the kernel's accounting of that child (``os.wait4``). Targets:

(a) a 151-pixel-diameter circle on a 2048x4096 image, crop 1024: at most 2x the
    time of the same geometry with a 151x151 box;
(b) a 4096x8192 image with a ~10^4-pixel mask (113-pixel circle): under 5 s and
    under 2 GB, also with the full map of every placement kept;
(c) at least 20x faster than a vectorised per-placement brute force (numpy over
    crop offsets and pixels, a Python loop over placements only) on a 160x200 image
    with a 31-pixel circle.

    python benchmarks/bench_inclusion.py [--repeat 5] [--backend api]

The default ``cli`` backend times the whole ``cropcalc inclusion`` process (which
always computes the full map in the worst case, for its heatmap); ``--backend api``
times the library call alone in a fresh interpreter. A backend only turns a
:class:`Case` into a command line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Case:
    """One inclusion calculation, in the terms of the command line."""

    image: tuple[int, int]
    crop: tuple[int, int]
    shape: str  # "box" or "ellipse"
    size: tuple[int, int]
    padding: int = 0
    padding_mode: str = "constant"
    with_map: bool = False


API = """
import json, sys
from cropcalc.geometry import CropGeometry, Padding, PatchShape, inclusion
case = json.loads(sys.argv[1])
pad = case["padding"]
geometry = CropGeometry(
    tuple(case["image"]), tuple(case["crop"]),
    Padding(pad, pad, pad, pad, case["padding_mode"]),
)
h, w = case["size"]
shape = PatchShape.box(h, w) if case["shape"] == "box" else PatchShape.ellipse(h, w)
result = inclusion(geometry, shape, with_map=case["with_map"])
print(json.dumps({"p": result.probability, "numerator": result.numerator,
                  "denominator": result.denominator, "placement": result.placement}))
"""

# The baseline of (c): for each placement, paint the mask into the padded image
# through the padding's source map and count crop windows with a non-zero sum by a
# summed-area table; numpy does the pixels and offsets, Python only the placements.
BRUTE = """
import json, sys
import numpy as np
from cropcalc.geometry import CropGeometry, Padding, PatchShape
case = json.loads(sys.argv[1])
pad = case["padding"]
geometry = CropGeometry(
    tuple(case["image"]), tuple(case["crop"]),
    Padding(pad, pad, pad, pad, case["padding_mode"]),
)
rows, cols = geometry.axes()
source_r, source_c = rows.source_index(), cols.source_index()
mask = PatchShape.ellipse(*case["size"]).mask()
h, w = mask.shape
(height, width), (th, tw) = geometry.image, geometry.crop
best, where = -1, None
table = np.zeros((source_r.size + 1, source_c.size + 1), dtype=np.int64)
for a in range(height - h + 1):
    rr = source_r - a
    row_ok = (source_r >= 0) & (rr >= 0) & (rr < h)
    for b in range(width - w + 1):
        cc = source_c - b
        col_ok = (source_c >= 0) & (cc >= 0) & (cc < w)
        shown = np.zeros((source_r.size, source_c.size), dtype=bool)
        shown[np.ix_(row_ok, col_ok)] = mask[np.ix_(rr[row_ok], cc[col_ok])]
        table[1:, 1:] = shown.cumsum(axis=0).cumsum(axis=1)
        sums = table[th:, tw:] - table[:-th, tw:] - table[th:, :-tw] + table[:-th, :-tw]
        count = int(np.count_nonzero(sums))
        if count > best:
            best, where = count, (a, b)
print(json.dumps({"numerator": best, "placement": where}))
"""


def api_command(case: Case) -> list[str]:
    """The library call in a fresh interpreter."""
    return [sys.executable, "-c", API, json.dumps(asdict(case))]


def brute_command(case: Case) -> list[str]:
    """The per-placement brute force in a fresh interpreter."""
    return [sys.executable, "-c", BRUTE, json.dumps(asdict(case))]


def cli_command(case: Case) -> list[str]:
    """The whole ``cropcalc inclusion`` process, as a user runs it (it keeps the map)."""
    size = lambda pair: f"{pair[0]}x{pair[1]}"  # noqa: E731
    return [
        *(sys.executable, "-m", "cropcalc", "inclusion", "--format", "json"),
        *("--image", size(case.image), "--crop", size(case.crop)),
        *("--patch", size(case.size), "--shape", case.shape),
        *("--padding", str(case.padding), "--padding-mode", case.padding_mode),
    ]


BACKENDS: dict[str, Callable[[Case], list[str]]] = {"api": api_command, "cli": cli_command}


def normalise(output: dict[str, Any]) -> dict[str, Any]:
    """The fields compared below, from either backend's JSON."""
    if "inclusion" in output:  # the CLI's document
        return {
            "p": output["inclusion_probability"],
            "numerator": output["inclusion"]["numerator"],
        }
    return output


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_mb: float
    output: dict[str, Any]


def measure(command: list[str]) -> Measurement:
    """Wall time, the child's own peak RSS (``os.wait4``) and its JSON output."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        stdout = child.stdout.read() if child.stdout is not None else b""
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"benchmark child failed:\n{errors.read().decode()}")
    # Linux reports ru_maxrss in KiB.
    return Measurement(elapsed, usage.ru_maxrss / 1024, normalise(json.loads(stdout)))


def median_of(command: list[str], repeat: int) -> tuple[float, float, dict[str, object]]:
    runs = [measure(command) for _ in range(repeat)]
    return (
        statistics.median(m.seconds for m in runs),
        max(m.peak_mb for m in runs),
        runs[-1].output,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="cli")
    arguments = parser.parse_args()
    command, repeat = BACKENDS[arguments.backend], arguments.repeat
    failures = []

    # (a) circle vs box, same geometry; alternate so drift hits both alike.
    circle = Case((2048, 4096), (1024, 1024), "ellipse", (151, 151))
    box = Case((2048, 4096), (1024, 1024), "box", (151, 151))
    times: dict[str, list[float]] = {"circle": [], "box": []}
    for _ in range(repeat):
        times["circle"].append(measure(command(circle)).seconds)
        times["box"].append(measure(command(box)).seconds)
    ratio = statistics.median(times["circle"]) / statistics.median(times["box"])
    print(
        f"(a) 2048x4096, crop 1024, circle d=151: {statistics.median(times['circle']):.3f} s; "
        f"box 151x151: {statistics.median(times['box']):.3f} s; ratio {ratio:.2f} (target <= 2)"
    )
    if ratio > 2:
        failures.append("a")

    # (b) a large image, worst case alone and with the full map, two padding modes.
    for mode, pad in (("constant", 0), ("reflect", 64)):
        for with_map in (False, True):
            case = Case((4096, 8192), (1024, 1024), "ellipse", (113, 113), pad, mode, with_map)
            seconds, peak, output = median_of(command(case), max(1, repeat // 2))
            print(
                f"(b) 4096x8192, crop 1024, circle d=113 (10225 px), {mode} padding {pad}"
                f"{', full map' if with_map else ''}: {seconds:.2f} s, peak {peak:.0f} MB "
                f"(targets < 5 s, < 2048 MB); p = {output['p']:.6f}"
            )
            if seconds >= 5 or peak >= 2048:
                failures.append("b")

    # (c) against the per-placement brute force, which must agree.
    small = Case((160, 200), (96, 96), "ellipse", (31, 31), 12, "reflect")
    ours, _, exact = median_of(command(small), repeat)
    brute = measure(brute_command(small))
    if brute.output["numerator"] != exact["numerator"]:
        raise SystemExit(f"brute force disagrees: {brute.output} vs {exact}")
    speedup = brute.seconds / ours
    print(
        f"(c) 160x200, crop 96, reflect 12, circle d=31: {ours:.3f} s; brute force "
        f"{brute.seconds:.2f} s; speed-up {speedup:.0f}x (target >= 20x), same worst case"
    )
    if speedup < 20:
        failures.append("c")
    print("all targets met" if not failures else f"targets missed: {', '.join(failures)}")


if __name__ == "__main__":
    main()
