"""Fine-tuned networks kept for the next enhancement of the same scan (``--adaptation-cache``).

The scan-specific fine-tune (:mod:`mrdeeprecon.scan_adaptation`) takes minutes, and what it gives
does not depend on the noise reduction asked: only on the standardised input, how it was sampled,
the planes, the step limit, the base model, the arithmetic it ran in and the code that ran it. A
researcher who enhances a scan at NR 2 and then tries NR 3 should wait once. An
:class:`AdaptationCache` keeps the fine-tuned weights in a folder (safetensors with their model
card, :func:`mrdeeprecon.model.weights.save_model`; the card's ``adapted_to`` says what the
fine-tune did, as :func:`mrdeeprecon.adapt_model` writes it), named by the SHA-256 of all that
(:meth:`AdaptationCache.key`), and keeps the :data:`ENTRIES` used last.

The code is the engine's source (every ``.py`` file of this package) and torch's version, so a
fine-tune made by an earlier version of the engine, whose settings or method may differ, is never
taken for this one's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from .errors import MRDeepReconError
from .model.ce_unet import CEUNet
from .model.weights import WEIGHTS_SUFFIX, card_path, load_model, save_model
from .sampling import KSpaceSampling
from .scan_adaptation import arithmetic

#: Fine-tuned networks a cache keeps (the ones used last; the bundled models' weights are 1–3 MB).
ENTRIES = 8
#: Age (s) after which a partly written file (a write whose process was killed) is removed.
STALE_PARTIAL_S = 3600.0
PACKAGE_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """SHA-256 of the engine's source files (paths and bytes, in sorted order) and torch's version."""
    digest = hashlib.sha256(torch.__version__.encode())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


class AdaptationCache:
    """Fine-tuned networks in ``folder`` (made now if it is not there).

    Raises:
        MRDeepReconError: ``folder`` is not a folder and cannot be made one (before any work).
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MRDeepReconError(f"the adaptation cache must be a folder: {error.strerror or error}", self.folder) from None

    @staticmethod
    def key(data: torch.Tensor, sampling: KSpaceSampling, planes: int, max_steps: int, base_sha256: str) -> str:
        """What a fine-tune's result depends on, hashed: the standardised input ``data``
        ``(slice, frequency, phase)``, its sampling, the planes, the step limit, the base model's
        SHA-256, the fine-tune's arithmetic on ``data``'s device
        (:func:`~mrdeeprecon.scan_adaptation.arithmetic`) and the code (:func:`_code_digest`)."""
        digest = hashlib.sha256(json.dumps({
            "shape": list(data.shape), "sampling": dataclasses.asdict(sampling), "planes": planes,
            "max_steps": max_steps, "base_sha256": base_sha256, "arithmetic": arithmetic(data.device),
            "code": _code_digest(),
        }, sort_keys=True).encode())
        digest.update(data.detach().to("cpu", torch.float32).contiguous().numpy())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{WEIGHTS_SUFFIX}"

    def load(self, key: str, device: torch.device) -> tuple[CEUNet, dict[str, Any]] | None:
        """The network stored under ``key`` on ``device`` and its card's ``adapted_to``, or
        ``None`` when there is none. An entry that does not load is a miss, with a
        ``RuntimeWarning`` naming why: removed when it is corrupt or modified, left in place when
        it cannot be read (another user's, say)."""
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            model, card = load_model(path, device)
            adapted_to = card["adapted_to"]
        except MRDeepReconError as error:
            warnings.warn(f"removed an adaptation cache entry that does not load: {error}", RuntimeWarning, stacklevel=2)
            self._remove(path)
            return None
        except (OSError, KeyError) as error:
            warnings.warn(f"an adaptation cache entry could not be read ({error!r}), so the fine-tune runs again: {path}",
                          RuntimeWarning, stacklevel=2)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the last to be evicted
        return model, adapted_to

    def store(self, key: str, model: CEUNet, card: dict[str, Any]) -> None:
        """Keep ``model`` under ``key`` with ``card`` (which holds ``adapted_to``), then remove the
        entries beyond the :data:`ENTRIES` used last and the partly written files older than
        :data:`STALE_PARTIAL_S` (as far as they can be). A folder that cannot
        be written (full, removed) costs the next run a fine-tune, not this run its result: a
        ``RuntimeWarning``."""
        try:
            save_model(model, self._path(key), card)
        except OSError as error:
            warnings.warn(f"the fine-tune was not kept in the adaptation cache {self.folder}: {error}", RuntimeWarning,
                          stacklevel=2)
            return
        with contextlib.suppress(OSError):  # another process may be evicting too
            entries = sorted(self.folder.glob(f"*{WEIGHTS_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
            for stale in entries[ENTRIES:]:
                self._remove(stale)
            for partial in self.folder.glob(".*.tmp"):  # model.weights' atomic writes, killed midway
                if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                    partial.unlink(missing_ok=True)

    @staticmethod
    def _remove(path: Path) -> None:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
            card_path(path).unlink(missing_ok=True)
