"""The network along all three axes of a 3D acquisition, averaged (``EnhanceSettings.planes = 3``).

The models are trained on slices (or slabs) of volumes turned so that any axis is the slice axis,
and every axis of a 3D acquisition is Fourier-encoded, so each of its three orthogonal stacks of
slices is an input the network knows. The three estimates make different errors (each sees its
own in-plane neighbourhood), and their mean is closer to the clean image: on the held-out
``seg3D_MR`` slab with σ = 6 / 10 % noise the 2D model's tissue PSNR rose from 30.55 / 28.38 dB
(one plane) to 31.41 / 29.35 dB, for about three times the network's time.

A view along array axis ``a`` of the standardised layout ``(slice, frequency, phase)`` puts ``a``
first and keeps the phase-encoding direction, or the slice direction that is encoded like it, as
the view's phase axis ``x``:

======================  =======================  ==========================================
view along              array order              (frequency, phase, slice) of the view
======================  =======================  ==========================================
the slice axis (0)      (slice, freq, phase)     (frequency, phase, slice): the input
the frequency axis (1)  (freq, slice, phase)     (slice, phase, frequency)
the phase axis (2)      (phase, freq, slice)     (frequency, slice, phase)
======================  =======================  ==========================================

Each order is its own inverse. The view along the frequency axis makes the slice direction its
frequency direction, which has no partial Fourier, undersampling or elliptical corners to state:
a sampling with any of those along the slice (or elliptical) cannot be described to the network
there, and three planes are refused for it (:func:`check_planes`), as for a 2D acquisition, whose
slice direction is not Fourier-encoded at all.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

from .errors import MRDeepReconError
from .sampling import KSpaceSampling

if TYPE_CHECKING:  # the checks are read by the Slicer panel before PyTorch is installed
    import torch

#: Array order of the view along each axis of the standardised layout (each its own inverse).
VIEW_ORDERS = ((0, 1, 2), (1, 0, 2), (2, 1, 0))

#: ``estimate(axis, view, sampling, slices)``: the network's estimate of the view along ``axis``
#: (standardised ``(z, y, x)``, acquired as ``sampling`` says) for its slices ``slices`` (``None``: all).
ViewEstimator = Callable[[int, "torch.Tensor", KSpaceSampling, "range | None"], "torch.Tensor"]


def check_planes(sampling: KSpaceSampling) -> None:
    """Raise :class:`MRDeepReconError` unless each of the three views of ``sampling`` can be
    described to the network (module docstring)."""
    if not sampling.is_3d:
        raise MRDeepReconError("three planes need a 3D acquisition: the slices of a 2D one are not Fourier-encoded "
                               "along the slice, so a view across them is not an image the network knows")
    along_slice = []
    if sampling.partial_fourier[1] < 1:
        along_slice.append(f"partial Fourier {sampling.partial_fourier[1]:g}")
    if sampling.acceleration[1] > 1:
        along_slice.append(f"undersampling R {sampling.acceleration[1]:g}")
    if sampling.elliptical:
        along_slice.append("elliptical k-space corners")
    if along_slice:
        raise MRDeepReconError(f"three planes cannot describe {' and '.join(along_slice)} along the slice direction "
                               "to the network in the view along the frequency axis; use one plane")


def view_sampling(sampling: KSpaceSampling, axis: int) -> KSpaceSampling:
    """How the view along array ``axis`` (0, 1 or 2 of the standardised layout) of a sampling
    that :func:`check_planes` accepts was sampled."""
    frequency, phase, slice_ = sampling.kmax
    if axis == 0:
        return sampling
    if axis == 1:  # nothing along the slice (checked) to move onto the view's frequency axis
        return dataclasses.replace(sampling, kmax=(slice_, phase, frequency))
    return dataclasses.replace(sampling, kmax=(frequency, slice_, phase),
                               partial_fourier=sampling.partial_fourier[::-1],
                               acceleration=sampling.acceleration[::-1])


def mean_of_views(estimate: ViewEstimator, data: torch.Tensor, sampling: KSpaceSampling,
                  slices: range | None = None) -> torch.Tensor:
    """The mean of the network's estimates of ``data`` ``(slice, frequency, phase)`` along each of
    its three axes, for ``slices`` along axis 0 (``None``: all), on ``data``'s device.

    Raises:
        MRDeepReconError: a sampling three views cannot describe (:func:`check_planes`).
    """
    check_planes(sampling)
    rows = slice(None) if slices is None else slice(slices.start, slices.stop)
    total = estimate(0, data, sampling, slices)
    for axis in (1, 2):
        order = VIEW_ORDERS[axis]
        view = data.permute(*order).contiguous()
        total += estimate(axis, view, view_sampling(sampling, axis), None).permute(*order)[rows]
    return total.div_(len(VIEW_ORDERS))
