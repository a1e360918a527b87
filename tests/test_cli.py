"""The ``cropcalc`` command line: exit codes, stdout/stderr discipline, JSON contract.

Every test here but the subprocess smoke test replaces the accountant with a fast fake
(``fake_accountant``): they check parsing, errors and rendering, not numbers.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from cropcalc import __version__, calculator
from cropcalc.accounting import Accountant, EpsilonBounds, Phase
from cropcalc.cli import options
from cropcalc.cli.app import app
from cropcalc.cli.options import OutputFormat
from cropcalc.errors import AccuracyError, ExitStatus

GOLDEN = Path(__file__).parent / "golden"
REGENERATE = os.environ.get("CROPCALC_REGENERATE_GOLDEN") == "1"

SPEC_EXAMPLE = [
    "epsilon",
    "--image", "1024x2048",
    "--crop", "512",
    "--patch", "64x64",
    "--noise-multiplier", "1.0",
    "--sampling-rate", "0.01",
    "--steps", "1000",
    "--delta", "1e-5",
]  # fmt: skip


def fake_compute_epsilon(
    phases: Sequence[Phase],
    delta: float,
    accuracy: float = 0.01,
    *,
    accountant: Accountant = Accountant.PRV,
) -> EpsilonBounds:
    """A monotone stand-in for the accountant, exact to the last digit in tests."""
    (phase,) = phases
    epsilon = 10 * phase.rate * math.sqrt(phase.steps) / phase.noise_multiplier
    return EpsilonBounds(
        epsilon=epsilon,
        epsilon_lower=0.99 * epsilon,
        epsilon_estimate=0.995 * epsilon,
        delta=delta,
        grid_spacing=1e-3,
        accountant=Accountant(accountant),
    )


@pytest.fixture
def fake_accountant(monkeypatch: pytest.MonkeyPatch) -> list[Phase]:
    """Replace the accountant; the returned list records every phase it was asked for."""
    calls: list[Phase] = []

    def record(
        phases: Sequence[Phase], delta: float, accuracy: float = 0.01, **options: Accountant
    ) -> EpsilonBounds:
        calls.extend(phases)
        return fake_compute_epsilon(phases, delta, accuracy, **options)

    monkeypatch.setattr(calculator, "compute_epsilon", record)
    return calls


def run(args: Sequence[str], env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env=env, prog_name="cropcalc")


def with_option(args: Sequence[str], flag: str, value: str | None) -> list[str]:
    """``args`` with ``flag`` set to ``value`` (replaced if present, removed if None)."""
    out = list(args)
    if flag in out:
        index = out.index(flag)
        del out[index : index + 2]
    if value is not None:
        out += [flag, value]
    return out


def assert_one_line_error(result: Result, flag: str | None, status: int = 2) -> None:
    assert result.exit_code == status, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("cropcalc: error: ")
    if flag is not None:
        assert lines[0].startswith(f"cropcalc: error: {flag}: ")
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("fake_accountant")
def test_json_is_the_whole_stdout_and_echoes_the_inputs() -> None:
    result = run([*SPEC_EXAMPLE, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["schema_version"] == 1
    assert document["cropcalc_version"] == __version__
    assert document["inclusion_probability"] == pytest.approx(0.3741054001, abs=1e-10)
    assert document["inclusion"]["numerator"] * 1537 == document["inclusion"]["denominator"] * 575
    assert document["effective_sampling_rate"] == pytest.approx(0.01 * 575 / 1537, rel=1e-12)
    assert document["delta"] == 1e-5
    for name in ("amplified", "baseline"):
        bounds = document[name]
        assert bounds["epsilon_lower"] <= bounds["epsilon_estimate"] <= bounds["epsilon"]
    assert document["improvement"] == pytest.approx(1537 / 575)
    assert document["inputs"] == {
        "image": [1024, 2048],
        "crop": [512, 512],
        "padding": {"left": 0, "top": 0, "right": 0, "bottom": 0},
        "padding_mode": "constant",
        "pad_if_needed": False,
        "patch": [64, 64],
        "patch_shape": "box",
        "patch_pixels": 4096,
        "patch_at": None,
        "augmult": 1,
        "noise_multiplier": 1.0,
        "sampling_rate": 0.01,
        "batch_size": None,
        "dataset_size": None,
        "steps": 1000,
        "epochs": None,
        "steps_per_epoch": None,
        "delta": 1e-5,
        "accuracy": 0.01,
        "sampler": "poisson",
        "accountant": "prv",
    }
    assert document["sampler"] == "poisson"
    assert document["tight"] is False
    assert document["compositions"] == {"count": 1000, "unit": "step"}


def test_shuffle_composes_per_epoch(fake_accountant: list[Phase]) -> None:
    args = with_option(SPEC_EXAMPLE, "--sampling-rate", None)
    args = with_option(args, "--steps", None)
    args += ["--batch-size", "50", "--dataset-size", "5000", "--epochs", "3"]
    result = run([*args, "--sampler", "shuffle", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["sampler"], document["tight"]) == ("shuffle", False)
    assert document["compositions"] == {"count": 3, "unit": "epoch"}
    assert document["inputs"]["steps"] == 300
    p = document["inclusion_probability"]
    assert document["effective_sampling_rate"] == p
    assert [(phase.rate, phase.steps) for phase in fake_accountant] == [(1.0, 3), (p, 3)]


@pytest.mark.parametrize("output_format", list(OutputFormat))
def test_every_output_format_renders(
    output_format: OutputFormat, fake_accountant: list[Phase]
) -> None:
    result = run([*SPEC_EXAMPLE, "--format", output_format.value])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    assert result.stderr == ""


def test_epochs_count_ceil_n_over_b_steps(fake_accountant: list[Phase]) -> None:
    args = with_option(SPEC_EXAMPLE, "--sampling-rate", None)
    args = with_option(args, "--steps", None)
    args += ["--batch-size", "256", "--dataset-size", "50000", "--epochs", "3", "--format", "json"]
    result = run(args)
    assert result.exit_code == 0, result.output
    inputs = json.loads(result.stdout)["inputs"]
    assert inputs["sampling_rate"] == 256 / 50000
    assert inputs["steps_per_epoch"] == 196  # ceil(50000 / 256); Opacus' int() gives 195
    assert inputs["steps"] == 3 * 196
    assert {phase.steps for phase in fake_accountant} == {588}


def test_known_location_and_padding_reach_the_geometry(fake_accountant: list[Phase]) -> None:
    # Spec, section 5: 300x400 image, 160 crop, 12x40 patch, constant padding 10.
    args = [
        "epsilon", "--image", "300x400", "--crop", "160", "--patch", "12x40",
        "--padding", "10", "--noise-multiplier", "1", "--sampling-rate", "0.5",
        "--steps", "10", "--format", "json",
    ]  # fmt: skip
    document = json.loads(run(args).stdout)
    assert document["inclusion_probability"] == pytest.approx(199 / 261, abs=1e-12)
    assert document["inputs"]["padding"] == {"left": 10, "top": 10, "right": 10, "bottom": 10}
    known = json.loads(run([*args, "--patch-at", "0,0"]).stdout)
    assert known["inclusion"]["worst_case"] is False
    assert known["inputs"]["patch_at"] == [0, 0]
    assert known["inclusion_probability"] <= document["inclusion_probability"]


def test_full_inclusion_runs_the_accountant_once(fake_accountant: list[Phase]) -> None:
    args = with_option(SPEC_EXAMPLE, "--crop", "1024x2048")
    result = run([*args, "--format", "json"])
    document = json.loads(result.stdout)
    assert document["inclusion_probability"] == 1
    assert document["amplified"] == document["baseline"]
    assert document["improvement"] == 1
    assert len(fake_accountant) == 1


@pytest.mark.usefixtures("fake_accountant")
def test_delta_not_below_one_over_n_warns_on_stderr() -> None:
    args = with_option(SPEC_EXAMPLE, "--sampling-rate", None)
    args += ["--batch-size", "10", "--dataset-size", "1000", "--delta", "0.001", "--format", "json"]
    result = run(args)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["warnings"]
    (line,) = result.stderr.splitlines()
    assert line.startswith("cropcalc: warning: δ = 0.001 is not below 1/N = 0.001")


BAD_INPUTS = [
    ("--image", "1024x"),
    ("--image", "-5x3"),
    ("--image", "abc"),
    ("--image", "0x100"),
    ("--image", "1x2x3"),
    ("--image", ""),
    ("--crop", "0"),
    ("--crop", "512x"),
    ("--crop", "4096"),  # larger than the image
    ("--crop", "1100x100"),  # larger than the image in one axis
    ("--patch", "2000x64"),  # larger than the image
    ("--patch", "64,64"),
    ("--patch-at", "1000,0"),  # outside the image
    ("--patch-at", "0,1985"),  # patch would stick out on the right
    ("--patch-at", "-1,0"),
    ("--patch-at", "5"),
    ("--sampling-rate", "0"),
    ("--sampling-rate", "1.5"),
    ("--sampling-rate", "-0.1"),
    ("--sampling-rate", "nan"),
    ("--sampling-rate", "ten"),
    ("--noise-multiplier", "0"),
    ("--noise-multiplier", "-1"),
    ("--noise-multiplier", "inf"),
    ("--noise-multiplier", "nan"),
    ("--delta", "0"),
    ("--delta", "1"),
    ("--delta", "1.5"),
    ("--delta", "-1e-5"),
    ("--steps", "1.5"),
    ("--steps", "1e3"),
    ("--steps", "0"),
    ("--steps", "-3"),
    ("--steps", "many"),
    ("--accuracy", "0"),
    ("--accuracy", "0.7"),
    ("--padding", "1,2,3"),
    ("--padding", "-4"),
    ("--padding", "4,"),
    ("--padding", "a"),
    ("--padding-mode", "wrap"),
    ("--sampler", "random"),
    ("--sampler", "shuffle"),  # epochs unknown: no batch or dataset size
    ("--format", "xml"),
]


@pytest.mark.usefixtures("fake_accountant")
@pytest.mark.parametrize(("flag", "value"), BAD_INPUTS)
def test_bad_input_is_one_line_naming_the_flag(flag: str, value: str) -> None:
    assert_one_line_error(run(with_option(SPEC_EXAMPLE, flag, value)), flag)


INCONSISTENT_INPUTS = [
    # (options to set: value, or None to remove; the flag the message must name)
    ({"--steps": None}, "--steps"),  # neither steps nor epochs
    ({"--epochs": "2"}, "--steps"),  # both
    ({"--steps": None, "--epochs": "2"}, "--epochs"),  # epochs need batch and dataset size
    ({"--sampling-rate": None}, "--sampling-rate"),  # no sampling rate at all
    ({"--sampling-rate": None, "--batch-size": "10"}, "--dataset-size"),  # batch alone
    ({"--batch-size": "10", "--dataset-size": "100"}, "--sampling-rate"),  # q given two ways
    ({"--sampling-rate": None, "--batch-size": "101", "--dataset-size": "100"}, "--batch-size"),
    ({"--sampling-rate": None, "--batch-size": "0", "--dataset-size": "100"}, "--batch-size"),
    ({"--sampling-rate": None, "--batch-size": "1", "--dataset-size": "-9"}, "--dataset-size"),
    (
        {
            "--sampling-rate": None,
            "--steps": None,
            "--epochs": "0",
            "--batch-size": "1",
            "--dataset-size": "9",
        },
        "--epochs",
    ),
    ({"--padding": "1024", "--padding-mode": "reflect"}, "--padding"),
    ({"--crop": "2100x100", "--padding-mode": "reflect"}, "--crop"),
]


@pytest.mark.usefixtures("fake_accountant")
@pytest.mark.parametrize(("changes", "flag"), INCONSISTENT_INPUTS)
def test_inconsistent_input_is_one_line_naming_the_flag(
    changes: dict[str, str | None], flag: str
) -> None:
    args = list(SPEC_EXAMPLE)
    for name, value in changes.items():
        args = with_option(args, name, value)
    assert_one_line_error(run(args), flag)


@pytest.mark.usefixtures("fake_accountant")
def test_pad_if_needed_that_reflect_padding_cannot_reach_names_the_mode() -> None:
    args = with_option(SPEC_EXAMPLE, "--crop", "2100x100")
    args = with_option(args, "--padding-mode", "reflect")
    assert_one_line_error(run([*args, "--pad-if-needed"]), "--padding-mode")


@pytest.mark.usefixtures("fake_accountant")
@pytest.mark.parametrize(
    "args",
    [
        [*SPEC_EXAMPLE, "--no-such-option"],
        [*SPEC_EXAMPLE, "--steps"],  # option without its value
        with_option(SPEC_EXAMPLE, "--image", None),  # required option missing
        [*SPEC_EXAMPLE, "surplus"],
        ["no-such-command"],
        [],
    ],
)
def test_usage_errors_are_one_line_with_exit_2(args: list[str]) -> None:
    assert_one_line_error(run(args), flag=None)


VALUED_FLAGS = [
    "--image", "--crop", "--patch", "--patch-at", "--padding", "--padding-mode",
    "--noise-multiplier", "--sampling-rate", "--batch-size", "--dataset-size", "--steps",
    "--epochs", "--delta", "--accuracy", "--format", "--shape", "--patch-polygon",
    "--augmult", "--sampler", "--accountant",
]  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(VALUED_FLAGS), st.one_of(st.none(), st.text(max_size=12))),
        max_size=3,
    )
)
def test_any_option_values_exit_0_or_2_without_traceback(
    changes: list[tuple[str, str | None]],
) -> None:
    args = list(SPEC_EXAMPLE)
    for flag, value in changes:
        args = with_option(args, flag, value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(calculator, "compute_epsilon", fake_compute_epsilon)
        result = run(args)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in {ExitStatus.OK, ExitStatus.BAD_INPUT}, result.output
    if result.exit_code == ExitStatus.BAD_INPUT:
        assert_one_line_error(result, flag=None)


def test_accuracy_error_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(
        phases: Sequence[Phase], delta: float, accuracy: float = 0.01, **_: object
    ) -> EpsilonBounds:
        raise AccuracyError(f"δ = {delta} is below the floating-point noise floor", field="delta")

    monkeypatch.setattr(calculator, "compute_epsilon", refuse)
    result = run(SPEC_EXAMPLE)
    assert_one_line_error(result, "--delta", status=ExitStatus.INACCURATE)


def test_a_bug_exits_70_with_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(
        phases: Sequence[Phase], delta: float, accuracy: float = 0.01, **_: object
    ) -> EpsilonBounds:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(calculator, "compute_epsilon", crash)
    monkeypatch.delenv("CROPCALC_DEBUG", raising=False)
    result = run(SPEC_EXAMPLE)
    assert result.exit_code == ExitStatus.INTERNAL
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "internal error (ZeroDivisionError: float division by zero)" in result.stderr


@pytest.mark.parametrize("name", ["prv", "pld", "rdp"])
def test_accountant_is_passed_on_and_named(name: str, fake_accountant: list[Phase]) -> None:
    document = json.loads(run([*SPEC_EXAMPLE, "--accountant", name, "--format", "json"]).stdout)
    assert document["accountant"] == document["inputs"]["accountant"] == name
    assert document["amplified"]["accountant"] == name


def test_unknown_accountant_is_an_input_error() -> None:
    assert_one_line_error(run([*SPEC_EXAMPLE, "--accountant", "moments"]), "--accountant")


def test_version() -> None:
    result = run(["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"cropcalc {__version__}\n"


def test_help_defaults_are_the_core_defaults() -> None:
    assert options.DEFAULT_DELTA == calculator.DEFAULT_DELTA
    assert options.DEFAULT_ACCURACY == calculator.DEFAULT_ACCURACY


@pytest.mark.usefixtures("fake_accountant")
def test_table_matches_golden_file_at_80_columns() -> None:
    """Regenerate with ``CROPCALC_REGENERATE_GOLDEN=1 pytest tests/test_cli.py``."""
    result = run(SPEC_EXAMPLE, env={"COLUMNS": "80", "FORCE_COLOR": None, "NO_COLOR": None})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    golden = GOLDEN / "epsilon_table.txt"
    if REGENERATE:
        golden.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_table_rounds_bounds_outwards() -> None:
    from cropcalc.cli.render import _significant

    assert _significant(6.91201, "ROUND_CEILING") == "6.913"
    assert _significant(6.91299, "ROUND_FLOOR") == "6.912"
    assert _significant(14.8207, "ROUND_CEILING") == "14.83"
    assert _significant(0.000123451, "ROUND_CEILING") == "0.0001235"
    assert _significant(12345.0, "ROUND_CEILING") == "12350"
    assert _significant(0.0, "ROUND_FLOOR") == "0"


def test_help_does_not_load_the_numerics_stack() -> None:
    code = (
        "import sys\n"
        "from cropcalc.cli.app import main\n"
        "sys.argv = ['cropcalc', 'epsilon', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('numpy', 'scipy', 'prv_accountant', 'dp_accounting', 'rich',\n"
        "         'cropcalc.accounting.epsilon', 'cropcalc.calculator')\n"
        "print(sorted(name for name in heavy if name in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "--noise-multiplier" in result.stdout
    assert result.stderr.strip() == "[]"


def test_subprocess_smoke_against_the_spec_vector() -> None:
    """The real process, the real accountant: spec section 5, first row."""
    result = subprocess.run(
        [sys.executable, "-m", "cropcalc", *SPEC_EXAMPLE, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["inclusion_probability"] == pytest.approx(0.3741054001, abs=1e-10)
    for name, expected in (("amplified", 6.9130), ("baseline", 14.8207)):
        bounds = document[name]
        assert abs(bounds["epsilon"] - expected) <= max(0.01, 0.01 * expected)
        assert bounds["epsilon_lower"] <= expected
