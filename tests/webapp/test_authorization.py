"""The authorization matrix: every route of the URL map × every role × own and other people's objects.

Product rule: parents see only their own children; head teachers only their classes; admins only their school;
supervisors only the schools of their district, as counts — a student's data only in a key-data case open before
their district.

ROUTES has one entry per endpoint of ``app.url_map``: who may use it, the HTTP methods it takes, and for POSTs the
form data of a request that succeeds for the owner plus the change it makes. The object in the URL comes from the
rule's argument (``student_id``, ``class_id``, ``file_id``, ``run_id``); routes that name another school's object in
a form or query (a head teacher id, a class id) say so in ``foreign_request``. The cases are generated from the table:

* anonymous → every non-public route sends to the login page, never 200, and changes nothing;
* a role on a route it may not use → 403, and nothing changes;
* a role on a route it may use, with another family's / class's / school's object → 404 (or 403), nothing of
  that object in the answer, and nothing changes in the database or the object store;
* the same role with its own objects → success (and the POST's effect), showing its own data and nothing of
  others (pages and .xlsx downloads alike), so the URLs above are known to be right.

A new route, a new method on a route, or a new kind of URL argument fails ``test_every_route_has_a_matrix_entry``
until it gets an entry here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import url_for
from openpyxl import load_workbook
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from confirm.clock import local_today
from confirm.exporting import export_students
from confirm.importing.service import import_file
from confirm.models import (
    Campaign,
    Confirmation,
    FieldCorrection,
    Guardianship,
    ImportRun,
    RegistrationCode,
    SchoolClass,
    StaffUser,
    StoredFile,
    Student,
)
from confirm.services.common import SYSTEM
from confirm.services.files import record_file
from confirm.services.records import ensure_confirmation
from confirm.services.review import submit_confirmation
from tests.conftest import DataSnapshot
from tests.factories import PASSWORD, make_campaign, make_class, make_staff, make_student
from tests.webapp.conftest import World, build_world, jpeg_bytes

PARENT, TEACHER, ADMIN, SUPERVISOR = "parent", "head_teacher", "school_admin", "supervisor"
ROLES = (PARENT, TEACHER, ADMIN, SUPERVISOR)
SUP = frozenset({SUPERVISOR})
PUBLIC: frozenset[str] = frozenset()  # anyone, logged in or not
STAFF = frozenset({TEACHER, ADMIN})
IGNORED_METHODS = {"HEAD", "OPTIONS"}

# The kind of object each URL argument names; a route with an argument not listed here needs a new kind.
KIND_OF_ARG = {"student_id": "student", "class_id": "class", "file_id": "file", "run_id": "import_run"}
KIND_OF_ARG["batch_id"] = "batch"  # batch upload of sheet photos (issue 6)
KIND_OF_ARG.update({"school_id": "school", "correction_id": "correction"})  # districts (issue 16)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

NEW_ADDRESS = "贵阳市授权测试路9号"
NEW_CLASS = "授权9班"
NEW_STAFF = "authz_new_teacher"
NEW_CAMPAIGN = "授权测试核查"
NEW_IMPORT = "授权测试上传.xlsx"


# --- the people and objects of one test ------------------------------------------------------------------------


@dataclass
class Extra:
    """What the matrix needs beyond `world`: the other school's class, teacher and student; sheet photos; a pending
    correction per school (for the change export); a checked student import per school."""

    other_teacher: StaffUser  # head teacher in the other school
    other_class: SchoolClass
    other_student: Student
    other_campaign: Campaign
    files: dict[int, StoredFile]  # student id → a stored sheet photo
    photos: dict[int, bytes]  # file id → the stored bytes
    # only for the import routes (kept out of the other cases for speed):
    own_run: ImportRun | None = None  # the own school's export, uploaded again and checked clean
    other_run: ImportRun | None = None  # the same in the other school
    own_upload: bytes = b""  # the own school's student export
    # batch upload (issue 6): class id → a batch with one photo waiting to be filed by hand; batch id → that photo
    batches: dict[int, Any] = field(default_factory=dict)
    batch_items: dict[int, Any] = field(default_factory=dict)
    # districts (issue 16): the own school's county and its supervisor; the other school's district and supervisor;
    # a supervisor's message to each school; the key-data cases waiting for each district (made for those routes)
    county: Any = None
    supervisor: StaffUser | None = None
    other_district: Any = None
    other_supervisor: StaffUser | None = None
    cases: dict[str, FieldCorrection] = field(default_factory=dict)  # "own" / "other"
    proofs: dict[str, StoredFile] = field(default_factory=dict)  # a proof document of each case

    @property
    def runs(self) -> tuple[list[ImportRun], list[ImportRun]]:
        """([own school's run], [other school's run]), or empty lists when this case made none."""
        return ([self.own_run], [self.other_run]) if self.own_run else ([], [])


@dataclass
class Scene:
    """One role's view of the world: the objects it owns and the objects of others, by kind."""

    role: str
    world: World
    extra: Extra
    own: dict[str, list[Any]]
    foreign: dict[str, list[Any]]
    home: list[str] = field(default_factory=list)  # what the role's landing pages must show
    hidden: list[str] = field(default_factory=list)  # what no answer to this role may contain

    def target(self, kind: str):
        """The owned object used for URLs and POSTs."""
        return self.own[kind][0]


def _markers(*students: Student) -> list[str]:
    return [m for s in students for m in (s.name, s.id_number)]


# the routes where a supervisor meets a student's data: the key-data case waiting for their district
CASE_ROUTES = ("district.key_data_case", "district.key_data_approve", "district.key_data_reject",
               "district.key_data_export", "files.show")


def _scene(role: str, world: World, extra: Extra, endpoint: str = "") -> Scene:
    w, x = world, extra
    file = x.files
    own_runs, other_runs = x.runs
    own_cases = [x.cases["own"]] if "own" in x.cases else []
    other_cases = [x.cases["other"]] if "other" in x.cases else []
    if role == SUPERVISOR:
        case_student = w.students_b[0]
        in_case = endpoint in CASE_ROUTES and own_cases
        return Scene(
            role, w, x,
            own={"student": [case_student], "class": [w.class_a], "file": [x.proofs["own"]] if x.proofs else [],
                 "import_run": own_runs, "batch": [x.batches[w.class_a.id]], "school": [w.school],
                 "correction": own_cases},
            foreign={"student": [x.other_student], "class": [x.other_class],
                     "file": [file[w.students_a[0].id], file[w.students_b[0].id], file[x.other_student.id],
                              *([x.proofs["other"]] if x.proofs else [])],
                     "import_run": other_runs, "batch": [], "school": [w.other_school], "correction": other_cases},
            home=[w.school.name],
            hidden=[*_markers(*w.students_a, w.students_b[1], x.other_student),
                    *([] if in_case else _markers(case_student)), w.other_school.name, w.other_school.code,
                    x.other_class.title, x.other_district.name],
        )
    common_own = {"school": [w.school], "correction": own_cases}
    if role == PARENT:
        return Scene(
            role, w, x,
            own={"student": [w.students_a[0]], "class": [w.class_a], "file": [file[w.students_a[0].id]],
                 "import_run": own_runs,  # the school's run: only for URLs of routes parents may not use
                 "batch": [x.batches[w.class_a.id]], **common_own},
            foreign={
                # another family (another class), a classmate with no account yet, a child of another school
                "student": [w.students_b[0], w.students_a[1], x.other_student],
                "class": [],
                "file": [file[w.students_b[0].id], file[x.other_student.id]],
                "import_run": [],
                "batch": [],
            },
            home=[w.students_a[0].name],
            hidden=_markers(*w.students_a[1:], *w.students_b, x.other_student),
        )
    if role == TEACHER:
        return Scene(
            role, w, x,
            own={"student": list(w.students_a), "class": [w.class_a], "file": [file[w.students_a[0].id]],
                 "import_run": own_runs, "batch": [x.batches[w.class_a.id]], **common_own},
            foreign={
                # another class of the same school, and the other school
                "student": [w.students_b[0], x.other_student],
                "class": [w.class_b, x.other_class],
                "file": [file[w.students_b[0].id], file[x.other_student.id]],
                "import_run": [],
                "batch": [x.batches[w.class_b.id], x.batches[x.other_class.id]],
            },
            home=[w.class_a.title],
            hidden=[*_markers(*w.students_b, x.other_student), w.class_b.title, x.other_class.title,
                    w.other_school.name],
        )
    if role == ADMIN:
        return Scene(
            role, w, x,
            # every class of the own school, also those the admin does not teach
            own={"student": [w.students_b[0], w.students_a[0]], "class": [w.class_b, w.class_a],
                 "file": [file[w.students_b[0].id], file[w.students_a[0].id]], "import_run": own_runs,
                 "batch": [x.batches[w.class_b.id], x.batches[w.class_a.id]], **common_own},
            foreign={"student": [x.other_student], "class": [x.other_class], "file": [file[x.other_student.id]],
                     "import_run": other_runs, "batch": [x.batches[x.other_class.id]]},
            home=[w.school.name, w.class_a.title, w.class_b.title],
            hidden=[*_markers(x.other_student), x.other_class.title, w.other_school.name, w.other_school.code,
                    x.other_teacher.display_name, w.other_admin.display_name, *(r.filename for r in other_runs)],
        )
    # anonymous: nobody's data may show, the head teacher's objects make real URLs
    teacher = _scene(TEACHER, world, extra)
    return Scene(role, w, x, own=teacher.own, foreign={}, hidden=_markers(*w.students_a, *w.students_b))


