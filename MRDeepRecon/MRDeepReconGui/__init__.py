"""The Qt panel of MRDeepRecon, one section per file; ``MRDeepRecon.py`` loads the .ui and wires them.

Each section gets what it needs explicitly (the .ui's widgets, a getter for the parameter node, the
sections it reads from, the log) and keeps its sentences (translated with ``_``). At module load
these files import only qt, slicer, vtk and the standard library: ``MRDeepReconLib`` (and with it
the engine and numpy) is imported by :func:`MRDeepReconGui.lib_loader.lib` inside the methods that
need it, PyTorch only after :func:`MRDeepReconGui.dependencies_dialog.ensure_dependencies`.

``ui`` below is the .ui's widgets by object name (``slicer.util.childWidgetVariables``).
"""
