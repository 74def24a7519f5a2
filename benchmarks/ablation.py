"""Denoiser ablation at equal training compute; writes ABLATION.md and results_ablation.json.

    python benchmarks/ablation.py [--arms base,l2,...] [--patches 50000] [--jobs 2]
        [--evaluate-only] [--quick]

Every arm is the base recipe with one change (:data:`ARMS`). Equal compute means equal training
FLOPs: each arm trains for the base arm's FLOPs of ``--patches`` patches of 96² (a forward and
backward pass counted by ``torch.utils.flop_counter``), on one CPU thread per arm, ``--jobs`` arms
at a time, in float32 (as the committed table was trained, whatever bf16 the CPU has), with its
own calibration. Each arm is then scored at its strongest noise reduction
(NR 10: the least noise it can leave) on the held-out ``seg3D_MR`` slab and the Philips phantom
201 with σ = 6 % and 10 % of the 99th percentile added inside the reference's own band
(``mrdeeprecon.evaluation.run_evaluation``), beside BM4D with the true σ: tissue PSNR (the
brightest 40 % of the reference), whole-volume PSNR and SSIM.

Trained arms live in ``benchmarks/ablation/<arm>/`` (not committed); rerun by hand, not by
``make quality``. ``--quick`` trains each arm for a few steps on one volume: a plumbing check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import BENCHMARKS_DIR, ENGINE_DIR, REPO, use_repository_engine, write_section

SHARED = REPO.parent / "shared" / "data"
SEG3D = SHARED / "volumes" / "seg3D_MR.nii.gz"
PHILIPS = SHARED / "dicom" / "philips_phantom"
SEG3D_SLAB = (60, 100)
NOISE_LEVELS = (0.06, 0.10)
#: arm → (what it changes, TrainConfig overrides); "base" is the recipe the others change.
ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "base": ("CE U-Net base 16, depth 3, plain blocks, L1, noise map, all-in-one target", {}),
    "l2": ("loss L2", {"loss": "l2"}),
    "l1_ssim": ("loss 0.84 (1 - SSIM) + 0.16 L1", {"loss": "l1_ssim"}),
    "scalar": ("noise level as a scalar (the map's median)", {"noise_input": "scalar"}),
    "blind": ("no noise-level input", {"noise_input": "blind"}),
    "residual_d4": ("normalised residual blocks, depth 4", {"block": "residual", "depth": 4}),
    "denoise_only": ("target = the noise-free degraded image (a denoise-only specialist)", {"target": "noise_free"}),
    "nlm_targets": ("training volumes denoised first (non-local means)", {"clean_targets": "nlm"}),
    "interpolated": ("a third of the scenarios scanner-interpolated (in-plane k_max 0.45-0.7)", {"p_interpolated": 0.33}),
    "slices_2_5d": ("2.5D: 3 adjacent slices of 2D acquisitions in, slice spacing 1-2× the training volumes'", {"kind": "2.5d"}),
    "slab_3d": ("3D: 7 slices of a 3D acquisition in (the 3D model's input), scored on 3D acquisitions only", {"kind": "3d"}),
}
#: reference → how it was acquired: a 3D arm (kind "3d") is scored only on 3D acquisitions, as the
#: panel picks the 3D model only for those; every other arm reads each reference as a 2D acquisition.
ACQUISITIONS = {"seg3D": "3D", "philips201": "2D"}
BATCH = 16


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", help=f"comma-separated among {','.join(ARMS)} (default: all)")
    parser.add_argument("--patches", type=int, default=50_000, help="base arm's training patches")
    parser.add_argument("--jobs", type=int, default=2, help="arms trained at a time (one thread each)")
    parser.add_argument("--evaluate-only", action="store_true", help="score the arms already trained")
    parser.add_argument("--quick", action="store_true", help="a few steps on one volume: checks the plumbing")
    parser.add_argument("--out", type=Path, default=BENCHMARKS_DIR / "ABLATION.md")
    parser.add_argument("--json", type=Path, default=BENCHMARKS_DIR / "results_ablation.json")
    parser.add_argument("--work", type=Path, default=BENCHMARKS_DIR / "ablation")
    return parser.parse_args(argv)


def _network(overrides: dict[str, Any]):
    """The arm's untrained network."""
    from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
    from mrdeeprecon.training.train import KINDS

    return CEUNet(CEUNetConfig(in_slices=KINDS[overrides.get("kind", "2d")]["in_slices"], base_channels=16,
                               depth=overrides.get("depth", 3), block=overrides.get("block", "plain"),
                               noise_input=overrides.get("noise_input", "map")))


