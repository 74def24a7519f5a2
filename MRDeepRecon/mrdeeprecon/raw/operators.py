"""The SENSE encoding operator ``A = M · F · S`` of multi-coil Cartesian k-space, its adjoint, and
CG-SENSE in torch (:func:`cg_sense`).

Axis order (as :class:`~mrdeeprecon.raw.kspace_data.RawKSpace`):

* image ``x``: complex ``(slices, y, x)``;
* coil maps ``S``: complex ``(coils, slices, y, x)``;
* k-space ``y``: complex ``(coils, slices, ky, kx)``, centre at index ``n // 2``;
* mask ``M``: bool, broadcastable to ``(slices, ky, kx)``.

``F`` is :func:`mrdeeprecon.kspace.fft.fftc` (centred, orthonormal) over the two in-plane axes;
slices are independent (a batch). Everything is torch, on the tensors' device.
"""

from __future__ import annotations

from typing import Callable, Optional

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

    def project(self, image: torch.Tensor, kspace: torch.Tensor) -> torch.Tensor:
        """The image whose coil k-space takes the measured samples: ``Σ_c S_c* F⁻¹(M y_c + (1 − M)
        F(S_c x))`` for an image ``(slices, y, x)`` and measured coil k-space ``y``
        ``(coils, slices, ky, kx)`` (a hard data-consistency step)."""
        coil_kspace = torch.where(self.mask, kspace, fftc(self.maps * image, IN_PLANE))
        return torch.sum(torch.conj(self.maps) * ifftc(coil_kspace, IN_PLANE), dim=0)

    def normal(self, image: torch.Tensor) -> torch.Tensor:
        """``Aᴴ A x`` of an image ``(slices, y, x)``."""
        return self.adjoint(self.forward(image))


def conjugate_gradient(
    normal: Callable[[torch.Tensor], torch.Tensor],
    rhs: torch.Tensor,
    start: Optional[torch.Tensor],
    iterations: int,
) -> torch.Tensor:
    """``iterations`` conjugate-gradient steps on ``normal(x) = rhs`` (``normal`` Hermitian positive
    definite, images ``(slices, y, x)``), every slice on its own (inner products per slice), from
    ``start`` (``None``: zero). Differentiable: autograd follows the iterations."""

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # per slice, real part of ⟨a, b⟩
        return torch.sum((torch.conj(a) * b).real, dim=IN_PLANE, keepdim=True)

    image = torch.zeros_like(rhs) if start is None else start
    residual = rhs if start is None else rhs - normal(start)
    direction = residual
    rr = dot(residual, residual)
    for _ in range(iterations):
        product = normal(direction)
        alpha = rr / dot(direction, product).clamp_min(1e-30)
        image = image + alpha * direction
        residual = residual - alpha * product
        rr_next = dot(residual, residual)
        direction = residual + (rr_next / rr.clamp_min(1e-30)) * direction
        rr = rr_next
    return image


def cg_sense(operator: SenseOperator, kspace: torch.Tensor, lamda: float, iterations: int) -> torch.Tensor:
    """CG-SENSE: ``iterations`` conjugate-gradient steps from ``x = 0`` on ``(AᴴA + λ I) x = Aᴴ y``
    (the minimiser of ``½‖A x − y‖² + ½λ‖x‖²``; λ dimensionless, ``AᴴA`` of scale 1), every slice
    on its own, as sigpy's ``SenseRecon`` iterates.

    Args:
        operator: ``A`` of the slices.
        kspace: ``y``, coil k-space ``(coils, slices, ky, kx)``.
        lamda: Tikhonov weight λ ≥ 0.
        iterations: CG steps (stopping early is itself a regulariser).

    Returns:
        the image ``(slices, y, x)``.
    """
    return conjugate_gradient(lambda x: operator.normal(x) + lamda * x, operator.adjoint(kspace), None, iterations)
