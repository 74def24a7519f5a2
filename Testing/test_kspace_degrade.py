"""The k-space degradation simulator: noise statistics, k_max, partial Fourier, SENSE, reproducibility.

Test objects are numerical phantoms built here (Shepp–Logan-like ellipses / ellipsoids), so every
expected number follows from the physics, not from a previous run.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.kspace import coils, partial_fourier, recon
from mrdeeprecon.kspace.degrade import AxisRoles, DegradationSpec, degrade, degrade_batch
from mrdeeprecon.kspace.fft import fftc, ifftc

# (semi-axis u, semi-axis v, centre u, centre v, added intensity), u along columns, v along rows.
ELLIPSES = [
    (0.69, 0.92, 0.0, 0.0, 1.0),
    (0.6624, 0.874, 0.0, -0.0184, -0.6),
    (0.11, 0.31, 0.22, 0.0, -0.2),
    (0.16, 0.41, -0.22, 0.0, -0.2),
    (0.21, 0.25, 0.0, 0.35, 0.3),
    (0.046, 0.046, 0.0, 0.1, 0.2),
    (0.046, 0.023, -0.08, -0.605, 0.2),
]
ROWS_PHASE = AxisRoles(frequency=1, phase=0)  # 2D (y, x) slice with phase encoding along y


def phantom2d(n: int) -> np.ndarray:
    """Shepp–Logan-like slice on an n×n grid, intensities 0 … 1 (float64)."""
    v, u = np.meshgrid(*(2 * (np.arange(n) - n // 2) / n,) * 2, indexing="ij")
    image = np.zeros((n, n))
    for a, b, u0, v0, value in ELLIPSES:
        image[((u - u0) / a) ** 2 + ((v - v0) / b) ** 2 <= 1] += value
    return image


def phantom3d(nz: int, n: int) -> np.ndarray:
    """Stack of ellipsoids: each ellipse of :func:`phantom2d` extruded with a z semi-axis of 0.8."""
    z = 2 * (np.arange(nz) - nz // 2) / nz
    volume = np.zeros((nz, n, n))
    v, u = np.meshgrid(*(2 * (np.arange(n) - n // 2) / n,) * 2, indexing="ij")
    for a, b, u0, v0, value in ELLIPSES:
        inside = ((u - u0) / a) ** 2 + ((v - v0) / b) ** 2
        volume[inside[None] + (z[:, None, None] / 0.8) ** 2 <= 1] += value
    return volume


def _relative_error(image: np.ndarray, reference: np.ndarray, where: np.ndarray) -> float:
    return float(np.linalg.norm((image - reference)[where]) / np.linalg.norm(reference[where]))


@pytest.fixture(scope="module")
def slice256() -> np.ndarray:
    return phantom2d(256)


@pytest.fixture(scope="module")
def slice128() -> np.ndarray:
    return phantom2d(128)


# --- identity and reproducibility -------------------------------------------------------------


def test_trivial_spec_returns_the_input(slice128: np.ndarray) -> None:
    result = degrade(slice128, DegradationSpec(), ROWS_PHASE, rng=0)
    assert result.image.dtype == np.float32 and result.image.shape == slice128.shape
    np.testing.assert_allclose(result.target, slice128, atol=1e-6)
    np.testing.assert_allclose(result.image, slice128, atol=1e-5)
    np.testing.assert_array_equal(result.image, result.noise_free)
    assert result.sigma == 0.0
    assert result.masks["acquired"].all()


def test_same_seed_same_result_different_seed_differs(slice128: np.ndarray) -> None:
    spec = DegradationSpec(noise=0.05, undersample_random=2.5, bias_field=0.2)
    a = degrade(slice128, spec, ROWS_PHASE, rng=5)
    b = degrade(slice128, spec, ROWS_PHASE, rng=5)
    c = degrade(slice128, spec, ROWS_PHASE, rng=6)
    for field in ("image", "noise_free", "target"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    np.testing.assert_array_equal(a.masks["random"], b.masks["random"])
    assert not np.array_equal(a.masks["random"], c.masks["random"])
    assert not np.allclose(a.image, c.image)
    # The target depends on the seed only through the bias field, and never contains noise.
    assert not np.allclose(a.target, c.target)
    quiet = degrade(slice128, dataclasses.replace(spec, noise=0.0), ROWS_PHASE, rng=5)
    np.testing.assert_array_equal(a.target, quiet.target)
    np.testing.assert_array_equal(a.noise_free, quiet.image)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_a_real_batch_degrades_exactly_as_its_complex_copy(slice128: np.ndarray, dtype: torch.dtype) -> None:
    """A real image takes its reference level and magnitude target from its real values (cheaper
    than from its complex copy): the same numbers."""
    real = torch.from_numpy(np.stack([slice128, slice128[::-1].copy()])).to(dtype)
    spec = DegradationSpec(noise=0.05, kmax=(0.8, 0.7, 1.0), bias_field=0.2, quantize_levels=1024)
    from_real = degrade_batch(real, spec, ROWS_PHASE, 3)
    from_complex = degrade_batch(real.to(torch.complex64), spec, ROWS_PHASE, 3)
    for field in ("image", "noise_free", "target", "sigma"):
        torch.testing.assert_close(getattr(from_real, field), getattr(from_complex, field), rtol=0, atol=0)


# --- noise ------------------------------------------------------------------------------------


def test_noise_sigma_and_gaussian_real_part(slice256: np.ndarray) -> None:
    level = float(np.percentile(slice256, 99))
    result = degrade(slice256, DegradationSpec(noise=0.08, output="real"), ROWS_PHASE, rng=1)
    assert result.sigma == pytest.approx(0.08 * level)
    difference = result.image - result.noise_free
    assert difference.std() == pytest.approx(result.sigma, rel=0.05)
    assert abs(difference.mean()) < 0.05 * result.sigma
    background = slice256 == 0
    assert result.image[background].std() == pytest.approx(result.sigma, rel=0.05)


def test_magnitude_background_is_rician(slice256: np.ndarray) -> None:
    result = degrade(slice256, DegradationSpec(noise=0.05), ROWS_PHASE, rng=2, reference_level=1.0)
    assert result.sigma == pytest.approx(0.05)
    background = result.image[slice256 == 0]
    assert background.min() >= 0
    assert background.mean() == pytest.approx(0.05 * math.sqrt(math.pi / 2), rel=0.05)
    assert background.std() == pytest.approx(0.05 * math.sqrt(2 - math.pi / 2), rel=0.05)


def test_noise_follows_kspace_extent_and_filter(slice256: np.ndarray) -> None:
    """Zero-padded noise SD = σ·sqrt(Σ w² / N): the acquired fraction of k-space, filter-weighted."""
    spec = DegradationSpec(noise=0.1, kmax=(1.0, 0.5, 1.0), kspace_filter="hamming", output="real")
    result = degrade(slice256, spec, ROWS_PHASE, rng=3, reference_level=1.0)
    u_f = np.abs(np.arange(256) - 128) / 128
    u_p = np.abs(np.arange(128) - 64) / 64
    hamming_f = 0.54 + 0.46 * np.cos(np.pi * u_f)
    hamming_p = 0.54 + 0.46 * np.cos(np.pi * u_p)
    expected = 0.1 * math.sqrt((hamming_f**2).sum() * (hamming_p**2).sum() / 256**2)
    assert (result.image - result.noise_free).std() == pytest.approx(expected, rel=0.05)


# --- k_max, elliptical, interpolation ---------------------------------------------------------


def _box(n: int, m: int) -> np.ndarray:
    k = np.arange(n) - n // 2
    return (k >= -(m // 2)) & (k <= (m - 1) // 2)


def test_kmax_leaves_no_energy_beyond_the_cut() -> None:
    """Odd kept extents are symmetric about DC, so even the real part stays inside the box."""
    image = phantom2d(128)
    spec = DegradationSpec(kmax=(65 / 128, 77 / 128, 1.0), output="real")
    result = degrade(image, spec, ROWS_PHASE, rng=0)
    power = np.abs(fftc(result.image.astype(np.float64), (0, 1))) ** 2
    inside = _box(128, 77)[:, None] & _box(128, 65)[None, :]
    np.testing.assert_array_equal(result.masks["kmax"], inside)
    assert power[~inside].sum() < 1e-6 * power.sum()
    # The truncation did remove energy: the input has plenty beyond the cut.
    source = np.abs(fftc(image, (0, 1))) ** 2
    assert source[~inside].sum() > 1e-3 * source.sum()


def test_kmax_even_extent_only_mirrors_the_unpaired_edge() -> None:
    """Even extents (-m/2 … m/2-1): taking the real part may only reflect the -m/2 edge to +m/2."""
    image = phantom2d(128)
    result = degrade(image, DegradationSpec(kmax=(0.5, 0.5, 1.0), output="real"), ROWS_PHASE, rng=0)
    power = np.abs(fftc(result.image.astype(np.float64), (0, 1))) ** 2
    box = _box(128, 64)[:, None] & _box(128, 64)[None, :]
    mirrored = box[::-1, ::-1]
    mirrored = np.roll(mirrored, (1, 1), axis=(0, 1))  # index i ↔ 2·64 - i
    assert power[~(box | mirrored)].sum() < 1e-6 * power.sum()


def test_kmax_3d_and_elliptical() -> None:
    volume = phantom3d(32, 64)
    spec = DegradationSpec(kmax=(33 / 64, 31 / 64, 17 / 32), elliptical=True, output="real")
    result = degrade(volume, spec, AxisRoles(frequency=2, phase=1, slice=0), rng=0)
    ellipse = result.masks["elliptical"][:, :, 32]  # (slice, phase) plane at the frequency centre
    assert not ellipse[8, 17] and ellipse[16, 17] and ellipse[8, 32]  # corner out, axes in
    acquired = result.masks["acquired"]
    power = np.abs(fftc(result.image.astype(np.float64), (0, 1, 2))) ** 2
    assert power[~acquired].sum() < 1e-6 * power.sum()
    box = _box(32, 17)[:, None, None] & _box(64, 31)[None, :, None] & _box(64, 33)[None, None, :]
    assert acquired.sum() < box.sum() and not acquired[~box].any()


def test_reduced_matrix_cubic_matches_zero_padding_on_a_smooth_object() -> None:
    n = 128
    v, u = np.meshgrid(np.arange(n) - n // 2, np.arange(n) - n // 2, indexing="ij")
    blob = np.exp(-((u - 7.3) ** 2 + (v + 4.1) ** 2) / (2 * 6.0**2))
    spec = DegradationSpec(kmax=(0.5, 0.5, 1.0))
    padded = degrade(blob, spec, ROWS_PHASE, rng=0).image
    reduced_spec = dataclasses.replace(spec, zero_pad_interpolation=False)
    reduced = degrade(blob, reduced_spec, ROWS_PHASE, rng=0).image
    assert _relative_error(reduced, padded, np.ones_like(blob, bool)) < 0.02
    assert reduced.mean() == pytest.approx(padded.mean(), rel=0.01)
    centroid = [float((reduced * c).sum() / reduced.sum()) for c in (u, v)]
    assert centroid == pytest.approx([7.3, -4.1], abs=0.05)  # no half-pixel shift between grids


def test_low_resolution_is_the_acquired_matrix_with_the_same_noise() -> None:
    n = 64
    v, u = np.meshgrid(np.arange(n) - n // 2, np.arange(n) - n // 2, indexing="ij")
    blob = 100.0 * np.exp(-((u - 7.3) ** 2 + (v + 4.1) ** 2) / (2 * 6.0**2))
    spec = DegradationSpec(noise=0.05, kmax=(0.5, 0.75, 1.0), zero_pad_interpolation=False)
    assert degrade(blob, spec, ROWS_PHASE, rng=3).low_resolution is None
    result = degrade(blob, spec, ROWS_PHASE, rng=3, low_resolution=True)
    low = result.low_resolution
    assert low.dtype == np.float32 and low.shape == (48, 32)  # phase rows 0.75, frequency 0.5
    # Without zero padding the degraded image is the cubic upsampling of that very matrix.
    np.testing.assert_allclose(recon.cubic_resample(torch.from_numpy(low), blob.shape).numpy(), result.image, atol=1e-3)
    # Its grid sits at (j - m // 2) · n / m pixels of the full grid: the blob's centroid stays put.
    clean = degrade(blob, dataclasses.replace(spec, noise=0.0), ROWS_PHASE, low_resolution=True)
    rows, columns = np.meshgrid(
        (np.arange(48) - 24) * n / 48, (np.arange(32) - 16) * n / 32, indexing="ij"
    )
    weights = clean.low_resolution
    centroid = [float((weights * c).sum() / weights.sum()) for c in (columns, rows)]
    assert centroid == pytest.approx([7.3, -4.1], abs=0.05)


# --- partial Fourier --------------------------------------------------------------------------


def _smooth_phase_object(n: int) -> np.ndarray:
    v, u = np.meshgrid(*(np.arange(n) / n - 0.5,) * 2, indexing="ij")
    return phantom2d(n) * np.exp(1j * (2.0 * u - 1.5 * v + 3.0 * u * v + 0.4))


@pytest.mark.parametrize("method", ["zero", "pocs"])
def test_partial_fourier_keeps_the_acquired_samples(method: str) -> None:
    image = _smooth_phase_object(128)
    kspace = fftc(image, (0, 1))
    counts = {0: 80}
    out = partial_fourier.reconstruct(torch.from_numpy(kspace), counts, (0, 1), method).numpy()
    roundtrip = fftc(ifftc(out, (0, 1)), (0, 1))  # through the complex image
    acquired = np.arange(128) < 80
    np.testing.assert_allclose(roundtrip[acquired], kspace[acquired], atol=1e-9 * np.abs(kspace).max())
    if method == "zero":
        assert not roundtrip[~acquired].any() or np.abs(roundtrip[~acquired]).max() < 1e-9


@pytest.mark.parametrize("counts, bound", [({0: 80}, 0.3), ({0: 76, 1: 84}, 0.75)])
def test_homodyne_and_pocs_beat_zero_filling_on_smooth_phase(counts: dict[int, int], bound: float) -> None:
    """Phase-constrained methods recover the missing side; with two PF axes two corners stay lost."""
    image = _smooth_phase_object(128)
    kspace = fftc(image, (0, 1))
    inside = phantom2d(128) > 0
    errors = {}
    for method in partial_fourier.METHODS:
        out = np.abs(ifftc(partial_fourier.reconstruct(torch.from_numpy(kspace), counts, (0, 1), method).numpy(), (0, 1)))
        errors[method] = _relative_error(out, np.abs(image), inside)
    assert errors["homodyne"] < bound * errors["zero"]
    assert errors["pocs"] < bound * errors["zero"]


def test_partial_fourier_through_degrade_masks_high_k_side(slice128: np.ndarray) -> None:
    spec = DegradationSpec(partial_fourier=(0.625, 1.0), partial_fourier_recon="pocs")
    result = degrade(slice128, spec, ROWS_PHASE, rng=0)
    pf = result.masks["partial_fourier"]
    assert pf[:80].all() and not pf[80:].any()  # phase is array axis 0 here
    zero = degrade(slice128, DegradationSpec(partial_fourier=(0.625, 1.0)), ROWS_PHASE, rng=0)
    inside = slice128 > 0
    assert _relative_error(result.image, slice128, inside) < _relative_error(zero.image, slice128, inside)


# --- parallel imaging -------------------------------------------------------------------------


def test_coil_sensitivities_are_normalised_and_smooth() -> None:
    sens = coils.coil_sensitivities((12, 40, 48), 8, frequency_axis=2, phase_axis=1, slice_axis=0).numpy()
    assert sens.shape == (8, 12, 40, 48)
    np.testing.assert_allclose((np.abs(sens) ** 2).sum(axis=0), 1.0, rtol=1e-5)
    assert np.abs(np.diff(sens, axis=3)).max() < 0.25  # smooth across one pixel
    spread = np.abs(sens[:, 6]).max(axis=(1, 2)) / np.abs(sens[:, 6]).min(axis=(1, 2))
    assert spread.min() > 3  # each coil sees its own region: the array can encode space


@pytest.mark.parametrize("calibration", [0, 24])
def test_sense_r2_reproduces_the_image_without_noise(slice128: np.ndarray, calibration: int) -> None:
    spec = DegradationSpec(undersample_uniform=2, calibration_lines=calibration)
    result = degrade(slice128, spec, ROWS_PHASE, rng=0)
    inside = slice128 > 0
    assert _relative_error(result.image, slice128, inside) < 1e-3
    lines = result.masks["uniform"][:, 0]
    assert lines.sum() == 64 + (12 if calibration else 0)  # lattice + off-lattice calibration lines


def test_sense_3d_phase_along_x_reproduces_the_volume() -> None:
    volume = phantom3d(12, 48)
    spec = DegradationSpec(undersample_uniform=2, calibration_lines=8, n_coils=6)
    result = degrade(volume, spec, AxisRoles(frequency=1, phase=2, slice=0), rng=0)
    assert (result.masks["uniform"] == result.masks["uniform"][:1, :1, :]).all()  # lines along x only
    assert result.masks["uniform"][0, 0].sum() == 24 + 4
    inside = volume > 0
    assert _relative_error(result.image, volume, inside) < 1e-3


def test_sense_on_a_matrix_not_divisible_by_r_still_unfolds(slice128: np.ndarray) -> None:
    """128 lines, R = 3: SENSE runs on a 129-line grid (one unmeasured line); aliasing is removed."""
    result = degrade(slice128, DegradationSpec(undersample_uniform=3, calibration_lines=0), ROWS_PHASE, rng=0)
    mask = result.masks["acquired"]
    zero_filled = np.abs(ifftc(fftc(slice128, (0, 1)) * mask, (0, 1)))
    inside = slice128 > 0
    error = _relative_error(result.image, slice128, inside)
    assert error < 0.05
    assert error < 0.1 * _relative_error(zero_filled, slice128, inside)


def test_sense_amplifies_noise_by_at_least_sqrt_r(slice128: np.ndarray) -> None:
    inside = slice128 > 0
    ratios = {}
    for calibration in (0, 24):
        spec = DegradationSpec(
            noise=0.05, undersample_uniform=2, calibration_lines=calibration, output="real"
        )
        result = degrade(slice128, spec, ROWS_PHASE, rng=4)
        ratios[calibration] = (result.image - result.noise_free)[inside].std() / result.sigma
    full = degrade(slice128, DegradationSpec(noise=0.05, output="real"), ROWS_PHASE, rng=4)
    full_ratio = (full.image - full.noise_free)[inside].std() / full.sigma
    assert full_ratio == pytest.approx(1.0, rel=0.05)
    assert ratios[0] >= math.sqrt(2) * full_ratio  # g-factor ≥ 1
    assert full_ratio < ratios[24] < ratios[0]  # calibration lines carry un-amplified noise


def test_cg_sense_removes_much_of_the_random_aliasing(slice128: np.ndarray) -> None:
    """8 coils, R = 2: CG-SENSE at least removes 40 % of the zero-filled single-channel error
    (on average over four random masks: one mask's ratio varies by about ±0.06)."""
    inside = slice128 > 0
    ratios = []
    for seed in range(4):
        result = degrade(slice128, DegradationSpec(undersample_random=2.0), ROWS_PHASE, rng=seed)
        mask = result.masks["acquired"]
        assert mask[:, 0].sum() == 64
        zero_filled = np.abs(ifftc(fftc(slice128, (0, 1)) * mask, (0, 1)))
        error = _relative_error(result.image, slice128, inside)
        ratios.append(error / _relative_error(zero_filled, slice128, inside))
    assert np.mean(ratios) < 0.6


def test_random_3d_samples_the_phase_slice_plane() -> None:
    volume = phantom3d(16, 48)
    spec = DegradationSpec(
        noise=0.02, undersample_random=3.0, partial_fourier=(1.0, 0.75), calibration_lines=8
    )
    result = degrade(volume, spec, AxisRoles(frequency=2, phase=1, slice=0), rng=1)
    plane = result.masks["random"][:, :, 0]
    assert plane.sum() == round(16 * 48 / 3)
    assert (result.masks["random"] == plane[:, :, None]).all()  # readout fully sampled
    assert not result.masks["partial_fourier"][12:].any() and result.masks["partial_fourier"][:12].all()
    assert np.isfinite(result.image).all()


# --- display steps ----------------------------------------------------------------------------


def test_quantize_gives_integer_levels(slice128: np.ndarray) -> None:
    values = slice128 + 0.013
    quantised, steps = recon.quantize(torch.from_numpy(values)[None], 100)
    out, step = quantised[0].numpy(), float(steps[0])
    assert step == pytest.approx(np.percentile(values, 99.9) / 100)
    levels = out / step
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-9)
    assert np.abs(out - values).max() <= step / 2 + 1e-12
    result = degrade(slice128, DegradationSpec(noise=0.05, quantize_levels=40), ROWS_PHASE, rng=0)
    distinct = np.unique(result.image)
    unit = np.diff(distinct).min()
    assert len(distinct) <= 60
    np.testing.assert_allclose(distinct / unit, np.round(distinct / unit), atol=1e-3)
    np.testing.assert_allclose(result.noise_free / unit, np.round(result.noise_free / unit), atol=1e-3)


