"""Description of the machine a benchmark ran on: CPU, cores, threads, RAM, GPU, load, versions."""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import sys
from pathlib import Path
from typing import Any

from common import usable_cores


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _ram_bytes() -> int | None:
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def load_average() -> tuple[float, float, float] | None:
    """1, 5 and 15 minute load averages (runnable processes), or ``None`` where unknown."""
    try:
        return os.getloadavg()
    except OSError:
        return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe(device: str, threads: int) -> dict[str, Any]:
    """Machine, software and bundled models, as JSON-ready values."""
    import numpy
    import torch

    from mrdeeprecon.model.weights import BUNDLED_NAMES, bundled_model_path

    models = {}
    for kind in BUNDLED_NAMES:
        path = bundled_model_path(kind)
        models[kind] = {"file": path.name, "sha256": file_sha256(path)}
    gpu = None
    if device == "cuda":
        properties = torch.cuda.get_device_properties(0)
        gpu = {
            "name": properties.name,
            "memory_bytes": properties.total_memory,
            "cuda": torch.version.cuda,
            "bf16_supported": torch.cuda.is_bf16_supported(),
        }
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "cpu_cores": usable_cores(),
        "threads": threads,
        "ram_bytes": _ram_bytes(),
        "gpu": gpu,
        "device": device,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "torch": torch.__version__,
        "load_average_start": load_average(),
        "models": models,
    }
