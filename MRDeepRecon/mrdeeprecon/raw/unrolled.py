"""The unrolled SENSE network (E2E-VarNet / seed 002 style): data-consistency gradient steps on
``½‖M F S x − y‖²`` interleaved with small CNN regularisers, on the CPU.

One cascade ``k`` maps the image ``x`` (complex, ``(slices, y, x)``) to::

    x ← x − η_k · Aᴴ(A x − y) − R_k(x)

with ``A = M · F · S`` (:class:`~mrdeeprecon.raw.operators.SenseOperator`), ``η_k`` a learned step
size (1 at initialisation; ``‖AᴴA‖ ≤ 1`` for ESPIRiT maps with ``Σ_c |S_c|² ≤ 1``, so the step
decreases the residual) and ``R_k`` a compact U-Net on the two real channels (real, imaginary) of
``x`` whose last convolution starts at zero: the untrained network is plain gradient descent
(Landweber) on the SENSE objective. The coil maps are given (ESPIRiT, :mod:`.baselines`), not
learned. The network starts (:attr:`UnrolledConfig.start`) from ``x = Aᴴ y`` (``"adjoint"``) or from
CG-SENSE at the baselines' setting for the slice's acceleration (``"sense"``:
:func:`~mrdeeprecon.raw.operators.cg_sense` with the settings recorded in the model,
:attr:`UnrolledConfig.sense_start`,
so that the untrained network is CG-SENSE followed by a few Landweber steps and training learns a
refinement of it), and works in units of the robust scale ``s`` = the 99th percentile of ``|Aᴴ y|``
(:func:`robust_scale`): ``y / s`` in, ``s ·`` output out.
With :attr:`UnrolledConfig.final_projection` the output ends with a hard data-consistency
projection: each coil's k-space of the result, ``F(S_c x)``, takes the measured samples ``y_c``
where they were sampled, and the coils are combined with the maps again,
``x ← Σ_c S_c* F⁻¹(M y_c + (1 − M) F(S_c x))``: what was measured is kept as measured (noise
included), the network fills in only what was not.

With :attr:`UnrolledConfig.data_consistency` ``"cg"`` (MoDL, Aggarwal et al. 2019) a cascade is
instead ``z = x − R_k(x)`` followed by :attr:`UnrolledConfig.cg_iterations` conjugate-gradient
steps from ``z`` on ``(AᴴA + μ_k I) x = Aᴴ y + μ_k z`` (the minimiser of ``‖A x − y‖² + μ_k‖x − z‖²``),
``μ_k = softplus(p_k)`` learned (``penalties``): every cascade then unfolds the coil aliasing as far
as CG-SENSE would, where one gradient step only starts to.

Weights are a ``.safetensors`` file with a JSON model card beside it (architecture, SHA-256 of the
weights, training record); the bundled ones are ``Resources/models/unrolled_sense.safetensors``
(:func:`mrdeeprecon.model.weights.bundled_file`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from ..errors import MRDeepReconError, one_line
from ..progress import CancelToken, ProgressCallback, check, report
from . import baselines
from .baselines import (
    ESPIRIT_SETTINGS,
    Reconstruction,
    acceleration,
    espirit_maps,
    sense_settings_for,
    slice_kspace,
)
from .kspace_data import RawKSpace
from .operators import SenseOperator, cg_sense, conjugate_gradient

#: File name of the bundled weights (in the model folders of :mod:`mrdeeprecon.model.weights`).
BUNDLED_NAME = "unrolled_sense.safetensors"
#: Percentile of ``|Aᴴ y|`` that scales the network's input (:func:`robust_scale`).
SCALE_PERCENTILE = 99.0
#: Where the cascades start (:attr:`UnrolledConfig.start`).
STARTS = ("adjoint", "sense")
#: How each cascade enforces the data (:attr:`UnrolledConfig.data_consistency`).
DATA_CONSISTENCIES = ("gradient", "cg")


@dataclass(frozen=True)
class UnrolledConfig:
    """Architecture of :class:`UnrolledSense`.

    Attributes:
        cascades: number of data-consistency + regulariser cascades.
        channels: channels of each regulariser U-Net's full-resolution stage (× 2, × 4 below).
        initial_step: the data-consistency step size ``η`` at initialisation.
        start: the image the cascades start from, one of :data:`STARTS` (module docstring); a
            model card without it is an ``"adjoint"`` model.
        final_projection: end with the hard data-consistency projection (module docstring); a
            model card without it has none.
        data_consistency: one of :data:`DATA_CONSISTENCIES`: a learned gradient step per cascade,
            or conjugate gradient on the penalised normal equations (module docstring); a model
            card without it is a ``"gradient"`` model.
        cg_iterations: conjugate-gradient steps per cascade with ``"cg"``.
        initial_penalty: ``μ_k`` at initialisation with ``"cg"`` (``AᴴA`` has scale 1).
        sense_start: the CG-SENSE start's settings, ``(effective R, λ, iterations)`` rows as
            :data:`~mrdeeprecon.raw.baselines.SENSE_SETTINGS_BY_ACCELERATION` had them when the
            model was made (filled in then, and kept in its card, so that retuning the baseline
            later does not change what a trained network is given); empty for an ``"adjoint"`` start.
    """

    cascades: int = 6
    channels: int = 12
    initial_step: float = 1.0
    start: str = "adjoint"
    final_projection: bool = False
    data_consistency: str = "gradient"
    cg_iterations: int = 5
    initial_penalty: float = 0.1
    sense_start: tuple[tuple[float, float, int], ...] = ()

    def __post_init__(self) -> None:
        if self.start not in STARTS:
            raise ValueError(f"unknown start {self.start!r}; one of {', '.join(STARTS)}")
        if self.data_consistency not in DATA_CONSISTENCIES:
            raise ValueError(f"unknown data consistency {self.data_consistency!r}; one of {', '.join(DATA_CONSISTENCIES)}")
        rows = self.sense_start or (
            [(r, lamda, iterations) for r, (lamda, iterations) in baselines.SENSE_SETTINGS_BY_ACCELERATION.items()]
            if self.start == "sense" else [])
        object.__setattr__(self, "sense_start", tuple((float(r), float(lamda), int(n)) for r, lamda, n in rows))

    def sense_settings(self, r: float) -> tuple[float, int]:
        """CG-SENSE ``(λ, iterations)`` of :attr:`sense_start` at acceleration ``r``."""
        return sense_settings_for(r, {row[0]: (row[1], row[2]) for row in self.sense_start})


def _double_conv(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1), nn.LeakyReLU(0.1),
        nn.Conv2d(outputs, outputs, 3, padding=1), nn.LeakyReLU(0.1),
    )


class Regulariser(nn.Module):
    """A two-level U-Net on ``(batch, 2, y, x)`` (real, imaginary) returning a correction of the same
    shape; the input is reflect-padded to a multiple of 4 and the output cropped back."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels
        self.enc0, self.enc1, self.bottom = _double_conv(2, c), _double_conv(c, 2 * c), _double_conv(2 * c, 4 * c)
        self.dec1, self.dec0 = _double_conv(6 * c, 2 * c), _double_conv(3 * c, c)
        self.out = nn.Conv2d(c, 2, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_y, pad_x = -h % 4, -w % 4
        x = nn.functional.pad(x, (0, pad_x, 0, pad_y), mode="reflect")
        e0 = self.enc0(x)
        e1 = self.enc1(nn.functional.avg_pool2d(e0, 2))
        b = self.bottom(nn.functional.avg_pool2d(e1, 2))
        d1 = self.dec1(torch.cat([e1, nn.functional.interpolate(b, scale_factor=2.0, mode="nearest")], 1))
        d0 = self.dec0(torch.cat([e0, nn.functional.interpolate(d1, scale_factor=2.0, mode="nearest")], 1))
        return self.out(d0)[..., :h, :w]


def _to_channels(image: torch.Tensor) -> torch.Tensor:
    """Complex ``(slices, y, x)`` → real ``(slices, 2, y, x)``."""
    return torch.stack([image.real, image.imag], 1)


def _to_complex(channels: torch.Tensor) -> torch.Tensor:
    return torch.complex(channels[:, 0], channels[:, 1])


def robust_scale(adjoint: torch.Tensor) -> torch.Tensor:
    """``s`` of every slice: the :data:`SCALE_PERCENTILE` percentile of ``|Aᴴ y|`` over the slice
    ``(slices, y, x)`` → ``(slices, 1, 1)``, at least 1e-12."""
    magnitude = adjoint.abs().flatten(1)
    return torch.quantile(magnitude, SCALE_PERCENTILE / 100, dim=1).clamp_min(1e-12)[:, None, None]


class UnrolledSense(nn.Module):
    """The unrolled network (module docstring)."""

    def __init__(self, config: UnrolledConfig = UnrolledConfig()) -> None:
        super().__init__()
        self.config = config
        if config.data_consistency == "gradient":
            self.steps = nn.Parameter(torch.full((config.cascades,), float(config.initial_step)))
        else:  # μ_k = softplus(penalties_k)
            self.penalties = nn.Parameter(torch.full((config.cascades,), math.log(math.expm1(config.initial_penalty))))
        self.regularisers = nn.ModuleList(Regulariser(config.channels) for _ in range(config.cascades))

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def data_consistency(self, cascade: int, image: torch.Tensor, operator: SenseOperator, kspace: torch.Tensor) -> torch.Tensor:
        """``η_k Aᴴ(A x − y)``: the gradient step of cascade ``k`` (subtracted from ``x``)."""
        return self.steps[cascade] * operator.adjoint(operator.forward(image) - kspace)

    def conjugate_gradient_step(
        self, cascade: int, prior: torch.Tensor, operator: SenseOperator, adjoint: torch.Tensor
    ) -> torch.Tensor:
        """``argmin_x ‖A x − y‖² + μ_k‖x − z‖²`` approximated by :attr:`UnrolledConfig.cg_iterations`
        CG steps from ``z`` = ``prior`` (``adjoint`` = ``Aᴴ y``)."""
        penalty = nn.functional.softplus(self.penalties[cascade])
        return conjugate_gradient(lambda x: operator.normal(x) + penalty * x, adjoint + penalty * prior, prior,
                                  self.config.cg_iterations)

    def start_image(self, operator: SenseOperator, kspace: torch.Tensor, adjoint: torch.Tensor) -> torch.Tensor:
        """The image ``(slices, y, x)`` the cascades start from (:attr:`UnrolledConfig.start`):
        ``adjoint`` (``Aᴴ y``), or CG-SENSE at each slice's own acceleration (no gradient flows
        through it)."""
        if self.config.start == "adjoint":
            return adjoint
        masks = operator.mask.expand(kspace.shape[1:])
        images = []
        with torch.no_grad():
            for s in range(kspace.shape[1]):
                r = float(masks[s].numel() / masks[s].sum().clamp_min(1))
                lamda, iterations = self.config.sense_settings(r)
                one = SenseOperator(operator.maps[:, s : s + 1], masks[s : s + 1])
                images.append(cg_sense(one, kspace[:, s : s + 1], lamda, iterations))
        return torch.cat(images, 0)

    def forward(self, kspace: torch.Tensor, maps: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Reconstruct slices.

        Args:
            kspace: coil k-space ``(coils, slices, ky, kx)``, complex64, zero where not sampled.
            maps: coil maps ``(coils, slices, y, x)``, complex64.
            mask: sampled positions, bool, broadcastable to ``(slices, ky, kx)``.

        Returns:
            the complex image ``(slices, y, x)`` in the units of ``kspace``'s image.
        """
        operator = SenseOperator(maps, mask)
        adjoint = operator.adjoint(kspace)
        scale = robust_scale(adjoint)
        kspace, adjoint = kspace / scale, adjoint / scale  # A is linear: Aᴴ(y / s) = Aᴴy / s
        image = self.start_image(operator, kspace, adjoint)
        for k, regulariser in enumerate(self.regularisers):
            correction = _to_complex(regulariser(_to_channels(image)))
            if self.config.data_consistency == "gradient":
                image = image - self.data_consistency(k, image, operator, kspace) - correction
            else:
                image = self.conjugate_gradient_step(k, image - correction, operator, adjoint)
        if self.config.final_projection:
            image = operator.project(image, kspace)
        return image * scale


def save_unrolled(model: UnrolledSense, path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write ``<stem>.safetensors`` and its model card; the card gets ``architecture``,
    ``parameter_count``, ``sha256`` and ``format`` added. Returns the card written."""
    from ..model.weights import write_weights

    return write_weights(
        {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()},
        path,
        {**card, "architecture": dataclasses.asdict(model.config), "parameter_count": model.parameter_count()},
    )


def load_unrolled(path: Optional[Path] = None) -> tuple[UnrolledSense, dict[str, Any]]:
    """The model at ``path`` (default: the bundled :data:`BUNDLED_NAME`), in eval mode on the CPU,
    with its card (SHA-256 checked; only safetensors)."""
    from safetensors.torch import load as load_safetensors_bytes

    from ..model.weights import bundled_file, read_weights

    weights_path = Path(path) if path is not None else bundled_file(BUNDLED_NAME, "unrolled SENSE model", "train one with `mrdeeprecon train-recon`")
    payload, card = read_weights(weights_path)
    try:
        model = UnrolledSense(UnrolledConfig(**card.get("architecture", {})))
        model.load_state_dict(load_safetensors_bytes(payload), strict=True)
    except (TypeError, ValueError, RuntimeError) as error:
        raise MRDeepReconError(f"weights do not fit an unrolled SENSE network ({one_line(error, 160)})", weights_path) from error
    return model.eval(), card


def run_unrolled(
    model: UnrolledSense,
    kspace: np.ndarray,
    mask: np.ndarray,
    maps: np.ndarray,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> np.ndarray:
    """``model`` on every slice of ``kspace`` ``(coils, slices, ky, kx)`` with ``maps``
    ``(coils, slices, y, x)``; returns the complex64 image ``(slices, y, x)``."""
    slices = kspace.shape[1]
    full_mask = np.broadcast_to(mask, kspace.shape[1:])
    image = np.empty(kspace.shape[1:], np.complex64)
    with torch.no_grad():
        for s in range(slices):
            check(cancel)
            image[s] = model(
                torch.from_numpy(np.ascontiguousarray(kspace[:, s : s + 1] * full_mask[s])),
                torch.from_numpy(np.ascontiguousarray(maps[:, s : s + 1])),
                torch.from_numpy(np.array(full_mask[s : s + 1])),  # a copy: broadcast views are read-only
            )[0].numpy()
            report(progress, (s + 1) / slices, f"unrolled network: slice {s + 1}/{slices}")
    return image



def reconstruct_unrolled(
    raw: RawKSpace,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
    maps: Optional[np.ndarray] = None,
    model_path: Optional[Path] = None,
) -> Reconstruction:
    """Reconstruct ``raw`` with the unrolled network (the bundled one unless ``model_path``), given
    ESPIRiT coil maps (estimated as :mod:`.baselines` does unless ``maps`` ``(coils, slices, y, x)``
    is given); progress: maps the first 30 %."""
    kspace, mask = slice_kspace(raw)
    model, card = load_unrolled(model_path)
    parameters: dict[str, Any] = {
        "acceleration": acceleration(mask, kspace.shape[1:]),
        "model": card.get("name", Path(model_path or BUNDLED_NAME).stem),
        "model_sha256": card["sha256"],
        "architecture": card.get("architecture"),
    }
    if maps is None:
        maps, width = espirit_maps(kspace, mask, lambda f, m: report(progress, 0.3 * f, m), cancel)
        parameters["espirit"] = {**ESPIRIT_SETTINGS, "calib_width": width}
    else:
        parameters["espirit"] = "given"
    image = run_unrolled(model, kspace, mask, maps, lambda f, m: report(progress, 0.3 + 0.7 * f, m), cancel)
    return Reconstruction(image=image, maps=maps, kspace=kspace, mask=mask, method="unrolled", parameters=parameters)