def test_bias_field_is_smooth_with_the_requested_peak() -> None:
    shape = (20, 96, 80)
    field = recon.bias_field(shape, 0.3, torch.Generator().manual_seed(9))[0].numpy()
    assert field.mean() == pytest.approx(1.0, abs=1e-5)
    assert np.abs(field - 1).max() == pytest.approx(0.3, rel=1e-5)
    for axis, n in enumerate(shape):
        assert np.abs(np.diff(field, axis=axis)).max() < 10 * 0.3 / n


def test_bias_field_multiplies_image_and_target(slice128: np.ndarray) -> None:
    result = degrade(slice128, DegradationSpec(bias_field=0.25), ROWS_PHASE, rng=3)
    tissue = slice128 > 0.1
    field = result.target[tissue] / slice128[tissue]
    assert field.min() >= 0.75 - 1e-5 and field.max() <= 1.25 + 1e-5
    assert field.std() > 0.01
    np.testing.assert_allclose(result.image[tissue] / slice128[tissue], field, rtol=1e-4)


# --- interface --------------------------------------------------------------------------------


def test_2d_axis_roles_accept_both_numberings(slice128: np.ndarray) -> None:
    spec = DegradationSpec(partial_fourier=(0.6, 1.0), noise=0.02)
    by_2d = degrade(slice128, spec, AxisRoles(frequency=1, phase=0), rng=0)
    by_3d = degrade(slice128, spec, AxisRoles(), rng=0)  # (z, y, x) numbering: phase = y
    np.testing.assert_array_equal(by_2d.image, by_3d.image)
    columns = degrade(slice128, spec, AxisRoles(frequency=0, phase=1), rng=0)
    np.testing.assert_array_equal(columns.masks["partial_fourier"], by_2d.masks["partial_fourier"].T)


