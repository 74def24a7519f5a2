"""Enhance a volume with a CE U-Net: standardise → network → noise reduction → destandardise.

The whole pipeline runs in torch on the chosen device: the voxels are copied there once, and the
result comes back once. The network runs on the working grid of :mod:`mrdeeprecon.standardize`
(the output grid, refined by the super-resolution factors). Each output slice is the network's
clean estimate from one slice (2D model) or from its 7 neighbours (3D model), computed in in-plane
tiles no larger than ``EnhanceSettings.tile_size`` that overlap and are blended with smooth
weights (:mod:`mrdeeprecon.tiling`), so memory stays bounded for any matrix size. Every slice's
local noise SD (:mod:`mrdeeprecon.noise_map`) is estimated on the standardised slices with the
k-space extent the context vector states; a model with a noise input reads it (or its median),
and the noise-reduction knob (:mod:`mrdeeprecon.noise_reduction`) uses it to bring each voxel to
the requested factor. Tiles per network call follow the free device memory, and a device that
runs out of memory is retried with fewer tiles, then left for the CPU
(:mod:`mrdeeprecon.device_memory`). The stages can be timed (:mod:`mrdeeprecon.stage_timing`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from copy import deepcopy
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import torch

from .adaptation_cache import AdaptationCache
from .adaptation_record import Adaptation, reused_record
from .context import ScanContext
from .device_memory import DeviceOutOfMemory, batch_size, release, run_in_batches, tile_bytes
from .errors import MRDeepReconError
from .model import context_vector
from .model.ce_unet import CEUNet, memory_format_for
from .model.weights import bundled_model_path, load_model, save_model
from .noise_map import NOISE_INPUTS, local_noise_sd, noise_channel
from .noise_reduction import Calibration, reduce_noise
from .volume_calibration import VolumeCalibration, measure_volume_calibration
from .planes import MIN_SLICES, VIEW_ORDERS, check_planes, mean_of_views, view, view_sampling
from .progress import CancelToken, ProgressCallback, check, part, report
from .sampling import KSpaceSampling
from .scan_adaptation import adapt_to_scan
from .settings import EnhanceSettings
from .stage_timing import stage
from .standardize import Standardized, StandardizeRecord, destandardize, standardize
from .tiling import Tiling, neighbours
from .volume import Volume

#: Smallest in-plane size (rows and columns, pixels) that :func:`enhance` accepts: a smaller
#: image has no neighbourhood for the network to use.
MIN_IN_PLANE = 8
#: Slices read on each side of the calibration's slab with three planes: the views across the
#: slab then see it with this much of the volume around the measured slices.
PLANES_CALIBRATION_PAD = 16
#: The share of the progress bar that the scan-specific fine-tune fills, when it runs: it takes
#: minutes where the network takes seconds.
ADAPTATION_PROGRESS_SHARE = 0.8

_Result = TypeVar("_Result")


def select_device(name: str) -> torch.device:
    """Torch device for ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"`` or ``"mps"``.

    Asking for a device this machine does not have raises :class:`MRDeepReconError`.
    """
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }
    if name == "auto":
        return torch.device(next(kind for kind in ("cuda", "mps", "cpu") if available[kind]))
    if name not in available:
        raise MRDeepReconError(f"unknown device {name!r}; use auto, cpu, cuda or mps")
    if not available[name]:
        raise MRDeepReconError(f"device {name!r} is not available on this machine")
    return torch.device(name)


def _require_slice_support(kind: str, settings: EnhanceSettings) -> None:
    if kind == "2d" and settings.super_resolution[2] > 1.0:
        raise MRDeepReconError(
            "super-resolution along the slice direction needs the 3D model "
            f"(got slice factor {settings.super_resolution[2]:g} with the 2D model): use "
            "--model-kind 3d (model_kind='3d'), or auto for a 3D acquisition"
        )


def _load_network(
    settings: EnhanceSettings, context: ScanContext, device: torch.device
) -> tuple[CEUNet, dict[str, Any], Path]:
    """The model the settings ask for (explicit path, else the bundled one of the right kind)."""
    requested = settings.model_kind
    if requested == "auto":
        requested = "3d" if context.acquisition == "3D" else "2d"
    if settings.model_path is None:
        _require_slice_support(requested, settings)
        path = bundled_model_path(requested)
    else:
        path = Path(settings.model_path)
    model, card = load_model(path, device)
    kind = "3d" if model.config.in_slices > 1 else "2d"
    if settings.model_kind != "auto" and kind != settings.model_kind:
        raise MRDeepReconError(
            f"model kind {settings.model_kind} was requested but this is a {kind} model", path
        )
    _require_slice_support(kind, settings)
    return model, card, path


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 (fp16 where bf16 is unsupported) autocast on CUDA; full precision elsewhere."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def _noise_channel(model: CEUNet, noise_sd: torch.Tensor) -> torch.Tensor | None:
    """The extra input channel of a model with a noise input (:func:`noise_channel`); ``None``
    when it is blind."""
    kind = model.config.noise_input
    return None if kind == NOISE_INPUTS[0] else noise_channel(noise_sd, kind)


def _run_network(
    model: CEUNet,
    data: torch.Tensor,
    context: np.ndarray,
    settings: EnhanceSettings,
    device: torch.device,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    noise_sd: torch.Tensor,
    slices: range | None = None,
) -> torch.Tensor:
    """The network's clean estimate of the standardised ``data`` (z, y, x) on ``device``, float32,
    given the slices' local noise SD ``noise_sd``: tiles gathered, run in batches (fewer after an
    out-of-memory error) and blended. Every slice, or only ``slices`` (their estimates, in order;
    the network still reads their neighbours)."""
    n_slices = data.shape[0]
    targets = slices if slices is not None else range(n_slices)
    in_slices = model.config.in_slices
    channels = model.config.input_channels
    with stage("noise map", device):
        noise = _noise_channel(model, noise_sd)
    tiling = Tiling.plan(tuple(data.shape[1:]), settings.tile_size, device)
    items = [(z, t) for z in targets for t in range(len(tiling.origins))]
    accumulated = data.new_zeros((len(targets), *data.shape[1:]))
    context_row = torch.from_numpy(context).to(device)[None]
    memory_format = memory_format_for(device)
    model = model.to(memory_format=memory_format)
    size = batch_size(settings.batch_size, device, tile_bytes(tiling.height, tiling.width, model.config.base_channels))
    finished = [0]

    def run(batch: list[tuple[int, int]]) -> torch.Tensor:
        check(cancel)
        with stage("gather", device):
            inputs = torch.empty((len(batch), channels, tiling.height, tiling.width), device=device)
            inputs = inputs.contiguous(memory_format=memory_format)
            for row, (z, t) in enumerate(batch):
                window = tiling.window(t)
                inputs[row, :in_slices] = data[(neighbours(z, in_slices, n_slices), *window)]
                if noise is not None:
                    inputs[row, in_slices] = noise[(z, *window)]
        with stage("network", device), _autocast(device):
            return model(inputs, context_row.expand(len(batch), -1))[:, 0].float()

    def keep(batch: list[tuple[int, int]], predicted: torch.Tensor, done: int, total: int) -> None:
        with stage("blend", device):
            for (z, t), tile in zip(batch, predicted):
                accumulated[z - targets.start][tiling.window(t)] += tile * tiling.weights[t]
        finished[0] += len(batch)
        report(progress, 0.05 + 0.9 * finished[0] / len(items), f"batch {done}/{total}")

    run_in_batches(items, size, run, keep, device)
    with stage("blend", device):
        return accumulated.div_(tiling.weight_sum)


def _prepare(
    model: CEUNet,
    data: torch.Tensor,
    context: ScanContext,
    settings: EnhanceSettings,
    device: torch.device,
) -> tuple[Standardized, KSpaceSampling, torch.Tensor, dict[int, torch.Tensor]]:
    """Standardise ``data`` (a tensor on ``device``) and map its noise: ``(standardised, sampling,
    noise SD map, the noise maps of the views across the slices (three planes; else empty))``, the
    maps on the working grid, on ``device``."""
    with stage("standardise", device):
        standardized = standardize(data, context, settings.super_resolution)
    sampling = context.on_output_grid(settings.super_resolution)
    if settings.planes != 1 and standardized.data.shape[0] < MIN_SLICES:
        raise MRDeepReconError(f"three planes need at least {MIN_SLICES} slices with signal (the views across them are "
                               f"images that many pixels tall); {standardized.data.shape[0]} remain once the empty "
                               "border is cropped")
    with stage("noise map", device):
        noise_sd = local_noise_sd(standardized.data, sampling.kmax[:2])
    view_noise = (_view_noise_maps(standardized.data, sampling, device, model.config.noise_input)
                  if settings.planes != 1 else {})
    return standardized, sampling, noise_sd, view_noise


def _network_estimate(
    model: CEUNet,
    data: torch.Tensor,
    sampling: KSpaceSampling,
    settings: EnhanceSettings,
    device: torch.device,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    noise_sd: torch.Tensor,
    view_noise: dict[int, torch.Tensor],
    slices: range | None = None,
) -> torch.Tensor:
    """The network's clean estimate of the standardised ``data`` (slices ``slices``, ``None``:
    all): along the slices, or with ``settings.planes = 3`` the mean of the estimates along each
    array axis (:mod:`mrdeeprecon.planes`), each view told its own sampling and noise map
    (``noise_sd`` along the slices, ``view_noise`` from :func:`_view_noise_maps` across them)."""
    if settings.planes == 1:
        return _run_network(model, data, context_vector.encode(sampling), settings, device, progress, cancel,
                            noise_sd, slices)

    def along(axis: int, turned: torch.Tensor, sampled: KSpaceSampling, view_slices: range | None) -> torch.Tensor:
        view_sd = noise_sd if axis == 0 else view(view_noise[axis], axis)
        part = None if progress is None else (
            lambda fraction, message: progress(0.05 + 0.9 * (axis + (fraction - 0.05) / 0.9) / len(VIEW_ORDERS),
                                               f"plane {axis + 1}/{len(VIEW_ORDERS)}: {message}"))
        return _run_network(model, turned, context_vector.encode(sampled), settings, device, part, cancel,
                            view_sd, view_slices)

    return mean_of_views(along, data, sampling, slices)


def _view_noise_maps(
    data: torch.Tensor, sampling: KSpaceSampling, device: torch.device, noise_input: str
) -> dict[int, torch.Tensor]:
    """The local noise SD maps of ``data``'s views across the slices (axes 1 and 2), each turned
    back to ``data``'s layout: measured once on the input, so that the calibration's perturbed
    passes are told the input's noise, as the enhancement is. For a model told a scalar, each view
    slice's map is its median already: the calibration reads a slab of the slices, that is a few
    rows of each view slice, whose own median would tell another level."""
    with stage("noise map", device):
        maps = {}
        for axis in (1, 2):
            sd = local_noise_sd(view(data, axis), view_sampling(sampling, axis).kmax[:2])
            maps[axis] = view(noise_channel(sd, noise_input) if noise_input == "scalar" else sd, axis)
        return maps


def _to_device(data: np.ndarray, device: torch.device) -> torch.Tensor:
    """The one host → device copy: ``data`` as float32 on ``device`` (on the CPU, float32 input
    is shared, not copied; nothing writes into it)."""
    with stage("copy", device):
        return torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)).to(device)


def _to_host(data: torch.Tensor, device: torch.device) -> np.ndarray:
    """The one device → host copy of a result."""
    with stage("copy", device):
        return data.cpu().numpy()


def clean_estimate(model: CEUNet, data: np.ndarray, context: ScanContext, device: str = "cpu") -> np.ndarray:
    """The network's clean estimate of ``data`` ``(z, y, x)`` on its own grid, in its intensities
    (no super-resolution, no noise-reduction knob): what training curves score. ``model`` is left
    as it was (a copy runs, in evaluation mode and the inference memory layout), so training can
    go on with it."""
    settings = EnhanceSettings(device=device)
    target = select_device(device)
    network = deepcopy(model).eval()
    with torch.inference_mode():
        standardized, sampling, noise_sd, _ = _prepare(network, _to_device(np.asarray(data), target), context, settings,
                                                       target)
        estimate = _network_estimate(network, standardized.data, sampling, settings, target, None, None, noise_sd, {})
        return _to_host(destandardize(estimate, standardized.record), target)


@dataclasses.dataclass(frozen=True)
class _Enhanced:
    """What one pass of the pipeline on a device gives."""

    image: np.ndarray
    record: StandardizeRecord
    achieved: float
    calibration: dict[str, Any]
    adaptation: dict[str, Any] | None


def _calibration_record(measured: VolumeCalibration | None, factor: float, planes: int) -> dict[str, Any]:
    """Where the noise-reduction coefficients came from, for the output's metadata. The model
    card's table was measured with one plane: with three, the factor it gives is an estimate."""
    if factor == 1:
        return {"source": "none: noise reduction 1 needs no calibration"}
    if measured is None:
        return {"source": "model card"} if planes == 1 else {"source": "model card", "measured_with": "one plane"}
    return {"source": "this volume", "slices": list(measured.slices), "voxels": measured.voxels}


