"""Training pairs made in torch, in batches, on the device that trains (seed 001, section 2.2).

A batch is drawn as follows:

1. **Fields.** Each pair takes a training volume (scaled so its 99th percentile is 1) in a random
   orientation (any axis becomes the slice axis, random flips) and cuts a field of view of
   ``FIELD`` × ``FIELD`` pixels centred on a random tissue pixel of a random tissue slice (2D), of
   ``SLAB`` slices around it (several input slices of a 3D acquisition), or of ``in_slices``
   slices (``slab = "2D"``: a stack of 2D acquisitions, the 2.5D model), their spacing drawn in
   ``slice_spacing`` (linear interpolation between the volume's slices); the field is zero-padded
   where the volume is smaller. The field is tapered to 0 over its outer ``TAPER`` pixels (and, for
   slabs, outer ``SLAB_TAPER`` slices), so that its k-space has no wrap-around edge; the patch the
   network sees is the untapered centre.
2. **Degradation** (:func:`random_degradation`, :func:`mrdeeprecon.kspace.degrade.degrade_batch`).
   The batch is split into groups of ``PairConfig.group`` pairs; each group shares one random
   scenario (noise level, k_max per axis, partial Fourier, uniform or random undersampling,
   elliptical sampling, reconstruction variations), and each pair gets its own noise, random mask
   and bias field. In some pairs the noise is then made spatially varying as after a surface-coil
   intensity normalisation (:func:`normalised_coil_noise`).
3. **Target**: the clean image (``PairConfig.target = "clean"``: full k-space, the same output
   component and bias field, no noise: the all-in-one model that also restores resolution), or the
   same sampling and reconstruction without noise (``"noise_free"``: a denoise-only model).
4. **Scale**: input and target times one random gain per pair (log-uniform in
   ``1 / GAIN … GAIN``), as the inference's percentile normalisation of real volumes varies.
5. **Noise level input** (``PairConfig.noise_input``, :func:`mrdeeprecon.noise_map.noise_input`):
   the local noise SD map of the input slice, with the k-space extent the context states
   (``"map"``), its median as a constant map (``"scalar"``), or nothing (``"blind"``).

Arrays follow the standardised layout ``(slice, frequency = y, phase = x)``. A 2D pair degrades a
single slice's 2D k-space, and a 2D stack each of its slices' (one scenario, every slice its own
noise, mask and bias field); 3D pairs degrade a slab's 3D k-space (including the slice direction)
and take ``in_slices`` adjacent slices as input, the middle one as target, at every position
inside the slab's untapered part. All
randomness comes from one torch generator, whose state a checkpoint stores.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..kspace import recon
from ..kspace.degrade import AxisRoles, DegradationSpec, DegradedBatch, degrade_batch
from ..model import context_vector
from ..noise_map import NOISE_INPUTS, noise_input
from ..sampling import KSpaceSampling

FIELD = 128  # in-plane field of view (pixels) degraded around each patch
TAPER = 12  # pixels over which the field's border falls to 0
SLAB = 16  # slices degraded together for multi-slice pairs
SLAB_TAPER = 3  # slices over which the slab's ends fall to 0
TISSUE_LEVEL = 0.2  # a field's centre pixel is tissue above this fraction of the 99th percentile
TISSUE_TRIES = 16  # uniform draws that look for a tissue pixel before the slice is scanned for one
GAIN = 1.25  # largest random intensity gain (and 1 / GAIN the smallest)
INTERPOLATED_KMAX = (0.45, 0.7)  # in-plane k_max range of scanner-interpolation scenarios
TARGETS = ("clean", "noise_free")
SLABS = ("3D", "2D")
PHASE_AXIS = 2  # array axis of the phase-encoding direction in the standardised layout (x)


@dataclass(frozen=True)
class PairConfig:
    """How training pairs are drawn.

    Attributes:
        in_slices: input slices (1 = 2D model; odd, the middle one is the target).
        patch: in-plane patch edge in pixels (at most ``FIELD - 2 · TAPER``).
        min_noise, max_noise: range of the noise σ (log-uniform), as a fraction of the volume's
            99th percentile.
        min_kmax: smallest k_max fraction drawn per axis.
        noise_input: ``"map"``, ``"scalar"`` or ``"blind"`` (see the module docstring).
        p_coil_noise: probability that a group's noise is made spatially varying (each pair with
            its own field).
        p_interpolated: probability of a scanner-interpolation scenario: both in-plane k_max in
            ``INTERPOLATED_KMAX`` (an acquired matrix shown zero-filled on a 1.4–2.2× finer grid),
            the commonest truncation of real series, which the per-axis draws reach rarely.
        target: ``"clean"`` or ``"noise_free"`` (see the module docstring).
        group: pairs that share one degradation scenario.
        slab: how several input slices were acquired: ``"3D"`` (one 3D k-space, truncated along
            the slice too) or ``"2D"`` (a stack of 2D slices).
        slice_spacing: range of the input slices' spacing, in slices of the training volume
            (uniform draw; ``(1, 1)``: adjacent slices as stored). Models with several input slices
            meet series whose slices are thicker than the training volumes'.
    """

    in_slices: int = 1
    patch: int = 96
    min_noise: float = 0.003
    max_noise: float = 0.15
    min_kmax: float = 0.35
    noise_input: str = "map"
    p_coil_noise: float = 0.25
    p_interpolated: float = 0.0
    target: str = "clean"
    group: int = 4
    slab: str = "3D"
    slice_spacing: tuple[float, float] = (1.0, 1.0)

    def __post_init__(self) -> None:
        if self.in_slices < 1 or self.in_slices % 2 == 0 or self.in_slices > SLAB - 2 * SLAB_TAPER:
            raise ValueError(f"in_slices must be odd, 1 … {SLAB - 2 * SLAB_TAPER}, got {self.in_slices}")
        if not 8 <= self.patch <= FIELD - 2 * TAPER:
            raise ValueError(f"patch must be 8 … {FIELD - 2 * TAPER} pixels, got {self.patch}")
        if self.noise_input not in NOISE_INPUTS:
            raise ValueError(f"noise_input must be one of {NOISE_INPUTS}, got {self.noise_input!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {self.target!r}")
        if self.group < 1:
            raise ValueError(f"group must be >= 1, got {self.group}")
        if self.slab not in SLABS:
            raise ValueError(f"slab must be one of {SLABS}, got {self.slab!r}")
        low, high = self.slice_spacing
        if not 1.0 <= low <= high:
            raise ValueError(f"slice_spacing must satisfy 1 <= low <= high, got {self.slice_spacing}")

    @property
    def is_3d(self) -> bool:
        """Pairs come from a 3D acquisition (several input slices of one 3D k-space)."""
        return self.in_slices > 1 and self.slab == "3D"

    @property
    def depth(self) -> int:
        """Slices of a field: the 3D slab, the 2D stack, or the single slice."""
        return SLAB if self.is_3d else self.in_slices

    @property
    def input_channels(self) -> int:
        return self.in_slices + int(self.noise_input != "blind")


@dataclass
class Batch:
    """A batch of training pairs, float32 tensors on the sampler's device: ``inputs (B, S, P, P)``,
    ``context (B, C)``, ``targets (B, 1, P, P)``."""

    inputs: torch.Tensor
    context: torch.Tensor
    targets: torch.Tensor


class _Draw:
    """Python numbers drawn from a torch generator (so one generator state holds all randomness)."""

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def uniform(self, low: float = 0.0, high: float = 1.0) -> float:
        u = float(torch.rand((), generator=self.generator, device=self.generator.device))
        return low + (high - low) * u

    def integer(self, n: int) -> int:
        return min(n - 1, int(self.uniform() * n))

    def choice(self, options):
        return options[self.integer(len(options))]


def pair_sampling(spec: DegradationSpec, is_3d: bool) -> KSpaceSampling:
    """How a pair's input was sampled: the fully sampled field (standardised layout, a 3D
    acquisition when ``is_3d``, else 2D) after the simulator applied ``spec``."""
    return KSpaceSampling(acquisition="3D" if is_3d else "2D", phase_axis=PHASE_AXIS).degraded_by(spec)


def random_degradation(
    draw: _Draw, is_3d: bool, config: PairConfig
) -> tuple[DegradationSpec, KSpaceSampling]:
    """A random degradation and how it describes the input's sampling to the network."""

    def maybe_kmax(p_truncate: float) -> float:
        return draw.uniform(config.min_kmax, 1.0) if draw.uniform() < p_truncate else 1.0

    log_noise = draw.uniform(math.log(config.min_noise), math.log(config.max_noise))
    noise = 0.0 if draw.uniform() < 0.1 else math.exp(log_noise)
    kmax = (maybe_kmax(0.5), maybe_kmax(0.6), maybe_kmax(0.6) if is_3d else 1.0)
    if draw.uniform() < config.p_interpolated:
        kmax = (draw.uniform(*INTERPOLATED_KMAX), draw.uniform(*INTERPOLATED_KMAX), kmax[2])
    pf_phase = draw.uniform(0.55, 0.9) if draw.uniform() < 0.25 else 1.0
    pf_slice = draw.uniform(0.6, 0.9) if is_3d and draw.uniform() < 0.2 else 1.0
    r_uniform, r_random = 1.0, 1.0
    mode = draw.uniform()
    if mode < 0.12:
        r_uniform = float(draw.choice([2, 3]))
    elif mode < 0.2:
        r_random = draw.uniform(1.5, 3.0)
    spec = DegradationSpec(
        noise=noise,
        kmax=kmax,
        partial_fourier=(pf_phase, pf_slice),
        partial_fourier_recon=draw.choice(["zero", "homodyne", "pocs"]),
        undersample_uniform=r_uniform,
        undersample_random=r_random,
        elliptical=draw.uniform() < 0.2,
        kspace_filter=draw.choice(["none", "none", "hamming", "tukey"]),
        zero_pad_interpolation=draw.uniform() < 0.8,
        output="magnitude" if draw.uniform() < 0.9 else "real",
        bias_field=draw.uniform(0.0, 0.4) if draw.uniform() < 0.3 else 0.0,
        quantize_levels=int(draw.choice([0, 0, 1024, 4096])),
    )
    return spec, pair_sampling(spec, is_3d)


