"""Benchmark: the memory and time of the worker building a whole school's electronic archive (issue 16 item 3).

    .venv/bin/python benchmarks/archive_memory.py [--students 2000] [--database-url postgresql+psycopg://…]

A synthetic school of ``--students`` students (40 classes; fake names, valid-checksum fake IDs) is written in bulk
(multi-row inserts, not the ORM one by one) into a fresh database (a SQLite file by default, or a schema of its own
in the PostgreSQL database given) with local object storage: every student approved, with a signed-sheet photo
(a small JPEG, ~15 KB), an applied correction, the confirmation's transitions and audit events; every fourth with a
proof photo too. Then, each in a process of its own:

* baseline — the worker process with the app imported and created and the database touched, nothing built;
* archive  — the same process running ``webapp.jobs.archives.build_archive`` for the whole school: one PDF per student,
  the index workbook and the manifest, into a temporary file, then into storage.

Peak RSS is the process's VmHWM (Linux; ``resource.getrusage().ru_maxrss`` is printed beside it — it can carry the
parent's figure over exec, which is why VmHWM is the one compared). The archive's peak is printed against the
baseline's, as a ratio and as the difference. Target (issue 16): the worker ≤ 300 MB for 2,000 students. Time is
CPU time (the machine is shared) and wall time, per student too.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._measure import vm_mb  # noqa: E402

TARGET_MB = 300
CLASSES = 40
PHOTOS = 24  # distinct small photos, reused across students under their own keys


def _config(database_url: str, storage: str) -> dict:
    return {"SECRET_KEY": "b" * 40, "DATABASE_URL": database_url, "STORAGE_URL": f"file://{storage}",
            "SMS_BACKEND": "memory"}


def _photo(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 360), (240, 240, 232))
    draw = ImageDraw.Draw(image)
    for y in range(20, 340, 12):
        draw.rectangle([20, y, 40 + (seed * 37 + y * 13) % 420, y + 5], fill=(30 + seed, 30, 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=75)
    return out.getvalue()


def _setup(database_url: str, storage: str, n: int) -> None:
    """The synthetic school, written in bulk."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    from alembic import command
    from sqlalchemy import create_engine, insert, update
    from sqlalchemy.orm import Session

    from confirm.models import (
        AuditEvent,
        Campaign,
        Confirmation,
        ConfirmationEvent,
        FamilyMember,
        FieldCorrection,
        School,
        SchoolClass,
        StaffUser,
        StoredFile,
        Student,
    )
    from confirm.storage_keys import new_object_key
    from tests.factories import student_values
    from webapp.cli.database import alembic_config

    command.upgrade(alembic_config(database_url), "head")
    engine = create_engine(database_url)
    photos = [_photo(i) for i in range(PHOTOS)]
    root = Path(storage)
    now = datetime.now(UTC) - timedelta(days=1)
    with Session(engine) as s:
        school = School(code="5200000077", name="档案测试小学")
        s.add(school)
        s.flush()
        admin = StaffUser(school_id=school.id, username="archive_admin", display_name="学籍管理员", role="school_admin",
                          password_hash="-", session_nonce="n" * 32)
        teacher = StaffUser(school_id=school.id, username="archive_teacher", display_name="班主任", role="head_teacher",
                            password_hash="-", session_nonce="m" * 32)
        campaign = Campaign(school_id=school.id, name="2026年秋季核查", deadline=now.date() + timedelta(days=30))
        s.add_all([admin, teacher, campaign])
        s.flush()
        classes = [SchoolClass(school_id=school.id, grade=f"{c % 6 + 1}年级", name=f"{c // 6 + 1}班",
                               head_teacher_id=teacher.id) for c in range(CLASSES)]
        s.add_all(classes)
        s.flush()
        students, members, files, confirmations, corrections, events, audits = [], [], [], [], [], [], []
        file_id = 0
        for i in range(n):
            sid = i + 1
            values, family = student_values(i + 1)
            students.append({"id": sid, "school_id": school.id, "class_id": classes[i % CLASSES].id,
                             "name": values["name"], "id_number": values["id_number"], "upload_no": f"{sid:012d}",
                             "record": values, "record_version": 2})
            members.append({"student_id": sid, "slot": 1, "record": family[1]})
            sheet_id = None
            for kind in ("sheet", "proof") if i % 4 == 0 else ("sheet",):
                file_id += 1
                data = photos[(i + len(kind)) % PHOTOS]
                key = new_object_key(kind, school.id)
                path = root / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                files.append({"id": file_id, "school_id": school.id, "student_id": sid, "kind": kind,
                              "storage_key": key, "sha256": hashlib.sha256(data + key.encode()).hexdigest(),
                              "quality": {}, "content_type": "image/jpeg", "size_bytes": len(data),
                              "confirmation_id": None, "uploaded_by_kind": "parent",  # set below (a cycle of keys)
                              "uploaded_by_id": 1, "created_at": now})
                sheet_id = sheet_id or file_id
            confirmations.append({"id": sid, "campaign_id": campaign.id, "student_id": sid, "state": "approved",
                                  "sheet_file_id": sheet_id, "submitted_at": now, "submitted_by_kind": "parent",
                                  "submitted_by_id": 1, "decided_at": now, "decided_by_id": teacher.id,
                                  "updated_at": now})
            corrections.append({"confirmation_id": sid, "slot": 0, "field_key": "current_address",
                                "old_value": "贵阳市测试路1号", "new_value": f"贵阳市档案路{i}号", "is_key_data": False,
                                "status": "applied", "requested_by_kind": "parent", "requested_by_id": 1,
                                "decided_by_id": teacher.id, "decided_at": now, "created_at": now})
            for before, after, who in (("open", "submitted", ("parent", 1)), ("submitted", "approved",
                                                                              ("staff", teacher.id))):
                events.append({"confirmation_id": sid, "from_state": before, "to_state": after, "actor_kind": who[0],
                               "actor_id": who[1], "at": now})
            for action, who in (("confirmation.submitted", ("parent", 1)),
                                ("confirmation.approved", ("staff", teacher.id))):
                audits.append({"at": now, "actor_kind": who[0], "actor_id": who[1], "action": action,
                               "school_id": school.id, "target_type": "confirmations", "target_id": sid,
                               "detail": {}})
        for model, rows in ((Student, students), (FamilyMember, members), (StoredFile, files),
                            (Confirmation, confirmations), (FieldCorrection, corrections),
                            (ConfirmationEvent, events), (AuditEvent, audits)):
            for start in range(0, len(rows), 1000):
                s.execute(insert(model), rows[start:start + 1000])
        # a proof belongs to its confirmation (whose id is the student's here), written once both rows exist
        s.execute(update(StoredFile).where(StoredFile.kind == "proof").values(confirmation_id=StoredFile.student_id))
        s.commit()
    engine.dispose()


