"""CE U-Net weights on disk: a ``.safetensors`` file plus a JSON model card with the same stem.

The card records what the weights need to be used correctly — the architecture
(:class:`~mrdeeprecon.model.ce_unet.CEUNetConfig`), the context-vector field list and the SHA-256 of
the weights file — together with whatever the trainer adds (data, degradations, epochs, ...).
Loading never unpickles anything: only safetensors is accepted, and the hash and field list are
checked before the weights are used. torch and safetensors are imported on first use, so that the
model-card and bundled-model lookups (:func:`card_path`, :func:`bundled_model_path`) work where
PyTorch is not installed yet (the Slicer panel shows the cards before it installs PyTorch).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MRDeepReconError, one_line
from . import context_vector

if TYPE_CHECKING:
    import torch

    from .ce_unet import CEUNet, CEUNetConfig

WEIGHTS_SUFFIX = ".safetensors"
CARD_SUFFIX = ".json"
MODEL_DIR_ENV = "MRDEEPRECON_MODEL_DIR"
BUNDLED_NAMES = {"2d": "ce_unet_2d.safetensors", "3d": "ce_unet_3d.safetensors"}


def card_path(weights_path: Path) -> Path:
    """The model card beside a weights file (same stem, ``.json``)."""
    return Path(weights_path).with_suffix(CARD_SUFFIX)


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary file in ``path``'s folder, then rename it onto ``path``."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.chmod(temporary, 0o644)  # mkstemp makes owner-only files; weights are meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_model(model: CEUNet, path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write ``<stem>.safetensors`` and its ``<stem>.json`` model card; return the card written.

    ``path`` may name the weights file or just the stem. The written card is ``card`` plus
    ``architecture``, ``context_fields``, ``parameter_count``, ``sha256`` and ``format``.
    """
    return write_weights(
        {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()},
        path,
        {
            **card,
            "architecture": dataclasses.asdict(model.config),
            "context_fields": list(context_vector.FIELDS),
            "parameter_count": model.parameter_count(),
        },
    )


def write_weights(tensors: dict[str, torch.Tensor], path: Path, card: dict[str, Any]) -> dict[str, Any]:
    """Write ``tensors`` to ``<stem>.safetensors`` and ``card`` plus ``sha256`` and ``format`` to
    ``<stem>.json`` (any model's weights); return the card written."""
    from safetensors.torch import save as save_safetensors_bytes

    weights_path = Path(path).with_suffix(WEIGHTS_SUFFIX)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    payload = save_safetensors_bytes(tensors)
    written = {**card, "sha256": hashlib.sha256(payload).hexdigest(), "format": "safetensors"}
    _write_atomically(weights_path, payload)
    _write_atomically(card_path(weights_path), (json.dumps(written, indent=2) + "\n").encode())
    return written


