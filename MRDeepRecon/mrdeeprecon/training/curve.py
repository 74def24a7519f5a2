"""The training curve on held-out data: tissue PSNR of the network's clean estimate.

The held-out volume is a file (NIfTI, DICOM) or the first array of a ``.npz`` archive.

A fixed slab of the held-out ``seg3D_MR`` volume (never trained on) is degraded once, with noise
σ = 10 % of its 99th percentile added inside its own k-space band
(:mod:`mrdeeprecon.evaluation.scenario`, the quality benchmark's denoising scenario), and the
model's clean estimate (:func:`mrdeeprecon.inference.clean_estimate`) is scored in tissue
(:func:`mrdeeprecon.tissue.tissue_mask`) at every curve point. The slab is described as a 2D
acquisition to a single-slice model (as every 2D curve so far was measured), and as the 3D
acquisition it is to a model that reads neighbouring slices of one 3D k-space. It only watches training: nothing
is tuned on it, and the calibration never sees it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..context import ScanContext
from ..evaluation.reference import crop_slices, describe_reference
from ..evaluation.scenario import band_limited_spec, simulate_scenario
from ..inference import clean_estimate
from ..kspace.degrade import DegradationSpec
from ..metrics import psnr
from ..tissue import tissue_mask
from ..model.ce_unet import CEUNet
from ..volume import Volume
from .volumes import load_training_volumes

SLICES = (72, 84)
NOISE = 0.10
SEED = 1


class HeldOutCurve:
    """Scores a model's clean estimate of one degraded held-out slab (tissue PSNR, dB)."""

    def __init__(self, path: Path, slices: tuple[int, int] = SLICES, noise: float = NOISE, acquisition: str = "2D") -> None:
        loaded = load_training_volumes([path])[0]
        volume = Volume(data=loaded.data, spacing=loaded.spacing or (1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0),
                        direction=np.eye(3))
        reference = crop_slices(volume, *slices)
        context = ScanContext(acquisition=acquisition, kmax=(1.0, 1.0, 1.0))
        self.clean = np.asarray(reference.data, dtype=np.float64)
        self.tissue = tissue_mask(self.clean)
        spec = band_limited_spec(DegradationSpec(noise=noise), describe_reference(reference.data).band, context)
        scenario = simulate_scenario(reference, spec, context, SEED, self.tissue)
        self.degraded = scenario.degraded.data
        self.degraded_context = scenario.context
        self.name = f"{Path(path).name} slices {slices[0]}-{slices[1] - 1}, sigma {noise:g}" + (
            ", as a 3D acquisition" if acquisition == "3D" else "")

    def __call__(self, model: CEUNet) -> float:
        estimate = clean_estimate(model, self.degraded, self.degraded_context)
        return psnr(self.clean, estimate, mask=self.tissue)
