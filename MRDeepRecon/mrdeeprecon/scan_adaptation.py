"""Adapt the network to the scan it enhances: a self-supervised fine-tune on the input alone.

With ``EnhanceSettings.adaptation_steps`` > 0, a copy of the model is fine-tuned on the
standardised input before it enhances it, with no reference, by Recorrupted-to-Recorrupted (Pang
et al., CVPR 2021): from the noisy input ``y`` and fresh noise ``z`` of the input's own SD and
spectrum, ``y + α·z`` is the network's input and ``y − z / α`` its target. For Gaussian noise
independent of the signal, the two noises are independent and the target's expectation given the
input is the clean image, so an L2 fine-tune learns this scan's anatomy and noise without learning
to keep noise. BM4D's strength is the same: it denoises a volume with the blocks of that volume.

* **The noise.** ``z`` is white Gaussian noise cut to the acquired in-plane k-space band
  (:func:`mrdeeprecon.volume_calibration.band_noise`), of SD 1, times the input's local noise SD
  map (:mod:`mrdeeprecon.noise_map`) voxel by voxel: a volume's median SD understates the noise
  where air, whose magnitude noise is weaker, fills most of it.
* **The Rician floor.** Where the signal is below :data:`SNR_FLOOR` × the local noise SD the
  magnitude's noise is not Gaussian, and the recorrupted target would carry its bias; there the
  target is the unadapted network's own estimate, so the fine-tune leaves the model as it was.
  The signal is the input smoothed in-plane as the calibration's mask is
  (:data:`~mrdeeprecon.volume_calibration.MASK_SMOOTHING_PX`): a threshold on the noisy input
  itself selects the voxels whose noise happens to be high (7 % of the Philips phantom's voxels,
  outside its tissue, with a noise mean of +2.4 SD), and there the target teaches the network to
  keep the noise.
* **The batches.** :data:`BATCH` patches of :data:`PATCH` ² pixels (smaller where a view is),
  Adam at :data:`LEARNING_RATE` decayed by a cosine to 0 at the step limit, bf16 where the device
  computes it natively (as training's ``auto`` precision). With three planes each batch is cut from the view along one axis, drawn at random.
* **The stopping rule.** Four slabs of slices (:func:`held_out_slices`, about 1/8 of the volume)
  are never a target. Every :data:`EVALUATION_INTERVAL` steps the recorrupted loss on them (one
  fixed draw of ``z``, where the noise is Gaussian) is measured: its expectation is the network's
  squared error against the clean image plus a constant, with no reference. The weights with the
  lowest held-out loss are kept (the unadapted ones included), and the fine-tune stops after
  :data:`PATIENCE` evaluations without a new lowest. On the Philips phantom a fixed step count
  overfits: +1.3 dB after 1 000 steps, 0.35 dB of it lost by 3 000
  (``benchmarks/training/scan_specific_r2r/``).

Training and held-out noise are seeded (:data:`SEED`): adapting to one volume twice gives one model
(on one thread; several may order the sums differently). The recorruption is band-limited along
each axis the acquisition band-limits that the network reads (:func:`_unit_noise`): until it was
band-limited across the slices too, three planes adapted on seg3D acquired with in-plane k_max 0.5
lowered the clean estimate's noise reduction (2.55 → 2.24 at σ 10 %).

Arrays are the standardised layout ``(slice, frequency, phase)``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import torch

from .adaptation_record import Adaptation
from .errors import MRDeepReconError
from .model import context_vector
from .model.ce_unet import CEUNet
from .noise_map import NOISE_INPUTS, local_noise_sd, noise_channel
from .planes import VIEW_ORDERS, view, view_sampling
from .progress import CancelToken, ProgressCallback, check, report
from .sampling import KSpaceSampling
from .tiling import neighbours, tile_starts
from .tissue import gaussian_in_plane
from .precision import forward_precision, resolve_precision
from .volume_calibration import MASK_SMOOTHING_PX, band_noise

#: Recorruption strength α.
ALPHA = 0.5
#: Below this multiple of the local noise SD the target is the unadapted network's estimate.
SNR_FLOOR = 3.0
#: Patch edge (pixels) and patches per step.
PATCH = 96
BATCH = 8
#: Adam's peak learning rate (twice the first default's, 6e-4: ``benchmarks/training/scan_specific_r2r/``).
LEARNING_RATE = 1.2e-3
#: Decay of the weights' exponential moving average, which is what is evaluated and kept (0: the
#: weights themselves).
AVERAGE_DECAY = 0.99
#: Steps between two measurements of the held-out loss, and measurements without a new lowest
#: before the fine-tune stops.
EVALUATION_INTERVAL = 250
PATIENCE = 4
#: Slices drawn on each side of a stack when its recorruption is band-limited across the slices.
SLAB_PAD = 8
#: Steps between two progress reports.
PROGRESS_INTERVAL = 10
#: Held-out slabs, each ``1 / HELD_OUT_SLAB_DIVISOR`` of the slices (at least one slice).
HELD_OUT_SLABS = 4
HELD_OUT_SLAB_DIVISOR = 32
#: Fewest slices the fine-tune takes (half of them held out at the least), and the fewest held-out
#: pixels with Gaussian noise it judges the fine-tune on.
MIN_SLICES = 8
MIN_HELD_OUT_PIXELS = 4096
#: Most held-out patches measured at each evaluation.
MAX_HELD_OUT_PATCHES = 64
SEED = 20261206


def held_out_slices(count: int) -> list[int]:
    """The slices of a ``count``-slice volume that are never a training target:
    :data:`HELD_OUT_SLABS` slabs of ``max(1, count // HELD_OUT_SLAB_DIVISOR)`` slices centred at
    1/8, 3/8, 5/8 and 7/8 of the volume."""
    thickness = max(1, count // HELD_OUT_SLAB_DIVISOR)
    held = set()
    for slab in range(HELD_OUT_SLABS):
        start = int((2 * slab + 1) * count / (2 * HELD_OUT_SLABS)) - thickness // 2
        held.update(range(max(0, start), min(count, start + thickness)))
    return sorted(held)


@dataclass
class _View:
    """The input seen along one axis: ``data`` ``(n, y, x)``, its sampling, local noise SD, where
    its noise is Gaussian (smoothed signal ≥ :data:`SNR_FLOOR` × SD), where it may be a target, and the
    slices that may be a patch's middle."""

    data: torch.Tensor
    sampling: KSpaceSampling
    noise_sd: torch.Tensor
    gaussian: torch.Tensor
    trainable: torch.Tensor
    middles: torch.Tensor


def _views(data: torch.Tensor, sampling: KSpaceSampling, planes: int, held: list[int]) -> list[_View]:
    """The views the fine-tune trains on: along the slices, or along each axis (three planes)."""
    trainable = torch.ones_like(data, dtype=torch.bool)
    trainable[held] = False
    views = []
    for axis in range(len(VIEW_ORDERS) if planes == 3 else 1):
        turned = view(data, axis)
        seen = view_sampling(sampling, axis) if planes == 3 else sampling
        sd = local_noise_sd(turned, seen.kmax[:2])
        allowed = view(trainable, axis)
        middles = torch.nonzero(allowed.flatten(1).any(1)).flatten()
        smooth = gaussian_in_plane(turned, MASK_SMOOTHING_PX)
        views.append(_View(turned, seen, sd, smooth >= SNR_FLOOR * sd, allowed, middles))
    return views


def arithmetic(device: torch.device) -> str:
    """The fine-tune's forward passes' arithmetic on ``device``, as training's ``auto`` takes it:
    ``"bfloat16"`` where the device computes it natively (:mod:`mrdeeprecon.precision`), else
    ``"float32"``."""
    return resolve_precision("auto", device)


def _forward_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """The context of a forward pass in the fine-tune's :func:`arithmetic`."""
    return forward_precision(arithmetic(device), device)


def _unit_noise(count: int, in_slices: int, shape: tuple[int, int], kmax: tuple[float, float, float],
                generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Unit-SD noise ``(count, in_slices, y, x)`` with the input noise's spectrum: inside the
    acquired in-plane band and, where the network reads several slices and the slice axis is
    band-limited (``kmax[2]`` < 1), inside that band too, so that the noise of the neighbours is
    correlated with the middle slice's as the input's is (else the target's noise would be
    correlated with the input's and the fine-tune would learn to keep it). Across the slices it is
    drawn on a slab of :data:`SLAB_PAD` more slices on each side, whose middle is kept."""
    if in_slices == 1 or kmax[2] >= 1:
        return band_noise((count * in_slices, *shape), (*kmax[:2], 1.0), generator, device).reshape(
            count, in_slices, *shape)
    depth = in_slices + 2 * SLAB_PAD
    return torch.stack([band_noise((depth, *shape), kmax, generator, device)[SLAB_PAD:SLAB_PAD + in_slices]
                        for _ in range(count)])


def _recorrupted(model: CEUNet, seen: _View, middles: list[int], generator: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For slices ``middles`` of a view: the network's input stacks ``y + α·z`` with their noise
    channel ``(B, channels, y, x)``, the targets ``y − z / α`` and the middle slices' ``y``, each
    ``(B, y, x)``."""
    in_slices = model.config.in_slices
    indices = [neighbours(m, in_slices, seen.data.shape[0]) for m in middles]
    stacks = torch.stack([seen.data[i] for i in indices])
    local_sd = torch.stack([seen.noise_sd[i] for i in indices])
    fresh = local_sd * _unit_noise(len(middles), in_slices, tuple(stacks.shape[2:]), seen.sampling.kmax, generator,
                                   stacks.device)
    inputs = stacks + ALPHA * fresh
    half = in_slices // 2
    if model.config.noise_input != NOISE_INPUTS[0]:
        level = noise_channel(local_noise_sd(inputs[:, half], seen.sampling.kmax[:2]), model.config.noise_input)
        inputs = torch.cat([inputs, level[:, None]], 1)
    return inputs, stacks[:, half] - fresh[:, half] / ALPHA, stacks[:, half]


@dataclass
class _HeldOut:
    """The held-out patches, recorrupted once: network inputs, targets, where the loss is read
    (Gaussian noise) and the context code."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    code: torch.Tensor

    def loss(self, model: CEUNet, device: torch.device) -> float:
        total = 0.0
        with torch.no_grad(), _forward_precision(device):
            for start in range(0, self.inputs.shape[0], BATCH):
                part = slice(start, start + BATCH)
                output = model(self.inputs[part], self.code.expand(self.inputs[part].shape[0], -1))[:, 0].float()
                total += float(((output - self.targets[part]) ** 2 * self.mask[part]).sum())
        return total / float(self.mask.sum())


def _held_out(model: CEUNet, along: _View, held: list[int], generator: torch.Generator) -> _HeldOut | None:
    """The held-out slices (along the slices) as patches, or ``None`` when they hold fewer than
    :data:`MIN_HELD_OUT_PIXELS` pixels with Gaussian noise."""
    inputs, targets, _ = _recorrupted(model, along, held, generator)
    gaussian = along.gaussian[held]
    height, width = min(PATCH, gaussian.shape[1]), min(PATCH, gaussian.shape[2])
    windows = [(i, r, c) for i in range(len(held)) for r in tile_starts(gaussian.shape[1], height, 0)
               for c in tile_starts(gaussian.shape[2], width, 0)]
    windows = [w for w in windows if gaussian[w[0], w[1]:w[1] + height, w[2]:w[2] + width].any()]
    if len(windows) > MAX_HELD_OUT_PATCHES:
        windows = [windows[round(k * (len(windows) - 1) / (MAX_HELD_OUT_PATCHES - 1))] for k in range(MAX_HELD_OUT_PATCHES)]

    def cut(images: torch.Tensor) -> torch.Tensor:
        return torch.stack([images[i, ..., r:r + height, c:c + width] for i, r, c in windows]) if windows else images[:0]

    mask = cut(gaussian)
    if int(mask.sum()) < MIN_HELD_OUT_PIXELS:
        return None
    code = torch.from_numpy(context_vector.encode(along.sampling)).to(inputs.device)[None]
    return _HeldOut(cut(inputs), cut(targets), mask.float(), code)


def adapt_to_scan(
    model: CEUNet,
    data: torch.Tensor,
    sampling: KSpaceSampling,
    planes: int,
    max_steps: int,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    evaluated: Callable[[int, float, CEUNet], None] | None = None,
) -> tuple[CEUNet, Adaptation]:
    """A copy of ``model`` fine-tuned on the standardised ``data`` ``(slice, frequency, phase)``
    (acquired as ``sampling`` says, on its device) for at most ``max_steps`` steps, in evaluation
    mode, and what the fine-tune did. ``model`` itself is left as it was.

    ``planes`` = 3 trains on the views along each axis. ``evaluated(step, held-out loss, model)``
    is called at each evaluation (a benchmark scores the model there). When the held-out slices
    hold too little signal to judge the fine-tune, the model comes back unadapted, with a
    ``RuntimeWarning`` and the reason in :attr:`Adaptation.stopped`.

    Raises:
        MRDeepReconError: fewer than :data:`MIN_SLICES` slices.
        Cancelled: ``cancel`` was set.
    """
    count = data.shape[0]
    if count < MIN_SLICES:
        raise MRDeepReconError(f"adapting the network to the scan needs at least {MIN_SLICES} slices with signal "
                               f"(some are held out to judge it), got {count}")
    start_time = time.perf_counter()
    device = data.device
    data = data.detach().clone()  # a tensor made in inference mode cannot be saved for backward
    generator = torch.Generator().manual_seed(SEED)
    held = held_out_slices(count)
    views = _views(data, sampling, planes, held)
    tuned = copy.deepcopy(model).eval()
    averaged = copy.deepcopy(model).eval()
    held_out = _held_out(tuned, views[0], held, generator)
    if held_out is None:
        reason = (f"the held-out slices hold fewer than {MIN_HELD_OUT_PIXELS} pixels whose signal is {SNR_FLOOR:g}x "
                  "the noise, too few to judge a fine-tune")
        warnings.warn(f"not adapted to the scan: {reason}", RuntimeWarning, stacklevel=2)
        return tuned, Adaptation(0, 0, (), reason, time.perf_counter() - start_time)
    anchor = copy.deepcopy(model).eval()
    codes = [torch.from_numpy(context_vector.encode(v.sampling)).to(device)[None].expand(BATCH, -1) for v in views]
    optimizer = torch.optim.Adam(tuned.parameters(), LEARNING_RATE)
    best_loss = first_loss = held_out.loss(tuned, device)
    best_state, best_step = copy.deepcopy(tuned.state_dict()), 0
    history, since_best, stopped, step = [(0, 1.0)], 0, f"the step limit ({max_steps})", 0
    if evaluated is not None:
        evaluated(0, 1.0, tuned)
    while step < max_steps:
        check(cancel)
        for group in optimizer.param_groups:
            group["lr"] = LEARNING_RATE * 0.5 * (1 + math.cos(math.pi * step / max_steps))
        axis = int(torch.randint(0, len(views), (), generator=generator))
        seen = views[axis]
        picks = torch.randint(0, len(seen.middles), (BATCH,), generator=generator)
        middles = seen.middles[picks].tolist()
        height, width = min(PATCH, seen.data.shape[1]), min(PATCH, seen.data.shape[2])
        rows = torch.randint(0, seen.data.shape[1] - height + 1, (BATCH,), generator=generator).tolist()
        columns = torch.randint(0, seen.data.shape[2] - width + 1, (BATCH,), generator=generator).tolist()

        def patches(images: torch.Tensor) -> torch.Tensor:
            return torch.stack([images[i, ..., r:r + height, c:c + width] for i, (r, c) in enumerate(zip(rows, columns))])

        inputs, targets, _ = _recorrupted(tuned, seen, middles, generator)
        inputs = patches(inputs)
        gaussian = patches(seen.gaussian[middles])
        weight = patches(seen.trainable[middles]).float()
        tuned.train()
        with _forward_precision(device):
            with torch.no_grad():
                anchored = anchor(inputs, codes[axis]).float()[:, 0]
            output = tuned(inputs, codes[axis])[:, 0].float()
        target = torch.where(gaussian, patches(targets), anchored)
        loss = ((output - target) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tuned.eval()
        with torch.no_grad():
            for mean, current in zip(averaged.parameters(), tuned.parameters()):
                mean.lerp_(current, 1.0 - AVERAGE_DECAY)
        step += 1
        if step % PROGRESS_INTERVAL == 0:
            report(progress, step / max_steps, f"adapting to this scan: step {step}/{max_steps}")
        if step % EVALUATION_INTERVAL and step != max_steps:
            continue
        relative = held_out.loss(averaged, device) / first_loss
        history.append((step, relative))
        if evaluated is not None:
            evaluated(step, relative, averaged)
        if relative * first_loss < best_loss:
            best_loss, best_state, best_step, since_best = relative * first_loss, copy.deepcopy(averaged.state_dict()), step, 0
            continue
        since_best += 1
        if since_best >= PATIENCE:
            stopped = f"{PATIENCE * EVALUATION_INTERVAL} steps without a lower held-out loss"
            break
    tuned.load_state_dict(best_state)
    return tuned.eval(), Adaptation(step, best_step, tuple(history), stopped, time.perf_counter() - start_time)
