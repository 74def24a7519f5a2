"""Probe: the engine's scan-specific fine-tune (:mod:`mrdeeprecon.scan_adaptation`) against a reference.

    python benchmarks/training/scan_specific_r2r/probe.py --sigma 0.10 --kind 2d --planes 1 \
        --max-steps 3000 [--no-stop] [--kmax 0.5] [--ceiling] [--reference philips201]

The held-out ``seg3D_MR`` slab (slices 60–99; read as a 2D acquisition for the 2D model, as the 3D
one for the 3D model) or the Philips phantom's series 201 (``--reference philips201``, a 2D TSE) is
degraded as the quality benchmark's denoising scenario (σ of the 99th percentile added inside its
band; noise seed 0, where the benchmark draws seed 1). The bundled model is fine-tuned on the
standardised input by :func:`~mrdeeprecon.scan_adaptation.adapt_to_scan` (every setting is that
module's), and at each of its evaluations the probe prints the held-out recorrupted loss (relative
to step 0; what the stopping rule reads) beside the tissue PSNR (the reference's brightest 40 %) of
the clean estimate, or, with ``--planes 3``, of the NR 10 enhancement with three planes: whether
the rule stops where the reference would. ``--no-stop`` runs to ``--max-steps`` whatever the
held-out loss says (the patience is set beyond the step limit); ``--alpha``, ``--learning-rate``
and ``--average-decay`` replace the module's settings. ``--kmax`` acquires the slab with
that in-plane k_max (noise in that band, shown on the original grid: a scanner's interpolation).
``--model`` adapts those weights instead of the bundled model of ``--kind`` (a wider network, say).
``--ceiling`` measures instead the noise reduction of the clean estimate as the tunable-denoising
benchmark does (two noise realisations, seeds 1 and 2, each adapted on its own; input / output
noise SD of their difference in homogeneous tissue): the most the knob can reach. Nothing is
written to the repository; it only measures.

Until f524ecd this probe held its own copy of the fine-tune with fixed step counts and options
for α, the learning rate and the Rician floor; the README's first tables were measured with it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "MRDeepRecon"))

from mrdeeprecon import scan_adaptation  # noqa: E402
from mrdeeprecon.context import ScanContext  # noqa: E402
from mrdeeprecon.evaluation.reference import crop_slices, describe_reference  # noqa: E402
from mrdeeprecon.evaluation.scenario import band_limited_spec, simulate_scenario  # noqa: E402
from mrdeeprecon.evaluation.tunable import replica_sd, replicas  # noqa: E402
from mrdeeprecon.inference import clean_estimate, enhance  # noqa: E402
from mrdeeprecon.io import load_volume  # noqa: E402
from mrdeeprecon.kspace.degrade import DegradationSpec  # noqa: E402
from mrdeeprecon.metrics import psnr  # noqa: E402
from mrdeeprecon.model.weights import bundled_model_path, load_model, save_model  # noqa: E402
from mrdeeprecon.qa.foreground import foreground_mask  # noqa: E402
from mrdeeprecon.settings import EnhanceSettings  # noqa: E402
from mrdeeprecon.standardize import standardize  # noqa: E402
from mrdeeprecon.tissue import homogeneous_tissue, tissue_mask  # noqa: E402

SHARED = REPO.parent / "shared" / "data"
#: The held-out references as the quality benchmark reads them: file, slices, acquisition.
REFERENCES = {
    "seg3D": (SHARED / "volumes" / "seg3D_MR.nii.gz", (60, 100), None),
    "philips201": (SHARED / "dicom" / "philips_phantom", None, "2D"),
}
#: Card entries that save_model writes itself.
WRITTEN_BY_SAVE = ("sha256", "format", "architecture", "context_fields", "parameter_count")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigma", type=float, default=0.10, help="noise σ, fraction of the 99th percentile")
    parser.add_argument("--kind", choices=("2d", "3d"), default="2d")
    parser.add_argument("--planes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--max-steps", type=int, default=3000, help="the fine-tune's step limit")
    parser.add_argument("--no-stop", action="store_true", help="run to the step limit (report every evaluation)")
    parser.add_argument("--average-decay", type=float, default=scan_adaptation.AVERAGE_DECAY,
                        help="decay of the weights' moving average that is evaluated and kept (0: the weights)")
    parser.add_argument("--alpha", type=float, default=scan_adaptation.ALPHA, help="recorruption strength α")
    parser.add_argument("--learning-rate", type=float, default=scan_adaptation.LEARNING_RATE, help="Adam's peak rate")
    parser.add_argument("--kmax", type=float, default=1.0, help="in-plane k_max of the simulated acquisition")
    parser.add_argument("--ceiling", action="store_true", help="measure the clean estimate's noise reduction (one plane)")
    parser.add_argument("--model", type=Path, help="weights (.safetensors with their card) to adapt instead of the bundled model of --kind")
    parser.add_argument("--reference", choices=tuple(REFERENCES), default="seg3D",
                        help="seg3D (read as --kind says) or the Philips phantom's series 201 (a 2D TSE, one plane)")
    return parser.parse_args()


def _standardised(degraded, context: ScanContext) -> tuple[torch.Tensor, object, int]:
    """The standardised input, its sampling and the input slice of its first slice."""
    data = torch.from_numpy(np.ascontiguousarray(degraded.data, np.float32))
    standardized = standardize(data, context, (1.0, 1.0, 1.0))
    return standardized.data, context.on_output_grid((1.0, 1.0, 1.0)), standardized.record.crop[0][0]


def _ceiling(args: argparse.Namespace, reference, context: ScanContext) -> None:
    """The clean estimate's noise reduction in homogeneous tissue, before and after adaptation."""
    pair = replicas(reference, DegradationSpec(noise=args.sigma, kmax=(args.kmax, args.kmax, 1.0)), context, 1)
    region = homogeneous_tissue(reference.data)
    input_sd = replica_sd(pair.a.data, pair.b.data, region)
    model = load_model(args.model or bundled_model_path(args.kind))[0]

    def ceiling(models) -> float:
        a, b = (clean_estimate(m, v.data, pair.context) for m, v in zip(models, (pair.a, pair.b)))
        return input_sd / replica_sd(a, b, region)

    print(f"{args.kind}, k_max {args.kmax:g}, sigma {args.sigma:g}: estimate's NR before {ceiling((model, model)):.2f}", flush=True)
    adapted = [scan_adaptation.adapt_to_scan(model, *_standardised(v, pair.context)[:2], 1, args.max_steps)
               for v in (pair.a, pair.b)]
    print(f"after adaptation (kept steps {', '.join(str(a.kept_step) for _, a in adapted)}): "
          f"{ceiling([m for m, _ in adapted]):.2f}", flush=True)


