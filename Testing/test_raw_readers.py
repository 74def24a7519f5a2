"""Raw k-space readers (`mrdeeprecon.raw`): the real files of ../shared/data/kspace, round trips of
small generated ISMRMRD / fastMRI / BART / .npy files, pre-whitening, and one clear error for
each bad file."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_path
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.raw import RawHeader, RawKSpace, prewhiten, read_raw
from mrdeeprecon.raw.whitening import noise_covariance

COILS, NY, NX = 3, 8, 6

ISMRMRD_XML = """<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
  <acquisitionSystemInformation><systemFieldStrength_T>3.0</systemFieldStrength_T></acquisitionSystemInformation>
  <experimentalConditions><H1resonanceFrequency_Hz>123000000</H1resonanceFrequency_Hz></experimentalConditions>
  <encoding>
    <encodedSpace><matrixSize><x>{ex}</x><y>{ny}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>{fx}</x><y>200</y><z>5</z></fieldOfView_mm></encodedSpace>
    <reconSpace><matrixSize><x>{rx}</x><y>{ny}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>200</x><y>200</y><z>5</z></fieldOfView_mm></reconSpace>
    <encodingLimits>
      <kspace_encoding_step_1><minimum>0</minimum><maximum>{last}</maximum><center>{centre}</center></kspace_encoding_step_1>
      <slice><minimum>0</minimum><maximum>{last_slice}</maximum><center>0</center></slice>
    </encodingLimits>
    <trajectory>{trajectory}</trajectory>
  </encoding>
  <sequenceParameters><TR>500</TR><TE>12</TE></sequenceParameters>