def _child(variant: str, database_url: str, storage: str) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    from sqlalchemy import select, text

    from confirm.models import ArchiveJob, School, StaffUser
    from confirm.services import archives
    from confirm.services.common import Actor
    from webapp import create_app
    from webapp.jobs.archives import build_archive

    app = create_app(_config(database_url, storage))
    result: dict = {}
    with app.app_context():
        with app.extensions["db_sessionmaker"]() as s:
            s.execute(text("select 1"))
            if variant == "archive":
                admin = s.scalar(select(StaffUser).where(StaffUser.username == "archive_admin"))
                school = s.get_one(School, admin.school_id)
                job, _created = archives.request_archive(s, admin, school, actor=Actor("staff", admin.id))
                s.commit()
                job_id = job.id
        if variant == "archive":
            cpu, wall = time.process_time(), time.perf_counter()  # the build only
            status = build_archive(job_id)
            with app.extensions["db_sessionmaker"]() as s:
                job = s.get_one(ArchiveJob, job_id)
                result = {"status": status, "students": job.total, "zip_mb": (job.size_bytes or 0) / 2**20,
                          "missing": job.missing_count}
    print(json.dumps({"variant": variant, "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                      "vmhwm_mb": vm_mb(), "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      **result}))


def _run(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--database-url", default="", help="PostgreSQL to use (a fresh schema is made and dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        storage = str(Path(tmp) / "storage")
        schema = None
        if args.database_url:
            from sqlalchemy import create_engine, text

            schema = f"bench_{uuid.uuid4().hex[:10]}"
            admin = create_engine(args.database_url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.database_url else "?"
            url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        try:
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--setup", url, storage, str(args.students)], check=True,
                           cwd=ROOT)
            print(f"data: {args.students} students in {CLASSES} classes, "
                  f"{'PostgreSQL' if schema else 'SQLite'}, made in {time.perf_counter() - started:.1f} s")
            base = _run("--child", "baseline", url, storage)
            built = _run("--child", "archive", url, storage)
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
    n = built["students"]
    print(f"{'':10} {'peak RSS (VmHWM)':>17} {'ru_maxrss':>10} {'CPU':>9} {'wall':>9}")
    for row in (base, built):
        print(f"{row['variant']:10} {row['vmhwm_mb']:14.1f} MB {row['ru_maxrss_mb']:7.1f} MB "
              f"{row['cpu_s']:8.1f}s {row['wall_s']:8.1f}s")
    print(f"archive: {built['status']}, {n} PDFs, ZIP {built['zip_mb']:.1f} MB, {built['missing']} missing")
    print(f"peak RSS: {built['vmhwm_mb'] / base['vmhwm_mb']:.2f}× the baseline "
          f"(+{built['vmhwm_mb'] - base['vmhwm_mb']:.1f} MB); target ≤ {TARGET_MB} MB: "
          f"{'met' if built['vmhwm_mb'] <= TARGET_MB else 'NOT met'}")
    print(f"time: {built['cpu_s'] * 1000 / n:.1f} ms CPU and {built['wall_s'] * 1000 / n:.1f} ms wall per student")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--setup":
        _setup(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        main()
