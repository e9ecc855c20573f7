"""SQL statements per statistics page: the class page at 30 and 300 students, the school page at 10 and 100 classes.

Builds both sizes in temporary SQLite databases through the app factory (bulk inserts, every stage represented),
logs in through the test client and counts the statements each page request issues with a
``before_cursor_execute`` listener. Prints both counts per page; exits 1 when a count grows with the data.

    .venv/bin/python benchmarks/stats_queries.py
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confirm.clock import local_today
from confirm.models import (  # noqa: E402
    Campaign,
    Confirmation,
    Guardianship,
    ParentAccount,
    School,
    SchoolClass,
    StaffUser,
    StoredFile,
    Student,
)
from confirm.security import hash_password, new_nonce  # noqa: E402
from confirm.states import State  # noqa: E402

PASSWORD = "bench-password-1"
STAGE_CYCLE = ("unregistered", "registered", State.SUBMITTED, State.RETURNED, State.APPROVED)


def populate(session: Session, *, classes: int, per_class: int, deadline_days: int = 2,
             school_code: str = "5100000777") -> dict:
    """A school with an admin, a head teacher per class, ``per_class`` students per class cycling through every
    stage, and an active campaign; bulk-inserted. Returns {"school_id", "class_ids", "admin", "teacher"}."""
    school = School(code=school_code, name="统计测试小学")
    session.add(school)
    session.flush()
    cheap = hash_password(PASSWORD)
    staff = [{"school_id": school.id, "username": f"s{school.id}_t{i}", "display_name": f"老师{i:03d}",
              "role": "head_teacher", "password_hash": cheap, "session_nonce": new_nonce(), "is_active": True}
             for i in range(classes)]
    staff.append({"school_id": school.id, "username": f"s{school.id}_admin", "display_name": "管理员",
                  "role": "school_admin", "password_hash": cheap, "session_nonce": new_nonce(), "is_active": True})
    session.execute(insert(StaffUser), staff)
    teacher_ids = list(session.scalars(select(StaffUser.id).where(
        StaffUser.school_id == school.id, StaffUser.role == "head_teacher").order_by(StaffUser.id)))
    session.execute(insert(SchoolClass), [
        {"school_id": school.id, "grade": f"{i % 6 + 1}年级", "name": f"{i // 6 + 1}班", "head_teacher_id": t}
        for i, t in enumerate(teacher_ids)])
    class_ids = list(session.scalars(select(SchoolClass.id).where(SchoolClass.school_id == school.id)
                                     .order_by(SchoolClass.id)))
    campaign = Campaign(school_id=school.id, name="统计核查", deadline=local_today() + timedelta(days=deadline_days))
    session.add(campaign)
    session.flush()
    session.execute(insert(Student), [
        {"school_id": school.id, "class_id": cid, "name": f"学生{cid}-{j:04d}", "upload_no": f"U{cid:05d}{j:05d}",
         "record": {}} for cid in class_ids for j in range(per_class)])
    students = list(session.execute(select(Student.id, Student.class_id).where(Student.school_id == school.id)
                                    .order_by(Student.id)))
    parents, files = [], []
    for n, (sid, _cid) in enumerate(students):
        stage = STAGE_CYCLE[n % len(STAGE_CYCLE)]
        if stage != "unregistered":
            parents.append({"phone": f"1{school.id % 90 + 10:02d}{sid:08d}", "platform_no": f"P{school.id}x{sid}",
                            "password_hash": cheap, "session_nonce": new_nonce()})
        if isinstance(stage, State):
            files.append({"school_id": school.id, "student_id": sid, "kind": "sheet", "storage_key": f"b/{sid}",
                          "sha256": "0" * 64, "content_type": "image/jpeg", "size_bytes": 1,
                          "uploaded_by_kind": "parent", "uploaded_by_id": 0})
    if parents:
        session.execute(insert(ParentAccount), parents)
        session.execute(insert(Guardianship), [
            {"parent_id": pid, "student_id": int(no.split("x")[1])}
            for pid, no in session.execute(select(ParentAccount.id, ParentAccount.platform_no).where(
                ParentAccount.platform_no.like(f"P{school.id}x%")))])
    if files:
        session.execute(insert(StoredFile), files)
        sheet_of = dict(session.execute(select(StoredFile.student_id, StoredFile.id).where(
            StoredFile.school_id == school.id)).all())
        state_of = {sid: STAGE_CYCLE[n % len(STAGE_CYCLE)] for n, (sid, _c) in enumerate(students)}
        session.execute(insert(Confirmation), [
            {"campaign_id": campaign.id, "student_id": sid, "state": state_of[sid].value, "sheet_file_id": fid}
            for sid, fid in sheet_of.items()])
    session.flush()
    return {"school_id": school.id, "class_ids": class_ids, "admin": f"s{school.id}_admin",
            "teacher": f"s{school.id}_t0"}


class StatementCounter:
    """Counts the statements an engine executes while active."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _on_execute(self, *_args):
        self.count += 1

    def __enter__(self):
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._on_execute)


def count_page(app, login: str, path: str) -> int:
    """Statements issued by one GET of ``path`` after logging in as ``login`` (status must be 200)."""
    client = app.test_client()
    assert client.post("/login", data={"login": login, "password": PASSWORD}).status_code == 302
    with StatementCounter(app.extensions["db_engine"]) as counter:
        response = client.get(path)
    assert response.status_code == 200, response.status_code
    return counter.count


def _app_with(tmp: Path, name: str, *, classes: int, per_class: int):
    from webapp import create_app
    from webapp.cli.database import alembic_config

    url = f"sqlite:///{tmp / name}.sqlite3"
    command.upgrade(alembic_config(url), "head")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench-" + "x" * 40, "DATABASE_URL": url,
                      "STORAGE_URL": f"file://{tmp / 'storage'}", "SMS_BACKEND": "memory",
                      "WTF_CSRF_ENABLED": False})
    with Session(app.extensions["db_engine"]) as s:
        built = populate(s, classes=classes, per_class=per_class)
        s.commit()
    return app, built


def main() -> int:
    import logging

    logging.disable(logging.WARNING)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        counts = []
        for n in (30, 300):
            app, built = _app_with(tmp, f"class{n}", classes=1, per_class=n)
            counts.append(count_page(app, built["teacher"], f"/teacher/classes/{built['class_ids'][0]}"))
            app.extensions["db_engine"].dispose()
        print(f"class page   30 students: {counts[0]} statements, 300 students: {counts[1]} statements"
              f" -> {'equal' if counts[0] == counts[1] else 'NOT EQUAL'}")
        ok &= counts[0] == counts[1]
        counts = []
        for n in (10, 100):
            app, built = _app_with(tmp, f"school{n}", classes=n, per_class=5)
            counts.append(count_page(app, built["admin"], "/admin/"))
            app.extensions["db_engine"].dispose()
        print(f"school page  10 classes: {counts[0]} statements, 100 classes: {counts[1]} statements"
              f" -> {'equal' if counts[0] == counts[1] else 'NOT EQUAL'}")
        ok &= counts[0] == counts[1]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
