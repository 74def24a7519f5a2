"""Probe: a scan-specific, self-supervised fine-tune of a bundled model on the degraded volume itself.

    python benchmarks/training/scan_specific_r2r/probe.py --sigma 0.10 --kind 2d --planes 1 \
        --steps 1000,3000 --learning-rate 6e-4 [--alpha 0.5]

Recorrupted-to-Recorrupted (Pang et al., CVPR 2021): from the noisy input ``y`` (noise SD σ) and fresh
noise ``z`` of the same SD, ``y + α·z`` is the network's input and ``y − z / α`` its target; for
Gaussian noise independent of the signal the expected target given the input is the clean image, so
an L2 fine-tune on pairs cut from the input volume alone (no reference) adapts the network to this
scan's anatomy and noise. Here σ is the median of the engine's local noise SD map of the
standardised input and ``z`` is white (the noise of the held-out case fills k-space).

The held-out ``seg3D_MR`` slab (slices 60–99) is degraded as the quality benchmark's denoising
scenario (σ of the 99th percentile added inside its band, seed 0; read as a 2D acquisition for the
2D model, as the 3D one for the 3D model). The bundled model is fine-tuned on 96² patches of the
standardised input's slices (with ``--planes 3``: of the views along each axis, one drawn per
batch, patches as tall as a view allows; batches of 8, Adam, cosine-decayed learning rate, bf16
forward pass) and its clean estimate scored in tissue (the reference's brightest 40 %) at each of ``--steps``;
with ``--planes 3`` the enhancement at NR 10 with three planes is scored instead. Prints one line
per point. Nothing is written to the repository; it only measures.
"""

from __future__ import annotations

import argparse
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
from mrdeeprecon.inference import clean_estimate, enhance  # noqa: E402
from mrdeeprecon.io import load_volume  # noqa: E402
from mrdeeprecon.kspace.degrade import DegradationSpec  # noqa: E402
from mrdeeprecon.metrics import psnr  # noqa: E402
from mrdeeprecon.model import context_vector  # noqa: E402
from mrdeeprecon.model.weights import bundled_model_path, load_model, save_model  # noqa: E402
from mrdeeprecon.noise_map import local_noise_sd, noise_channel  # noqa: E402
from mrdeeprecon.planes import VIEW_ORDERS, view  # noqa: E402
from mrdeeprecon.qa.foreground import foreground_mask  # noqa: E402
from mrdeeprecon.settings import EnhanceSettings  # noqa: E402
from mrdeeprecon.standardize import standardize  # noqa: E402
from mrdeeprecon.tissue import tissue_mask  # noqa: E402

SEG3D = REPO.parent / "shared" / "data" / "volumes" / "seg3D_MR.nii.gz"
SLAB = (60, 100)
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
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    torch.manual_seed(args.seed)
    reference = crop_slices(load_volume(SEG3D), *SLAB)
    context = ScanContext(acquisition=args.kind.upper(), kmax=(1.0, 1.0, 1.0))
    spec = band_limited_spec(DegradationSpec(noise=args.sigma), describe_reference(reference.data).band, context)
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

    print(f"{args.kind}, {args.planes} plane(s), sigma {args.sigma:g}: before {score():.2f} dB", flush=True)
    data = torch.from_numpy(np.ascontiguousarray(scenario.degraded.data, np.float32))
    noisy = standardize(data, scenario.context, (1.0, 1.0, 1.0)).data
    sampling = scenario.context.on_output_grid((1.0, 1.0, 1.0))
    kmax = sampling.kmax[:2]
    sigma = float(local_noise_sd(noisy, kmax).median())
    code = torch.from_numpy(context_vector.encode(sampling))[None].expand(BATCH, -1)
    half = model.config.in_slices // 2
    optimizer = torch.optim.Adam(model.parameters(), args.learning_rate)
    points = [int(s) for s in args.steps.split(",")]
    start, step = time.perf_counter(), 0
    model.train()
    for point in points:
        while step < point:
            for group in optimizer.param_groups:
                group["lr"] = args.learning_rate * 0.5 * (1 + math.cos(math.pi * step / points[-1]))
            turned = view(noisy, int(torch.randint(0, len(VIEW_ORDERS), ()))) if args.planes == 3 else noisy
            height, width = min(PATCH, turned.shape[1]), min(PATCH, turned.shape[2])
            middles = torch.randint(half, turned.shape[0] - half, (BATCH,)).tolist()
            rows = torch.randint(0, turned.shape[1] - height + 1, (BATCH,)).tolist()
            columns = torch.randint(0, turned.shape[2] - width + 1, (BATCH,)).tolist()
            stacks = torch.stack([turned[m - half : m + half + 1] for m in middles])  # (B, slices, y, x)
            fresh = sigma * torch.randn_like(stacks)
            inputs, targets = stacks + args.alpha * fresh, (stacks - fresh / args.alpha)[:, half]
            level = noise_channel(local_noise_sd(inputs[:, half], kmax), model.config.noise_input)

            def patches(images: torch.Tensor) -> torch.Tensor:
                return torch.stack([images[i, ..., r : r + height, c : c + width]
                                    for i, (r, c) in enumerate(zip(rows, columns))])

            with torch.autocast("cpu", dtype=torch.bfloat16):
                output = model(torch.cat([patches(inputs), patches(level)[:, None]], 1), code)
            loss = torch.nn.functional.mse_loss(output.float()[:, 0], patches(targets))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
        model.eval()
        print(f"after {step} steps ({time.perf_counter() - start:.0f} s): {score():.2f} dB", flush=True)
        model.train()


if __name__ == "__main__":
    main()
