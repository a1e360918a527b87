"""`cropcalc inclusion` and the region options shared with `cropcalc epsilon`."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from cropcalc.cli.app import app

# Spec section 5, inclusion only: p = 199/261.
SPEC = ["inclusion", "--image", "300x400", "--crop", "160", "--patch", "12x40", "--padding", "10"]


def run(args: Sequence[str]) -> Result:
    return CliRunner().invoke(app, list(args), prog_name="cropcalc")


def document(args: Sequence[str]) -> dict[str, object]:
    result = run([*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def fraction(doc: dict[str, object]) -> Fraction:
    inclusion = doc["inclusion"]
    assert isinstance(inclusion, dict)
    return Fraction(inclusion["numerator"], inclusion["denominator"])


def assert_error(result: Result, flag: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"cropcalc: error: {flag}: ")
    assert result.stderr.count("\n") == 1


def test_spec_inclusion_vector_and_its_map() -> None:
    doc = document(SPEC)
    assert fraction(doc) == Fraction(199, 261)
    assert doc["command"] == "inclusion"
    summary = doc["map"]
    assert isinstance(summary, dict)
    assert summary["shape"] == [289, 361]  # (300 − 12 + 1) × (400 − 40 + 1) placements
    assert summary["max"] == pytest.approx(199 / 261, abs=1e-15)
    assert 0 < summary["min"] < summary["mean"] < summary["max"]
    assert doc["inclusion"]["placement"] in summary["worst_placements"]  # type: ignore[index]


def test_known_location_has_no_map() -> None:
    doc = document([*SPEC, "--patch-at", "0,0"])
    assert doc["map"] is None
    assert fraction(doc) < Fraction(199, 261)


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_map_out_writes_every_placement(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"map{suffix}"
    doc = document([*SPEC, "--map-out", str(target)])
    written = np.load(target) if suffix == ".npy" else np.loadtxt(target, delimiter=",")
    assert written.shape == (289, 361)
    assert written.max() == doc["inclusion_probability"]
    y, x = doc["inclusion"]["placement"]  # type: ignore[index]
    assert written[y, x] == written.max()


def test_map_out_png_is_a_picture_brightest_at_the_worst_placement(tmp_path: Path) -> None:
    from PIL import Image

    target = tmp_path / "map.png"
    doc = document([*SPEC, "--map-out", str(target)])
    picture = np.asarray(Image.open(target))
    assert picture.shape == (289, 361)
    assert picture.dtype == np.uint8
    y, x = doc["inclusion"]["placement"]  # type: ignore[index]
    assert picture[y, x] == 255
    assert picture.min() == 0


def test_map_out_png_without_pillow_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL.Image", None)  # import fails as if not installed
    result = run([*SPEC, "--map-out", "map.png"])
    assert_error(result, "--map-out")
    assert "pip install 'cropcalc[png]'" in result.stderr


def test_table_ends_with_a_heatmap() -> None:
    result = run(SPEC)
    assert result.exit_code == 0, result.output
    assert "█" in result.stdout
    assert "p over the top-left corner of the patch" in result.stdout


def test_shapes_never_exceed_their_bounding_box() -> None:
    base = ["epsilon", "--image", "128x128", "--crop", "64", "--patch", "15x15"]
    rest = ["--noise-multiplier", "2", "--sampling-rate", "0.1", "--steps", "10"]
    box = document([*base, *rest])
    ellipse = document([*base, "--shape", "ellipse", *rest])
    assert ellipse["inclusion_probability"] <= box["inclusion_probability"]  # type: ignore[operator]
    assert ellipse["inputs"]["patch_shape"] == "ellipse"  # type: ignore[index]
    assert ellipse["amplified"]["epsilon"] <= box["amplified"]["epsilon"]  # type: ignore[index]


def test_polygon_mask_and_box_agree_on_a_rectangle(tmp_path: Path) -> None:
    box = document([*SPEC[:7], "--patch", "12x40", "--patch-at", "50,60", "--padding", "10"])
    polygon = document(
        [*SPEC[:5], "--patch-polygon", "50,60 50,100 62,100 62,60", "--padding", "10"]
    )
    mask = np.zeros((20, 50), dtype=bool)
    mask[3:15, 5:45] = True  # the box sits 3 rows and 5 columns into the file
    np.save(tmp_path / "mask.npy", mask)
    mask_file = str(tmp_path / "mask.npy")
    masked = document([*SPEC[:5], "--patch-mask", mask_file, "--patch-at", "47,55", *SPEC[7:]])
    assert fraction(box) == fraction(polygon) == fraction(masked)
    assert polygon["inclusion"]["placement"] == [50, 60]  # type: ignore[index]
    assert masked["inclusion"]["placement"] == [50, 60]  # type: ignore[index]


def test_repeated_patch_at_protects_the_union() -> None:
    one = document([*SPEC, "--patch-at", "10,10"])
    both = document([*SPEC, "--patch-at", "10,10", "--patch-at", "200,300"])
    assert both["inputs"]["patch_shape"] == "boxes"  # type: ignore[index]
    assert fraction(both) > fraction(one)


def test_augmult_is_exact() -> None:
    doc = document([*SPEC, "--augmult", "3"])
    p = Fraction(199, 261)
    assert doc["inclusion_probability"] == pytest.approx(float(1 - (1 - p) ** 3), rel=1e-15)
    assert doc["inclusion"]["single_crop_probability"] == pytest.approx(float(p))  # type: ignore[index]


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--patch-polygon", "0,0 0,5 5,5"], "--patch"),  # two ways at once
        (["--shape", "ellipse", "--patch-at", "1,1", "--patch-at", "9,9"], "--patch-at"),
        (["--augmult", "0"], "--augmult"),
        (["--map-out", "map.txt"], "--map-out"),
        (["--map-out", "/no/such/folder/map.npy"], "--map-out"),
        (["--patch-at", "1,1", "--map-out", "map.npy"], "--map-out"),
        (["--patch-at", "295,10"], "--patch-at"),
    ],
)
def test_bad_region_options(extra: list[str], flag: str) -> None:
    assert_error(run([*SPEC, *extra]), flag)


@pytest.mark.parametrize(
    ("region", "flag"),
    [
        (["--patch-polygon", "0,0 0,5"], "--patch-polygon"),  # fewer than 3 vertices
        (["--patch-polygon", "0,0 0,500 5,5"], "--patch-polygon"),  # outside the image
        (["--patch-polygon", "0,0 0,5 5,5", "--patch-at", "1,1"], "--patch-at"),
        # Refused before rasterising: its bounding box alone would need ~75 GiB.
        (["--patch-polygon", "0,0 0,99999 99999,0"], "--patch-polygon"),
        (["--patch", "4x4", "--patch-at", "0,0", "--patch-at", "99999,99999"], "--patch-at"),
        (["--patch-polygon", "0,0 0,5 5,5", "--shape", "ellipse"], "--shape"),
        (["--patch-mask", "/no/such/mask.npy"], "--patch-mask"),
        ([], "--patch"),  # no region at all
    ],
)
def test_bad_regions_without_a_box(region: list[str], flag: str) -> None:
    assert_error(run([*SPEC[:5], *region]), flag)


def test_empty_and_three_dimensional_masks_are_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "empty.npy", np.zeros((4, 4), dtype=bool))
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2), dtype=bool))
    for name in ("empty.npy", "cube.npy"):
        assert_error(run([*SPEC[:5], "--patch-mask", str(tmp_path / name)]), "--patch-mask")
