"""What one DICOM image holds: magnitude, phase, real, imaginary, or a derived map, and at which echo.

A series may hold several *image sets*: the echoes of a multi-echo acquisition, or magnitude and
phase written together (a Philips dual-echo FFE, a field map's magnitude and phase). Each 2D
image (a classic file, one frame of an enhanced object, one tile of a Siemens mosaic) belongs to
one :class:`ImageSet`, the key a reader groups by and a user selects with (CLI ``--echo N``,
``--image-type TYPE``).

Where the component comes from, first match wins:

* enhanced objects: the frame's ``ComplexImageComponent`` (MR Image Frame Type functional
  group, else the top level) and its ``FrameType``;
* classic objects: the ``ImageType`` values from the third on (Siemens ``M``/``P``/``R``/``I``,
  Philips ``M_FFE``/``PHASE MAP``/``R_SE`` ..., the DICOM words ``MAGNITUDE``/``PHASE`` ...),
  and GE's private image type (0043,102F) (0 magnitude, 1 phase, 2 real, 3 imaginary);
* a value naming a derived quantity or a difference (``FIELD_MAP``, ``T1 MAP``, ``ADC``, ``FA``,
  ``CBF``, ASL ``PERFUSION``, ``SUB``traction) makes a ``map``;
* nothing said: ``magnitude``, *assumed* (GE's ``ORIGINAL\\PRIMARY\\OTHER`` magnitude images say
  nothing); an assumed magnitude image that holds negative values is refused by the engine, since
  a magnitude is never negative (a GE field map in Hz may say no more than that).

Only magnitude images are enhanced: the networks are trained on magnitude images, and a phase,
real or imaginary image or a quantitative map has values whose meaning a denoiser would destroy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Optional

import pydicom

#: The components an image set may have, in the order they are listed.
COMPONENTS = ("magnitude", "phase", "real", "imaginary", "mixed", "map")
#: The one component the networks are trained on.
ENHANCEABLE_COMPONENT = "magnitude"
#: Echo times (ms) are compared rounded to this many decimals.
ECHO_TIME_DECIMALS = 2

_GE_PRIVATE_CREATOR = "GEMS_PARM_01"
_GE_IMAGE_TYPE_ELEMENT = 0x2F  # (0043,102F) Private Image Type
_GE_COMPONENTS = {0: "magnitude", 1: "phase", 2: "real", 3: "imaginary"}
_DICOM_COMPONENTS = {
    "MAGNITUDE": "magnitude",
    "PHASE": "phase",
    "REAL": "real",
    "IMAGINARY": "imaginary",
    "MIXED": "mixed",
}
#: ImageType words of derived quantities and difference images (signed or not in signal units).
_MAP_WORDS = ("ADC", "EADC", "FA", "CBF", "RELCBF", "PERFUSION", "SUB", "SUBTRACTION")


@dataclass(frozen=True)
class ImageSet:
    """The images of a series that belong together: one echo, one component.

    Attributes:
        echo_number: ``EchoNumbers`` (classic), else the 1-based rank of the echo time among the
            series' echo times; ``None`` when neither is known.
        echo_time_ms: ``EchoTime`` / the frame's ``EffectiveEchoTime`` (ms), ``None`` if absent.
        component: one of :data:`COMPONENTS`.
        image_type: the ``ImageType`` (classic) or ``FrameType`` (enhanced) values joined by
            ``\\`` (empty when absent), as the scanner wrote it.
        assumed: the headers say nothing of the component: ``magnitude`` is assumed.
    """

    echo_number: Optional[int]
    echo_time_ms: Optional[float]
    component: str
    image_type: str
    assumed: bool = False

    @property
    def enhanceable(self) -> bool:
        """Whether the networks may enhance these images (magnitude only)."""
        return self.component == ENHANCEABLE_COMPONENT

    def why_not_enhanced(self, lowest_value: float) -> Optional[str]:
        """Why these images are not enhanced (one line), or ``None`` when they may be:
        ``lowest_value`` is the smallest voxel value of the images read (a magnitude is never
        negative, so an *assumed* magnitude that is negative is a signed image)."""
        if not self.enhanceable:
            return (
                f"{self.component} image ({self.describe()}) is not enhanced: the networks are "
                "trained on magnitude images and would change what its values mean"
            )
        if self.assumed and lowest_value < 0:
            return (
                f"the image type ({self.describe()}) does not say magnitude and the image holds "
                f"negative values (minimum {lowest_value:g}): a signed image (a field map, a "
                "difference) is not enhanced"
            )
        return None

    @property
    def flavour(self) -> str:
        """The third ``ImageType`` / ``FrameType`` value, upper case (``M``, ``P``, ``M_FFE``,
        ``PHASE MAP``, Dixon ``W`` / ``F`` / ``IP`` / ``OP``, GE ``OTHER``; empty when absent):
        what the image is, by the standard's definition."""
        values = self.image_type.split("\\")
        return values[2].strip().upper() if len(values) > 2 else ""

    @property
    def key(self) -> tuple[Any, ...]:
        """What tells two image sets apart: echo, component and flavour (the later ``ImageType``
        values do not: they vary in words that do not change what the image is, such as Siemens
        ``NORM``)."""
        return (self.echo_number, self.echo_time_ms, self.component, self.flavour)

    def describe(self) -> str:
        """e.g. ``echo 2 (TE 10 ms), phase [ORIGINAL\\PRIMARY\\PHASE MAP\\P\\FFE]``."""
        echo = "" if self.echo_number is None else f"echo {self.echo_number}"
        if self.echo_time_ms is not None:
            echo += f" (TE {self.echo_time_ms:g} ms)" if echo else f"TE {self.echo_time_ms:g} ms"
        component = f"{self.component} (assumed)" if self.assumed else self.component
        words = ", ".join(w for w in (echo, component) if w)
        return f"{words} [{self.image_type}]" if self.image_type else words

    def chosen_by(self, echo: Optional[int], image_type: Optional[str]) -> bool:
        """Whether the choice ``echo`` (echo number) and ``image_type`` (:meth:`matches`), each
        ``None`` for no constraint, selects this set."""
        return (echo is None or self.echo_number == echo) and (
            image_type is None or self.matches(image_type)
        )

    def matches(self, image_type: str) -> bool:
        """Whether ``image_type`` (a component name such as ``magnitude``, or one ``ImageType``
        value such as ``M`` or ``PHASE MAP``, any case) selects this set."""
        wanted = image_type.strip().upper()
        values = [v.strip().upper() for v in self.image_type.split("\\")]
        return wanted == self.component.upper() or wanted in values[2:]


