"""Vendor pair (Philips 201 AI off / 501 vendor AI level 2): the uniform region lies inside the
phantom; the noise measures (local boxes, adjacent-slice difference) recover noise of known SD
added by an oracle; smoothing shows as noise reduction, a planted ramp as lower PIU; the vendor
series is on the same grid; tiny-model plumbing, JSON and PNG output."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage

from conftest import shared_path
from mrdeeprecon.evaluation.vendor_pair import (
    find_uniform_region,
    measure_vendor_pair,
    plot_vendor_pair,
)
from mrdeeprecon.io import load_volume
from mrdeeprecon.qa.foreground import foreground_mask
from mrdeeprecon.settings import EnhanceSettings

ADDED_SD = 10.0


@pytest.fixture(scope="module")
def paths():
    return (
        shared_path("dicom/philips_phantom/201_T1W_TSE_Sno_CSno_CSAIno"),
        shared_path("dicom/philips_phantom/501_T1W_TSE_Sno_CSno_CSAI2"),
    )


def _identity(volume, settings, context):
    return volume


def _add_noise(volume, settings, context):
    rng = np.random.default_rng(0)
    return volume.with_data((volume.data + rng.normal(0, ADDED_SD, volume.shape)).astype("f4"))


@pytest.fixture(scope="module")
def noisy_result(paths):
    """The pair with an "enhancement" that adds white noise of known SD."""
    return measure_vendor_pair(*paths, enhancer=_add_noise)


def test_uniform_region_is_central_and_inside_the_phantom(paths, noisy_result):
    original = load_volume(paths[0])
    region = find_uniform_region(original)
    inside = foreground_mask(original)
    assert region.mask.any() and np.all(inside[region.mask])
    assert list(region.slices) == noisy_result.slices
    cvs = np.asarray(region.slice_cv, dtype=float)
    best = int(np.nanargmin(cvs))
    assert best in region.slices
    assert all(cvs[z] <= 2 * cvs[best] for z in region.slices)
    neighbours = [z for z in (region.slices[0] - 1, region.slices[-1] + 1) if 0 <= z < len(cvs)]
    assert all(not cvs[z] <= 2 * cvs[best] for z in neighbours)  # the run is maximal
    # a disc of 3/4 of the phantom's radius (the phantom is about 200 mm across)
    assert 60.0 < region.radius_mm < 85.0
    assert all(f == 1.0 for f in noisy_result.roi_inside_foreground.values())
    centre_index = np.mean(np.nonzero(region.mask), axis=1)
    assert np.all(np.abs(centre_index[1:] - np.asarray(original.shape[1:]) / 2) < 20)


def test_noise_measures_recover_added_noise(noisy_result):
    original, enhanced, _ = noisy_result.series
    for field in ("noise_sd_local", "noise_sd_slice_difference"):
        expected = np.hypot(getattr(original, field), ADDED_SD)
        assert getattr(enhanced, field) == pytest.approx(expected, rel=0.08)
    assert enhanced.mean == pytest.approx(original.mean, abs=1.0)
    assert noisy_result.noise_ratio_enhanced < 0.5


def test_smoothing_reduces_noise_and_a_ramp_lowers_uniformity(paths):
    smooth = measure_vendor_pair(
        *paths,
        enhancer=lambda v, s, c: v.with_data(ndimage.gaussian_filter(v.data, (0, 1.0, 1.0))),
    )
    assert smooth.noise_ratio_enhanced > 1.5

    def ramp(volume, settings, context):
        x = np.linspace(0.7, 1.3, volume.shape[2], dtype=np.float32)
        return volume.with_data(volume.data * x)

    ramped = measure_vendor_pair(*paths, enhancer=ramp)
    assert ramped.series[1].piu_percent < ramped.series[0].piu_percent - 5.0


def test_vendor_series_facts(noisy_result):
    """What the pair is: same grid, the vendor series a Compressed SENSE R = 2 scan. Measured: its
    noise that differs between adjacent slices is not lower than the AI-off scan's."""
    assert noisy_result.same_geometry and noisy_result.resampling == "identity"
    assert noisy_result.contexts["vendor"]["acceleration"][0] == 2.0
    assert noisy_result.contexts["original"]["acceleration"][0] == 1.0
    original, _, vendor = noisy_result.series
    assert vendor.noise_sd_slice_difference > original.noise_sd_slice_difference
    assert noisy_result.slice_pairs >= 1 and noisy_result.boxes > 50


def test_tiny_model_plumbing_json_and_plot(paths, tiny_models, tmp_path):
    settings = EnhanceSettings(noise_reduction=3.0, model_path=tiny_models["2d"], device="cpu")
    result = measure_vendor_pair(*paths, settings)
    assert [s.name for s in result.series] == ["original", "enhanced", "vendor"]
    assert result.noise_reduction == 3.0
    assert "NR 3" in result.series[1].description
    text = json.dumps(dataclasses.asdict(result), allow_nan=False)
    assert "CSAI2" in text
    path = plot_vendor_pair(result, tmp_path / "vendor.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
