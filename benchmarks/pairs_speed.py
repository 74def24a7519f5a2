"""Speed of training-pair synthesis (``mrdeeprecon.training.pairs``) against a training step.

    python benchmarks/pairs_speed.py [--threads 1,2] [--device cpu|cuda] [--batches 40]
        [--volumes FILE ...] [--out benchmarks/RESULTS.md] [--json benchmarks/results_pairs.json]

For each thread count (CPU) or on the GPU: pairs per second of 2D pairs (one slice) and of 3D
pairs (7 slices), batches of 16 in groups of 4 sharing a scenario, drawn over the training
scenario mix; and the time of one training step of the bundled recipe's network (base 16, depth
3, noise map, L1, batch 16, 96², fp32 on the CPU, bf16 autocast on CUDA), so the share of a step
that pair making takes is ``pair time / (pair time + step time)``. Volumes: ``--volumes`` (NIfTI,
or ``.npy`` arrays ``(z, y, x)`` on a machine without SimpleITK), default two training volumes
from ../shared/data. The section ``pairs`` of RESULTS.md is replaced.

The numpy sampler this replaced made 42 pairs/s on one core (measured before the port; 33 pairs/s
on this 2-core machine with both cores busy, commit ddf6eaf).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from common import BENCHMARKS_DIR, REPO, use_repository_engine, write_section

DEFAULT_VOLUMES = ("stroke_T1.nii.gz", "MNI152_2009_template.nii.gz")
NUMPY_SAMPLER_PAIRS_PER_S = 42.0
BATCH = 16


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batches", type=int, default=40, help="batches timed per measurement")
    parser.add_argument("--volumes", type=Path, nargs="+", help="training volumes (.nii.gz or .npy)")
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=BENCHMARKS_DIR / "results_pairs.json")
    return parser.parse_args(argv)


def _volumes(paths: list[Path] | None):
    import numpy as np

    paths = paths or [REPO.parent / "shared" / "data" / "volumes" / n for n in DEFAULT_VOLUMES]
    volumes = []
    for path in paths:
        if path.suffix == ".npy":
            volumes.append(np.load(path))
        else:
            from mrdeeprecon.io import load_volume

            volumes.append(load_volume(path).data)
    return volumes


def _synchronise(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def pairs_per_second(volumes, in_slices: int, device: str, batches: int) -> float:
    """Pairs per second of :class:`PairSampler` batches of 16 (after one warm-up batch)."""
    from mrdeeprecon.training.pairs import PairConfig, PairSampler

    sampler = PairSampler(volumes, PairConfig(in_slices=in_slices), seed=0, device=device)
    sampler.batch(BATCH)
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(batches):
        sampler.batch(BATCH)
    _synchronise(device)
    return batches * BATCH / (time.perf_counter() - start)


def step_seconds(device: str, repeats: int = 10) -> float:
    """Seconds of one optimiser step of the bundled recipe's 2D network on a batch of 16."""
    import contextlib

    import torch

    from mrdeeprecon.model import context_vector
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig

    model = CEUNet(CEUNetConfig(noise_input="map")).to(device)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    inputs = torch.randn(BATCH, 2, 96, 96, device=device)
    context = torch.rand(BATCH, context_vector.SIZE, device=device)
    targets = torch.randn(BATCH, 1, 96, 96, device=device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else contextlib.nullcontext()

    def step() -> None:
        with autocast:
            loss = torch.nn.functional.l1_loss(model(inputs, context), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    _synchronise(device)
    return (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    use_repository_engine()
    import torch

    volumes = _volumes(args.volumes)
    runs = []
    settings = [("cuda", None)] if args.device == "cuda" else [("cpu", int(t)) for t in args.threads.split(",")]
    for device, threads in settings:
        if threads:
            torch.set_num_threads(threads)
        two_d = pairs_per_second(volumes, 1, device, args.batches)
        three_d = pairs_per_second(volumes, 7, device, max(4, args.batches // 4))
        step = step_seconds(device)
        pair_time = BATCH / two_d
        runs.append({
            "device": device if device == "cpu" else torch.cuda.get_device_name(),
            "threads": threads,
            "pairs_per_s_2d": two_d,
            "pairs_per_s_3d": three_d,
            "step_s": step,
            "pair_share_of_step": pair_time / (pair_time + step),
            "speedup_vs_numpy_core": two_d / NUMPY_SAMPLER_PAIRS_PER_S,
        })
        print(json.dumps(runs[-1]), flush=True)
    lines = [
        "## Training pairs (`python benchmarks/pairs_speed.py`)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} ({platform.processor() or 'cpu'}). "
        "Batches of 16 pairs (groups of 4 sharing a scenario) over the training scenario mix; step = one "
        "optimiser step of the bundled recipe (base 16, depth 3, noise map, batch 16, 96²).",
        "",
        "| device | threads | 2D pairs/s | 3D pairs/s | × numpy sampler (42/s per core) | step s | pair share of a step |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['device']} | {run['threads'] or '–'} | {run['pairs_per_s_2d']:.0f} | {run['pairs_per_s_3d']:.0f} | "
            f"{run['speedup_vs_numpy_core']:.1f} | {run['step_s']:.3f} | {100 * run['pair_share_of_step']:.0f} % |"
        )
    args.json.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    write_section(args.out, "pairs", "\n".join(lines) + "\n")
    print(f"wrote {args.out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