def _number(dataset: pydicom.Dataset, keyword: str) -> Optional[float]:
    """The first value of a DS/IS/FD attribute as a float, ``None`` when absent or unreadable (a
    damaged header is read as if the attribute were missing)."""
    try:
        values = _values(dataset.get(keyword))
        return float(values[0]) if values and str(values[0]).strip() else None
    except (TypeError, ValueError):  # pydicom converts DS/IS on access and raises on "n/a"
        return None


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return [str(v) for v in value]
    return [str(value)]


def _component_of_word(word: str) -> Optional[str]:
    """The component a single ImageType/FrameType value names, if any."""
    w = word.strip().upper()
    if w in ("P", "PHASE", "PHASE MAP", "PHASE_MAP") or w.startswith("P_"):
        return "phase"
    if w in ("R", "REAL") or w.startswith("R_"):
        return "real"
    if w in ("I", "IMAGINARY") or w.startswith("I_"):
        return "imaginary"
    if "MAP" in w or w in _MAP_WORDS:
        return "map"
    if w in ("M", "MAGNITUDE") or w.startswith("M_"):
        return "magnitude"
    return None


def _ge_component(ds: pydicom.Dataset) -> Optional[str]:
    try:
        element = ds.private_block(0x0043, _GE_PRIVATE_CREATOR)[_GE_IMAGE_TYPE_ELEMENT]
        return _GE_COMPONENTS.get(int(element.value))
    except (KeyError, ValueError, TypeError):
        return None


def component_of(
    image_type: Iterable[str], complex_component: Optional[str], ds: pydicom.Dataset
) -> Optional[str]:
    """The component of an image from its type values, its ``ComplexImageComponent`` and, for
    GE, its private image type (module docstring); ``None`` when none of them says."""
    words = [_component_of_word(w) for w in list(image_type)[2:]]
    found = [c for c in words if c is not None]
    if "map" in found and "phase" not in found:
        return "map"  # a field map in Hz is not a magnitude image, whatever its component
    if complex_component:
        named = _DICOM_COMPONENTS.get(complex_component.strip().upper())
        if named is not None:
            return named
    for component in ("phase", "real", "imaginary", "magnitude"):
        if component in found:
            return component
    return _ge_component(ds)


def image_set_of(
    ds: pydicom.Dataset, frame_type_item: Optional[pydicom.Dataset], echo_item: Optional[pydicom.Dataset]
) -> ImageSet:
    """The image set of a classic object (``frame_type_item`` and ``echo_item`` ``None``) or of
    one frame of an enhanced object (its MR Image Frame Type and MR Echo functional group items;
    the echo number is filled in later by :func:`number_echoes`)."""
    complex_component = ds.get("ComplexImageComponent")
    if frame_type_item is not None:
        image_type = _values(frame_type_item.get("FrameType"))
        complex_component = frame_type_item.get("ComplexImageComponent") or complex_component
    else:
        image_type = _values(ds.get("ImageType"))
    if echo_item is not None:
        echo_time = _number(echo_item, "EffectiveEchoTime")
        echo_number = None
    else:
        echo_time = _number(ds, "EchoTime")
        first = _number(ds, "EchoNumbers")
        echo_number = None if first is None else int(first)
    component = component_of(image_type, str(complex_component or ""), ds)
    return ImageSet(
        echo_number=echo_number,
        echo_time_ms=None if echo_time is None else round(echo_time, ECHO_TIME_DECIMALS),
        component=component or ENHANCEABLE_COMPONENT,
        image_type="\\".join(image_type),
        assumed=component is None,
    )


def number_echoes(sets: list[ImageSet]) -> list[ImageSet]:
    """``sets`` with echo numbers that tell the echoes apart, so that ``echo N`` selects one.

    A missing echo number becomes the rank (1-based) of the echo time among all echo times of
    the series (enhanced objects carry no ``EchoNumbers`` per frame). Where the scanner's numbers
    do not tell the echo times apart (one number for several times), every echo with a time is
    numbered by that rank instead.
    """
    times = sorted({s.echo_time_ms for s in sets if s.echo_time_ms is not None})
    times_of_number: dict[Optional[int], set] = {}
    for s in sets:
        if s.echo_time_ms is not None:
            times_of_number.setdefault(s.echo_number, set()).add(s.echo_time_ms)
    ambiguous = any(len(t) > 1 for t in times_of_number.values())
    return [
        replace(s, echo_number=times.index(s.echo_time_ms) + 1)
        if s.echo_time_ms is not None and (ambiguous or s.echo_number is None)
        else s
        for s in sets
    ]
