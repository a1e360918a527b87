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
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, TextIO, assert_never

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cropcalc import __version__
from cropcalc.accounting.accountants import Accountant
from cropcalc.cli.geometry_view import (
    geometry_rows,
    heatmap,
    inclusion_fields,
    inclusion_inputs,
    probability_rows,
)
from cropcalc.cli.options import OutputFormat
from cropcalc.sampling import Sampler

if TYPE_CHECKING:
    from cropcalc.accounting import EpsilonBounds
    from cropcalc.calculator import EpsilonReport, EpsilonRequest
    from cropcalc.geometry import InclusionRequest, InclusionResult

SCHEMA_VERSION = 1
ACCOUNTANT_NOTES = {
    Accountant.PRV: (
        "ε is the certified upper bound (cropcalc's PRV accounting of the switching pair, "
        "patch-level substitution); the bracket holds the true ε."
    ),
    Accountant.PLD: (
        "ε is an upper bound (dp-accounting's pessimistic PLD of the switching pair, "
        "patch-level substitution); lower is its optimistic counterpart."
    ),
    Accountant.RDP: (
        "ε is an upper bound (Rényi accounting of the switching pair, patch-level "
        "substitution): valid but loose; RDP gives no lower bound (shown as 0)."
    ),
}
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
    _write(output_format, lambda: epsilon_table(report), lambda: epsilon_document(report), stream)


def render_inclusion(
    request: InclusionRequest,
    result: InclusionResult,
    output_format: OutputFormat,
    stream: TextIO | None = None,
) -> None:
    """Write an inclusion result (with its heatmap when the map was computed)."""
    _write(
        output_format,
        lambda: inclusion_table(request, result),
        lambda: inclusion_document(request, result),
        stream,
    )


def _write(
    output_format: OutputFormat,
    table: Callable[[], list[Table | Text]],
    document: Callable[[], dict[str, Any]],
    stream: TextIO | None,
) -> None:
    out = sys.stdout if stream is None else stream
    match output_format:
        case OutputFormat.TABLE:
            console = Console(file=out, markup=False, highlight=False, emoji=False)
            with console.capture() as capture:
                for renderable in table():
                    console.print(renderable)
            # Rich pads every line to the table width; trailing blanks only get in the way.
            out.write("".join(line.rstrip() + "\n" for line in capture.get().splitlines()))
        case OutputFormat.JSON:
            json.dump(document(), out, indent=2, allow_nan=False)
            out.write("\n")
        case _:
            assert_never(output_format)


def inclusion_document(request: InclusionRequest, result: InclusionResult) -> dict[str, Any]:
    """The JSON document of an inclusion result (schema version :data:`SCHEMA_VERSION`)."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "cropcalc_version": __version__,
        "command": "inclusion",
        "inputs": inclusion_inputs(request),
        **inclusion_fields(result),
        "map": None,
    }
    if result.counts is not None:
        probabilities = result.probability_map()
        document["map"] = {
            "shape": list(probabilities.shape),
            "min": float(probabilities.min()),
            "max": float(probabilities.max()),
            "mean": float(probabilities.mean()),
            "worst_placements": [list(p) for p in result.worst_placements()],
        }
    return document


def inclusion_table(request: InclusionRequest, result: InclusionResult) -> list[Table | Text]:
    """The table view of an inclusion result, then the heatmap of every placement."""
    table = Table("quantity", "value", title="Patch inclusion under RandomCrop", box=box.SIMPLE)
    for name, value in geometry_rows(request, result):
        table.add_row(name, value)
    table.add_section()
    for name, value in probability_rows(result):
        table.add_row(name, value)
    return [table, *([] if result.counts is None else heatmap(result))]


def epsilon_document(report: EpsilonReport) -> dict[str, Any]:
    """The JSON document of ``report`` (schema version :data:`SCHEMA_VERSION`)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "cropcalc_version": __version__,
        "command": "epsilon",
        "inputs": _inputs(report.request),
        **inclusion_fields(report.inclusion),
        "effective_sampling_rate": report.effective_sampling_rate,
        "delta": report.request.delta,
        "amplified": dataclasses.asdict(report.amplified),
        "baseline": dataclasses.asdict(report.baseline),
        "improvement": report.improvement,
        "accountant": report.amplified.accountant.value,
        "sampler": report.schedule.sampler.value,
        "tight": report.schedule.sampler.tight,
        "compositions": {"count": report.schedule.count, "unit": report.schedule.unit},
        "warnings": list(report.warnings),
    }


def _inputs(request: EpsilonRequest) -> dict[str, Any]:
    return {
        **inclusion_inputs(request.inclusion_request),
        "noise_multiplier": request.noise_multiplier,
        "sampling_rate": request.sampling_rate,
        "batch_size": request.batch_size,
        "dataset_size": request.dataset_size,
        "steps": request.steps,
        "epochs": request.epochs,
        "steps_per_epoch": request.steps_per_epoch,
        "delta": request.delta,
        "accuracy": request.accuracy,
        "sampler": request.sampler.value,
        "accountant": request.accountant.value,
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
    for name, value in probability_rows(inclusion):
        setting.add_row(name, value)
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
    elif report.improvement <= 1:
        improvement = "Crop amplification gives no measurable improvement here."
    else:
        ratio = _significant(report.improvement, ROUND_FLOOR, digits=3)
        improvement = f"Crop amplification makes ε {ratio}x smaller than the baseline."
    return [
        setting,
        epsilon,
        Text(improvement),
        Text(ACCOUNTANT_NOTES[report.amplified.accountant]),
        Text(SAMPLER_NOTES[plan.sampler]),
    ]


def _setting_rows(report: EpsilonReport) -> list[tuple[str, str]]:
    request = report.request
    z = request.noise_multiplier
    return [
        *geometry_rows(request.inclusion_request, report.inclusion),
        ("noise multiplier z", f"{z:g}: noise std zC = σ·2C, σ = z/2 = {z / 2:g}"),
        ("sampling rate q", _sampling_rate(request)),
        ("steps T", _steps(request)),
        ("batch sampler", _sampler(report)),
        ("δ", f"{request.delta:g}"),
    ]


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
    rounded = exact.quantize(quantum, rounding=rounding)
    # Beyond a million, positional notation only hides the magnitude in a narrow column.
    return f"{rounded:f}" if abs(exact.adjusted()) < 6 else f"{rounded:.{digits - 1}e}"
