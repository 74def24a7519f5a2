"""The data-consistency report of a raw reconstruction in the QA report: from the volume's
metadata (in memory) or from ``<original>.consistency.json`` beside a file (``mrdeeprecon qa``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from mrdeeprecon.cli import main
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.io import save_volume
from mrdeeprecon.raw.consistency_sidecar import data_consistency_of, sidecar_path, write_consistency_sidecar
from mrdeeprecon.volume import Volume
from test_raw_dicom import reconstruction  # noqa: F401 - the module fixture
from test_raw_recon import needs_sigpy

pytestmark = needs_sigpy


def _smoothed(volume: Volume) -> Volume:
    return Volume(gaussian_filter(volume.data, (0, 1, 1)).astype(np.float32), volume.spacing, volume.origin, volume.direction)


def test_run_qa_reads_the_report_from_the_metadata(reconstruction):
    from mrdeeprecon.context import ScanContext
    from mrdeeprecon.qa import run_qa

    report = run_qa(reconstruction, _smoothed(reconstruction), ScanContext())
    assert report.data_consistency == reconstruction.metadata["raw_recon"]["consistency"]
    assert report.to_dict()["data_consistency"]["method"] == "zerofill"


def test_cli_qa_finds_the_sidecar_of_a_reconstruction_file(tmp_path, capsys, reconstruction):
    original, enhanced = tmp_path / "recon.nrrd", tmp_path / "smooth.nrrd"
    save_volume(reconstruction, original)
    save_volume(_smoothed(reconstruction), enhanced)
    assert main(["qa", str(original), str(enhanced), "--out", str(tmp_path / "plain")]) == 0
    assert json.loads((tmp_path / "plain" / "qa.json").read_text())["data_consistency"] is None
    assert write_consistency_sidecar(reconstruction, original) == tmp_path / "recon.nrrd.consistency.json"
    capsys.readouterr()
    assert main(["qa", str(original), str(enhanced), "--out", str(tmp_path / "qa")]) == 0
    assert "original's data consistency (zerofill): residual" in capsys.readouterr().out
    written = json.loads((tmp_path / "qa" / "qa.json").read_text())["data_consistency"]
    assert written["residual_rms"] == pytest.approx(reconstruction.metadata["raw_recon"]["consistency"]["residual_rms"])
    assert "## Data consistency of the raw reconstruction" in (tmp_path / "qa" / "qa.md").read_text()


def test_a_damaged_sidecar_is_one_error(tmp_path, reconstruction):
    original = tmp_path / "recon.nrrd"
    sidecar_path(original).write_text("{not json")
    with pytest.raises(MRDeepReconError, match="unreadable data-consistency report"):
        data_consistency_of(Volume(reconstruction.data), original)
