"""MRDeepReconLib.device: the device of a run for the panel's request and the GPU's free memory."""

from __future__ import annotations

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from MRDeepReconLib.device import (  # noqa: E402
    GIB,
    MIN_GPU_FREE_BYTES,
    DeviceChoice,
    DeviceFallback,
    GpuInfo,
    choose_device,
    cuda_gpu,
)

ROOMY = GpuInfo("Test GPU", 10 * GIB, 16 * GIB)
FULL = GpuInfo("Test GPU", MIN_GPU_FREE_BYTES - 1, 16 * GIB)


def _never():
    raise AssertionError("the GPU was queried for a CPU run")


def test_cpu_is_the_cpu_without_asking_the_gpu():
    assert choose_device("cpu", _never) == DeviceChoice("cpu")


@pytest.mark.parametrize("requested", ["auto", "cuda"])
def test_a_gpu_with_room_runs_on_cuda(requested):
    assert choose_device(requested, lambda: ROOMY) == DeviceChoice("cuda", None, ROOMY)


@pytest.mark.parametrize("requested", ["auto", "cuda"])
def test_a_full_gpu_sends_the_run_to_the_cpu(requested):
    choice = choose_device(requested, lambda: FULL)
    assert (choice.device, choice.fallback, choice.gpu) == ("cpu", DeviceFallback.GPU_TOO_FULL, FULL)
    assert choose_device(requested, lambda: GpuInfo("x", MIN_GPU_FREE_BYTES, GIB)).device == "cuda"  # exactly enough


def test_without_a_gpu_cuda_falls_back_and_auto_is_left_to_the_engine():
    assert choose_device("cuda", lambda: None) == DeviceChoice("cpu", DeviceFallback.NO_GPU)
    assert choose_device("auto", lambda: None) == DeviceChoice("auto")


def test_gpu_info_in_gib():
    assert (ROOMY.free_gib, ROOMY.total_gib) == (10.0, 16.0)


def test_cuda_gpu_answers_for_this_machine():
    torch = pytest.importorskip("torch")
    gpu = cuda_gpu()
    if not torch.cuda.is_available():
        assert gpu is None
    else:
        assert 0 < gpu.free_bytes <= gpu.total_bytes and gpu.name
