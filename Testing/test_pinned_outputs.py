"""The enhancement's outputs stay what they were: small stored statistics per case
(``pinned_outputs.json``, :mod:`pinned_outputs`), the bundled models, the CPU.

A failure means ``enhance`` computes something else than when the numbers were pinned. When the
bundled models changed, or the change is intended, regenerate them
(``.venv/bin/python Testing/pinned_outputs.py``) in the commit that makes the change, and say why.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from pinned_outputs import CASES, PINNED, TOLERANCE, enhance_case, model_hashes, sample_indices


@pytest.fixture(scope="module")
def pinned() -> dict:
    stored = json.loads(PINNED.read_text())
    assert stored["models_sha256"] == model_hashes(), (
        "the bundled models are not those the outputs were pinned with: regenerate "
        "Testing/pinned_outputs.json (python Testing/pinned_outputs.py) and say why in the commit"
    )
    return stored["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_output_matches_its_pinned_statistics(pinned, case) -> None:
    expected = pinned[case.name]
    output = enhance_case(case)
    assert list(output.shape) == expected["shape"]
    tolerance = TOLERANCE * expected["p99"]
    values = output.astype(np.float64)
    assert values.mean() == pytest.approx(expected["mean"], abs=tolerance)
    assert values.std() == pytest.approx(expected["sd"], abs=tolerance)
    np.testing.assert_allclose(values.flat[sample_indices(values.size)], expected["samples"], rtol=0, atol=tolerance)
