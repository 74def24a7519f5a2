"""Keeping freed memory in the process while training (glibc's malloc; elsewhere nothing is done).

glibc serves a block above its mmap threshold with a fresh mapping and unmaps it when freed, and
gives the top of its heap back to the system above its trim threshold. Training makes and drops
tensors of 0.25–8 MiB hundreds of times per step (a batch of coil k-spaces, a layer's
activations), so with the defaults much of that memory is mapped anew, and every page of it
faulted in again, at each use. Raising both thresholds lets freed blocks be reused instead.

Measured on the project's 2-core VM (one thread unless said), with and without it: a centred
FFT of 4×8×128² complex values 4.3 → 1.2 ms; training pairs +5 % (2D, within this host's ±10 %
drift) and +20 % (3D); a bf16 training step +12 % (one or two threads); the scan fine-tune
(``enhance --adapt-steps``) +6 %. Inference is not faster and peaks 3 % higher, and the fine-tune
runs inside ``enhance``, a library call that should not change its caller's allocator, so only
the training commands (``train``, ``train-recon``) call :func:`retain_freed_memory`.
"""

from __future__ import annotations

import ctypes
import platform

MMAP_THRESHOLD = 32 << 20
"""Bytes from which a block gets its own mapping (glibc's largest allowed value, on 64-bit)."""
TRIM_THRESHOLD = 1 << 30
"""Bytes of free memory at the heap's top before it is given back to the system."""

_M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3


def _glibc() -> ctypes.CDLL | None:
    """This process's C library where it is glibc (whose ``mallopt`` takes these settings), else ``None``."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)


def retain_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process to :data:`MMAP_THRESHOLD` and
    :data:`TRIM_THRESHOLD`. Returns whether both were set: False off glibc, or where glibc refuses
    the mmap threshold (32-bit builds allow half of it), and the trim threshold is then left too."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def environment() -> dict[str, str]:
    """The same settings as the environment variables glibc reads when a process starts, for a
    child process that does not call :func:`retain_freed_memory` itself."""
    return {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