LOGINS: dict[str, Callable[[World], str]] = {
    PARENT: lambda w: w.parent.phone,
    TEACHER: lambda w: w.teacher.username,
    ADMIN: lambda w: w.admin.username,
    SUPERVISOR: lambda w: SUPERVISOR_LOGIN,
}
HOMES = {PARENT: "/parent/", TEACHER: "/teacher/", ADMIN: "/admin/", SUPERVISOR: "/district/"}
SUPERVISOR_LOGIN = "authz_supervisor"


# --- the matrix ------------------------------------------------------------------------------------------------


def _state_of(db, student: Student) -> str | None:
    db.commit()
    return db.scalar(select(Confirmation.state).where(Confirmation.student_id == student.id))


def _correction_saved(db, scene: Scene) -> None:
    student = scene.target("student")
    db.commit()
    saved = db.scalars(
        select(FieldCorrection.new_value)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .where(Confirmation.student_id == student.id)
    ).all()
    assert saved == [NEW_ADDRESS]


def _sheet_submitted(db, scene: Scene) -> None:
    assert _state_of(db, scene.target("student")) == "submitted"


def _codes_issued(db, scene: Scene) -> None:
    school_class = scene.target("class")
    db.commit()
    unlinked = set(db.scalars(
        select(Student.id).where(Student.class_id == school_class.id,
                                 Student.id.not_in(select(Guardianship.student_id)))
    ))
    assert unlinked
    assert set(db.scalars(select(RegistrationCode.student_id))) == unlinked


def _approved(db, scene: Scene) -> None:
    assert _state_of(db, scene.target("student")) == "approved"


def _returned(db, scene: Scene) -> None:
    assert _state_of(db, scene.target("student")) == "returned"


def _class_created(db, scene: Scene) -> None:
    db.commit()
    assert db.scalar(select(SchoolClass.school_id).where(SchoolClass.name == NEW_CLASS)) == scene.world.school.id


def _staff_created(db, scene: Scene) -> None:
    db.commit()
    created = db.scalar(select(StaffUser).where(StaffUser.username == NEW_STAFF))
    assert (created.school_id, created.role) == (scene.world.school.id, "head_teacher")


def _campaign_started(db, scene: Scene) -> None:
    db.commit()
    rows = db.execute(select(Campaign.id, Campaign.school_id, Campaign.name, Campaign.is_active)).all()
    assert (scene.world.school.id, NEW_CAMPAIGN, True) in [tuple(r)[1:] for r in rows]
    other = scene.extra.other_campaign  # the other school's campaign is still its only one, and still running
    assert [tuple(r) for r in rows if r.school_id == other.school_id] == [(other.id, other.school_id, other.name, True)]


def _import_checked(db, scene: Scene) -> None:
    db.commit()
    run = db.execute(select(ImportRun.school_id, ImportRun.status).where(ImportRun.filename == NEW_IMPORT)).one()
    assert tuple(run) == (scene.world.school.id, "checked")


def _import_committed(db, scene: Scene) -> None:
    db.commit()
    runs = db.execute(select(ImportRun.id, ImportRun.school_id, ImportRun.status)).all()
    own, other = scene.target("import_run"), scene.extra.other_run
    assert (own.id, own.school_id, "rejected") in runs  # superseded by the committed run
    assert any(r.school_id == own.school_id and r.status == "committed" for r in runs)
    assert (other.id, other.school_id, "checked") in runs


def _import_choice_made(db, scene: Scene) -> None:
    db.commit()
    choices = dict(db.execute(select(ImportRun.id, ImportRun.conflict_choice)).all())
    assert choices == {scene.target("import_run").id: "file", scene.extra.other_run.id: "platform"}


def _import_rechecked(db, scene: Scene) -> None:
    db.commit()
    runs = db.execute(select(ImportRun.id, ImportRun.school_id, ImportRun.status, ImportRun.problems)).all()
    own, other = scene.target("import_run"), scene.extra.other_run
    assert (own.id, own.school_id, "rejected") in [(r.id, r.school_id, r.status) for r in runs]  # superseded
    assert any(r.school_id == own.school_id and r.id != own.id and r.problems["kept_rows"] == [3] for r in runs)
    assert (other.id, other.school_id, "checked") in [(r.id, r.school_id, r.status) for r in runs]


def _teacher_assigned(db, scene: Scene) -> None:
    db.commit()
    teachers = dict(db.execute(select(SchoolClass.id, SchoolClass.head_teacher_id)).all())
    assert teachers[scene.target("class").id] == scene.world.teacher.id
    assert teachers[scene.extra.other_class.id] == scene.extra.other_teacher.id


def _staff_phone_set(db, scene: Scene) -> None:
    db.commit()
    phones = dict(db.execute(select(StaffUser.id, StaffUser.phone)).all())
    assert phones[scene.world.teacher.id] == "13712345678"
    assert phones[scene.extra.other_teacher.id] != "13712345678"


def _own_students(scene: Scene, _obj=None) -> list[str]:
    return [s.name for s in (*scene.world.students_a, *scene.world.students_b)]


def _sheet_upload(_scene: Scene) -> dict:
    return {"sheet": (io.BytesIO(jpeg_bytes()), "IMG_0002.jpg"), "confirmed": "y"}


def _new_class(teacher_of: Callable[[Scene], StaffUser]) -> Callable[[Scene], dict]:
    return lambda s: {"grade": "四年级", "name": NEW_CLASS, "head_teacher_id": str(teacher_of(s).id)}


def _sheet_qr_required(db, scene: Scene) -> None:
    db.commit()
    rules = dict(db.execute(select(Campaign.school_id, Campaign.require_sheet_qr)).all())
    assert rules == {scene.world.school.id: True, scene.extra.other_campaign.school_id: False}


# account help (issue 5): without a step-up the sensitive POSTs only send to the SMS verification page
def _no_stepup_without_a_phone(db, scene: Scene) -> None:
    from confirm.models import AuditEvent, SmsChallenge

    db.commit()
    assert db.scalar(select(SmsChallenge.id)) is None  # the fixture's staff have no phone on record
    assert "stepup.verified" not in set(db.scalars(select(AuditEvent.action)))


def _no_temporary_password_without_a_phone(db, scene: Scene) -> None:
    from confirm.models import Notification

    db.commit()
    teacher = db.get(StaffUser, scene.world.teacher.id)
    db.refresh(teacher)
    assert not teacher.must_change_password and db.scalar(select(Notification.id)) is None  # no phone on record


