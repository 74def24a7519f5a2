"""MRDeepReconLib.enhancement_run (and background_run): a background run as the panel follows it, with a job that
replays statuses and volume nodes of a real MRML scene (slicer-core)."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from MRDeepReconLib.background import BackgroundStatus  # noqa: E402
from MRDeepReconLib.background_run import RunFailure, RunUpdate  # noqa: E402
from MRDeepReconLib.enhancement_run import EnhancementRun  # noqa: E402
from slicer_scene import new_scene  # noqa: E402

LOGIC = object()  # what the panel passes through to BackgroundEnhancement.finish


class ReplayJob:
    """Answers ``poll()`` with the given statuses (an exception is raised); records ``finish``."""

    def __init__(self, *statuses, result=None, finish_error=None) -> None:
        self.statuses = list(statuses)
        self.result, self.finish_error = result, finish_error
        self.finished, self.cancelled = [], False

    def poll(self):
        status = self.statuses.pop(0)
        if isinstance(status, Exception):
            raise status
        return status

    def finish(self, logic, input_node, output_node=None):
        self.finished.append((logic, input_node, output_node))
        if self.finish_error is not None:
            raise self.finish_error
        return self.result

    def cancel(self):
        self.cancelled = True


@pytest.fixture
def nodes():
    world = new_scene()
    make = lambda name: slicer.util.addVolumeFromArray(np.zeros((2, 4, 4), np.float32), name=name)  # noqa: E731
    return world, make("in"), make("out")


def test_progress_and_log_lines_while_running(nodes):
    _, inp, out = nodes
    job = ReplayJob(
        BackgroundStatus(running=True, fraction=0.25, message="slab 1/4", log_lines=["a", "b"]),
        BackgroundStatus(running=True, fraction=1.7, message=""),
        BackgroundStatus(running=True, fraction=None),
    )
    run = EnhancementRun(job, inp, out)
    assert run.poll(LOGIC) == RunUpdate(running=True, fraction=0.25, message="slab 1/4", log_lines=["a", "b"])
    assert run.poll(LOGIC).fraction == 1.0  # clamped
    assert run.poll(LOGIC).fraction == 0.0
    assert job.finished == []


def test_success_stores_into_the_chosen_output(nodes):
    _, inp, out = nodes
    job = ReplayJob(BackgroundStatus(running=False, fraction=1.0, returncode=0, log_lines=["done"]), result=out)
    update = EnhancementRun(job, inp, out).poll(LOGIC)
    assert job.finished == [(LOGIC, inp, out)]
    assert (update.running, update.failure, update.output_node, update.log_lines) == (False, None, out, ["done"])


def test_an_output_removed_during_the_run_becomes_a_new_node(nodes):
    world, inp, out = nodes
    world.scene.RemoveNode(out)
    job = ReplayJob(BackgroundStatus(running=False, returncode=0), result="new node")
    update = EnhancementRun(job, inp, out).poll(LOGIC)
    assert job.finished == [(LOGIC, inp, None)] and update.output_node == "new node"


def test_no_output_chosen_gives_none_to_finish(nodes):
    _, inp, _ = nodes
    job = ReplayJob(BackgroundStatus(running=False, returncode=0))
    EnhancementRun(job, inp).poll(LOGIC)
    assert job.finished == [(LOGIC, inp, None)]


@pytest.mark.parametrize(
    "status, failure, detail",
    [
        (BackgroundStatus(running=False, returncode=1, error="model card unreadable"), RunFailure.ENGINE_ERROR, "model card unreadable"),
        (BackgroundStatus(running=False, returncode=None, error="cancelled"), RunFailure.ENGINE_ERROR, "cancelled"),
        (BackgroundStatus(running=False, returncode=-9), RunFailure.EXIT_CODE, "-9"),
        (OSError("pipe closed"), RunFailure.POLL_FAILED, "pipe closed"),
    ],
)
def test_a_failed_run_stores_nothing(nodes, status, failure, detail):
    _, inp, out = nodes
    job = ReplayJob(status)
    update = EnhancementRun(job, inp, out).poll(LOGIC)
    assert (update.running, update.failure, update.detail, update.output_node) == (False, failure, detail, None)
    assert job.finished == []


def test_a_result_that_cannot_be_stored(nodes, caplog):
    _, inp, out = nodes
    job = ReplayJob(BackgroundStatus(running=False, returncode=0), finish_error=ValueError("output.nrrd unreadable"))
    update = EnhancementRun(job, inp, out).poll(LOGIC)
    assert (update.failure, update.detail, update.output_node) == (RunFailure.STORE_FAILED, "output.nrrd unreadable", None)
    assert "storing the result failed" in caplog.text


def test_cancel_cancels_the_job(nodes):
    _, inp, out = nodes
    job = ReplayJob()
    EnhancementRun(job, inp, out).cancel()
    assert job.cancelled
