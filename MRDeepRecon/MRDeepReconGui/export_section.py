"""The Export DICOM and Quality assurance sections: the result as a derived DICOM series, and the
QA report of the pair with its summary."""

from typing import Callable, Optional

import qt
import slicer
from slicer.i18n import tr as _

from .dependencies_dialog import ensure_dependencies
from .lib_loader import lib
from .parameter_node import MRDeepReconParameterNode, processParameters
from .scan_context_section import ScanContextSection


class ExportSection:
    """The Export and QA buttons, their folders and what they wrote."""

    def __init__(
        self,
        ui,
        parameterNode: Callable[[], Optional[MRDeepReconParameterNode]],
        scanContext: ScanContextSection,
        log: Callable[[str], None],
        parent: qt.QWidget,
    ) -> None:
        """``scanContext`` gives the input's DICOM files; ``log`` appends to the panel's log;
        ``parent`` owns the progress dialog."""
        self.ui = ui
        self._getParameterNode = parameterNode
        self._scanContext = scanContext
        self._log = log
        self._parent = parent

    def onExport(self) -> None:
        node = self._getParameterNode()
        with slicer.util.tryWithErrorDisplay(_("The DICOM export failed."), waitCursor=True):
            if not ensure_dependencies():
                return
            if not lib("export_policy").folder_is_chosen(node.exportFolder):
                raise ValueError(_("Choose an export folder."))
            fromDicom = bool(node.inputVolume.GetAttribute(lib("dicom_source").INSTANCE_UIDS_ATTRIBUTE))
            if not fromDicom and not slicer.util.confirmOkCancelDisplay(_(
                "{name} was not loaded from DICOM, so there is no patient or study to keep. Write the series"
                " with a research placeholder patient (RESEARCH^PLACEHOLDER)?").format(name=node.inputVolume.GetName()),
                windowTitle="MRDeepRecon",
            ):
                return
            options = lib("export").derived_series_options(node.seriesDescription, node.exportMultiframe, fromDicom)
            outDir = lib("export_policy").output_folder(node.exportFolder, node.outputVolume.GetName())
            dialog, progress = self._modalProgress(_("Writing the derived DICOM series…"))
            try:
                series = lib("export").export_derived_series(
                    node.outputVolume, node.inputVolume, outDir, options,
                    file_for_instance=self._scanContext.fileForInstance(), progress=progress)
            finally:
                dialog.close()
            self.ui.exportStatusLabel.text = _("Wrote {count} file(s) of series {uid} to {folder}").format(
                count=len(series.files), uid=series.series_instance_uid, folder=series.folder)
            self._log(self.ui.exportStatusLabel.text)

    def onQualityAssurance(self) -> None:
        node = self._getParameterNode()
        with slicer.util.tryWithErrorDisplay(_("The quality assurance failed."), waitCursor=True):
            if not ensure_dependencies(lib("dependencies").QA_REQUIREMENTS):
                return
            if not lib("export_policy").folder_is_chosen(node.qaFolder):
                raise ValueError(_("Choose a report folder."))
            outDir = lib("export_policy").output_folder(node.qaFolder, node.outputVolume.GetName() + "_QA")
            context = self.enhancementContext(node.inputVolume, node.outputVolume)
            report = lib("export").qa_for_nodes(node.inputVolume, node.outputVolume, context, out_dir=outDir)
            sentences = {
                "requested": _("Noise reduction: measured <b>×{m:.2f}</b>, requested ×{r:.2f} ({e:+.0%})."),
                "measured": _("Noise reduction: measured <b>×{m:.2f}</b>."),
                "flagged": _("<b>Flagged slices</b> (low-frequency k-space inconsistent with the original): {slices}"),
                "none_flagged": _("No slice flagged by the k-space consistency check."),
                "report": _("Report: {folder}"),
            }
            self.ui.qaResultLabel.text = lib("export").qa_summary_html(report, outDir, sentences)

    def enhancementContext(self, inputNode, outputNode):
        """The scan context the enhancement of ``outputNode`` used: the input's, with the
        overrides recorded on the result (its ``MRDeepRecon.parameters``), else the panel's."""
        base = lib("dicom_source").scan_context_for_node(inputNode, file_for_instance=self._scanContext.fileForInstance())
        parameters = lib("logic").recorded_parameters(outputNode) or processParameters(self._getParameterNode())
        return parameters.scan_context(base)

    def _modalProgress(self, text: str):
        """A progress dialog without Cancel, and the ``progress(fraction, message)`` that moves it."""
        dialog = slicer.util.createProgressDialog(parent=self._parent, windowTitle="MRDeepRecon", labelText=text, maximum=1000)
        dialog.setCancelButton(None)

        def progress(fraction, message=""):
            dialog.value = int(round(1000 * max(0.0, min(1.0, fraction))))
            if message:
                dialog.labelText = message
            slicer.app.processEvents()

        return dialog, progress
