"""Benchmark: intake of a 12 MP, ~5 MB phone JPEG of a sheet.

Ours: verify → orient → strip → ≤2400 px + thumbnail → quality checks → QR decode (uploads.pipeline.examine).
Baseline, same file, same run: a naive Pillow pipeline — full decode, exif_transpose, LANCZOS resize to
2400 px, save. Targets (issue 4): time ratio ours/naive ≤ 0.5, peak RSS ≤ 80 MB.
Each pipeline runs in its own process (peak RSS = VmHWM of that process); best of 5 runs is reported.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import vm_mb  # noqa: E402

RUNS = 5


def phase(name: str, path: str) -> dict:
    data = Path(path).read_bytes()
    if name == "ours":
        from uploads.pipeline import examine

        def run():
            verdict = examine(data)
            return verdict.image.width, verdict.qr
    else:
        from PIL import Image, ImageOps

        def run():
            image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
            image.load()
            image = image.resize((2400, round(2400 * image.height / image.width)), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85)
            return image.width, None

    imports_mb = vm_mb("VmRSS")
    times = []
    result = None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return {"best": min(times), "median": sorted(times)[len(times) // 2], "peak_mb": vm_mb("VmHWM"),
            "after_imports_mb": imports_mb, "result": result}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--phase":
        print(json.dumps(phase(sys.argv[2], sys.argv[3])))
        return
    from benchmarks.sheet_photos import make_sheet_photo
    from confirm.sheets import SheetRef, make_sheet_payload

    payload = make_sheet_payload(b"k" * 32, SheetRef(123456, 42, 3))
    photo = make_sheet_photo(11, payload=payload, long_edge=4000, rotation=6, blur=0.6, noise=3.5, jpeg_quality=95)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sheet.jpg"
        path.write_bytes(photo.jpeg)
        from PIL import Image

        size = Image.open(path).size
        print(f"input: {size[0]}×{size[1]} ({size[0] * size[1] / 1e6:.1f} MP), {len(photo.jpeg) / 1e6:.1f} MB JPEG")
        results = {}
        for name in ("naive", "ours"):
            out = subprocess.run([sys.executable, __file__, "--phase", name, str(path)], capture_output=True,
                                 text=True, cwd=ROOT)
            if out.returncode:
                sys.exit(out.stderr)
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
    for name, label in (("naive", "naive Pillow (full decode, LANCZOS)"), ("ours", "our intake (+ quality + QR)")):
        r = results[name]
        print(f"{label:38s} best {r['best'] * 1000:6.0f} ms  median {r['median'] * 1000:6.0f} ms  "
              f"peak RSS {r['peak_mb']:5.1f} MB (after imports {r['after_imports_mb']:.1f} MB)")
    ratio = results["ours"]["best"] / results["naive"]["best"]
    print(f"QR decoded: {results['ours']['result'][1] == payload}")
    print(f"ratio ours/naive: {ratio:.2f} (target ≤ 0.5); peak RSS {results['ours']['peak_mb']:.0f} MB (target ≤ 80)")


if __name__ == "__main__":
    main()