def _teacher_active(active: bool):
    def effect(db, scene: Scene) -> None:
        db.commit()
        states = dict(db.execute(select(StaffUser.id, StaffUser.is_active)).all())
        assert states[scene.world.teacher.id] is active and states[scene.extra.other_teacher.id] is True

    return effect


def _refused_until_stepup(db, scene: Scene) -> None:
    from confirm.models import AuditEvent

    db.commit()
    actions = set(db.scalars(select(AuditEvent.action)))
    assert not actions & {"registration_code.reset", "parent_password.reset", "parent.phone_revealed"}
    assert db.scalar(select(RegistrationCode.id)) is None


def _flags_resolved(db, scene: Scene) -> None:
    from confirm.models import MisuseFlag

    db.commit()
    assert db.scalar(select(MisuseFlag.id).where(MisuseFlag.resolved_at.is_(None))) is None


def _own_account(db, scene: Scene):
    """The signed-in role's own account, as it is now in the database."""
    from confirm.models import ParentAccount

    db.commit()
    w = scene.world
    if scene.role == SUPERVISOR:
        account = db.get(StaffUser, scene.extra.supervisor.id)
    else:
        account = (db.get(ParentAccount, w.parent.id) if scene.role == PARENT
                   else db.get(StaffUser, (w.teacher if scene.role == TEACHER else w.admin).id))
    db.refresh(account)
    return account


def _password_changed(db, scene: Scene) -> None:
    from confirm.security import verify_password

    account = _own_account(db, scene)
    assert verify_password(account.password_hash, "brand-new-pass-7") and not account.must_change_password


def _audited(action: str):
    def effect(db, scene: Scene) -> None:
        from confirm.models import AuditEvent

        account = _own_account(db, scene)
        assert db.scalar(select(AuditEvent.id).where(AuditEvent.action == action,
                                                     AuditEvent.actor_id == account.id)) is not None

    return effect


def _still_signed_in(db, scene: Scene) -> None:
    from confirm.models import WebSession

    account = _own_account(db, scene)
    assert db.scalar(select(WebSession.id).where(WebSession.account_id == account.id,
                                                 WebSession.account_nonce == account.session_nonce)) is not None


def _signed_out_elsewhere(db, scene: Scene) -> None:
    account = _own_account(db, scene)
    before = {PARENT: scene.world.parent, TEACHER: scene.world.teacher, ADMIN: scene.world.admin,
              SUPERVISOR: scene.extra.supervisor}[scene.role]
    assert account.session_nonce != before.session_nonce


def _parent_of_target_class(scene: Scene) -> dict:
    w = scene.world
    return {"parent_id": str((w.parent if scene.target("class") is w.class_a else w.other_parent).id)}


# review queue, proof documents and key-data approval (issue 6, parts 4 and 5)
KEY_NAME = "授权改名"


def _bulk_approved(db, scene: Scene) -> None:
    """Submissions of the class without corrections are approved; those with corrections still wait."""
    db.commit()
    school_class = scene.target("class")
    rows = db.execute(
        select(Confirmation.state, Confirmation.corrections.any())
        .join(Student, Student.id == Confirmation.student_id).where(Student.class_id == school_class.id)
    ).all()
    assert rows
    assert all(state == ("submitted" if has_corrections else "approved") for state, has_corrections in rows)


def _proof_stored(db, scene: Scene) -> None:
    db.commit()
    rows = db.execute(select(StoredFile.student_id, StoredFile.confirmation_id).where(StoredFile.kind == "proof")).all()
    assert [r.student_id for r in rows] == [scene.target("student").id] and rows[0].confirmation_id


def _add_key_corrections(db, world: World, extra: Extra) -> None:
    """A name correction waiting for the school admin, in each school."""
    campaigns = {c.school_id: c for c in db.scalars(select(Campaign))}
    for student in (world.students_b[0], extra.other_student):
        confirmation = ensure_confirmation(db, campaigns[student.school_id], student)
        confirmation.corrections.append(FieldCorrection(
            slot=0, field_key="name", old_value=student.name, new_value=KEY_NAME, is_key_data=True,
            status="pending_admin", requested_by_kind="parent", requested_by_id=0))
    db.commit()


def _key_decisions(db) -> dict[int, tuple[str, str]]:
    db.commit()
    return {student_id: (status, name) for student_id, status, name in db.execute(
        select(Confirmation.student_id, FieldCorrection.status, Student.name)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id).where(FieldCorrection.field_key == "name"))}


def _key_correction_applied(db, scene: Scene) -> None:
    decisions = _key_decisions(db)
    assert decisions[scene.target("student").id] == ("applied", KEY_NAME)
    assert decisions[scene.extra.other_student.id] == ("pending_admin", scene.extra.other_student.name)


def _key_correction_rejected(db, scene: Scene) -> None:
    decisions = _key_decisions(db)
    assert decisions[scene.target("student").id] == ("rejected", scene.target("student").name)
    assert decisions[scene.extra.other_student.id][0] == "pending_admin"


@dataclass(frozen=True)
class Route:
    roles: frozenset[str]  # who may use it; PUBLIC = everyone, also anonymous
    methods: tuple[str, ...]  # every method of the rule except HEAD and OPTIONS
    obj: str | None = None  # the kind of object the URL names (must match the rule's argument)
    args: dict[str, str] = field(default_factory=dict)  # fixed URL arguments that are not objects
    data: Callable[[Scene], dict] | None = None  # form data of a POST that succeeds for the owner
    post_status: int = 302  # the owner's POST answers this …
    effect: Callable[[Any, Scene], None] | None = None  # … and changes this
    foreign_request: Callable[[Scene], dict] | None = None  # form (POST) or query (GET) naming another's object …
    refused: tuple[int, ...] = (400, 403, 404)  # … is answered with one of these and changes nothing
    shows: Callable[[Scene, Any], list[str]] | None = None  # what the owner's answer shows (default: by kind)


# SMS outreach (reminders and invitations): the messages queued name only the target's students
def _messages_queued(kind: str, *, whole_school: bool = False):
    def effect(db, scene: Scene) -> None:
        from confirm.models import Notification

        db.commit()
        rows = db.execute(select(Notification.student_id, Notification.school_id, Notification.kind)).all()
        assert rows and {r.kind for r in rows} == {kind}
        assert {r.school_id for r in rows} == {scene.world.school.id}
        if whole_school:
            allowed = {s.id for s in (*scene.world.students_a, *scene.world.students_b)}
        else:
            allowed = set(db.scalars(select(Student.id).where(Student.class_id == scene.target("class").id)))
        assert {r.student_id for r in rows} <= allowed

    return effect


