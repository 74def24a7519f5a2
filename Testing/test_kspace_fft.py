"""The torch centred FFTs (shifts done by modulation) equal numpy's shift-transform-shift, for even,
odd and mixed lengths, in single and double precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mrdeeprecon.kspace.fft import fftc, ifftc

CASES = [
    ((6, 8), (0, 1)),  # all even: real signs
    ((5, 7), (0, 1)),  # all odd: complex factors
    ((3, 129, 128), (-2, -1)),  # the SENSE grid padded to a multiple of R = 3
    ((4, 9, 6, 11), (1, 2, 3)),  # mixed, three axes
    ((2, 8, 11), (-1,)),  # one odd axis of several
    ((1, 5), (0, 1)),  # a length-1 axis
]


@pytest.mark.parametrize("shape, axes", CASES, ids=[str(c[0]) for c in CASES])
@pytest.mark.parametrize("transform", [fftc, ifftc], ids=["fftc", "ifftc"])
@pytest.mark.parametrize("dtype, tolerance", [(np.complex64, 2e-6), (np.complex128, 1e-13)], ids=["single", "double"])
def test_torch_equals_the_numpy_shift_transform_shift(shape, axes, transform, dtype, tolerance) -> None:
    rng = np.random.default_rng(sum(shape))
    data = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    expected = transform(data.astype(np.complex128), axes)  # the numpy path: ifftshift, FFT, fftshift
    result = transform(torch.from_numpy(data), axes)
    assert result.dtype == torch.from_numpy(data).dtype
    np.testing.assert_allclose(result.numpy(), expected, rtol=0, atol=tolerance * np.abs(expected).max())


@pytest.mark.parametrize("shape", [(7, 10), (9, 9), (16, 15)])
def test_a_real_image_and_the_round_trip(shape) -> None:
    image = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    kspace = fftc(torch.from_numpy(image), (0, 1))
    assert kspace.dtype == torch.complex64
    np.testing.assert_allclose(kspace.numpy(), fftc(image.astype(np.float64), (0, 1)), atol=1e-5)
    back = ifftc(kspace, (0, 1))
    np.testing.assert_allclose(back.real.numpy(), image, atol=1e-5)
    assert float(back.imag.abs().max()) < 1e-5
