"""Running under ``torchrun``: the process's rank, and the process group of training.

``torchrun --nproc-per-node N`` (or ``--nnodes M --node-rank R --rdzv-endpoint HOST:PORT`` over
several machines) starts N processes with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set; outside
it this module reports one process of rank 0. ``mrdeeprecon batch`` shards its items by rank;
``mrdeeprecon train`` trains one model with DistributedDataParallel (gloo on CPU, nccl on CUDA).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import torch

from .errors import MRDeepReconError


@dataclass(frozen=True)
class Rank:
    """This process's place: ``rank`` of ``world_size`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def leader(self) -> bool:
        """Rank 0: the one process that writes shared files."""
        return self.rank == 0

    @classmethod
    def from_environment(cls) -> "Rank":
        """From torchrun's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``; rank 0 of 1 without them."""
        try:
            rank = cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))
        except ValueError:
            raise MRDeepReconError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (as torchrun sets them)") from None
        if not 0 <= rank.rank < rank.world_size:
            raise MRDeepReconError(f"RANK {rank.rank} is not in 0..{rank.world_size - 1}")
        return rank


def device_for(rank: Rank, device: torch.device) -> torch.device:
    """``device`` of this process: on CUDA, the GPU of its local rank."""
    if device.type == "cuda" and rank.distributed:
        index = rank.local_rank % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return device


@contextlib.contextmanager
def process_group(rank: Rank, device: torch.device) -> Iterator[None]:
    """The default process group while inside (nccl for CUDA, gloo otherwise); nothing when
    there is one process."""
    if not rank.distributed:
        yield
        return
    import torch.distributed as dist

    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def barrier(rank: Rank) -> None:
    if rank.distributed:
        import torch.distributed as dist

        dist.barrier()


def mean_over_ranks(value: float, rank: Rank) -> float:
    """The mean of ``value`` over all processes (itself with one process)."""
    if not rank.distributed:
        return value
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return float(tensor.item()) / rank.world_size