ROUTES: dict[str, Route] = {
    # public
    "auth.index": Route(PUBLIC, ("GET",)),
    "auth.login": Route(PUBLIC, ("GET", "POST")),
    "auth.logout": Route(PUBLIC, ("POST",)),
    "auth.register": Route(PUBLIC, ("GET", "POST")),
    "auth.register_verify": Route(PUBLIC, ("GET", "POST")),
    "auth.register_resend": Route(PUBLIC, ("POST",)),
    "auth.privacy": Route(PUBLIC, ("GET",)),
    "auth.set_language": Route(PUBLIC, ("GET",), args={"locale": "en"}),
    "health.healthz": Route(PUBLIC, ("GET",)),
    "health.readyz": Route(PUBLIC, ("GET",)),
    # parents
    "parent.home": Route(frozenset({PARENT}), ("GET",)),
    "parent.record": Route(frozenset({PARENT}), ("GET", "POST"), obj="student",
                           data=lambda s: {"c0-current_address": NEW_ADDRESS}, effect=_correction_saved),
    "parent.correction_editor": Route(frozenset({PARENT}), ("GET",), obj="student",
                                      args={"name": "c0-current_address"}),
    "parent.submit": Route(frozenset({PARENT}), ("GET", "POST"), obj="student", data=_sheet_upload,
                           effect=_sheet_submitted),
    # head teachers (and school admins, for every class of their school)
    "teacher.home": Route(STAFF, ("GET",)),
    "teacher.class_page": Route(STAFF, ("GET",), obj="class"),
    "teacher.issue_codes": Route(STAFF, ("POST",), obj="class", data=lambda s: {}, post_status=200,
                                 effect=_codes_issued),
    "teacher.student_page": Route(STAFF, ("GET",), obj="student"),
    "teacher.approve": Route(STAFF, ("POST",), obj="student", data=lambda s: {}, effect=_approved),
    "teacher.return_": Route(STAFF, ("POST",), obj="student", data=lambda s: {"reason": "照片不清楚，请重拍"},
                             effect=_returned),
    # school admins
    "admin.home": Route(frozenset({ADMIN}), ("GET",)),
    "admin.add_class": Route(frozenset({ADMIN}), ("POST",), data=_new_class(lambda s: s.world.teacher),
                             effect=_class_created, foreign_request=_new_class(lambda s: s.extra.other_teacher)),
    "admin.add_staff": Route(frozenset({ADMIN}), ("POST",), effect=_staff_created,
                             data=lambda s: {"display_name": "新老师", "username": NEW_STAFF,
                                             "password": "new-password-42"}),
    "admin.start_campaign": Route(frozenset({ADMIN}), ("POST",), effect=_campaign_started,
                                  data=lambda s: {"name": NEW_CAMPAIGN,
                                                  "deadline": (local_today() + timedelta(days=20)).isoformat()}),
    # setting a head teacher's phone (step-up codes go to it)
    "admin.set_staff_phone": Route(frozenset({ADMIN}), ("POST",), effect=_staff_phone_set,
                                   data=lambda s: {"staff_id": str(s.world.teacher.id), "phone": "13712345678"},
                                   foreign_request=lambda s: {"staff_id": str(s.extra.other_teacher.id),
                                                              "phone": "13712345678"},
                                   refused=(302, 400)),
    # staff accounts (issue 12): the list with last sign-ins, a temporary password by SMS, deactivation
    "admin.staff_page": Route(frozenset({ADMIN}), ("GET",),
                              shows=lambda s, _o: ["教职工账号", s.world.teacher.username]),
    "admin.reset_staff_password": Route(frozenset({ADMIN}), ("POST",), effect=_no_temporary_password_without_a_phone,
                                        data=lambda s: {"staff_id": str(s.world.teacher.id)},
                                        foreign_request=lambda s: {"staff_id": str(s.extra.other_teacher.id)},
                                        refused=(302, 400)),
    "admin.deactivate_staff": Route(frozenset({ADMIN}), ("POST",), effect=_teacher_active(False),
                                    data=lambda s: {"staff_id": str(s.world.teacher.id)},
                                    foreign_request=lambda s: {"staff_id": str(s.extra.other_teacher.id)},
                                    refused=(302, 400)),
    "admin.reactivate_staff": Route(frozenset({ADMIN}), ("POST",), effect=_teacher_active(True),
                                    data=lambda s: {"staff_id": str(s.world.teacher.id)},
                                    foreign_request=lambda s: {"staff_id": str(s.extra.other_teacher.id)},
                                    refused=(302, 400)),
    "admin.change_teacher": Route(frozenset({ADMIN}), ("GET",), obj="class"),
    "admin.assign_teacher": Route(frozenset({ADMIN}), ("POST",), obj="class", effect=_teacher_assigned,
                                  data=lambda s: {"head_teacher_id": str(s.world.teacher.id)},
                                  # the own class given the other school's head teacher: error message, no change
                                  foreign_request=lambda s: {"head_teacher_id": str(s.extra.other_teacher.id)},
                                  refused=(302, 400)),
    "admin.import_page": Route(frozenset({ADMIN}), ("GET", "POST"), effect=_import_checked,
                               data=lambda s: {"file": (io.BytesIO(s.extra.own_upload), NEW_IMPORT)},
                               shows=lambda s, _o: [s.extra.own_run.filename]),
    "admin.import_report": Route(frozenset({ADMIN}), ("GET",), obj="import_run"),
    "admin.import_commit": Route(frozenset({ADMIN}), ("POST",), obj="import_run", data=lambda s: {},
                                 effect=_import_committed),
    "admin.import_annotated": Route(frozenset({ADMIN}), ("GET",), obj="import_run", shows=_own_students),
    "admin.import_keep": Route(frozenset({ADMIN}), ("POST",), obj="import_run", data=lambda s: {"keep_row": "3"},
                               effect=_import_rechecked),
    "admin.import_choices": Route(frozenset({ADMIN}), ("POST",), obj="import_run",
                                  data=lambda s: {"whole_file": "file"}, effect=_import_choice_made),
    "admin.export_students_file": Route(frozenset({ADMIN}), ("GET",), shows=_own_students,
                                        foreign_request=lambda s: {"class_id": str(s.extra.other_class.id)}),
    "admin.export_changes_file": Route(frozenset({ADMIN}), ("GET",), shows=lambda s, _o: [s.world.students_b[0].name]),
    # the school's audit log (issue 12): the page and its workbook (the other school's events never appear)
    "admin.audit_page": Route(frozenset({ADMIN}), ("GET",), shows=lambda s, _o: ["操作记录", "登录"]),
    "admin.audit_export": Route(frozenset({ADMIN}), ("GET",), shows=lambda s, _o: ["操作人", "login.succeeded"]),
    # SMS outreach: reminders and invitations (head teachers for their classes, admins for the whole school)
    "teacher.outreach_page": Route(STAFF, ("GET",), obj="class"),
    "teacher.send_reminders": Route(STAFF, ("POST",), obj="class", data=lambda s: {"stage": "unregistered"},
                                    effect=_messages_queued("reminder")),
    "teacher.send_invitations": Route(STAFF, ("POST",), obj="class", data=lambda s: {},
                                      effect=_messages_queued("invitation")),
    "teacher.student_messages": Route(STAFF, ("GET",), obj="student"),
    "admin.send_invitations": Route(frozenset({ADMIN}), ("POST",), data=lambda s: {},
                                    effect=_messages_queued("invitation", whole_school=True)),
    # stored photos: parents of the student, its head teacher, its school's admin
    "files.show": Route(frozenset(ROLES), ("GET",), obj="file"),
    # statistics: the class's funnel and student list, the school table (Excel)
    "teacher.class_stats_export": Route(STAFF, ("GET",), obj="class",
                                        shows=lambda s, c: [c.title, *(st.name for st in s.own["student"]
                                                                       if st.class_id == c.id)]),
    "admin.export_school_stats": Route(frozenset({ADMIN}), ("GET",)),
    # printable QR confirmation sheets: the class's PDF (the invitation variant issues codes), the admin's QR rule
    "teacher.print_sheets_page": Route(STAFF, ("GET",), obj="class"),
    "teacher.print_sheets": Route(STAFF, ("POST",), obj="class", data=lambda s: {"scope": "all", "invitation": "y"},
                                  post_status=200, effect=_codes_issued,
                                  # a student of another school named in the selection: refused, no codes
                                  foreign_request=lambda s: {"scope": "selected",
                                                             "students": [str(s.extra.other_student.id)]},
                                  refused=(400,)),
    "admin.sheet_qr_setting": Route(frozenset({ADMIN}), ("POST",), data=lambda s: {"require_sheet_qr": "y"},
                                    effect=_sheet_qr_required),
    # account help (issue 5): step-up SMS verification, resets, the parents directory, misuse flags, passwords
    "auth.forgot_password": Route(PUBLIC, ("GET", "POST")),
    "auth.forgot_password_verify": Route(PUBLIC, ("GET", "POST")),
    # every user's own account (issue 12): password, the password again before a sensitive step, sessions
    "auth.change_password": Route(frozenset(ROLES), ("GET", "POST"), effect=_password_changed,
                                  data=lambda s: dict.fromkeys(("password", "password_confirm"), "brand-new-pass-7"),
                                  shows=lambda s, _o: ["设置新密码"]),
    "auth.reauthenticate": Route(frozenset(ROLES), ("GET", "POST"), data=lambda s: {"password": PASSWORD},
                                 effect=_audited("reauth.succeeded"), shows=lambda s, _o: ["请再次输入密码"]),
    "auth.signed_in_sessions": Route(frozenset(ROLES), ("GET",), shows=lambda s, _o: ["登录设备", "本机"]),
    # (a session that is not the user's: nothing ends, this one stays)
    "auth.end_session": Route(frozenset(ROLES), ("POST",), data=lambda s: {"session_id": "0" * 64},
                              effect=_still_signed_in),
    "auth.sign_out_everywhere_else": Route(frozenset(ROLES), ("POST",), data=lambda s: {},
                                           effect=_signed_out_elsewhere),
    "teacher.stepup": Route(STAFF, ("GET", "POST"), data=lambda s: {"sms_code": "123456"}, post_status=200,
                            effect=_no_stepup_without_a_phone, shows=lambda s, _o: ["短信验证"]),
    "teacher.stepup_send": Route(STAFF, ("POST",), data=lambda s: {}, effect=_no_stepup_without_a_phone),
    "teacher.reset_code": Route(STAFF, ("GET", "POST"), obj="student", data=lambda s: {"reason": "注册码被他人使用"},
                                effect=_refused_until_stepup),
    "teacher.reset_password": Route(STAFF, ("GET", "POST"), obj="class", effect=_refused_until_stepup,
                                    data=lambda s: {"platform_no": s.world.parent.platform_no,
                                                    "phone": s.world.parent.phone}),
    "teacher.directory": Route(STAFF, ("GET",), obj="class"),
    "teacher.reveal_phone": Route(STAFF, ("POST",), obj="class", data=_parent_of_target_class,
                                  effect=_refused_until_stepup),
    "teacher.flags": Route(STAFF, ("GET",), obj="class"),
    "teacher.resolve_flag": Route(STAFF, ("POST",), obj="class", data=lambda s: {}, effect=_flags_resolved),
    # review queue, proof documents and key-data approval (issue 6, parts 4 and 5)
    "teacher.queue": Route(STAFF, ("GET",), obj="class"),
    "teacher.bulk_approve": Route(STAFF, ("GET", "POST"), obj="class", data=lambda s: {}, effect=_bulk_approved),
    "parent.upload_proof": Route(frozenset({PARENT}), ("POST",), obj="student", effect=_proof_stored,
                                 data=lambda s: {"proof": (io.BytesIO(jpeg_bytes((64, 48))), "hukou.jpg")}),
    "admin.key_data": Route(frozenset({ADMIN}), ("GET",), shows=lambda s, _o: [s.world.students_b[0].name]),
    "admin.key_data_approve": Route(frozenset({ADMIN}), ("POST",), obj="student", data=lambda s: {"field_key": "name"},
                                    effect=_key_correction_applied),
    "admin.key_data_reject": Route(frozenset({ADMIN}), ("POST",), obj="student", effect=_key_correction_rejected,
                                   data=lambda s: {"field_key": "name", "reason": "户口簿上的姓名不一致"}),
}


