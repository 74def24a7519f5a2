"""`make demo` end to end: nilearn's MNI152 T1, a simulated faster scan, the bundled 2D model."""

import json

import numpy as np

from mrdeeprecon.demo import run_demo
from mrdeeprecon.io import load_volume


def test_demo_writes_its_files_and_improves_the_degraded_scan(tmp_path):
    metrics = run_demo(tmp_path, device="cpu")
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"original.nii.gz", "degraded.nii.gz", "enhanced.nii.gz", "metrics.json", "comparison.png"}
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["enhanced"]["psnr_db"] >= metrics["degraded"]["psnr_db"] + 3.0
    assert metrics["enhanced"]["ssim"] > metrics["degraded"]["ssim"]
    original, enhanced = load_volume(tmp_path / "original.nii.gz"), load_volume(tmp_path / "enhanced.nii.gz")
    assert enhanced.shape == original.shape and enhanced.data.dtype == np.float32
    np.testing.assert_allclose(enhanced.ijk_to_lps(), original.ijk_to_lps(), atol=1e-4)
    assert (tmp_path / "comparison.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
