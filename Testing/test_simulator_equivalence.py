"""The torch simulator against the numpy one it replaces, in statistics rather than seeded values.

The numpy simulator is kept, for this comparison only, in ``Testing/numpy_simulator`` (a copy of
``mrdeeprecon/kspace`` before the port). For each scenario both degrade the same phantom:

* the sampled k-space (k_max box, elliptical and partial-Fourier regions, uniform lines) is
  identical, and a random pattern has exactly the same number of samples per line;
* without randomness (no noise, random mask, bias field or quantisation step taken from the noisy
  image) the noise-free images agree to float32 round-off;
* the noise SD, ``std(image - noise_free)``, agrees within 2 % (averaged over seeds);
* the k-space energy restored in the partial-Fourier gap agrees within 2 %.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mrdeeprecon.kspace import degrade as torch_simulator
from numpy_simulator import degrade as numpy_simulator
from numpy_simulator.fft import fftc
from test_kspace_degrade import phantom2d, phantom3d

SCENARIOS = {
    "noise": dict(noise=0.05),
    "kmax_hamming_real": dict(noise=0.05, kmax=(0.7, 0.5, 1.0), kspace_filter="hamming", output="real"),
    "elliptical_tukey": dict(noise=0.05, elliptical=True, kspace_filter="tukey"),
    "cubic": dict(noise=0.05, kmax=(0.6, 0.75, 1.0), zero_pad_interpolation=False),
    "pf_zero": dict(noise=0.05, partial_fourier=(0.6, 1.0)),
    "pf_homodyne": dict(noise=0.05, partial_fourier=(0.6, 1.0), partial_fourier_recon="homodyne"),
    "pf_pocs": dict(noise=0.05, partial_fourier=(0.65, 1.0), partial_fourier_recon="pocs", kmax=(1.0, 0.8, 1.0)),
    "sense_r2": dict(noise=0.05, undersample_uniform=2),
    "sense_r3_kmax": dict(noise=0.05, undersample_uniform=3, kmax=(1.0, 0.7, 1.0)),
    "cg_sense": dict(noise=0.05, undersample_random=2.5),
    "quantised": dict(noise=0.05, quantize_levels=1024),
}
SCENARIOS_3D = {
    "3d_kmax_slice_pf": dict(noise=0.05, kmax=(1.0, 0.75, 0.5), partial_fourier=(1.0, 0.75), partial_fourier_recon="pocs"),
    "3d_sense": dict(noise=0.05, undersample_uniform=2, calibration_lines=8),
    "3d_random": dict(noise=0.05, undersample_random=3.0, calibration_lines=8),
}
SEEDS = range(4)


def _both(image, fields, axes, seed):
    results = []
    for simulator in (numpy_simulator, torch_simulator):
        spec = simulator.DegradationSpec(**fields)
        roles = simulator.AxisRoles(**dataclasses.asdict(axes))
        results.append(simulator.degrade(image, spec, roles, rng=seed, reference_level=1.0))
    return results


def _compare(image, fields, axes):
    noise_sd = {"numpy": [], "torch": []}
    for seed in SEEDS:
        old, new = _both(image, fields, axes, seed)
        assert set(old.masks) == set(new.masks)
        for name in old.masks:
            if name in ("random", "acquired") and "random" in old.masks:
                # Same number of samples on every line through the random plane.
                assert old.masks[name].sum() == new.masks[name].sum()
            else:
                np.testing.assert_array_equal(old.masks[name], new.masks[name])
        if "random" not in old.masks and not fields.get("quantize_levels"):
            # Phase-constrained partial Fourier divides by the low-resolution magnitude, which
            # amplifies float32 round-off where it is near 0 (background): a bound on the mean and
            # a looser one on the largest difference.
            difference = np.abs(new.noise_free - old.noise_free) / np.abs(old.noise_free).max()
            assert difference.mean() < 1e-5 and difference.max() < 5e-3
        np.testing.assert_allclose(new.target, old.target, atol=1e-5)
        for label, result in (("numpy", old), ("torch", new)):
            noise_sd[label].append(float(np.std(result.image - result.noise_free)))
    assert np.mean(noise_sd["torch"]) == pytest.approx(np.mean(noise_sd["numpy"]), rel=0.02)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_2d_scenarios_match(name):
    _compare(phantom2d(192), SCENARIOS[name], torch_simulator.AxisRoles(frequency=1, phase=0))


@pytest.mark.parametrize("name", sorted(SCENARIOS_3D))
def test_3d_scenarios_match(name):
    _compare(phantom3d(24, 64), SCENARIOS_3D[name], torch_simulator.AxisRoles(frequency=2, phase=1, slice=0))


@pytest.mark.parametrize("method", ["zero", "homodyne", "pocs"])
def test_partial_fourier_energy_matches(method):
    """Energy of the reconstruction's k-space in the partial-Fourier gap (what the method restores)."""
    v, u = np.meshgrid(*(np.arange(128) / 128 - 0.5,) * 2, indexing="ij")
    image = phantom2d(128) * np.exp(1j * (2.0 * u - 1.5 * v + 0.4))
    fields = dict(partial_fourier=(0.6, 1.0), partial_fourier_recon=method, output="real")
    old, new = _both(image, fields, torch_simulator.AxisRoles(frequency=1, phase=0), 0)
    gap = ~old.masks["partial_fourier"]
    energies = [float((np.abs(fftc(r.image.astype(np.float64), (0, 1))) ** 2)[gap].sum()) for r in (old, new)]
    assert energies[1] == pytest.approx(energies[0], rel=0.02)
    assert energies[0] > 0