def _read_card(weights_path: Path) -> dict[str, Any]:
    path = card_path(weights_path)
    if not path.is_file():
        raise MRDeepReconError(
            f"model card {path.name} is missing beside the weights", weights_path
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MRDeepReconError(f"unreadable model card: {error}", path) from error
    if not isinstance(card, dict):
        raise MRDeepReconError("model card is not a JSON object", path)
    return card


def _config_from_card(card: dict[str, Any], weights_path: Path) -> CEUNetConfig:
    from .ce_unet import CEUNetConfig

    architecture = card.get("architecture")
    if not isinstance(architecture, dict):
        raise MRDeepReconError("model card has no architecture", card_path(weights_path))
    try:
        return CEUNetConfig(**architecture)
    except (TypeError, ValueError) as error:
        raise MRDeepReconError(
            f"model card architecture is not a CE U-Net configuration: {error}",
            card_path(weights_path),
        ) from error


def read_weights(weights_path: Path) -> tuple[bytes, dict[str, Any]]:
    """The bytes of a ``.safetensors`` weights file and its model card, checked: only safetensors
    (never pickle), the card present with ``format`` safetensors and the file's SHA-256; otherwise
    :class:`MRDeepReconError` names the file."""
    weights_path = Path(weights_path)
    if weights_path.suffix != WEIGHTS_SUFFIX:
        raise MRDeepReconError(
            "only .safetensors model files are accepted (pickled checkpoints are never loaded)",
            weights_path,
        )
    if not weights_path.is_file():
        raise MRDeepReconError("model file not found", weights_path)
    card = _read_card(weights_path)
    if card.get("format") != "safetensors":
        raise MRDeepReconError(
            f"model card format is {card.get('format')!r}, expected 'safetensors'",
            card_path(weights_path),
        )
    payload = weights_path.read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    if digest != card.get("sha256"):
        raise MRDeepReconError(
            f"SHA-256 {digest} does not match the model card ({card.get('sha256')}): "
            "the file is corrupt or was modified",
            weights_path,
        )
    return payload, card


def load_model(path: Path, device: str | torch.device = "cpu") -> tuple[CEUNet, dict[str, Any]]:
    """Load a CE U-Net saved by :func:`save_model`, in eval mode on ``device``, with its card.

    Only ``.safetensors`` files are accepted (never pickle). The card must exist, its ``sha256``
    must match the file and its ``context_fields`` must equal this engine's
    :data:`~mrdeeprecon.model.context_vector.FIELDS`; otherwise :class:`MRDeepReconError` names the
    file.
    """
    weights_path = Path(path)
    payload, card = read_weights(weights_path)
    if card.get("context_fields") != list(context_vector.FIELDS):
        raise MRDeepReconError(
            "model was trained with different context fields "
            f"({card.get('context_fields')}) than this engine uses ({list(context_vector.FIELDS)})",
            weights_path,
        )
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors_bytes

    from .ce_unet import CEUNet

    model = CEUNet(_config_from_card(card, weights_path))
    try:
        model.load_state_dict(load_safetensors_bytes(payload), strict=True)
    except (SafetensorError, RuntimeError) as error:
        raise MRDeepReconError(  # torch lists every mismatched tensor on its own line
            f"weights do not fit the card's architecture ({one_line(error, 160)} ...)", weights_path
        ) from error
    return model.to(device).eval(), card


def _model_dirs() -> list[Path]:
    """Where bundled models are looked for, in order."""
    here = Path(__file__).resolve()
    dirs = [here.parents[2] / "Resources" / "models"]
    override = os.environ.get(MODEL_DIR_ENV)
    return ([Path(override)] if override else []) + dirs


def bundled_model_path(kind: str) -> Path:
    """The shipped ``ce_unet_<kind>.safetensors`` for ``kind`` ``"2d"`` or ``"3d"``.

    Searched in ``$MRDEEPRECON_MODEL_DIR``, then ``Resources/models`` beside the ``mrdeeprecon``
    package's parent folder: ``MRDeepRecon/Resources/models`` in this repository, the same folder
    inside an installed Slicer extension (the module's resources).
    """
    if kind not in BUNDLED_NAMES:
        raise MRDeepReconError(f"model kind must be '2d' or '3d', got {kind!r}")
    return bundled_file(BUNDLED_NAMES[kind], f"{kind.upper()} model", f"train one with `mrdeeprecon train --kind {kind}`")


def bundled_file(file_name: str, what: str, how_to_make: str) -> Path:
    """The shipped weights file ``file_name``: the first found in ``$MRDEEPRECON_MODEL_DIR``, then
    ``Resources/models`` (:func:`bundled_model_path`). The error raised when none is found names
    ``what`` it is (e.g. "2D model") and ends with ``how_to_make`` (e.g. the training command)."""
    dirs = _model_dirs()
    for folder in dirs:
        candidate = folder / file_name
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(d) for d in dirs)
    raise MRDeepReconError(
        f"no bundled {what} {file_name} found (searched {searched}); {how_to_make} or pass a .safetensors model path"
    )