@pytest.mark.parametrize(
    "fields",
    [
        {"noise": -0.1},
        {"kmax": (1.0, 0.0, 1.0)},
        {"kmax": (1.2, 1.0, 1.0)},
        {"partial_fourier": (0.4, 1.0)},
        {"undersample_uniform": 0.5},
        {"undersample_uniform": 2.5},
        {"undersample_random": 0.9},
        {"undersample_uniform": 2, "undersample_random": 2},
        {"partial_fourier_recon": "magic"},
        {"kspace_filter": "kaiser"},
        {"output": "phase"},
        {"bias_field": 1.0},
        {"quantize_levels": -1},
        {"n_coils": 2, "undersample_uniform": 3},
    ],
)
def test_invalid_specs_are_rejected(fields: dict) -> None:
    with pytest.raises(MRDeepReconError):
        DegradationSpec(**fields)


def test_invalid_inputs_are_rejected(slice128: np.ndarray) -> None:
    with pytest.raises(MRDeepReconError):
        degrade(slice128, DegradationSpec(), AxisRoles(frequency=0, phase=2))
    with pytest.raises(MRDeepReconError):
        degrade(np.zeros((2, 3, 4, 5)), DegradationSpec())
    bad = slice128.copy()
    bad[0, 0] = np.nan
    with pytest.raises(MRDeepReconError):
        degrade(bad, DegradationSpec())
    with pytest.raises(MRDeepReconError):
        degrade(np.zeros((8, 8)), DegradationSpec(noise=0.1))


