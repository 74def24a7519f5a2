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


def test_factors_cached_in_inference_mode_serve_autograd_later() -> None:
    """The enhancement transforms under ``torch.inference_mode``; a later training step through
    the same cached factors must still differentiate (an inference tensor cannot be saved)."""
    for shape in [(4, 6), (4, 7)]:
        with torch.inference_mode():
            fftc(torch.zeros(shape, dtype=torch.complex64), (-2, -1))
        x = torch.randn(shape, dtype=torch.complex64, requires_grad=True)
        fftc(x, (-2, -1)).abs().sum().backward()
        assert x.grad is not None and bool(torch.isfinite(torch.view_as_real(x.grad)).all())


def test_a_grid_too_large_for_the_cache_gets_the_same_transform(monkeypatch) -> None:
    from mrdeeprecon.kspace import fft

    monkeypatch.setattr(fft, "_CACHED_SIZE", 16)
    data = np.random.default_rng(2).standard_normal((3, 9, 10)).astype(np.complex64)
    for transform in (fftc, ifftc):
        np.testing.assert_allclose(transform(torch.from_numpy(data), (0, 1, 2)).numpy(),
                                   transform(data.astype(np.complex128), (0, 1, 2)), atol=1e-5)


def test_an_axis_out_of_range_is_refused_as_numpy_refuses_it() -> None:
    with pytest.raises(IndexError):
        fftc(torch.zeros(4, 5, 6), (3,))
    with pytest.raises(IndexError):
        ifftc(torch.zeros(4, 5, 6), (-4,))
