"""``mrdeeprecon train``: train a CE U-Net on pairs made in torch, checkpoint, resume, write a model card.

The network learns the clean image (:mod:`mrdeeprecon.training.pairs`); the requested noise
reduction is applied at inference (:mod:`mrdeeprecon.noise_reduction`), calibrated by the residual
table this command measures on the training volumes at the end (:mod:`.calibration`).

Optimiser: Adam with a cosine learning-rate decay over ``steps``. Training adds up across sessions
and machines: ``resume`` continues a checkpoint exactly (weights, Adam moments, the pair sampler's
generator), and ``stop_at`` ends a session early, writing the model and card of that step while
keeping the checkpoint for the next one (``time_budget_s`` does the same after a wall time). The
forward pass runs under bf16 autocast where the device computes bf16 natively (``precision``,
:mod:`.precision`), with the network and its inputs channels-last on CPU and CUDA; a checkpoint
moves between CPU and GPU sessions (the pair stream restarts from a stated seed, as the two
generators' states differ). The card's ``lineage`` lists every session (steps,
patches, pixels, wall time, device, processes) and carries over the lineage of ``init_from``.

Under ``torchrun`` (:mod:`mrdeeprecon.distributed`) the model trains with DistributedDataParallel:
each process draws its own pairs (seed + 1 000 003 × rank) for its share of ``batch_size`` (the
global batch), the gradients are averaged, the logged loss is that of the whole batch, and rank 0
alone measures the curve and writes checkpoints, the model and its card.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..distributed import Rank, barrier, device_for, mean_over_ranks, process_group
from ..errors import MRDeepReconError
from ..inference import select_device
from ..model.ce_unet import BLOCKS, CEUNet, CEUNetConfig, memory_format_for
from ..model.weights import load_model, save_model
from ..noise_map import NOISE_INPUTS
from ..progress import CancelToken, ProgressCallback, check, report
from ..settings import DEVICES, FieldSpec, declared, field_spec
from .calibration import measure_calibration
from .checkpoint import checkpoint_files, load_checkpoint, save_checkpoint
from .curve import HeldOutCurve
from .losses import LOSSES
from .pairs import TARGETS, PairConfig, PairSampler
from ..precision import PRECISIONS, forward_precision, resolve_precision
from .volumes import load_training_volumes

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
#: Real volumes in ../shared/data that train the bundled models (NIfTI volumes and DICOM series).
DEFAULT_TRAINING = (
    "volumes/stroke_T1.nii.gz",
    "volumes/stroke_T2.nii.gz",
    "volumes/stroke_FLAIR.nii.gz",
    "volumes/MNI152_2009_template.nii.gz",
    "volumes/adi_memprage_3t_block1.nii.gz",
    "volumes/adi_t2tse_3t_block1.nii.gz",
    "dicom/siemens_skyra_mprage",
    "dicom/philips_mprage_3t",
    "dicom/siemens_xa30_t1tfl_2mm",
)
#: Never trained on: the evaluation volumes (benchmarks/quality.py).
HELD_OUT = ("volumes/seg3D_MR.nii.gz", "dicom/philips_phantom")
#: Model kind → how its input slices are drawn (:class:`PairConfig` fields). "2.5d" (3 slices of
#: 2D acquisitions, spacing 1-2× the training volumes') is trained for the ablation, not shipped.
KINDS: dict[str, dict[str, Any]] = {
    "2d": {"in_slices": 1},
    "2.5d": {"in_slices": 3, "slab": "2D", "slice_spacing": (1.0, 2.0)},
    "3d": {"in_slices": 7},
}


#: ``clean_targets``: train on the volumes as they are, or denoise them first (:func:`clean_volume`).
CLEAN_TARGETS = ("none", "nlm")


@dataclass
class TrainConfig:
    """One training run; each field's meaning is its :class:`~mrdeeprecon.settings.FieldSpec`
    help (``mrdeeprecon train --help``). Paths default to ``../shared/data`` beside the repository.
    ``base_channels``, ``depth`` and ``block`` make the network (:class:`CEUNetConfig`);
    ``noise_input``, ``target``, ``p_coil_noise``, ``p_interpolated``, ``group`` and ``min_noise``
    how pairs are drawn (:class:`PairConfig`); ``loss`` is one of :data:`.losses.LOSSES`.
    """

    kind: str = declared(FieldSpec(
        "2d: one input slice; 3d: 7 slices of a 3D acquisition in, the middle one out; "
        "2.5d: 3 slices of 2D acquisitions in (ablation)", choices=tuple(KINDS)), "2d")
    out_dir: Path = declared(FieldSpec("where ce_unet_<kind>.safetensors and its model card are written", flag="--out"),
                             Path("MRDeepRecon/Resources/models"))
    checkpoint_dir: Optional[Path] = declared(FieldSpec("where the resumable checkpoint lives (default: the model's folder, --out)"), None)
    data: list[Path] = declared(FieldSpec(
        "training volumes: files, DICOM folders or .npz archives (default: the bundled models' volumes in ../shared/data)"),
        default_factory=lambda: [SHARED_DATA / n for n in DEFAULT_TRAINING])
    steps: int = declared(FieldSpec("optimiser steps of the whole cosine schedule"), 2000)
    stop_at: Optional[int] = declared(FieldSpec(
        "end this session after this step (at most --steps), write the model, keep the checkpoint"), None)
    time_budget_s: Optional[float] = declared(FieldSpec(
        "also end this session once its training loop has run this long (wall time, calibration not included)",
        metavar="SECONDS"), None)
    batch_size: int = declared(FieldSpec("pairs per step (under torchrun: of all processes together)"), 16)
    patch: int = declared(FieldSpec("patch edge in pixels"), 96)
    learning_rate: float = declared(FieldSpec("peak Adam learning rate (cosine-decayed to 2 % of it)"), 1e-3)
    clip_grad_norm: Optional[float] = declared(FieldSpec(
        "clip the gradients' global L2 norm to this before each step (default: no clipping, the shipped "
        "recipe; rare loss spikes otherwise throw the weights off: seen with base 32, and with base 16 "
        "from scratch at lr 1e-3 for some seeds; 2 is a tested value)", metavar="NORM"), None)
    base_channels: int = declared(FieldSpec("channels of the full-resolution stage"), 16)
    depth: int = declared(FieldSpec("number of downsamplings"), 3)
    block: str = declared(FieldSpec("convolution block", choices=tuple(BLOCKS)), "plain")
    noise_input: str = declared(FieldSpec("how the network is told the noise level", choices=NOISE_INPUTS), "map")
    target: str = declared(FieldSpec("clean: all-in-one; noise_free: denoise only", choices=TARGETS), "clean")
    p_coil_noise: float = declared(FieldSpec("share of pairs with coil-normalised (spatially varying) noise"), 0.25)
    p_interpolated: float = declared(FieldSpec("share of scanner-interpolation scenarios (in-plane k_max 0.45-0.7)"), 0.0)
    group: int = declared(FieldSpec("pairs sharing one degradation scenario"), 4)
    min_noise: float = declared(FieldSpec(
        "lowest training noise sigma, fraction of the 99th percentile (high-SNR scans sit near 0.002)"), PairConfig.min_noise)
    loss: str = declared(FieldSpec("training loss", choices=tuple(LOSSES)), "l1")
    clean_targets: str = declared(FieldSpec(
        "nlm: denoise the training volumes first (2D non-local means at each volume's own noise level)",
        choices=CLEAN_TARGETS), "none")
    seed: int = declared(FieldSpec("seed of the pairs and the initial weights"), 0)
    device: str = declared(FieldSpec("where to train", choices=DEVICES), "auto")
    precision: str = declared(FieldSpec(
        "arithmetic of the forward pass: bfloat16 autocast, float32, or auto (bfloat16 where the device "
        "computes it natively: bf16 GPUs, CPUs with AVX-512 BF16 or AMX)", choices=PRECISIONS), "auto")
    threads: Optional[int] = declared(FieldSpec("CPU threads (default: torch's)"), None)
    checkpoint_every: int = declared(FieldSpec("steps between checkpoints"), 200)
    log_every: int = declared(FieldSpec("steps between log lines"), 50)
    resume: bool = declared(FieldSpec("continue from the checkpoint"), False)
    init_from: Optional[Path] = declared(FieldSpec("start from these weights (a 2D model seeds a 3D one)", metavar="SAFETENSORS"), None)
    calibrate: bool = declared(FieldSpec("measure the noise-reduction calibration at the end (inference needs it)"), True)
    curve_every: int = declared(FieldSpec("steps between held-out tissue-PSNR curve points (0: none)"), 0)
    curve_volume: Path = declared(FieldSpec("held-out volume of the curve"), SHARED_DATA / HELD_OUT[0])

    @property
    def name(self) -> str:
        return f"ce_unet_{self.kind}"

    def validate(self) -> None:
        for item in dataclasses.fields(self):
            choices, value = field_spec(item).choices, getattr(self, item.name)
            if choices is not None and value not in choices:
                raise MRDeepReconError(f"{item.name} must be one of {choices}, got {value!r}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise MRDeepReconError(f"clip_grad_norm must be > 0, got {self.clip_grad_norm!r}")
        check_schedule_and_data(self.steps, self.stop_at, self.data)


def check_schedule_and_data(steps: int, stop_at: int | None, data: Sequence[str | Path]) -> None:
    """Raise :class:`MRDeepReconError` unless ``1 <= stop_at <= steps`` and no training volume is
    one of the evaluation's held-out data (:data:`HELD_OUT`); shared by every training command."""
    if steps < 1 or (stop_at is not None and not 1 <= stop_at <= steps):
        raise MRDeepReconError(f"need 1 <= stop_at <= steps, got stop_at {stop_at}, steps {steps}")
    held_out = {(SHARED_DATA / n).resolve() for n in HELD_OUT}
    for path in data:
        resolved = Path(path).resolve()
        if resolved in held_out or any(h in resolved.parents for h in held_out):
            raise MRDeepReconError("this volume is held out for evaluation and never trained on", path)


