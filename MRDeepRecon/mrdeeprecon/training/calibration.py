"""Measure a model's noise-reduction calibration table on its training volumes.

For every acquired band (``BANDS``: in-plane k_max per axis) and noise level (``NOISE_LEVELS``, σ as
a fraction of the volume's 99th percentile), tapered fields of the training volumes (as
:class:`~mrdeeprecon.training.pairs.PairSampler` cuts them) are degraded twice, differing only in
the noise realisation, and enhanced. In homogeneous tissue of the clean field the moments of
:mod:`mrdeeprecon.noise_reduction` (``A, C, D``) are measured, together with the median of the
local noise map the model saw, which is what inference looks the table up with.

Homogeneous tissue is the evaluation's (:func:`mrdeeprecon.tissue.homogeneous_tissue`).
"""

from __future__ import annotations

import numpy as np
import torch

from ..kspace.degrade import DegradationSpec
from ..tissue import homogeneous_tissue
from ..model import context_vector
from ..model.ce_unet import CEUNet
from ..noise_map import local_noise_sd, noise_input
from ..noise_reduction import band_limit
from .pairs import FIELD, TAPER, PairConfig, PairSampler, degrade_fields, pair_sampling

#: In-plane acquired k-space extents (frequency, phase) of the table rows.
BANDS = ((0.5, 0.5), (1.0, 0.5), (1.0, 1.0))
#: Noise σ (fraction of the 99th percentile) of the table columns, down to that of high-SNR scans
#: (a 3T phantom or a dual-echo FFE: 0.2-0.3 %).
NOISE_LEVELS = (0.003, 0.006, 0.01, 0.02, 0.035, 0.06, 0.1, 0.15)
FIELDS_PER_CASE = 24
BATCH = 8


def _enhance(model: CEUNet, images: torch.Tensor, sampling, config: PairConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's clean estimate of the middle slice of each ``(n, S, y, x)`` stack, and the
    local noise map of that slice."""
    middle = images[:, config.in_slices // 2]
    noise_map = local_noise_sd(middle, sampling.kmax[:2])
    inputs = images
    if config.noise_input != "blind":
        inputs = torch.cat([images, noise_input(middle, sampling.kmax[:2], config.noise_input)[:, None]], 1)
    context = torch.from_numpy(context_vector.encode(sampling)).expand(len(images), -1)
    with torch.inference_mode():
        return model(inputs, context)[:, 0], noise_map


def measure_calibration(model: CEUNet, volumes: list[np.ndarray], config: PairConfig, seed: int = 0) -> dict:
    """The calibration table (JSON-ready) of ``model`` on ``volumes``."""
    model = model.cpu().eval()
    sampler = PairSampler(volumes, config, seed=seed + 7919)
    fields = torch.stack([sampler.field() for _ in range(FIELDS_PER_CASE)])
    half = config.in_slices // 2
    centre = fields.shape[1] // 2
    window = slice(centre - half, centre + half + 1)
    interior = (slice(None), slice(TAPER, FIELD - TAPER), slice(TAPER, FIELD - TAPER))
    mask = homogeneous_tissue(fields[:, centre].numpy())[interior]
    table: dict[str, list] = {"band_fractions": [], "bands": [], "noise_levels": list(NOISE_LEVELS),
                              "noise_sd": [], "a": [], "c": [], "d": []}
    for band in BANDS:
        rows = {k: [] for k in ("noise_sd", "a", "c", "d")}
        for level in NOISE_LEVELS:
            spec = DegradationSpec(noise=level, kmax=(*band, 1.0))
            sampling = pair_sampling(spec, config.is_3d)
            replicas = []
            for replica in range(2):
                generator = torch.Generator().manual_seed(seed * 1000 + replica)
                estimates, inputs, maps = [], [], []
                for start in range(0, len(fields), BATCH):
                    degraded = degrade_fields(fields[start : start + BATCH], spec, config, generator, noise_free=False).image
                    stack = degraded[:, window]
                    estimate, noise_map = _enhance(model, stack, sampling, config)
                    estimates.append(estimate)
                    inputs.append(stack[:, half])
                    maps.append(noise_map)
                replicas.append((torch.cat(estimates), torch.cat(inputs), torch.cat(maps)))
            (xa, ya, map_a), (xb, yb, _) = replicas
            d_x = (xa - xb)[interior].numpy()
            d_y = (ya - yb)[interior].numpy()
            banded = band_limit(xa - xb - (ya - yb), band, (1, 2))[interior].numpy()
            var_y = np.var(d_y[mask])
            rows["noise_sd"].append(float(np.median(map_a[interior].numpy()[mask])))
            rows["a"].append(float(np.var(d_x[mask]) / var_y))
            rows["c"].append(float(np.mean((d_x[mask] - d_x[mask].mean()) * (banded[mask] - banded[mask].mean())) / var_y))
            rows["d"].append(float(np.var(banded[mask]) / var_y))
        order = np.argsort(rows["noise_sd"])
        for key, values in rows.items():
            table[key].append([values[i] for i in order])
        table["band_fractions"].append(band[0] * band[1])
        table["bands"].append(list(band))
    table["fields"] = FIELDS_PER_CASE
    table["mask_voxels"] = int(mask.sum())
    return table
