"""The documentation stays true: README, CI script, completions and CHANGELOG.

Generated text (the README's example output, the completion scripts) is regenerated
and compared here. ``CROPCALC_REGENERATE_GOLDEN=1`` rewrites the README example after
a deliberate change; ``python -m cropcalc.cli.completions`` rewrites the completions.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer

from cropcalc import calculator
from cropcalc.accounting import EpsilonBounds, Phase
from cropcalc.cli import completions
from cropcalc.cli.app import app
from cropcalc.cli.render import epsilon_document
from cropcalc.geometry import CropGeometry

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
REGENERATE = os.environ.get("CROPCALC_REGENERATE_GOLDEN") == "1"
EXAMPLE_OUTPUT = re.compile(
    r"(<!-- example-output:begin[^\n]*-->\n```text\n)(.*?)(```\n<!-- example-output:end -->)",
    re.DOTALL,
)

# Rich would colour the table under FORCE_COLOR even when stdout is not a terminal.
PLAIN_ENVIRONMENT = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "NO_COLOR"}}
ROOT_COMMAND = typer.main.get_command(app)
COMMANDS = getattr(ROOT_COMMAND, "commands", {})


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.DOTALL | re.MULTILINE)


def setup_commands() -> list[str]:
    return code_blocks("sh")[0].splitlines()


def test_readme_opens_with_the_two_setup_commands() -> None:
    first_block = README.index("```")
    assert README.index("```sh\n") == first_block
    install, test = setup_commands()
    assert install.startswith("pip install . && cropcalc epsilon ")
    assert test == "pip install -e '.[test]' && pytest"


def test_ci_runs_exactly_the_readme_commands() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [line.strip() for line in script.splitlines()]
    assert "set -euo pipefail" in lines
    commands = setup_commands()
    assert [line for line in lines if line in commands] == commands
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_every_command_has_help_and_is_in_the_readme() -> None:
    assert COMMANDS
    for name, command in COMMANDS.items():
        assert command.help, name
        assert f"cropcalc {name}" in README


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_option_is_in_the_readme(name: str) -> None:
    for parameter in COMMANDS[name].params:
        assert parameter.help, parameter.name
        for option in parameter.opts:
            if option != "--help":
                assert f"`{option}`" in README, option


def test_root_options_are_in_the_readme() -> None:
    assert "cropcalc --version" in README
    assert "cropcalc --install-completion" in README


def test_json_fields_are_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(
        phases: Sequence[Phase], delta: float, accuracy: float = 0.01, **_: object
    ) -> EpsilonBounds:
        return EpsilonBounds(2.0, 1.9, 1.95, delta, 1e-3)

    monkeypatch.setattr(calculator, "compute_epsilon", fake)
    request = calculator.resolve_epsilon_request(
        geometry=CropGeometry(image=(1024, 2048), crop=(512, 512)),
        patch=(64, 64),
        noise_multiplier=1.0,
        sampling_rate=0.01,
        steps=10,
    )
    document = epsilon_document(calculator.compute_epsilon_report(request))
    schema = README[README.index("## JSON output") : README.index("## Exit codes")]
    for key in document:
        assert f"| `{key}` |" in schema, key
    for name in ("inputs", "inclusion", "amplified"):
        for key in document[name]:
            assert f"`{key}`" in schema, f"{name}.{key}"


def test_readme_example_output_is_the_real_output() -> None:
    """The real accountant; regenerate with ``CROPCALC_REGENERATE_GOLDEN=1``."""
    install, _ = setup_commands()
    arguments = install.split("&& cropcalc ", 1)[1].split()
    result = subprocess.run(
        [sys.executable, "-m", "cropcalc", *arguments],
        capture_output=True,
        text=True,
        check=True,
        env={**PLAIN_ENVIRONMENT, "COLUMNS": "80"},
    )
    match = EXAMPLE_OUTPUT.search(README)
    assert match is not None
    if REGENERATE and match.group(2) != result.stdout:
        updated = README[: match.start(2)] + result.stdout + README[match.end(2) :]
        (ROOT / "README.md").write_text(updated, encoding="utf-8")
        return
    assert match.group(2) == result.stdout


def test_readme_python_example_runs() -> None:
    (example,) = code_blocks("python")
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(example, "README.md", "exec"), {})
    assert len(printed.getvalue().splitlines()) == 3


@pytest.mark.parametrize(("shell", "name"), sorted(completions.FILES.items()))
def test_completion_scripts_are_current(shell: str, name: str) -> None:
    committed = (ROOT / "completions" / name).read_text(encoding="utf-8")
    assert committed == completions.script(shell), "run: python -m cropcalc.cli.completions"


def test_changelog_has_an_unreleased_section() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog
    assert "Keep a Changelog" in changelog
