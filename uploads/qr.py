"""Sheet QR codes: render one for printing, and read the codes in a parent's photo.

``find_qr`` reads the greyscale image the intake already holds (uploads/intake.py: a phone photo's long edge
reduced to 1500–2400 px) with zxing-cpp; it never decodes the uploaded file again. Its work is fixed before it
starts — at most two zxing passes and one deconvolution of at most 2000 × 2000 px — so a photo gets the same answer
on an idle machine and on a busy one. The steps, and the measured case that keeps each (benchmarks/qr_detection.py,
240 generated phone photos of printed sheets: rotation ±25°, perspective, uneven light, shake up to 5 px, JPEG 70–90):

1. ``zxing``  — one zxing-cpp pass, QR codes (model 2) only, returning every code it reads: a WeChat group's poster
   may lie on the sheet, and ours must be chosen. Reads 217 of the 240; each of the other 23 is blurred (Gaussian
   σ ≥ 3 px at phone resolution). No rotated, inverted or downscaled retries: with them, zxing read none of those.
2. ``deblur`` — only for a photo the quality gate found blurred, and only when step 1 read none of ours: the image
   deconvolved (a Wiener filter for a Gaussian blur of σ = long edge / 750, the shake of a phone photo at the top
   of the range, whatever size the photo arrives at) and read once more. Reads 22 of the 23; the last (σ 4.8 px on
   a 2.5 cm code at 3000 px) nothing here reads. Costs ~75 ms of CPU at 2000 × 1500 px, on blurred photos only.
   Its constants were chosen on seeds 0–299; on seeds 1000–1239 the two steps read 223 + 16 of 240.

Measured and dropped, on the photos step 1 misses (34 of seeds 0–299): OpenCV's QR detector and its ArUco variant
read none; zxing on the full-resolution original read 7, the old OpenCV chain without its time budget 11 — all of
them read by step 2 as well, and both decode the file a second time. Crops around the places zxing located a code
it could not read: those places missed the code in several photos, and deconvolving the whole image needs no search.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import zxingcpp
from PIL import Image

from confirm.sheets import looks_like_sheet_payload

DEBLUR_EDGE = 2000  # step 2 works on at most this long edge: a 2400 px image is deconvolved at 2000 px
DEBLUR_SIGMA_PER_EDGE = 1 / 750  # σ of the Gaussian blur undone by step 2, as a fraction of the long edge
DEBLUR_NOISE = 0.01  # the Wiener filter's noise-to-signal ratio: higher is smoother, lower is sharper
_READ = dict(formats=zxingcpp.BarcodeFormat.QRCodeModel2, try_rotate=False, try_downscale=False, try_invert=False)


@dataclass(frozen=True)
class QrResult:
    """What ``find_qr`` read: every distinct text, ours first; the step that read the first; zxing passes made."""

    texts: tuple[str, ...]
    method: str
    passes: int

    @property
    def text(self) -> str | None:
        """Our sheet's code when one was read, else any other code read, else None."""
        return self.texts[0] if self.texts else None


def render_qr_png(payload: str, *, box_size: int = 10, border: int = 4, error: str = "q") -> bytes:
    """A black-on-white PNG of ``payload`` with ``box_size`` pixels per module and a ``border``-module quiet zone."""
    import segno  # only the printing needs it: importing it costs an upload worker ~8 MB

    code = segno.make(payload, error=error, micro=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=box_size, border=border)
    return out.getvalue()


def _read(grey: np.ndarray) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(grey, **_READ) if code.text]


def _fast_length(n: int) -> int:
    """The smallest length ≥ ``n`` with no prime factor above 5 (fast for the FFT)."""
    while True:
        rest = n
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return n
        n += 1


def deblurred(grey: np.ndarray, sigma: float, noise: float = DEBLUR_NOISE) -> np.ndarray:
    """``grey`` (8-bit) deconvolved for a Gaussian blur of ``sigma`` pixels by a Wiener filter."""
    height, width = grey.shape
    padded = np.pad(grey, ((0, _fast_length(height) - height), (0, _fast_length(width) - width)), mode="edge")
    fy = np.fft.fftfreq(padded.shape[0]).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(padded.shape[1]).astype(np.float32)[None, :]
    blur = np.exp(np.float32(-2 * np.pi**2 * sigma**2) * (fx * fx + fy * fy))
    spectrum = np.fft.rfft2(padded.astype(np.float32))
    spectrum *= blur / (blur * blur + np.float32(noise))
    sharp = np.fft.irfft2(spectrum, s=padded.shape)[:height, :width]
    return np.clip(sharp, 0, 255).astype(np.uint8)


def _deblur_view(grey: Image.Image) -> np.ndarray:
    """Step 2's image: ``grey`` at most DEBLUR_EDGE long, deconvolved for the blur expected at that size."""
    scale = DEBLUR_EDGE / max(grey.size)
    if scale < 1:
        grey = grey.resize((round(grey.width * scale), round(grey.height * scale)), Image.Resampling.BILINEAR)
    return deblurred(np.asarray(grey), max(grey.size) * DEBLUR_SIGMA_PER_EDGE)


def find_qr(
    image: Image.Image,
    *,
    is_blurred: bool = False,
    is_ours: Callable[[str], bool] = looks_like_sheet_payload,
) -> QrResult:
    """Read the QR codes in a photo (PIL, RGB or L); ``is_blurred`` (the quality gate's finding) allows step 2.

    Stops as soon as a text ``is_ours``; otherwise returns whatever other codes it read.
    """
    grey = image if image.mode == "L" else image.convert("L")
    found: dict[str, str] = {}  # text → the step that first read it, in reading order
    steps: list[tuple[str, Callable[[], np.ndarray]]] = [("zxing", lambda: np.asarray(grey))]
    if is_blurred:
        steps.append(("deblur", lambda: _deblur_view(grey)))
    passes = 0
    for method, view in steps:
        passes += 1
        for text in _read(view()):
            found.setdefault(text, method)
        if any(is_ours(text) for text in found):
            break
    # Ours first, then what merely looks like ours (a forged or altered sheet), then the rest, in reading order.
    texts = sorted(found, key=lambda text: (not is_ours(text), not looks_like_sheet_payload(text)))
    return QrResult(tuple(texts), found[texts[0]] if texts else "none", passes)
