"""Where the time of an enhancement goes: optional wall-clock totals per pipeline stage.

:func:`mrdeeprecon.inference.enhance` marks its stages with :func:`stage` (``"copy"``,
``"standardise"``, ``"noise map"``, ``"gather"``, ``"network"``, ``"blend"``, ``"calibration"``,
``"noise reduction"``, ``"destandardise"``; the calibration's own network passes count as
``"gather"``, ``"network"`` and ``"blend"``). Nothing is measured unless a caller asks with
:func:`record`, as ``benchmarks/`` does::

    with stage_timing.record() as seconds:
        enhance(volume, settings)
    seconds  # {"standardise": 0.12, "network": 3.4, ...}

While recording, a stage on a CUDA device waits for the device at its start and end
(``torch.cuda.synchronize``), so its time is its own; that serialises the device a little.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from typing import Iterator

import torch

_RECORDING: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar("stage_seconds", default=None)


@contextlib.contextmanager
def record() -> Iterator[dict[str, float]]:
    """Collect the seconds of every :func:`stage` run inside the block, summed per name."""
    seconds: dict[str, float] = {}
    token = _RECORDING.set(seconds)
    try:
        yield seconds
    finally:
        _RECORDING.reset(token)


@contextlib.contextmanager
def stage(name: str, device: torch.device) -> Iterator[None]:
    """Time the block as stage ``name`` on ``device`` when :func:`record` is active."""
    seconds = _RECORDING.get()
    if seconds is None:
        yield
        return
    _synchronize(device)
    start = time.perf_counter()
    try:
        yield
    finally:
        _synchronize(device)
        seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
