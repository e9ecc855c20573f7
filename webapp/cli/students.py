"""CLI for the national template: import-students, export-students, export-changes."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from confirm.errors import DomainError, FieldErrors
from confirm.exporting import CORRECTION_STATUS
from confirm.fields import field_for
from confirm.importing.conflicts import KEEP_PLATFORM, TAKE_FILE, Conflict
from confirm.importing.reader import UnreadableFile
from confirm.importing.service import ImportOutcome, import_file
from confirm.models import School
from confirm.services import exports
from confirm.services.common import SYSTEM
from confirm.services.records import active_campaign
from confirm.services.school import find_class
from confirm.states import CorrectionStatus
from webapp.adapters import db


def _school(session, code: str) -> School:
    school = session.scalar(select(School).where(School.code == code))
    if school is None:
        raise click.ClickException(f"没有学校标识码为 {code} 的学校 / no school with code {code}")
    return school


def _one_line(text: str) -> str:
    return " ".join(str(text).replace("\t", " ").split())


def _conflict_line(c: Conflict, outcome: ImportOutcome, check_only: bool) -> str:
    f = field_for(c.slot, c.key)
    status = CORRECTION_STATUS.get(c.status, c.status)
    pending = "" if c.status == CorrectionStatus.APPLIED else f"，改为“{f.display(c.corrected)}”"
    takes = outcome.choices.takes_file(c)
    what = ("将" if check_only else "已") + ("采用文件的值" if takes else "保留平台的值")
    message = (f"与本次核查不一致（更正{status}{pending}）：核查开始时“{f.display(c.start)}”，"
               f"平台现在“{f.display(c.platform)}”；{what}")
    return f"{c.row}\t{c.header}\t{_one_line(f.display(c.file))}\t{_one_line(message)}"


def _conflict_summary(outcome: ImportOutcome) -> str:
    if not outcome.conflicts:
        return ""
    taken = sum(outcome.choices.takes_file(c) for c in outcome.conflicts)
    return (f"，与核查不一致 {len(outcome.conflicts)} 项（保留平台的值 {len(outcome.conflicts) - taken}，"
            f"采用文件的值 {taken}）")


@click.command("import-students")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True, help="学校标识码 (10 digits)")
@click.option("--check", "check_only", is_flag=True, help="only check the file (the template check); write nothing")
@click.option("--take-file-values", "take_file", is_flag=True,
              help="for fields the running campaign changed (a correction applied or still pending), take the file's "
                   "value instead of keeping the platform's (the default); pending corrections stay pending")
@click.option("--keep-row", "keep_rows", type=int, multiple=True, metavar="ROW",
              help="保留原值: keep this row's division codes that are not in the current list (else an error); "
                   "repeat for several rows")
def import_students(file: Path, school_code: str, check_only: bool, take_file: bool, keep_rows: tuple[int, ...]):
    """Check (and import) a student file in the national template layout (.xlsx or .csv).

    Prints one problem per line as row<TAB>column<TAB>value<TAB>message, then a summary line. During a campaign,
    a field a correction changed where the file says otherwise is printed the same way (value: the file's) and
    keeps the platform's value, unless --take-file-values is given.
    Exit 0: clean (and imported); 1: problems, nothing written; 2: the file cannot be read.
    """
    session = db.session()
    school = _school(session, school_code)
    try:
        outcome = import_file(session, school, file.read_bytes(), file.name, actor=SYSTEM, commit=not check_only,
                              choices=TAKE_FILE if take_file else KEEP_PLATFORM, kept_rows=frozenset(keep_rows))
    except UnreadableFile as exc:
        session.rollback()
        click.echo(f"无法读取文件：{exc.message}", err=True)
        sys.exit(2)
    except DomainError as exc:
        session.rollback()
        messages = [m for _f, m in exc.errors] if isinstance(exc, FieldErrors) else [exc.message]
        for message in messages:
            click.echo(str(message), err=True)
        sys.exit(1)
    result = outcome.result
    for p in sorted(result.problems, key=lambda p: (p.row, p.is_warning)):
        message = ("警告: " if p.is_warning else "") + str(p.message)
        click.echo(f"{p.row}\t{_one_line(p.column)}\t{_one_line(p.value)}\t{_one_line(message)}")
    for c in outcome.conflicts:
        click.echo(_conflict_line(c, outcome, check_only))
    if not result.is_clean:
        session.rollback()  # the report row goes too: nothing is written for a file with errors
        click.echo(f"检查未通过：{result.total_rows} 行，{len(result.errors)} 处错误，{len(result.warnings)} 处警告；"
                   f"未写入任何数据")
        sys.exit(1)
    if check_only:
        session.rollback()
        click.echo(f"检查通过：{result.total_rows} 行，{len(result.warnings)} 处警告{_conflict_summary(outcome)}"
                   f"（未导入，去掉 --check 即可导入）")
        return
    run = outcome.run
    session.commit()
    click.echo(f"导入完成：{result.total_rows} 行，新增 {run.created_count}，更新 {run.updated_count}，"
               f"未变 {run.unchanged_count}，拒绝 {run.rejected_count}，警告 {len(result.warnings)}"
               f"{_conflict_summary(outcome)}")


@click.command("export-students")
@with_appcontext
@click.option("--school", "school_code", required=True)
@click.option("--class", "class_name", default=None, help="only this class: 年级+班级 (三年级1班), 班级 (1班) or 班号")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_students_command(school_code: str, class_name: str | None, output: Path):
    """Write the school's (or one class's) students in the national template layout (audited)."""
    session = db.session()
    school = _school(session, school_code)
    school_class = None
    if class_name:
        try:
            school_class = find_class(session, school.id, class_name)
        except DomainError as exc:
            raise click.ClickException(str(exc.message)) from None
    data = exports.students_workbook(session, school, school_class, actor=SYSTEM,
                                     campaign=active_campaign(session, school.id))
    output.write_bytes(data)
    session.commit()  # the export's audit row, once the file is written
    click.echo(f"已导出到 {output}")


@click.command("export-changes")
@with_appcontext
@click.option("--school", "school_code", required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_changes_command(school_code: str, output: Path):
    """Write the change list of the school's running campaign (audited)."""
    session = db.session()
    school = _school(session, school_code)
    output.write_bytes(exports.changes_workbook(session, school, active_campaign(session, school.id), actor=SYSTEM))
    session.commit()  # the export's audit row, once the file is written
    click.echo(f"已导出到 {output}")


COMMANDS = (import_students, export_students_command, export_changes_command)
