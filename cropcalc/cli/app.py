"""The ``cropcalc`` command: parse the options, call the core, map failures to exit codes.

Commands are thin. Each resolves its options into a core request, calls the core, and
hands the result to :mod:`cropcalc.cli.render`; the numerics stack is imported inside
the command, so ``cropcalc --help`` and shell completion start fast.

Every failure leaves through :meth:`CropcalcGroup.main`, the one handler at the edge:
a single line ``cropcalc: error: --flag: what to change`` on stderr, nothing on stdout,
no traceback, and the exit status of :class:`~cropcalc.errors.ExitStatus` (2 for bad
input, including Typer's own usage errors; 3 when ε cannot be computed accurately).
Warnings go to stderr as ``cropcalc: warning: …`` lines.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from cropcalc import __version__
from cropcalc.accounting.accountants import Accountant
from cropcalc.cli import options
from cropcalc.cli.options import OutputFormat
from cropcalc.errors import CropcalcError, ExitStatus, InputError
from cropcalc.geometry import PaddingMode
from cropcalc.sampling import Sampler

PROG_NAME = "cropcalc"


class CropcalcGroup(TyperGroup):
    """The root command, whose :meth:`main` is the single error handler."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; in standalone mode, exit with an :class:`ExitStatus`."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            status = super().main(
                args, prog_name, complete_var, False, windows_expand_args, **extra
            )
        except CropcalcError as error:
            _fail(describe_error(error), error.exit_status)
        except typer.TyperException as error:  # Typer's usage errors: bad or missing options
            _fail(describe_error(error), ExitStatus.BAD_INPUT)
        except typer.Abort:
            _fail("aborted", 130)
        except BrokenPipeError:
            # The reader went away (``cropcalc … | head``): nothing left to say to it.
            sys.stderr.close()
            sys.exit(ExitStatus.OK)
        except Exception as error:
            # A bug must not pass for "over budget" (1) in a CI gate, nor dump a
            # traceback on users; CROPCALC_DEBUG=1 shows it to whoever fixes it.
            if os.environ.get("CROPCALC_DEBUG"):
                raise
            _fail(
                f"internal error ({type(error).__name__}: {error}); please report it with "
                "the command line (CROPCALC_DEBUG=1 shows the traceback)",
                ExitStatus.INTERNAL,
            )
        sys.exit(status if isinstance(status, int) else ExitStatus.OK)


def describe_error(error: CropcalcError | typer.TyperException) -> str:
    """One line naming the option at fault (``--patch-at: …``) and what to change."""
    if isinstance(error, CropcalcError):
        flag = None if error.field is None else "--" + error.field.replace("_", "-")
        message = error.message
    elif isinstance(error, typer.BadParameter) and error.param is not None and error.message:
        flag = "/".join(error.param.opts)
        message = error.message
    else:
        flag, message = None, error.format_message()
        # Usage errors carry the context of the command they arose in.
        context = getattr(error, "ctx", None)
        if context is not None:
            message = f"{message.rstrip('.')}; see '{context.command_path} --help'"
    line = " ".join(message.split())
    return line if flag is None else f"{flag}: {line}"


def _fail(message: str, status: int) -> NoReturn:
    typer.echo(f"{PROG_NAME}: error: {message}", err=True)
    sys.exit(status)


