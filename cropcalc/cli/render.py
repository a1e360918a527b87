"""Write a core result to stdout: a Rich table for people, or JSON for pipelines.

Both views are built from the core's frozen dataclasses; the JSON document is never
scraped from the table. :data:`SCHEMA_VERSION` versions the JSON (its schema is in the
README): within one version fields are only ever added, never renamed or removed.

The table rounds every printed bound outwards, an upper bound up and a lower bound
down, to four significant digits, so that a number read off the table is still a bound;
the JSON holds the full floating-point values.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, TextIO, assert_never

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cropcalc import __version__
from cropcalc.cli.options import OutputFormat
from cropcalc.geometry import PaddingMode
from cropcalc.sampling import Sampler

if TYPE_CHECKING:
    from cropcalc.accounting import EpsilonBounds
    from cropcalc.calculator import EpsilonReport, EpsilonRequest
    from cropcalc.geometry import CropGeometry

SCHEMA_VERSION = 1
ACCOUNTANT = "prv"
NOTE = (
    "ε is the certified upper bound (PRV accounting of the switching pair, "
    "patch-level substitution)."
)
SAMPLER_NOTES = {
    Sampler.POISSON: (
        "Poisson sampling (Opacus' DPDataLoader): a valid upper bound, not tight; "
        "never quote it for a shuffling DataLoader."
    ),
    Sampler.FIXED: "Fixed-size batches drawn without replacement: the bound is tight.",
    Sampler.SHUFFLE: (
        "Shuffling: each image appears once per epoch, so sampling amplifies nothing; "
        "the crop's p is composed over the epochs (an upper bound)."
    ),
}


def render_epsilon(
    report: EpsilonReport, output_format: OutputFormat, stream: TextIO | None = None
) -> None:
    """Write ``report`` to ``stream`` (default: the current stdout) in ``output_format``."""
    out = sys.stdout if stream is None else stream
    match output_format:
        case OutputFormat.TABLE:
            console = Console(file=out, markup=False, highlight=False, emoji=False)
            with console.capture() as capture:
                for renderable in epsilon_table(report):
                    console.print(renderable)
            # Rich pads every line to the table width; trailing blanks only get in the way.
            out.writelines(line.rstrip() + "\n" for line in capture.get().splitlines())
        case OutputFormat.JSON:
            json.dump(epsilon_document(report), out, indent=2, allow_nan=False)
            out.write("\n")
        case _:
            assert_never(output_format)


def epsilon_document(report: EpsilonReport) -> dict[str, Any]:
    """The JSON document of ``report`` (schema version :data:`SCHEMA_VERSION`)."""
    inclusion = report.inclusion
    return {
        "schema_version": SCHEMA_VERSION,
        "cropcalc_version": __version__,
        "command": "epsilon",
        "inputs": _inputs(report.request),
        "inclusion_probability": inclusion.probability,
        "inclusion": {
            "numerator": inclusion.numerator,
            "denominator": inclusion.denominator,
            "placement": list(inclusion.placement),
            "worst_case": inclusion.worst_case,
            "padded_size": list(inclusion.padded_size),
            "crop_positions": inclusion.crop_positions,
        },
        "effective_sampling_rate": report.effective_sampling_rate,
        "delta": report.request.delta,
        "amplified": dataclasses.asdict(report.amplified),
        "baseline": dataclasses.asdict(report.baseline),
        "improvement": report.improvement,
        "accountant": ACCOUNTANT,
        "sampler": report.schedule.sampler.value,
        "tight": report.schedule.sampler.tight,
        "compositions": {"count": report.schedule.count, "unit": report.schedule.unit},
        "warnings": list(report.warnings),
    }


def _inputs(request: EpsilonRequest) -> dict[str, Any]:
    geometry = request.geometry
    padding = geometry.padding
    batch, size = request.batch_size, request.dataset_size
    return {
        "image": list(geometry.image),
        "crop": list(geometry.crop),
        "padding": {
            "left": padding.left,
            "top": padding.top,
            "right": padding.right,
            "bottom": padding.bottom,
        },
        "padding_mode": padding.mode.value,
        "pad_if_needed": geometry.pad_if_needed,
        "patch": list(request.patch),
        "patch_at": None if request.patch_at is None else list(request.patch_at),
        "noise_multiplier": request.noise_multiplier,
        "sampling_rate": request.sampling_rate,
        "batch_size": batch,
        "dataset_size": size,
        "steps": request.steps,
        "epochs": request.epochs,
        "steps_per_epoch": request.steps_per_epoch,
        "delta": request.delta,
        "accuracy": request.accuracy,
        "sampler": request.sampler.value,
    }


def epsilon_table(report: EpsilonReport) -> list[Table | Text]:
    """The table view of ``report``: the setting, then ε, then how to read it."""
    request, inclusion = report.request, report.inclusion
    setting = Table(
        "quantity", "value", title="Patch-level DP-SGD with random cropping", box=box.SIMPLE
    )
    for name, value in _setting_rows(report):
        setting.add_row(name, value)
    setting.add_section()
    setting.add_row(
        "inclusion probability p",
        f"{inclusion.probability:.10g} = {inclusion.numerator}/{inclusion.denominator} "
        "of the crop positions include the patch",
    )
    plan = report.schedule
    per_epoch = plan.unit == "epoch"
    if per_epoch:
        setting.add_row("rate per epoch", f"{plan.amplified_rate:.10g} = p (once per epoch)")
    else:
        setting.add_row("effective rate w = q·p", f"{plan.amplified_rate:.10g}")

    epsilon = Table(
        "",
        "ε (quote this)",
        "[lower, upper]",
        "estimate",
        title=f"ε at δ = {request.delta:g}, after {plan.count} {plan.unit}s",
        box=box.SIMPLE,
    )
    amplified, baseline = ("p", "1") if per_epoch else ("w = q·p", "q")
    epsilon.add_row(f"with crop, rate {amplified}", *_bounds_cells(report.amplified))
    epsilon.add_row(f"baseline, rate {baseline}", *_bounds_cells(report.baseline))
    if report.improvement is None:
        improvement = "The patch never enters a step: ε = 0."
    else:
        ratio = _significant(report.improvement, ROUND_FLOOR, digits=3)
        improvement = f"Crop amplification makes ε {ratio}x smaller than the baseline."
    return [setting, epsilon, Text(improvement), Text(NOTE), Text(SAMPLER_NOTES[plan.sampler])]


def _setting_rows(report: EpsilonReport) -> list[tuple[str, str]]:
    request = report.request
    geometry = request.geometry
    z = request.noise_multiplier
    y, x = report.inclusion.placement
    if report.inclusion.worst_case:
        location = f"unknown: the worst case, attained at top-left y={y}, x={x}"
    else:
        location = f"known: top-left y={y}, x={x}"
    return [
        ("image H×W", _size(geometry.image)),
        ("crop H×W", _size(geometry.crop)),
        ("padding", _padding(geometry)),
        ("patch H×W", _size(request.patch)),
        ("patch location", location),
        ("noise multiplier z", f"{z:g}: noise std zC = σ·2C, σ = z/2 = {z / 2:g}"),
        ("sampling rate q", _sampling_rate(request)),
        ("steps T", _steps(request)),
        ("batch sampler", _sampler(report)),
        ("δ", f"{request.delta:g}"),
    ]


def _padding(geometry: CropGeometry) -> str:
    pad = geometry.padding
    sides = (pad.left, pad.top, pad.right, pad.bottom)
    parts = []
    if any(sides):
        parts.append("left {}, top {}, right {}, bottom {}".format(*sides))
    if geometry.pad_if_needed:
        parts.append("pad_if_needed")
    if not parts:
        return "none"
    if pad.mode is not PaddingMode.CONSTANT or any(sides):
        parts.append(f"{pad.mode.value} mode")
    return "; ".join(parts) + f" (padded {_size(geometry.padded_size)})"


def _sampling_rate(request: EpsilonRequest) -> str:
    q = f"{request.sampling_rate:.10g}"
    if request.batch_size is None or request.dataset_size is None:
        return q
    return f"{q} = B/N = {request.batch_size}/{request.dataset_size}"


def _steps(request: EpsilonRequest) -> str:
    batch, size, epochs = request.batch_size, request.dataset_size, request.epochs
    per_epoch = request.steps_per_epoch
    if epochs is None or batch is None or size is None or per_epoch is None:
        return str(request.steps)
    return (
        f"{request.steps} = {epochs} epochs × {per_epoch} steps (ceil(N/B) = ceil({size}/{batch}))"
    )


def _sampler(report: EpsilonReport) -> str:
    plan = report.schedule
    bound = "tight" if plan.sampler.tight else "upper bound"
    if plan.unit == "epoch":
        return f"{plan.sampler.value} ({bound}): {plan.count} epochs, one appearance each"
    return f"{plan.sampler.value} ({bound})"


def _size(pair: tuple[int, int]) -> str:
    return f"{pair[0]}×{pair[1]}"


def _bounds_cells(bounds: EpsilonBounds) -> tuple[str, str, str]:
    upper = _significant(bounds.epsilon, ROUND_CEILING)
    lower = _significant(bounds.epsilon_lower, ROUND_FLOOR)
    return upper, f"[{lower}, {upper}]", _significant(bounds.epsilon_estimate, ROUND_HALF_EVEN)


def _significant(value: float, rounding: str, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, rounded in the direction ``rounding``."""
    exact = Decimal(value)
    if exact.is_zero():
        return "0"
    if not exact.is_finite():
        return str(value)
    quantum = Decimal(1).scaleb(exact.adjusted() - digits + 1)
    return f"{exact.quantize(quantum, rounding=rounding):f}"
