"""The import use case: open the file, check it against the school, and commit when asked and clean."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from confirm.importing.checker import CheckResult, check_table
from confirm.importing.committer import commit_import, existing_students, record_rejected_check
from confirm.importing.reader import open_table
from confirm.models import ImportRun, School
from confirm.services.common import Actor


@dataclass
class ImportOutcome:
    """The check result and, when something was kept, the import report row."""

    result: CheckResult
    run: ImportRun | None


def check_file(session: Session, school: School, data: bytes, filename: str, *, today: date | None = None
               ) -> CheckResult:
    """The template check: every problem in the file; writes nothing. Raises UnreadableFile."""
    table = open_table(data, filename)
    return check_table(table, school_code=school.code, existing=existing_students(session, school.id), today=today)


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
) -> ImportOutcome:
    """Check the file; with ``commit`` and no errors, write it. The caller commits the transaction."""
    result = check_file(session, school, data, filename, today=today)
    sha256 = hashlib.sha256(data).hexdigest()
    if commit and result.is_clean:
        return ImportOutcome(result, commit_import(session, school, result, actor=actor, filename=filename,
                                                   sha256=sha256))
    run = record_rejected_check(session, school, result, actor=actor, filename=filename, sha256=sha256,
                                storage_key=storage_key)
    return ImportOutcome(result, run)