# --- statistics against analytic expectations --------------------------------------------------


@pytest.mark.parametrize("kmax", [(1.0, 1.0, 1.0), (0.5, 0.75, 1.0)])
def test_real_noise_sd_is_sigma_times_the_root_of_the_acquired_fraction(slice256: np.ndarray, kmax) -> None:
    """Zero-padded, unfiltered: σ·sqrt(k_f·k_p), within 2 % (65 k pixels, averaged over 4 seeds)."""
    spec = DegradationSpec(noise=0.05, kmax=kmax, output="real")
    sds = [np.std((r := degrade(slice256, spec, ROWS_PHASE, rng=s, reference_level=1.0)).image - r.noise_free)
           for s in range(4)]
    m_f, m_p = round(kmax[0] * 256), round(kmax[1] * 256)
    assert np.mean(sds) == pytest.approx(0.05 * math.sqrt(m_f * m_p / 256**2), rel=0.02)


def test_zero_filled_partial_fourier_keeps_a_quarter_of_the_gap_energy_and_pocs_restores_it() -> None:
    """A real object: its spectrum is Hermitian, so the real part of a zero-filled reconstruction
    has half of the mirrored samples in the gap, a quarter of their energy; POCS and homodyne use
    the (zero) phase to restore nearly all of it."""
    image = phantom2d(128)
    gap = np.zeros((128, 128), bool)
    gap[80:] = True  # phase rows 80 … 127 are not acquired (partial Fourier 0.625)
    reference = (np.abs(fftc(image, (0, 1))) ** 2)[gap].sum()
    energies = {}
    for method in partial_fourier.METHODS:
        spec = DegradationSpec(partial_fourier=(0.625, 1.0), partial_fourier_recon=method, output="real")
        result = degrade(image, spec, ROWS_PHASE, rng=0)
        assert (~result.masks["partial_fourier"] == gap).all()
        energies[method] = (np.abs(fftc(result.image.astype(np.float64), (0, 1))) ** 2)[gap].sum() / reference
    assert energies["zero"] == pytest.approx(0.25, abs=0.01)
    assert energies["homodyne"] > 0.8 and energies["pocs"] > 0.8


def test_batches_draw_their_own_masks_fields_and_noise() -> None:
    """degrade_batch: one scenario, but every image its own random mask, bias field and noise;
    the batch's statistics are those of single images."""
    images = torch.from_numpy(np.stack([phantom2d(96)] * 3).astype(np.float32))
    spec = DegradationSpec(noise=0.05, undersample_random=2.0, bias_field=0.2, output="real")
    result = degrade_batch(images, spec, ROWS_PHASE, generator=3, reference_level=1.0)
    assert result.image.shape == (3, 96, 96) and result.masks["random"].shape[0] == 3
    assert not torch.equal(result.masks["random"][0], result.masks["random"][1])
    assert not torch.allclose(result.target[0], result.target[1])  # bias fields differ
    assert (result.masks["random"].sum(dim=(1, 2)) == result.masks["random"][0].sum()).all()
    noise = result.image - result.noise_free
    assert not torch.allclose(noise[0], noise[1])
    assert torch.equal(result.sigma, torch.full((3,), 0.05))
    without = degrade_batch(images, spec, ROWS_PHASE, generator=3, reference_level=1.0, noise_free=False)
    assert without.noise_free is None
    torch.testing.assert_close(without.image, result.image)