def degrade_fields(
    fields: torch.Tensor, spec: DegradationSpec, config: PairConfig, generator: torch.Generator, noise_free: bool
) -> DegradedBatch:
    """Degrade fields ``(n, config.depth, y, x)`` as ``config`` says they were acquired: one 3D
    k-space per field (:attr:`PairConfig.is_3d`), else one 2D k-space per slice. ``image``,
    ``noise_free`` and ``target`` of the result keep the fields' layout."""
    if config.is_3d:
        return degrade_batch(fields, spec, AxisRoles.for_phase_axis(PHASE_AXIS), generator, 1.0, noise_free=noise_free)
    n, depth = fields.shape[:2]
    result = degrade_batch(fields.flatten(0, 1), spec, AxisRoles.for_phase_axis(PHASE_AXIS), generator, 1.0, noise_free=noise_free)
    stacked = {name: getattr(result, name).unflatten(0, (n, depth)) for name in ("image", "noise_free", "target")
               if getattr(result, name) is not None}
    return dataclasses.replace(result, **stacked)


def normalised_coil_noise(
    image: torch.Tensor, noise_free: torch.Tensor, field: torch.Tensor
) -> torch.Tensor:
    """``image`` with its noise divided by a smooth receive-sensitivity ``field``, signal unchanged.

    A surface coil's image is ``S·x + n``; intensity normalisation divides by ``S``, which leaves
    the anatomy flat and the noise ``n / S`` strongest where the coil is least sensitive. Fields
    come from :func:`mrdeeprecon.kspace.recon.bias_field`.
    """
    return noise_free + (image - noise_free) / field


