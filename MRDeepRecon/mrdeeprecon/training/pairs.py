"""On-the-fly training pairs from real magnitude volumes (seed 001, section 2.2).

Each pair is drawn as follows:

1. a training volume (scaled so its 99th percentile is 1) in a random orientation (any of its
   three axes becomes the slice axis, random flips);
2. a random degradation (:func:`random_degradation`): noise, k_max truncation per axis, partial
   Fourier, uniform (SENSE) or random undersampling, elliptical sampling, then a random
   conventional reconstruction (filter, zero-padding or cubic interpolation, magnitude or real,
   bias field, quantisation); in some pairs the noise is then made spatially varying as after a
   surface-coil intensity normalisation (:func:`normalised_coil_noise`);
3. a random noise-reduction factor NR in [1, 10]; the target is the fully sampled, noise-free
   reconstruction plus ``1/NR`` of the exact noise realisation the input carries, so the network
   learns to keep that fraction (see docs/ARCHITECTURE.md, "Tunable denoising");
4. input and target normalised with the 1st/99th percentiles of the whole degraded slice (2D) or
   slab (3D), as inference normalises with those of the whole volume;
5. for models with a noise-map input, the local noise SD map of the normalised degraded slice
   (:func:`mrdeeprecon.noise_map.local_noise_sd`, with the k-space extent the context states) as
   the last input channel.

Arrays follow the standardised layout: ``(slice, frequency = y, phase = x)``. The 2D model sees
single slices, whose 2D k-space is degraded; the 3D model sees 7 adjacent slices of a slab whose
3D k-space (including the slice direction) is degraded, and predicts the middle one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kspace.degrade import AxisRoles, DegradationSpec, degrade
from ..kspace.recon import bias_field
from ..model import context_vector
from ..noise_map import local_noise_sd
from ..standardize import intensity_range, normalize

STACK = 7  # slices the 3D model sees
SLAB = 24  # slices degraded together for the 3D model (the central ones are used)
SLICES_PER_SLAB = 8  # 3D training pairs taken from one degraded slab
SLAB_FIELD = 128  # in-plane field (pixels) of a 3D slab, cut around tissue before degradation


@dataclass(frozen=True)
class PairConfig:
    """How training pairs are drawn.

    Attributes:
        kind: ``"2d"`` (one slice in) or ``"3d"`` (7 slices in, middle slice out).
        patch: in-plane patch edge in pixels.
        min_noise, max_noise: range of the noise σ (log-uniform), as a fraction of the volume's
            99th percentile.
        min_kmax: smallest k_max fraction drawn per axis.
        noise_map: append the local noise SD map as an input channel.
        p_coil_noise: probability that a pair's noise is made spatially varying
            (:func:`normalised_coil_noise`).
    """

    kind: str = "2d"
    patch: int = 96
    min_noise: float = 0.003
    max_noise: float = 0.15
    min_kmax: float = 0.35
    noise_map: bool = False
    p_coil_noise: float = 0.0

    @property
    def in_slices(self) -> int:
        return 1 if self.kind == "2d" else STACK

    @property
    def input_channels(self) -> int:
        return self.in_slices + int(self.noise_map)


@dataclass
class Batch:
    """A batch of training pairs, float32: ``inputs (B, S, P, P)``, ``context (B, C)``, ``targets (B, 1, P, P)``."""

    inputs: np.ndarray
    context: np.ndarray
    targets: np.ndarray


def random_degradation(
    rng: np.random.Generator, is_3d: bool, config: PairConfig
) -> tuple[DegradationSpec, context_vector.SamplingDescription]:
    """A random degradation and how it describes the input's sampling to the network."""

    def maybe_kmax(p_truncate: float) -> float:
        return float(rng.uniform(config.min_kmax, 1.0)) if rng.random() < p_truncate else 1.0

    noise = 0.0 if rng.random() < 0.1 else float(np.exp(rng.uniform(np.log(config.min_noise), np.log(config.max_noise))))
    kmax = (maybe_kmax(0.5), maybe_kmax(0.6), maybe_kmax(0.6) if is_3d else 1.0)
    pf_phase = float(rng.uniform(0.55, 0.9)) if rng.random() < 0.25 else 1.0
    pf_slice = float(rng.uniform(0.6, 0.9)) if is_3d and rng.random() < 0.2 else 1.0
    r_uniform, r_random = 1.0, 1.0
    draw = rng.random()
    if draw < 0.12:
        r_uniform = float(rng.choice([2, 3]))
    elif draw < 0.2:
        r_random = float(rng.uniform(1.5, 3.0))
    spec = DegradationSpec(
        noise=noise,
        kmax=kmax,
        partial_fourier=(pf_phase, pf_slice),
        partial_fourier_recon=str(rng.choice(["zero", "homodyne", "pocs"])),
        undersample_uniform=r_uniform,
        undersample_random=r_random,
        elliptical=bool(rng.random() < 0.2),
        kspace_filter=str(rng.choice(["none", "none", "hamming", "tukey"])),
        zero_pad_interpolation=bool(rng.random() < 0.8),
        output="magnitude" if rng.random() < 0.9 else "real",
        bias_field=float(rng.uniform(0.0, 0.4)) if rng.random() < 0.3 else 0.0,
        quantize_levels=int(rng.choice([0, 0, 1024, 4096])),
    )
    sampling = context_vector.SamplingDescription(
        kmax=kmax,
        partial_fourier=(pf_phase, pf_slice),
        acceleration_uniform=r_uniform,
        acceleration_random=r_random,
        elliptical=spec.elliptical,
        is_3d=is_3d,
    )
    return spec, sampling


