"""Sheet QR codes: render one for printing, and find and decode one in a parent's photo.

``find_qr`` runs a short chain of OpenCV attempts, cheapest first, and stops at the first decode:

1. ``plain``     — ``cv2.QRCodeDetector`` on a ~1200 px greyscale copy;
2. ``aruco``     — ``cv2.QRCodeDetectorAruco`` (finder patterns found as ArUco-like squares) on the same;
3. ``region``    — every place a detector *located* a code it could not read is cut out of the sharpest image
   we hold, straightened to a square and enlarged, then decoded plain, Otsu-thresholded and sharpened;
4. ``threshold`` — the ~1200 px copy binarised (adaptive threshold), plain detector;
5. ``scale``     — both detectors on the photo as handed in (up to 2400 px), then ``region`` on what they found;
6. ``full``      — the original photo (``full_resolution``): located codes cut out of it at full sharpness; it
   is decoded only when something was located but not read, or when the photo handed in is under 1600 px.

A photo without a code stops after the few cheap steps; the whole chain keeps to ``time_budget``: a step runs
only while its estimated cost fits in the time left.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import segno
from PIL import Image

WORK_EDGE = 1200  # the first, cheap look
MS_PER_MEGAPIXEL = 70  # a pessimistic detectAndDecode cost, to decide whether a step still fits the budget
CROP_SIDE = 320  # a located code is straightened to this many pixels, its quiet zone added around it
FAIR_EDGE = 1600  # a photo handed in smaller than this gets a look at the original even if nothing was located
FULL_MIN_SECONDS = 0.25  # decoding a 12 MP original costs ~0.15 s: not worth starting with less time left


@dataclass(frozen=True)
class QrResult:
    """What ``find_qr`` found: the decoded text (None when nothing was read), which step read it, and how long."""

    text: str | None
    method: str
    seconds: float


def render_qr_png(payload: str, *, box_size: int = 10, border: int = 4, error: str = "q") -> bytes:
    """A black-on-white PNG of ``payload`` with ``box_size`` pixels per module and a ``border``-module quiet zone."""
    code = segno.make(payload, error=error, micro=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=box_size, border=border)
    return out.getvalue()


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def _shrunk(grey: np.ndarray, edge: int) -> tuple[np.ndarray, float]:
    """``grey`` with its long edge at most ``edge``, and the factor from its coordinates back to ``grey``'s."""
    factor = edge / max(grey.shape)
    if factor >= 1:
        return grey, 1.0
    return cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), 1 / factor


class _Search:
    """One bounded search: the clock, the located-but-unread quads, and the decoders."""

    def __init__(self, time_budget: float):
        self.start = time.perf_counter()
        self.budget = time_budget
        self.plain = cv2.QRCodeDetector()  # fresh per search: OpenCV detectors are not thread-safe
        self.aruco = cv2.QRCodeDetectorAruco()
        self.quads: list[np.ndarray] = []  # in the coordinates of the photo as handed in
        self.tried: list[tuple[str, np.ndarray]] = []  # (source image, quad) pairs already straightened

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def fits(self, pixels: int) -> bool:
        return self.elapsed() + pixels / 1e6 * MS_PER_MEGAPIXEL / 1000 <= self.budget

    def decode(self, detector, image: np.ndarray, to_photo: float = 1.0, *, remember: bool = True) -> str | None:
        """Decode with ``detector``; unless told not to, remember where it located a code it could not read."""
        if not self.fits(image.size):
            return None
        try:
            text, points, _ = detector.detectAndDecode(image)
        except cv2.error:
            return None
        if text:
            return text
        if remember and points is not None and len(points):
            for quad in np.asarray(points, np.float32).reshape(-1, 4, 2):
                if cv2.contourArea(quad) > 16:
                    self.quads.append(quad * to_photo)
        return None

    def regions(self, grey: np.ndarray, source: str, to_grey: float = 1.0) -> str | None:
        """Straighten and enlarge each located code cut from ``grey`` (``to_grey``: photo → grey coordinates)."""
        for quad in list(self.quads):
            if any(name == source and np.abs(quad - seen).max() < 4 for name, seen in self.tried):
                continue
            self.tried.append((source, quad))
            margin = CROP_SIDE * 0.25
            target = np.float32([[margin, margin], [margin + CROP_SIDE, margin],
                                 [margin + CROP_SIDE, margin + CROP_SIDE], [margin, margin + CROP_SIDE]])
            side = int(CROP_SIDE + 2 * margin)
            matrix = cv2.getPerspectiveTransform((quad * to_grey).astype(np.float32), target)
            crop = cv2.warpPerspective(grey, matrix, (side, side), flags=cv2.INTER_CUBIC,
                                       borderMode=cv2.BORDER_REPLICATE)
            for variant in _variants(crop):
                if self.elapsed() > self.budget:
                    return None
                text = self.decode(self.plain, variant, remember=False) or self.decode(
                    self.aruco, variant, remember=False)
                if text:
                    return text
        return None


