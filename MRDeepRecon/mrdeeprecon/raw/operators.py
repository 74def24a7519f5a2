"""The SENSE encoding operator ``A = M · F · S`` of multi-coil Cartesian k-space, and its adjoint.

Axis order (as :class:`~mrdeeprecon.raw.kspace_data.RawKSpace`):

* image ``x``: complex ``(slices, y, x)``;
* coil maps ``S``: complex ``(coils, slices, y, x)``;
* k-space ``y``: complex ``(coils, slices, ky, kx)``, centre at index ``n // 2``;
* mask ``M``: bool, broadcastable to ``(slices, ky, kx)``.

``F`` is :func:`mrdeeprecon.kspace.fft.fftc` (centred, orthonormal) over the two in-plane axes;
slices are independent (a batch). Everything is torch, on the tensors' device.
"""

from __future__ import annotations

import torch

from ..kspace.fft import fftc, ifftc

#: The in-plane axes of the image ``(slices, y, x)`` and of coil data ``(coils, slices, ky, kx)``.
IN_PLANE = (-2, -1)


class SenseOperator:
    """``A x = M ⊙ F(S_c x)`` for every coil ``c``, and ``Aᴴ y = Σ_c S_c* F⁻¹(M ⊙ y_c)``.

    Args:
        maps: coil sensitivities ``(coils, slices, y, x)``, complex.
        mask: sampled positions, bool, broadcastable to ``(slices, ky, kx)``.
    """

    def __init__(self, maps: torch.Tensor, mask: torch.Tensor) -> None:
        if maps.dim() != 4:
            raise ValueError(f"coil maps must be (coils, slices, y, x), got shape {tuple(maps.shape)}")
        self.maps = maps
        self.mask = mask.to(device=maps.device, dtype=torch.bool)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``A x``: image ``(slices, y, x)`` → sampled coil k-space ``(coils, slices, ky, kx)``
        (zero where not sampled)."""
        return fftc(self.maps * image, IN_PLANE) * self.mask

    def adjoint(self, kspace: torch.Tensor) -> torch.Tensor:
        """``Aᴴ y``: coil k-space ``(coils, slices, ky, kx)`` → image ``(slices, y, x)``."""
        return torch.sum(torch.conj(self.maps) * ifftc(kspace * self.mask, IN_PLANE), dim=0)

    def normal(self, image: torch.Tensor) -> torch.Tensor:
        """``Aᴴ A x`` of an image ``(slices, y, x)``."""
        return self.adjoint(self.forward(image))
