"""Tissue and homogeneous tissue (mrdeeprecon.tissue): the torch implementation against the
definition written with numpy and scipy (what the evaluation measured with before)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mrdeeprecon.tissue import (
    HOMOGENEOUS_PERCENTILE, HOMOGENEOUS_WINDOW, TISSUE_PERCENTILE, gaussian_in_plane, homogeneous_tissue, tissue_mask,
)


def _scipy_homogeneous(reference: np.ndarray) -> np.ndarray:
    data = np.asarray(reference, dtype=np.float64)
    size = (1, HOMOGENEOUS_WINDOW, HOMOGENEOUS_WINDOW) if data.ndim == 3 else (HOMOGENEOUS_WINDOW,) * 2
    mean = ndimage.uniform_filter(data, size)
    sd = np.sqrt(np.maximum(ndimage.uniform_filter(data**2, size) - mean**2, 0.0))
    tissue = data > np.percentile(data, TISSUE_PERCENTILE)
    return tissue & (sd <= np.percentile(sd[tissue], HOMOGENEOUS_PERCENTILE))


def _textured(shape: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[-2], : shape[-1]]
    image = 1.0 + 0.3 * np.sin(y / 3.0) * np.cos(x / 5.0) + (x > shape[-1] // 2)
    return (image + rng.normal(0, 0.05, shape)).astype(np.float32)


@pytest.mark.parametrize("shape", [(5, 64, 48), (3, 9, 40), (30, 20)])
def test_the_masks_are_those_of_numpy_and_scipy(shape):
    data = _textured(shape, 1)
    assert np.array_equal(homogeneous_tissue(data), _scipy_homogeneous(data))
    assert np.array_equal(tissue_mask(data), data > np.percentile(data.astype(np.float64), TISSUE_PERCENTILE))
    assert 0 < homogeneous_tissue(data).sum() < tissue_mask(data).sum()


def test_tensors_stay_tensors_and_arrays_stay_arrays():
    data = _textured((2, 32, 32), 2)
    on_tensor = homogeneous_tissue(torch.from_numpy(data))
    assert isinstance(on_tensor, torch.Tensor) and on_tensor.dtype == torch.bool
    assert isinstance(homogeneous_tissue(data), np.ndarray)
    assert not homogeneous_tissue(np.full((2, 16, 16), 3.0)).any()  # a constant volume has no tissue


@pytest.mark.parametrize("sigma", [0.8, 2.0])
def test_gaussian_in_plane_is_scipy_s(sigma):
    data = _textured((3, 21, 34), 3).astype(np.float64)
    expected = ndimage.gaussian_filter(data, (0, sigma, sigma))
    np.testing.assert_allclose(gaussian_in_plane(torch.from_numpy(data), sigma).numpy(), expected, atol=1e-12)