# a key-data correction the school turned down: the family sends a new proof or withdraws it (issue 10)
def _add_returned_key_corrections(db, world: World, extra: Extra) -> None:
    """In each family's approved confirmation, a name correction the school admin turned down."""
    campaigns = {c.school_id: c for c in db.scalars(select(Campaign))}
    for student in (world.students_a[0], world.students_b[0], extra.other_student):
        confirmation = ensure_confirmation(db, campaigns[student.school_id], student)
        confirmation.state, confirmation.sheet_file_id = "approved", extra.files[student.id].id
        confirmation.corrections.append(FieldCorrection(
            slot=0, field_key="name", old_value=student.name, new_value=KEY_NAME, is_key_data=True,
            status="rejected", decision_reason="户口簿看不清", requested_by_kind="parent", requested_by_id=0))
    db.commit()


def _returned_correction_now(status: str):
    def effect(db, scene: Scene) -> None:
        db.commit()
        rows = dict(db.execute(select(Confirmation.student_id, FieldCorrection.status)
                               .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
                               .where(FieldCorrection.field_key == "name")).all())
        assert rows[scene.target("student").id] == status
        assert {v for k, v in rows.items() if k != scene.target("student").id} == {"rejected"}  # others untouched
    return effect


ROUTES.update({
    "parent.resubmit_key_data": Route(frozenset({PARENT}), ("POST",), obj="student",
                                      effect=_returned_correction_now("pending_admin"),
                                      data=lambda s: {"field_key": "name",
                                                      "proof": (io.BytesIO(jpeg_bytes((64, 48))), "hukou2.jpg")}),
    "parent.withdraw_key_data": Route(frozenset({PARENT}), ("POST",), obj="student",
                                      effect=_returned_correction_now("withdrawn"),
                                      data=lambda s: {"field_key": "name"}),
})
def _archive_queued(db, scene: Scene) -> None:
    from confirm.models import ArchiveJob

    db.commit()
    rows = db.execute(select(ArchiveJob.school_id, ArchiveJob.class_id, ArchiveJob.total)).all()
    assert [tuple(r) for r in rows] == [(scene.world.school.id, scene.world.class_a.id, len(scene.world.students_a))]


def _class_archive_queued(db, scene: Scene) -> None:
    from confirm.models import ArchiveJob

    db.commit()
    target = scene.target("class")
    rows = db.execute(select(ArchiveJob.class_id, ArchiveJob.status)).all()
    assert [tuple(r) for r in rows] == [(target.id, "ready")]  # built after the response


# electronic archives (issue 16 item 3): the page, the request (another school's class refused) and the download
# link (a garbled token leads back to the page; a real one is tested in test_archives.py)
ROUTES.update({
    "admin.archives_page": Route(frozenset({ADMIN}), ("GET",)),
    "admin.request_archive": Route(frozenset({ADMIN}), ("POST",), data=lambda s: {"scope": str(s.world.class_a.id)},
                                   effect=_archive_queued,
                                   foreign_request=lambda s: {"scope": str(s.extra.other_class.id)}),
    # the head teacher's class archive; the admin may use it for any class of the school
    "teacher.class_archive": Route(STAFF, ("GET",), obj="class"),
    "teacher.request_class_archive": Route(STAFF, ("POST",), obj="class", data=lambda s: {},
                                           effect=_class_archive_queued),
    "archives.download": Route(STAFF, ("GET",), args={"token": "not-a-token"}),
})
# one mechanism for repeated forms (issue 10): following a first request that is still at work
ROUTES["repeat.follow"] = Route(PUBLIC, ("GET",), args={"token": "not-a-token"})
ARG_OF_KIND = {kind: arg for arg, kind in KIND_OF_ARG.items()}


# --- batch upload (issue 6) ------------------------------------------------------------------------------------


def _add_batches(world: World, extra: Extra, db, store) -> None:
    """A batch per class (own, the school's other, the other school's), each with one photo left unfiled."""
    from confirm.models import BatchItem, BatchUpload
    from uploads.storage import new_object_key

    for school_class, teacher, campaign in ((world.class_a, world.teacher, world.campaign),
                                            (world.class_b, world.other_teacher, world.campaign),
                                            (extra.other_class, extra.other_teacher, extra.other_campaign)):
        key = new_object_key("batch", school_class.school_id, "bin")
        store.put(key, jpeg_bytes(), "application/octet-stream")
        batch = BatchUpload(school_id=school_class.school_id, class_id=school_class.id, campaign_id=campaign.id,
                            created_by_id=teacher.id, total=1)
        db.add(batch)
        db.flush()
        item = BatchItem(batch_id=batch.id, position=1, filename="IMG_authz.jpg", upload_key=key, status="no_qr")
        db.add(item)
        db.flush()
        extra.batches[school_class.id] = batch
        extra.batch_items[batch.id] = item
    db.commit()


def _free_student(scene: Scene, class_id: int) -> Student:
    """A student of the class with no submission yet (the first of each class has one waiting for review)."""
    return scene.world.students_a[1] if class_id == scene.world.class_a.id else scene.world.students_b[1]


def _foreign_student(scene: Scene) -> Student:
    return scene.extra.other_student if scene.role == ADMIN else scene.world.students_b[1]


def _class_of(scene: Scene, batch) -> SchoolClass:
    return next(c for c in (scene.world.class_a, scene.world.class_b) if c.id == batch.class_id)


