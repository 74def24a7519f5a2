"""Training losses (seed 004 compares them): L1, L2 and L1 + SSIM.

All take the network output and the target ``(B, 1, H, W)`` in normalised intensities and return
a scalar. SSIM here is the differentiable Gaussian-window SSIM of Wang et al. 2004 (11×11 window,
σ 1.5 px, K1 = 0.01, K2 = 0.03, data range 1 = the normalisation's 99th percentile), averaged over
the valid part of each patch; the mix ``0.84 · (1 − SSIM) + 0.16 · L1`` is Zhao et al.'s (2017).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_RADIUS = 5
SSIM_WEIGHT = 0.84


def _gaussian_line(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    offsets = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, device=device, dtype=dtype)
    line = torch.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    return line / line.sum()


def ssim(output: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of ``(B, 1, H, W)`` images (valid windows only). The Gaussian window is applied
    as two 1D convolutions (a 2D single-channel 11×11 convolution is hundreds of times slower on
    a CPU)."""
    line = _gaussian_line(output.device, output.dtype)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    stacked = torch.cat([output, target, output * output, target * target, output * target], dim=1)
    means = F.conv2d(F.conv2d(stacked, line.reshape(1, 1, -1, 1).expand(5, 1, -1, 1), groups=5),
                     line.reshape(1, 1, 1, -1).expand(5, 1, 1, -1), groups=5)
    mu_x, mu_y, xx, yy, xy = means.unbind(1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.mean()


def l1(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(output, target)


def l2(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(output, target)


def l1_ssim(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return SSIM_WEIGHT * (1 - ssim(output, target)) + (1 - SSIM_WEIGHT) * F.l1_loss(output, target)


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {"l1": l1, "l2": l2, "l1_ssim": l1_ssim}
