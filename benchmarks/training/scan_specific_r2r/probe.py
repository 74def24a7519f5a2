"""Probe: a scan-specific, self-supervised fine-tune of a bundled model on the degraded volume itself.

    python benchmarks/training/scan_specific_r2r/probe.py --sigma 0.10 --kind 2d --planes 1 \
        --steps 1000,3000 --learning-rate 6e-4 [--alpha 0.5] [--kmax 0.5] [--ceiling]

Recorrupted-to-Recorrupted (Pang et al., CVPR 2021): from the noisy input ``y`` (noise SD σ) and fresh
noise ``z`` of the same SD, ``y + α·z`` is the network's input and ``y − z / α`` its target; for
Gaussian noise independent of the signal the expected target given the input is the clean image, so
an L2 fine-tune on pairs cut from the input volume alone (no reference) adapts the network to this
scan's anatomy and noise. Here ``z`` is white noise cut to the acquired in-plane k-space band
(``--kmax``, default 1: the noise fills k-space; the calibration's ``band_noise``), of SD 1, then scaled, voxel by voxel, to
the engine's local noise SD map of the standardised input (a volume's median would understate the
noise where air, whose magnitude noise is weaker, fills most of it: the phantom). Where the noisy
signal is below ``--snr-floor`` × that SD the magnitude's noise is not Gaussian and the recorrupted
target would carry its Rician bias, so there the target is the unadapted network's estimate.

The held-out ``seg3D_MR`` slab (slices 60–99; read as a 2D acquisition for the 2D model, as the 3D
one for the 3D model) or the Philips phantom's series 201 (``--reference philips201``, a 2D TSE) is
degraded as the quality benchmark's denoising scenario (σ of the 99th percentile added inside its
band; noise seed 0, where the benchmark draws seed 1). The bundled model is fine-tuned on 96² patches of the
standardised input's slices (with ``--planes 3``: of the views along each axis, one drawn per
batch, patches as tall as a view allows; batches of 8, Adam, cosine-decayed learning rate, bf16
forward pass) and its clean estimate scored in tissue (the reference's brightest 40 %) at each of ``--steps``;
with ``--planes 3`` the enhancement at NR 10 with three planes is scored instead. ``--kmax``
acquires the slab with that in-plane k_max (noise in that band, shown on the original grid: a
scanner's interpolation). ``--ceiling`` measures instead the noise reduction of the clean estimate
as the tunable-denoising benchmark does (two noise realisations, seeds 1 and 2, each adapted on
its own; input / output noise SD of their difference in homogeneous tissue): the most the knob can
reach. Prints one line per point. Nothing is written to the repository; it only measures.
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "MRDeepRecon"))

from mrdeeprecon.context import ScanContext  # noqa: E402
from mrdeeprecon.evaluation.reference import crop_slices, describe_reference  # noqa: E402
from mrdeeprecon.evaluation.scenario import band_limited_spec, simulate_scenario  # noqa: E402
from mrdeeprecon.evaluation.tunable import replica_sd, replicas  # noqa: E402
from mrdeeprecon.inference import clean_estimate, enhance  # noqa: E402
from mrdeeprecon.io import load_volume  # noqa: E402
from mrdeeprecon.kspace.degrade import DegradationSpec  # noqa: E402
from mrdeeprecon.metrics import psnr  # noqa: E402
from mrdeeprecon.model import context_vector  # noqa: E402
from mrdeeprecon.model.weights import bundled_model_path, load_model, save_model  # noqa: E402
from mrdeeprecon.noise_map import local_noise_sd, noise_channel  # noqa: E402
from mrdeeprecon.planes import VIEW_ORDERS, view, view_sampling  # noqa: E402
from mrdeeprecon.qa.foreground import foreground_mask  # noqa: E402
from mrdeeprecon.settings import EnhanceSettings  # noqa: E402
from mrdeeprecon.standardize import standardize  # noqa: E402
from mrdeeprecon.tissue import homogeneous_tissue, tissue_mask  # noqa: E402
from mrdeeprecon.volume_calibration import band_noise  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
#: The held-out references as the quality benchmark reads them: file, slices, acquisition.
REFERENCES = {
    "seg3D": (SHARED / "volumes" / "seg3D_MR.nii.gz", (60, 100), None),
    "philips201": (SHARED / "dicom" / "philips_phantom", None, "2D"),
}
PATCH = 96
BATCH = 8
#: Card entries that save_model writes itself.
WRITTEN_BY_SAVE = ("sha256", "format", "architecture", "context_fields", "parameter_count")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigma", type=float, default=0.10, help="noise σ, fraction of the 99th percentile")
    parser.add_argument("--kind", choices=("2d", "3d"), default="2d")
    parser.add_argument("--planes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--steps", default="1000,3000", help="comma-separated steps at which to score")
    parser.add_argument("--learning-rate", type=float, default=6e-4, help="peak, cosine-decayed to 0 at the last step")
    parser.add_argument("--alpha", type=float, default=0.5, help="recorruption strength α")
    parser.add_argument("--snr-floor", type=float, default=3.0,
                        help="below this signal / local noise SD the target is the unadapted network's estimate (0: never)")
    parser.add_argument("--kmax", type=float, default=1.0, help="in-plane k_max of the simulated acquisition")
    parser.add_argument("--ceiling", action="store_true", help="measure the clean estimate's noise reduction (one plane)")
    parser.add_argument("--reference", choices=tuple(REFERENCES), default="seg3D",
                        help="seg3D (read as --kind says) or the Philips phantom's series 201 (a 2D TSE, one plane)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def adapt(model, noisy: torch.Tensor, sampling, args: argparse.Namespace, each_point) -> None:
    """Fine-tune ``model`` by Recorrupted-to-Recorrupted on the standardised ``noisy`` volume
    (acquired as ``sampling`` says); ``each_point(step, seconds)`` at each of ``args.steps``."""
    axes = range(len(VIEW_ORDERS)) if args.planes == 3 else range(1)
    samplings = {axis: view_sampling(sampling, axis) if args.planes == 3 else sampling for axis in axes}
    views = {axis: view(noisy, axis) for axis in axes}
    noise_sd = {axis: local_noise_sd(views[axis], samplings[axis].kmax[:2]) for axis in axes}
    half = model.config.in_slices // 2
    anchor = copy.deepcopy(model).eval()
    optimizer = torch.optim.Adam(model.parameters(), args.learning_rate)
    points = [int(s) for s in args.steps.split(",")]
    start, step = time.perf_counter(), 0
    model.train()
    for point in points:
        while step < point:
            for group in optimizer.param_groups:
                group["lr"] = args.learning_rate * 0.5 * (1 + math.cos(math.pi * step / points[-1]))
            axis = int(torch.randint(0, len(axes), ()))
            turned, seen = views[axis], samplings[axis]
            code = torch.from_numpy(context_vector.encode(seen))[None].expand(BATCH, -1)
            height, width = min(PATCH, turned.shape[1]), min(PATCH, turned.shape[2])
            middles = torch.randint(half, turned.shape[0] - half, (BATCH,)).tolist()
            rows = torch.randint(0, turned.shape[1] - height + 1, (BATCH,)).tolist()
            columns = torch.randint(0, turned.shape[2] - width + 1, (BATCH,)).tolist()
            stacks = torch.stack([turned[m - half : m + half + 1] for m in middles])  # (B, slices, y, x)
            local_sd = torch.stack([noise_sd[axis][m - half : m + half + 1] for m in middles])
            unit = band_noise((BATCH * stacks.shape[1], *stacks.shape[2:]), (*seen.kmax[:2], 1.0),
                              torch.default_generator, noisy.device)
            fresh = local_sd * unit.reshape(stacks.shape)
            inputs, targets = stacks + args.alpha * fresh, (stacks - fresh / args.alpha)[:, half]
            level = noise_channel(local_noise_sd(inputs[:, half], seen.kmax[:2]), model.config.noise_input)

            def patches(images: torch.Tensor) -> torch.Tensor:
                return torch.stack([images[i, ..., r : r + height, c : c + width]
                                    for i, (r, c) in enumerate(zip(rows, columns))])

            network_inputs = torch.cat([patches(inputs), patches(level)[:, None]], 1)
            # Where the signal is below --snr-floor × the local noise SD the magnitude's noise is not
            # Gaussian (Rician bias), so the recorrupted target would teach the bias: there the
            # target is the unadapted network's estimate instead.
            gaussian = patches(stacks[:, half]) >= args.snr_floor * patches(local_sd[:, half])
            with torch.autocast("cpu", dtype=torch.bfloat16):
                with torch.no_grad():
                    anchored = anchor(network_inputs, code).float()[:, 0]
                output = model(network_inputs, code)
            target = torch.where(gaussian, patches(targets), anchored)
            loss = torch.nn.functional.mse_loss(output.float()[:, 0], target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        model.eval()
        each_point(step, time.perf_counter() - start)
        model.train()
    model.eval()


def _standardised(degraded, context: ScanContext) -> tuple[torch.Tensor, object]:
    data = torch.from_numpy(np.ascontiguousarray(degraded.data, np.float32))
    return standardize(data, context, (1.0, 1.0, 1.0)).data, context.on_output_grid((1.0, 1.0, 1.0))


def _ceiling(args: argparse.Namespace, reference, context: ScanContext) -> None:
    """The clean estimate's noise reduction in homogeneous tissue, before and after adaptation."""
    pair = replicas(reference, DegradationSpec(noise=args.sigma, kmax=(args.kmax, args.kmax, 1.0)), context, 1)
    region = homogeneous_tissue(reference.data)
    input_sd = replica_sd(pair.a.data, pair.b.data, region)
    models = [load_model(bundled_model_path(args.kind))[0] for _ in range(2)]

    def ceiling() -> float:
        a, b = (clean_estimate(m, v.data, pair.context) for m, v in zip(models, (pair.a, pair.b)))
        return input_sd / replica_sd(a, b, region)

    print(f"{args.kind}, k_max {args.kmax:g}, sigma {args.sigma:g}: estimate's NR before {ceiling():.2f}", flush=True)
    for model, volume in zip(models, (pair.a, pair.b)):
        adapt(model, *_standardised(volume, pair.context), args, lambda step, seconds: None)
    print(f"after {args.steps.split(',')[-1]} steps each: {ceiling():.2f}", flush=True)


