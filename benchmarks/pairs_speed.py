"""Speed of training-pair synthesis (``mrdeeprecon.training.pairs``) against a training step.

    python benchmarks/pairs_speed.py [--threads 1,2] [--device cpu|cuda] [--batches 100] [--rounds 3]
        [--volumes FILE ...] [--out benchmarks/RESULTS.md] [--json benchmarks/results_pairs.json]

For each thread count (CPU) or on the GPU: pairs per second of 2D pairs (one slice) and of 3D
pairs (7 slices), batches of 16 in groups of 4 sharing a scenario, drawn over the training
scenario mix; and the time of one training step of the bundled recipe's networks (2D and 3D;
base 16, depth 3, noise map, L1, batch 16, 96², channels-last, in the precision ``train`` picks
on the device: bf16 autocast where it is native, else float32), so the share of a step that
pair making takes is ``pair time / (pair time + step time)``, per model.
Both run with glibc's freed memory kept in the process, as ``mrdeeprecon train`` runs
(:mod:`mrdeeprecon.training.allocator`), and so does the numpy sampler's child process below.
Volumes: ``--volumes`` (NIfTI, or ``.npy`` arrays ``(z, y, x)`` on a machine without SimpleITK),
default two training volumes from ../shared/data. The section ``pairs`` of RESULTS.md is replaced.

The "× numpy sampler per thread" column divides by the numpy sampler this replaced (times the
threads used: it made its pairs on one core, one process per core), timed on the same machine
in the same run, in alternation with this one (``--rounds``; figures are medians over the
rounds, the ratio the median of the rounds' ratios, as a shared host's speed drifts by ±10 %):
its source is taken from git history (commit ``NUMPY_SAMPLER_COMMIT``, the last with it) and run in a child process on one thread, with the features closest to today's default
(noise-map input, a quarter of the pairs with coil-normalised noise). Where the history is not
there (a shallow clone), the column divides by the 42 pairs/s once measured on another machine,
and the table says so.
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
NUMPY_SAMPLER_COMMIT = "7d1de74"  # the last commit whose training pairs were made by the numpy sampler
NUMPY_SAMPLER_RECORDED_PAIRS_PER_S = 42.0  # measured on one core of another machine, before the port
BATCH = 16
NUMPY_SAMPLER_TIMING = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from mrdeeprecon.training.pairs import PairConfig, PairSampler
volumes = [np.load(path) for path in sys.argv[3:]]
sampler = PairSampler(volumes, PairConfig(kind="2d", noise_map=True, p_coil_noise=0.25), seed=0)
sampler.batch(16)
batches = int(sys.argv[2])
start = time.perf_counter()
for _ in range(batches):
    sampler.batch(16)
print(batches * 16 / (time.perf_counter() - start))
"""


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batches", type=int, default=100, help="batches of 2D pairs timed per measurement (3D: a quarter)")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each, alternated (medians reported)")
    parser.add_argument("--volumes", type=Path, nargs="+", help="training volumes (.nii.gz or .npy)")
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=BENCHMARKS_DIR / "results_pairs.json")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.batches < 1:
        parser.error("--rounds and --batches must be at least 1")
    return args


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


