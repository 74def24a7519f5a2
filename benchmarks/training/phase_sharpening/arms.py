"""Train one arm of the phase-sharpening experiment (README.md beside this file).

    ARM=control|no_zero_filled_pf|no_zero_filled_pf_no_random|phase_symmetric \
        python benchmarks/training/phase_sharpening/arms.py train <mrdeeprecon train arguments>

Runs ``mrdeeprecon train`` with the training pairs' random degradation changed as the arm says:

* ``control``: unchanged;
* ``no_zero_filled_pf``: partial Fourier along phase reconstructed by homodyne or POCS (half each),
  never zero-filled (the one reconstruction that is blurrier along phase than the context says);
* ``no_zero_filled_pf_no_random``: also no random (CG-SENSE) undersampling;
* ``phase_symmetric``: no partial Fourier along phase and no undersampling, so the pairs tell phase
  from frequency only by the odds of a k_max below 1 (0.6 along phase, 0.5 along frequency), which
  the context states; filters and the rest stay as drawn.

The changed arms draw one more number for some pairs, so their pairs are not the control's draw
for draw.
"""

import dataclasses
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "MRDeepRecon"))

from mrdeeprecon.cli import main  # noqa: E402
from mrdeeprecon.training import pairs  # noqa: E402

ARMS = ("control", "no_zero_filled_pf", "no_zero_filled_pf_no_random", "phase_symmetric")
ARM = os.environ.get("ARM", "")
if ARM not in ARMS:
    raise SystemExit(f"ARM must be one of {ARMS}, got {ARM!r}")
drawn_degradation = pairs.random_degradation


def arm_degradation(draw, is_3d, config):
    """The drawn degradation with the arm's change; the context is re-derived from it."""
    spec, sampling = drawn_degradation(draw, is_3d, config)
    changes = {}
    zero_filled_phase = spec.partial_fourier[0] < 1 and spec.partial_fourier_recon == "zero"
    if ARM in ("no_zero_filled_pf", "no_zero_filled_pf_no_random") and zero_filled_phase:
        changes["partial_fourier_recon"] = "homodyne" if draw.uniform() < 0.5 else "pocs"
    if ARM == "no_zero_filled_pf_no_random" and spec.undersample_random > 1:
        changes["undersample_random"] = 1.0
    if ARM == "phase_symmetric":
        changes.update(partial_fourier=(1.0, spec.partial_fourier[1]), undersample_uniform=1.0, undersample_random=1.0)
    if not changes:
        return spec, sampling
    spec = dataclasses.replace(spec, **changes)
    return spec, pairs.pair_sampling(spec, is_3d)


pairs.random_degradation = arm_degradation
sys.exit(main(sys.argv[1:]))
