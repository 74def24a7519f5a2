"""Tiles per network call and out-of-memory handling (mrdeeprecon.device_memory, inference's CPU
fallback), with the out-of-memory error injected on the CPU; the CUDA comparison where CUDA exists."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mrdeeprecon import device_memory, inference
from mrdeeprecon.context import ScanContext
from mrdeeprecon.device_memory import DeviceOutOfMemory, batch_size, batch_size_for, run_in_batches
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.model.ce_unet import CEUNet
from mrdeeprecon.settings import EnhanceSettings
from mrdeeprecon.volume import Volume

CPU = torch.device("cpu")


def _limited(largest: int, calls: list[int]):
    """A batch runner that fails like a full device on batches of more than ``largest`` items."""

    def run(batch):
        calls.append(len(batch))
        if len(batch) > largest:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return [item * 10 for item in batch]

    return run


def test_a_batch_that_does_not_fit_is_retried_with_half_as_many_items():
    calls: list[int] = []
    kept: list[tuple[list[int], list[int], int, int]] = []
    final = run_in_batches(list(range(11)), 8, _limited(3, calls), lambda b, r, d, t: kept.append((list(b), r, d, t)), CPU)
    assert final == 2 and calls[:3] == [8, 4, 2]
    assert [item for batch, _, _, _ in kept for item in batch] == list(range(11))  # each item kept once, in order
    assert all(result == [i * 10 for i in batch] for batch, result, _, _ in kept)
    assert [done for _, _, done, _ in kept] == list(range(1, 7)) and kept[-1][3] == 6


def test_when_one_item_does_not_fit_the_device_is_out_of_memory():
    kept: list = []
    with pytest.raises(DeviceOutOfMemory, match="one tile does not fit"):
        run_in_batches(list(range(5)), 4, _limited(0, []), lambda *args: kept.append(args), CPU)
    assert kept == []


def test_batch_size_follows_the_settings_the_device_and_the_free_memory(monkeypatch):
    assert batch_size(5, CPU, 10**6) == 5
    assert batch_size(None, CPU, 10**6) == 2
    assert batch_size_for(10 * 2**30, 50 * 2**20) == 102  # half of 10 GiB in 50 MiB tiles
    assert batch_size_for(2**40, 1) == device_memory.MAX_CUDA_BATCH
    assert batch_size_for(0, 1) == 1
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (4 * 2**30, 8 * 2**30))
    assert batch_size(None, torch.device("cuda"), 2**26) == 32


def test_a_device_out_of_memory_falls_back_to_the_cpu_with_one_warning():
    devices: list[str] = []

    def run(device: torch.device) -> str:
        devices.append(device.type)
        if device.type == "cuda":
            raise DeviceOutOfMemory("one tile does not fit")
        return "result"

    with pytest.warns(RuntimeWarning, match="ran out of memory.*on the CPU instead") as caught:
        result, device, message = inference._on_device_or_cpu(torch.device("cuda"), run)
    assert (result, device.type, devices) == ("result", "cpu", ["cuda", "cpu"]) and len(caught) == 1
    assert "ran on the CPU instead" in message
    with pytest.raises(MRDeepReconError, match="out of memory on the CPU"):
        inference._on_device_or_cpu(CPU, lambda device: run(torch.device("cuda")))


def _volume() -> Volume:
    rng = np.random.default_rng(5)
    data = (200 + 100 * rng.random((5, 40, 48))).astype(np.float32)
    return Volume(data, spacing=(1.0, 1.0, 2.0))


def test_enhance_retries_with_smaller_batches_and_gives_the_same_output(monkeypatch, tiny_models):
    """An injected out-of-memory error for batches above 2 tiles: the enhancement goes on with
    smaller batches and its output is the one a batch of 1 gives."""
    settings = EnhanceSettings(device="cpu", model_path=tiny_models["2d"], batch_size=1, tile_size=32)
    reference = inference.enhance(_volume(), settings).data
    forward = CEUNet.forward
    sizes: list[int] = []

    def crowded(self, x, context):
        sizes.append(x.shape[0])
        if x.shape[0] > 2:
            raise torch.OutOfMemoryError("injected")
        return forward(self, x, context)

    monkeypatch.setattr(CEUNet, "forward", crowded)
    settings.batch_size = 8
    retried = inference.enhance(_volume(), settings, ScanContext())
    assert sizes[:3] == [8, 4, 2] and max(sizes[3:]) == 2
    np.testing.assert_allclose(retried.data, reference, rtol=0, atol=1e-5 * np.abs(reference).max())
    assert retried.metadata["enhancement"]["device"] == "cpu" and "device_fallback" not in retried.metadata["enhancement"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)")
def test_cuda_bf16_agrees_with_the_cpu_within_50_db():
    volume = _volume()
    cpu = inference.enhance(volume, EnhanceSettings(device="cpu", model_kind="2d")).data.astype(np.float64)
    cuda = inference.enhance(volume, EnhanceSettings(device="cuda", model_kind="2d")).data.astype(np.float64)
    psnr = 10 * np.log10(cpu.max() ** 2 / np.mean((cuda - cpu) ** 2))
    assert psnr >= 50.0