def model_file(arm: str, work: Path, suffix: str = ".safetensors") -> Path:
    """Where the arm's trained model (or, with ``suffix=".checkpoint.json"``, its checkpoint) lives."""
    return work / arm / f"ce_unet_{ARMS[arm][1].get('kind', '2d')}{suffix}"


def training_flops(overrides: dict[str, Any], patch: int = 96) -> float:
    """FLOPs of one training patch (forward + backward) of the arm's network."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mrdeeprecon.model import context_vector

    model = _network(overrides)
    inputs = torch.randn(1, model.config.input_channels, patch, patch)
    with FlopCounterMode(display=False) as counter:
        model(inputs, torch.rand(1, context_vector.SIZE)).sum().backward()
    return float(counter.get_total_flops())


def inference_gflop(overrides: dict[str, Any], size: int = 256) -> float:
    """GFLOP of the arm's network on one ``size``² slice."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from mrdeeprecon.model import context_vector

    model = _network(overrides)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(1, model.config.input_channels, size, size), torch.rand(1, context_vector.SIZE))
    return counter.get_total_flops() / 1e9


def _train_command(arm: str, steps: int, work: Path, quick: bool) -> list[str]:
    overrides = ARMS[arm][1]
    command = [sys.executable, "-m", "mrdeeprecon.cli", "train", "--out", str(work / arm),
               "--steps", str(steps), "--batch-size", str(BATCH), "--threads", "1", "--device", "cpu",
               "--checkpoint-every", "250", "--log-every", "50", "--precision", "float32"]
    if quick:
        command += ["--data", str(SHARED / "volumes" / "stroke_T1.nii.gz")]
    for name, value in overrides.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    if model_file(arm, work, ".checkpoint.json").exists():
        command.append("--resume")
    return command


def plan_arms(arms: list[str], budget_patches: int) -> dict[str, dict]:
    """Steps, patches and FLOPs of each arm for equal training FLOPs."""
    base_flops = training_flops({})
    plans = {}
    for arm in arms:
        flops = training_flops(ARMS[arm][1])
        steps = max(1, round(budget_patches * base_flops / flops / BATCH))
        plans[arm] = {"steps": steps, "patches": steps * BATCH, "training_tflop": steps * BATCH * flops / 1e12,
                      "inference_gflop_256": inference_gflop(ARMS[arm][1])}
    return plans


def train_arms(arms: list[str], budget_patches: int, jobs: int, work: Path, quick: bool) -> dict[str, dict]:
    """Train the arms (``jobs`` at a time, resuming interrupted ones); returns their compute."""
    plans = plan_arms(arms, budget_patches)
    pending = [a for a in arms if not model_file(a, work).exists()]
    running: list[tuple[str, subprocess.Popen, float]] = []
    while pending or running:
        while pending and len(running) < jobs:
            arm = pending.pop(0)
            (work / arm).mkdir(parents=True, exist_ok=True)
            log = open(work / arm / "train.log", "a")
            command = _train_command(arm, plans[arm]["steps"], work, quick)
            print(f"training {arm}: {plans[arm]['steps']} steps", flush=True)
            environment = {**os.environ, "PYTHONPATH": str(ENGINE_DIR)}
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=environment)
            running.append((arm, process, time.time()))
        time.sleep(5)
        for item in list(running):
            arm, process, started = item
            if process.poll() is not None:
                running.remove(item)
                if process.returncode != 0:
                    raise SystemExit(f"arm {arm} failed; see {work / arm / 'train.log'}")
                print(f"{arm} done in {(time.time() - started) / 60:.1f} min", flush=True)
    return plans


def _philips_201():
    from mrdeeprecon.io import load_volume

    series = sorted(p for p in PHILIPS.iterdir() if p.is_dir() and p.name.startswith("201"))
    return load_volume(series[0])