def cosine_learning_rate(base: float, step: int, steps: int) -> float:
    """Cosine decay from ``base`` to 2 % of it over ``steps``."""
    return base * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / steps)))


def _input_weight(model: CEUNet) -> str:
    """Name of the weight that reads the network input (slices, then the noise channel)."""
    return "stem.conv1.weight" if model.config.block == "plain" else "stem.skip.weight"


def initialise_from(model: CEUNet, path: Path) -> dict[str, Any]:
    """Copy the weights of the model at ``path`` into ``model``; returns the source's card.

    A single-slice (2D) model seeds a multi-slice (3D) one: the input weights go to the middle
    input slice and the neighbours start at zero, so the 3D network starts out computing exactly
    what the 2D one does and learns from there how to use the adjacent slices. The same holds for
    the noise channel: copied when the source has one, else started at zero.
    """
    source, card = load_model(path)
    mismatch = [
        name for name in ("base_channels", "depth", "block")
        if getattr(source.config, name) != getattr(model.config, name)
    ]
    if mismatch:
        raise MRDeepReconError(f"--init-from needs a model of the same {', '.join(mismatch)}", path)
    if source.config.noise_input != "blind" and source.config.noise_input != model.config.noise_input:
        raise MRDeepReconError(f"--init-from a {source.config.noise_input} noise-input model needs the same noise input", path)
    state = model.state_dict()
    stem = _input_weight(model)
    for name, tensor in source.state_dict().items():
        target = state[name]
        if tensor.shape == target.shape:  # for the stem: same slices and noise channel
            target.copy_(tensor)
        elif name == stem and tensor.shape[0] == target.shape[0] and tensor.shape[2:] == target.shape[2:]:
            target.zero_()
            offset = model.config.in_slices // 2 - source.config.in_slices // 2
            target[:, offset : offset + source.config.in_slices] = tensor[:, : source.config.in_slices]
            if source.config.noise_input != "blind":
                target[:, -1] = tensor[:, -1]
        else:
            raise MRDeepReconError(f"weights {name} do not fit: {tuple(tensor.shape)} vs {tuple(target.shape)}", path)
    return card


