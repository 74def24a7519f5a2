"""Measure a shipped model's noise-reduction calibration again, with today's noise levels.

    python benchmarks/recalibrate.py [MODEL.safetensors ...]   (default: both bundled models)

The weights are not touched (their SHA-256 stays); the card's ``calibration`` table is measured
again by :func:`mrdeeprecon.training.calibration.measure_calibration` on the training volumes the
card names (found among the default training data in ../shared/data; their SHA-256 is checked),
with the pair configuration and seed the card records. Use it when the calibration's noise levels
change (they now start at 0.3 % of p99, where high-SNR scans sit), then rerun
``benchmarks/quality.py --update-model-cards``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from common import use_repository_engine


def recalibrate(path: Path) -> None:
    from mrdeeprecon.errors import MRDeepReconError
    from mrdeeprecon.model.weights import load_model
    from mrdeeprecon.training.calibration import measure_calibration
    from mrdeeprecon.training.pairs import PairConfig
    from mrdeeprecon.training.train import TrainConfig
    from mrdeeprecon.training.volumes import load_training_volumes

    model, card = load_model(path)
    recorded = {d["file"]: d["sha256"] for d in card["training"]["data"]}
    candidates = {Path(p).name: p for p in TrainConfig().data}
    missing = sorted(set(recorded) - set(candidates))
    if missing:
        raise MRDeepReconError(f"training volumes not among the defaults: {', '.join(missing)}", path)
    volumes = load_training_volumes([candidates[name] for name in recorded])
    for volume in volumes:
        if volume.sha256 and recorded.get(volume.name) not in (None, volume.sha256):
            raise MRDeepReconError(f"training volume {volume.name} differs from the one trained on", path)
    fields = {f.name for f in dataclasses.fields(PairConfig)}
    saved = {k: tuple(v) if isinstance(v, list) else v for k, v in card["training"]["pair_config"].items() if k in fields}
    card["calibration"] = measure_calibration(model, [v.data for v in volumes], PairConfig(**saved), seed=card["training"]["seed"])
    card_path = Path(path).with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"recalibrated {card_path}: noise levels {card['calibration']['noise_levels']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="*")
    args = parser.parse_args(argv)
    use_repository_engine()
    from mrdeeprecon.model.weights import bundled_model_path

    for path in args.models or [bundled_model_path("2d"), bundled_model_path("3d")]:
        recalibrate(Path(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
