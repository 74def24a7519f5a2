"""Freed memory kept in the process for training (``mrdeeprecon.allocator``)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[1] / "MRDeepRecon"

# Page faults of 50 rounds that make four 1 MiB arrays and drop them together, after 5 rounds in
# which the heap grows to hold them. With glibc's defaults, the first free raises the mmap
# threshold to 1 MiB and the trim threshold to 2 MiB, so later rounds take their blocks from the
# heap and give the 4 MiB back at its top when they are dropped: every round faults them in again.
# ``retain`` says whether the process keeps freed memory.
FAULTS = """
import resource, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
if sys.argv[2] == "retain":
    from mrdeeprecon.allocator import retain_freed_memory
    assert retain_freed_memory()
def round_():
    blocks = [np.ones(1 << 17) for _ in range(4)]
    del blocks
for _ in range(5):
    round_()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    round_()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, environment: dict[str, str] | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    completed = subprocess.run([sys.executable, "-c", FAULTS, str(ENGINE), mode], capture_output=True, text=True,
                               env={**env, **(environment or {})}, timeout=120, check=True)
    return int(completed.stdout.split()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_freed_blocks_are_reused_instead_of_mapped_and_faulted_in_again():
    from mrdeeprecon.allocator import environment

    assert _faults("default") >= 50 * 256, "with glibc's defaults each round faults a 1 MiB block (256 pages) or more in"
    assert _faults("retain") < 50, "kept memory is reused: no new pages per round"
    assert _faults("default", environment()) < 50, "the environment variables do the same for a child process"


def test_elsewhere_nothing_is_done(monkeypatch):
    from mrdeeprecon import allocator

    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert allocator.retain_freed_memory() is False