def _warn(message: str) -> None:
    typer.echo(f"{PROG_NAME}: warning: {' '.join(message.split())}", err=True)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG_NAME} {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name=PROG_NAME,
    cls=CropcalcGroup,
    # Plain Click help: it reflows paragraphs and does not load Rich for --help.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Patch-level differential privacy of DP-SGD with torchvision random cropping.

    \b
    Exit status:
      0  success
      2  bad input; the message names the option to change
      3  ε cannot be certified to the requested accuracy
      70 internal error (a bug; please report it)
    """


@app.command()
def epsilon(
    *,
    image: options.Image,
    crop: options.Crop,
    padding: options.PaddingValues = None,
    padding_mode: options.PaddingModeChoice = PaddingMode.CONSTANT,
    pad_if_needed: options.PadIfNeeded = False,
    patch: options.Patch = None,
    shape: options.ShapeChoice = options.PatchKind.BOX,
    patch_polygon: options.PatchPolygon = None,
    patch_mask: options.PatchMask = None,
    patch_at: options.PatchAt = None,
    augmult: options.Augmult = 1,
    noise_multiplier: options.NoiseMultiplier,
    sampling_rate: options.SamplingRate = None,
    batch_size: options.BatchSize = None,
    dataset_size: options.DatasetSize = None,
    steps: options.Steps = None,
    epochs: options.Epochs = None,
    delta: options.Delta = options.DEFAULT_DELTA,
    accuracy: options.Accuracy = options.DEFAULT_ACCURACY,
    sampler: options.SamplerChoice = Sampler.POISSON,
    accountant: options.AccountantChoice = Accountant.PRV,
    output_format: options.Format = OutputFormat.TABLE,
) -> None:
    """Certified ε of a patch, with and without crop amplification.

    Computes the probability p that a random crop includes the patch (worst case over
    its location unless --patch-at is given), the effective sampling rate w = q·p, and
    the certified ε of DP-SGD at rate w and, as the baseline, at rate q. Say how
    batches are drawn with --sampler: poisson (the default, an upper bound), fixed
    (fixed-size batches without replacement: the same numbers, tight) or shuffle
    (each image once per epoch: no sampling amplification).
    """
    # Imported here, not at the top: the numerics stack would slow down --help.
    from cropcalc import calculator
    from cropcalc.cli import render

    geometry, region, at = options.build_region(
        image=image,
        crop=crop,
        padding=padding,
        padding_mode=padding_mode,
        pad_if_needed=pad_if_needed,
        patch=patch,
        shape=shape,
        patch_polygon=patch_polygon,
        patch_mask=patch_mask,
        patch_at=patch_at,
    )
    request = calculator.resolve_epsilon_request(
        geometry=geometry,
        patch=region,
        patch_at=at,
        augmult=augmult,
        noise_multiplier=noise_multiplier,
        sampling_rate=sampling_rate,
        batch_size=batch_size,
        dataset_size=dataset_size,
        steps=steps,
        epochs=epochs,
        delta=delta,
        accuracy=accuracy,
        sampler=sampler,
        accountant=accountant,
    )
    report = calculator.compute_epsilon_report(request)
    for warning in report.warnings:
        _warn(warning)
    render.render_epsilon(report, output_format)


@app.command()
def inclusion(
    *,
    image: options.Image,
    crop: options.Crop,
    padding: options.PaddingValues = None,
    padding_mode: options.PaddingModeChoice = PaddingMode.CONSTANT,
    pad_if_needed: options.PadIfNeeded = False,
    patch: options.Patch = None,
    shape: options.ShapeChoice = options.PatchKind.BOX,
    patch_polygon: options.PatchPolygon = None,
    patch_mask: options.PatchMask = None,
    patch_at: options.PatchAt = None,
    augmult: options.Augmult = 1,
    map_out: options.MapOut = None,
    output_format: options.Format = OutputFormat.TABLE,
) -> None:
    """Probability that a random crop includes the patch, and where it is worst.

    The geometry half of 'cropcalc epsilon': p for a box, an ellipse, a polygon, a
    pixel mask or several boxes, at a known location or in the worst case over
    every placement, with the map of p over all placements (a heatmap in the table;
    the whole map with --map-out).
    """
    from cropcalc.cli import mapfile, render
    from cropcalc.geometry import InclusionRequest

    target = None if map_out is None else mapfile.check_map_path(map_out)
    geometry, region, at = options.build_region(
        image=image,
        crop=crop,
        padding=padding,
        padding_mode=padding_mode,
        pad_if_needed=pad_if_needed,
        patch=patch,
        shape=shape,
        patch_polygon=patch_polygon,
        patch_mask=patch_mask,
        patch_at=patch_at,
    )
    request = InclusionRequest(geometry, region, region.placement(at), augmult)
    worst_case = request.patch_at is None
    if target is not None and not worst_case:
        raise InputError("a map needs the worst case; drop --patch-at", field="map_out")
    result = request.compute(with_map=worst_case)
    if target is not None:
        mapfile.write_map(result, target)
    render.render_inclusion(request, result, output_format)


def main() -> None:
    """Entry point of the ``cropcalc`` console script and of ``python -m cropcalc``."""
    typer.main.get_command(app).main(prog_name=PROG_NAME)
