"""Whole-process time of ``cropcalc epsilon`` against dp-accounting's PLD accountant.

The baseline process computes the subsampled-Gaussian ε of the same run with
dp-accounting (``from_gaussian_mechanism(...).self_compose(T)``, its defaults:
pessimistic, connect-the-dots, discretisation 1e-4), at the amplified rate
``w = q·p`` and ratio ``z/2``. cropcalc's process does more: it computes the
inclusion probability and both the amplified and the baseline ε, each with a
certified bracket. Both run as fresh processes, alternately, and the median of
``--repeat`` runs is compared.

    python benchmarks/bench_epsilon.py [--repeat 5]

Needs the test extra (dp-accounting). Prints one line per configuration and the
ratio cropcalc / dp-accounting (target: at most 1.0).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

# (name, cropcalc arguments)
CONFIGS = [
    (
        "spec 1: 1024x2048, crop 512, patch 64, z=1, q=0.01, T=1000",
        "--image 1024x2048 --crop 512 --patch 64x64 --noise-multiplier 1.0 "
        "--sampling-rate 0.01 --steps 1000",
    ),
    (
        "spec 2: 1000x1000, crop 300, patch 25, z=1.5, q=0.002, T=20000",
        "--image 1000x1000 --crop 300 --patch 25x25 --noise-multiplier 1.5 "
        "--sampling-rate 0.002 --steps 20000",
    ),
    (
        "street scene: 1024x2048, crop 768, patch 32, z=1.5, q=0.0005, T=100000",
        "--image 1024x2048 --crop 768 --patch 32x32 --noise-multiplier 1.5 "
        "--sampling-rate 0.0005 --steps 100000",
    ),
]

BASELINE = """
import sys
from dp_accounting.pld import privacy_loss_distribution as pld
sigma, rate, steps, delta = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), 1e-5
loss = pld.from_gaussian_mechanism(standard_deviation=sigma, sampling_prob=rate)
print(loss.self_compose(steps).get_epsilon_for_delta(delta))
"""


def run(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    worst = 0.0
    for name, arguments in CONFIGS:
        ours = [sys.executable, "-m", "cropcalc", "epsilon", *arguments.split()]
        ours += ["--delta", "1e-5", "--format", "json"]
        _, output = run(ours)
        report = json.loads(output)
        z = report["inputs"]["noise_multiplier"]
        steps = report["inputs"]["steps"]
        rate = report["effective_sampling_rate"]
        theirs = [sys.executable, "-c", BASELINE, str(z / 2), repr(rate), str(steps)]
        times_ours, times_theirs = [], []
        for _ in range(repeat):
            times_ours.append(run(ours)[0])
            elapsed, baseline_eps = run(theirs)
            times_theirs.append(elapsed)
        mine, base = statistics.median(times_ours), statistics.median(times_theirs)
        worst = max(worst, mine / base)
        print(
            f"{name}\n  cropcalc {mine:.2f} s (ε ≤ {report['amplified']['epsilon']:.4f}, "
            f"baseline ε ≤ {report['baseline']['epsilon']:.4f})  "
            f"dp-accounting {base:.2f} s (per-direction ε {float(baseline_eps):.4f})  "
            f"ratio {mine / base:.2f}"
        )
    print(f"worst ratio: {worst:.2f} (target ≤ 1.0)")


if __name__ == "__main__":
    main()
