"""The Comparison section: original | enhanced side by side in linked views, and its toggles
(thick-slab MIP, 3D MIP, difference), driven by the parameter node."""

import logging
from typing import Callable, Optional

import slicer
from slicer.i18n import tr as _

from .lib_loader import lib
from .parameter_node import MRDeepReconParameterNode, hasResult


class ComparisonSection:
    """The comparison layout button and toggles, over a ``MRDeepReconLib.comparison_session.ComparisonSession``."""

    def __init__(self, ui, parameterNode: Callable[[], Optional[MRDeepReconParameterNode]]) -> None:
        self.ui = ui
        self._getParameterNode = parameterNode
        self._session = lib("comparison_session").ComparisonSession(self._newComparison)

    @staticmethod
    def _newComparison():
        """A ``MRDeepReconLib.comparison.Comparison`` of this application's views."""
        return lib("comparison").Comparison(
            slicer.mrmlScene,
            slicer.app.applicationLogic(),
            slicer.app.layoutManager().layoutLogic().GetLayoutNode(),
            slicer.modules.volumerendering.logic(),
        )

    def onComparisonLayout(self) -> None:
        node = self._getParameterNode()
        with slicer.util.tryWithErrorDisplay(_("The comparison layout could not be set up."), waitCursor=True):
            self.showComparison(node.inputVolume, node.outputVolume)

    def showComparison(self, original, enhanced) -> None:
        """Original | enhanced in axial, sagittal and coronal views, linked; then the toggles."""
        self._session.show(original, enhanced, self._toggles())

    def _toggles(self):
        node = self._getParameterNode()
        return lib("comparison_session").ComparisonToggles(node.slabMip, node.slabThicknessMm, node.mip3d, node.difference)

    def update(self) -> None:
        """Enable the toggles for a result; when one changed, apply it (showing the comparison
        layout first if it is not shown for this pair)."""
        node = self._getParameterNode()
        have = hasResult(node)
        for widget in (self.ui.slabMipCheckBox, self.ui.slabThicknessSliderWidget, self.ui.mip3dCheckBox, self.ui.differenceCheckBox):
            widget.enabled = have
        original, enhanced = (node.inputVolume, node.outputVolume) if have else (None, None)
        try:
            self._session.update(original, enhanced, self._toggles())
        except Exception as error:
            logging.exception("MRDeepRecon: comparison")
            self.ui.statusLabel.text = _("Comparison: {error}").format(error=error)

    def forgetToggles(self) -> None:
        """Another parameter node: its toggles are a first look, the next update applies none."""
        self._session.forget_toggles()

    def forget(self) -> None:
        """No comparison is shown any more (the scene was closed)."""
        self._session.forget()
