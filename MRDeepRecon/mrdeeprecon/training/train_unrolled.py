"""``mrdeeprecon train-recon``: train the unrolled SENSE network (:mod:`mrdeeprecon.raw.unrolled`)
on multi-coil k-space simulated from real magnitude volumes (:mod:`.raw_pairs`).

Loss: the mean ``|x̂ − x|`` of the complex image, both divided by the input's robust scale
(:func:`~mrdeeprecon.raw.unrolled.robust_scale`). Optimiser: Adam, learning rate cosine-decayed to
2 % over ``steps``. ``resume`` continues the checkpoint exactly (weights, Adam moments, the pair
generator); ``stop_at`` and ``max_minutes`` end a session early, writing the model and card of that
step and keeping the checkpoint. ``init_weights`` fine-tunes: the weights of another model of the
same size start a new schedule (its card goes into this one's lineage). The card records the training volumes (SHA-256), the template
k-space, the pair recipe, steps, pairs, wall hours per session (``lineage``) and the loss history.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..errors import MRDeepReconError
from ..raw.unrolled import BUNDLED_NAME, DATA_CONSISTENCIES, STARTS, UnrolledConfig, UnrolledSense, load_unrolled, robust_scale, save_unrolled
from ..raw.operators import SenseOperator
from ..settings import FieldSpec, declared
from .checkpoint import checkpoint_files, load_checkpoint, save_checkpoint
from .raw_pairs import TARGETS, RawPairConfig, RawPairSampler, noise_covariance
from .train import DEFAULT_TRAINING, HELD_OUT, SHARED_DATA, check_schedule_and_data, cosine_learning_rate
from .volumes import load_training_volumes, sha256_of

#: The real raw data whose ESPIRiT maps, noise covariance and signal level the pairs take.
TEMPLATE = SHARED_DATA / "kspace" / "espirit_full.cfl"


@dataclass
class ReconTrainConfig:
    """One ``train-recon`` run; each field's meaning is its :class:`~mrdeeprecon.settings.FieldSpec` help."""

    out_dir: Path = declared(FieldSpec(f"where {BUNDLED_NAME} and its model card are written", flag="--out", metavar="DIR"),
                             Path("MRDeepRecon/Resources/models"))
    checkpoint_dir: Optional[Path] = declared(FieldSpec("where the resumable checkpoint lives (default: --out)", metavar="DIR"), None)
    data: list[Path] = declared(FieldSpec(
        "magnitude training volumes (default: the CE U-Net's volumes in ../shared/data)"),
        default_factory=lambda: [SHARED_DATA / n for n in DEFAULT_TRAINING])
    template: Path = declared(FieldSpec("raw k-space whose ESPIRiT maps, noise covariance and level the pairs take", metavar="RAWFILE"),
                              TEMPLATE)
    steps: int = declared(FieldSpec("optimiser steps of the whole cosine schedule", metavar="N"), 2000)
    stop_at: Optional[int] = declared(FieldSpec("end this session after this step, keep the checkpoint", metavar="N"), None)
    max_minutes: Optional[float] = declared(FieldSpec(
        "also end this session once its training loop has run this long (wall minutes)", metavar="M"), None)
    batch_size: int = declared(FieldSpec("pairs (slices) per step", metavar="N"), 2)
    learning_rate: float = declared(FieldSpec("peak Adam learning rate (cosine-decayed to 2 % of it)"), 1e-3)
    cascades: int = declared(FieldSpec("data-consistency + CNN cascades", metavar="K"), UnrolledConfig.cascades)
    channels: int = declared(FieldSpec("channels of each regulariser U-Net's first stage", metavar="C"), UnrolledConfig.channels)
    start: str = declared(FieldSpec("where the cascades start: the adjoint A^H y, or CG-SENSE at the baselines' setting", choices=STARTS), "sense")
    data_consistency: str = declared(FieldSpec(
        "each cascade's data consistency: a learned gradient step, or conjugate gradient on the penalised normal equations (MoDL)",
        choices=DATA_CONSISTENCIES), "cg")
    cg_iterations: int = declared(FieldSpec("conjugate-gradient steps per cascade with --data-consistency cg", metavar="N"),
                                  UnrolledConfig.cg_iterations)
    final_projection: bool = declared(FieldSpec(
        "end the network with a hard data-consistency projection (the measured samples kept as measured)"), True)
    target: str = declared(FieldSpec(
        "what the network learns: the coil-combined fully sampled image (noise included, fastMRI's convention) or the clean one",
        choices=TARGETS), RawPairConfig.target)
    poisson_share: float = declared(FieldSpec("share of pairs with a Poisson-disc mask", range=(0.0, 1.0)), RawPairConfig.p_poisson)
    random_line_share: float = declared(FieldSpec(
        "share of pairs with random phase-encoding lines (the rest: uniform lines; both with 24 centre lines)",
        range=(0.0, 1.0)), RawPairConfig.p_random)
    init_weights: Optional[Path] = declared(FieldSpec(
        "fine-tune: start from this unrolled model's weights (same cascades and channels; its card joins the lineage)",
        metavar="SAFETENSORS"), None)
    seed: int = declared(FieldSpec("seed of the pairs and the initial weights"), 0)
    threads: Optional[int] = declared(FieldSpec("CPU threads (default: torch's)"), None)
    checkpoint_every: int = declared(FieldSpec("steps between checkpoints", metavar="N"), 50)
    log_every: int = declared(FieldSpec("steps between log lines", metavar="N"), 10)
    resume: bool = declared(FieldSpec("continue from the checkpoint"), False)

    def validate(self) -> None:
        check_schedule_and_data(self.steps, self.stop_at, self.data)
        try:
            RawPairConfig(p_poisson=self.poisson_share, p_random=self.random_line_share, target=self.target)
        except ValueError as error:
            raise MRDeepReconError(str(error)) from None