def main() -> None:
    args = _arguments()
    scan_adaptation.AVERAGE_DECAY = args.average_decay
    scan_adaptation.ALPHA, scan_adaptation.LEARNING_RATE = args.alpha, args.learning_rate
    if args.no_stop:
        scan_adaptation.PATIENCE = args.max_steps
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
    model, card = load_model(args.model or bundled_model_path(args.kind))
    folder = Path(tempfile.mkdtemp())
    data, sampling, first = _standardised(scenario.degraded, scenario.context)
    held = np.zeros(clean.shape[0], bool)
    held[[first + s for s in scan_adaptation.held_out_slices(data.shape[0])]] = True
    start = time.perf_counter()

    def score(step: int, loss: float, tuned) -> None:
        seconds = time.perf_counter() - start
        if args.planes == 1:
            estimate = clean_estimate(tuned, scenario.degraded.data, scenario.context)
        else:
            path = folder / f"ce_unet_{args.kind}.safetensors"
            save_model(tuned, path, {k: v for k, v in card.items() if k not in WRITTEN_BY_SAVE})
            settings = EnhanceSettings(noise_reduction=10, planes=3, device="cpu", model_path=path)
            estimate = enhance(scenario.degraded, settings, context=scenario.context).data
        estimate = np.asarray(estimate, np.float64)
        parts = [psnr(clean, estimate, mask=tissue & where) for where in (held[:, None, None], ~held[:, None, None])]
        print(f"step {step:5d} ({seconds:4.0f} s): held-out loss {loss:.4f}, tissue PSNR "
              f"{psnr(clean, estimate, mask=tissue):.2f} dB (held-out slices {parts[0]:.2f}, the rest {parts[1]:.2f})",
              flush=True)

    print(f"{args.reference}, {args.kind}, {args.planes} plane(s), k_max {args.kmax:g}, sigma {args.sigma:g}", flush=True)
    _, adaptation = scan_adaptation.adapt_to_scan(model, data, sampling, args.planes, args.max_steps, evaluated=score)
    print(f"kept step {adaptation.kept_step} of {adaptation.steps_run}; stopped: {adaptation.stopped}", flush=True)


if __name__ == "__main__":
    main()