def _submitted_by_staff(db, scene: Scene) -> None:
    student = _free_student(scene, scene.target("class").id)
    db.commit()
    row = db.execute(select(Confirmation.state, Confirmation.submitted_by_kind)
                     .where(Confirmation.student_id == student.id)).one()
    assert tuple(row) == ("submitted", "staff")


def _batch_started(db, scene: Scene) -> None:
    from confirm.models import BatchUpload

    db.commit()
    classes = db.scalars(select(BatchUpload.class_id).where(BatchUpload.total == 0)).all()
    assert classes == [scene.target("class").id]


def _batch_photo_added(db, scene: Scene) -> None:
    from confirm.models import BatchItem

    db.commit()
    rows = db.execute(select(BatchItem.position, BatchItem.status)
                      .where(BatchItem.batch_id == scene.target("batch").id).order_by(BatchItem.position)).all()
    assert [tuple(r) for r in rows] == [(1, "no_qr"), (2, "no_qr")]


def _batch_photo_assigned(db, scene: Scene) -> None:
    from confirm.models import BatchItem

    db.commit()
    item = scene.extra.batch_items[scene.target("batch").id]
    row = db.execute(select(BatchItem.status, BatchItem.student_id).where(BatchItem.id == item.id)).one()
    assert tuple(row) == ("assigned", _free_student(scene, scene.target("batch").class_id).id)


# upload on behalf and batch upload of sheet photos (issue 6, parts 2 and 3)
ROUTES.update({
    "teacher.upload_on_behalf": Route(STAFF, ("GET", "POST"), obj="class", effect=_submitted_by_staff,
                                      data=lambda s: {"upload_no": _free_student(s, s.target("class").id).upload_no,
                                                      "sheet": (io.BytesIO(jpeg_bytes()), "IMG_0003.jpg")},
                                      # another class's or school's upload number: refused, its name not shown
                                      foreign_request=lambda s: {"upload_no": _foreign_student(s).upload_no}),
    "teacher.batch_new": Route(STAFF, ("GET", "POST"), obj="class", data=lambda s: {}, effect=_batch_started),
    "teacher.batch_page": Route(STAFF, ("GET",), obj="batch", shows=lambda s, b: [_class_of(s, b).title]),
    "teacher.batch_status": Route(STAFF, ("GET",), obj="batch", shows=lambda s, b: ["no_qr"]),
    "teacher.batch_photo": Route(STAFF, ("GET",), obj="batch", shows=lambda s, b: []),  # a JPEG thumbnail
    "teacher.batch_add": Route(STAFF, ("POST",), obj="batch", effect=_batch_photo_added,
                               data=lambda s: {"photo": (io.BytesIO(jpeg_bytes()), "IMG_0004.jpg")}),
    "teacher.batch_assign": Route(STAFF, ("POST",), obj="batch", effect=_batch_photo_assigned,
                                  data=lambda s: {"item_id": str(s.extra.batch_items[s.target("batch").id].id),
                                                  "upload_no": _free_student(s, s.target("batch").class_id).upload_no,
                                                  "action": "assign"}),
})


def _url(app, endpoint: str, obj=None) -> str:
    route = ROUTES[endpoint]
    args = dict(route.args)
    if route.obj:
        args[ARG_OF_KIND[route.obj]] = obj.id
    with app.test_request_context():
        return url_for(endpoint, **args)


def _cases(*, allowed: bool | None, public: bool = False, foreign: bool = False):
    """(role, endpoint, method) of the matrix; allowed=None: anonymous; foreign: only requests naming an object."""
    for endpoint, route in ROUTES.items():
        if (route.roles == PUBLIC) != public:
            continue
        for method in route.methods:
            if foreign and not (route.obj or route.foreign_request):
                continue  # nothing of others' in the request: the owner test checks what the page shows
            if allowed is None:
                yield pytest.param(endpoint, method, id=f"{endpoint}-{method}")
                continue
            for role in ROLES:
                if (role in route.roles) == allowed:
                    yield pytest.param(role, endpoint, method, id=f"{role}-{endpoint}-{method}")


# --- helpers ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def _matrix(module_database, _pg_tables, tmp_path_factory):
    """The two schools, their photos and batches, built once for the module's ~350 cases: each case starts from a
    copy of these rows (DataSnapshot) and of these stored files."""
    from uploads.storage import LocalStore
    from webapp.adapters.db import make_engine

    files = tmp_path_factory.mktemp("authz-storage")
    engine = make_engine(module_database)
    with Session(engine, expire_on_commit=False) as db:
        world = build_world(db)
        made = build_extra(world, db, LocalStore(files))
    engine.dispose()
    return world, made, DataSnapshot.take(module_database, _pg_tables), files


@pytest.fixture
def db_url(_matrix, tmp_path) -> str:
    return _matrix[2].restore(tmp_path)


@pytest.fixture
def world(_matrix) -> World:
    return _matrix[0]


@pytest.fixture
def extra(_matrix, app) -> Extra:
    """This case's copy: its own stored files, and maps it may add to."""
    made, files = _matrix[1], _matrix[3]
    shutil.copytree(files, app.extensions["store"].root, dirs_exist_ok=True)
    return dataclasses.replace(made, batches=dict(made.batches), batch_items=dict(made.batch_items),
                               photos=dict(made.photos), cases={}, proofs={})


def build_extra(world: World, db, store) -> Extra:
    other_teacher = make_staff(db, world.other_school, username="teacher_other_school")
    other_class = make_class(db, world.other_school, other_teacher, grade="五年级", name="外校9班")
    other_campaign = make_campaign(db, world.other_school)
    other_student = make_student(db, other_class, name="外校学生")
    files, photos = {}, {}
    for n, student in enumerate((world.students_a[0], world.students_b[0], other_student)):
        data = jpeg_bytes(size=(32, 24), color=(10 * n, 80, 160))
        key = f"sheet/{student.school_id}/authz/{student.id}.jpg"
        store.put(key, data, "image/jpeg")
        stored = record_file(db, student, kind="sheet", storage_key=key, sha256=hashlib.sha256(data).hexdigest(),
                             content_type="image/jpeg", size_bytes=len(data), width=32, height=24, actor=SYSTEM)
        files[student.id] = stored
        photos[stored.id] = data
    for student, campaign in ((world.students_b[0], world.campaign), (other_student, other_campaign)):
        confirmation = ensure_confirmation(db, campaign, student)
        confirmation.corrections.append(FieldCorrection(
            slot=0, field_key="current_address", old_value=student.value("current_address"),
            new_value=f"{student.name}的新地址", requested_by_kind="parent", requested_by_id=0))
    db.commit()
    made = Extra(other_teacher, other_class, other_student, other_campaign, files, photos)
    _add_batches(world, made, db, store)
    _add_districts(world, made, db)
    return made


# --- districts (issue 16) ----------------------------------------------------------------------------------------


def _add_districts(world: World, extra: Extra, db) -> None:
    """The own school in a county with a supervisor; the other school in another district with its supervisor; a
    supervisor's unread message to each school."""
    from confirm.models import DistrictMessage
    from tests.factories import make_district, make_supervisor

    extra.county = make_district(db, world.school, name="授权测试县教育局")
    extra.supervisor = make_supervisor(db, extra.county, username=SUPERVISOR_LOGIN)
    extra.other_district = make_district(db, world.other_school, name="外县教育局")
    extra.other_supervisor = make_supervisor(db, extra.other_district, username="authz_other_supervisor")
    for school, district, sender in ((world.school, extra.county, extra.supervisor),
                                     (world.other_school, extra.other_district, extra.other_supervisor)):
        db.add(DistrictMessage(district_id=district.id, school_id=school.id, sender_id=sender.id,
                               body=f"请{school.name}加快进度"))
    db.commit()


