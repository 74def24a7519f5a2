"""MRDeepReconLib.comparison_session: which comparison the panel shows and which toggles reach it,
with volume nodes of a real MRML scene (slicer-core) and a comparison that records its calls."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="slicer-core (a test dependency) is not installed")

from MRDeepReconLib.comparison_session import ComparisonSession, ComparisonToggles  # noqa: E402
from slicer_scene import new_scene  # noqa: E402


class RecordingComparison:
    """Stands in for ``MRDeepReconLib.comparison.Comparison`` (which needs the application's views)."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def show(self, original, enhanced):
        self.calls.append(("show", original.GetName(), enhanced.GetName()))

    def set_slab_mip(self, enabled, thickness_mm):
        self.calls.append(("slab", enabled, thickness_mm))

    def set_3d_mip(self, enabled):
        self.calls.append(("mip3d", enabled))

    def show_difference(self, visible):
        self.calls.append(("difference", visible))


@pytest.fixture
def nodes():
    new_scene()
    return [slicer.util.addVolumeFromArray(np.zeros((2, 4, 4), np.float32), name=name) for name in ("a", "a_DLR", "b", "b_DLR")]


@pytest.fixture
def session():
    calls, made = [], []

    def make():
        made.append(RecordingComparison(calls))
        return made[-1]

    session = ComparisonSession(make)
    session.calls, session.made = calls, made
    return session


OFF = ComparisonToggles()


def test_show_applies_every_toggle(session, nodes):
    a, a_out = nodes[:2]
    session.show(a, a_out, ComparisonToggles(slab_mip=True, slab_thickness_mm=6.0))
    assert session.calls == [("show", "a", "a_DLR"), ("slab", True, 6.0), ("mip3d", False), ("difference", False)]
    assert session.pair == (a.GetID(), a_out.GetID())
    session.show(a, a_out, OFF)  # same pair: the same comparison again
    assert len(session.made) == 1


def test_first_look_and_unchanged_toggles_apply_nothing(session, nodes):
    a, a_out = nodes[:2]
    session.update(a, a_out, ComparisonToggles(slab_mip=True))  # first look at this parameter node
    session.update(a, a_out, ComparisonToggles(slab_mip=True))
    assert session.calls == [] and session.comparison is None


def test_switching_a_view_on_shows_the_comparison_with_it(session, nodes):
    a, a_out = nodes[:2]
    session.update(a, a_out, OFF)
    session.update(a, a_out, ComparisonToggles(slab_thickness_mm=20.0))  # changed, nothing switched on
    assert session.calls == []
    session.update(a, a_out, ComparisonToggles(mip_3d=True))
    assert session.calls == [("show", "a", "a_DLR"), ("slab", False, 10.0), ("mip3d", True), ("difference", False)]


def test_while_shown_only_what_changed_is_applied(session, nodes):
    a, a_out = nodes[:2]
    session.update(a, a_out, OFF)
    session.show(a, a_out, OFF)
    session.calls.clear()
    session.update(a, a_out, ComparisonToggles(slab_mip=True, slab_thickness_mm=4.0))
    session.update(a, a_out, ComparisonToggles(slab_mip=True, slab_thickness_mm=4.0, difference=True))
    session.update(a, a_out, ComparisonToggles(difference=True))
    assert session.calls == [("slab", True, 4.0), ("difference", True), ("slab", False, 10.0)]


def test_another_pair_or_no_result_forgets_the_comparison(session, nodes):
    a, a_out, b, b_out = nodes
    session.show(a, a_out, OFF)
    session.update(b, b_out, ComparisonToggles(difference=True))  # first look: nothing shown
    assert session.comparison is None and session.pair is None
    session.update(b, b_out, OFF)
    session.update(b, b_out, ComparisonToggles(difference=True))
    assert session.pair == (b.GetID(), b_out.GetID()) and len(session.made) == 2
    session.update(None, None, ComparisonToggles(difference=True))
    assert session.comparison is None and session.pair is None


def test_forget_and_forget_toggles(session, nodes):
    a, a_out = nodes[:2]
    session.show(a, a_out, OFF)
    session.forget()  # the scene was closed
    assert (session.comparison, session.pair) == (None, None)
    session.update(a, a_out, OFF)
    session.forget_toggles()  # another parameter node: its toggles are a first look
    session.update(a, a_out, ComparisonToggles(mip_3d=True))
    assert session.comparison is None


def test_an_error_of_the_comparison_propagates_after_the_bookkeeping(session, nodes):
    a, a_out = nodes[:2]
    session.update(a, a_out, OFF)
    session.show(a, a_out, OFF)

    def broken(enabled):
        raise RuntimeError("no volume rendering")

    session.comparison.set_3d_mip = broken
    with pytest.raises(RuntimeError, match="no volume rendering"):
        session.update(a, a_out, ComparisonToggles(mip_3d=True))
    session.update(a, a_out, ComparisonToggles(mip_3d=True))  # seen: not retried
    assert session.calls[-1] == ("difference", False)


def test_toggles():
    assert ComparisonToggles(True, 5.0, False, True).aspects() == {"slab": (True, 5.0), "mip3d": False, "difference": True}
    assert ComparisonToggles(difference=True).switched_on_since(OFF)
    assert not OFF.switched_on_since(ComparisonToggles(True, 5.0, True, True))
    assert not ComparisonToggles(slab_thickness_mm=3.0).switched_on_since(OFF)