def clean_volume(data: np.ndarray) -> np.ndarray:
    """``data`` denoised slice by slice (axis 0) by scikit-image's non-local means at the volume's
    own noise level (:func:`mrdeeprecon.noise_map.global_noise_sd`; patch 5, distance 6,
    h = 0.8 σ)."""
    from skimage.restoration import denoise_nl_means

    from ..noise_map import global_noise_sd

    volume = np.asarray(data, dtype=np.float32)
    sigma = global_noise_sd(volume)
    return np.stack([
        denoise_nl_means(s, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True)
        if s.any() else s
        for s in volume
    ]).astype(np.float32)


def _segment(
    config: TrainConfig, device: torch.device, precision: str, first: int, last: int, wall: float, volumes, processes: int = 1
) -> dict[str, Any]:
    patches = (last - first) * config.batch_size
    return {
        "steps": [first, last],
        "processes": processes,
        "schedule_steps": config.steps,
        "patches": patches,
        "pixels": patches * config.patch**2,
        "wall_hours": round(wall / 3600, 3),
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "precision": precision,
        "host": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": [v.name for v in volumes],
        "volumes": len(volumes),
        **({"clip_grad_norm": config.clip_grad_norm} if config.clip_grad_norm is not None else {}),
    }


def _flat(recipe: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"pairs": {"target": "clean"}}`` → ``{"pairs.target": "clean"}``."""
    flat: dict[str, Any] = {}
    for key, value in recipe.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def _require_same_recipe(saved: dict[str, Any], asked: dict[str, Any], checkpoint: Path) -> None:
    """Refuse to resume a checkpoint with other pairs, network or loss than it was trained with."""
    before, now = _flat(saved), _flat(asked)
    differences = [f"{key} {before.get(key)!r} (asked {value!r})" for key, value in now.items() if before.get(key) != value]
    if differences:
        raise MRDeepReconError("cannot resume with another recipe; the checkpoint has " + ", ".join(differences), checkpoint)


def train(
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    log=lambda message: print(message, flush=True),
) -> Path:
    """Train, write ``<out_dir>/ce_unet_<kind>.safetensors`` + model card, return its path."""
    config.validate()
    rank = Rank.from_environment()
    if config.batch_size % rank.world_size:
        raise MRDeepReconError(f"the batch size {config.batch_size} must be a multiple of the {rank.world_size} torchrun processes")
    if config.threads:
        torch.set_num_threads(config.threads)
    device = device_for(rank, select_device(config.device))
    with process_group(rank, device):
        return _train(config, rank, device, progress, cancel, log if rank.leader else (lambda message: None))


def _train(
    config: TrainConfig,
    rank: Rank,
    device: torch.device,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    log,
) -> Path:
    """:func:`train` in one process (one of ``rank.world_size``: each draws its own pairs for its
    share of the batch; DistributedDataParallel averages the gradients; rank 0 logs, measures the
    curve and writes checkpoints and the model)."""
    torch.manual_seed(config.seed)  # the same initial weights in every process
    torch.backends.cudnn.benchmark = device.type == "cuda"
    volumes = load_training_volumes(config.data)
    arrays = [v.data for v in volumes]
    if config.clean_targets == "nlm":
        log("denoising the training volumes (non-local means) ...")
        arrays = [clean_volume(a) for a in arrays]
    pair_config = PairConfig(
        **KINDS[config.kind],
        patch=config.patch,
        noise_input=config.noise_input,
        p_coil_noise=config.p_coil_noise,
        p_interpolated=config.p_interpolated,
        target=config.target,
        group=config.group,
        min_noise=config.min_noise,
    )
    sampler = PairSampler(arrays, pair_config, _pair_seed(config.seed, rank), device)
    per_process_batch = config.batch_size // rank.world_size
    net_config = CEUNetConfig(
        in_slices=pair_config.in_slices,
        base_channels=config.base_channels,
        depth=config.depth,
        noise_input=config.noise_input,
        block=config.block,
    )
    model = CEUNet(net_config)
    lineage: list[dict[str, Any]] = []
    if config.init_from is not None:
        source_card = initialise_from(model, Path(config.init_from))
        lineage = [
            *source_card.get("lineage", []),
            {"initialised_from": Path(config.init_from).name, "sha256": source_card.get("sha256")},
        ]
    precision = resolve_precision(config.precision, device)
    memory_format = memory_format_for(device)
    model = model.to(device, memory_format=memory_format)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    trained = model
    if rank.distributed:
        from torch.nn.parallel import DistributedDataParallel

        trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    loss_function = LOSSES[config.loss]
    checkpoint = Path(config.checkpoint_dir or config.out_dir) / f"{config.name}.checkpoint"
    start, elapsed, history = 0, 0.0, []
    recipe = {"pairs": dataclasses.asdict(pair_config), "network": dataclasses.asdict(net_config),
              "loss": config.loss, "clean_targets": config.clean_targets}
    if config.resume and checkpoint_files(checkpoint)[1].exists():
        state, extra = load_checkpoint(checkpoint, model, optimizer)
        _require_same_recipe(state.get("recipe", recipe), recipe, checkpoint)
        start, elapsed, history = state["step"], state["elapsed_s"], state["history"]
        lineage = state.get("lineage", lineage)
        if state.get("sampler_device", "cpu") == device.type and state.get("world_size", 1) == rank.world_size == 1:
            sampler.generator.set_state(extra["sampler_generator"])
        else:  # CPU and CUDA generators keep incompatible states, and a checkpoint keeps one stream
            sampler.generator.manual_seed(_pair_seed(config.seed + start, rank))
            log(f"pairs continue from seed {config.seed + start}: the checkpoint's came from {state.get('world_size', 1)} "
                f"process(es) on {state['sampler_device']}")
        log(f"resumed {checkpoint} at step {start}")
    log(f"forward pass in {precision} on {device}")
    stop = config.stop_at or config.steps
    curve = (HeldOutCurve(config.curve_volume, acquisition="3D" if pair_config.is_3d else "2D")
             if config.curve_every else None)
    t0 = time.perf_counter()
    running: list[float] = []
    pair_seconds = 0.0

    def save(step: int) -> None:
        if not rank.leader:
            return
        session = _segment(config, device, precision, start, step, time.perf_counter() - t0, volumes, rank.world_size)
        save_checkpoint(
            checkpoint,
            model,
            optimizer,
            {
                "step": step,
                "elapsed_s": elapsed + time.perf_counter() - t0,
                "history": history,
                "lineage": [*lineage, session],
                "sampler_device": device.type,
                "world_size": rank.world_size,
                "recipe": recipe,
            },
            {"sampler_generator": sampler.generator.get_state()},
        )

    model.train()
    for step in range(start, stop):
        check(cancel)
        for group in optimizer.param_groups:
            group["lr"] = cosine_learning_rate(config.learning_rate, step, config.steps)
        tick = time.perf_counter()
        batch = sampler.batch(per_process_batch)
        pair_seconds += time.perf_counter() - tick
        with forward_precision(precision, device):
            output = trained(batch.inputs.contiguous(memory_format=memory_format), batch.context)
        loss = loss_function(output.float(), batch.targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
        optimizer.step()
        running.append(float(loss.detach()))
        done = step + 1
        if config.time_budget_s is not None and time.perf_counter() - t0 >= config.time_budget_s:
            stop = done
        if done % config.log_every == 0 or done == stop:
            now = time.perf_counter() - t0
            mean_loss = mean_over_ranks(float(np.mean(running)), rank)  # the loss of the whole batch
            history.append({"step": done, config.loss: mean_loss, "elapsed_s": round(elapsed + now, 1)})
            log(
                f"step {done}/{config.steps}  {config.loss} {mean_loss:.5f}  "
                f"{(done - start) * config.batch_size / max(now, 1e-9):.1f} patches/s  "
                f"pairs {100 * pair_seconds / max(now, 1e-9):.0f} % of the time"
            )
            running = []
        if curve is not None and rank.leader and (done % config.curve_every == 0 or done == stop):
            point = curve(model)
            model.train()
            history.append({"step": done, "tissue_psnr_db": round(point, 3), "curve": curve.name})
            log(f"step {done}  held-out tissue PSNR {point:.3f} dB ({curve.name})")
        report(progress, (done - start) / max(1, stop - start), f"step {done}/{config.steps}")
        if done % config.checkpoint_every == 0 and done < stop:
            save(done)
        if done == stop:
            break
    if stop < config.steps:
        save(stop)
    out = Path(config.out_dir) / f"{config.name}.safetensors"
    if not rank.leader:
        barrier(rank)  # rank 0 writes the model
        return out
    wall = time.perf_counter() - t0
    lineage = [*lineage, _segment(config, device, precision, start, stop, wall, volumes, rank.world_size)]
    model.eval()
    card = {
        "name": config.name,
        "kind": config.kind,
        "version": datetime.now(timezone.utc).strftime("%Y.%m.%d"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": "estimate the clean image: denoising and k-space extent restoration (super-resolution) "
        + ("of single slices" if pair_config.in_slices == 1
           else f"of the middle slice of {pair_config.in_slices} adjacent slices"),
        "output": "clean",
        "training": {
            "data": [
                {"file": v.name, "sha256": v.sha256, "shape_zyx": list(v.data.shape),
                 "spacing_mm": list(v.spacing) if v.spacing else None}
                for v in volumes
            ],
            "held_out": list(HELD_OUT),
            "pairs": "made in torch (mrdeeprecon.training.pairs): random orientation, tapered field around "
            "tissue, random k-space degradation and reconstruction, target = " + config.target,
            "pair_config": dataclasses.asdict(pair_config),
            "steps": stop,
            "schedule_steps": config.steps,
            "batch_size": config.batch_size,
            "patch": config.patch,
            "patches_seen": stop * config.batch_size,
            "loss": config.loss,
            "clean_targets": config.clean_targets,
            "optimizer": f"Adam, lr {config.learning_rate:g} cosine-decayed to 2 % over {config.steps} steps"
            + (f", gradient norm clipped to {config.clip_grad_norm:g}" if config.clip_grad_norm is not None else ""),
            "seed": config.seed,
            "loss_history": history,
        },
        "lineage": lineage,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    save_model(model.cpu(), out, card)
    if config.calibrate:
        log("measuring the noise-reduction calibration on the training volumes ...")
        card["calibration"] = measure_calibration(model, arrays, pair_config, seed=config.seed)
        save_model(model, out, card)
    if stop == config.steps:
        for path in checkpoint_files(checkpoint):
            path.unlink(missing_ok=True)
    barrier(rank)
    return out


def _pair_seed(seed: int, rank: Rank) -> int:
    """The pair stream of process ``rank``: its own under torchrun, ``seed`` itself alone."""
    return seed + 1_000_003 * rank.rank
