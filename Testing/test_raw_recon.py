"""Raw k-space reconstruction: the SENSE operator, the sigpy baselines, the data-consistency
report and ``mrdeeprecon recon``."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest
import torch

from mrdeeprecon.kspace.coils import coil_sensitivities
from mrdeeprecon.kspace.fft import fftc
from mrdeeprecon.metrics import psnr
from mrdeeprecon.raw.kspace_data import RawHeader, RawKSpace
from mrdeeprecon.raw.operators import SenseOperator

needs_sigpy = pytest.mark.skipif(importlib.util.find_spec("sigpy") is None, reason="sigpy is not installed (the `raw` extra)")

SIZE = 64
COILS = 8
NOISE_SD = 0.002


def _complex(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.complex(torch.randn(*shape, generator=generator), torch.randn(*shape, generator=generator))


def test_sense_operator_is_adjoint_of_its_adjoint():
    generator = torch.Generator().manual_seed(0)
    maps = _complex(generator, 4, 3, 20, 17)
    mask = torch.rand(3, 20, 17, generator=generator) < 0.4
    operator = SenseOperator(maps, mask)
    x = _complex(generator, 3, 20, 17)
    y = _complex(generator, 4, 3, 20, 17)
    left = torch.vdot(operator.forward(x).flatten(), y.flatten())
    right = torch.vdot(x.flatten(), operator.adjoint(y).flatten())
    assert abs(left - right) <= 1e-5 * abs(left)


def _phantom() -> np.ndarray:
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    return resize(shepp_logan_phantom(), (SIZE, SIZE), anti_aliasing=True).astype(np.float32)


def _raw(image: np.ndarray, acceleration: int, noise_scan: bool = True) -> RawKSpace:
    """Simulated 8-coil k-space of ``image`` (y = phase), every ``acceleration``-th ky line plus 16
    centre lines, complex noise of SD ``NOISE_SD`` (and a noise scan of it)."""
    rng = np.random.default_rng(1)
    sens = coil_sensitivities((SIZE, SIZE), COILS, frequency_axis=1, phase_axis=0).numpy()
    kspace = fftc(sens * image, (-2, -1))[:, None]
    noise = (rng.normal(size=kspace.shape) + 1j * rng.normal(size=kspace.shape)) * NOISE_SD / np.sqrt(2)
    mask = np.zeros((1, SIZE, 1), bool)
    mask[0, ::acceleration] = True
    mask[0, SIZE // 2 - 8 : SIZE // 2 + 8] = True
    scan = (rng.normal(size=(COILS, 4000)) + 1j * rng.normal(size=(COILS, 4000))) * NOISE_SD / np.sqrt(2)
    return RawKSpace(
        ((kspace + noise) * mask).astype(np.complex64),
        mask,
        RawHeader((SIZE, SIZE, 1), (192.0, 192.0, 5.0), "2D", source_format="npy"),
        noise=scan.astype(np.complex64) if noise_scan else None,
    )


@needs_sigpy
def test_cg_sense_beats_zero_filled_at_r2_and_fits_the_data_to_the_noise():
    from mrdeeprecon.raw.recon import reconstruct

    truth = _phantom()
    raw = _raw(truth, 2)
    sense, sense_report = reconstruct(raw, "sense")
    zerofill, zerofill_report = reconstruct(raw, "zerofill")
    assert psnr(truth[None], sense.data) > psnr(truth[None], zerofill.data) + 10.0
    assert sense_report.noise_source == "noise scan"
    assert 0.8 <= sense_report.residual_to_noise <= 1.1
    assert zerofill_report.residual_to_noise > 3.0
    assert zerofill_report.added_energy_fraction > 0.01
    assert sense.data.dtype == np.float32 and sense.shape == (1, SIZE, SIZE)
    assert sense.spacing == pytest.approx((3.0, 3.0, 5.0))
    assert sense.metadata["raw_recon"]["consistency"]["residual_to_noise"] == sense_report.residual_to_noise


def test_recon_choices_are_the_methods():
    from mrdeeprecon.cli import build_parser
    from mrdeeprecon.raw.recon import RECON_METHODS

    recon = build_parser(train_flags=False)._subparsers._group_actions[0].choices["recon"]
    method = next(a for a in recon._actions if a.dest == "method")
    assert tuple(method.choices) == RECON_METHODS


@needs_sigpy
def test_cli_writes_a_nifti_of_a_npy_raw_file(tmp_path, capsys):
    import SimpleITK as sitk

    from mrdeeprecon.cli import main

    raw = _raw(_phantom(), 2, noise_scan=False)
    source = tmp_path / "ksp.npy"
    np.save(source, raw.data[:, 0])  # (coils, ky, kx)
    output = tmp_path / "recon.nii.gz"
    assert main(["recon", str(source), str(output), "--method", "sense", "--progress", "none"]) == 0
    assert sitk.GetArrayFromImage(sitk.ReadImage(str(output))).shape == (1, SIZE, SIZE)
    assert "data consistency (sense)" in capsys.readouterr().out


def test_cli_refuses_a_bad_raw_file_in_one_line(tmp_path, capsys):
    from mrdeeprecon.cli import main

    source = tmp_path / "bad.npy"
    source.write_bytes(b"not a numpy file")
    output = tmp_path / "recon.nii.gz"
    assert main(["recon", str(source), str(output), "--progress", "none"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("mrdeeprecon: error: ") and str(source) in error and "\n" not in error
    assert not output.exists()


def test_sense_settings_interpolate_log_linearly_in_r_and_hold_outside_the_table(monkeypatch):
    from mrdeeprecon.raw import baselines

    monkeypatch.setattr(baselines, "SENSE_SETTINGS_BY_ACCELERATION", {4.0: (1e-1, 40), 2.0: (1e-3, 10)})
    lamda, iterations = baselines.sense_settings_for(3.0)
    assert lamda == pytest.approx(1e-2) and iterations == 20  # geometric means halfway in R
    assert baselines.sense_settings_for(2.0) == pytest.approx((1e-3, 10))
    assert baselines.sense_settings_for(1.0) == pytest.approx((1e-3, 10))
    assert baselines.sense_settings_for(12.0) == pytest.approx((1e-1, 40))
    assert isinstance(baselines.sense_settings_for(2.5)[1], int)
    assert baselines.value_at_acceleration({2.0: 1e-3, 4.0: 1e-1}, 2.5) == pytest.approx(10**-2.5)


@needs_sigpy
def test_cg_sense_uses_the_table_and_scales_with_the_data():
    """λ is absolute (dimensionless): scaling the k-space scales the CG-SENSE image, nothing else."""
    from mrdeeprecon.raw.baselines import reconstruct_baseline, sense_settings_for

    raw = _raw(_phantom(), 4, noise_scan=False)
    result = reconstruct_baseline(raw, "sense")
    scaled = reconstruct_baseline(replace(raw, data=raw.data * np.float32(1000.0)), "sense", maps=result.maps)
    assert (result.parameters["lamda"], result.parameters["iterations"]) == sense_settings_for(result.parameters["acceleration"])
    np.testing.assert_allclose(scaled.image, 1000.0 * result.image, rtol=0, atol=1e-4 * 1000.0 * np.abs(result.image).max())