def template_of(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """ESPIRiT maps ``(coils, y, x)``, noise covariance ``(coils, coils)`` and the 99th percentile
    of the coil-combined magnitude of the first slice of the raw data at ``path``."""
    from ..raw import read_raw
    from ..raw.baselines import espirit_maps, slice_kspace

    raw = read_raw(path)
    kspace, mask = slice_kspace(raw)
    maps, _ = espirit_maps(kspace[:, :1], np.broadcast_to(mask, kspace.shape[1:])[:1])
    combined = SenseOperator(torch.from_numpy(maps), torch.ones(1, dtype=torch.bool)).adjoint(torch.from_numpy(kspace[:, :1]))
    return maps[:, 0], noise_covariance(kspace[:, 0]), float(np.percentile(combined.abs().numpy(), 99))


#: Parameters of one kind of data consistency that a fine-tune into the other may leave behind (and
#: start fresh): the gradient steps and the CG penalties.
DATA_CONSISTENCY_PARAMETERS = {"steps", "penalties"}


def _load_fine_tune_weights(model: UnrolledSense, source: UnrolledSense, config: "ReconTrainConfig") -> list[str]:
    """``source``'s weights into ``model``; every parameter must fit but the data-consistency ones
    when the two differ in kind (those start at their initial values). Returns the fresh ones."""
    refusal = MRDeepReconError(f"these weights do not fit --cascades {config.cascades} --channels {config.channels}", config.init_weights)
    try:
        missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    except RuntimeError as error:  # a parameter of another shape
        raise refusal from error
    if not set(missing) <= DATA_CONSISTENCY_PARAMETERS or not set(unexpected) <= DATA_CONSISTENCY_PARAMETERS:
        raise refusal
    return sorted(missing)


def _loss(model: UnrolledSense, batch) -> torch.Tensor:
    output = model(batch.kspace, batch.maps, batch.mask)
    scale = robust_scale(SenseOperator(batch.maps, batch.mask).adjoint(batch.kspace))
    return torch.mean(torch.abs(output - batch.target) / scale)


def train_recon(config: ReconTrainConfig, log=lambda message: print(message, flush=True)) -> Path:
    """Train; write ``<out_dir>/unrolled_sense.safetensors`` and its card; return its path."""
    config.validate()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    volumes = load_training_volumes(config.data)
    maps, covariance, level = template_of(Path(config.template))
    pair_config = RawPairConfig(p_poisson=config.poisson_share, p_random=config.random_line_share, target=config.target)
    sampler = RawPairSampler([v.data for v in volumes], maps, covariance, level, pair_config, config.seed)
    net_config = UnrolledConfig(cascades=config.cascades, channels=config.channels, start=config.start,
                                final_projection=config.final_projection, data_consistency=config.data_consistency,
                                cg_iterations=config.cg_iterations)
    model = UnrolledSense(net_config)
    origin: list[dict[str, Any]] = []
    if config.init_weights is not None:
        source, source_card = load_unrolled(config.init_weights)
        fresh = _load_fine_tune_weights(model, source, config)
        origin = [{"fine_tuned_from": Path(config.init_weights).name, "sha256": source_card["sha256"],
                   "architecture": source_card.get("architecture"), "lineage": source_card.get("lineage", []),
                   "fresh_parameters": fresh}]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    checkpoint = Path(config.checkpoint_dir or config.out_dir) / f"{Path(BUNDLED_NAME).stem}.checkpoint"
    recipe = {"pairs": dataclasses.asdict(pair_config), "network": dataclasses.asdict(net_config), "batch_size": config.batch_size,
              "init_weights": origin[0]["sha256"] if origin else None}
    start, elapsed, history, lineage = 0, 0.0, [], origin
    if config.resume and checkpoint_files(checkpoint)[1].exists():
        state, extra = load_checkpoint(checkpoint, model, optimizer)
        if state["recipe"] != json_ready(recipe):
            raise MRDeepReconError(f"cannot resume with another recipe; the checkpoint has {state['recipe']}", checkpoint)
        start, elapsed, history, lineage = state["step"], state["elapsed_s"], state["history"], state["lineage"]
        sampler.generator.set_state(extra["sampler_generator"])
        log(f"resumed {checkpoint} at step {start}")
    log(f"unrolled SENSE: {model.parameter_count()} parameters, {len(volumes)} volumes, template {Path(config.template).name}")
    stop = config.stop_at or config.steps
    t0 = time.perf_counter()

    def session(step: int) -> dict[str, Any]:
        return {
            "steps": [start, step], "pairs": (step - start) * config.batch_size,
            "wall_hours": round((time.perf_counter() - t0) / 3600, 3),
            "host": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }

    def save(step: int) -> None:
        save_checkpoint(
            checkpoint, model, optimizer,
            {"step": step, "elapsed_s": elapsed + time.perf_counter() - t0, "history": history,
             "lineage": [*lineage, session(step)], "recipe": json_ready(recipe)},
            {"sampler_generator": sampler.generator.get_state()},
        )

    model.train()
    running: list[float] = []
    for step in range(start, stop):
        for group in optimizer.param_groups:
            group["lr"] = cosine_learning_rate(config.learning_rate, step, config.steps)
        loss = _loss(model, sampler.batch(config.batch_size))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running.append(float(loss.detach()))
        done = step + 1
        if config.max_minutes is not None and time.perf_counter() - t0 >= 60 * config.max_minutes:
            stop = done
        if done % config.log_every == 0 or done == stop:
            now = time.perf_counter() - t0
            history.append({"step": done, "l1": float(np.mean(running)), "elapsed_s": round(elapsed + now, 1)})
            log(f"step {done}/{config.steps}  l1 {history[-1]['l1']:.5f}  {(done - start) * config.batch_size / max(now, 1e-9):.2f} pairs/s")
            running = []
        if done % config.checkpoint_every == 0 and done < stop:
            save(done)
        if done == stop:
            break
    if stop < config.steps:
        save(stop)
    model.eval()
    card = {
        "name": Path(BUNDLED_NAME).stem,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": "reconstruct undersampled multi-coil Cartesian k-space given ESPIRiT coil maps (unrolled SENSE + CNN)",
        "training": {
            "data": [{"file": v.name, "sha256": v.sha256, "shape_zyx": list(v.data.shape)} for v in volumes],
            "held_out": list(HELD_OUT),
            "template": {"file": Path(config.template).name, "sha256": sha256_of(Path(config.template)),
                         "use": "ESPIRiT coil maps (augmented), noise covariance from the k-space corners, signal level"},
            "pairs": f"simulated in torch (mrdeeprecon.training.raw_pairs); target = the coil-combined {pair_config.target.replace('_', ' ')} image",
            "pair_config": json_ready(dataclasses.asdict(pair_config)),
            "steps": stop,
            "schedule_steps": config.steps,
            "batch_size": config.batch_size,
            "pairs_seen": stop * config.batch_size,
            "loss": "mean |x_hat - x| of the complex image / robust scale",
            "optimizer": f"Adam, lr {config.learning_rate:g} cosine-decayed to 2 % over {config.steps} steps",
            "seed": config.seed,
            "wall_hours": round((elapsed + time.perf_counter() - t0) / 3600, 3),
            "loss_history": history,
        },
        "lineage": [*lineage, session(stop)],
    }
    out = Path(config.out_dir) / BUNDLED_NAME
    save_unrolled(model, out, card)
    if stop == config.steps:
        for path in checkpoint_files(checkpoint):
            path.unlink(missing_ok=True)
    return out


def json_ready(value: Any) -> Any:
    """Tuples → lists, recursively (what a JSON round trip gives back)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value
