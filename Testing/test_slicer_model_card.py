"""MRDeepReconLib.model_card: the model cards the panel shows, found where the engine finds the
bundled models, and their HTML."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from mrdeeprecon import MRDeepReconError  # noqa: E402
from mrdeeprecon.model import weights  # noqa: E402
from MRDeepReconLib.model_card import (  # noqa: E402
    model_card_html,
    model_cards,
    model_cards_html,
    read_card,
    verified_card,
)

CARD = {
    "name": "CE U-Net 2D",
    "kind": "2d",
    "version": 3,
    "parameter_count": 1234,
    "training": {"data": [{"file": "a.nii.gz"}, "b.nii.gz"]},
    "evaluation": {
        "holdout": "seg3D slices 60-99",
        "degraded": {"psnr_db": 30.0, "ssim": 0.8},
        "enhanced": {"NR 2": {"psnr_db": 33.456, "ssim": 0.91234}, "note": "not scores", "NR 5": {"ssim": 0.5}},
    },
}


def _write_model(folder: Path, stem: str, card: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stem}.safetensors").write_bytes(b"not read here")
    (folder / f"{stem}.json").write_text(json.dumps(card), encoding="utf-8")
    return folder / f"{stem}.safetensors"


def test_bundled_cards_come_from_where_the_engine_finds_the_models(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(weights.MODEL_DIR_ENV, str(tmp_path))
    for kind in ("2d", "3d"):
        _write_model(tmp_path, f"ce_unet_{kind}", {"name": f"override {kind}"})
    cards = model_cards("")
    assert cards == [
        (tmp_path / "ce_unet_2d.safetensors", {"name": "override 2d"}),
        (tmp_path / "ce_unet_3d.safetensors", {"name": "override 3d"}),
    ]
    assert model_cards(None) == cards


def test_a_missing_bundled_model_gets_an_error_card(monkeypatch):
    monkeypatch.setattr(weights, "_model_dirs", lambda: [Path("/nonexistent/models")])
    cards = model_cards("")
    assert [weights_path.name for weights_path, _ in cards] == ["ce_unet_2d.safetensors", "ce_unet_3d.safetensors"]
    for _, card in cards:
        assert card["name"].startswith("ce_unet_") and "/nonexistent/models" in card["error"]


def test_a_chosen_model_shows_its_own_card_or_why_not(tmp_path: Path):
    path = _write_model(tmp_path, "mine", CARD)
    assert model_cards(str(path)) == [(path, CARD)]
    (tmp_path / "mine.json").write_text("{not json")
    (card,) = [c for _, c in model_cards(str(path))]
    assert card["name"] == "mine.safetensors" and card["error"]
    assert "error" in read_card(tmp_path / "absent.safetensors")


def test_reading_cards_does_not_import_torch():
    import subprocess

    code = (
        "import sys; from MRDeepReconLib.model_card import model_cards; model_cards('');"
        "assert 'torch' not in sys.modules and 'safetensors' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_card_html():
    html = model_card_html(Path("x.safetensors"), CARD, "Données", "Réservé")
    assert html == (
        "<b>CE U-Net 2D</b> (2d, version 3, 1234 parameters)<br>"
        "Données: a.nii.gz, b.nii.gz<br>"
        "Réservé seg3D slices 60-99: degraded 30.00 dB / 0.800; NR 2 33.46 dB / 0.912"
    )


def test_card_html_of_a_sparse_card_and_an_error_card():
    assert model_card_html(Path("dir/w.safetensors"), {"parameters": 7}) == (
        "<b>w.safetensors</b> (?, version ?, 7 parameters)<br>Training data: ?<br>"
    )
    degraded_only = {"evaluation": {"degraded": {"psnr_db": 20.0}}}
    assert model_card_html(Path("w.safetensors"), degraded_only).endswith("Held-out : degraded 20.00 dB / nan")
    assert model_card_html(Path("w"), {"name": "w", "error": "broken"}) == "<b>w</b>: broken"
    both = model_cards_html([(Path("a"), {"name": "a", "error": "e1"}), (Path("b"), {"name": "b", "error": "e2"})])
    assert both == "<b>a</b>: e1<br><br><b>b</b>: e2"


def test_verified_card_checks_the_weights(tiny_models, tmp_path: Path):
    card = verified_card(tiny_models["2d"])
    assert card["name"] == "tiny 2d" and card["format"] == "safetensors"
    broken = _write_model(tmp_path, "broken", json.loads(Path(tiny_models["2d"]).with_suffix(".json").read_text()))
    with pytest.raises(MRDeepReconError, match="SHA-256"):
        verified_card(broken)
