"""The panel's comparison: which original/enhanced pair it shows and which toggles it applied.

:class:`ComparisonSession` follows the panel's toggles (:class:`ComparisonToggles`: thick-slab MIP
and its thickness, 3D MIP, difference) and drives one :class:`~MRDeepReconLib.comparison.Comparison`
per pair: a toggle switched on while no comparison is shown brings the comparison layout up with
it; while one is shown, only what changed is applied; another pair (or no result) forgets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from .comparison import DEFAULT_SLAB_THICKNESS_MM, Comparison


@dataclass(frozen=True)
class ComparisonToggles:
    """What the panel asks of the comparison views.

    Attributes:
        slab_mip: thick-slab maximum intensity projection in the slice views.
        slab_thickness_mm: the slab's thickness in mm.
        mip_3d: the 3D MIP (volume rendering) row.
        difference: the enhanced − original column.
    """

    slab_mip: bool = False
    slab_thickness_mm: float = DEFAULT_SLAB_THICKNESS_MM
    mip_3d: bool = False
    difference: bool = False

    def aspects(self) -> dict[str, Any]:
        """The toggles as the three things a comparison applies separately: ``"slab"``
        (on, thickness in mm), ``"mip3d"`` and ``"difference"``."""
        return {"slab": (self.slab_mip, self.slab_thickness_mm), "mip3d": self.mip_3d, "difference": self.difference}

    def switched_on_since(self, before: "ComparisonToggles") -> bool:
        """Whether a view was switched on since ``before`` (slab MIP, 3D MIP or difference)."""
        return (
            (self.slab_mip and not before.slab_mip)
            or (self.mip_3d and not before.mip_3d)
            or (self.difference and not before.difference)
        )


class ComparisonSession:
    """The comparison the panel shows (``make_comparison()`` makes one on the application's
    views) and the toggles applied to it.

    Attributes:
        comparison: the :class:`Comparison` shown, or ``None``.
        pair: (original node ID, enhanced node ID) it shows, or ``None``.
    """

    def __init__(self, make_comparison: Callable[[], Comparison]) -> None:
        self._make_comparison = make_comparison
        self.comparison: Optional[Comparison] = None
        self.pair: Optional[tuple[str, str]] = None
        self._applied: dict[str, Any] = {}
        self._seen: Optional[ComparisonToggles] = None

    def forget(self) -> None:
        """No comparison is shown any more (the scene was closed)."""
        self.comparison, self.pair, self._applied = None, None, {}

    def forget_toggles(self) -> None:
        """The next :meth:`update` is a first look (another parameter node): it applies nothing."""
        self._seen = None

    def show(self, original, enhanced, toggles: ComparisonToggles) -> None:
        """Show ``original`` | ``enhanced`` (scalar volume nodes) in the comparison layout, linked,
        and apply every toggle. The comparison of the same pair is reused."""
        pair = (original.GetID(), enhanced.GetID())
        if self.comparison is None or self.pair != pair:
            self.comparison = self._make_comparison()
        self.comparison.show(original, enhanced)
        self.pair = pair
        self._applied = {}
        self._apply(toggles, force=True)

    def update(self, original, enhanced, toggles: ComparisonToggles) -> None:
        """Follow the panel: ``original`` and ``enhanced`` are the pair with a result, both
        ``None`` without one. A comparison of another pair is forgotten. When the toggles changed
        since the previous update, a shown comparison gets what changed, and a toggle switched on
        while none is shown shows it. Exceptions of the comparison propagate (after this
        session's bookkeeping)."""
        seen, self._seen = self._seen, toggles
        pair = (original.GetID(), enhanced.GetID()) if original is not None and enhanced is not None else None
        if pair != self.pair:
            self.forget()
        if pair is None or seen is None or seen == toggles:
            return  # no result, first look at these toggles, or nothing of the comparison changed
        if self.comparison is None:
            if toggles.switched_on_since(seen):  # a view was asked for: show the comparison with it
                self.show(original, enhanced, toggles)
        else:
            self._apply(toggles)

    def _apply(self, toggles: ComparisonToggles, force: bool = False) -> None:
        wanted = toggles.aspects()
        changed = {key for key, value in wanted.items() if force or self._applied.get(key) != value}
        if "slab" in changed:
            self.comparison.set_slab_mip(*wanted["slab"])
        if "mip3d" in changed:
            self.comparison.set_3d_mip(wanted["mip3d"])
        if "difference" in changed:
            self.comparison.show_difference(wanted["difference"])
        self._applied.update({key: wanted[key] for key in changed})
