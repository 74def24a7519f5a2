"""What the panel says about the model a run will use: its model card, as HTML.

The cards are the JSON files beside the weights (:func:`mrdeeprecon.model.weights.card_path`); with
no model chosen they are those of the bundled 2D and 3D models, found where the engine finds them
(:func:`mrdeeprecon.model.weights.bundled_model_path`). Reading a card imports neither torch nor
safetensors; :func:`verified_card` (imported weights) loads the weights with the engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

from mrdeeprecon import MRDeepReconError
from mrdeeprecon.model.weights import BUNDLED_NAMES, bundled_model_path, card_path

#: A model card as read from its JSON file, or ``{"name": ..., "error": ...}`` when it could not be.
ModelCard = dict[str, Any]


def read_card(weights: Path) -> ModelCard:
    """The model card beside ``weights``, or ``{"name": <file name>, "error": <why>}`` when it
    cannot be read (missing, not JSON)."""
    try:
        with open(card_path(weights), encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError) as error:
        return {"name": Path(weights).name, "error": str(error)}


def model_cards(model_path: Optional[str]) -> list[tuple[Path, ModelCard]]:
    """(weights, card) of the model ``model_path`` (a ``.safetensors`` file), or of the bundled
    2D and 3D models when it is ``None`` or ``""``; a bundled model that is not found gets an
    error card naming where it was looked for."""
    if model_path:
        return [(Path(model_path), read_card(Path(model_path)))]
    cards = []
    for kind, name in BUNDLED_NAMES.items():
        try:
            weights = bundled_model_path(kind)
        except MRDeepReconError as error:
            cards.append((Path(name), {"name": name, "error": str(error)}))
            continue
        cards.append((weights, read_card(weights)))
    return cards


def verified_card(weights: Path) -> ModelCard:
    """Load ``weights`` with the engine (SHA-256 against the card, architecture, context fields;
    imports torch) and return its model card.

    Raises:
        MRDeepReconError: naming what is wrong with the weights or their card.
    """
    from mrdeeprecon.model.weights import load_model

    model, card = load_model(Path(weights), device="cpu")
    del model
    return card


def _scores(values: dict[str, Any]) -> str:
    """``"<PSNR> dB / <SSIM>"`` of a card's evaluation entry (``nan`` where one is missing)."""
    return f"{values.get('psnr_db', float('nan')):.2f} dB / {values.get('ssim', float('nan')):.3f}"


def model_card_html(
    weights: Path,
    card: ModelCard,
    training_data_label: str = "Training data",
    held_out_label: str = "Held-out",
) -> str:
    """One card as HTML: name (kind, version, parameter count), training data and the held-out
    scores (PSNR in dB / SSIM of the degraded input and of each enhanced variant). An error
    card shows its name and the error. The labels are the panel's (translated) words."""
    if "error" in card:
        return f"<b>{card.get('name')}</b>: {card['error']}"
    data = ", ".join(
        str(entry.get("file", entry)) if isinstance(entry, dict) else str(entry)
        for entry in (card.get("training", {}) or {}).get("data", [])
    )
    evaluation = card.get("evaluation", {}) or {}
    metrics = []
    degraded = evaluation.get("degraded") or {}
    if degraded:
        metrics.append(f"degraded {_scores(degraded)}")
    for label, values in (evaluation.get("enhanced") or {}).items():
        if isinstance(values, dict) and "psnr_db" in values:
            metrics.append(f"{label} {_scores(values)}")
    holdout = evaluation.get("holdout", "")
    return (
        f"<b>{card.get('name', Path(weights).name)}</b> ({card.get('kind', '?')}, version {card.get('version', '?')},"
        f" {card.get('parameter_count', card.get('parameters', '?'))} parameters)<br>"
        f"{training_data_label}: {data or '?'}<br>"
        + (f"{held_out_label} {holdout}: {'; '.join(metrics)}" if metrics else "")
    )


def model_cards_html(
    cards: Sequence[tuple[Path, ModelCard]],
    training_data_label: str = "Training data",
    held_out_label: str = "Held-out",
) -> str:
    """:func:`model_card_html` of each (weights, card), separated by an empty line."""
    return "<br><br>".join(
        model_card_html(weights, card, training_data_label, held_out_label) for weights, card in cards
    )
