"""The photo intake as it was before issue 13 (commit 66f0afc), kept verbatim as the benchmarks' baseline.

``sanitize_image`` and ``full_resolution`` are uploads/intake.py of that commit (JPEG DCT-scaled, everything else
decoded in full up to 40 MP), ``find_qr`` is its uploads/qr.py: the OpenCV chain with its 0.8 s wall-clock budget
and its second, full-resolution decode of the original. ``examine`` strings them together as uploads/pipeline.py
did (quality gate unchanged: uploads.quality.assess). Not used by the app.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from confirm.i18n import N_, Message
from uploads.intake import ALLOWED_FORMATS, IntakeError, SanitizedImage, sniff
from uploads.quality import QualityReport, assess

MAX_PIXELS = 40_000_000  # a 12 MP phone photo is far below; a decompression bomb is far above
LONG_EDGE = 2400
DRAFT_MIN_EDGE = 1600  # DCT scaling may stop at this long edge: enough to read a sheet and its QR code
THUMB_EDGE = 320
JPEG_QUALITY = 85

WORK_EDGE = 1200  # the first, cheap look
MS_PER_MEGAPIXEL = 70  # a pessimistic detectAndDecode cost, to decide whether a step still fits the budget
CROP_SIDE = 320  # a located code is straightened to this many pixels, its quiet zone added around it
FAIR_EDGE = 1600  # a photo handed in smaller than this gets a look at the original even if nothing was located
FULL_MIN_SECONDS = 0.25  # decoding a 12 MP original costs ~0.15 s: not worth starting with less time left



def _encode(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit / float greyscale: scale to 8 bits first
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _unreadable() -> IntakeError:
    return IntakeError(Message(N_("无法识别的文件，请上传照片（JPG、PNG、WebP 或 HEIC 格式）")))


def open_photo(data: bytes, *, max_pixels: int = MAX_PIXELS, draft_edge: int | None = DRAFT_MIN_EDGE):
    """Open ``data`` as a photo under strict limits; returns (image with orientation applied, original size)."""
    if not data:
        raise IntakeError(Message(N_("文件是空的，请重新拍照上传")))
    kind = sniff(data)
    if kind not in ALLOWED_FORMATS:
        raise _unreadable()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            original = image.size
            if original[0] * original[1] > max_pixels:
                raise IntakeError(Message(N_("图片尺寸过大，请用手机相机直接拍照上传")))
            if image.format == "JPEG" and draft_edge and max(original) >= 2 * draft_edge:
                factor = draft_edge / max(original)
                image.draft("RGB", (math.ceil(original[0] * factor), math.ceil(original[1] * factor)))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        except IntakeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise IntakeError(Message(N_("图片尺寸过大，请用手机相机直接拍照上传"))) from None
        except UnidentifiedImageError:
            raise _unreadable() from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise IntakeError(Message(N_("图片文件已损坏或不完整，请重新拍照上传"))) from None
    return image, original


def sanitize_image(data: bytes, *, long_edge: int = LONG_EDGE, max_pixels: int = MAX_PIXELS) -> SanitizedImage:
    """Open ``data`` as a photo under strict limits and return a clean JPEG and thumbnail."""
    image, original = open_photo(data, max_pixels=max_pixels)
    clean = _to_rgb(image)
    del image
    if max(clean.size) > long_edge:
        clean.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)
    clean.info = {}  # EXIF (with GPS), XMP, ICC and comments are dropped: nothing of the original is written
    encoded = _encode(clean)
    scale = THUMB_EDGE / max(clean.size)
    thumb = clean.resize((max(1, round(clean.width * scale)), max(1, round(clean.height * scale))),
                         Image.Resampling.LANCZOS, reducing_gap=2.0)
    width, height = clean.size
    grey = clean.convert("L")  # all the checks need; the colour image is let go here
    del clean
    return SanitizedImage(
        data=encoded,
        thumbnail=_encode(thumb, 80),
        width=width,
        height=height,
        original_width=original[0],
        original_height=original[1],
        sha256=hashlib.sha256(encoded).hexdigest(),
        image=grey,
    )


def full_resolution(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The photo decoded at full size (only for a second look when the reduced image is not enough)."""
    image, _ = open_photo(data, max_pixels=max_pixels, draft_edge=None)
    return _to_rgb(image)


@dataclass(frozen=True)
class QrResult:
    """What ``find_qr`` found: the decoded text (None when nothing was read), which step read it, and how long."""

    text: str | None
    method: str
    seconds: float


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


@dataclass
class Verdict:
    """What the old intake found (no sheet expectation: the benchmarks only ask what it read)."""

    image: SanitizedImage
    quality: QualityReport
    qr: str | None
    qr_method: str
    full_decodes: int


def examine(data: bytes) -> Verdict:
    """The old uploads.pipeline.examine without an expectation: sanitise, judge, search (originals on demand)."""
    image = sanitize_image(data)
    quality = assess(image.image, original_size=(image.original_width, image.original_height))
    calls = []

    def original() -> Image.Image:
        calls.append(1)
        return full_resolution(data)

    found = find_qr(image.image, full_resolution=original)
    return Verdict(image, quality, found.text, found.method, len(calls))
