"""Enhance a volume with a CE U-Net: standardise → network → noise reduction → destandardise.

The network runs on the working grid of :mod:`mrdeeprecon.standardize` (the output grid, refined
by the super-resolution factors). Each output slice is the network's clean estimate from one slice
(2D model) or from its 7 neighbours (3D model), computed in in-plane tiles no larger than
``EnhanceSettings.tile_size`` that overlap and are blended with smooth weights, so memory stays
bounded for any matrix size. Every slice's local noise SD (:mod:`mrdeeprecon.noise_map`) is
estimated on the standardised slices with the k-space extent the context vector states; a model
with a noise input reads it (or its median), and the noise-reduction knob
(:mod:`mrdeeprecon.noise_reduction`) uses it to bring each voxel to the requested factor.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .context import ScanContext
from .errors import MRDeepReconError
from .model import context_vector
from .model.ce_unet import CEUNet
from .model.weights import bundled_model_path, load_model
from .noise_map import local_noise_sd
from .noise_reduction import Calibration, reduce_noise
from .progress import CancelToken, ProgressCallback, check, report
from .settings import EnhanceSettings, default_batch_size
from .standardize import StandardizeRecord, destandardize, standardize
from .volume import Volume

#: Smallest overlap (pixels) between neighbouring tiles, unless the tile itself is under 64 px.
MIN_TILE_OVERLAP = 32
#: Smallest in-plane size (rows and columns, pixels) that :func:`enhance` accepts: a smaller
#: image has no neighbourhood for the network to use.
MIN_IN_PLANE = 8


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


def _tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start indices of tiles of length ``min(tile, size)`` covering ``[0, size)``."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, tile - overlap))
    return starts + [size - tile]


def _blend_weights(start: int, length: int, size: int, overlap: int) -> np.ndarray:
    """1D tile weight: 1 inside, a raised-cosine ramp (> 0) over ``overlap`` pixels at each edge
    that borders another tile, 1 up to the image border."""
    weights = np.ones(length, dtype=np.float64)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(overlap) + 0.5) / overlap)
    if start > 0:
        weights[:overlap] = ramp
    if start + length < size:
        weights[length - overlap :] = np.minimum(weights[length - overlap :], ramp[::-1])
    return weights


@dataclasses.dataclass(frozen=True)
class _Tiling:
    """In-plane tiles of one working grid: every tile has the same shape ``(height, width)``."""

    height: int
    width: int
    origins: tuple[tuple[int, int], ...]  # (y0, x0) of each tile
    weights: np.ndarray  # (n_tiles, height, width) float32: blending weight of each tile
    weight_sum: np.ndarray  # (H, W) float32: sum of all tiles' weights per pixel

    def window(self, index: int) -> tuple[slice, slice]:
        """In-plane ``(y, x)`` slices of tile ``index``."""
        y0, x0 = self.origins[index]
        return slice(y0, y0 + self.height), slice(x0, x0 + self.width)

    @classmethod
    def plan(cls, shape: tuple[int, int], tile: int) -> "_Tiling":
        size_y, size_x = shape
        overlap = min(max(MIN_TILE_OVERLAP, tile // 4), tile // 2)
        height, width = min(tile, size_y), min(tile, size_x)
        origins, weights = [], []
        weight_sum = np.zeros(shape, dtype=np.float64)
        for y0 in _tile_starts(size_y, tile, overlap):
            for x0 in _tile_starts(size_x, tile, overlap):
                w = np.outer(
                    _blend_weights(y0, height, size_y, overlap),
                    _blend_weights(x0, width, size_x, overlap),
                )
                origins.append((y0, x0))
                weights.append(w)
                weight_sum[y0 : y0 + height, x0 : x0 + width] += w
        return cls(
            height,
            width,
            tuple(origins),
            np.stack(weights).astype(np.float32),
            weight_sum.astype(np.float32),
        )


def _neighbours(z: int, count: int, size: int) -> np.ndarray:
    """Indices of the ``count`` slices centred on ``z``, reflected at the ends (clamped when the
    volume has too few slices to reflect)."""
    offsets = np.arange(count) - count // 2
    indices = np.abs(z + offsets)
    indices = np.where(indices > size - 1, 2 * (size - 1) - indices, indices)
    return np.clip(indices, 0, size - 1)


def _batches(items: list[tuple[int, int]], size: int) -> Iterator[list[tuple[int, int]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 (fp16 where bf16 is unsupported) autocast on CUDA; full precision elsewhere."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def _run_network(
    model: CEUNet,
    data: np.ndarray,
    context: np.ndarray,
    settings: EnhanceSettings,
    device: torch.device,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    noise_sd: np.ndarray,
) -> np.ndarray:
    """Network output for every slice of the standardised ``data`` (z, y, x), float32, given the
    slices' local noise SD ``noise_sd``."""
    n_slices = data.shape[0]
    in_slices = model.config.in_slices
    noise_map = None
    if model.config.noise_input == "map":
        noise_map = noise_sd
    elif model.config.noise_input == "scalar":
        noise_map = np.broadcast_to(np.median(noise_sd, axis=(1, 2))[:, None, None], noise_sd.shape)
    tiling = _Tiling.plan(data.shape[1:], settings.tile_size)
    items = [(z, t) for z in range(n_slices) for t in range(len(tiling.origins))]
    accumulated = np.zeros(data.shape, dtype=np.float32)
    context_row = torch.from_numpy(context).to(device)[None]
    memory_format = torch.channels_last if device.type in ("cpu", "cuda") else torch.preserve_format
    model = model.to(memory_format=memory_format)
    batch_size = settings.batch_size or default_batch_size(device.type)
    n_batches = -(-len(items) // batch_size)
    with torch.inference_mode(), _autocast(device):
        for index, batch in enumerate(_batches(items, batch_size)):
            check(cancel)
            stack = np.stack(
                [data[(_neighbours(z, in_slices, n_slices), *tiling.window(t))] for z, t in batch]
            )
            if noise_map is not None:
                maps = np.stack([noise_map[(z, *tiling.window(t))] for z, t in batch])
                stack = np.concatenate([stack, maps[:, None]], axis=1)
            inputs = torch.from_numpy(stack).to(device).contiguous(memory_format=memory_format)
            outputs = model(inputs, context_row.expand(len(batch), -1))
            predicted = outputs[:, 0].float().cpu().numpy()
            for (z, t), tile in zip(batch, predicted):
                accumulated[z][tiling.window(t)] += tile * tiling.weights[t]
            report(progress, 0.05 + 0.9 * (index + 1) / n_batches, f"batch {index + 1}/{n_batches}")
    return accumulated / tiling.weight_sum[None]


def _estimate(
    model: CEUNet,
    data: np.ndarray,
    context: ScanContext,
    settings: EnhanceSettings,
    device: torch.device,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
):
    """Standardise ``data`` and run the network: ``(standardised, sampling, noise SD map, clean
    estimate)``, the last two on the working grid."""
    standardized = standardize(data, context, settings.super_resolution)
    sampling = context.on_output_grid(settings.super_resolution)
    noise_sd = local_noise_sd(standardized.data, sampling.kmax[:2])
    check(cancel)
    report(progress, 0.05, "running the network")
    vector = context_vector.encode(sampling)
    estimate = _run_network(model, standardized.data, vector, settings, device, progress, cancel, noise_sd)
    return standardized, sampling, noise_sd, estimate


def clean_estimate(model: CEUNet, data: np.ndarray, context: ScanContext, device: str = "cpu") -> np.ndarray:
    """The network's clean estimate of ``data`` ``(z, y, x)`` on its own grid, in its intensities
    (no super-resolution, no noise-reduction knob): what training curves score."""
    settings = EnhanceSettings(device=device)
    standardized, _, _, estimate = _estimate(model.eval(), np.asarray(data), context, settings, select_device(device))
    return destandardize(estimate, standardized.record)


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

    Returns:
        A float32 volume on the refined grid: same direction, spacing divided by the
        super-resolution factor of the encoding direction each index axis holds (exactly: the
        field of view is kept), origin unchanged unless the centred resampling shifts the grid
        (see :meth:`~mrdeeprecon.standardize.StandardizeRecord.working_grid`), metadata copied
        plus ``enhancement`` (settings, model identity and ``noise_reduction_achieved``: the
        factor the model reached, median over tissue, :mod:`mrdeeprecon.noise_reduction`).

    Raises:
        MRDeepReconError: bad settings, context, progress or cancel arguments, voxels (NaN/Inf,
            fewer than :data:`MIN_IN_PLANE` pixels in-plane) or model (one without a
            noise-reduction calibration in its card included), or a DICOM image set that is not
            magnitude (phase, real, imaginary, a map); a problem of the image names its file
            (``metadata["source_path"]``) where it came from one. A magnitude input gives an
            output clipped at 0.
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
    try:
        return _enhance(volume, settings, context, progress, cancel)
    except MRDeepReconError as exc:  # a problem of the image: name its file where it came from one
        source = volume.metadata.get("source_path")
        if exc.path is None and source:
            raise MRDeepReconError(exc.problem, source) from None
        raise


def _enhance(
    volume: Volume,
    settings: EnhanceSettings,
    context: ScanContext,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
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
    magnitude = _is_magnitude(volume)
    device = select_device(settings.device)
    model, card, model_path = _load_network(settings, context, device)
    calibration = Calibration.from_card(card, model_path)

    report(progress, 0.0, "standardising")
    standardized, sampling, noise_sd, estimate = _estimate(model, data, context, settings, device, progress, cancel)
    check(cancel)
    reduced = reduce_noise(standardized.data, estimate, noise_sd, sampling.kmax, settings.noise_reduction, calibration)
    output = destandardize(reduced.image, standardized.record)
    if magnitude:  # magnitude in, magnitude out: the band-limited output rings below zero
        np.maximum(output, 0.0, out=output)

    record = {
        **dataclasses.asdict(settings),
        "super_resolution": list(settings.super_resolution),
        "model_path": str(model_path),
        "model_name": card.get("name", model_path.stem),
        "model_sha256": card["sha256"],
        "device": str(device),
        "noise_reduction_achieved": reduced.achieved,
    }
    metadata = {**volume.metadata, "enhancement": record}
    spacing, origin = _output_geometry(volume, standardized.record)
    result = volume.with_data(
        output,
        spacing=spacing,
        origin=origin,
        direction=volume.direction.copy(),
        metadata=metadata,
    )
    report(progress, 1.0, "done")
    return result