def _taper(n: int, width: int, device: torch.device) -> torch.Tensor:
    """1D window: a raised cosine from 0 to 1 over ``width`` samples at each end, 1 inside."""
    position = torch.arange(n, dtype=torch.float32, device=device)
    distance = torch.minimum(position + 0.5, n - 0.5 - position)
    return torch.where(distance < width, 0.5 - 0.5 * torch.cos(math.pi * distance / width), 1.0)


class PairSampler:
    """Draws :class:`Batch` es from clean volumes ``(z, y, x)``; reproducible from ``seed``.

    Args:
        volumes: the training volumes.
        config: how pairs are drawn.
        seed: seeds the sampler's torch generator.
        device: where volumes, pairs and randomness live (``"cpu"``, ``"cuda"``, ...).
    """

    def __init__(
        self, volumes: list[np.ndarray], config: PairConfig, seed: int = 0, device: torch.device | str = "cpu"
    ) -> None:
        if not volumes:
            raise ValueError("no training volumes")
        self.config = config
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self._draw = _Draw(self.generator)
        self.volumes = [self._prepare(v) for v in volumes]
        self._tissue = [self._tissue_slices(v) for v in self.volumes]
        window = _taper(FIELD, TAPER, self.device)
        self._window = window[:, None] * window[None, :]
        if config.is_3d:
            self._window = _taper(SLAB, SLAB_TAPER, self.device)[:, None, None] * self._window

    def _prepare(self, volume: np.ndarray) -> torch.Tensor:
        data = np.asarray(volume, dtype=np.float32)
        data = data - min(0.0, float(data.min()))
        return torch.from_numpy(data / np.percentile(data, 99.0)).to(self.device)

    @staticmethod
    def _tissue_slices(volume: torch.Tensor) -> list[list[int]]:
        """Per array axis, the indices of slices with tissue (mean above 20 % of the largest)."""
        slices = []
        for axis in range(3):
            levels = volume.mean(dim=tuple(a for a in range(3) if a != axis))
            candidates = torch.nonzero(levels > 0.2 * levels.max()).flatten().tolist()
            slices.append(candidates or [volume.shape[axis] // 2])
        return slices

    def _centre_pixel(self, section: torch.Tensor) -> tuple[int, int]:
        """A pixel ``(y, x)`` of the slice ``section``: 9 times in 10 a tissue pixel (above
        ``TISSUE_LEVEL``) drawn uniformly, else (or where the slice has none) any pixel.

        The tissue pixel is found by rejection: the first tissue pixel among ``TISSUE_TRIES``
        uniform draws, the candidates read back at once (no scan of the slice, one read on a GPU);
        only when all miss is it drawn from a scan of the slice (the same distribution).
        """
        height, width = section.shape
        if self._draw.uniform() < 0.9:
            drawn = torch.rand((2, TISSUE_TRIES), generator=self.generator, device=section.device)
            ys = (drawn[0] * height).long().clamp_(max=height - 1)
            xs = (drawn[1] * width).long().clamp_(max=width - 1)
            hits = section[ys, xs] > TISSUE_LEVEL
            first = hits.int().argmax()
            found, cy, cx = torch.stack([hits.any().long(), ys[first], xs[first]]).tolist()
            if found:
                return cy, cx
            tissue = torch.nonzero(section > TISSUE_LEVEL)
            if tissue.numel():
                cy, cx = (int(v) for v in tissue[self._draw.integer(tissue.shape[0])])
                return cy, cx
        return self._draw.integer(height), self._draw.integer(width)

    def field(self) -> torch.Tensor:
        """One tapered field ``(depth, FIELD, FIELD)`` around tissue of a random oriented volume."""
        config = self.config
        index = self._draw.integer(len(self.volumes))
        volume = self.volumes[index]
        order = sorted(range(3), key=lambda _: self._draw.uniform())
        flips = [a for a in range(3) if self._draw.uniform() < 0.5 and (a > 0 or config.depth > 1)]
        centre = self._draw.choice(self._tissue[index][order[0]])
        volume = volume.permute(*order)
        spacing = self._draw.uniform(*config.slice_spacing) if config.slice_spacing[1] > 1 else 1.0
        cy, cx = self._centre_pixel(volume[centre])
        # The field's slices lie at centre + (i - depth // 2) · spacing: the stored slices there
        # (spacing 1), or a linear interpolation between the stored slices around them.
        positions = [centre + (i - config.depth // 2) * spacing for i in range(config.depth)]
        first = math.floor(positions[0])
        depth = math.floor(positions[-1]) - first + (2 if spacing > 1 else 1)
        stored = volume.new_zeros((depth, FIELD, FIELD))
        origin = (first, cy - FIELD // 2, cx - FIELD // 2)
        source, target = [], []
        for start, size, n in zip(origin, (depth, FIELD, FIELD), volume.shape):
            low, high = max(start, 0), min(start + size, n)
            source.append(slice(low, high))
            target.append(slice(low - start, high - start))
        stored[tuple(target)] = volume[tuple(source)]
        field = stored
        if spacing > 1:
            below = [math.floor(p) - first for p in positions]
            weights = torch.tensor([p - math.floor(p) for p in positions], device=self.device)[:, None, None]
            field = stored[below] * (1 - weights) + stored[[b + 1 for b in below]] * weights
        if flips:  # mirrored about the field's centre: the same augmentation as a flipped volume
            field = field.flip(flips)
        return field * self._window

    def _group(self, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``size`` pairs sharing one degradation scenario: full-field inputs, context, targets.

        A slab yields a pair for every middle slice whose input window lies in its untapered
        part (4 for 7 input slices), so multi-slice pairs cost a fraction of a 3D degradation each.
        """
        config = self.config
        spec, sampling = random_degradation(self._draw, config.is_3d, config)
        half = config.in_slices // 2
        if config.is_3d:
            middles = list(range(SLAB_TAPER + half, SLAB - SLAB_TAPER - half))
        else:
            middles = [half]
        fields = torch.stack([self.field() for _ in range(-(-size // len(middles)))])
        coil_noise = spec.noise > 0 and self._draw.uniform() < config.p_coil_noise
        needs_noise_free = coil_noise or config.target == "noise_free"
        result = degrade_fields(fields, spec, config, self.generator, noise_free=needs_noise_free)
        image, noise_free = result.image, result.noise_free
        target = result.target if config.target == "clean" else noise_free
        if coil_noise:
            amplitude = self._draw.uniform(0.3, 0.7)
            coil = recon.bias_field(image.shape[-2:], amplitude, self.generator, len(fields), self.device)[:, None]
            image = normalised_coil_noise(image, noise_free, coil)
        inputs = torch.cat([image[:, m - half : m + half + 1] for m in middles])[:size]
        targets = torch.cat([target[:, m : m + 1] for m in middles])[:size]
        gain = torch.exp(
            math.log(GAIN) * (2 * torch.rand(size, generator=self.generator, device=self.device) - 1)
        )[:, None, None, None]
        inputs = inputs * gain
        if config.noise_input != "blind":
            levels = noise_input(inputs[:, half], sampling.kmax[:2], config.noise_input)
            inputs = torch.cat([inputs, levels[:, None]], dim=1)
        context = torch.from_numpy(context_vector.encode(sampling)).to(self.device).expand(size, -1)
        return inputs, context, targets * gain

    def batch(self, size: int) -> Batch:
        """``size`` fresh pairs, patches cut from the untapered centre of their fields."""
        parts = [self._group(min(self.config.group, size - start)) for start in range(0, size, self.config.group)]
        inputs, context, targets = (torch.cat(p) for p in zip(*parts))
        start = (FIELD - self.config.patch) // 2
        crop = (..., slice(start, start + self.config.patch), slice(start, start + self.config.patch))
        return Batch(inputs=inputs[crop].contiguous(), context=context.contiguous(), targets=targets[crop].contiguous())
