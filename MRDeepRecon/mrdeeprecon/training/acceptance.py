"""The first model's acceptance measurement on a volume held out from training.

A held-out clean volume is degraded with σ = 10 % noise (of its 99th percentile) and k_max 0.5
along phase, enhanced, and scored against the original with PSNR and SSIM
(:mod:`mrdeeprecon.metrics`). The reference's own noise is estimated and reported beside the
scores: it caps what any denoiser can score.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..context import ScanContext
from ..inference import enhance
from ..io import load_volume
from ..kspace.degrade import DegradationSpec
from ..kspace.noise import reference_level
from ..metrics import estimate_noise_sigma
from ..settings import EnhanceSettings
from ..simulate import score, simulate_acquisition


def acceptance_scores(
    model_path: Path,
    kind: str,
    holdout: Path,
    noise: float = 0.10,
    kmax_phase: float = 0.5,
    kmax_slice: float = 1.0,
    noise_reductions: Sequence[float] = (2.0, 3.0, 5.0),
    seed: int = 1234,
) -> dict:
    """Scores of the degraded input and of each enhancement against the held-out original."""
    reference = load_volume(holdout)
    clean = reference.data.astype("float32")
    context = ScanContext(acquisition="2D" if kind == "2d" else "3D", phase_axis=1)
    spec = DegradationSpec(noise=noise, kmax=(1.0, kmax_phase, kmax_slice))
    degraded, degraded_context = simulate_acquisition(reference, spec, context, seed=seed)
    level = reference_level(clean)
    result = {
        "holdout": Path(holdout).name,
        "degradation": {"noise_fraction_of_p99": noise, "kmax": list(spec.kmax), "seed": seed},
        "reference_noise_fraction_of_p99": estimate_noise_sigma(clean) / level,
        "degraded": score(clean, degraded.data),
        "enhanced": {},
    }
    for factor in noise_reductions:
        settings = EnhanceSettings(noise_reduction=factor, model_kind=kind, model_path=model_path)
        enhanced = enhance(degraded, settings, context=degraded_context)
        result["enhanced"][f"NR{factor:g}"] = score(clean, enhanced.data)
    best = max(result["enhanced"].values(), key=lambda s: s["psnr_db"])
    result["best_psnr_gain_db"] = best["psnr_db"] - result["degraded"]["psnr_db"]
    result["best_ssim_gain"] = best["ssim"] - result["degraded"]["ssim"]
    return result