def evaluate(arms: list[str], work: Path, quick: bool) -> dict[str, Any]:
    """Scores of every arm (and BM4D, where installed) in each scenario."""
    from mrdeeprecon.evaluation.baselines import module_available
    from mrdeeprecon.evaluation.runner import run_evaluation
    from mrdeeprecon.io import load_volume
    from mrdeeprecon.kspace.degrade import DegradationSpec

    references = {"seg3D": (load_volume(SEG3D), (70, 74) if quick else SEG3D_SLAB)}
    if not quick:
        references["philips201"] = (_philips_201(), None)
    results: dict[str, Any] = {}
    for label, (volume, slices) in references.items():
        for sigma in NOISE_LEVELS:
            scenario = f"{label}_sigma{round(sigma * 100)}"
            rows = {}
            for index, arm in enumerate(arms):
                is_3d = ARMS[arm][1].get("kind") == "3d"
                if is_3d and ACQUISITIONS[label] != "3D":
                    continue
                methods = ["ours"] + (["bm4d"] if index == 0 and module_available("bm4d") and not quick else [])
                result = run_evaluation(volume, DegradationSpec(noise=sigma), methods=methods, noise_reduction=10.0,
                                        slices=slices, acquisition="3D" if is_3d else "2D", seed=1,
                                        model_path=model_file(arm, work), device="cpu")
                for row in result.rows:
                    name = arm if row.method == "ours" else row.method
                    rows[name] = {"tissue_psnr_db": row.tissue["psnr_db"], "psnr_db": row.scores["psnr_db"],
                                  "ssim": row.scores["ssim"], "tissue_ssim": row.tissue["ssim"]}
                print(f"{scenario} {arm}: tissue PSNR {rows[arm]['tissue_psnr_db']:.2f} dB", flush=True)
            results[scenario] = rows
    return results


def _markdown(plans: dict[str, dict], scores: dict[str, Any], args: argparse.Namespace, patches: int) -> str:
    scenarios = list(scores)
    header = "| arm | change | patches | training TFLOP | GFLOP / 256² slice | " + " | ".join(
        f"{s} tissue dB" for s in scenarios) + " | mean Δ vs base dB | " + " | ".join(f"{s} PSNR / SSIM" for s in scenarios) + " |"
    lines = [
        "# Denoiser ablation at equal training compute",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} "
        f"by `python benchmarks/ablation.py` (base arm: {patches} patches of 96², one CPU thread per arm)."
        + (" **--quick: plumbing check, numbers mean nothing.**" if args.quick else ""),
        "Each arm trains for the base arm's training FLOPs, then is scored at NR 10 (the least noise it "
        "leaves) with noise added inside the reference's band; tissue = the reference's brightest 40 %.",
        "",
        header,
        "|" + "---|" * (6 + 2 * len(scenarios)),
    ]
    for arm, plan in plans.items():
        scored = [s for s in scenarios if arm in scores[s]]
        deltas = [scores[s][arm]["tissue_psnr_db"] - scores[s]["base"]["tissue_psnr_db"] for s in scored if "base" in scores[s]]
        delta = f"{sum(deltas) / len(deltas):+.2f}" if deltas and "base" in plans else "–"
        tissue = [f"{scores[s][arm]['tissue_psnr_db']:.2f}" if s in scored else "–" for s in scenarios]
        whole = [f"{scores[s][arm]['psnr_db']:.2f} / {scores[s][arm]['ssim']:.3f}" if s in scored else "–" for s in scenarios]
        lines.append(
            f"| {arm} | {ARMS[arm][0]} | {plan['patches']} | {plan['training_tflop']:.0f} | "
            f"{plan['inference_gflop_256']:.2f} | " + " | ".join(tissue) + f" | {delta} | " + " | ".join(whole) + " |"
        )
    if all("bm4d" in scores[s] for s in scenarios):
        lines.append("| bm4d | BM4D with the true σ (reference) | – | – | – | "
                     + " | ".join(f"{scores[s]['bm4d']['tissue_psnr_db']:.2f}" for s in scenarios) + " | – | "
                     + " | ".join(f"{scores[s]['bm4d']['psnr_db']:.2f} / {scores[s]['bm4d']['ssim']:.3f}" for s in scenarios) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    use_repository_engine()
    arms = list(ARMS) if not args.arms else [a.strip() for a in args.arms.split(",")]
    unknown = set(arms) - set(ARMS)
    if unknown:
        raise SystemExit(f"unknown arm(s): {', '.join(sorted(unknown))}")
    patches = 64 if args.quick else args.patches
    if args.evaluate_only:
        plans = plan_arms(arms, patches)
    else:
        plans = train_arms(arms, patches, args.jobs, args.work, args.quick)
    scores = evaluate(arms, args.work, args.quick)
    args.json.write_text(json.dumps({"plans": plans, "scores": scores, "patches": patches}, indent=1) + "\n")
    write_section(args.out, "ablation", _markdown(plans, scores, args, patches))
    print(f"wrote {args.out} and {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
