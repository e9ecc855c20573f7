"""Electronic archives (电子档案) of a class or a school: who may take one, the request, the build's progress, the
download and the end of the 24 hours. Plain functions that flush; the ZIP itself is written by ``webapp.jobs.archives``.

Who may take an archive is decided in one place, :func:`can_take_archive`, so that another role (the district's
supervisor) is one more rule there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from confirm.errors import DomainError
from confirm.i18n import N_, Message
from confirm.models import ArchiveJob, PendingObject, School, SchoolClass, StaffUser, Student, utcnow
from confirm.ports import ObjectStore
from confirm.roles import Role
from confirm.services.common import Actor, audit
from confirm.services.files import delete_after_commit
from confirm.states import ARCHIVE_MOVES, ARCHIVE_OPEN, ArchiveScope, ArchiveStatus, move

DOWNLOAD_HOURS = 24
MAX_ERROR_LENGTH = 500
STALE_AFTER = timedelta(minutes=30)  # a build writes its progress every few seconds; half an hour of silence: dead
STALE_ERROR = "stale: no progress for 30 minutes"


def can_take_archive(user: StaffUser, school: School | int, school_class: SchoolClass | None = None) -> bool:
    """True when ``user`` may take the archive of ``school`` (or of one of its classes): the school's registry
    admin, any class or the whole school; a head teacher, their own class only."""
    school_id = school if isinstance(school, int) else school.id
    if not user.is_active or user.school_id != school_id:
        return False
    if school_class is not None and school_class.school_id != school_id:
        return False
    if user.role == Role.SCHOOL_ADMIN:
        return True
    return user.role == Role.HEAD_TEACHER and school_class is not None and school_class.head_teacher_id == user.id


def scope_key(school_id: int, school_class: SchoolClass | None) -> str:
    """What an archive covers, as the key of the one-open-job-per-scope index."""
    return f"class:{school_class.id}" if school_class is not None else f"school:{school_id}"


def _students(school_id: int, school_class_id: int | None):
    query = select(Student.id).where(Student.school_id == school_id)
    if school_class_id is not None:
        query = query.where(Student.class_id == school_class_id)
    return query


def request_archive(
    session: Session, user: StaffUser, school: School, school_class: SchoolClass | None = None, *, actor: Actor,
    now: datetime | None = None,
) -> tuple[ArchiveJob, bool]:
    """Queue the archive of ``school`` (or ``school_class``): the new job and True, or — when one for the same scope
    is already queued or being built (a double tap, a colleague a moment ago) — that job and False."""
    now = now or utcnow()
    if not can_take_archive(user, school, school_class):
        raise DomainError(Message(N_("你没有权限导出这份电子档案")))
    key = scope_key(school.id, school_class)
    give_up_stale(session, key, now=now)
    total = session.scalar(select(func.count()).select_from(
        _students(school.id, school_class.id if school_class else None).subquery()))
    if not total:
        raise DomainError(Message(N_("这个班级还没有学生，没有可导出的档案") if school_class
                                  else N_("本校还没有学生，没有可导出的档案")))
    job = ArchiveJob(school_id=school.id, class_id=school_class.id if school_class else None,
                     scope=ArchiveScope.CLASS.value if school_class else ArchiveScope.SCHOOL.value, scope_key=key,
                     requested_by_id=user.id, status=ArchiveStatus.QUEUED.value, total=total, done=0, created_at=now)
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # one open job per scope (the partial unique index): the one already queued
        existing = open_job(session, key)
        if existing is None:  # it finished between our insert and this read: ask again
            raise DomainError(Message(N_("刚才的档案已生成，请刷新页面查看"))) from None
        return existing, False
    audit(session, actor, "archive.requested", school_id=school.id, target=job,
          detail={"scope": job.scope, "class_id": job.class_id, "students": total}, at=now)
    session.flush()
    return job, True


def open_job(session: Session, key: str) -> ArchiveJob | None:
    """The queued or building job of scope ``key``, if any."""
    return session.scalar(select(ArchiveJob).where(ArchiveJob.scope_key == key,
                                                   ArchiveJob.status.in_([s.value for s in ARCHIVE_OPEN])))


def student_ids(session: Session, job: ArchiveJob) -> list[int]:
    """The archive's students in the ZIP's order: class by class (grade, name), then by name."""
    query = (select(Student.id).join(SchoolClass, SchoolClass.id == Student.class_id)
             .where(Student.school_id == job.school_id)
             .order_by(SchoolClass.grade, SchoolClass.name, SchoolClass.id, Student.name, Student.id))
    if job.class_id is not None:
        query = query.where(Student.class_id == job.class_id)
    return list(session.scalars(query))


def start_build(session: Session, job_id: int, *, now: datetime | None = None) -> ArchiveJob | None:
    """The worker takes the queued job, in one conditional UPDATE: None when it is not queued any more (another
    worker has it, or it was given up as stale)."""
    now = now or utcnow()
    taken = session.execute(update(ArchiveJob).where(ArchiveJob.id == job_id,
                                                     ArchiveJob.status == ArchiveStatus.QUEUED)
                            .values(status=ArchiveStatus.BUILDING.value, started_at=now, progress_at=now, done=0))
    if taken.rowcount != 1:
        return None
    job = session.get_one(ArchiveJob, job_id)
    session.refresh(job)
    return job


def record_progress(session: Session, job_id: int, done: int, *, now: datetime | None = None) -> None:
    """How many students' PDFs are written, in one UPDATE (the page reads it while the build goes on)."""
    session.execute(update(ArchiveJob).where(ArchiveJob.id == job_id, ArchiveJob.status == ArchiveStatus.BUILDING)
                    .values(done=done, progress_at=now or utcnow()))


