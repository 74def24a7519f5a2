"""What the user chose in the module panel, as one record that survives JSON.

:class:`ProcessParameters` is the module's side of :class:`mrdeeprecon.EnhanceSettings` plus the
scan-context choices the panel offers. It is stored as JSON in the ``MRDeepRecon.parameters``
attribute of every result node, and travels to the background run as command-line flags.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from mrdeeprecon import EnhanceSettings, MRDeepReconError, ScanContext

#: ``partial_fourier`` (phase, slice) that tells the model the acquisition had none.
FULL_FOURIER = (1.0, 1.0)


@dataclass
class ProcessParameters:
    """One enhancement as chosen in the module.

    Attributes:
        noise_reduction: output noise SD = input noise SD / factor, in [1, 10] (the panel offers 1–5).
        super_resolution: refinement of the output grid along (frequency, phase, slice), each in
            [1, 2]; 2 halves the voxel size (mm) along that encoding direction.
        artifact_correction: ``True``: the model is told the partial-Fourier sampling the scan
            context reports and restores what it lacked (ringing and blur of the missing
            k-space half). ``False``: the model is told the acquisition had no partial Fourier
            (``partial_fourier = (1, 1)``), so it leaves that part of the image as it is.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        model_kind: ``"auto"`` (from the acquisition type), ``"2d"`` or ``"3d"``.
        model_path: a ``.safetensors`` model with its ``.json`` card; ``None`` = bundled model.
        context_overrides: :class:`~mrdeeprecon.ScanContext` fields to replace (field name →
            value; lists become tuples), e.g. ``{"acquisition": "3D", "kmax": (1, 0.5, 1)}``.
    """

    noise_reduction: float = 2.0
    super_resolution: tuple[float, float, float] = (1.0, 1.0, 1.0)
    artifact_correction: bool = True
    device: str = "auto"
    model_kind: str = "auto"
    model_path: str | None = None
    context_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.noise_reduction = float(self.noise_reduction)
        self.super_resolution = tuple(float(f) for f in self.super_resolution)  # type: ignore[assignment]
        self.model_path = None if self.model_path in (None, "") else str(self.model_path)
        self.context_overrides = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in self.context_overrides.items()
        }

    def to_settings(self) -> EnhanceSettings:
        """The engine settings (validated: raises :class:`~mrdeeprecon.MRDeepReconError`)."""
        return EnhanceSettings(
            noise_reduction=self.noise_reduction,
            super_resolution=self.super_resolution,
            device=self.device,
            model_kind=self.model_kind,
            model_path=None if self.model_path is None else Path(self.model_path),
        )

    def scan_context(self, base: ScanContext) -> ScanContext:
        """``base`` with :attr:`context_overrides` applied, then ``partial_fourier = (1, 1)``
        when :attr:`artifact_correction` is off (the switch wins over an override)."""
        overrides = dict(self.context_overrides)
        if not self.artifact_correction:
            overrides["partial_fourier"] = FULL_FOURIER
        return base.with_overrides(overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists)."""
        out = dataclasses.asdict(self)
        out["super_resolution"] = list(self.super_resolution)
        out["context_overrides"] = {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.context_overrides.items()
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ProcessParameters":
        """The inverse of :meth:`to_dict`; missing keys take their defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise MRDeepReconError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        return cls(**dict(data))
