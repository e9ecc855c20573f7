"""Benchmark: the PDF of 60 confirmation sheets (one class), wall time and peak RSS.

Ours: webapp.adapters.pdf.render_sheets with the embedded TrueType CJK font (a subset of WenQuanYi Zen Hei) and vector
QR codes, into a temporary file. Baselines, same run, same 60 pages and layout: (a) ReportLab's built-in CID font
STSong-Light (not embedded: small and fast, but shows empty boxes on many phones); (b) the process with everything
imported and the students built but nothing rendered. Target (issue 6): a class of 60 in a few seconds.
Each variant runs in its own process (peak RSS = VmHWM of that process); the best of 3 runs is reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import vm_mb  # noqa: E402

RUNS = 3
N = 60


def _child(variant: str) -> None:
    from confirm.models import FamilyMember, School, SchoolClass, Student
    from confirm.services.sheet_printing import PrintedSheet
    from confirm.sheets import SheetRef, make_sheet_payload
    from tests.factories import student_values
    from webapp import create_app
    from webapp.adapters import pdf as printing

    app = create_app({"SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://", "SMS_BACKEND": "memory"})
    school_class = SchoolClass(grade="三年级", name="1班", school=School(code="5200000001", name="测试小学"))
    sheets = []
    for i in range(N):
        values, members = student_values(i + 1)
        values["current_address"] = values["home_address"] = f"贵州省贵阳市南明区花果园大街{i + 1}号5栋2单元1203室"
        student = Student(id=i + 1, name=values["name"], upload_no=f"{i:010d}", record=values, record_version=1,
                          school_class=school_class,
                          members=[FamilyMember(slot=s, record=m) for s, m in members.items() if m])
        payload = make_sheet_payload(b"k" * 32, SheetRef(student.id, 1, 1))
        sheets.append(PrintedSheet(student, payload, "AB12-CD34" if i % 2 else None, bool(i % 3)))
    font = printing.font_path()
    if variant == "cid":
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        printing._register = lambda _path: "STSong-Light"
    ctx = printing.SheetContext("测试小学", "2026年秋季学籍信息核查", "https://example.edu.cn/register")
    start = time.perf_counter()
    size = 0
    if variant != "idle":
        with app.test_request_context(), tempfile.TemporaryFile() as out:
            pages = printing.render_sheets(sheets, out, ctx, font_file=font)
            size = out.tell()
            assert pages == N
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": vm_mb("VmHWM"), "pdf_kb": size / 1024}))


def _run(variant: str) -> dict:
    best = None
    for _ in range(RUNS):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", variant], check=True, capture_output=True,
                             text=True, cwd=ROOT).stdout
        result = json.loads(out.strip().splitlines()[-1]) | {"process_s": time.perf_counter() - start}
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main() -> None:
    print(f"PDF of {N} confirmation sheets (A4, one page each); best of {RUNS} runs, each in its own process")
    rows = {name: _run(name) for name in ("ttf", "cid", "idle")}
    labels = {"ttf": "ours: embedded TrueType CJK subset", "cid": "baseline: built-in CID font (not embedded)",
              "idle": "baseline: imports + data only, no PDF"}
    for name, r in rows.items():
        print(f"  {labels[name]:<44} render {r['seconds']:6.2f} s   process {r['process_s']:5.2f} s   "
              f"peak RSS {r['peak_mb']:6.1f} MB   PDF {r['pdf_kb']:7.0f} KB")
    ours, cid, idle = rows["ttf"], rows["cid"], rows["idle"]
    print(f"  ours vs CID: {ours['seconds'] / cid['seconds']:.2f}× the time, "
          f"+{ours['peak_mb'] - cid['peak_mb']:.1f} MB peak; rendering adds {ours['peak_mb'] - idle['peak_mb']:.1f} MB "
          f"over the idle process; {ours['seconds'] / N * 1000:.0f} ms per sheet")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(sys.argv[2])
    else:
        main()