@dataclasses.dataclass(frozen=True)
class _Provenance:
    """Where an adapted model comes from, as its card records it: the base model's card and file,
    and the file of the volume it was adapted to (``""``: not from a file)."""

    card: dict[str, Any]
    path: Path
    source: str

    def adapted_card(self, planes: int, adaptation: Adaptation) -> dict[str, Any]:
        """The card of this model fine-tuned with ``planes`` as ``adaptation`` says: the base card
        plus ``adapted_to`` (the base model, the source, the planes, :meth:`Adaptation.record`)."""
        return {**self.card, "adapted_to": {
            "source": self.source, "base_model": str(self.path), "base_sha256": self.card["sha256"],
            "planes": planes, **adaptation.record()}}


@dataclasses.dataclass
class _FineTune:
    """The scan fine-tune a run made (the model, its record, the device it was made on), kept for
    the run's retry on the CPU when the device runs out of memory after it: minutes of CPU time
    saved, though made in the device's arithmetic (bf16 on a recent GPU) it differs slightly from
    one made on the CPU. ``None`` until made."""

    made: tuple[CEUNet, dict[str, Any], torch.device] | None = None


def _adapted(
    model: CEUNet,
    data: torch.Tensor,
    sampling: KSpaceSampling,
    settings: EnhanceSettings,
    provenance: _Provenance,
    cache: AdaptationCache | None,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> tuple[CEUNet, dict[str, Any]]:
    """``model`` fine-tuned on the standardised ``data`` (:func:`~mrdeeprecon.scan_adaptation.adapt_to_scan`)
    and the record of what the fine-tune did: taken from ``cache`` when it holds this fine-tune
    (the record then says ``reused``), else run and kept there."""
    key = None
    if cache is not None:
        key = cache.key(data, sampling, settings.planes, settings.adaptation_steps, provenance.card["sha256"])
        found = cache.load(key, data.device)
        if found is not None:
            report(progress, 1.0, "adapted to this scan: the fine-tune of an earlier run")
            return found[0], reused_record(found[1])
    adapted, adaptation = adapt_to_scan(model, data, sampling, settings.planes, settings.adaptation_steps, progress,
                                        cancel)
    if cache is not None:
        cache.store(key, adapted, provenance.adapted_card(settings.planes, adaptation))
    return adapted, adaptation.record()


def _pipeline(
    model: CEUNet,
    data: np.ndarray,
    context: ScanContext,
    settings: EnhanceSettings,
    calibration: Calibration,
    magnitude: bool,
    device: torch.device,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    provenance: _Provenance,
    cache: AdaptationCache | None,
    fine_tune: _FineTune,
) -> _Enhanced:
    """Every stage on ``device``: copy in, standardise, noise map, the scan-specific fine-tune
    (``settings.adaptation_steps``, :func:`_adapted`; the one in ``fine_tune`` when an earlier
    pass made it, else made and kept there), network, noise reduction, destandardise (clipped at 0
    for a magnitude image), copy out."""
    with torch.inference_mode():
        standardized, sampling, noise_sd, view_noise = _prepare(model, _to_device(data, device), context, settings,
                                                                device)
    check(cancel)
    adaptation = None
    network_share = 1.0
    if settings.adaptation_steps:
        network_share = 1.0 - ADAPTATION_PROGRESS_SHARE
        if fine_tune.made is None:
            report(progress, 0.02, "adapting the network to this scan")
            with stage("adaptation", device):  # trains: outside inference mode
                fine_tune.made = (*_adapted(model, standardized.data, sampling, settings, provenance, cache,
                                            part(progress, 0.02, ADAPTATION_PROGRESS_SHARE - 0.02), cancel), device)
        else:
            report(progress, ADAPTATION_PROGRESS_SHARE, "adapted to this scan before the device ran out of memory")
        adapted, adaptation, _ = fine_tune.made
        model = adapted.to(device)
    progress = part(progress, 1.0 - network_share, network_share)
    with torch.inference_mode():
        report(progress, 0.05, "running the network")
        estimate = _network_estimate(model, standardized.data, sampling, settings, device, progress, cancel, noise_sd,
                                     view_noise)
        check(cancel)
        measured = None
        if settings.noise_reduction != 1:
            report(progress, 0.96, "calibrating the noise reduction on this volume")
            pad = model.config.in_slices // 2 if settings.planes == 1 else PLANES_CALIBRATION_PAD
            measured = measure_volume_calibration(
                standardized.data, noise_sd, sampling.kmax, pad,
                lambda slab, read, slices: _network_estimate(
                    model, slab, sampling, settings, device, None, cancel, noise_sd[read],
                    {axis: m[read] for axis, m in view_noise.items()}, slices),
            )
            calibration = calibration if measured is None else measured.calibration
        with stage("noise reduction", device):
            reduced = reduce_noise(standardized.data, estimate, noise_sd, sampling.kmax, settings.noise_reduction, calibration)
        del estimate, noise_sd, view_noise
        with stage("destandardise", device):
            output = destandardize(reduced.image, standardized.record)
            if magnitude:  # magnitude in, magnitude out: the band-limited output rings below zero
                output.clamp_(min=0.0)
        return _Enhanced(_to_host(output, device), standardized.record, reduced.achieved,
                         _calibration_record(measured, settings.noise_reduction, settings.planes), adaptation)


def _on_device_or_cpu(
    device: torch.device, run: Callable[[torch.device], _Result]
) -> tuple[_Result, torch.device, str | None]:
    """``run(device)``; when the device runs out of memory (even one tile at a time), ``run`` again
    on the CPU with a warning. Returns the result, the device that gave it and the warning."""
    try:
        return run(device), device, None
    except (DeviceOutOfMemory, torch.OutOfMemoryError):
        if device.type == "cpu":
            raise MRDeepReconError(
                "out of memory on the CPU even one tile at a time: use a smaller tile size"
            ) from None
    release(device)
    message = f"{device} ran out of memory even one tile at a time; the enhancement ran on the CPU instead"
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    cpu = torch.device("cpu")
    return run(cpu), cpu, message


def _output_geometry(
    volume: Volume, record: StandardizeRecord
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Spacing and origin (i, j, k) of the destandardised output.

    Each index axis (``i`` = array axis 2, ``j`` = axis 1, ``k`` = axis 0) gets the step of the
    working grid along it (≈ ``1 / SR`` of the encoding direction it holds); the origin moves
    only when the centred resampling shifts the grid (odd sizes, non-integer ``n × SR``).
    """
    steps_zyx, offsets_zyx = zip(*record.working_grid())
    steps, offsets = np.asarray(steps_zyx[::-1]), np.asarray(offsets_zyx[::-1])
    spacing = np.asarray(volume.spacing)
    origin = np.asarray(volume.origin) + volume.direction @ (spacing * offsets)
    return tuple(spacing * steps), tuple(origin)  # type: ignore[return-value]


def _is_magnitude(volume: Volume) -> bool:
    """Whether ``volume`` is a magnitude image, whose enhancement is clipped at 0.

    A DICOM image set (``metadata["image_set"]``, :mod:`~mrdeeprecon.io.dicom_image_type`) says
    what it is: anything but magnitude (phase, real, imaginary, a quantitative map) is refused, and
    so is a magnitude the headers only let us assume when it holds negative values. Without an
    image set (NIfTI, NRRD) a volume without negative voxels is taken for magnitude.

    Raises:
        MRDeepReconError: the image set is not magnitude, or assumed magnitude but signed.
    """
    image_set = volume.metadata.get("image_set")
    if image_set is None:
        return bool(volume.data.min() >= 0)
    reason = image_set.why_not_enhanced(float(volume.data.min()))
    if reason is not None:
        raise MRDeepReconError(reason, volume.metadata.get("source_path"))
    return True


def enhance(
    volume: Volume,
    settings: EnhanceSettings,
    context: ScanContext | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    adaptation_cache: str | os.PathLike | None = None,
) -> Volume:
    """Denoise and/or super-resolve ``volume`` with the CE U-Net; the input is never modified.

    Args:
        volume: the image, data ``(z, y, x)`` of any real dtype, finite.
        settings: noise reduction, super-resolution (frequency, phase, slice), device, model,
            batching.
        context: the scan context; ``None`` = ``volume.metadata["scan_context"]`` or the defaults.
        progress: called with ``(fraction, message)`` at least once per batch, ending at 1.
        cancel: checked before every batch; when set,
            :class:`~mrdeeprecon.errors.Cancelled` is raised.
        adaptation_cache: a folder where the scan-specific fine-tune (``settings.adaptation_steps``)
            is kept, and taken from when this scan was adapted the same way before
            (:mod:`mrdeeprecon.adaptation_cache`): another noise reduction then waits no fine-tune.
            Unused (not even made) when the settings do not adapt.

    Returns:
        A float32 volume on the refined grid: same direction, spacing divided by the
        super-resolution factor of the encoding direction each index axis holds (exactly: the
        field of view is kept), origin unchanged unless the centred resampling shifts the grid
        (see :meth:`~mrdeeprecon.standardize.StandardizeRecord.working_grid`), metadata copied
        plus ``enhancement`` (settings, model identity, the device that ran it and
        ``noise_reduction_achieved``: the factor the model reached, median over tissue,
        :mod:`mrdeeprecon.noise_reduction`; ``noise_reduction_calibration``: where its
        coefficients came from, :mod:`mrdeeprecon.volume_calibration`). A GPU that runs out of memory even one tile at a
        time leaves the work to the CPU with a ``RuntimeWarning``, recorded as
        ``enhancement["device_fallback"]``; a scan fine-tune the GPU had finished is kept for it
        (and ``device_fallback`` says so: made in the GPU's arithmetic, it differs slightly from the
        CPU's own).

    Raises:
        MRDeepReconError: bad settings, context, progress or cancel arguments, voxels (NaN/Inf,
            fewer than :data:`MIN_IN_PLANE` pixels in-plane) or model (one without a
            noise-reduction calibration in its card included), or a DICOM image set that is not
            magnitude (phase, real, imaginary, a map); a problem of the image names its file
            (``metadata["source_path"]``) where it came from one; the CPU out of memory. A
            magnitude input gives an output clipped at 0.
    """
    if not isinstance(volume, Volume):
        raise MRDeepReconError(f"volume must be a mrdeeprecon.Volume, got {type(volume).__name__}")
    if not isinstance(settings, EnhanceSettings):
        raise MRDeepReconError(f"settings must be an EnhanceSettings, got {type(settings).__name__}")
    settings.validate()
    if context is None:
        context = volume.metadata.get("scan_context") or ScanContext()
    if not isinstance(context, ScanContext):
        raise MRDeepReconError(f"scan context must be a ScanContext, got {type(context).__name__}")
    if progress is not None and not callable(progress):
        raise MRDeepReconError(f"progress must be a callable(fraction, message), got {type(progress).__name__}")
    if cancel is not None and not isinstance(cancel, CancelToken):
        raise MRDeepReconError(f"cancel must be a CancelToken, got {type(cancel).__name__}")
    cache = None if adaptation_cache is None or not settings.adaptation_steps else AdaptationCache(adaptation_cache)
    try:
        return _enhance(volume, settings, context, progress, cancel, cache)
    except MRDeepReconError as exc:  # a problem of the image: name its file where it came from one
        source = volume.metadata.get("source_path")
        if exc.path is None and source:
            raise MRDeepReconError(exc.problem, source) from None
        raise


def adapt_model(
    volume: Volume,
    settings: EnhanceSettings,
    path: str | Path,
    context: ScanContext | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Adaptation:
    """Fine-tune the model ``settings`` choose on ``volume`` for at most
    ``settings.adaptation_steps`` steps (:mod:`mrdeeprecon.scan_adaptation`) and write it to
    ``path`` (``.safetensors`` and its card, which records the base model and what the fine-tune
    did under ``adapted_to``): adapted once, the volume can then be enhanced at any noise reduction
    with ``EnhanceSettings(model_path=path)``, as :func:`enhance` with ``adaptation_steps`` would
    (same grid and planes). Returns what the fine-tune did.

    Raises:
        MRDeepReconError: ``adaptation_steps`` is 0, or :func:`enhance`'s errors of the settings,
            the model or the volume's slices.
    """
    if not isinstance(volume, Volume) or not isinstance(settings, EnhanceSettings):
        raise MRDeepReconError("adapt_model needs a mrdeeprecon.Volume and an EnhanceSettings")
    settings.validate()
    if settings.adaptation_steps == 0:
        raise MRDeepReconError("adaptation steps must be at least 1 to adapt the model")
    context = context or volume.metadata.get("scan_context") or ScanContext()
    device = select_device(settings.device)
    model, card, model_path = _load_network(settings, context, device)
    with torch.inference_mode():
        standardized, sampling, _, _ = _prepare(model, _to_device(volume.data, device), context, settings, device)
    adapted, adaptation = adapt_to_scan(model, standardized.data, sampling, settings.planes, settings.adaptation_steps,
                                        progress, cancel)
    provenance = _Provenance(card, model_path, str(volume.metadata.get("source_path", "")))
    save_model(adapted, Path(path), provenance.adapted_card(settings.planes, adaptation))
    return adaptation


def _enhance(
    volume: Volume,
    settings: EnhanceSettings,
    context: ScanContext,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    cache: AdaptationCache | None,
) -> Volume:
    """:func:`enhance` after its arguments' types were checked."""
    data = volume.data
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        raise MRDeepReconError(f"cannot enhance voxel type {data.dtype}; a real image is needed")
    if min(data.shape[1:]) < MIN_IN_PLANE:
        raise MRDeepReconError(
            f"the image is {data.shape[1]} x {data.shape[2]} pixels in-plane; at least "
            f"{MIN_IN_PLANE} x {MIN_IN_PLANE} are needed"
        )
    if not np.isfinite(data).all():
        raise MRDeepReconError("the image contains NaN or infinite values")
    if settings.planes != 1:
        check_planes(context, data.shape)
    magnitude = _is_magnitude(volume)
    device = select_device(settings.device)
    model, card, model_path = _load_network(settings, context, device)
    calibration = Calibration.from_card(card, model_path)
    provenance = _Provenance(card, model_path, str(volume.metadata.get("source_path", "")))
    fine_tune = _FineTune()

    def run(target: torch.device) -> _Enhanced:
        return _pipeline(model.to(target), data, context, settings, calibration, magnitude, target, progress, cancel,
                         provenance, cache, fine_tune)

    report(progress, 0.0, "standardising")
    enhanced, device, fallback = _on_device_or_cpu(device, run)
    record = {
        **dataclasses.asdict(settings),
        "super_resolution": list(settings.super_resolution),
        "model_path": str(model_path),
        "model_name": card.get("name", model_path.stem),
        "model_sha256": card["sha256"],
        "device": str(device),
        "noise_reduction_achieved": enhanced.achieved,
        "noise_reduction_calibration": enhanced.calibration,
    }
    if enhanced.adaptation is not None:
        record["scan_adaptation"] = enhanced.adaptation
    if fallback:
        kept = fine_tune.made is not None and fine_tune.made[2] != device
        record["device_fallback"] = fallback + (f"; the scan fine-tune made on {fine_tune.made[2]} was kept" if kept else "")
    metadata = {**volume.metadata, "enhancement": record}
    spacing, origin = _output_geometry(volume, enhanced.record)
    result = volume.with_data(
        enhanced.image,
        spacing=spacing,
        origin=origin,
        direction=volume.direction.copy(),
        metadata=metadata,
    )
    report(progress, 1.0, "done")
    return result
