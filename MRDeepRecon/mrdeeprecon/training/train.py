"""``mrdeeprecon train``: train a CE U-Net on on-the-fly pairs, checkpoint, resume, write a model card.

Loss: L1 (seed 001; robust to the heavy-tailed residuals of Rician magnitude noise). Optimiser:
Adam with a cosine learning-rate decay. Runs on CUDA when available (``--device auto``), else CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import MRDeepReconError
from ..inference import select_device
from ..io import load_volume
from ..model.ce_unet import CEUNet, CEUNetConfig
from ..model.weights import load_model, save_model
from ..progress import CancelToken, ProgressCallback, check, report
from .acceptance import acceptance_scores
from .checkpoint import checkpoint_files, load_checkpoint, save_checkpoint
from .pairs import PairConfig, PairSampler

SHARED_VOLUMES = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "volumes"
DEFAULT_TRAINING = ("stroke_T1.nii.gz", "stroke_T2.nii.gz", "stroke_FLAIR.nii.gz", "MNI152_2009_template.nii.gz")
DEFAULT_HOLDOUT = "seg3D_MR.nii.gz"  # a different subject and scanner: never seen in training


@dataclass
class TrainConfig:
    """One training run. Paths default to ``../shared/data/volumes`` beside the repository."""

    kind: str = "2d"
    out_dir: Path = Path("MRDeepRecon/Resources/models")
    data: list[Path] = field(default_factory=lambda: [SHARED_VOLUMES / n for n in DEFAULT_TRAINING])
    holdout: Optional[Path] = SHARED_VOLUMES / DEFAULT_HOLDOUT
    steps: int = 2000
    batch_size: int = 16
    patch: int = 96
    learning_rate: float = 1e-3
    base_channels: int = 16
    depth: int = 3
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 200
    resume: bool = False
    log_every: int = 50
    init_from: Optional[Path] = None  # start from these weights (a 2D model can seed a 3D one)
    noise_map: bool = True  # the network reads the local noise SD map as an extra channel
    p_coil_noise: float = 0.25  # share of pairs with spatially varying (coil-normalised) noise

    @property
    def name(self) -> str:
        return f"ce_unet_{self.kind}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _learning_rate(config: TrainConfig, step: int) -> float:
    """Cosine decay from ``learning_rate`` to 2 % of it over ``steps``."""
    return config.learning_rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / config.steps)))


def initialise_from(model: CEUNet, path: Path) -> None:
    """Copy the weights of the model at ``path`` into ``model``.

    A single-slice (2D) model seeds a multi-slice (3D) one: the first convolution's weights go to
    the middle input slice and the neighbours start at zero, so the 3D network starts out computing
    exactly what the 2D one does and learns from there how to use the adjacent slices. The same
    holds for the noise-map channel: copied when the source has one, else started at zero.
    """
    source, _ = load_model(path)
    if source.config.base_channels != model.config.base_channels or source.config.depth != model.config.depth:
        raise MRDeepReconError("--init-from needs a model of the same width and depth", path)
    if source.config.noise_map and not model.config.noise_map:
        raise MRDeepReconError("--init-from a noise-map model needs a noise-map model", path)
    state = model.state_dict()
    stem = "stem.conv1.weight"
    for name, tensor in source.state_dict().items():
        target = state[name]
        if tensor.shape == target.shape:  # for the stem: same slices and noise-map channel
            target.copy_(tensor)
        elif name == stem and tensor.shape[0] == target.shape[0] and tensor.shape[2:] == target.shape[2:]:
            target.zero_()
            offset = model.config.in_slices // 2 - source.config.in_slices // 2
            target[:, offset : offset + source.config.in_slices] = tensor[:, : source.config.in_slices]
            if source.config.noise_map:
                target[:, -1] = tensor[:, -1]
        else:
            raise MRDeepReconError(f"weights {name} do not fit: {tuple(tensor.shape)} vs {tuple(target.shape)}", path)


def train(
    config: TrainConfig,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    log=lambda message: print(message, flush=True),
) -> Path:
    """Train, write ``<out_dir>/ce_unet_<kind>.safetensors`` + model card, return its path."""
    if config.kind not in ("2d", "3d"):
        raise MRDeepReconError(f"model kind must be 2d or 3d, got {config.kind!r}")
    holdout = Path(config.holdout).resolve() if config.holdout else None
    for path in config.data:
        if holdout is not None and Path(path).resolve() == holdout:
            raise MRDeepReconError("the held-out volume is also in the training data", path)
    torch.manual_seed(config.seed)
    device = select_device(config.device)
    volumes = [load_volume(p) for p in config.data]
    pair_config = PairConfig(
        kind=config.kind, patch=config.patch, noise_map=config.noise_map, p_coil_noise=config.p_coil_noise
    )
    sampler = PairSampler([v.data for v in volumes], pair_config, config.seed)
    net_config = CEUNetConfig(
        in_slices=pair_config.in_slices,
        base_channels=config.base_channels,
        depth=config.depth,
        noise_map=config.noise_map,
    )
    model = CEUNet(net_config)
    if config.init_from is not None:
        initialise_from(model, Path(config.init_from))
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    checkpoint = Path(config.out_dir) / f"{config.name}.checkpoint"
    start, elapsed, history = 0, 0.0, []
    if config.resume and checkpoint_files(checkpoint)[1].exists():
        state = load_checkpoint(checkpoint, model, optimizer)
        start, elapsed, history = state["step"], state["elapsed_s"], state["history"]
        sampler.rng.bit_generator.state = state["sampler_rng"]
        log(f"resumed {checkpoint} at step {start}")

    t0 = time.perf_counter() - elapsed
    running = []
    model.train()
    for step in range(start, config.steps):
        check(cancel)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, step)
        batch = sampler.batch(config.batch_size)
        inputs = torch.from_numpy(batch.inputs).to(device)
        context = torch.from_numpy(batch.context).to(device)
        targets = torch.from_numpy(batch.targets).to(device)
        loss = torch.nn.functional.l1_loss(model(inputs, context), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(float(loss.detach()))
        done = step + 1
        if done % config.log_every == 0 or done == config.steps:
            mean_loss = float(np.mean(running))
            history.append({"step": done, "l1": mean_loss})
            running = []
            rate = (done - start) / max(1e-9, time.perf_counter() - t0 - elapsed)
            log(f"step {done}/{config.steps}  L1 {mean_loss:.4f}  {rate:.2f} steps/s")
        report(progress, done / config.steps, f"step {done}/{config.steps}")
        if done % config.checkpoint_every == 0 and done < config.steps:
            save_checkpoint(
                checkpoint,
                model,
                optimizer,
                {
                    "step": done,
                    "elapsed_s": time.perf_counter() - t0,
                    "history": history,
                    "sampler_rng": sampler.rng.bit_generator.state,
                },
            )
    wall = time.perf_counter() - t0
    model.eval()
    card = {
        "name": config.name,
        "kind": config.kind,
        "version": datetime.now(timezone.utc).strftime("%Y.%m.%d"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": "MR denoising (tunable factor) and k-space extent restoration (super-resolution) "
        + ("of single slices" if config.kind == "2d" else "of the middle slice of 7 adjacent slices"),
        "training": {
            "data": [
                {"file": Path(p).name, "sha256": _sha256(p), "shape_zyx": list(v.shape), "spacing_mm": list(v.spacing)}
                for p, v in zip(config.data, volumes)
            ],
            "holdout": Path(config.holdout).name if config.holdout else None,
            "pairs": "on the fly: random orientation, random k-space degradation and reconstruction "
            "(mrdeeprecon.training.pairs), target = clean + noise/NR",
            "pair_config": dataclasses.asdict(pair_config),
            "steps": config.steps,
            "batch_size": config.batch_size,
            "patch": config.patch,
            "pairs_seen": config.steps * config.batch_size,
            "loss": "L1",
            "optimizer": f"Adam, lr {config.learning_rate:g} cosine-decayed to 2 %",
            "seed": config.seed,
            "initialised_from": None if config.init_from is None else {
                "file": Path(config.init_from).name,
                "sha256": _sha256(Path(config.init_from)),
            },
            "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
            "host": f"{platform.machine()} {torch.get_num_threads()} threads",
            "torch": torch.__version__,
            "wall_time_s": round(wall, 1),
            "loss_history": history,
        },
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    out = Path(config.out_dir) / f"{config.name}.safetensors"
    save_model(model.cpu(), out, card)
    if config.holdout:
        log(f"measuring acceptance on held-out {Path(config.holdout).name} ...")
        scores = acceptance_scores(out, config.kind, Path(config.holdout))
        if config.kind == "3d":
            scores = {
                "in_plane": scores,
                "with_slice_kmax_0.5": acceptance_scores(out, config.kind, Path(config.holdout), kmax_slice=0.5),
            }
        card["evaluation"] = scores
        save_model(model, out, card)
    for path in checkpoint_files(checkpoint):
        path.unlink(missing_ok=True)
    return out

