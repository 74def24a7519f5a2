"""The network along all three axes of a 3D acquisition, averaged (``EnhanceSettings.planes = 3``).

The models are trained on slices (or slabs) of volumes turned so that any axis is the slice axis,
and every axis of a 3D acquisition is Fourier-encoded, so each of its three orthogonal stacks of
slices is an input the network knows. The three estimates make different errors (each sees its
own in-plane neighbourhood), and their mean is closer to the clean image: on the held-out
``seg3D_MR`` slab read as a 3D acquisition with σ = 6 / 10 % noise, the 3D model's tissue PSNR rose
from 30.55 / 28.47 dB (one plane) to 31.31 / 29.30 dB (``benchmarks/QUALITY.md``), for about three
times the network's time on a whole volume.

A view along array axis ``a`` of the standardised layout ``(slice, frequency, phase)`` puts ``a``
first; each order is its own inverse:

======================  =======================  ==========================================
view along              array order              k_max (frequency, phase, slice) of the view
======================  =======================  ==========================================
the slice axis (0)      (slice, freq, phase)     (frequency, phase, slice): the input
the frequency axis (1)  (freq, slice, phase)     (slice, phase, frequency)
the phase axis (2)      (phase, freq, slice)     (frequency, slice, phase)
======================  =======================  ==========================================

Only the k-space extent is moved between axes. Partial Fourier, undersampling (uniform or random)
and elliptical corners belong to the phase–slice plane, which the views across the slices turn
into planes the models were never trained on (undersampling along the slice, the random pattern in
the in-plane of a view, partial Fourier along the slice for the 2D model), so three planes are
refused for samplings that have any of them (:func:`check_planes`), and for 2D acquisitions, whose
slice direction is not Fourier-encoded at all. A partial-Fourier scan is accepted with artifact
correction off (the model is then told there was no partial Fourier).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Sequence

from .errors import MRDeepReconError
from .sampling import KSpaceSampling

if TYPE_CHECKING:  # the checks are read by the Slicer panel before PyTorch is installed
    import torch

#: Array order of the view along each axis of the standardised layout (each its own inverse).
VIEW_ORDERS = ((0, 1, 2), (1, 0, 2), (2, 1, 0))
#: Fewest slices three planes take: the views across the slices are images this many pixels tall
#: (:data:`mrdeeprecon.inference.MIN_IN_PLANE`, the smallest image the engine takes).
MIN_SLICES = 8

#: ``estimate(axis, view, sampling, slices)``: the network's estimate of the view along ``axis``
#: (standardised ``(z, y, x)``, acquired as ``sampling`` says) for its slices ``slices`` (``None``: all).
ViewEstimator = Callable[[int, "torch.Tensor", KSpaceSampling, "range | None"], "torch.Tensor"]


def check_planes(sampling: KSpaceSampling, shape: Sequence[int] | None = None) -> None:
    """Raise :class:`MRDeepReconError` unless each of the three views of ``sampling`` (of a volume
    of ``shape`` ``(z, y, x)``, when given) can be described to the network (module docstring)."""
    if not sampling.is_3d:
        raise MRDeepReconError("three planes need a 3D acquisition: the slices of a 2D one are not Fourier-encoded "
                               "along the slice, so a view across them is not an image the network knows")
    described = []
    if min(sampling.partial_fourier) < 1:
        described.append(f"partial Fourier {' / '.join(f'{p:g}' for p in sampling.partial_fourier)} (phase / slice)")
    if sampling.undersampling != "none" and max(sampling.acceleration) > 1:
        described.append(f"{sampling.undersampling} undersampling R {' x '.join(f'{a:g}' for a in sampling.acceleration)}")
    if sampling.elliptical:
        described.append("elliptical k-space corners")
    if described:
        raise MRDeepReconError(f"three planes cannot describe {' and '.join(described)} to the network in the views "
                               "across the slices; use one plane (or turn artifact correction off for partial Fourier)")
    if shape is not None and shape[0] < MIN_SLICES:
        raise MRDeepReconError(f"three planes need at least {MIN_SLICES} slices (the views across them are images "
                               f"that many pixels tall), got {shape[0]}")


def view_sampling(sampling: KSpaceSampling, axis: int) -> KSpaceSampling:
    """How the view along array ``axis`` (0, 1 or 2 of the standardised layout) of a sampling
    that :func:`check_planes` accepts was sampled: its k-space extent, moved with the axes."""
    frequency, phase, slice_ = sampling.kmax
    kmax = ((frequency, phase, slice_), (slice_, phase, frequency), (frequency, slice_, phase))[axis]
    return dataclasses.replace(sampling, kmax=kmax)


def view(data: "torch.Tensor", axis: int) -> "torch.Tensor":
    """``data`` ``(slice, frequency, phase)`` as the view along ``axis`` (contiguous), or a view
    turned back to the input's layout (the orders are their own inverses)."""
    return data.permute(*VIEW_ORDERS[axis]).contiguous()


def mean_of_views(estimate: ViewEstimator, data: "torch.Tensor", sampling: KSpaceSampling,
                  slices: range | None = None) -> "torch.Tensor":
    """The mean of the network's estimates of ``data`` ``(slice, frequency, phase)`` along each of
    its three axes, for ``slices`` along axis 0 (``None``: all), on ``data``'s device.

    Raises:
        MRDeepReconError: a sampling three views cannot describe (:func:`check_planes`).
    """
    check_planes(sampling)
    rows = slice(None) if slices is None else slice(slices.start, slices.stop)
    total = estimate(0, data, sampling, slices)
    for axis in (1, 2):
        total = total + estimate(axis, view(data, axis), view_sampling(sampling, axis), None).permute(*VIEW_ORDERS[axis])[rows]
    return total.div_(len(VIEW_ORDERS))