def numpy_sampler_pairs_per_second(volumes, batches: int) -> float | None:
    """Pairs per second of the numpy sampler of ``NUMPY_SAMPLER_COMMIT`` on one thread of this
    machine (batches of 16 after one warm-up batch); ``None`` where git history lacks it."""
    import io
    import os
    import subprocess
    import tarfile
    import tempfile

    import numpy as np

    from mrdeeprecon.training.allocator import environment

    archive = subprocess.run(["git", "-C", str(REPO), "archive", NUMPY_SAMPLER_COMMIT, "MRDeepRecon/mrdeeprecon"],
                             capture_output=True)
    if archive.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        paths = []
        for i, volume in enumerate(volumes):
            paths.append(os.path.join(folder, f"volume{i}.npy"))
            np.save(paths[-1], volume)
        env = {**os.environ, **environment(), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        result = subprocess.run([sys.executable, "-c", NUMPY_SAMPLER_TIMING, os.path.join(folder, "MRDeepRecon"),
                                 str(batches), *paths], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"the numpy sampler of commit {NUMPY_SAMPLER_COMMIT} failed to run here: {last}")
    return float(result.stdout.split()[-1])


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


def step_seconds(device: str, in_slices: int, precision: str, repeats: int = 10) -> float:
    """Seconds of one optimiser step of the bundled recipe's network (``in_slices`` 1: the 2D
    model, 7: the 3D model) on a batch of 16, at a resolved ``precision`` (as ``train`` runs it)."""
    import torch

    from mrdeeprecon.model import context_vector
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig, memory_format_for
    from mrdeeprecon.precision import forward_precision

    layout = memory_format_for(torch.device(device))
    model = CEUNet(CEUNetConfig(in_slices=in_slices, noise_input="map")).to(device, memory_format=layout)
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    inputs = torch.randn(BATCH, in_slices + 1, 96, 96, device=device).contiguous(memory_format=layout)
    context = torch.rand(BATCH, context_vector.SIZE, device=device)
    targets = torch.randn(BATCH, 1, 96, 96, device=device)

    def step() -> None:
        with forward_precision(precision, torch.device(device)):
            output = model(inputs, context)
        loss = torch.nn.functional.l1_loss(output.float(), targets)
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
    import statistics

    import torch

    from mrdeeprecon.training.allocator import retain_freed_memory
    from mrdeeprecon.precision import resolve_precision
    from mrdeeprecon.training.train import TrainConfig

    allocator = "glibc's freed memory kept" if retain_freed_memory() else "the default allocator"
    volumes = _volumes(args.volumes)
    settings = [("cuda", None)] if args.device == "cuda" else [("cpu", int(t)) for t in args.threads.split(",")]
    # Rounds alternate the numpy sampler and this one, so that a slower spell of a shared host
    # weighs on both; each figure is the median over the rounds, each ratio the median of the
    # rounds' ratios.
    numpy_rates, rates, from_history = [], {setting: [] for setting in settings}, True
    for round_ in range(args.rounds):
        measured = numpy_sampler_pairs_per_second(volumes, max(4, args.batches // 4))
        from_history = from_history and measured is not None
        numpy_rates.append(measured or NUMPY_SAMPLER_RECORDED_PAIRS_PER_S)
        for device, threads in settings:
            if threads:
                torch.set_num_threads(threads)
            rates[(device, threads)].append((pairs_per_second(volumes, 1, device, args.batches),
                                             pairs_per_second(volumes, 7, device, max(4, args.batches // 4))))
        print(f"round {round_ + 1}: numpy sampler {numpy_rates[-1]:.0f}/s, pairs/s (2D, 3D) "
              + ", ".join(f"{t or device}: {r[-1][0]:.0f}, {r[-1][1]:.0f}" for (device, t), r in rates.items()), flush=True)
    numpy_rate = statistics.median(numpy_rates)
    numpy_source = (f"{numpy_rate:.0f}/s on one thread here, commit {NUMPY_SAMPLER_COMMIT}" if from_history
                    else f"{NUMPY_SAMPLER_RECORDED_PAIRS_PER_S:.0f}/s per core on another machine; no git history here")
    runs = []
    for (device, threads), measured_rates in rates.items():
        if threads:
            torch.set_num_threads(threads)
        two_d = statistics.median(r[0] for r in measured_rates)
        three_d = statistics.median(r[1] for r in measured_rates)
        precision = resolve_precision(TrainConfig().precision, torch.device(device))
        step, step_3d = step_seconds(device, 1, precision), step_seconds(device, 7, precision)
        runs.append({
            "device": device if device == "cpu" else torch.cuda.get_device_name(),
            "threads": threads,
            "rounds": len(measured_rates),
            "pairs_per_s_2d": two_d,
            "pairs_per_s_3d": three_d,
            "step_precision": precision,
            "step_s": step,
            "step_s_3d": step_3d,
            "pair_share_of_step": BATCH / two_d / (BATCH / two_d + step),
            "pair_share_of_step_3d": BATCH / three_d / (BATCH / three_d + step_3d),
            "numpy_sampler_pairs_per_s": numpy_rate,
            "speedup_vs_numpy_per_core": statistics.median(
                r[0] / (n * (threads or 1)) for r, n in zip(measured_rates, numpy_rates)),
            "pairs_per_s_2d_rounds": [r[0] for r in measured_rates],
            "pairs_per_s_3d_rounds": [r[1] for r in measured_rates],
            "numpy_sampler_pairs_per_s_rounds": numpy_rates,
        })
        print(json.dumps(runs[-1]), flush=True)
    lines = [
        "## Training pairs (`python benchmarks/pairs_speed.py`)",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} ({platform.processor() or 'cpu'}). "
        "Batches of 16 pairs (groups of 4 sharing a scenario) over the training scenario mix; step = one "
        "optimiser step of the bundled recipe (base 16, depth 3, noise map, batch 16, 96²) of the 2D model (one slice in) "
        "or the 3D model (7 slices of a 3D acquisition in); pair share = pair time / (pair time + step); "
        f"{allocator}, as `mrdeeprecon train` runs; medians of {args.rounds} rounds that alternate with the numpy sampler.",
        "",
        f"| device | threads | 2D pairs/s | × numpy sampler per thread ({numpy_source}) | step precision | 2D step s | 2D pair share of a step | 3D pairs/s | 3D step s | 3D pair share of a step |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['device']} | {run['threads'] or '–'} | {run['pairs_per_s_2d']:.0f} | "
            f"{run['speedup_vs_numpy_per_core']:.1f} | {run['step_precision']} | {run['step_s']:.3f} | {100 * run['pair_share_of_step']:.0f} % | "
            f"{run['pairs_per_s_3d']:.0f} | {run['step_s_3d']:.3f} | {100 * run['pair_share_of_step_3d']:.0f} % |"
        )
    args.json.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    write_section(args.out, "pairs", "\n".join(lines) + "\n")
    print(f"wrote {args.out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
