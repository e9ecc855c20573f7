"""The photo quality gate: reasons a parent understands, computed on the reduced image.

Thresholds were calibrated on generated sheet photos (benchmarks/sheet_photos.py): sharp photos of a
printed A4 sheet score far above BLUR_THRESHOLD, Gaussian blur of radius ≥ 3 px at 2000 px falls below.

A photo that is too small, too dark or washed out is ``is_unusable``: the parent must take it again whatever
it shows, so the intake does not search it for a QR code. A blurred one still is (``is_blurred`` tells the QR
reader to try deblurring): a head teacher may file it anyway, and a batch names whose sheet it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from confirm.i18n import N_, Message

MIN_LONG_EDGE = 1000
DARK_MEAN = 60.0
BRIGHT_MEAN = 240.0
LOW_CONTRAST_STD = 18.0
BLUR_THRESHOLD = 100.0
ANALYSIS_EDGE = 1000


@dataclass(frozen=True)
class QualityReport:
    """What the gate measured and every reason to ask for a retake (empty: accepted)."""

    reasons: list[Message] = field(default_factory=list)
    brightness: float = 0.0
    contrast: float = 0.0
    sharpness: float = 0.0
    is_unusable: bool = False
    is_blurred: bool = False

    @property
    def is_accepted(self) -> bool:
        return not self.reasons


def _grey(image: Image.Image) -> np.ndarray:
    """The photo as 8-bit greyscale with its long edge at most ANALYSIS_EDGE (the measures' fixed scale)."""
    scale = ANALYSIS_EDGE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR,
                             reducing_gap=2.0)
    return np.asarray(image if image.mode == "L" else image.convert("L"))


def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian: high for crisp edges (print), low for blur."""
    g = grey.astype(np.int16)  # 8-bit input: the Laplacian fits in int16 (−1020…1020)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    return float(lap.var(dtype=np.float64))


def assess(image: Image.Image, *, original_size: tuple[int, int] | None = None) -> QualityReport:
    """Check size, exposure and sharpness of a (reduced) photo."""
    reasons: list[Message] = []
    long_edge = max(original_size or image.size)
    if long_edge < MIN_LONG_EDGE:
        reasons.append(Message(N_("照片太小（%(px)s 像素），看不清字。请用手机相机直接拍照，不要截图或压缩"),
                               {"px": long_edge}))
    grey = _grey(image)
    brightness = float(grey.mean(dtype=np.float64))
    contrast = float(grey.std(dtype=np.float64))
    sharpness = laplacian_variance(grey)
    if brightness < DARK_MEAN:
        reasons.append(Message(N_("照片太暗，请在光线充足的地方重新拍照")))
    elif brightness > BRIGHT_MEAN or contrast < LOW_CONTRAST_STD:
        reasons.append(Message(N_("照片过亮或发白，看不清字。请避开强光和反光重新拍照")))
    is_unusable = bool(reasons)  # too small, too dark or washed out
    is_blurred = sharpness < BLUR_THRESHOLD
    if is_blurred:
        reasons.append(Message(N_("照片模糊，请拿稳手机、对准焦点后重新拍照")))
    return QualityReport(reasons, brightness, contrast, sharpness, is_unusable=is_unusable, is_blurred=is_blurred)
