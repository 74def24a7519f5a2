"""What the user chose in the module panel, as one record that survives JSON.

:class:`ProcessParameters` is an :class:`mrdeeprecon.EnhanceSettings` (the engine's fields, their
defaults and their checks, declared once there) plus the scan-context choices the panel offers.
It is checked when it is made, stored as JSON in the ``MRDeepRecon.parameters`` attribute of
every result node, and travels to the background run as command-line flags
(:func:`mrdeeprecon.cli.settings_arguments`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from mrdeeprecon import EnhanceSettings, MRDeepReconError, ScanContext

#: ``partial_fourier`` (phase, slice) that tells the model the acquisition had none.
FULL_FOURIER = (1.0, 1.0)


@dataclass
class ProcessParameters(EnhanceSettings):
    """One enhancement as chosen in the module: the engine's settings (the fields of
    :class:`~mrdeeprecon.EnhanceSettings`, with their defaults and checks) and the panel's own
    choices.

    Attributes:
        artifact_correction: ``True``: the model is told the partial-Fourier sampling the scan
            context reports and restores what it lacked (ringing and blur of the missing
            k-space half). ``False``: the model is told the acquisition had no partial Fourier
            (``partial_fourier = (1, 1)``), so it leaves that part of the image as it is.
        context_overrides: :class:`~mrdeeprecon.ScanContext` fields to replace (field name →
            value; lists become tuples), e.g. ``{"acquisition": "3D", "kmax": (1, 0.5, 1)}``.

    ``model_path`` ``""`` (the parameter node's "bundled model") is ``None``.
    """

    artifact_correction: bool = True
    context_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model_path == "":
            self.model_path = None
        self.context_overrides = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in self.context_overrides.items()
        }
        super().__post_init__()

    def to_settings(self) -> EnhanceSettings:
        """The engine's settings alone (what the enhancement records)."""
        return EnhanceSettings(**{item.name: getattr(self, item.name) for item in dataclasses.fields(EnhanceSettings)})

    def scan_context(self, base: ScanContext) -> ScanContext:
        """``base`` with :attr:`context_overrides` applied, then ``partial_fourier = (1, 1)``
        when :attr:`artifact_correction` is off (the switch wins over an override)."""
        overrides = dict(self.context_overrides)
        if not self.artifact_correction:
            overrides["partial_fourier"] = FULL_FOURIER
        return base.with_overrides(overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists, the model path a string)."""
        out = dataclasses.asdict(self)
        out["super_resolution"] = list(self.super_resolution)
        out["model_path"] = None if self.model_path is None else str(self.model_path)
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
