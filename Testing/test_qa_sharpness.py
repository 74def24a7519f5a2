"""QA relative edge sharpness: blurred steps, scale/offset invariance, own-grid profiles, automatic
edges of a sphere per encoding direction, recovery and overshoot."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.special import ndtr

from mrdeeprecon.context import ScanContext
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.qa.grid import index_to_lps
from mrdeeprecon.qa.sharpness import (
    LineSegment,
    axis_sharpness,
    compare_line,
    edge_sharpness,
    line_profile,
    sharpness_recovery,
)
from mrdeeprecon.volume import Volume

EDGE_X = 40.1  # mm, position of the step along x


def _step(sigma_mm: float, spacing: float = 0.5, scale: float = 1.0, offset: float = 0.0) -> Volume:
    """A step along x (LPS L) blurred by a Gaussian of ``sigma_mm``, on an ``spacing`` grid
    covering 0 … 80 mm."""
    n = int(round(80 / spacing))
    x = np.arange(n) * spacing
    profile = offset + scale * ndtr((x - EDGE_X) / sigma_mm)
    return Volume(
        data=np.broadcast_to(profile, (3, 6, n)).astype(np.float64), spacing=(spacing, 1.0, 1.0)
    )


LINE = LineSegment(start=(20.0, 2.5, 1.0), end=(60.0, 2.5, 1.0))


def test_blurred_step_sharpness_is_inverse_to_blur_width() -> None:
    sharp, blurred = (edge_sharpness(line_profile(_step(s), LINE)) for s in (1.0, 2.0))
    for edge, sigma in ((sharp, 1.0), (blurred, 2.0)):
        assert edge.sharpness == pytest.approx(1 / (sigma * np.sqrt(2 * np.pi)), rel=0.03)
        assert edge.height == pytest.approx(1.0, abs=1e-3)
        assert edge.position_mm == pytest.approx(EDGE_X - 20.0, abs=0.5)
    assert sharp.sharpness / blurred.sharpness == pytest.approx(2.0, rel=0.1)


def test_sharpness_ignores_scale_offset_and_edge_direction() -> None:
    reference = edge_sharpness(line_profile(_step(1.5), LINE))
    scaled = edge_sharpness(line_profile(_step(1.5, scale=37.0, offset=-250.0), LINE))
    falling = edge_sharpness(line_profile(_step(1.5, scale=-3.0, offset=10.0), LINE))
    assert scaled.sharpness == pytest.approx(reference.sharpness, rel=1e-9)
    assert scaled.max_gradient == pytest.approx(37.0 * reference.max_gradient, rel=1e-9)
    assert falling.sharpness == pytest.approx(reference.sharpness, rel=1e-9)
    assert falling.height == pytest.approx(-3.0 * reference.height, rel=1e-9)


def test_each_volume_is_profiled_on_its_own_grid() -> None:
    # a coarse original (2 mm voxels, σ 1 mm) and a finer, sharper output (0.25 mm voxels, σ 0.5 mm)
    original, enhanced = _step(1.0, spacing=2.0), _step(0.5, spacing=0.25)
    comparison = compare_line(original, enhanced, LINE)
    # the 2 mm grid cannot show a slope steeper than its own voxel differences
    assert comparison.ratio > 2.0
    # the fine grid shows the true edge of σ 0.5 mm
    assert comparison.enhanced.sharpness == pytest.approx(1 / (0.5 * np.sqrt(2 * np.pi)), rel=0.03)


def test_line_errors() -> None:
    with pytest.raises(MRDeepReconError, match="leaves the volume"):
        line_profile(_step(1.0), LineSegment((20.0, 2.5, 1.0), (120.0, 2.5, 1.0)))
    flat = Volume(data=np.ones((3, 6, 160)), spacing=(0.5, 1.0, 1.0))
    with pytest.raises(MRDeepReconError, match="no edge"):
        edge_sharpness(line_profile(flat, LINE))
    with pytest.raises(MRDeepReconError, match="distinct"):
        LineSegment((1.0, 2.0, 3.0), (1.0, 2.0, 3.0))


def _sphere(blur_mm: float, direction: np.ndarray, seed: int) -> tuple[Volume, np.ndarray]:
    """A bright ball of radius 12 mm blurred by ``blur_mm``, a little noise, and its LPS centre."""
    spacing = (1.0, 1.0, 1.5)  # (i, j, k)
    shape = (32, 48, 48)
    volume = Volume(
        data=np.zeros(shape), spacing=spacing, origin=(5.0, -3.0, 12.0), direction=direction
    )
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    lps = index_to_lps(volume, np.stack([i, j, k], axis=-1))
    centre = index_to_lps(volume, np.array([23.7, 24.2, 15.6]))
    ball = (np.linalg.norm(lps - centre, axis=-1) <= 12.0).astype(np.float64) * 100.0
    blurred = ndimage.gaussian_filter(ball, [blur_mm / s for s in spacing[::-1]])
    noise = np.random.default_rng(seed).normal(0, 0.5, shape)
    return volume.with_data(blurred + noise), centre


def test_auto_mode_finds_sphere_edges_along_each_encoding_axis() -> None:
    angle = np.deg2rad(25)
    direction = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    original, centre = _sphere(1.6, direction, seed=0)
    enhanced, _ = _sphere(0.8, direction, seed=1)
    context = ScanContext(phase_axis=1)  # frequency along x (array axis 2), phase along y
    results = {a.axis: a for a in axis_sharpness(original, enhanced, context, count=6)}
    assert [results[a].array_axis for a in ("frequency", "phase", "slice")] == [2, 1, 0]
    for name, result in results.items():
        assert result.profiles >= 4, name
        index_axis = 2 - result.array_axis
        for comparison in result.comparisons:
            start, end = np.asarray(comparison.segment.start), np.asarray(comparison.segment.end)
            unit = (end - start) / np.linalg.norm(end - start)
            assert abs(unit @ direction[:, index_axis]) == pytest.approx(1.0, abs=1e-9)
            middle = (start + end) / 2
            assert np.linalg.norm(middle - centre) == pytest.approx(12.0, abs=1.6)
        assert 1.3 < result.median_ratio < 2.3, name  # blur halved: sharper, at most about 2x


def test_auto_mode_skips_an_axis_with_too_few_samples() -> None:
    original, _ = _sphere(1.6, np.eye(3), seed=2)
    thin = original.with_data(original.data[13:19])
    results = {a.axis: a for a in axis_sharpness(thin, thin, ScanContext(phase_axis=2), count=3)}
    assert results["slice"].profiles == 0 and "samples" in results["slice"].note
    assert results["slice"].median_ratio is None
    assert results["frequency"].median_ratio == pytest.approx(1.0)


def test_recovery_and_overshoot() -> None:
    recovery = sharpness_recovery(reference=2.0, degraded=1.0, enhanced=1.5)
    assert (recovery.fraction, recovery.overshoot) == pytest.approx((0.5, -0.25))
    over = sharpness_recovery(reference=2.0, degraded=1.0, enhanced=2.4)
    assert (over.fraction, over.overshoot) == pytest.approx((1.4, 0.2))
    # on measured edges: reference σ 1 mm, degraded σ 2 mm, enhanced σ 1.25 mm
    s_ref, s_deg, s_enh = (
        edge_sharpness(line_profile(_step(s), LINE)).sharpness for s in (1.0, 2.0, 1.25)
    )
    measured = sharpness_recovery(s_ref, s_deg, s_enh)
    assert measured.fraction == pytest.approx((1 / 1.25 - 1 / 2) / (1 - 1 / 2), abs=0.03)
    assert measured.overshoot == pytest.approx(1 / 1.25 - 1, abs=0.02)
    with pytest.raises(MRDeepReconError, match="undefined"):
        sharpness_recovery(1.0, 1.0, 1.2)
