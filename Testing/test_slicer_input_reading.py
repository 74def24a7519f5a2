"""MRDeepReconLib.input_reading: what the panel reads about its input, on a real MRML scene
(slicer-core) — a mixed DICOM series, a volume without DICOM tags, and files that are gone."""

from __future__ import annotations

import logging

import numpy as np
import pydicom
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from conftest import shared_path  # noqa: E402
from mrdeeprecon.io import default_context  # noqa: E402
from MRDeepReconLib.input_reading import InputReading, input_key, read_input  # noqa: E402
from slicer_scene import load_series, new_scene  # noqa: E402

DUAL_ECHO = "dicom/real_world/philips_dual_echo"


@pytest.fixture(scope="module")
def mixed_series():
    """The dual-echo series' echo-1 files (magnitude and phase at 30 positions) as one node."""
    folder = shared_path(DUAL_ECHO)
    files = [
        path for path in sorted(folder.iterdir())
        if int(pydicom.dcmread(path, stop_before_pixels=True).EchoNumbers) == 1
    ]  # fmt: skip
    return load_series(new_scene(), files, "Dual-echo")


def test_no_input_reads_as_nothing() -> None:
    assert read_input(None, None) == InputReading()
    assert input_key(None) is None


def test_a_volume_without_dicom_has_the_default_context_and_can_be_enhanced() -> None:
    new_scene()
    node = slicer.util.addVolumeFromArray(np.ones((4, 8, 8), np.float32), name="plain")
    reading = read_input(node, lambda uid: "")
    assert reading.key == (node.GetID(), "") == input_key(node)
    assert reading.context == default_context()
    assert (reading.context_error, reading.image_sets, reading.refusal) == ("", (), None)


def test_a_mixed_series_lists_its_image_sets_and_is_refused(mixed_series) -> None:
    reading = read_input(mixed_series.node, mixed_series.file_for_instance)
    assert reading.context is not None and reading.context_error == ""
    assert [(s.echo_number, s.component, n) for s, n in reading.image_sets] == [(1, "magnitude", 30), (1, "phase", 30)]
    assert "2 image sets" in reading.refusal
    # without the database's lookup nothing can be said about the files
    without = read_input(mixed_series.node, None)
    assert (without.image_sets, without.refusal) == ((), None)


def test_files_that_are_gone_are_reported_not_raised(mixed_series, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        reading = read_input(mixed_series.node, lambda uid: "")
    assert reading.context is None and "not in the database" in reading.context_error
    assert reading.image_sets == () and "not in the database" in reading.refusal
    assert sum("MRDeepRecon:" in record.getMessage() for record in caplog.records) == 2


def test_the_key_follows_the_nodes_instances() -> None:
    new_scene()
    node = slicer.util.addVolumeFromArray(np.ones((2, 4, 4), np.float32), name="plain")
    before = input_key(node)
    node.SetAttribute("DICOM.instanceUIDs", "1.2.3 1.2.4")
    assert input_key(node) == (node.GetID(), "1.2.3 1.2.4") != before
