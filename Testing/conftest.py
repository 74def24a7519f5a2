"""Shared pytest fixtures: real data from ../shared/data, pydicom's and pydicom-data's MR files.

A test that needs ``../shared/data`` (or a Debian tool) skips with a message naming it when it is
absent — a user's fresh clone. CI sets ``MRDEEPRECON_REQUIRE_SHARED`` (see ``.ci/run``), which turns
such a skip into a failure, because CI always has them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MRDEEPRECON_SHARED_DATA", REPO.parent / "shared" / "data"))


def _missing(what: str) -> None:
    if os.environ.get("MRDEEPRECON_REQUIRE_SHARED"):
        pytest.fail(f"{what} is required in CI but absent")
    pytest.skip(f"{what} is absent")


def shared_path(relative: str) -> Path:
    """Path under ../shared/data; skips (fails in CI) when it does not exist."""
    path = SHARED_DATA / relative
    if not path.exists():
        _missing(f"shared data {path}")
    return path


def require_tool(name: str) -> str:
    """Executable path of a Debian tool; skips (fails in CI) when it is not installed."""
    exe = shutil.which(name)
    if exe is None:
        _missing(f"the command-line tool {name!r}")
    return exe  # type: ignore[return-value]


def require_bm4d() -> None:
    """BM4D is an optional extra (a closed binary, non-commercial licence) that `make test` does
    not install: skip without it, fail in CI, which installs it."""
    import importlib.util

    if importlib.util.find_spec("bm4d") is None:
        _missing("the bm4d extra (pip install 'mrdeeprecon[bm4d]')")


def pydicom_testdata(name: str) -> Path:
    """A pydicom / pydicom-data test file (pydicom-data is a test dependency, so CI has it)."""
    from pydicom.data import get_testdata_file

    try:
        found = get_testdata_file(name)
    except Exception:  # pydicom tries a download for files that are not installed
        found = None
    if found is None:
        _missing(f"pydicom test file {name}")
    return Path(found)


@pytest.fixture
def philips_enhanced_dir() -> Path:
    """Philips enhanced multi-frame T1 TSE series (AI off) with a Raw Data object beside it."""
    return shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno")


@pytest.fixture
def philips_classic_dir() -> Path:
    """Philips classic single-frame T1 FFE series, 24 files."""
    return shared_path("dicom/philips_phantom/501_T1W_FFE_Sno_CS4")


@pytest.fixture
def ge_mprage_dir() -> Path:
    """GE 3D axial T1 MPRAGE headers (oblique), 130 slices, blank pixels."""
    return shared_path("dicom/ge_mprage_headers")


@pytest.fixture
def stroke_t1_path() -> Path:
    return shared_path("volumes/stroke_T1.nii.gz")


@pytest.fixture
def pydicom_mr_small() -> Path:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("MR_small.dcm"))


#: A noise-reduction calibration table for models in tests: the one of a model whose estimate keeps
#: all the noise (A = 1, C = D = 0), so every requested factor above 1 is unreachable and the output
#: is the network's estimate (α = 0), and factor 1 gives the input inside the band.
IDENTITY_CALIBRATION = {
    "band_fractions": [0.25, 1.0],
    "noise_sd": [[0.01, 0.2], [0.01, 0.2]],
    "a": [[1.0, 1.0], [1.0, 1.0]],
    "c": [[0.0, 0.0], [0.0, 0.0]],
    "d": [[0.0, 0.0], [0.0, 0.0]],
}


def test_card(name: str) -> dict:
    """A model card for a model made in a test: its name and :data:`IDENTITY_CALIBRATION`."""
    return {"name": name, "calibration": IDENTITY_CALIBRATION}


test_card.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict:
    """Randomly initialised small 2D and 3D models (geometry and plumbing tests only)."""
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
    from mrdeeprecon.model.weights import save_model

    out = tmp_path_factory.mktemp("models")
    paths = {}
    for kind, slices in (("2d", 1), ("3d", 7)):
        path = out / f"tiny_{kind}.safetensors"
        save_model(CEUNet(CEUNetConfig(in_slices=slices, base_channels=4, depth=2)), path, test_card(f"tiny {kind}"))
        paths[kind] = path
    return paths
