"""Synthetic phone photos of a printed, signed 学籍信息确认表 with its QR code — for the QR tests and benchmarks.

A white A4 page at 300 dpi (2480 × 3508) carries a title, a ruled table of text-like strokes, a signature and
the sheet's QR code (2.5–3 cm wide) near the top-right corner — and, if asked, a second, larger QR code at the
bottom left, as when a WeChat-group poster lies on the sheet. It is then photographed: laid on a darker table,
rotated, perspective-skewed, unevenly lit (a gradient, and optionally a soft shadow across the page), blurred,
given sensor noise and saved as a phone JPEG of 3000–4000 px on the long edge. Everything is drawn from
``numpy.random.default_rng(seed)`` within ``ranges``, so a seed and a set of ranges name one photo; any
distortion can also be fixed by keyword.

``DEFAULT_RANGES`` are the ranges the tests were written against; ``PHONE_RANGES`` are issue 13's phone-like
photos (rotation ±25°, blur up to σ = 5 px at phone resolution, JPEG 70–90, shadows) that
benchmarks/qr_detection.py measures the read rate on.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from uploads.intake import sanitize_image
from uploads.qr import render_qr_png

PAGE_W, PAGE_H = 2480, 3508  # A4 at 300 dpi
DOTS_PER_CM = 300 / 2.54
DEFAULT_PAYLOAD = "XJ1-5YC1S-255S-7PS-3K9ZQ0B1XA"  # the length and shape of a real payload
POSTER_PAYLOAD = "https://weixin.qq.com/g/AQYAAJ3k1x2Wg7fKpZL0mN8vQe5sTbRc"  # the shape of a WeChat group link


@dataclass(frozen=True)
class Ranges:
    """Where each distortion left unset is drawn from (low, high); rotation is a magnitude, its sign drawn."""

    long_edge: tuple[int, int] = (3000, 4000)
    qr_cm: tuple[float, float] = (2.5, 3.0)
    rotation: tuple[float, float] = (0, 30)
    skew: tuple[float, float] = (0, 0.08)
    fill: tuple[float, float] = (0.8, 1.0)
    blur: tuple[float, float] = (0, 2)
    brightness: tuple[float, float] = (0.7, 1.15)
    shading: tuple[float, float] = (0, 0.35)
    noise: tuple[float, float] = (0, 4)
    jpeg_quality: tuple[int, int] = (60, 90)
    shadow: tuple[float, float] = (0, 0)


DEFAULT_RANGES = Ranges()
PHONE_RANGES = Ranges(rotation=(0, 25), blur=(0, 5), jpeg_quality=(70, 90), shadow=(0, 0.45))


@dataclass(frozen=True)
class PhotoParams:
    """The distortions one synthetic photo was made with."""

    long_edge: int
    qr_cm: float
    rotation: float
    skew: float
    fill: float
    blur: float
    brightness: float
    shading: float
    noise: float
    jpeg_quality: int
    shadow: float = 0.0


@dataclass(frozen=True)
class SheetPhoto:
    """A synthetic upload: the phone's JPEG bytes and how they were made."""

    jpeg: bytes
    params: PhotoParams
    payload: str | None

    def app_sized(self) -> Image.Image:
        """The photo as the app examines it: ``sanitize_image`` (DCT-reduced decode, long edge ≤ 2400 px)."""
        return sanitize_image(self.jpeg).image

    def full_resolution(self) -> Image.Image:
        """The photo at phone resolution (RGB) — what the old OpenCV chain decoded a second time."""
        image = Image.open(io.BytesIO(self.jpeg))
        image.load()
        return image.convert("RGB")


def _pick(value, rng: np.random.Generator, low: float, high: float) -> float:
    drawn = rng.uniform(low, high)  # always draw, so fixing one distortion leaves the others unchanged
    return float(drawn if value is None else value)


def _qr_block(payload: str, size: int) -> np.ndarray:
    """``payload`` as printed: a QR code ``size`` pixels wide, printer black (25) on white."""
    symbol = cv2.imdecode(np.frombuffer(render_qr_png(payload, box_size=1, border=0), np.uint8),
                          cv2.IMREAD_GRAYSCALE)
    qr = cv2.resize(symbol, (size, size), interpolation=cv2.INTER_NEAREST)
    return np.where(qr < 128, 25, 255).astype(np.uint8)  # printer black is not 0


