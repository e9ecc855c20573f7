"""Benchmark: the whole intake of one upload (sanitise + quality + QR), per kind of file, new vs old vs naive.

Files, all generated (benchmarks/sheet_photos.py draws the sheet photos):

- ``jpeg-12mp``   a 12 MP phone JPEG of a sheet (3000 × 4000, quality 95, ~4 MB);
- ``heic-12mp``   the same scene as an iPhone stores a portrait photo: 3024 × 4032 HEIC coded landscape, turned
                  by its irot box, EXIF orientation 6;
- ``heic-1mb``    the same at a bit rate that keeps it under 1 MB;
- ``heic-24mp``   a 24 MP iPhone photo (4284 × 5712), as iPhones since the 15 take them by default;
- ``png-24mp``    a 24 MP PNG (4000 × 6000) of a sheet photo without sensor noise; ``png-24mp-a`` with alpha;
- ``webp-6mp``    a 6 MP WebP (the most WebP may have); ``webp-24mp`` a 24 MP one;
- ``jpeg-2000``   a photo as the upload page's JavaScript sends it (2000 px, JPEG 85);
- ``png-tiny``    the 100 × 100 PNG of a drawn triangle (once 4.5 s of OpenCV's QR search);
- ``png-6300``    a 6300 × 6300 PNG of about 40 KB (once 1.4–2.9 s and 220 MB per upload);
- ``png-bomb``    a PNG whose header claims 30000 × 30000 pixels.

Pipelines, each in a fresh process per file (peak RSS = that process's VmHWM, imports included):

- ``ours``   uploads.pipeline.examine;
- ``before`` benchmarks/_before_zxing.py: the intake of commit 66f0afc (OpenCV chain, second full decode);
- ``naive``  Pillow alone: full decode, exif_transpose, LANCZOS to 2400 px, save (no checks, no QR).

CPU is ``time.process_time`` (all threads of the process; what the upload costs whatever else runs), wall is
``perf_counter``; medians of RUNS runs. Decodes counts how often a HEIC file is decoded per upload.
Targets (issue 13): 12 MP JPEG ≤ 120 ms CPU median; 12 MP HEIC ≤ 900 ms and one decode; any file ≤ 1 MB
≤ 300 ms; peak RSS ≤ 150 MB for the 24 MP PNG.

Usage: python benchmarks/intake.py
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import vm_mb  # noqa: E402

RUNS = 5
PIPELINES = ("ours", "before", "naive")


def _count_heif_decodes() -> list:
    from pillow_heif.as_plugin import HeifImageFile

    decodes = []
    load = HeifImageFile.load

    def counting(self):
        if self._heif_file is not None:  # not decoded yet: this call decodes
            decodes.append(self.size)
        return load(self)

    HeifImageFile.load = counting
    return decodes


def _pipeline(name: str):
    """The function under test: data → a short description of its answer."""
    from uploads.intake import IntakeError

    if name == "ours":
        from uploads.pipeline import examine

        def run(data):
            verdict = examine(data)
            return {"qr": verdict.qr, "step": verdict.qr_method, "reasons": [str(r) for r in verdict.reasons]}
    elif name == "before":
        from benchmarks._before_zxing import examine

        def run(data):
            verdict = examine(data)
            return {"qr": verdict.qr, "step": verdict.qr_method, "reasons": [str(r) for r in verdict.quality.reasons],
                    "second_decodes": verdict.full_decodes}
    else:
        import pillow_heif
        from PIL import Image, ImageOps

        pillow_heif.register_heif_opener()

        def run(data):
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
            image.load()
            image = image.convert("RGB")
            image.thumbnail((2400, 2400), Image.Resampling.LANCZOS)
            image.save(io.BytesIO(), "JPEG", quality=85)
            return {"size": image.size}

    def guarded(data):
        try:
            return run(data)
        except IntakeError as error:
            return {"refused": str(error.message)}
        except Exception as error:  # the naive pipeline has no error handling of its own
            return {"error": type(error).__name__}

    return guarded


def phase(name: str, path: str) -> dict:
    """Run one pipeline RUNS times on one file, in this (fresh) process."""
    data = Path(path).read_bytes()
    decodes = _count_heif_decodes()
    run = _pipeline(name)
    imports_mb = vm_mb("VmRSS")
    cpu, wall = [], []
    answer = None
    for _ in range(RUNS):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        answer = run(data)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
    return {"cpu": sorted(cpu)[RUNS // 2], "cpu_max": max(cpu), "wall": sorted(wall)[RUNS // 2],
            "peak_mb": vm_mb("VmHWM"), "imports_mb": imports_mb, "decodes": len(decodes) / RUNS, "answer": answer}


def _png(width: int, height: int, rows: bytes, colour_type: int = 0) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def make_files(payload: str) -> dict[str, bytes]:
    """Every file of the benchmark, generated."""
    from PIL import Image, ImageDraw

    from benchmarks.sheet_photos import make_sheet_photo
    from uploads import intake  # noqa: F401  (registers the HEIF plugin)

    def save(image, fmt, **kw) -> bytes:
        out = io.BytesIO()
        image.save(out, fmt, **kw)
        return out.getvalue()

    files = {}
    jpeg = make_sheet_photo(11, payload=payload, long_edge=4000, rotation=6, blur=0.6, noise=3.5, jpeg_quality=95)
    files["jpeg-12mp"] = jpeg.jpeg
    iphone = make_sheet_photo(11, payload=payload, long_edge=4032, rotation=6, blur=0.6, noise=3.5, jpeg_quality=95)
    with Image.open(io.BytesIO(iphone.jpeg)) as upright:
        coded = upright.transpose(Image.Transpose.ROTATE_90)  # the sensor's landscape
    exif = Image.Exif()
    exif[0x0112] = 6
    files["heic-12mp"] = save(coded, "HEIF", quality=80, exif=exif.tobytes())
    for quality in range(50, 0, -2):  # the bit rate depends on the encoder's version: step down until < 1 MB
        files["heic-1mb"] = save(coded, "HEIF", quality=quality, exif=exif.tobytes())
        if len(files["heic-1mb"]) < 950_000:
            break
    iphone15 = make_sheet_photo(13, payload=payload, long_edge=5712, rotation=-4, blur=0.8, noise=3, jpeg_quality=95)
    with Image.open(io.BytesIO(iphone15.jpeg)) as image:
        files["heic-24mp"] = save(image, "HEIF", quality=80)
    big = make_sheet_photo(12, payload=payload, long_edge=6000, rotation=5, blur=0.8, noise=0, jpeg_quality=95)
    with Image.open(io.BytesIO(big.jpeg)) as image:
        image = image.crop((250, 0, 4250, 6000))
        files["png-24mp"] = save(image, "PNG")
        files["png-24mp-a"] = save(image.convert("RGBA"), "PNG")
        files["webp-24mp"] = save(image, "WEBP", quality=85)
        files["webp-6mp"] = save(image.resize((2000, 3000), Image.Resampling.LANCZOS), "WEBP", quality=85)
    with Image.open(io.BytesIO(jpeg.jpeg)) as image:
        image.thumbnail((2000, 2000), Image.Resampling.BILINEAR)
        files["jpeg-2000"] = save(image, "JPEG", quality=85)
    triangle = Image.new("RGB", (100, 100), "white")
    ImageDraw.Draw(triangle).polygon([(10, 90), (50, 10), (90, 90)], fill="black")
    files["png-tiny"] = save(triangle, "PNG")
    files["png-6300"] = _png(6300, 6300, (b"\x00" + b"\x80" * 6300) * 6300)
    files["png-bomb"] = _png(30000, 30000, b"\x00" * 1000, colour_type=2)
    return files


def _answer(result: dict, payload: str) -> str:
    answer = result["answer"]
    if "refused" in answer:
        return "refused: " + answer["refused"][:24]
    if "error" in answer:
        return "error: " + answer["error"]
    if "size" in answer:
        return "{}×{}".format(*answer["size"])
    qr = "our QR" if answer["qr"] == payload else ("other QR" if answer["qr"] else "no QR")
    extra = f", +{answer['second_decodes']} decode" if answer.get("second_decodes") else ""
    return f"{qr} ({answer['step']}{extra}), {len(answer['reasons'])} reason(s)"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--phase":
        print(json.dumps(phase(sys.argv[2], sys.argv[3])))
        return
    from confirm.sheets import SheetRef, make_sheet_payload

    payload = make_sheet_payload(b"k" * 32, SheetRef(123456, 42, 3))
    print("Generating the files…")
    files = make_files(payload)
    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case, data in files.items():
            path = Path(tmp) / case
            path.write_bytes(data)
            results[case] = {}
            for name in PIPELINES:
                out = subprocess.run([sys.executable, __file__, "--phase", name, str(path)], capture_output=True,
                                     text=True, cwd=ROOT)
                if out.returncode:
                    sys.exit(out.stderr)
                results[case][name] = json.loads(out.stdout.strip().splitlines()[-1])
    from PIL import Image

    from uploads import intake  # noqa: F401  (registers the HEIF plugin)

    print(f"\n{'file':<10} {'size':>8} {'pixels':>13}  {'pipeline':<7} {'CPU ms':>7} {'max':>6} {'wall ms':>8} "
          f"{'peak MB':>8} {'decodes':>7}  answer")
    for case, data in files.items():
        try:
            pixels = "{}×{}".format(*Image.open(io.BytesIO(data)).size)
        except Exception:  # the bomb: Pillow refuses to open it at all
            pixels = "30000×30000"
        first = (case, f"{len(data) / 1e6:.2f} MB", pixels)
        for name in PIPELINES:
            r = results[case][name]
            label, size, dims = first if name == PIPELINES[0] else ("", "", "")
            decodes = f"{r['decodes']:.0f}" if case.startswith("heic") and name != "naive" else ""
            print(f"{label:<10} {size:>8} {dims:>13}  {name:<7} {1000 * r['cpu']:7.0f} {1000 * r['cpu_max']:6.0f} "
                  f"{1000 * r['wall']:8.0f} {r['peak_mb']:8.0f} {decodes:>7}  {_answer(r, payload)}")
    ours = {case: results[case]["ours"] for case in files}
    small = [case for case, data in files.items() if len(data) <= 1_000_000]
    worst_small = max((case for case in small if not case.startswith("heic")), key=lambda case: ours[case]["cpu"])
    worst_heic = max((case for case in small if case.startswith("heic")), key=lambda case: ours[case]["cpu"])
    checks = [
        ("12 MP JPEG CPU median ≤ 120 ms", 1000 * ours["jpeg-12mp"]["cpu"], 120),
        ("12 MP HEIC CPU median ≤ 900 ms", 1000 * ours["heic-12mp"]["cpu"], 900),
        ("12 MP HEIC decodes per upload = 1", ours["heic-12mp"]["decodes"], 1),
        (f"files ≤ 1 MB: worst CPU median ≤ 300 ms ({worst_small})", 1000 * ours[worst_small]["cpu"], 300),
        (f"HEIC files ≤ 1 MB: worst CPU median ≤ 300 ms ({worst_heic})", 1000 * ours[worst_heic]["cpu"], 300),
        ("24 MP PNG peak RSS ≤ 150 MB", ours["png-24mp"]["peak_mb"], 150),
        ("24 MP PNG with alpha peak RSS ≤ 150 MB", ours["png-24mp-a"]["peak_mb"], 150),
    ]
    print()
    for label, value, limit in checks:
        print(f"{label:<58} {value:8.1f}  {'MET' if value <= limit else 'MISSED'}")


if __name__ == "__main__":
    main()
