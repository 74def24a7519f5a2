"""The Inputs and Acquisition sections: what the panel reads about its input volume (scan context,
image sets, why it is refused), the acquisition overrides, and the output that belongs to the input."""

from typing import Callable, Optional

import slicer
from slicer.i18n import tr as _

from .lib_loader import lib
from .parameter_node import MRDeepReconParameterNode


class ScanContextSection:
    """Reads the input once per node and DICOM instances (``MRDeepReconLib.input_reading``), shows
    its image sets, refusal and scan context, and keeps the acquisition overrides in step with it."""

    def __init__(self, ui, parameterNode: Callable[[], Optional[MRDeepReconParameterNode]]) -> None:
        self.ui = ui
        self._getParameterNode = parameterNode
        #: ``MRDeepReconLib.input_reading.InputReading`` of the input volume.
        self.input = lib("input_reading").InputReading()
        self._lastInputId: Optional[str] = None

    def update(self) -> None:
        """After a parameter change: drop another input's result, read a new input, show the
        acquisition."""
        self._forgetOtherResult()
        self._updateScanContext()
        self._updateAcquisitionGui()

    @staticmethod
    def fileForInstance():
        """The DICOM database's SOP Instance UID → file lookup, or None when no database is open."""
        database = getattr(slicer, "dicomDatabase", None)
        if database is None or not database.isOpen:
            return None
        return database.fileForInstance

    def _forgetOtherResult(self) -> None:
        """A new input does not overwrite the result of another one: the output goes back to
        "Create new volume on Apply" when it is the enhancement of a different volume."""
        node = self._getParameterNode()
        inputId = node.inputVolume.GetID() if node.inputVolume is not None else None
        changed, self._lastInputId = inputId != self._lastInputId, inputId
        if changed and lib("logic").computed_from_other(node.outputVolume, node.inputVolume):
            node.outputVolume = None

    # ------------------------------------------------------------------ input and image sets

    def _updateScanContext(self) -> None:
        """Read the input (once per input: ``MRDeepReconLib.input_reading``) and, unless the user
        overrides it, copy its scan context into the override fields."""
        node = self._getParameterNode().inputVolume
        reading = lib("input_reading")
        if reading.input_key(node) == self.input.key:
            return
        self.input = reading.read_input(node, self.fileForInstance())
        self._showImageSets()
        if self.input.context is not None and not self._getParameterNode().overrideAcquisition:
            self._copyContextToOverrides()

    def _showImageSets(self) -> None:
        imageSets, refusal = self.input.image_sets, self.input.refusal
        several = len(imageSets) > 1
        for widget in (self.ui.imageSetLabel, self.ui.imageSetComboBox, self.ui.loadImageSetButton):
            widget.visible = several
        self.ui.imageSetComboBox.clear()
        for imageSet, count in imageSets if several else ():
            self.ui.imageSetComboBox.addItem(_("{set}: {count} images").format(set=imageSet.describe(), count=count))
        self.ui.inputRefusalLabel.text = refusal or ""
        self.ui.inputRefusalLabel.visible = bool(refusal)

    def onLoadImageSet(self) -> None:
        """Read the chosen image set of the input into a new volume and make it the input."""
        index = self.ui.imageSetComboBox.currentIndex
        if not (0 <= index < len(self.input.image_sets)):
            return
        inputNode = self._getParameterNode().inputVolume
        with slicer.util.tryWithErrorDisplay(_("The image set could not be loaded."), waitCursor=True):
            node = lib("image_sets").load_image_set(slicer.mrmlScene, inputNode, self.fileForInstance(), self.input.image_sets[index][0])
            self._getParameterNode().inputVolume = node
            slicer.util.setSliceViewerLayers(background=node, fit=True)

    # ------------------------------------------------------------------ acquisition

    def _copyContextToOverrides(self) -> None:
        node = self._getParameterNode()
        with slicer.util.NodeModify(node):
            for name, value in lib("panel_settings").override_fields(self.input.context).items():
                setattr(node, name, value)

    def _updateAcquisitionGui(self) -> None:
        node = self._getParameterNode()
        self.ui.acquisitionOverridesWidget.enabled = node.overrideAcquisition
        self.ui.resetAcquisitionButton.enabled = node.overrideAcquisition and self.input.context is not None
        self.ui.acquisitionLabel.text = self._contextHtml()
        is3d = lib("panel_settings").effective_acquisition(node, self.input.context) == "3D"
        self.ui.srSliceComboBox.enabled = is3d
        self.ui.srSliceLabel.enabled = is3d
        self.ui.srSliceComboBox.toolTip = (
            _("Refine the output grid along the slice direction (uses the 3D model).") if is3d
            else _("Slice super-resolution needs a 3D acquisition (MRAcquisitionType 3D, or the Acquisition override).")
        )
        if not is3d and node.srSlice != 1.0:
            node.srSlice = 1.0
        refusal = lib("panel_settings").three_planes_refusal(node, self.input.context)
        self.ui.threePlanesCheckBox.enabled = refusal is None
        self.ui.threePlanesLabel.enabled = refusal is None
        self.ui.threePlanesCheckBox.toolTip = refusal or _(
            "3D acquisitions: run the network along each of the three axes and average the three results "
            "(less noise left, about three times the time).")
        if refusal and node.threePlanes:
            node.threePlanes = False

    def _contextHtml(self) -> str:
        node = self._getParameterNode().inputVolume
        if node is None:
            return _("Select an input volume.")
        if self.input.context_error:
            return _("Scan parameters could not be read: {error}").format(error=self.input.context_error)
        context = self.input.context
        if context is None:
            return ""
        display = lib("context_display")
        if display.read_from_dicom(context, node.GetAttribute(lib("dicom_source").INSTANCE_UIDS_ATTRIBUTE)):
            intro = _("Read from the DICOM tags of <i>{name}</i>:").format(name=node.GetName())
        else:
            intro = _("<i>{name}</i> carries no acquisition parameters (not loaded from DICOM, or its files are not in the database): defaults are used; describe the acquisition with the override below.").format(name=node.GetName())
        labels = {
            "acquisition": _("Acquisition"), "phase_axis": _("Phase encoding"), "kmax": _("k-space extent (f, p, s)"),
            "partial_fourier": _("Partial Fourier (p, s)"), "acceleration": _("Acceleration (p, s)"),
            "acquired_matrix": _("Acquired matrix"), "displayed_matrix": _("Image matrix"),
            "slice_thickness": _("Slice thickness / spacing"), "manufacturer": _("Manufacturer"),
        }
        return intro + display.context_table_html(context, labels)

    def onResetAcquisition(self) -> None:
        if self.input.context is not None:
            self._copyContextToOverrides()