def _draw_page(rng: np.random.Generator, payload: str | None, qr_cm: float,
               poster: str | None = None) -> np.ndarray:
    """The printed sheet, grayscale, 300 dpi; ``poster``: a second QR code on a slip lying on the sheet."""
    page = np.full((PAGE_H, PAGE_W), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    letters = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"))

    def text(x: int, y: int, n: int, size: float, thick: int) -> None:
        cv2.putText(page, "".join(rng.choice(letters, n)), (x, y), font, size, 30, thick, cv2.LINE_AA)

    text(620, 260, 14, 3.0, 8)  # the title
    text(180, 420, 30, 1.3, 3)
    # The ruled table of record fields: label cells and value cells full of writing.
    top, left, right, rows = 520, 170, PAGE_W - 170, 26
    row_h = 96
    columns = [left, left + 420, left + 1070, left + 1490, right]
    for r in range(rows + 1):
        y = top + r * row_h
        cv2.line(page, (left, y), (right, y), 40, 3)
    for x in columns:
        cv2.line(page, (x, top), (x, top + rows * row_h), 40, 3)
    for r in range(rows):
        y = top + r * row_h + 64
        for c in range(len(columns) - 1):
            width = columns[c + 1] - columns[c]
            n = int(rng.integers(2, max(3, width // 45)))
            text(columns[c] + 20, y, n, 1.2, 3)
    # Notes and the parent's signature under the table.
    y0 = top + rows * row_h + 110
    for i in range(3):
        text(180, y0 + i * 70, int(rng.integers(30, 44)), 1.2, 3)
    points = np.cumsum(rng.normal(0, 18, (40, 2)), axis=0) + (1600, y0 + 260)
    cv2.polylines(page, [points.astype(np.int32)], False, 20, 6, cv2.LINE_AA)
    if payload is not None:
        size = round(qr_cm * DOTS_PER_CM)
        x, y = PAGE_W - 170 - size, 110
        page[y - 60:y + size + 60, x - 60:x + size + 60] = 255  # the printed quiet zone
        page[y:y + size, x:x + size] = _qr_block(payload, size)
    if poster is not None:  # a 6 cm slip with a 4.5 cm code (larger than ours, as on posters) over the table
        slip, size = round(6 * DOTS_PER_CM), round(4.5 * DOTS_PER_CM)
        x, y = 260, 2100
        page[y:y + slip, x:x + slip] = 250
        inset = (slip - size) // 2
        page[y + inset:y + inset + size, x + inset:x + inset + size] = _qr_block(poster, size)
    return page


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A table top (BGR, float32): a darker brownish or greyish colour with a wood-like grain."""
    base = rng.uniform([50, 60, 80], [120, 130, 160]).astype(np.float32)
    grain = rng.normal(0, 12, (h // 40, 8)).astype(np.float32)
    small = cv2.merge([grain + level for level in base])
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def make_sheet_photo(
    seed: int,
    *,
    payload: str | None = DEFAULT_PAYLOAD,
    long_edge: int | None = None,
    qr_cm: float | None = None,
    rotation: float | None = None,
    skew: float | None = None,
    fill: float | None = None,
    blur: float | None = None,
    brightness: float | None = None,
    shading: float | None = None,
    noise: float | None = None,
    jpeg_quality: int | None = None,
    shadow: float | None = None,
    poster: str | None = None,
    ranges: Ranges = DEFAULT_RANGES,
) -> SheetPhoto:
    """A phone photo of a sheet carrying ``payload`` as its QR code (``None``: a sheet with no QR code).

    Unset distortions are drawn from ``ranges``; the defaults: long edge 3000–4000 px, QR 2.5–3 cm, rotation
    ±0–30°, perspective skew 0–8 % of the page width per corner, page filling 80–100 % of the room it has,
    Gaussian blur σ 0–2 px (at phone resolution), brightness 0.7–1.15, shading (a light gradient across the
    page) 0–35 %, noise σ 0–4, JPEG quality 60–90, no shadow. ``shadow`` darkens one side of a soft-edged line
    across the photo by that fraction. ``poster`` puts a second QR code with that text on the sheet.
    """
    rng = np.random.default_rng(seed)
    turn_sign = float(rng.choice([-1, 1]))
    # The shadow has its own random stream, so that photos made before it existed stay exactly the same.
    shadow_rng = np.random.default_rng([seed, 13])
    params = PhotoParams(
        long_edge=int(_pick(long_edge, rng, *ranges.long_edge)),
        qr_cm=_pick(qr_cm, rng, *ranges.qr_cm),
        rotation=_pick(rotation, rng, *ranges.rotation) * (turn_sign if rotation is None else 1.0),
        skew=_pick(skew, rng, *ranges.skew),
        fill=_pick(fill, rng, *ranges.fill),
        blur=_pick(blur, rng, *ranges.blur),
        brightness=_pick(brightness, rng, *ranges.brightness),
        shading=_pick(shading, rng, *ranges.shading),
        noise=_pick(noise, rng, *ranges.noise),
        jpeg_quality=int(_pick(jpeg_quality, rng, *ranges.jpeg_quality)),
        shadow=_pick(shadow, shadow_rng, *ranges.shadow),
    )
    page = _draw_page(rng, payload, params.qr_cm, poster)
    h = params.long_edge
    w = h * 3 // 4

    # Where the page's corners land: the page skewed, rotated, then scaled to fit the frame and centred.
    src = np.float32([[0, 0], [PAGE_W, 0], [PAGE_W, PAGE_H], [0, PAGE_H]])
    quad = src - (PAGE_W / 2, PAGE_H / 2) + rng.uniform(-1, 1, (4, 2)) * params.skew * PAGE_W
    angle = np.deg2rad(params.rotation)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = quad @ turn.T
    extent = quad.max(axis=0) - quad.min(axis=0)
    scale = min(0.97 * w / extent[0], 0.97 * h / extent[1]) * params.fill
    quad = quad * scale
    room = np.array([w, h]) - (quad.max(axis=0) - quad.min(axis=0))
    quad = quad - quad.min(axis=0) + room * rng.uniform(0.2, 0.8, 2)
    matrix = cv2.getPerspectiveTransform(src, quad.astype(np.float32))

    paper = cv2.warpPerspective(page, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    mask = cv2.warpPerspective(np.full((PAGE_H // 4, PAGE_W // 4), 1, np.float32),
                               matrix @ np.diag([4.0, 4.0, 1.0]), (w, h), flags=cv2.INTER_LINEAR)
    tint = rng.uniform([225, 235, 240], [245, 250, 255]) / 255  # paper is a slightly warm white (BGR)
    sheet = cv2.merge([paper.astype(np.float32) * float(level) for level in tint])
    photo = cv2.blendLinear(sheet, _background(rng, w, h), mask, 1 - mask)

    # Uneven light: a gradient in a random direction, and the overall exposure.
    direction = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:1:64j, 0:1:48j].astype(np.float32)
    ramp = (np.cos(direction) * xx + np.sin(direction) * yy + 1) / 2
    gain = params.brightness * (1 - params.shading * ramp)
    if params.shadow > 0:  # a soft-edged shadow (a hand, the phone) over one side of a line across the photo
        angle, offset = shadow_rng.uniform(0, 2 * np.pi), shadow_rng.uniform(-0.3, 0.3)
        side = np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5) - offset
        gain = gain * (1 - params.shadow * np.clip(side * 20 + 0.5, 0, 1))
    gain = gain.astype(np.float32)
    light = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    photo = cv2.multiply(photo, cv2.merge([light, light, light]))
    if params.blur > 0.05:
        photo = cv2.GaussianBlur(photo, (0, 0), params.blur)
    grain = params.noise * rng.standard_normal((h, w), dtype=np.float32)
    photo = cv2.add(photo, cv2.merge([grain, grain, grain]), dtype=cv2.CV_8U)  # saturates to 0..255
    ok, encoded = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, params.jpeg_quality])
    assert ok
    return SheetPhoto(jpeg=encoded.tobytes(), params=params, payload=payload)
