"""The import use cases: check a file against the school (keeping it for the confirm step), and import a checked
file when the admin confirms."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import update
from sqlalchemy.orm import Session

from confirm.errors import DomainError
from confirm.i18n import N_, Message
from confirm.importing.checker import CheckResult, check_table, refuse_other_school
from confirm.importing.committer import commit_import, existing_students, record_rejected_check
from confirm.importing.conflicts import KEEP_PLATFORM, Choices, Conflict, choose, chosen, find_conflicts
from confirm.importing.reader import open_table
from confirm.models import ImportRun, School
from confirm.ports import ObjectStore
from confirm.services.common import Actor, audit
from confirm.services.files import delete_after_commit, put_object
from confirm.states import ImportStatus
from confirm.storage_keys import new_object_key


@dataclass
class ImportOutcome:
    """The check result, the import report row, and the fields where the file conflicts with the campaign."""

    result: CheckResult
    run: ImportRun | None
    conflicts: list[Conflict] = field(default_factory=list)
    choices: Choices = KEEP_PLATFORM


def check_file(session: Session, school: School, data: bytes, filename: str, *, today: date | None = None,
               kept_rows: frozenset[int] = frozenset()) -> CheckResult:
    """The template check: every problem in the file (``kept_rows``: rows whose unlisted division codes the admin
    keeps); writes nothing. Raises UnreadableFile, and OtherSchoolFile for another school's student list."""
    table = open_table(data, filename)
    result = check_table(table, school_code=school.code, existing=existing_students(session, school.id), today=today,
                         kept_rows=kept_rows)
    refuse_other_school(result, school.code)
    return result


def import_file(
    session: Session,
    school: School,
    data: bytes,
    filename: str,
    *,
    actor: Actor,
    commit: bool,
    storage_key: str | None = None,
    today: date | None = None,
    choices: Choices = KEEP_PLATFORM,
    kept_rows: frozenset[int] = frozenset(),
) -> ImportOutcome:
    """Check the file; with ``commit`` and no errors, write it, keeping the platform's value where the file
    conflicts with the running campaign unless ``choices`` takes the file's. The caller commits the transaction."""
    result = check_file(session, school, data, filename, today=today, kept_rows=kept_rows)
    sha256 = hashlib.sha256(data).hexdigest()
    conflicts = find_conflicts(session, school.id, result) if result.is_clean else []
    if commit and result.is_clean:
        run = commit_import(session, school, result, actor=actor, filename=filename, sha256=sha256,
                            conflicts=conflicts, choices=choices)
        return ImportOutcome(result, run, conflicts, choices)
    run = record_rejected_check(session, school, result, actor=actor, filename=filename, sha256=sha256,
                                storage_key=storage_key, conflicts=conflicts)
    return ImportOutcome(result, run, conflicts, choices)


def check_upload(session: Session, school: School, data: bytes, filename: str, *, store: ObjectStore,
                 actor: Actor) -> ImportRun:
    """The web's first step: check the file and keep it with its report (also when it has errors, for the
    annotated workbook). Raises UnreadableFile; nothing is kept then."""
    key = put_object(session, store, new_object_key("imports", school.id, "bin"), data, "application/octet-stream")
    return import_file(session, school, data, filename, actor=actor, commit=False, storage_key=key).run


def commit_checked(session: Session, run: ImportRun, school: School, *, store: ObjectStore, actor: Actor,
                   fields: dict[int, str] | None = None) -> ImportRun:
    """The admin confirms a checked file: it is checked again against the school as it is now and imported.

    ``fields`` are the choices on the report page the admin confirmed from, saved first. A conflict takes the file's
    value only when the admin chose so for it as it still is; one that appeared or changed since the check keeps
    the platform's value. Of two clicks on 确认导入 only one gets past the claim (a conditional update). Returns the
    new run — committed, or rejected when the school's data changed since the check and the file now has errors.
    """
    if fields and run.status == ImportStatus.CHECKED:  # a second click finds the run claimed, below
        choose(session, run, actor=actor, fields=fields)
    choices = chosen(session, run)
    claimed = session.execute(
        update(ImportRun).where(ImportRun.id == run.id, ImportRun.status == ImportStatus.CHECKED.value)
        .values(status=ImportStatus.REJECTED.value).execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise DomainError(Message(N_("这个文件已经导入过，或者检查没有通过")))
    session.refresh(run)
    try:
        data = store.get(run.storage_key) if run.storage_key else None
    except KeyError:
        data = None
    if data is None:
        raise DomainError(Message(N_("原文件已不再保存，请重新上传检查")))
    outcome = import_file(session, school, data, run.filename, actor=actor, commit=True, storage_key=run.storage_key,
                          choices=choices, kept_rows=kept_rows_of(run))
    if outcome.run.status == ImportStatus.COMMITTED:  # superseded by the committed run: its file is not needed
        delete_after_commit(session, store, run.storage_key)
        run.storage_key = None
        session.flush()
    return outcome.run


def kept_rows_of(run: ImportRun) -> frozenset[int]:
    """The rows of the run's file whose unlisted division codes the admin chose to keep (保留原值)."""
    return frozenset(int(row) for row in (run.problems or {}).get("kept_rows", []))


def recheck_keeping(session: Session, run: ImportRun, school: School, rows: set[int], *, store: ObjectStore,
                    actor: Actor) -> ImportRun:
    """Check the run's stored file again, keeping the unlisted division codes of ``rows`` (保留原值) besides those
    kept before; the new run's report replaces the old one (a checked old run is superseded). Audited."""
    keep = kept_rows_of(run) | frozenset(rows)
    if not rows:
        raise DomainError(Message(N_("请勾选要保留原值的行")))
    try:
        data = store.get(run.storage_key) if run.storage_key and run.status != ImportStatus.COMMITTED else None
    except KeyError:
        data = None
    if data is None:
        raise DomainError(Message(N_("原文件已不再保存，请重新上传检查")))
    session.execute(update(ImportRun).where(ImportRun.id == run.id, ImportRun.status == ImportStatus.CHECKED.value)
                    .values(status=ImportStatus.REJECTED.value).execution_options(synchronize_session=False))
    outcome = import_file(session, school, data, run.filename, actor=actor, commit=False,
                          storage_key=run.storage_key, kept_rows=keep)
    audit(session, actor, "import.values_kept", school_id=school.id, target=outcome.run,
          detail={"from_run": run.id, "rows": sorted(keep)})
    session.flush()
    return outcome.run