</ismrmrdHeader>"""


def _xml(nx: int, ny: int, slices: int = 1, oversampling: int = 2, trajectory: str = "cartesian") -> str:
    return ISMRMRD_XML.format(
        ex=nx * oversampling, rx=nx, fx=200 * oversampling, ny=ny, last=ny - 1, centre=ny // 2,
        last_slice=slices - 1, trajectory=trajectory,
    )


def _complex(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _oversampled(kspace: np.ndarray) -> np.ndarray:
    """k-space (…, nx) → the same object read with 2× readout oversampling (…, 2 nx): the image
    zero-padded to twice the readout field of view."""
    from mrdeeprecon.kspace.fft import fftc, ifftc

    nx = kspace.shape[-1]
    image = ifftc(kspace, axes=(-1,))
    padded = np.zeros(kspace.shape[:-1] + (2 * nx,), np.complex64)
    padded[..., nx // 2 : nx // 2 + nx] = image
    return fftc(padded, axes=(-1,)).astype(np.complex64)


# ---- real files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, shape, fraction",
    [
        ("espirit_full.cfl", (8, 1, 230, 180), (0.99, 1.0)),
        ("espirit_und2x2.cfl", (8, 1, 230, 180), (0.24, 0.28)),
        ("espirit_smallfov.cfl", (8, 1, 320, 168), (0.45, 0.55)),
        ("bart_pics_brain_ksp.cfl", (8, 1, 180, 230), (0.11, 0.14)),
        ("sigpy_cartesian_ksp.npy", (8, 1, 230, 180), (0.11, 0.14)),
    ],
)
def test_real_files_read(name, shape, fraction):
    raw = read_raw(shared_path(f"kspace/{name}"))
    assert raw.data.shape == shape and raw.data.dtype == np.complex64
    assert fraction[0] <= raw.sampled_fraction() <= fraction[1]
    assert raw.header.matrix == (shape[3], shape[2], shape[1]) and raw.noise is None


def test_twix_oversampling_removed_and_header():
    raw = read_raw(shared_path("kspace/twix/gre.dat"))
    assert raw.data.shape == (2, 1, 160, 160)  # 2 coils, 320 readout samples → 160
    assert raw.header.source_format == "twix" and raw.header.acquisition == "2D"
    assert raw.header.fov_mm == (200.0, 200.0, 4.0) and raw.header.te_ms == 3.0 and raw.header.tr_ms == 10.0
    assert raw.header.field_strength_t == pytest.approx(2.89, abs=0.01)
    assert np.allclose(np.abs(np.linalg.det(np.array(raw.header.direction))), 1.0, atol=1e-5)
    assert raw.sampled_fraction() == 1.0
    # the k-space centre (largest magnitude) at n // 2 of ky and kx
    energy = np.abs(raw.data).sum(axis=(0, 1))
    assert np.unravel_index(energy.argmax(), energy.shape) == (80, 80)
    # the imaging ADC's dwell (sRXSPEC.alDwellTime[0] = 11600 ns, 320 samples: 269 Hz per pixel);
    # the file has no noise scan, so nothing was rescaled and nothing is warned
    assert raw.header.dwell_us == 11.6
    assert raw.header.noise_dwell_ratio is None and raw.header.warnings == () and not raw.whitened


# ---- generated files -------------------------------------------------------------------------


def _write_ismrmrd(
    path, kspace: np.ndarray, missing_line: int, noise: np.ndarray | None, trajectory="cartesian", contrasts=1,
    dwell_us: float = 0.0, noise_dwell_us: float = 0.0,
):
    """kspace (coils, slices, ky, 2 nx) oversampled readouts → an ISMRMRD file, one acquisition per
    (slice, line) except ``missing_line``, after the noise acquisitions ``noise`` (readouts, coils,
    samples); ``sample_time_us`` = ``dwell_us`` for the imaging, ``noise_dwell_us`` for the noise
    readouts (0: not recorded)."""
    import ismrmrd

    coils, slices, ny, nx2 = kspace.shape
    with ismrmrd.Dataset(str(path), "dataset", mode="w") as dataset:
        dataset.write_xml_header(_xml(nx2 // 2, ny, slices, trajectory=trajectory).encode())
        for readout in noise if noise is not None else ():
            acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(readout))
            acq.set_flag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
            acq.sample_time_us = noise_dwell_us
            dataset.append_acquisition(acq)
        for contrast in range(contrasts):
            for s in range(slices):
                for line in range(ny):
                    if line == missing_line:
                        continue
                    acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(kspace[:, s, line]))
                    acq.sample_time_us = dwell_us
                    acq.idx.kspace_encode_step_1 = line
                    acq.idx.slice = s
                    acq.idx.contrast = contrast
                    acq.center_sample = nx2 // 2
                    acq.position[:] = (0.0, 0.0, 5.0 * s)
                    acq.read_dir[:] = (1.0, 0.0, 0.0)
                    acq.phase_dir[:] = (0.0, 1.0, 0.0)
                    acq.slice_dir[:] = (0.0, 0.0, 1.0)
                    dataset.append_acquisition(acq)


def test_ismrmrd_round_trip_missing_line(tmp_path):
    rng = np.random.default_rng(1)
    truth = _complex(rng, COILS, 2, NY, NX)
    path = tmp_path / "scan.h5"
    _write_ismrmrd(path, _oversampled(truth), missing_line=1, noise=None)
    raw = read_raw(path)
    assert raw.data.shape == (COILS, 2, NY, NX) and raw.header.source_format == "ismrmrd"
    mask = raw.full_mask()
    assert not mask[:, 1].any() and mask[:, [0, *range(2, NY)]].all()
    expected = truth.copy()
    expected[:, :, 1] = 0
    np.testing.assert_allclose(raw.data, expected, atol=1e-4)
    header = raw.header
    assert header.matrix == (NX, NY, 2) and header.fov_mm == (200.0, 200.0, 10.0)
    assert (header.te_ms, header.tr_ms, header.field_strength_t) == (12.0, 500.0, 3.0)
    assert header.position_mm == (0.0, 0.0, 2.5) and header.direction == ((1, 0, 0), (0, 1, 0), (0, 0, 1))


def test_ismrmrd_noise_scan_whitens(tmp_path):
    rng = np.random.default_rng(2)
    mixing = np.array([[1.0, 0, 0], [0.6, 0.8, 0], [0.2, 0.3, 0.5]])
    noise = (mixing @ _complex(rng, COILS, 4096)).astype(np.complex64)
    ny, nx = 64, 64  # 4096 samples per coil after the readout oversampling is removed
    kspace = (mixing @ _complex(rng, COILS, ny * 2 * nx)).reshape(COILS, 1, ny, 2 * nx).astype(np.complex64)
    path = tmp_path / "noisy.h5"
    _write_ismrmrd(path, kspace, missing_line=-1, noise=noise[None])
    raw = read_raw(path)
    assert raw.whitened and raw.noise is None
    assert raw.header.noise_dwell_ratio is None and "dwell time of the noise scan and the imaging readouts" in raw.header.warnings[0]
    # the data (noise with the noise scan's covariance) whitened: identity covariance
    np.testing.assert_allclose(noise_covariance(raw.data.reshape(COILS, -1)), np.eye(COILS), atol=0.1)


def _read_noise_only(tmp_path, sigma_noise: float, noise_dwell_us: float, dwell_us: float, band=None):
    """An ISMRMRD file of pure noise: imaging readouts (64 lines of 2 × 64 oversampled samples) of
    complex variance 1 per sample, 16 noise readouts of 512 samples and variance ``sigma_noise²``,
    both with the coil mixing below and, where given, the power spectrum ``band(f)`` along the
    readout (f in [-1/2, 1/2) of the sampling band: the receiver filter); read back."""
    from mrdeeprecon.kspace.fft import fftc, ifftc

    rng = np.random.default_rng(8)
    mixing = np.array([[1.0, 0, 0], [0.6, 0.8, 0], [0.2, 0.3, 0.5]])

    def noise(*shape: int) -> np.ndarray:
        white = np.einsum("ij,...jk->...ik", mixing, _complex(rng, *shape) / np.sqrt(2))
        if band is not None:
            f = np.arange(shape[-1]) / shape[-1] - 0.5  # fftc puts f = 0 at n // 2
            white = fftc(ifftc(white, axes=(-1,)) * np.sqrt(band(f)), axes=(-1,))
        return white.astype(np.complex64)

    kspace = noise(64, COILS, 128).transpose(1, 0, 2)[:, None]  # (coils, 1, ky, 2 nx)
    path = tmp_path / "noise_only.h5"
    _write_ismrmrd(path, kspace, -1, sigma_noise * noise(16, COILS, 512), dwell_us=dwell_us, noise_dwell_us=noise_dwell_us)
    return read_raw(path)


def _whitened_variance(raw: RawKSpace) -> float:
    """Mean complex noise variance per coil of a whitened pure-noise k-space."""
    return float(np.mean(np.abs(raw.data) ** 2))


def test_ismrmrd_noise_scan_rescaled_for_its_dwell(tmp_path):
    # noise readouts at twice the imaging dwell: half the bandwidth, half the variance per sample
    raw = _read_noise_only(tmp_path, np.sqrt(0.5), noise_dwell_us=10.0, dwell_us=5.0)
    assert raw.whitened and raw.header.dwell_us == 5.0 and raw.header.noise_dwell_ratio == 2.0
    assert raw.header.warnings == ()
    assert _whitened_variance(raw) == pytest.approx(1.0, rel=0.04)  # unscaled it would be 2
    np.testing.assert_allclose(noise_covariance(raw.data.reshape(COILS, -1)), np.eye(COILS), atol=0.06)


def test_ismrmrd_noise_scan_equal_dwell_unchanged(tmp_path):
    raw = _read_noise_only(tmp_path, 1.0, noise_dwell_us=5.0, dwell_us=5.0)
    assert raw.header.noise_dwell_ratio == 1.0 and raw.header.warnings == ()
    assert _whitened_variance(raw) == pytest.approx(1.0, rel=0.04)


def test_ismrmrd_noise_scan_unknown_dwell_left_unscaled_with_warning(tmp_path):
    raw = _read_noise_only(tmp_path, np.sqrt(0.5), noise_dwell_us=0.0, dwell_us=5.0)
    assert raw.header.noise_dwell_ratio is None and raw.header.dwell_us == 5.0
    assert len(raw.header.warnings) == 1 and "dwell time of the noise scan is not recorded" in raw.header.warnings[0]
    assert _whitened_variance(raw) == pytest.approx(2.0, rel=0.04)  # today's behaviour: off by the ratio


def test_ismrmrd_noise_scan_cropped_to_the_flat_receiver_band(tmp_path):
    # a receiver filter flat over the centre half of the band and rolling off outside it (relative
    # noise bandwidth 0.8): the imaging data keep the flat centre, so must the noise scan
    def band(f):
        return np.where(np.abs(f) < 0.25, 1.0, np.cos(np.pi * (np.abs(f) - 0.25) / 0.5 * 0.8) ** 2)

    raw = _read_noise_only(tmp_path, np.sqrt(0.5), noise_dwell_us=10.0, dwell_us=5.0, band=band)
    relative_bandwidth = float(np.mean(band(np.arange(512) / 512 - 0.5)))
    assert relative_bandwidth < 0.85  # uncropped, the whitened variance would be 1 / that
    assert _whitened_variance(raw) == pytest.approx(1.0, rel=0.04)


def test_prewhiten_identity_covariance():
    rng = np.random.default_rng(3)
    covariance = np.array([[2.0, 0.8, 0.3], [0.8, 1.5, 0.5], [0.3, 0.5, 1.0]])
    factor = np.linalg.cholesky(covariance)
    noise = (factor @ _complex(rng, 3, 20000) / np.sqrt(2)).astype(np.complex64)
    data = (factor @ _complex(rng, 3, 20000) / np.sqrt(2)).astype(np.complex64).reshape(3, 1, 100, 200)
    np.testing.assert_allclose(noise_covariance(noise), covariance, atol=0.1)
    raw = RawKSpace(data, np.ones((1, 100, 200), bool), RawHeader((200, 100, 1), None, "2D"), noise=noise)
    white = prewhiten(raw)
    assert white.whitened and white.noise is None and white.data.dtype == np.complex64
    np.testing.assert_allclose(noise_covariance(white.data.reshape(3, -1)), np.eye(3), atol=0.05)


def test_fastmri_round_trip(tmp_path):
    import h5py

    rng = np.random.default_rng(4)
    truth = _complex(rng, COILS, 2, NY, NX)  # (coils, slices, ky, kx)
    truth[:, :, 3] = 0
    stored = _oversampled(truth).transpose(1, 0, 3, 2)  # fastMRI (slices, coils, readout, phase)
    path = tmp_path / "file_brain.h5"
    with h5py.File(path, "w") as file:
        file["kspace"] = stored
        file["ismrmrd_header"] = _xml(NX, NY, 2).encode()
    raw = read_raw(path)
    assert raw.header.source_format == "fastmri" and raw.data.shape == (COILS, 2, NY, NX)
    np.testing.assert_allclose(raw.data, truth, atol=1e-4)
    assert not raw.full_mask()[:, 3].any() and raw.sampled_fraction() == pytest.approx((NY - 1) / NY)
    assert raw.header.fov_mm == (200.0, 200.0, 10.0) and raw.header.te_ms == 12.0


def test_fastmri_single_coil_with_mask(tmp_path):
    import h5py

    rng = np.random.default_rng(5)
    path = tmp_path / "singlecoil.h5"
    with h5py.File(path, "w") as file:
        file["kspace"] = _complex(rng, 2, 2 * NX, NY)
        file["mask"] = (np.arange(NY) % 2 == 0).astype(np.float32)
    raw = read_raw(path)
    assert raw.data.shape == (1, 2, NY, 2 * NX)  # no header: nothing cropped
    assert raw.sampled_fraction() == 0.5


def test_bart_round_trip(tmp_path):
    rng = np.random.default_rng(6)
    array = _complex(rng, NX, NY, 1, COILS)  # BART (x, y, z, coils)
    array[:, ::2] = 0
    base = tmp_path / "ksp"
    base.with_suffix(".hdr").write_text(f"# Dimensions\n{NX} {NY} 1 {COILS} 1\n")
    array.reshape(-1, order="F").tofile(base.with_suffix(".cfl"))
    for path in (base.with_suffix(".cfl"), base.with_suffix(".hdr"), base):
        raw = read_raw(path)
        np.testing.assert_array_equal(raw.data[:, 0], array[:, :, 0].transpose(2, 1, 0))
        assert raw.sampled_fraction() == 0.5 and raw.header.source_format == "bart"


def test_npy_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    array = _complex(rng, COILS, 2, NY, NX).astype(np.complex128)
    np.save(tmp_path / "ksp.npy", array)
    raw = read_raw(tmp_path / "ksp.npy")
    assert raw.data.dtype == np.complex64 and raw.header.matrix == (NX, NY, 2)
    np.testing.assert_allclose(raw.data, array, atol=1e-6)


# ---- the data type ----------------------------------------------------------------------------


def test_raw_kspace_validation():
    header = RawHeader((NX, NY, 1), None, "2D")
    data = np.zeros((COILS, 1, NY, NX), np.complex64)
    with pytest.raises(MRDeepReconError, match="complex64"):
        RawKSpace(data.astype(np.complex128), np.ones((1, NY, NX), bool), header)
    with pytest.raises(MRDeepReconError, match="4 axes"):
        RawKSpace(data[0], np.ones((1, NY, NX), bool), header)
    with pytest.raises(MRDeepReconError, match="does not broadcast"):
        RawKSpace(data, np.ones((1, NY + 1, NX), bool), header)
    with pytest.raises(MRDeepReconError, match="matrix"):
        RawKSpace(data, np.ones((1, NY, 1), bool), RawHeader((NX, NY + 1, 1), None, "2D"))
    with pytest.raises(MRDeepReconError, match="acquisition"):
        RawHeader((NX, NY, 1), None, "4D")


# ---- bad files --------------------------------------------------------------------------------


def _bart_pair(tmp_path, dims: str, values: int):
    base = tmp_path / "bad"
    base.with_suffix(".hdr").write_text(f"# Dimensions\n{dims}\n")
    np.zeros(values, np.complex64).tofile(base.with_suffix(".cfl"))
    return base.with_suffix(".cfl")


def _half_twix(tmp_path):
    source = shared_path("kspace/twix/gre.dat").read_bytes()
    path = tmp_path / "half.dat"
    path.write_bytes(source[: len(source) // 2])
    return path


def _h5_without_kspace(tmp_path):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file["image"] = np.zeros(3)
    return path


def _npy(tmp_path, array):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    return path


def _empty(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    return path


def _not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("not HDF5")
    return path


def _text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("k-space")
    return path


def _ismrmrd_radial(tmp_path):
    path = tmp_path / "radial.h5"
    _write_ismrmrd(path, np.ones((1, 1, 4, 8), np.complex64), -1, None, trajectory="radial")
    return path


def _ismrmrd_two_contrasts(tmp_path):
    path = tmp_path / "contrasts.h5"
    _write_ismrmrd(path, np.ones((1, 1, 4, 8), np.complex64), -1, None, contrasts=2)
    return path


BAD_FILES = {
    "truncated cfl": (lambda t: _bart_pair(t, "4 4 1 2", 20), "truncated"),
    "hdr dims not matching": (lambda t: _bart_pair(t, "4 4 1 2", 64), "does not belong"),
    "hdr without dimensions": (lambda t: _bart_pair(t, "four", 4), "Dimensions"),
    "h5 without kspace": (_h5_without_kspace, "no 'kspace'"),
    "h5 not HDF5": (_not_hdf5, "not a readable HDF5"),
    "non-complex npy": (lambda t: _npy(t, np.zeros((2, 4, 4), np.float32)), "not complex"),
    "npy wrong ndim": (lambda t: _npy(t, np.zeros((4, 4), np.complex64)), "shape (4, 4)"),
    "empty file": (lambda t: _empty(t, "empty.npy"), "empty"),
    "empty twix": (lambda t: _empty(t, "empty.dat"), "empty"),
    "directory": (lambda t: t, "folder"),
    "missing file": (lambda t: t / "absent.h5", "no such file"),
    "unknown suffix": (_text_file, "unknown raw k-space format"),
    "twix cut in half": (_half_twix, "twix"),
    "ismrmrd radial": (_ismrmrd_radial, "not Cartesian"),
    "ismrmrd two contrasts": (_ismrmrd_two_contrasts, "2 contrast values"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_one_clear_error(tmp_path, case):
    make, problem = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(MRDeepReconError) as caught:
        read_raw(path)
    error = caught.value
    assert problem in str(error)
    assert error.path is not None and (str(path) in error.path or error.path.startswith(str(tmp_path)))
    assert "\n" not in str(error) and error.__cause__ is None
