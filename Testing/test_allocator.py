"""Freed memory kept in the process for training (``mrdeeprecon.training.allocator``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mrdeeprecon.training import allocator

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
    from mrdeeprecon.training.allocator import retain_freed_memory
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    completed = subprocess.run([sys.executable, "-c", FAULTS, str(ENGINE), mode], capture_output=True, text=True,
                               env={**env, **(environment or {})}, timeout=120, check=True)
    return int(completed.stdout.split()[-1])


@pytest.mark.skipif(allocator._glibc() is None, reason="glibc's malloc only")
def test_freed_blocks_are_reused_instead_of_mapped_and_faulted_in_again():
    default = _faults("default")
    assert default >= 50, "with glibc's defaults every round faults its blocks in anew (huge pages: fewer faults)"
    assert 20 * _faults("retain") < default, "kept memory is reused: (almost) no new pages"
    assert 20 * _faults("default", allocator.environment()) < default, "the environment variables do the same for a child"


def test_elsewhere_nothing_is_done(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert allocator.retain_freed_memory() is False