def _add_district_cases(db, world: World, extra: Extra, store) -> None:
    """A name change waiting for each district (students_b[0] of the own school, the other school's student), each
    with a proof photo."""
    from confirm.models import utcnow

    campaigns = {c.school_id: c for c in db.scalars(select(Campaign))}
    for label, student, district in (("own", world.students_b[0], extra.county),
                                     ("other", extra.other_student, extra.other_district)):
        confirmation = ensure_confirmation(db, campaigns[student.school_id], student)
        correction = FieldCorrection(
            slot=0, field_key="name", old_value=student.name, new_value=KEY_NAME, is_key_data=True,
            status="pending_district", requested_by_kind="parent", requested_by_id=0, school_opinion="情况属实",
            school_passed_at=utcnow(), district_id=district.id)
        confirmation.corrections.append(correction)
        db.flush()
        data = jpeg_bytes(size=(24, 16), color=(200, 40 if label == "own" else 90, 40))
        key = f"proof/{student.school_id}/authz/{student.id}.jpg"
        store.put(key, data, "image/jpeg")
        proof = record_file(db, student, kind="proof", storage_key=key, sha256=hashlib.sha256(data).hexdigest(),
                            content_type="image/jpeg", size_bytes=len(data), width=24, height=16, actor=SYSTEM)
        proof.confirmation_id = confirmation.id
        extra.cases[label], extra.proofs[label], extra.photos[proof.id] = correction, proof, data
    db.commit()


def _district_decisions(db) -> dict[int, tuple[str, str]]:
    db.commit()
    return {student_id: (status, name) for student_id, status, name in db.execute(
        select(Confirmation.student_id, FieldCorrection.status, Student.name)
        .join(Confirmation, Confirmation.id == FieldCorrection.confirmation_id)
        .join(Student, Student.id == Confirmation.student_id)
        .where(FieldCorrection.status.in_(("pending_district", "applied", "rejected")),
               FieldCorrection.field_key == "name"))}


def _district_applied(db, scene: Scene) -> None:
    decisions = _district_decisions(db)
    assert decisions[scene.world.students_b[0].id] == ("applied", KEY_NAME)
    assert decisions[scene.extra.other_student.id] == ("pending_district", scene.extra.other_student.name)


def _district_rejected(db, scene: Scene) -> None:
    decisions = _district_decisions(db)
    assert decisions[scene.world.students_b[0].id] == ("rejected", scene.world.students_b[0].name)
    assert decisions[scene.extra.other_student.id][0] == "pending_district"


def _message_left(db, scene: Scene) -> None:
    from confirm.models import DistrictMessage

    db.commit()
    rows = db.execute(select(DistrictMessage.school_id, DistrictMessage.body)).all()
    assert (scene.world.school.id, "请尽快完成核查") in [tuple(r) for r in rows]
    assert [r.school_id for r in rows].count(scene.world.other_school.id) == 1


def _district_rule_set(db, scene: Scene) -> None:
    db.commit()
    rules = dict(db.execute(select(Campaign.school_id, Campaign.key_data_needs_district)).all())
    assert rules == {scene.world.school.id: True, scene.extra.other_campaign.school_id: False}


def _messages_read(db, scene: Scene) -> None:
    from confirm.models import DistrictMessage

    db.commit()
    read = dict(db.execute(select(DistrictMessage.school_id, DistrictMessage.read_at)).all())
    assert read[scene.world.school.id] is not None and read[scene.world.other_school.id] is None


ROUTES.update({
    "district.home": Route(SUP, ("GET",)),
    "district.export": Route(SUP, ("GET",)),
    "district.school_page": Route(SUP, ("GET",), obj="school", shows=lambda s, o: [o.name, s.world.class_a.title]),
    "district.message_school": Route(SUP, ("POST",), obj="school", data=lambda s: {"body": "请尽快完成核查"},
                                     effect=_message_left),
    "district.key_data_setting": Route(SUP, ("POST",), obj="school", data=lambda s: {"required": "y"},
                                       effect=_district_rule_set),
    "district.key_data": Route(SUP, ("GET",), shows=lambda s, _o: [s.world.school.name, "姓名"]),
    "district.key_data_case": Route(SUP, ("GET",), obj="correction",
                                    shows=lambda s, _o: [s.world.students_b[0].name, KEY_NAME, "情况属实"]),
    "district.key_data_approve": Route(SUP, ("POST",), obj="correction", data=lambda s: {},
                                       effect=_district_applied),
    "district.key_data_reject": Route(SUP, ("POST",), obj="correction", data=lambda s: {"reason": "材料不符"},
                                      effect=_district_rejected),
    "district.key_data_export": Route(SUP, ("GET",), shows=lambda s, _o: [s.world.students_b[0].name, KEY_NAME]),
    "admin.read_district_messages": Route(frozenset({ADMIN}), ("POST",), data=lambda s: {}, effect=_messages_read),
    "admin.key_data_export": Route(frozenset({ADMIN}), ("GET",), shows=lambda s, _o: [s.world.students_b[0].name]),
})


def _add_import_runs(world: World, extra: Extra, db, app, *, real: bool) -> None:
    """Each school's student export uploaded again and checked clean, its file kept for the confirm step.

    Without ``real`` (for people who may not use the import at all) just the report rows, which is quicker.
    """
    runs = []
    for school, filename in ((world.school, "本校学生名单.xlsx"), (world.other_school, "外校学生名单.xlsx")):
        if not real:
            run = ImportRun(school_id=school.id, filename=filename, sha256="0" * 64, status="checked")
            db.add(run)
            runs.append((run, b""))
            continue
        upload = export_students(db, school)
        key = f"imports/{school.id}/authz.bin"
        app.extensions["store"].put(key, upload, "application/octet-stream")
        outcome = import_file(db, school, upload, filename, actor=SYSTEM, commit=False, storage_key=key)
        assert outcome.run.status == "checked", outcome.result.errors
        runs.append((outcome.run, upload))
    db.commit()
    (extra.own_run, extra.own_upload), (extra.other_run, _) = runs


def _arrange(role: str, endpoint: str, world: World, extra: Extra, db, app, client, auth) -> Scene:
    """Staff get the students' sheets waiting for review (so approving would work); then log the role in."""
    if endpoint.startswith("admin.import"):
        _add_import_runs(world, extra, db, app, real=role == ADMIN)
    if role in STAFF:
        campaigns = {c.school_id: c for c in db.scalars(select(Campaign))}
        for student in (world.students_a[0], world.students_b[0], extra.other_student):
            confirmation = ensure_confirmation(db, campaigns[student.school_id], student)
            submit_confirmation(db, confirmation, extra.files[student.id], actor=SYSTEM)
        db.commit()
    if endpoint.startswith("admin.key_data"):  # review queue and key-data approval (issue 6)
        _add_key_corrections(db, world, extra)
    if endpoint.endswith("_key_data"):  # a turned-down key-data correction (issue 10)
        _add_returned_key_corrections(db, world, extra)
    if endpoint.startswith("district.key_data") or endpoint == "files.show":  # key-data 核办 (issue 16)
        _add_district_cases(db, world, extra, app.extensions["store"])
    if role in LOGINS:
        response = auth.login(LOGINS[role](world), PASSWORD)
        assert response.status_code == 302 and response.headers["Location"] == HOMES[role], role
    return _scene(role, world, extra, endpoint)


def _request(client, method: str, url: str, data: dict | None = None, **kwargs):
    """``data`` is the form of a POST, the query of a GET."""
    if method == "GET":
        return client.get(url, query_string=data, **kwargs)
    return client.post(url, data=data or {}, **kwargs)


# The browsers' own sessions (a flash such as 请先登录 is kept there): not data anyone changed.
NOT_DATA = {"web_sessions"}


def _snapshot(db, app) -> tuple[dict[str, list[str]], list[str]]:
    """Every row of every table but the browsers' sessions, and every key in the object store."""
    db.commit()
    tables = {}
    for name in sorted(set(inspect(db.get_bind()).get_table_names()) - NOT_DATA):
        tables[name] = sorted(repr(tuple(row)) for row in db.execute(text(f'SELECT * FROM "{name}"')))
    root = getattr(app.extensions["store"], "root", None)
    keys = sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file()) if root else []
    return tables, keys


