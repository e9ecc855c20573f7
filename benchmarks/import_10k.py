"""Benchmark: validate and import a 10,000-student national template.

Targets (issue 3): check + import <= 5 s wall and <= 300 MB peak RSS; printed as a ratio against a bare
openpyxl read-only iteration over the same file, measured in the same run. Then the same file is
imported again: it must report 10,000 unchanged and write no student, member or class rows.

Each phase runs in its own process so its peak RSS is its own.  Usage: python benchmarks/import_10k.py [N]
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


def phase_baseline(path: str) -> dict:
    from openpyxl import load_workbook

    start = time.perf_counter()
    workbook = load_workbook(path, read_only=True, data_only=False)
    cells = 0
    for row in workbook.worksheets[0].iter_rows(values_only=True):
        cells += len(row)
    return {"seconds": time.perf_counter() - start, "peak_mb": vm_mb(), "cells": cells}


def phase_import(path: str, db_url: str) -> dict:
    from sqlalchemy import event, select
    from sqlalchemy.orm import Session

    from confirm.importing.service import import_file
    from confirm.models import School
    from confirm.services.common import SYSTEM
    from webapp.adapters.db import make_engine

    engine = make_engine(db_url)
    writes: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, params, context, executemany):
        verb = statement.lstrip().split(" ", 1)[0].upper()
        if verb in ("INSERT", "UPDATE", "DELETE") and any(
            f" {t}" in statement for t in ("students", "family_members", "classes")
        ):
            writes.append(statement[:40])

    data = Path(path).read_bytes()
    start = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        school = session.scalar(select(School).where(School.code == "5200000001"))
        if school is None:
            school = School(code="5200000001", name="基准测试学校")
            session.add(school)
            session.flush()
        outcome = import_file(session, school, data, Path(path).name, actor=SYSTEM, commit=True)
        session.commit()
        run = outcome.run
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": vm_mb(), "errors": len(outcome.result.errors),
            "created": run.created_count, "updated": run.updated_count, "unchanged": run.unchanged_count,
            "student_writes": len(writes)}


def _run_phase(name: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", name, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.exit(f"phase {name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--phase":
        name, *args = sys.argv[2:]
        result = phase_baseline(*args) if name == "baseline" else phase_import(*args)
        print(json.dumps(result))
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    from alembic import command

    from benchmarks._template import write_template
    from webapp.cli.database import alembic_config

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "students.xlsx")
        start = time.perf_counter()
        write_template(path, n)  # in this (parent) process: it does not count towards the phases' peaks
        size_mb = Path(path).stat().st_size / 1e6
        print(f"generated {n} students in {time.perf_counter() - start:.1f} s ({size_mb:.1f} MB)")
        db_url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        command.upgrade(alembic_config(db_url), "head")
        base = _run_phase("baseline", path)
        first = _run_phase("import", path, db_url)
        second = _run_phase("import", path, db_url)
    print(f"baseline  bare openpyxl read-only iteration: {base['seconds']:.2f} s, peak {base['peak_mb']:.0f} MB "
          f"({base['cells']} cells)")
    print(f"import #1 check + import (SQLite):           {first['seconds']:.2f} s, peak {first['peak_mb']:.0f} MB, "
          f"created {first['created']}, errors {first['errors']}")
    print(f"import #2 same file again:                   {second['seconds']:.2f} s, peak {second['peak_mb']:.0f} MB, "
          f"unchanged {second['unchanged']}, student/member/class writes {second['student_writes']}")
    print(f"ratio import/baseline: {first['seconds'] / base['seconds']:.2f}x")
    ok = (first["seconds"] <= 5 and first["peak_mb"] <= 300 and second["unchanged"] == n
          and second["student_writes"] == 0 and first["errors"] == 0)
    print("targets (<= 5 s, <= 300 MB, second run all unchanged with no writes):", "MET" if ok else "NOT MET")


if __name__ == "__main__":
    main()