def _variants(crop: np.ndarray):
    """The straightened crop as is, Otsu-binarised, and sharpened then binarised."""
    yield crop
    _, otsu = cv2.threshold(cv2.GaussianBlur(crop, (0, 0), 1.5), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    yield otsu
    soft = cv2.GaussianBlur(crop, (0, 0), 3)
    sharp = cv2.addWeighted(crop, 2.0, soft, -1.0, 0)
    _, otsu_sharp = cv2.threshold(sharp, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    yield otsu_sharp


def find_qr(
    image: Image.Image,
    *,
    full_resolution: Callable[[], Image.Image] | None = None,
    time_budget: float = 0.8,
) -> QrResult:
    """Find and decode the QR code in a photo (PIL, RGB or L); ``full_resolution`` gives the original if needed.

    Returns the first text any step decodes, or ``QrResult(None, "none", …)`` when the chain found nothing or
    ran out of ``time_budget`` seconds.
    """
    search = _Search(time_budget)
    grey = _grey(image)
    small, small_to_photo = _shrunk(grey, WORK_EDGE)

    def binarised() -> str | None:
        if not search.fits(small.size):
            return None
        binary = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 10)
        # What the detector "locates" in a binarised page of text is mostly noise: not worth a closer look.
        return search.decode(search.plain, binary, small_to_photo, remember=False)

    def rescaled() -> str | None:
        if small is grey:
            return None
        return search.decode(search.plain, grey) or search.decode(search.aruco, grey) or search.regions(grey, "photo")

    def original() -> str | None:
        # Worth decoding the original only when something was located but not read, or the photo handed in
        # was too small for the detectors to have had a fair look.
        too_small = max(grey.shape) < FAIR_EDGE
        if full_resolution is None or not (search.quads or too_small):
            return None
        if search.budget - search.elapsed() < FULL_MIN_SECONDS:
            return None
        full = _grey(full_resolution())
        to_full = full.shape[1] / grey.shape[1]
        if too_small and not search.quads:
            view, view_to_full = _shrunk(full, FAIR_EDGE * 3 // 2)
            text = search.decode(search.plain, view, view_to_full / to_full) or search.decode(
                search.aruco, view, view_to_full / to_full)
            if text:
                return text
        return search.regions(full, "full", to_full)

    steps = (
        ("plain", lambda: search.decode(search.plain, small, small_to_photo)),
        ("aruco", lambda: search.decode(search.aruco, small, small_to_photo)),
        ("region", lambda: search.regions(grey, "photo")),
        ("threshold", binarised),
        ("scale", rescaled),
        ("full", original),
    )
    for method, step in steps:
        if search.elapsed() >= search.budget:
            break
        text = step()
        if text:
            return QrResult(text, method, search.elapsed())
    return QrResult(None, "none", search.elapsed())
