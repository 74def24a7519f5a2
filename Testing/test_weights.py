"""Weights on disk: safetensors + JSON model card, integrity checks, bundled-model lookup."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from mrdeeprecon.errors import MRDeepReconError
from mrdeeprecon.model import context_vector
from mrdeeprecon.model.ce_unet import CEUNet, CEUNetConfig
from mrdeeprecon.model.weights import bundled_model_path, load_model, save_model

CONFIG = CEUNetConfig(in_slices=7, base_channels=4, depth=2, context_hidden=8)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[CEUNet, Path, dict]:
    torch.manual_seed(0)
    model = CEUNet(CONFIG).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".film." in name:
                parameter.normal_(0, 0.3)
    card = save_model(model, tmp_path / "net.safetensors", {"name": "test-net", "epochs": 0})
    return model, tmp_path / "net.safetensors", card


def test_round_trip_gives_identical_outputs(saved: tuple[CEUNet, Path, dict]) -> None:
    model, path, _ = saved
    loaded, card = load_model(path)
    assert loaded.config == CONFIG and not loaded.training
    x, c = torch.randn(2, 7, 20, 20), torch.rand(2, context_vector.SIZE)
    with torch.no_grad():
        assert torch.equal(loaded(x, c), model(x, c))
    assert card["name"] == "test-net"


def test_card_fields(saved: tuple[CEUNet, Path, dict]) -> None:
    model, path, card = saved
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert on_disk == card
    assert card["format"] == "safetensors"
    assert card["architecture"] == {
        "in_slices": 7,
        "context_size": context_vector.SIZE,
        "base_channels": 4,
        "depth": 2,
        "context_hidden": 8,
        "noise_input": "blind",
        "block": "plain",
    }
    assert card["context_fields"] == list(context_vector.FIELDS)
    assert card["parameter_count"] == model.parameter_count()
    assert len(card["sha256"]) == 64
    assert not list(path.parent.glob(".*.tmp"))


def test_tampered_file_is_refused_with_its_name(saved: tuple[CEUNet, Path, dict]) -> None:
    _, path, _ = saved
    payload = bytearray(path.read_bytes())
    payload[-1] ^= 0xFF
    path.write_bytes(bytes(payload))
    with pytest.raises(MRDeepReconError, match="SHA-256") as error:
        load_model(path)
    assert "net.safetensors" in str(error.value)


def test_changed_context_fields_are_refused(saved: tuple[CEUNet, Path, dict]) -> None:
    _, path, card = saved
    card_file = path.with_suffix(".json")
    card_file.write_text(json.dumps({**card, "context_fields": card["context_fields"][:-1]}))
    with pytest.raises(MRDeepReconError, match="context fields"):
        load_model(path)


def test_missing_card_is_refused(saved: tuple[CEUNet, Path, dict]) -> None:
    _, path, _ = saved
    path.with_suffix(".json").unlink()
    with pytest.raises(MRDeepReconError, match="net.json is missing"):
        load_model(path)


def test_pickle_checkpoint_is_refused(tmp_path: Path) -> None:
    pt = tmp_path / "evil.pt"
    pt.write_bytes(pickle.dumps({"not": "loaded"}))
    with pytest.raises(MRDeepReconError, match="only .safetensors") as error:
        load_model(pt)
    assert "evil.pt" in str(error.value)


def test_bundled_model_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MRDEEPRECON_MODEL_DIR", str(tmp_path))
    save_model(CEUNet(CONFIG), tmp_path / "ce_unet_3d", {})
    assert bundled_model_path("3d") == tmp_path / "ce_unet_3d.safetensors"
    with pytest.raises(MRDeepReconError, match="kind"):
        bundled_model_path("4d")


def test_missing_bundled_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import mrdeeprecon.model.weights as weights

    monkeypatch.setattr(weights, "_model_dirs", lambda: [Path("/nonexistent/models")])
    with pytest.raises(MRDeepReconError, match="no bundled 2D model ce_unet_2d.safetensors"):
        bundled_model_path("2d")
