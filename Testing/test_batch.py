"""`mrdeeprecon batch`: a folder, a manifest or a DICOMDIR enhanced into one folder with a
report; resumable; one bad series reported, not fatal; sharded under torchrun."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from mrdeeprecon.batch import find_items, shard
from mrdeeprecon.cli import BATCH_INCOMPLETE, main
from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.io import load_volume
from mrdeeprecon.settings import EnhanceSettings
from synthetic_dicom import mr_series

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """Two patients: three synthetic series, one of them broken (a slice missing), a NIfTI file
    and a folder without images."""
    root = tmp_path_factory.mktemp("batch") / "in"
    mr_series(root / "p1" / "t1", (8, 24, 20), seed=1)
    mr_series(root / "p1" / "t2", (6, 20, 24), seed=2)
    broken = mr_series(root / "p2" / "broken", (8, 24, 20), seed=3)
    sorted(broken.iterdir())[4].unlink()
    mr_series(root / "p2" / "flair", (8, 24, 20), seed=4)
    (root / "p2" / "notes").mkdir()
    (root / "p2" / "notes" / "README.txt").write_text("not an image")
    return root


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "batch_report.csv", newline="") as stream:
        return {row["name"]: row for row in csv.DictReader(stream)}


def _digest(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_folder_is_enhanced_item_by_item_and_a_broken_series_is_reported(tree, tmp_path, capsys) -> None:
    before = _digest(tree)
    out = tmp_path / "out"
    assert main(["batch", str(tree), "--out", str(out), "--device", "cpu", "--progress", "none"]) == BATCH_INCOMPLETE
    log = capsys.readouterr().out
    rows = _rows(out)
    assert sorted(rows) == ["p1_t1_synthetic", "p1_t2_synthetic", "p2_broken_synthetic", "p2_flair_synthetic"]
    assert rows["p2_broken_synthetic"]["status"] == "refused" and "non-uniform slice spacing" in rows["p2_broken_synthetic"]["message"]
    for name in ("p1_t1_synthetic", "p1_t2_synthetic", "p2_flair_synthetic"):
        row = rows[name]
        assert row["status"] == "done" and float(row["seconds"]) >= 0 and row["noise_reduction_requested"] == "2"
        assert float(row["noise_reduction_achieved"]) > 1
        assert f"{name}: done in" in log
    assert "[3/4] p2_broken_synthetic: refused" in log
    assert (out / "batch_report.html").read_text().count("<tr>") == 5
    assert sorted(p.name for p in out.iterdir()) == [
        "batch_report.csv", "batch_report.html", "p1_t1_synthetic.nii.gz", "p1_t2_synthetic.nii.gz", "p2_flair_synthetic.nii.gz"]
    assert _digest(tree) == before

    # the same output as `enhance` of that series alone
    single = tmp_path / "single.nii.gz"
    assert main(["enhance", str(tree / "p1" / "t2"), str(single), "--device", "cpu", "--quiet"]) == 0
    np.testing.assert_array_equal(load_volume(out / "p1_t2_synthetic.nii.gz").data, load_volume(single).data)


def test_a_rerun_resumes(tree, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    main(["batch", str(tree), "--out", str(out), "--device", "cpu", "--progress", "none", "--quiet"])
    kept = (out / "p1_t1_synthetic.nii.gz").stat().st_mtime_ns
    (out / "p2_flair_synthetic.nii.gz").unlink()  # as if the run had been killed while writing it:
    staged = out / ".p2_flair_synthetic.nii.gz.k3j2.tmp"  # what write_itk stages
    staged.mkdir()
    (staged / "p2_flair_synthetic.nii.gz").write_bytes(b"half")
    assert main(["batch", str(tree), "--out", str(out), "--device", "cpu", "--progress", "none"]) == BATCH_INCOMPLETE
    rows = _rows(out)
    assert rows["p1_t1_synthetic"]["status"] == "done earlier" and rows["p1_t1_synthetic"]["seconds"]  # carried over
    assert rows["p2_flair_synthetic"]["status"] == "done"
    assert (out / "p1_t1_synthetic.nii.gz").stat().st_mtime_ns == kept
    assert not staged.exists() and load_volume(out / "p2_flair_synthetic.nii.gz").shape == (8, 24, 20)


def test_a_manifest_gives_per_row_settings_and_a_bad_row_is_refused_before_any_work(tree, tmp_path, capsys) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        "input,name,noise_reduction\n"
        f"{tree / 'p1' / 't1'},gentle,1\n"
        f"{tree / 'p1' / 't1'},strong,4\n"
    )
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "--out", str(out), "--device", "cpu", "--quiet", "--progress", "none"]) == 0
    source = load_volume(tree / "p1" / "t1").data
    gentle, strong = load_volume(out / "gentle.nii.gz").data, load_volume(out / "strong.nii.gz").data
    assert np.std(gentle - source) < np.std(strong - source)  # more noise taken out at 4 than at 1
    assert _rows(out)["strong"]["noise_reduction_requested"] == "4"

    manifest.write_text(f"input,noise_reduction\n{tree / 'p1' / 't1'},2\n{tree / 'p1' / 't2'},99\n")
    assert main(["batch", str(manifest), "--out", str(tmp_path / "other"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "list.csv: line 3: noise reduction factor must be in [1, 10], got 99" in err
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("text, message", [
    ("", "no rows"),
    ("path,name\nx,y\n", "must include 'input'"),
    ("input,colour\nx,red\n", "unknown: colour"),
    ("input\nmissing/folder\n", "line 2: .*missing/folder does not exist"),
    ("input,echo\n{series},two\n", "line 2: echo 'two' is not a whole number"),
])
def test_manifest_problems_name_the_file_and_line(tree, tmp_path, text, message) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text(text.format(series=tree / "p1" / "t1"))
    with pytest.raises(MRDeepReconError, match=message) as raised:
        find_items(manifest, EnhanceSettings())
    assert str(manifest) in str(raised.value)


def test_a_dicomdir_lists_its_series(tree, tmp_path) -> None:
    from pydicom.fileset import FileSet

    fileset = FileSet()
    for folder in (tree / "p1" / "t1", tree / "p1" / "t2"):
        for path in sorted(folder.iterdir()):
            fileset.add(pydicom.dcmread(path))
    fileset.write(tmp_path / "media")
    items = find_items(tmp_path / "media" / "DICOMDIR", EnhanceSettings())
    assert len(items) == 2 and all(item.input.is_dir() for item in items)
    assert {len(list(item.input.iterdir())) for item in items} == {6, 8}
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "media" / "DICOMDIR"), "--out", str(out), "--device", "cpu", "--quiet", "--progress", "none"]) == 0
    assert sum(p.suffix == ".gz" for p in out.iterdir()) == 2


def test_dicom_output_per_series(tree, tmp_path) -> None:
    manifest = tmp_path / "list.csv"
    manifest.write_text(f"input,name\n{tree / 'p1' / 't2'},t2\n")
    out = tmp_path / "out"
    assert main(["batch", str(manifest), "--out", str(out), "--format", "dicom", "--device", "cpu", "--quiet", "--progress", "none"]) == 0
    files = sorted((out / "t2").iterdir())
    assert len(files) == 6 and list(pydicom.dcmread(files[0]).ImageType[:2]) == ["DERIVED", "SECONDARY"]


def test_sharding_takes_every_nth_item() -> None:
    items = list(range(7))
    assert [shard(items, r, 3) for r in range(3)] == [[0, 3, 6], [1, 4], [2, 5]]  # type: ignore[arg-type]
    with pytest.raises(MRDeepReconError, match="rank 3"):
        shard(items, 3, 3)  # type: ignore[arg-type]


def test_two_torchrun_processes_give_the_outputs_of_one(tree, tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "MRDeepRecon"), OMP_NUM_THREADS="1")
    args = ["batch", str(tree), "--device", "cpu", "--quiet", "--progress", "none"]
    one = subprocess.run([sys.executable, "-m", "mrdeeprecon.cli", *args, "--out", str(tmp_path / "one")], env=env, capture_output=True, text=True)
    two = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "mrdeeprecon.cli", *args,
         "--out", str(tmp_path / "two")],
        env=env, capture_output=True, text=True,
    )
    assert one.returncode == BATCH_INCOMPLETE, one.stderr
    assert two.returncode != 0 and "batch_report" not in two.stderr  # the broken series is reported, not fatal
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == names
    for name in names:
        if name.endswith(".nii.gz"):
            np.testing.assert_array_equal(load_volume(tmp_path / "one" / name).data, load_volume(tmp_path / "two" / name).data)
    statuses = lambda folder: {k: v["status"] for k, v in _rows(folder).items()}  # noqa: E731
    assert statuses(tmp_path / "two") == statuses(tmp_path / "one")