def _changes(before, after) -> list[str]:
    (tables_before, keys_before), (tables_after, keys_after) = before, after
    changed = [name for name in tables_after if tables_before.get(name) != tables_after[name]]
    if keys_before != keys_after:
        changed.append("object store")
    return changed


def _mentions(body: str, marker: str) -> bool:
    """``marker`` as a whole (测试8 is not in 测试81)."""
    return re.search(rf"(?<!\d){re.escape(marker)}(?!\d)", body) is not None


def _text(response) -> str:
    """What a person would read in the answer: the page, or every cell of a downloaded workbook."""
    if response.mimetype == XLSX:
        workbook = load_workbook(io.BytesIO(response.get_data()), read_only=True)
        cells = [str(v) for sheet in workbook for row in sheet.iter_rows(values_only=True) for v in row if v]
        workbook.close()
        return "\n".join(cells)
    return response.get_data(as_text=True) if response.mimetype.startswith(("text/", "application/json")) else ""


def _leaked(response, scene: Scene) -> list[str]:
    body = _text(response)
    return [m for m in scene.hidden if _mentions(body, m)]


def _assert_refused_and_silent(response, scene: Scene, statuses: tuple[int, ...]) -> None:
    assert response.status_code in statuses, response.status_code
    assert response.mimetype == "text/html"  # an error page: no photo, no workbook
    assert not _leaked(response, scene)


# --- the tests -------------------------------------------------------------------------------------------------


def test_every_route_has_a_matrix_entry(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    endpoints = {r.endpoint for r in rules}
    missing = sorted(endpoints - ROUTES.keys())
    stale = sorted(ROUTES.keys() - endpoints)
    assert not missing, f"routes without an authorization-matrix entry: {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"
    for rule in rules:
        route = ROUTES[rule.endpoint]
        assert set(route.methods) == rule.methods - IGNORED_METHODS, f"{rule.endpoint}: methods changed"
        unknown = set(rule.arguments) - KIND_OF_ARG.keys() - route.args.keys()
        assert not unknown, f"{rule.endpoint}: URL arguments {unknown} need a kind of object in the matrix"
        kinds = {KIND_OF_ARG[a] for a in rule.arguments if a in KIND_OF_ARG}
        assert kinds == ({route.obj} if route.obj else set()), f"{rule.endpoint}: URL object is {kinds}"
        assert route.roles <= set(ROLES), rule.endpoint
        if route.roles != PUBLIC and "POST" in route.methods:
            assert route.data and route.effect, f"{rule.endpoint}: a POST needs its data and effect in the matrix"


def test_parents_never_reach_staff_routes_and_staff_never_reach_parent_routes():
    forbidden = {(p.values[0], p.values[1]) for p in _cases(allowed=False)}
    for endpoint in ROUTES:
        if endpoint.startswith(("teacher.", "admin.")):
            assert (PARENT, endpoint) in forbidden
        if endpoint.startswith("parent."):
            assert {(TEACHER, endpoint), (ADMIN, endpoint)} <= forbidden
        if endpoint.startswith("admin."):
            assert (TEACHER, endpoint) in forbidden
        if endpoint.startswith(("teacher.", "admin.", "parent.")):
            assert (SUPERVISOR, endpoint) in forbidden  # a supervisor never opens a school's or family's pages
        if endpoint.startswith("district."):
            assert {(PARENT, endpoint), (TEACHER, endpoint), (ADMIN, endpoint)} <= forbidden
    protected = sum(len(r.methods) for r in ROUTES.values() if r.roles != PUBLIC)
    assert len(list(_cases(allowed=None))) == protected
    assert len(list(_cases(allowed=False))) + len(list(_cases(allowed=True))) == len(ROLES) * protected


@pytest.mark.parametrize(("endpoint", "method"), list(_cases(allowed=None, public=True)))
def test_public_route_answers_anonymous_visitors(app, client, endpoint, method):
    response = _request(client, method, _url(app, endpoint))
    assert response.status_code in (200, 302), response.status_code


@pytest.mark.parametrize(("endpoint", "method"), list(_cases(allowed=None)))
def test_anonymous_visitor_is_sent_to_login_and_changes_nothing(app, client, world, extra, db, endpoint, method):
    scene = _arrange("anonymous", endpoint, world, extra, db, app, client, None)
    route = ROUTES[endpoint]
    url = _url(app, endpoint, scene.target(route.obj) if route.obj else None)
    before = _snapshot(db, app)
    response = _request(client, method, url, route.data(scene) if route.data else None)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
    else:
        assert response.status_code in (401, 403), response.status_code
    assert response.mimetype == "text/html"  # no photo, no workbook
    assert not _leaked(response, scene)
    assert _changes(before, _snapshot(db, app)) == []


@pytest.mark.parametrize(("role", "endpoint", "method"), list(_cases(allowed=False)))
def test_role_outside_the_route_gets_403_even_for_its_own_objects(app, client, world, extra, db, auth, role,
                                                                  endpoint, method):
    scene = _arrange(role, endpoint, world, extra, db, app, client, auth)
    route = ROUTES[endpoint]
    url = _url(app, endpoint, scene.target(route.obj) if route.obj else None)
    before = _snapshot(db, app)
    response = _request(client, method, url, route.data(scene) if route.data else None)
    assert response.status_code == 403, response.status_code  # not a redirect to the role's own home
    assert not _leaked(response, scene)
    assert _changes(before, _snapshot(db, app)) == []


@pytest.mark.parametrize(("role", "endpoint", "method"), list(_cases(allowed=True, foreign=True)))
def test_another_familys_classs_or_schools_object_is_404_and_untouched(app, client, world, extra, db, auth, role,
                                                                       endpoint, method):
    scene = _arrange(role, endpoint, world, extra, db, app, client, auth)
    route = ROUTES[endpoint]
    before = _snapshot(db, app)
    if route.foreign_request:  # the other school's object is named in the form or the query
        url = _url(app, endpoint, scene.target(route.obj) if route.obj else None)
        response = _request(client, method, url, route.foreign_request(scene))
        _assert_refused_and_silent(response, scene, route.refused)
    if route.obj:
        others = scene.foreign[route.obj]
        assert others, f"{role} has no other {route.obj} to try"
        for other in others:
            data = route.data(scene) if method == "POST" else None
            response = _request(client, method, _url(app, endpoint, other), data)
            _assert_refused_and_silent(response, scene, (403, 404))
            if route.obj == "file":
                assert extra.photos[other.id] not in response.get_data()
    assert _changes(before, _snapshot(db, app)) == []


def _shown(route: Route, obj, scene: Scene) -> list[str]:
    """What a successful answer must show: the object, or for pages without one the role's own data."""
    if route.shows:
        return route.shows(scene, obj)
    if route.obj == "student":
        return [obj.name]
    if route.obj == "class":
        return [obj.title]
    if route.obj == "import_run":
        return [obj.filename]
    return scene.home


@pytest.mark.parametrize(("role", "endpoint", "method"), list(_cases(allowed=True)))
def test_owner_reaches_own_objects_and_sees_nothing_of_others(app, client, world, extra, db, auth, role, endpoint,
                                                              method):
    scene = _arrange(role, endpoint, world, extra, db, app, client, auth)
    route = ROUTES[endpoint]
    if method == "POST":
        response = client.post(_url(app, endpoint, scene.target(route.obj) if route.obj else None),
                               data=route.data(scene))
        assert response.status_code == route.post_status, response.get_data(as_text=True)[:2000]
        assert not _leaked(response, scene)
        route.effect(db, scene)
        return
    for obj in scene.own[route.obj] if route.obj else [None]:
        response = client.get(_url(app, endpoint, obj), follow_redirects=True)
        assert response.status_code == 200, response.status_code
        assert response.request.path != "/login"
        if route.obj == "file":
            assert response.mimetype == "image/jpeg"
            assert response.get_data() == extra.photos[obj.id]
            continue
        body = _text(response)
        missing = [m for m in _shown(route, obj, scene) if not _mentions(body, m)]
        assert not missing, f"{response.request.path} does not show {missing}"
        assert not _leaked(response, scene), f"{response.request.path} shows {_leaked(response, scene)}"
