"""The calculator: input resolution, validation, and the report against the spec vectors.

Resolution and bookkeeping tests use a fake accountant; the two spec vectors at the end
use the real one (about a second each).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cropcalc import calculator
from cropcalc.accounting import EpsilonBounds, Phase
from cropcalc.calculator import (
    EpsilonRequest,
    compute_epsilon_report,
    resolve_epsilon_request,
    steps_per_epoch,
)
from cropcalc.errors import InputError
from cropcalc.geometry import CropGeometry

GEOMETRY = CropGeometry(image=(1024, 2048), crop=(512, 512))
BASE = {"geometry": GEOMETRY, "patch": (64, 64), "noise_multiplier": 1.0}


def fake_compute_epsilon(
    phases: Sequence[Phase], delta: float, accuracy: float = 0.01, **_: object
) -> EpsilonBounds:
    (phase,) = phases
    epsilon = phase.rate * phase.steps / phase.noise_multiplier
    return EpsilonBounds(epsilon, 0.99 * epsilon, 0.995 * epsilon, delta, 1e-3)


@pytest.fixture
def accountant_calls(monkeypatch: pytest.MonkeyPatch) -> list[Phase]:
    calls: list[Phase] = []

    def record(
        phases: Sequence[Phase], delta: float, accuracy: float = 0.01, **_: object
    ) -> EpsilonBounds:
        calls.extend(phases)
        return fake_compute_epsilon(phases, delta, accuracy)

    monkeypatch.setattr(calculator, "compute_epsilon", record)
    return calls


def resolve(**changes: object) -> EpsilonRequest:
    arguments = {**BASE, "sampling_rate": 0.01, "steps": 1000, **changes}
    return resolve_epsilon_request(**arguments)  # type: ignore[arg-type]


def test_sampling_rate_from_batch_and_dataset_size() -> None:
    request = resolve(sampling_rate=None, batch_size=256, dataset_size=50_000)
    assert request.sampling_rate == 256 / 50_000
    assert (request.batch_size, request.dataset_size) == (256, 50_000)


def test_steps_from_epochs_use_ceil_n_over_b() -> None:
    request = resolve(sampling_rate=None, steps=None, epochs=3, batch_size=256, dataset_size=50_000)
    assert request.steps == 3 * 196
    assert request.epochs == 3


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_steps_per_epoch_is_ceil_and_never_below_opacus(batch: int, size: int) -> None:
    steps = steps_per_epoch(batch, size)
    assert (steps - 1) * batch < size <= steps * batch
    assert steps >= size // batch


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sampling_rate": None}, "sampling_rate"),
        ({"batch_size": 10, "dataset_size": 100}, "sampling_rate"),
        ({"sampling_rate": None, "batch_size": 10}, "dataset_size"),
        ({"sampling_rate": None, "batch_size": 11, "dataset_size": 10}, "batch_size"),
        ({"sampling_rate": None, "batch_size": 0, "dataset_size": 10}, "batch_size"),
        ({"sampling_rate": None, "batch_size": 1, "dataset_size": 0}, "dataset_size"),
        ({"dataset_size": -5}, "dataset_size"),
        ({"sampling_rate": 0.0}, "sampling_rate"),
        ({"sampling_rate": 1.0000001}, "sampling_rate"),
        ({"sampling_rate": math.nan}, "sampling_rate"),
        ({"steps": None}, "steps"),
        ({"epochs": 2}, "steps"),
        ({"steps": None, "epochs": 2}, "epochs"),
        (
            {"steps": None, "epochs": 0, "sampling_rate": None, "batch_size": 1, "dataset_size": 2},
            "epochs",
        ),
        ({"steps": 0}, "steps"),
        ({"steps": 1.5}, "steps"),
        ({"steps": True}, "steps"),
        ({"noise_multiplier": 0.0}, "noise_multiplier"),
        ({"noise_multiplier": -1.0}, "noise_multiplier"),
        ({"noise_multiplier": math.inf}, "noise_multiplier"),
        ({"noise_multiplier": math.nan}, "noise_multiplier"),
        ({"delta": 0.0}, "delta"),
        ({"delta": 1.0}, "delta"),
        ({"delta": math.nan}, "delta"),
        ({"accuracy": 0.0}, "accuracy"),
        ({"accuracy": 0.51}, "accuracy"),
        ({"accuracy": math.nan}, "accuracy"),
    ],
)
def test_invalid_inputs_name_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as raised:
        resolve(**changes)
    assert raised.value.field == field


def test_a_request_is_self_consistent() -> None:
    request = resolve(sampling_rate=None, batch_size=256, dataset_size=50_000)
    with pytest.raises(InputError, match="B/N") as raised:
        EpsilonRequest(**{**vars(request), "sampling_rate": 0.01})
    assert raised.value.field == "sampling_rate"
    with pytest.raises(InputError) as raised:
        EpsilonRequest(**{**vars(request), "epochs": 2})
    assert raised.value.field == "steps"


@pytest.mark.parametrize(
    ("patch", "patch_at", "field"),
    [
        ((2000, 64), None, "patch"),
        ((64, 64), (961, 0), "patch_at"),
        ((64, 64), (0, -1), "patch_at"),
    ],
)
def test_patch_errors_come_before_the_accountant(
    accountant_calls: list[Phase],
    patch: tuple[int, int],
    patch_at: tuple[int, int] | None,
    field: str,
) -> None:
    with pytest.raises(InputError) as raised:
        compute_epsilon_report(resolve(patch=patch, patch_at=patch_at))
    assert raised.value.field == field
    assert accountant_calls == []


def test_report_composes_w_and_q_with_sigma_from_z(accountant_calls: list[Phase]) -> None:
    report = compute_epsilon_report(resolve(noise_multiplier=2.0))
    p = 575 / 1537
    assert report.inclusion.probability == pytest.approx(p, rel=1e-15)
    assert report.effective_sampling_rate == pytest.approx(0.01 * p, rel=1e-15)
    assert {(c.noise_multiplier, c.steps) for c in accountant_calls} == {(2.0, 1000)}
    assert sorted(c.rate for c in accountant_calls) == pytest.approx([0.01 * p, 0.01])
    assert report.improvement == pytest.approx(1 / p)
    assert report.warnings == ()


def test_full_inclusion_runs_the_accountant_once(accountant_calls: list[Phase]) -> None:
    report = compute_epsilon_report(resolve(geometry=CropGeometry(image=(64, 64), crop=(64, 64))))
    assert report.inclusion.probability == 1
    assert report.amplified == report.baseline
    assert report.improvement == 1
    assert len(accountant_calls) == 1


@pytest.mark.usefixtures("accountant_calls")
def test_delta_not_below_one_over_n_is_a_warning() -> None:
    quiet = compute_epsilon_report(resolve(dataset_size=99_999, delta=1e-5))
    assert quiet.warnings == ()
    (warning,) = compute_epsilon_report(resolve(dataset_size=100_000, delta=1e-5)).warnings
    assert "1/N" in warning


class Vector(NamedTuple):
    """One row of the public test vectors (accounting spec, section 5), δ = 1e-5."""

    image: tuple[int, int]
    crop: tuple[int, int]
    patch: tuple[int, int]
    z: float
    q: float
    steps: int
    p: float
    amplified: float
    baseline: float


SPEC_VECTORS = [
    Vector((1024, 2048), (512, 512), (64, 64), 1.0, 0.01, 1000, 0.3741054001, 6.9130, 14.8207),
    Vector((1000, 1000), (300, 300), (25, 25), 1.5, 0.002, 20000, 0.2136259389, 0.6694, 3.6339),
]


@pytest.mark.parametrize("vector", SPEC_VECTORS)
def test_spec_vectors(vector: Vector) -> None:
    """The real accountant at the default accuracy brackets the independent values."""
    request = resolve(
        geometry=CropGeometry(image=vector.image, crop=vector.crop),
        patch=vector.patch,
        noise_multiplier=vector.z,
        sampling_rate=vector.q,
        steps=vector.steps,
        delta=1e-5,
    )
    report = compute_epsilon_report(request)
    assert report.inclusion.probability == pytest.approx(vector.p, abs=1e-10)
    pairs = ((report.amplified, vector.amplified), (report.baseline, vector.baseline))
    for bounds, expected in pairs:
        assert abs(bounds.epsilon - expected) <= max(0.01, 0.01 * expected)
        assert bounds.epsilon_lower <= expected
        assert bounds.epsilon_lower <= bounds.epsilon_estimate <= bounds.epsilon
        assert bounds.delta == 1e-5
    assert report.improvement == pytest.approx(vector.baseline / vector.amplified, rel=0.02)
