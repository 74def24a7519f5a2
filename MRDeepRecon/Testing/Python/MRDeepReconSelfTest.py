"""The self-test of the MRDeepRecon module: the panel, a blocking enhancement and the comparison,
the choice of an image set, and a raw k-space file reconstructed in the background, inside Slicer.

Slicer's ctest runs it (``slicer_add_python_unittest`` in this folder's CMakeLists.txt:
``slicer.testing.runUnitTest`` imports this file and runs its TestCase). In developer mode the
module's "Reload and Test" runs it too (``MRDeepRecon.runTest`` loads this file from a source
checkout; the extension does not ship it). The widget is the module's
(``slicer.modules.mrdeeprecon.widgetRepresentation().self()``); its sections are ``MRDeepReconGui``'s.
"""

import importlib.util
import os

import slicer
import vtk
from slicer.ScriptedLoadableModule import ScriptedLoadableModuleTest


def moduleWidget():
    """The MRDeepRecon panel (``MRDeepReconWidget``), shown."""
    slicer.util.selectModule("MRDeepRecon")
    return slicer.modules.mrdeeprecon.widgetRepresentation().self()


class MRDeepReconTest(ScriptedLoadableModuleTest):
    """Runs in Slicer's ctest (``slicer_add_python_unittest``) and from the module's Reload & Test."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_ParameterNodeAndGui()
        self.setUp()
        self.test_ProcessAndCompare()
        self.setUp()
        self.test_ImageSetChoice()
        self.setUp()
        self.test_RawKSpaceInput()

    # helpers ------------------------------------------------------------

    def _inputVolume(self):
        """SampleData's MRHead (cropped to keep the test short), or a synthetic volume offline."""
        import numpy as np

        try:
            import SampleData

            head = SampleData.SampleDataLogic().downloadSample("MRHead")
        except Exception:
            head = None
        if head is not None and head.GetImageData() is not None:
            array = slicer.util.arrayFromVolume(head)[60:68, 40:200, 40:200].astype(np.float32)
            matrix = vtk.vtkMatrix4x4()
            head.GetIJKToRASMatrix(matrix)
            corner = matrix.MultiplyPoint((40, 40, 60, 1))  # the crop's first voxel (i, j, k)
            for axis in range(3):
                matrix.SetElement(axis, 3, corner[axis])
            slicer.mrmlScene.RemoveNode(head)
        else:
            z, y, x = np.mgrid[0:8, 0:96, 0:96].astype(np.float32)
            inside = ((y - 48) ** 2 + (x - 48) ** 2) < 35**2
            rng = np.random.default_rng(0)
            array = (100.0 * inside + 20.0 * np.sin(x / 4.0) * inside + rng.normal(0, 5, inside.shape)).astype(np.float32)
            matrix = vtk.vtkMatrix4x4()
            for axis, spacing in enumerate((0.9, 0.9, 3.0)):
                matrix.SetElement(axis, axis, spacing)
        return slicer.util.addVolumeFromArray(array, ijkToRAS=slicer.util.arrayFromVTKMatrix(matrix), name="MRDeepReconTestInput")

    @staticmethod
    def _mixedSeries(folder: str) -> dict:
        """Four slices written twice, as magnitude and as phase, in one classic DICOM series:
        SOP Instance UID → file."""
        import numpy as np
        import pydicom
        from pydicom.dataset import FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, generate_uid

        series, study, files = generate_uid(), generate_uid(), {}
        for component, letter in (("magnitude", "M"), ("phase", "P")):
            for k in range(4):
                ds = pydicom.Dataset()
                ds.file_meta = FileMetaDataset()
                ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
                ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = study, series, "MR"
                ds.ImageType = ["ORIGINAL", "PRIMARY", letter, "ND"]
                ds.EchoNumbers, ds.EchoTime = 1, 5.0
                ds.ImagePositionPatient = [0.0, 0.0, 3.0 * k]
                ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
                ds.PixelSpacing = [1.0, 1.0]
                ds.Rows = ds.Columns = 16
                ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
                ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
                ds.PixelData = np.full((16, 16), 100 + k, np.uint16).tobytes()
                path = os.path.join(folder, f"{component}{k}.dcm")
                ds.save_as(path, enforce_file_format=True)
                files[str(ds.SOPInstanceUID)] = path
        return files

    @staticmethod
    def _engineAvailable() -> bool:
        return all(importlib.util.find_spec(name) is not None for name in ("torch", "safetensors", "skimage"))

    @staticmethod
    def _rawFile(folder: str) -> str:
        """A small fully sampled multi-coil k-space, ``(coils 4, slices 2, ky 64, kx 64)`` as .npy:
        a disc seen by four Gaussian coils."""
        import numpy as np

        y, x = np.mgrid[-32:32, -32:32].astype(np.float32)
        image = ((x**2 + y**2) < 24**2) * (1.0 + 0.3 * np.cos(x / 5.0))
        centres = [(-32, 0), (32, 0), (0, -32), (0, 32)]
        coils = np.stack([image * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 30.0**2)) for cx, cy in centres])
        kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(coils, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
        rng = np.random.default_rng(0)
        kspace = kspace + 1e-3 * (rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape))
        path = os.path.join(folder, "phantom ksp.npy")
        np.save(path, np.repeat(kspace[:, None], 2, axis=1).astype(np.complex64))
        return path

    @staticmethod
    def _waitWhile(condition, timeout_s: float = 300.0) -> None:
        import time

        deadline = time.monotonic() + timeout_s
        while condition() and time.monotonic() < deadline:
            slicer.app.processEvents()
            time.sleep(0.05)

    # tests --------------------------------------------------------------

    def test_ParameterNodeAndGui(self):
        from MRDeepReconGui.parameter_node import DEVICES, processParameters

        self.delayDisplay("Parameter node and panel")
        widget = moduleWidget()
        inputNode = self._inputVolume()
        node = widget._parameterNode
        self.assertIsNotNone(node)
        node.inputVolume = inputNode
        self.assertEqual(widget.ui.inputSelector.currentNode(), inputNode)
        self.assertIsNone(node.outputVolume)

        node.noiseReduction = 3.5
        self.assertAlmostEqual(widget.ui.noiseReductionSliderWidget.value, 3.5)
        self.assertEqual((widget.ui.noiseReductionSliderWidget.minimum, widget.ui.noiseReductionSliderWidget.maximum), (1.0, 5.0))
        widget.ui.noiseReductionSliderWidget.value = 2.5
        self.assertAlmostEqual(node.noiseReduction, 2.5)

        node.srPhase = 1.5
        self.assertEqual(widget.ui.srPhaseComboBox.currentText, "×1.5")
        # A volume without DICOM tags is a 2D acquisition unless overridden: no slice SR.
        self.assertFalse(widget.ui.srSliceComboBox.enabled)
        node.overrideAcquisition = True
        node.acqType = "3D"
        self.assertTrue(widget.ui.srSliceComboBox.enabled)
        node.srSlice = 2.0
        self.assertEqual(widget.ui.srSliceComboBox.currentText, "×2")
        self.assertTrue(widget.ui.threePlanesCheckBox.enabled)
        node.threePlanes = True
        self.assertTrue(widget.ui.threePlanesCheckBox.checked)
        node.acqType = "2D"
        self.assertFalse(widget.ui.srSliceComboBox.enabled)
        self.assertEqual(node.srSlice, 1.0)
        # three planes need a 3D acquisition: switched off and greyed out
        self.assertFalse(widget.ui.threePlanesCheckBox.enabled)
        self.assertFalse(node.threePlanes)

        self.assertEqual(widget.ui.adaptationStepsSpinBox.text, "off")
        node.adaptationSteps = 1500
        self.assertEqual(widget.ui.adaptationStepsSpinBox.value, 1500)
        widget.ui.adaptationStepsSpinBox.value = 0
        self.assertEqual(node.adaptationSteps, 0)
        # the background run keeps its fine-tunes in Slicer's temporary folder, reused on the next Apply
        from MRDeepReconGui.run_section import adaptationCache
        self.assertEqual(os.path.dirname(str(adaptationCache())), os.path.normpath(slicer.app.temporaryPath))

        node.artifactCorrection = False
        self.assertFalse(widget.ui.artifactCorrectionCheckBox.checked)
        node.device = "cpu"
        self.assertEqual(widget.ui.deviceComboBox.currentIndex, DEVICES.index("cpu"))
        node.model = "3d"
        self.assertEqual(widget.ui.modelComboBox.currentText, "3d")

        parameters = processParameters(node)
        self.assertEqual(parameters.noise_reduction, 2.5)
        self.assertEqual(parameters.super_resolution, (1.0, 1.5, 1.0))
        self.assertEqual(parameters.context_overrides["acquisition"], "2D")
        self.assertFalse(parameters.artifact_correction)
        self.assertEqual(parameters.planes, 1)
        self.assertTrue(widget.ui.applyButton.enabled)
        self.assertEqual(widget.ui.applyButton.text, "Apply")
        self.assertFalse(widget.ui.comparisonLayoutButton.enabled)  # no result yet
        self.delayDisplay("Parameter node and panel: OK")

    def test_ProcessAndCompare(self):
        self.delayDisplay("Blocking enhancement, subject hierarchy, comparison")
        if not self._engineAvailable():
            self.delayDisplay("PyTorch, safetensors or scikit-image missing in this Slicer: enhancement not tested")
            return
        import numpy as np

        from MRDeepReconLib.logic import MRDeepReconLogic, default_output_name
        from MRDeepReconLib.parameters import ProcessParameters

        inputNode = self._inputVolume()
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        study = hierarchy.CreateStudyItem(hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), "Subject"), "Study")
        hierarchy.SetItemParent(hierarchy.GetItemByDataNode(inputNode), study)

        logic = MRDeepReconLogic(slicer.mrmlScene)
        outputNode = logic.process(inputNode, None, ProcessParameters(noise_reduction=1.5, device="cpu"))
        self.assertEqual(outputNode.GetName(), default_output_name(inputNode))
        self.assertTrue(outputNode.GetName().endswith("_DLR"))
        self.assertEqual(outputNode.GetImageData().GetDimensions(), inputNode.GetImageData().GetDimensions())
        for a, b in zip(outputNode.GetSpacing(), inputNode.GetSpacing()):
            self.assertAlmostEqual(a, b, places=4)
        for a, b in zip(outputNode.GetOrigin(), inputNode.GetOrigin()):
            self.assertAlmostEqual(a, b, places=3)
        self.assertEqual(hierarchy.GetItemParent(hierarchy.GetItemByDataNode(outputNode)), study)
        self.assertTrue(np.isfinite(slicer.util.arrayFromVolume(outputNode)).all())

        widget = moduleWidget()
        node = widget._parameterNode
        node.inputVolume = inputNode
        node.outputVolume = outputNode
        self.assertTrue(widget.ui.comparisonLayoutButton.enabled)
        widget.ui.comparisonLayoutButton.click()
        from MRDeepReconLib import comparison

        layoutManager = slicer.app.layoutManager()
        self.assertEqual(layoutManager.layout, comparison.comparison_layout_id())
        views = [layoutManager.sliceWidget(comparison.slice_view_name(column, "Axial")).mrmlSliceNode()
                 for column in (comparison.ORIGINAL, comparison.ENHANCED)]
        widget.ui.slabThicknessSliderWidget.value = 6.0
        widget.ui.slabMipCheckBox.checked = True
        self.assertTrue(node.slabMip)
        self.assertAlmostEqual(node.slabThicknessMm, 6.0)
        for view in views:
            self.assertTrue(view.GetSlabReconstructionEnabled())
            self.assertAlmostEqual(view.GetSlabReconstructionThickness(), 6.0)
        node.slabMip = False  # the parameter node drives the checkbox and the views
        self.assertFalse(widget.ui.slabMipCheckBox.checked)
        for view in views:
            self.assertFalse(view.GetSlabReconstructionEnabled())

        node.outputVolume = None
        for volume in (outputNode, inputNode):
            slicer.mrmlScene.RemoveNode(volume)
        self.delayDisplay("Blocking enhancement, subject hierarchy, comparison: OK")

    def test_ImageSetChoice(self):
        self.delayDisplay("A series holding magnitude and phase: choose, load, refuse phase")
        import tempfile

        import numpy as np

        widget = moduleWidget()
        with tempfile.TemporaryDirectory() as folder:
            files = self._mixedSeries(folder)
            widget.scanContextSection.fileForInstance = lambda: files.get  # the DICOM database's lookup
            mixed = slicer.util.addVolumeFromArray(np.zeros((8, 16, 16), np.float32), name="mixed")
            mixed.SetAttribute("DICOM.instanceUIDs", " ".join(files))
            node = widget._parameterNode
            node.inputVolume = mixed
            self.assertTrue(widget.ui.imageSetComboBox.visible)
            self.assertEqual(widget.ui.imageSetComboBox.count, 2)
            self.assertFalse(widget.ui.applyButton.enabled)
            self.assertIn("2 image sets", widget.ui.applyButton.toolTip)

            widget.ui.imageSetComboBox.currentIndex = 0  # echo 1, magnitude
            widget.ui.loadImageSetButton.click()
            magnitude = node.inputVolume
            self.assertEqual(magnitude.GetName(), "mixed E1 magnitude")
            self.assertEqual(slicer.util.arrayFromVolume(magnitude).shape, (4, 16, 16))
            self.assertFalse(widget.ui.imageSetComboBox.visible)
            self.assertTrue(widget.ui.applyButton.enabled)

            node.inputVolume = mixed
            widget.ui.imageSetComboBox.currentIndex = 1  # echo 1, phase
            widget.ui.loadImageSetButton.click()
            self.assertEqual(node.inputVolume.GetName(), "mixed E1 phase")
            self.assertFalse(widget.ui.applyButton.enabled)
            self.assertIn("is not enhanced", widget.ui.inputRefusalLabel.text)
            del widget.scanContextSection.fileForInstance
        self.delayDisplay("A series holding magnitude and phase: OK")

    def test_RawKSpaceInput(self):
        self.delayDisplay("Raw k-space: reconstruct in the background, cancel, the result becomes the input")
        if not (self._engineAvailable() and importlib.util.find_spec("sigpy") is not None):
            self.delayDisplay("PyTorch or sigpy missing in this Slicer: raw k-space input not tested")
            return
        import tempfile

        widget = moduleWidget()
        node = widget._parameterNode
        self.assertFalse(widget.ui.reconstructButton.enabled)  # no file chosen
        with tempfile.TemporaryDirectory() as folder:
            node.rawFile = self._rawFile(folder)
            node.rawMethod = "l1wavelet"
            self.assertEqual(widget.ui.rawMethodComboBox.currentText, "L1-wavelet (compressed sensing)")
            self.assertTrue(widget.ui.reconstructButton.enabled)
            volumesBefore = slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")

            widget.rawSection.startJob()  # what Reconstruct does once the packages are there
            self.assertEqual(widget.ui.reconstructButton.text, "Cancel")
            self.assertFalse(widget.ui.applyButton.enabled)  # one background run at a time
            widget.ui.reconstructButton.click()  # cancel
            self.assertFalse(widget.rawSection.running)
            self.assertEqual(widget.ui.reconstructButton.text, "Reconstruct")
            self.assertEqual(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode"), volumesBefore)

            node.rawMethod = "zerofill"
            widget.rawSection.startJob()
            self._waitWhile(lambda: widget.rawSection.running)
            self.assertFalse(widget.rawSection.running)
        result = node.inputVolume
        self.assertIsNotNone(result)
        self.assertEqual(result.GetName(), "phantom ksp_zerofill")
        self.assertEqual(slicer.util.arrayFromVolume(result).shape, (2, 64, 64))
        self.assertTrue(widget.ui.rawStatusLabel.text.startswith("Done: phantom ksp_zerofill. data consistency"))
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        study = hierarchy.GetItemParent(hierarchy.GetItemByDataNode(result))
        self.assertEqual(hierarchy.GetItemName(study), "phantom ksp.npy")
        self.assertTrue(widget.ui.applyButton.enabled)  # enhance takes it as any volume
        self.delayDisplay("Raw k-space: OK")
