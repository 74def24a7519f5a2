"""What the scan-specific fine-tune did (:mod:`mrdeeprecon.scan_adaptation`), as the output's
metadata records it and the command line and the panel say it.

Without torch: the Slicer panel reads the record when the background run has finished.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Adaptation:
    """What the fine-tune did, for the output's metadata.

    Attributes:
        steps_run: training steps taken.
        kept_step: the step whose weights enhance the volume (0: the unadapted model).
        held_out_loss: ``(step, loss)`` at each evaluation, the loss relative to step 0's.
        stopped: why it stopped (the step limit, no new lowest, or why it did not adapt).
        seconds: wall time.
    """

    steps_run: int
    kept_step: int
    held_out_loss: tuple[tuple[int, float], ...]
    stopped: str
    seconds: float

    def record(self) -> dict[str, Any]:
        """JSON-ready (:func:`describe` reads it)."""
        return {"steps_run": self.steps_run, "kept_step": self.kept_step,
                "held_out_loss": [[step, round(loss, 5)] for step, loss in self.held_out_loss],
                "stopped": self.stopped, "seconds": round(self.seconds, 1)}


def reused_record(adapted_to: dict[str, Any]) -> dict[str, Any]:
    """The record of a fine-tune made by an earlier run, from the ``adapted_to`` of the card it was
    kept with (:mod:`mrdeeprecon.adaptation_cache`): its :meth:`Adaptation.record` and ``reused``."""
    return {**{item.name: adapted_to[item.name] for item in fields(Adaptation)}, "reused": True}


def kept(record: dict[str, Any]) -> str:
    """Which weights an :meth:`Adaptation.record` kept, e.g. ``"750 of 1750"`` (steps)."""
    return f"{record['kept_step']} of {record['steps_run']}"


def describe(record: dict[str, Any]) -> str:
    """One sentence on an :meth:`Adaptation.record` (the command line and the panel say it)."""
    made = " (the fine-tune of an earlier run, reused)" if record.get("reused") else ""
    if not record["held_out_loss"]:
        return f"Not adapted to this scan{made}: {record['stopped']}."
    losses = dict(record["held_out_loss"])
    if record["kept_step"] == 0:
        return (f"Adaptation to this scan{made}: {record['steps_run']} steps in {record['seconds']:.0f} s did not lower "
                "the held-out loss, so the unadapted network enhanced it.")
    return (f"Adapted to this scan{made}: the weights of step {kept(record)} "
            f"({record['seconds']:.0f} s; held-out loss {100 * (losses[record['kept_step']] - 1):+.1f} %; stopped: {record['stopped']}).")