def main() -> None:
    args = _arguments()
    torch.manual_seed(args.seed)
    path, slices, acquisition = REFERENCES[args.reference]
    if args.reference == "philips201":
        path = next(p for p in sorted(path.iterdir()) if p.is_dir() and p.name.startswith("201"))
    reference = load_volume(path)
    reference = crop_slices(reference, *slices) if slices else reference
    context = ScanContext(acquisition=acquisition or args.kind.upper(), kmax=(1.0, 1.0, 1.0))
    if args.ceiling:
        _ceiling(args, reference, context)
        return
    requested = DegradationSpec(noise=args.sigma, kmax=(args.kmax, args.kmax, 1.0))
    spec = band_limited_spec(requested, describe_reference(reference.data).band, context)
    scenario = simulate_scenario(reference, spec, context, 0, foreground_mask(reference))
    clean, tissue = np.asarray(reference.data, np.float64), tissue_mask(reference.data)
    model, card = load_model(bundled_model_path(args.kind))
    folder = Path(tempfile.mkdtemp())

    def score() -> float:
        if args.planes == 1:
            return psnr(clean, clean_estimate(model, scenario.degraded.data, scenario.context), mask=tissue)
        path = folder / f"ce_unet_{args.kind}.safetensors"
        save_model(model, path, {k: v for k, v in card.items() if k not in WRITTEN_BY_SAVE})
        settings = EnhanceSettings(noise_reduction=10, planes=3, device="cpu", model_path=path)
        enhanced = enhance(scenario.degraded, settings, context=scenario.context)
        return psnr(clean, np.asarray(enhanced.data, np.float64), mask=tissue)

    print(f"{args.kind}, {args.planes} plane(s), k_max {args.kmax:g}, sigma {args.sigma:g}: before {score():.2f} dB", flush=True)
    adapt(model, *_standardised(scenario.degraded, scenario.context), args,
          lambda step, seconds: print(f"after {step} steps ({seconds:.0f} s): {score():.2f} dB", flush=True))


if __name__ == "__main__":
    main()
