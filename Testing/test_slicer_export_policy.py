"""MRDeepReconLib.export_policy: an export or QA report never goes into a folder holding files."""

from __future__ import annotations

from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from MRDeepReconLib.export_policy import (  # noqa: E402
    FALLBACK_FOLDER_NAME,
    folder_is_chosen,
    new_folder_in,
    output_folder,
    safe_folder_name,
)


def test_unset_path_fields_are_not_a_choice():
    assert not folder_is_chosen("") and not folder_is_chosen(".") and not folder_is_chosen(Path())
    assert folder_is_chosen("/tmp/x") and folder_is_chosen(Path("out"))


def test_missing_or_empty_folder_is_used_as_it_is(tmp_path: Path):
    assert new_folder_in(tmp_path / "new", "T1_DLR") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert new_folder_in(tmp_path / "empty", "T1_DLR") == tmp_path / "empty"


def test_occupied_folder_gets_a_new_sub_folder_named_after_the_result(tmp_path: Path):
    (tmp_path / "other.dcm").write_text("x")
    assert new_folder_in(tmp_path, "T1 W/TSE_DLR") == tmp_path / "T1_W_TSE_DLR"
    (tmp_path / "T1_W_TSE_DLR").mkdir()
    (tmp_path / "T1_W_TSE_DLR_2").mkdir()
    assert new_folder_in(tmp_path, "T1 W/TSE_DLR") == tmp_path / "T1_W_TSE_DLR_3"
    assert not (tmp_path / "T1_W_TSE_DLR_3").exists()  # nothing is created


def test_safe_folder_name():
    assert safe_folder_name("a.b-c_d 1") == "a.b-c_d_1"
    assert safe_folder_name("") == FALLBACK_FOLDER_NAME


def test_output_folder_creates_the_parent_only(tmp_path: Path):
    out = output_folder(tmp_path / "deep" / "er" / "dicom", "x")
    assert out == tmp_path / "deep" / "er" / "dicom"
    assert out.parent.is_dir() and not out.exists()
