"""``run_evaluation``: degrade a clean reference, enhance it, run the classical baselines, score all.

Steps: crop the reference to a slice range; measure its own band and noise
(:mod:`.reference`); degrade it inside that band (:mod:`.scenario`); run each method
(:mod:`.baselines`; ``ours`` = :func:`mrdeeprecon.inference.enhance` with the simulated scan
context); score every output against the reference with :func:`mrdeeprecon.metrics.score` (PSNR,
SSIM, NMSE, HFEN), over the whole volume, inside the reference's foreground
(:func:`mrdeeprecon.qa.foreground.foreground_mask`) and in its tissue, the brightest 40 %
(:func:`mrdeeprecon.tissue.tissue_mask`).

Methods, in table order: :data:`METHODS`. ``bm4d`` (the optional ``bm4d`` package) and ``wavelet``
(PyWavelets) are skipped with a note when their package is missing, unless asked for explicitly
(then an error); the denoisers that need the true noise SD (``bm4d``, ``nlm``, ``wavelet``) are
skipped when the degradation adds no noise.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import metrics
from ..adaptation_record import kept
from ..context import ScanContext
from ..errors import MRDeepReconError
from ..kspace.degrade import DegradationSpec
from ..progress import ProgressCallback, report
from ..qa.foreground import foreground_mask
from ..reporting import json_safe
from ..settings import EnhanceSettings
from ..tissue import tissue_mask
from ..volume import Volume
from . import baselines
from .reference import ReferenceFacts, crop_slices, describe_reference
from .scenario import Scenario, band_limited_spec, simulate_scenario

#: Every method, in table order.
METHODS = ("ours", "bm4d", "nlm", "wavelet", "gaussian", "lanczos", "cubic", "zerofill")
#: Methods that need the true added noise SD.
NEEDS_NOISE = ("bm4d", "nlm", "wavelet")
#: Optional Python modules a method needs, and how to get them.
OPTIONAL_MODULES = {
    "bm4d": ("bm4d", "pip install 'mrdeeprecon[bm4d]' (closed binary, non-commercial licence)"),
    "wavelet": ("pywt", "pip install PyWavelets"),
}


@dataclass(frozen=True)
class MethodResult:
    """One row of the evaluation table.

    Attributes:
        method: one of :data:`METHODS`.
        parameter: the parameter used, in words.
        scores: ``psnr_db``, ``ssim``, ``nmse``, ``hfen`` over the whole volume.
        foreground: the same inside the reference's foreground mask.
        seconds: wall time of the method (one run at the chosen parameter).
        tuning_seconds: wall time of its oracle search (0 when not tuned).
        tissue: the scores in the reference's tissue (its brightest 40 %).
    """

    method: str
    parameter: str
    scores: dict[str, float]
    foreground: dict[str, float]
    seconds: float
    tuning_seconds: float = 0.0
    tissue: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """Everything :func:`run_evaluation` measured; :meth:`to_dict` is the ``results.json`` content.

    Attributes:
        reference: the (cropped) clean reference.
        slices: the slice range of the original reference that was used, ``(start, stop)``.
        facts: the reference's own band and noise.
        requested: the degradation as asked for (k_max relative to the reference band).
        scenario: the degradation as applied, the degraded volume and the added noise.
        acquisition: the reference's scan context (acquisition type, phase axis).
        seed: seed of the degradation.
        noise_reduction: the factor asked of ``ours``.
        model: ``name``, ``sha256`` and ``path`` of the model ``ours`` used (None without ``ours``).
        rows: one :class:`MethodResult` per method run, in :data:`METHODS` order.
        skipped: method → why it did not run.
        outputs: method → its output ``(z, y, x)`` float32 (for the panels; not in the JSON).
        foreground: the reference's foreground mask.
    """

    reference: Volume
    slices: tuple[int, int]
    facts: ReferenceFacts
    requested: DegradationSpec
    scenario: Scenario
    acquisition: ScanContext
    seed: int | None
    noise_reduction: float
    model: dict[str, str] | None
    rows: tuple[MethodResult, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    foreground: np.ndarray | None = field(default=None, repr=False)

    def row(self, method: str) -> MethodResult:
        """The row of ``method`` (``KeyError`` when it did not run)."""
        for row in self.rows:
            if row.method == method:
                return row
        raise KeyError(method)

    def to_dict(self) -> dict[str, Any]:
        scenario = self.scenario
        return json_safe(
            {
                "reference": {
                    "source": self.reference.metadata.get("source_path"),
                    "slices": list(self.slices),
                    "shape_zyx": list(self.reference.shape),
                    "spacing_ijk_mm": list(self.reference.spacing),
                    "foreground_voxels": int(self.foreground.sum()) if self.foreground is not None else None,
                    **self.facts.to_dict(),
                },
                "degradation": {
                    "requested": dataclasses.asdict(self.requested),
                    "applied": dataclasses.asdict(scenario.spec),
                    "seed": self.seed,
                    "acquisition": self.acquisition.acquisition,
                    "phase_axis": self.acquisition.phase_axis,
                    "noise_sigma_kspace": scenario.noise_sigma,
                    "noise_sd_image": scenario.noise_sd,
                    "acquired_matrix_zyx": list(scenario.low_resolution.shape),
                    "scan_context": scenario.context.to_dict(),
                },
                "noise_reduction": self.noise_reduction,
                "model": self.model,
                "methods": [row.to_dict() for row in self.rows],
                "skipped": self.skipped,
                "notes": {
                    "metrics": "against the cropped reference; data range = reference maximum; SSIM "
                    "per slice (axis 0); HFEN with a per-slice 2D LoG, sigma 1.5 px "
                    "(mrdeeprecon.metrics)",
                    "foreground": "Otsu foreground of the reference (mrdeeprecon.qa.foreground)",
                    "tissue": "the reference's brightest 40 % (mrdeeprecon.tissue.tissue_mask)",
                    "seconds": "one run at the chosen parameter; oracle searches in tuning_seconds",
                    "oracle": "parameter with the highest PSNR against the reference inside the "
                    "foreground",
                    "background": "whole-volume scores include the background, where magnitude "
                    "(Rician) noise leaves a positive bias that only a method that zeroes the "
                    "background removes; the foreground scores compare the object",
                },
            }
        )


def select_methods(
    requested: Sequence[str] | None, noise_added: bool
) -> tuple[list[str], dict[str, str]]:
    """Methods to run (in :data:`METHODS` order) and the skipped ones with the reason.

    ``None`` = every available method. An unknown name, or an explicitly requested method whose
    optional package is missing, raises :class:`MRDeepReconError`.
    """
    explicit = requested is not None
    names = list(METHODS) if requested is None else [m.strip().lower() for m in requested]
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        raise MRDeepReconError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    chosen, skipped = [], {}
    for method in (m for m in METHODS if m in names):
        module, install = OPTIONAL_MODULES.get(method, (None, ""))
        if module is not None and not baselines.module_available(module):
            if explicit:
                raise MRDeepReconError(f"method {method} needs the {module} package: {install}")
            skipped[method] = f"{module} is not installed ({install})"
        elif method in NEEDS_NOISE and not noise_added:
            skipped[method] = "the degradation adds no noise (it needs the true noise SD)"
        else:
            chosen.append(method)
    return chosen, skipped


def _run_ours(
    scenario: Scenario, settings: EnhanceSettings
) -> tuple[baselines.BaselineOutput, dict[str, str]]:
    from ..inference import enhance

    start = time.perf_counter()
    enhanced = enhance(scenario.degraded, settings, context=scenario.context)
    seconds = time.perf_counter() - start
    record = enhanced.metadata["enhancement"]
    model = {
        "name": record["model_name"],
        "sha256": record["model_sha256"],
        "path": str(record["model_path"]),
    }
    details = f", {settings.planes} planes" if settings.planes != 1 else ""
    adapted = record.get("scan_adaptation")
    if adapted is not None:
        details += f", adapted (step {kept(adapted)})"
    parameter = f"NR {settings.noise_reduction:g}{details}, model {model['name']} ({record['device']})"
    output = baselines.BaselineOutput(np.asarray(enhanced.data, dtype=np.float32), parameter, seconds)
    return output, model


def _run_method(
    method: str, scenario: Scenario, reference: Volume, foreground: np.ndarray
) -> baselines.BaselineOutput:
    degraded = scenario.degraded.data
    sigma = scenario.noise_sd
    clean = np.asarray(reference.data, dtype=np.float64)
    if method == "bm4d":
        return baselines.bm4d_denoise(degraded, sigma)
    if method == "nlm":
        return baselines.nl_means(degraded, sigma, clean, foreground)
    if method == "wavelet":
        return baselines.bayes_shrink(degraded, sigma)
    if method == "gaussian":
        return baselines.gaussian_smoothing(degraded, clean, foreground)
    if method in baselines.INTERPOLATIONS:
        return baselines.interpolate(scenario.low_resolution, reference, method)
    if method == "zerofill":
        return baselines.BaselineOutput(
            np.asarray(degraded, dtype=np.float32), "the degraded volume (zero-padded k-space, sinc)", 0.0
        )
    raise MRDeepReconError(f"unknown method {method!r}")


def _context(acquisition: ScanContext | str) -> ScanContext:
    """The reference's context with k_max 1: its own k-space extent enters once, through the
    measured band (:func:`.scenario.band_limited_spec`), not also through its header."""
    if not isinstance(acquisition, ScanContext):
        acquisition = ScanContext(acquisition=str(acquisition).upper())
    return dataclasses.replace(acquisition, kmax=(1.0, 1.0, 1.0))


def run_evaluation(
    reference: Volume,
    spec: DegradationSpec,
    methods: Sequence[str] | None = None,
    noise_reduction: float = 5.0,
    seed: int | None = 0,
    acquisition: ScanContext | str = "2D",
    model_path: str | Path | None = None,
    slices: tuple[int, int] | None = None,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    planes: int = 1,
    adaptation_steps: int = 0,
) -> EvaluationResult:
    """Degrade ``reference`` as ``spec`` says and score our enhancement and the baselines on it.

    Args:
        reference: the clean volume ``(z, y, x)`` (real data with its own noise).
        spec: the degradation; its k_max is relative to the band the reference really has, and
            its noise is a fraction of the (cropped) reference's 99th percentile.
        methods: names from :data:`METHODS`; ``None`` = all available.
        noise_reduction: the factor asked of ``ours`` (within
            :data:`mrdeeprecon.settings.NOISE_REDUCTION_RANGE`).
        seed: seed of the degradation's noise (the same seed gives the same noise to every
            method, the acquired matrix included).
        acquisition: the reference's scan context, or just ``"2D"`` / ``"3D"`` (its k_max is
            replaced by the measured band).
        model_path: weights for ``ours`` (with their model card); ``None`` = bundled model.
        slices: ``(start, stop)`` slice range of ``reference`` to use; ``None`` = all.
        device: torch device for ``ours``.
        progress: called with ``(fraction, message)`` before each method.
        planes: ``ours`` along the slices (1) or along all three axes (3, a 3D acquisition;
            :mod:`mrdeeprecon.planes`).
        adaptation_steps: ``ours`` fine-tuned on the degraded volume first, for at most this
            many steps (:mod:`mrdeeprecon.scan_adaptation`; 0: not).

    Raises:
        MRDeepReconError: bad slice range, spec, method name or a missing explicitly requested
            package.
    """
    context = _context(acquisition)
    settings = EnhanceSettings(  # validated before any work
        noise_reduction=noise_reduction,
        model_path=None if model_path is None else Path(model_path),
        device=device,
        planes=planes,
        adaptation_steps=adaptation_steps,
    )
    start, stop = slices if slices is not None else (0, reference.shape[0])
    reference = crop_slices(reference, start, stop)
    report(progress, 0.0, "measuring the reference's band and noise")
    facts = describe_reference(reference.data)
    foreground = foreground_mask(reference)
    tissue = tissue_mask(reference.data)
    applied = band_limited_spec(spec, facts.band, context)
    scenario = simulate_scenario(reference, applied, context, seed, foreground)
    chosen, skipped = select_methods(methods, scenario.noise_sd > 0)
    clean = np.asarray(reference.data, dtype=np.float64)
    rows, outputs, model = [], {}, None
    for index, method in enumerate(chosen):
        report(progress, (index + 1) / (len(chosen) + 1), f"running {method}")
        if method == "ours":
            output, model = _run_ours(scenario, settings)
        else:
            output = _run_method(method, scenario, reference, foreground)
        if output.image.shape != reference.shape:
            raise MRDeepReconError(f"{method} returned shape {output.image.shape}, expected {reference.shape}")
        rows.append(
            MethodResult(
                method=method,
                parameter=output.parameter,
                scores=metrics.score(clean, output.image),
                foreground=metrics.score(clean, output.image, foreground),
                seconds=output.seconds,
                tuning_seconds=output.tuning_seconds,
                tissue=metrics.score(clean, output.image, tissue),
            )
        )
        outputs[method] = output.image
    report(progress, 1.0, "done")
    return EvaluationResult(
        reference=reference,
        slices=(start, stop),
        facts=facts,
        requested=spec,
        scenario=scenario,
        acquisition=context,
        seed=seed,
        noise_reduction=float(noise_reduction),
        model=model,
        rows=tuple(rows),
        skipped=skipped,
        outputs=outputs,
        foreground=foreground,
    )