def normalised_coil_noise(
    image: np.ndarray, noise_free: np.ndarray, rng: np.random.Generator, amplitude: float
) -> np.ndarray:
    """``image`` with its noise divided by a smooth receive-sensitivity field, signal unchanged.

    A surface coil's image is ``S·x + n``; intensity normalisation divides by ``S``, which leaves
    the anatomy flat and the noise ``n / S`` strongest where the coil is least sensitive. The field
    (:func:`mrdeeprecon.kspace.recon.bias_field`, peak relative amplitude ``amplitude``) is drawn
    from ``rng``.
    """
    field = bias_field(image.shape, amplitude, rng)
    return noise_free + (image - noise_free) / field


class PairSampler:
    """Draws :class:`Batch` es from a list of clean volumes ``(z, y, x)``; reproducible from ``seed``."""

    def __init__(self, volumes: list[np.ndarray], config: PairConfig, seed: int = 0) -> None:
        if not volumes:
            raise ValueError("no training volumes")
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.volumes = [self._prepare(v) for v in volumes]

    @staticmethod
    def _prepare(volume: np.ndarray) -> np.ndarray:
        volume = np.asarray(volume, dtype=np.float32)
        volume = volume - min(0.0, float(volume.min()))
        return volume / np.percentile(volume, 99.0)

    def _oriented(self) -> np.ndarray:
        """A training volume with a random axis as slice axis and random flips."""
        volume = self.volumes[self.rng.integers(len(self.volumes))]
        volume = np.transpose(volume, self.rng.permutation(3))
        flips = tuple(a for a in range(3) if self.rng.random() < 0.5)
        return np.flip(volume, flips) if flips else volume

    def _foreground_slice(self, volume: np.ndarray, margin: int) -> int:
        """Index of a slice with tissue in it, at least ``margin`` from either end."""
        levels = volume.mean(axis=(1, 2))
        candidates = np.flatnonzero(levels > 0.2 * levels.max())
        candidates = candidates[(candidates >= margin) & (candidates < volume.shape[0] - margin)]
        if candidates.size == 0:
            return volume.shape[0] // 2
        return int(self.rng.choice(candidates))

    def _crop(self, arrays: list[np.ndarray], reference: np.ndarray, size: int) -> list[np.ndarray]:
        """The same random ``size``² patch (centred on tissue when possible) from each ``(..., y, x)`` array."""
        p = size
        h, w = reference.shape[-2:]
        pad_h, pad_w = max(0, p - h), max(0, p - w)
        if pad_h or pad_w:
            pads = [(0, 0)] * (arrays[0].ndim - 2) + [(pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)]
            arrays = [np.pad(a, pads[-a.ndim:]) for a in arrays]
            reference = np.pad(reference, pads[-2:])
            h, w = reference.shape
        tissue = np.argwhere(reference > 0.2)
        if tissue.size and self.rng.random() < 0.9:
            cy, cx = tissue[self.rng.integers(len(tissue))]
            y0 = int(np.clip(cy - p // 2, 0, h - p))
            x0 = int(np.clip(cx - p // 2, 0, w - p))
        else:
            y0, x0 = int(self.rng.integers(h - p + 1)), int(self.rng.integers(w - p + 1))
        return [a[..., y0 : y0 + p, x0 : x0 + p] for a in arrays]

    def _pairs(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Pairs from one degradation: one slice (2D) or ``SLICES_PER_SLAB`` middle slices of a slab (3D).

        Each pair gets its own noise-reduction factor.
        """
        is_3d = self.config.kind == "3d"
        volume = self._oriented()
        spec, sampling = random_degradation(self.rng, is_3d, self.config)
        if is_3d:
            centre = self._foreground_slice(volume, SLAB // 2)
            start = int(np.clip(centre - SLAB // 2, 0, max(0, volume.shape[0] - SLAB)))
            slab = volume[start : start + SLAB]
            (clean,) = self._crop([slab], slab[SLAB // 2], SLAB_FIELD)
            clean = np.ascontiguousarray(clean)
            axes = AxisRoles(frequency=1, phase=2, slice=0)
            first = clean.shape[0] // 2 - SLICES_PER_SLAB // 2
            middles = range(first, first + SLICES_PER_SLAB)
        else:
            clean = np.ascontiguousarray(volume[self._foreground_slice(volume, 0)])[None]
            axes = AxisRoles(frequency=0, phase=1, slice=0)
            middles = range(1)
        result = degrade(clean if is_3d else clean[0], spec, axes=axes, rng=self.rng, reference_level=1.0)
        image, noise_free, target = (
            (a if is_3d else a[None]) for a in (result.image, result.noise_free, result.target)
        )
        if spec.noise > 0 and self.rng.random() < self.config.p_coil_noise:
            image = normalised_coil_noise(image, noise_free, self.rng, float(self.rng.uniform(0.3, 0.7)))
        lo, hi = intensity_range(image)
        noise_map = (
            local_noise_sd(normalize(image, lo, hi), sampling.kmax[:2]) if self.config.noise_map else None
        )
        pairs = []
        for middle in middles:
            noise_reduction = float(1.0 / self.rng.uniform(0.1, 1.0))
            tuned = target[middle] + (image[middle] - noise_free[middle]) / noise_reduction
            window = slice(middle - STACK // 2, middle + STACK // 2 + 1) if is_3d else slice(0, 1)
            arrays = [normalize(image[window], lo, hi), normalize(tuned[None], lo, hi)]
            if noise_map is not None:
                arrays.append(noise_map[middle][None])
            cropped = self._crop(arrays, clean[middle], self.config.patch)
            inputs = np.concatenate([cropped[0], cropped[2]]) if noise_map is not None else cropped[0]
            context = context_vector.encode(sampling, noise_reduction)
            pairs.append((inputs, context, cropped[1]))
        return pairs

    def batch(self, size: int) -> Batch:
        """``size`` fresh pairs stacked into float32 arrays."""
        pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        while len(pairs) < size:
            pairs.extend(self._pairs())
        pairs = pairs[:size]
        return Batch(
            inputs=np.stack([p[0] for p in pairs]).astype(np.float32),
            context=np.stack([p[1] for p in pairs]).astype(np.float32),
            targets=np.stack([p[2] for p in pairs]).astype(np.float32),
        )