def give_up_stale(session: Session, key: str, *, now: datetime | None = None) -> int:
    """An open job of scope ``key`` that has shown no sign of life for STALE_AFTER (its worker died, or its queue
    entry was lost) is failed, in one conditional UPDATE, so that the scope can be asked for again."""
    now = now or utcnow()
    cutoff = now - STALE_AFTER
    result = session.execute(
        update(ArchiveJob)
        .where(ArchiveJob.scope_key == key, ArchiveJob.status.in_([s.value for s in ARCHIVE_OPEN]),
               func.coalesce(ArchiveJob.progress_at, ArchiveJob.created_at) < cutoff)
        .values(status=ArchiveStatus.FAILED.value, finished_at=now, error=STALE_ERROR))
    return result.rowcount


def finish_build(session: Session, job: ArchiveJob, *, object_key: str, size_bytes: int, missing: int,
                 now: datetime | None = None) -> None:
    """The ZIP is stored: downloadable for DOWNLOAD_HOURS from now."""
    now = now or utcnow()
    job.status = move(job.status, ArchiveStatus.READY, ARCHIVE_MOVES).value
    job.object_key = object_key
    job.size_bytes = size_bytes
    job.missing_count = missing
    job.done = job.total
    job.finished_at = now
    job.expires_at = now + timedelta(hours=DOWNLOAD_HOURS)
    session.execute(delete(PendingObject).where(PendingObject.key == object_key))  # the row now names the object
    session.flush()


def fail_build(session: Session, job: ArchiveJob, error: str, *, now: datetime | None = None) -> None:
    """The build stopped; ``error`` (no personal data) is shown to the admin, who may ask again."""
    job.status = move(job.status, ArchiveStatus.FAILED, ARCHIVE_MOVES).value
    job.error = error[:MAX_ERROR_LENGTH]
    job.finished_at = now or utcnow()
    session.flush()


def is_downloadable(job: ArchiveJob, now: datetime | None = None) -> bool:
    """True while a built archive's 24 hours last."""
    return (job.status == ArchiveStatus.READY and job.object_key is not None and job.expires_at is not None
            and (now or utcnow()) < job.expires_at)


def record_download(session: Session, job: ArchiveJob, *, actor: Actor, now: datetime | None = None) -> None:
    """Audit one download: who, which scope, how many students."""
    audit(session, actor, "archive.downloaded", school_id=job.school_id, target=job,
          detail={"scope": job.scope, "class_id": job.class_id, "students": job.total}, at=now)
    session.flush()


def expire_archives(session: Session, store: ObjectStore, *, now: datetime | None = None) -> int:
    """Archives past their 24 hours become expired; their objects are deleted once that commits. Returns how many."""
    now = now or utcnow()
    jobs = session.scalars(select(ArchiveJob).where(ArchiveJob.status == ArchiveStatus.READY,
                                                    ArchiveJob.expires_at <= now)).all()
    for job in jobs:
        job.status = move(job.status, ArchiveStatus.EXPIRED, ARCHIVE_MOVES).value
        delete_after_commit(session, store, job.object_key)
        job.object_key = None
    session.flush()
    return len(jobs)


def recent_jobs(session: Session, school_id: int, school_class: SchoolClass | None = None,
                limit: int = 20) -> list[ArchiveJob]:
    """The school's latest archive requests (or one class's), newest first."""
    query = select(ArchiveJob).where(ArchiveJob.school_id == school_id)
    if school_class is not None:
        query = query.where(ArchiveJob.class_id == school_class.id)
    return list(session.scalars(query.order_by(ArchiveJob.id.desc()).limit(limit)))
