"""Multi-coil k-space training pairs for the unrolled SENSE network, simulated in torch from real
magnitude volumes (:mod:`mrdeeprecon.raw.unrolled`, ``mrdeeprecon train-recon``).

One pair, all arrays ``(coils, y, x)`` / ``(y, x)`` with ``(y, x)`` = (ky → phase encoding,
kx → readout) as :class:`~mrdeeprecon.raw.kspace_data.RawKSpace`:

1. a random slice of a random volume along a random axis (middle 70 % of the axis), random flips,
   resized (bilinear, antialiased) to the template's matrix (``espirit_full``: 230 × 180);
2. times a smooth random phase: a 4 × 4 grid of uniform phases in ``[−π, π]`` upsampled bicubically,
   plus a random linear ramp;
3. coil maps: the template's ESPIRiT maps (:func:`mrdeeprecon.raw.baselines.espirit_maps`, computed
   once) flipped, rotated by ±15° and shifted by ±10 % at random (bilinear on real and imaginary
   parts), coils in random order;
4. the image scaled so that the 99th percentile of its coil-combined magnitude equals the
   template's, k-space ``F(S_c x)`` plus complex Gaussian noise with the template's noise
   covariance between coils (estimated from the k-space corners of the template,
   :func:`noise_covariance`) times a log-uniform factor in ``[0.5, 2]``;
5. a mask at ``R`` uniform in ``[2, 8]``, one of three kinds (shares :attr:`RawPairConfig.p_poisson`,
   :attr:`RawPairConfig.p_random`, the rest uniform): Poisson disc (``sigpy.mri.poisson``, 24 × 24
   calibration, its seed drawn from the sampler's generator; uniform when :data:`POISSON_TRIES`
   seeds all fail to reach R); random ky lines (fastMRI's random mask: the 24 centre lines, each other
   line with the probability that makes R on average); or every R-th ky line (rounded, random
   offset) + the 24 centre lines.

Target (:attr:`RawPairConfig.target`): ``"fully_sampled"`` (default), the coil combination
``Σ_c S_c* F⁻¹(y_c)`` of the noisy *fully sampled* k-space with the same maps — what the benchmark's
reference is (``espirit_full`` combined with its own ESPIRiT maps) and fastMRI's convention: the
network keeps the measured data, noise included, and estimates only what was not sampled (noise
is the enhancement's business, after); or ``"clean"``, the noise-free ``Σ_c S_c* S_c x``, which a
noisy reference scores below CG-SENSE at low R. The network is given the true (augmented) maps, not
ESPIRiT maps re-estimated from the undersampled pair (that would cost a second per pair; at the
benchmark's 24 calibration lines the re-estimated maps equal the fully sampled data's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..kspace.fft import fftc, ifftc

ACS_LINES = 24
#: Seeds tried for a Poisson-disc mask before the pair falls back to a uniform one.
POISSON_TRIES = 5
#: Width of the k-space corners (fraction of each axis' half-width, from the edge) that estimate the
#: template's noise covariance.
CORNER_FRACTION = 0.15
#: What a pair's target is (:attr:`RawPairConfig.target`, module docstring).
TARGETS = ("fully_sampled", "clean")


@dataclass(frozen=True)
class RawPairConfig:
    """How pairs are drawn (module docstring). ``acceleration``: the range of R;
    ``noise_factor``: the range of the factor on the template's noise covariance (log-uniform);
    ``p_poisson``, ``p_random``: the shares of Poisson-disc and random-line masks (the rest are
    uniform); ``target``: one of :data:`TARGETS`."""

    acceleration: tuple[float, float] = (2.0, 8.0)
    noise_factor: tuple[float, float] = (0.5, 2.0)
    p_poisson: float = 1 / 3
    p_random: float = 1 / 3
    max_rotation_deg: float = 15.0
    max_shift: float = 0.1
    target: str = "fully_sampled"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown target {self.target!r}; one of {', '.join(TARGETS)}")
        if not (self.p_poisson >= 0 and self.p_random >= 0 and self.p_poisson + self.p_random <= 1):  # NaN fails too
            raise ValueError(f"mask shares must be >= 0 and sum to at most 1, got Poisson {self.p_poisson:g} "
                             f"and random-line {self.p_random:g}")


@dataclass
class RawBatch:
    """A batch of ``n`` pairs.

    Attributes:
        kspace: undersampled noisy coil k-space ``(coils, n, ky, kx)``, complex64, zero where not sampled.
        maps: coil maps ``(coils, n, y, x)``, complex64.
        mask: bool ``(n, ky, kx)``.
        target: the coil-combined target image ``(n, y, x)``, complex64 (:attr:`RawPairConfig.target`).
    """

    kspace: torch.Tensor
    maps: torch.Tensor
    mask: torch.Tensor
    target: torch.Tensor


def noise_covariance(kspace: np.ndarray) -> np.ndarray:
    """The complex noise covariance between coils ``(coils, coils)`` of k-space
    ``(coils, ky, kx)``, from its four corners (:data:`CORNER_FRACTION`), where a brain image has
    next to no signal."""
    ny, nx = kspace.shape[-2:]
    ky = np.abs(np.arange(ny) - ny // 2) / (ny / 2)
    kx = np.abs(np.arange(nx) - nx // 2) / (nx / 2)
    corners = (ky[:, None] >= 1 - CORNER_FRACTION) & (kx[None, :] >= 1 - CORNER_FRACTION)
    samples = kspace[:, corners]
    samples = samples - samples.mean(axis=1, keepdims=True)
    return (samples @ samples.conj().T / samples.shape[1]).astype(np.complex128)


class RawPairSampler:
    """Draws :class:`RawBatch` es from magnitude volumes ``(z, y, x)`` and a template (the real
    data's maps, noise covariance and signal level); every random choice comes from ``generator``
    (its state is what a checkpoint keeps)."""

    def __init__(
        self,
        volumes: list[np.ndarray],
        template_maps: np.ndarray,
        template_covariance: np.ndarray,
        template_level: float,
        config: RawPairConfig,
        seed: int,
    ) -> None:
        self.volumes = [torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for v in volumes]
        self.maps = torch.from_numpy(np.ascontiguousarray(template_maps, dtype=np.complex64))  # (coils, y, x)
        self.noise_cholesky = torch.from_numpy(np.linalg.cholesky(template_covariance).astype(np.complex64))
        self.level = float(template_level)
        self.config = config
        self.shape = tuple(template_maps.shape[-2:])
        self.generator = torch.Generator().manual_seed(seed)

    def _uniform(self, low: float = 0.0, high: float = 1.0, size: tuple[int, ...] = ()) -> torch.Tensor:
        return low + (high - low) * torch.rand(size, generator=self.generator)

    def _integer(self, high: int) -> int:
        return int(torch.randint(high, (), generator=self.generator))

    def _slice(self) -> torch.Tensor:
        """A random slice with tissue in it, resized to :attr:`shape`, its 99th percentile 1."""
        for _ in range(20):
            volume = self.volumes[self._integer(len(self.volumes))]
            axis = self._integer(3)
            n = volume.shape[axis]
            index = int(n * 0.15) + self._integer(max(1, int(n * 0.7)))
            image = volume.select(axis, index)
            for dim in (0, 1):
                if self._uniform() < 0.5:
                    image = image.flip(dim)
            image = F.interpolate(image[None, None], size=self.shape, mode="bilinear", antialias=True, align_corners=False)[0, 0]
            image = image.clamp_min(0)
            level = torch.quantile(image.flatten(), 0.99)
            if level > 0 and (image > 0.1 * level).float().mean() > 0.15:
                return image / level
        return image / image.max().clamp_min(1e-12)

    def _phase(self) -> torch.Tensor:
        coarse = self._uniform(-math.pi, math.pi, (1, 1, 4, 4))
        phase = F.interpolate(coarse, size=self.shape, mode="bicubic", align_corners=True)[0, 0]
        ny, nx = self.shape
        ramp = self._uniform(-1, 1, (2,)) * math.pi
        y = torch.linspace(-0.5, 0.5, ny)[:, None]
        x = torch.linspace(-0.5, 0.5, nx)[None, :]
        return phase + ramp[0] * y + ramp[1] * x

    def _maps(self) -> torch.Tensor:
        maps = self.maps[torch.randperm(self.maps.shape[0], generator=self.generator)]
        for dim in (-2, -1):
            if self._uniform() < 0.5:
                maps = maps.flip(dim)
        angle = math.radians(float(self._uniform(-self.config.max_rotation_deg, self.config.max_rotation_deg)))
        shift = self._uniform(-self.config.max_shift, self.config.max_shift, (2,)) * 2  # grid units span 2
        theta = torch.tensor([[math.cos(angle), -math.sin(angle), float(shift[0])],
                              [math.sin(angle), math.cos(angle), float(shift[1])]])[None]
        channels = torch.cat([maps.real, maps.imag], 0)[None]
        grid = F.affine_grid(theta, list(channels.shape), align_corners=False)
        moved = F.grid_sample(channels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
        coils = maps.shape[0]
        return torch.complex(moved[:coils], moved[coils:])

    def _mask(self) -> torch.Tensor:
        ny, nx = self.shape
        r = float(self._uniform(*self.config.acceleration))
        kind = float(self._uniform())
        centre = slice(ny // 2 - ACS_LINES // 2, ny // 2 + ACS_LINES // 2)
        if self.config.p_poisson <= kind < self.config.p_poisson + self.config.p_random:
            probability = max(0.0, (ny / r - ACS_LINES) / (ny - ACS_LINES))
            lines = torch.rand(ny, generator=self.generator) < probability
            lines[centre] = True
            return lines[:, None].expand(ny, nx).clone()
        if kind < self.config.p_poisson:
            import sigpy.mri

            for _ in range(POISSON_TRIES):  # sigpy's search for the density misses R now and then
                try:
                    seed = self._integer(2**31 - 1)
                    mask = sigpy.mri.poisson(self.shape, r, calib=(ACS_LINES, ACS_LINES), seed=seed, dtype=np.complex64)
                    return torch.from_numpy(mask != 0)
                except ValueError:
                    continue
        step = max(2, int(round(r)))
        mask = torch.zeros(self.shape, dtype=torch.bool)
        mask[self._integer(step) :: step] = True
        mask[centre] = True
        return mask

    def pair(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pair: k-space ``(coils, ky, kx)``, maps ``(coils, y, x)``, mask ``(ky, kx)``,
        target ``(y, x)``."""
        image = self._slice() * torch.exp(1j * self._phase())
        maps = self._maps()
        combined = torch.sum(maps.conj() * maps, 0).real * image
        scale = self.level / torch.quantile(combined.abs().flatten(), 0.99).clamp_min(1e-12)
        image, target = image * scale, (combined * scale).to(torch.complex64)
        kspace = fftc((maps * image).to(torch.complex64), (-2, -1))
        low, high = (math.log(v) for v in self.config.noise_factor)
        factor = math.exp(float(self._uniform(low, high)))
        coils = maps.shape[0]
        white = torch.complex(torch.randn((coils, kspace[0].numel()), generator=self.generator),
                              torch.randn((coils, kspace[0].numel()), generator=self.generator)) / math.sqrt(2)
        kspace = kspace + factor * (self.noise_cholesky @ white).reshape(kspace.shape)
        if self.config.target == "fully_sampled":
            target = torch.sum(maps.conj() * ifftc(kspace, (-2, -1)), 0).to(torch.complex64)
        mask = self._mask()
        return (kspace * mask).to(torch.complex64), maps.to(torch.complex64), mask, target

    def batch(self, n: int) -> RawBatch:
        pairs = [self.pair() for _ in range(n)]
        return RawBatch(
            kspace=torch.stack([p[0] for p in pairs], 1),
            maps=torch.stack([p[1] for p in pairs], 1),
            mask=torch.stack([p[2] for p in pairs], 0),
            target=torch.stack([p[3] for p in pairs], 0),
        )
