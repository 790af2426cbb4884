"""Known transforms of a real MR slice are recovered: Debian's insighttoolkit5-examples PD slice shifted by
exactly 13×17 pixels and rotated by 10° about its centre (the package is fetched once and cached;
the test is skipped when it cannot be downloaded)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
DATA = "usr/share/doc/insighttoolkit5-examples/examples/Data/"


@pytest.fixture(scope="module")
def slices(tmp_path_factory):
    sys.path.insert(0, str(SCRIPTS))
    import fetch_test_brains as fetch  # noqa: PLC0415

    spec = fetch.PackageSpec(kind="deb", name="insighttoolkit5-examples", version="5.2.1-5+deb12u1",
                             filename="insighttoolkit5-examples_5.2.1-5+deb12u1_all.deb",
                             sha256="6ca1f323eac0b3cba50e786bbf0f2c76ed44b52ecb9e7aeea808ccc42bf09f69")
    try:
        package = fetch.fetch_package(spec, fetch.CACHE_DIR)
    except fetch.FetchError as err:
        pytest.skip(f"insighttoolkit5-examples cannot be fetched here: {err}")
    from voxflow.io import read_image  # noqa: PLC0415

    folder = tmp_path_factory.mktemp("itk")
    images = {}
    for name in ("BrainProtonDensitySliceBorder20", "BrainProtonDensitySliceShifted13x17y",
                 "BrainProtonDensitySliceRotated10"):
        path = folder / f"{name}.png"
        path.write_bytes(fetch.read_deb_member(package, DATA + f"{name}.png"))
        data = np.asarray(read_image(str(path)).data, np.float32)[:, :, 0, 0]  # grey PNG read as RGB
        images[name] = (data / 255.0)[..., None]
    return images


def test_the_pd_slice_shifted_13_by_17_pixels(slices):
    from test_registration_network import fit  # noqa: PLC0415

    from voxflow.losses.registration import ssd_loss  # noqa: PLC0415

    fixed, moving = slices["BrainProtonDensitySliceBorder20"], slices["BrainProtonDensitySliceShifted13x17y"]
    assert np.abs(moving[13 + 40:13 + 200, 17 + 40:17 + 180] - fixed[40:200, 40:180]).max() == 0  # exact
    field = fit(moving, fixed, "affine", 300, loss=ssd_loss)
    assert np.abs(field[40:200, 40:200] - [13.0, 17.0]).max() < 0.2  # a fraction of a pixel everywhere


@pytest.mark.slow  # 300 steps on a 257x221 slice: ~15 s on 2 cores (the shift test stays in the default suite)
def test_the_pd_slice_rotated_ten_degrees_about_its_centre(slices):
    from test_registration_network import fit  # noqa: PLC0415

    from voxflow.losses.registration import ssd_loss  # noqa: PLC0415

    fixed, moving = slices["BrainProtonDensitySliceBorder20"], slices["BrainProtonDensitySliceRotated10"]
    field = fit(moving, fixed, "affine", 300, loss=ssd_loss)
    points = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in fixed.shape[:2]], indexing="ij"), -1)
    inner = (slice(50, -50), slice(50, -50))
    source = points[inner].reshape(-1, 2)
    target = (points + field)[inner].reshape(-1, 2)
    matrix, *_ = np.linalg.lstsq(np.c_[source, np.ones(len(source))], target, rcond=None)
    linear, shift = matrix[:2].T, matrix[2]
    angle = np.degrees(np.arctan2(linear[1, 0], linear[0, 0]))
    assert abs(abs(angle) - 10.0) < 0.3
    centre = np.linalg.solve(np.eye(2) - linear, shift)  # the fixed point of the map
    assert np.linalg.norm(centre - (np.array(fixed.shape[:2]) - 1) / 2) < 1.5
