"""SQLAlchemy 2.0 typed models of the confirmation platform.

The student record itself lives in a JSON column keyed by the field schema (confirm/fields.py), so a
new field is a schema edit, not a new column or code path. Columns that queries need (name, ID
number) are kept beside it by ``Student.set_value``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from confirm.districts import DistrictKind
from confirm.roles import STAFF_ACCOUNT_ROLES, Role
from confirm.states import (
    ARCHIVE_OPEN,
    ArchiveScope,
    ArchiveStatus,
    BatchItemStatus,
    ConflictChoice,
    CorrectionStatus,
    ImportStatus,
    MessageKind,
    MessageStatus,
    RepeatState,
    State,
    Submission,
    allowed_values,
)
from confirm.storage_keys import PendingState


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC — the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use aware UTC datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


JsonDict = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for Alembic."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JsonDict}


class District(Base):
    """A supervising department: a county bureau (县教育局) or a central school (中心校), maybe inside another."""

    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)  # e.g. the division code 520325 or an own code
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[District | None] = relationship(remote_side="District.id")

    __table_args__ = (
        CheckConstraint(f"kind in ({allowed_values(DistrictKind)})", name="kind_known"),
        CheckConstraint("parent_id is null or parent_id <> id", name="not_own_parent"),
    )


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)  # 学校标识码
    name: Mapped[str] = mapped_column(String(100))
    # The district the school belongs to now (kept in step with its open SchoolDistrictMembership).
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    district: Mapped[District | None] = relationship()

    __table_args__ = (CheckConstraint("length(code) = 10", name="code_10_digits"),)


class SchoolDistrictMembership(Base):
    """A school's time in a district: a school moved mid-campaign keeps its old row (closed with ``to_date``), so
    the old district's history stays, and the new district sees it from ``from_date`` on."""

    __tablename__ = "school_district_memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date | None] = mapped_column(Date)  # the last day in the district; None: still there
    created_by_kind: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    school: Mapped[School] = relationship()
    district: Mapped[District] = relationship()

    __table_args__ = (
        Index("ix_school_district_memberships_district", "district_id", "to_date"),
        # one open membership per school: a second concurrent move fails on this, not on a read
        Index("uq_school_district_memberships_open", "school_id", unique=True,
              sqlite_where=text("to_date IS NULL"), postgresql_where=text("to_date IS NULL")),
        CheckConstraint("to_date is null or to_date >= from_date", name="dates_ordered"),
    )


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)  # None: a supervisor
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)  # a supervisor's
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_verified_at: Mapped[datetime | None]  # set when an SMS code sent to ``phone`` was entered
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    session_nonce: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # set for a new account and after the admin's reset: the user chooses a password before anything else
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    school: Mapped[School | None] = relationship()
    district: Mapped[District | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"role in ({', '.join(repr(r.value) for r in STAFF_ACCOUNT_ROLES)})", name="role_known"),
        # a supervisor belongs to one district and no school; school staff to one school and no district
        CheckConstraint(f"(role = '{Role.SUPERVISOR.value}' and school_id is null and district_id is not null) or "
                        f"(role <> '{Role.SUPERVISOR.value}' and school_id is not null and district_id is null)",
                        name="school_or_district"),
    )

    @property
    def is_admin(self) -> bool:
        """True for the school's registry admin (学籍管理员)."""
        return self.role == Role.SCHOOL_ADMIN

    @property
    def is_supervisor(self) -> bool:
        """True for a district's supervisor (主管部门用户)."""
        return self.role == Role.SUPERVISOR


class SchoolClass(Base):
    __tablename__ = "classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    grade: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(40))
    class_code: Mapped[str | None] = mapped_column(String(20))  # 班号 in the national template
    head_teacher_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)

    school: Mapped[School] = relationship()
    head_teacher: Mapped[StaffUser | None] = relationship()

    __table_args__ = (UniqueConstraint("school_id", "grade", "name"),)

    @property
    def title(self) -> str:
        """e.g. 三年级 2班."""
        return f"{self.grade} {self.name}"


class Student(Base):
    __tablename__ = "students"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    name: Mapped[str] = mapped_column(String(50), index=True)
    id_number: Mapped[str | None] = mapped_column(String(30))
    upload_no: Mapped[str] = mapped_column(String(12), unique=True)  # 拍照上传号 printed on the sheet
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped whenever the record changes, so a sheet printed before the change is recognised as old.
    record_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    school_class: Mapped[SchoolClass] = relationship()
    members: Mapped[list[FamilyMember]] = relationship(
        back_populates="student", order_by="FamilyMember.slot", cascade="all, delete-orphan"
    )

    # The school's list of students pages by name (admin school page).
    __table_args__ = (UniqueConstraint("school_id", "id_number"),
                      Index("ix_students_school_id_name", "school_id", "name"))

    def value(self, key: str) -> str:
        """The stored value of record field ``key`` ("" when empty)."""
        return (self.record or {}).get(key, "")

    def set_value(self, key: str, value: str) -> None:
        """Set one record field, keeping the indexed columns in step."""
        record = dict(self.record or {})
        if value:
            record[key] = value
        else:
            record.pop(key, None)
        self.record = record  # reassign so the JSON change is tracked
        self.record_version = (self.record_version or 1) + 1
        if key == "name":
            self.name = value
        elif key == "id_number":
            self.id_number = value or None

    def replace_record(self, record: dict[str, str]) -> None:
        """Replace the whole record at once (imports), keeping the indexed columns in step."""
        self.record = {k: v for k, v in record.items() if v}
        self.record_version = (self.record_version or 1) + 1
        self.name = self.record.get("name", "")
        self.id_number = self.record.get("id_number") or None

    def member(self, slot: int) -> FamilyMember | None:
        """Family member 1 or 2, if recorded."""
        return next((m for m in self.members if m.slot == slot), None)


class FamilyMember(Base):
    __tablename__ = "family_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)

    student: Mapped[Student] = relationship(back_populates="members")

    __table_args__ = (
        UniqueConstraint("student_id", "slot"),
        CheckConstraint("slot in (1, 2)", name="slot_1_or_2"),
    )

    def value(self, key: str) -> str:
        """The stored value of member field ``key`` ("" when empty)."""
        return (self.record or {}).get(key, "")

    def set_value(self, key: str, value: str) -> None:
        """Set one member field."""
        record = dict(self.record or {})
        if value:
            record[key] = value
        else:
            record.pop(key, None)
        self.record = record


class ParentAccount(Base):
    __tablename__ = "parent_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    platform_no: Mapped[str] = mapped_column(String(12), unique=True)  # 平台号
    password_hash: Mapped[str] = mapped_column(String(200))
    session_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The guardian's consent to the privacy notice (confirm.privacy): when it was given, to which version of the text
    # (renewed at each child's registration; empty for accounts made before consent was asked).
    privacy_consented_at: Mapped[datetime | None]
    privacy_notice_version: Mapped[str | None] = mapped_column(String(20))

    guardianships: Mapped[list[Guardianship]] = relationship(back_populates="parent")


class Guardianship(Base):
    """A parent account linked to a student through the student's registration code."""

    __tablename__ = "guardianships"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("parent_accounts.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    registration_code_id: Mapped[int | None] = mapped_column(ForeignKey("registration_codes.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[ParentAccount] = relationship(back_populates="guardianships")
    student: Mapped[Student] = relationship()

    __table_args__ = (UniqueConstraint("parent_id", "student_id"),)


class RegistrationCode(Base):
    """A student's 注册码. Only a keyed hash is kept; the code is shown once when issued."""

    __tablename__ = "registration_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    used_at: Mapped[datetime | None]
    used_by_parent_id: Mapped[int | None] = mapped_column(ForeignKey("parent_accounts.id"))
    revoked_at: Mapped[datetime | None]

    student: Mapped[Student] = relationship()

    # One working code per student: issuing a new one revokes the old in the same transaction.
    __table_args__ = (Index("uq_registration_codes_active_student", "student_id", unique=True,
                            sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[date] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # True once the campaign's sheets are printed by this platform with QR codes: photos must then show one.
    require_sheet_qr: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The national system's rule: a key-data change the school admin passed still needs the district's approval
    # (关键数据变更核办). False: it ends at the school admin.
    key_data_needs_district: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StoredFile(Base):
    """An object in storage (a sanitised sheet photo or a proof document) and its checksum."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    thumbnail_key: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Quality-gate figures and, when a head teacher accepted a photo the gate refused, the reason.
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'"))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    confirmation_id: Mapped[int | None] = mapped_column(ForeignKey("confirmations.id", use_alter=True), index=True)
    uploaded_by_kind: Mapped[str] = mapped_column(String(10))
    uploaded_by_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint("kind in ('sheet', 'proof')", name="kind_known"),)


class Confirmation(Base):
    """One student's confirmation in one campaign."""

    __tablename__ = "confirmations"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), default=State.OPEN.value)
    sheet_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    submitted_at: Mapped[datetime | None]
    submitted_by_kind: Mapped[str | None] = mapped_column(String(10))
    submitted_by_id: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    return_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    student: Mapped[Student] = relationship()
    campaign: Mapped[Campaign] = relationship()
    sheet_file: Mapped[StoredFile | None] = relationship(foreign_keys=[sheet_file_id])
    corrections: Mapped[list[FieldCorrection]] = relationship(
        back_populates="confirmation", order_by="(FieldCorrection.slot, FieldCorrection.id)",
        cascade="all, delete-orphan",
    )
    events: Mapped[list[ConfirmationEvent]] = relationship(order_by="ConfirmationEvent.id")

    __table_args__ = (
        UniqueConstraint("campaign_id", "student_id"),
        CheckConstraint(f"state in ({allowed_values(State)})", name="state_known"),
        CheckConstraint("state = 'open' or sheet_file_id is not null", name="submitted_has_sheet"),
    )


class ConfirmationEvent(Base):
    """History of a confirmation: every transition, who made it and why."""

    __tablename__ = "confirmation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("confirmations.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # a submission only: how the sheet came (Submission) and which photo it was
    via: Mapped[str | None] = mapped_column(String(12))
    sheet_file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))

    __table_args__ = (
        CheckConstraint(f"via is null or via in ({allowed_values(Submission)})", name="via_known"),
    )


class FieldCorrection(Base):
    """A requested change of one field: the value shown on the sheet and the parent's correction."""

    __tablename__ = "field_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation_id: Mapped[int] = mapped_column(ForeignKey("confirmations.id", ondelete="CASCADE"))
    slot: Mapped[int] = mapped_column(Integer)  # 0 student, 1/2 family member
    field_key: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str] = mapped_column(Text, default="")
    new_value: Mapped[str] = mapped_column(Text)
    is_key_data: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), default=CorrectionStatus.DRAFT.value)
    requested_by_kind: Mapped[str] = mapped_column(String(10))
    requested_by_id: Mapped[int] = mapped_column(Integer)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)  # why the school (or the district) rejected it
    # 核办: the school admin's opinion when passing a key-data change on to the district, and the district's decision
    school_opinion: Mapped[str | None] = mapped_column(Text)
    school_passed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    school_passed_at: Mapped[datetime | None]
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))  # the district it was sent to
    district_decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    district_decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    confirmation: Mapped[Confirmation] = relationship(back_populates="corrections")

    __table_args__ = (
        UniqueConstraint("confirmation_id", "slot", "field_key"),
        Index("ix_field_corrections_status", "status", "district_id"),
        CheckConstraint(f"status in ({allowed_values(CorrectionStatus)})", name="status_known"),
        CheckConstraint("slot in (0, 1, 2)", name="slot_known"),
    )


class SchoolProgress(Base):
    """A school's counts per stage in its running campaign, as last counted: what a district page of many schools
    reads instead of counting every student on every view (see confirm/services/district_stats.py)."""

    __tablename__ = "school_progress"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))  # the campaign counted
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Stage value → students
    key_data_waiting: Mapped[int] = mapped_column(Integer, default=0)  # key-data changes waiting for the district
    counted_at: Mapped[datetime] = mapped_column(index=True)


class DistrictMessage(Base):
    """A supervisor's message to a school's admins: read in the platform, and sent by SMS through the outbox."""

    __tablename__ = "district_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]  # when a school admin first opened it
    read_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))

    sender: Mapped[StaffUser] = relationship(foreign_keys=[sender_id])
    district: Mapped[District] = relationship()

    __table_args__ = (Index("ix_district_messages_school", "school_id", "created_at"),)


class SmsChallenge(Base):
    """A 6-digit code sent by SMS: hashed, single use, expiring, with a bounded number of tries."""

    __tablename__ = "sms_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(40), index=True)  # e.g. staff:12 — for per-actor limits
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A browser's server-side session: the cookie holds only its id, whose hash is the key here.

    Deleting the row (logout) or changing the account's nonce (password change or reset, sign-out everywhere,
    deactivation) ends the session at once, whatever copies of the cookie exist. ``expires_at`` is the earlier of
    the idle limit after ``last_seen_at`` and the absolute limit after ``created_at``.
    """

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the session id, hex
    data: Mapped[bytes] = mapped_column(LargeBinary)
    account_kind: Mapped[str | None] = mapped_column(String(10))  # parent / staff; None: not signed in
    account_id: Mapped[int | None] = mapped_column(Integer)
    account_nonce: Mapped[str | None] = mapped_column(String(32))  # the account's nonce when it signed in
    device: Mapped[str] = mapped_column(String(120), default="")  # e.g. 微信 · Android
    ip: Mapped[str | None] = mapped_column(String(45))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (Index("ix_web_sessions_account", "account_kind", "account_id"),)


class AuditEvent(Base):
    """Append-only record of security-relevant actions (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))  # parent / staff / system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(50))
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    target_type: Mapped[str | None] = mapped_column(String(30))
    target_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))

    # a student's archive reads the trail of the student, its confirmation, corrections and files by target
    __table_args__ = (Index("ix_audit_events_target", "target_type", "target_id"),)


class ImportRun(Base):
    """One import of a student file: checked (file kept for the confirm step) or committed, with its report."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    created_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"items": [...], "truncated": n}
    committed_at: Mapped[datetime | None]
    # the admin's choice for the whole file's conflicts (see ImportConflict); a field may be chosen otherwise
    conflict_choice: Mapped[str] = mapped_column(String(10), default=ConflictChoice.PLATFORM.value,
                                                 server_default=ConflictChoice.PLATFORM.value)

    __table_args__ = (
        CheckConstraint(f"status in ({allowed_values(ImportStatus)})", name="status_known"),
        CheckConstraint(f"conflict_choice in ({allowed_values(ConflictChoice)})", name="conflict_choice_known"),
    )


class ImportConflict(Base):
    """A field the running campaign changed (a correction applied or still pending) where an import's file says
    something else: the value at the campaign's start, in the file and on the platform, and which one is kept.

    On a checked run ``choice`` is the admin's choice for this field (None: the run's choice for the whole file);
    on a committed run it is what the import did.
    """

    __tablename__ = "import_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    correction_id: Mapped[int | None] = mapped_column(ForeignKey("field_corrections.id", ondelete="SET NULL"),
                                                      index=True)
    row: Mapped[int] = mapped_column(Integer)  # the file's row as Excel shows it
    slot: Mapped[int] = mapped_column(Integer)  # 0 student, 1/2 family member
    field_key: Mapped[str] = mapped_column(String(40))
    start_value: Mapped[str] = mapped_column(Text, default="")  # the correction's old value
    file_value: Mapped[str] = mapped_column(Text, default="")
    platform_value: Mapped[str] = mapped_column(Text, default="")
    corrected_value: Mapped[str] = mapped_column(Text, default="")  # the correction's new value (maybe pending)
    correction_status: Mapped[str] = mapped_column(String(20))
    choice: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (
        UniqueConstraint("run_id", "student_id", "slot", "field_key"),
        CheckConstraint(f"choice in ({allowed_values(ConflictChoice)})", name="choice_known"),
        CheckConstraint(f"correction_status in ({allowed_values(CorrectionStatus)})", name="correction_status_known"),
    )

    @property
    def is_pending(self) -> bool:
        """True when the correction was not yet decided at the time of the import."""
        return self.correction_status != CorrectionStatus.APPLIED


class Notification(Base):
    """One SMS in the outbox: written in the transaction of the change that causes it, sent after the commit by
    one sender, and kept with its status (queued, sent, failed and why) — never silently dropped.

    ``body`` is the text as staff may read it; a one-time code or temporary password is kept apart in ``secret``
    (the body holds ``{secret}`` in its place) and blanked once the message is sent or has failed for good.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("parent_accounts.id"))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    template: Mapped[str | None] = mapped_column(String(40))
    stage: Mapped[str | None] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=MessageStatus.QUEUED.value)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    scheduled_for: Mapped[datetime | None]
    sending_since: Mapped[datetime | None]  # when the current attempt was handed to the provider
    sent_at: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (
        CheckConstraint(f"status in ({allowed_values(MessageStatus)})", name="status_known"),
        CheckConstraint(f"kind in ({allowed_values(MessageKind)})", name="kind_known"),
    )


class MisuseFlag(Base):
    """Something suspicious the head teacher should look at (a code tried from many phones, a login burst)."""

    __tablename__ = "misuse_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    subject_type: Mapped[str] = mapped_column(String(30))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class BatchUpload(Base):
    """A stack of sheet photos a head teacher uploaded at once, matched to students by their QR codes."""

    __tablename__ = "batch_uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    total: Mapped[int] = mapped_column(Integer, default=0)

    items: Mapped[list[BatchItem]] = relationship(back_populates="batch", order_by="BatchItem.position")


class BatchItem(Base):
    """One photo of a batch: where it is, what matching found, and the student it was filed under."""

    __tablename__ = "batch_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch_uploads.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))  # shown to the teacher only; never used as a key
    upload_key: Mapped[str | None] = mapped_column(String(200))  # the raw upload until it is processed
    status: Mapped[str] = mapped_column(String(20), default=BatchItemStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(Text)
    qr: Mapped[str | None] = mapped_column(String(64))
    file_id: Mapped[int | None] = mapped_column(ForeignKey("stored_files.id"))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"))
    processed_at: Mapped[datetime | None]

    batch: Mapped[BatchUpload] = relationship(back_populates="items")

    __table_args__ = (
        CheckConstraint(f"status in ({allowed_values(BatchItemStatus)})", name="status_known"),
    )


class RateCounter(Base):
    """One limit's count for one key (an address, a login name, a phone, a code): how many since ``started_at``.

    Counted with one INSERT … ON CONFLICT DO UPDATE in the transaction of the request it limits, so parallel requests
    in any number of processes queue on the row and none reads a count another is about to change. ``key`` is a
    keyed hash: no phone or address is stored in clear.
    """

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)


class RepeatGuard(Base):
    """A state-changing request, by the one-time token of the form that sent it: a second request with the same token
    gets the first one's answer instead of a second effect (a double tap, a browser retry, back and resubmit).

    ``answer`` is the first response (status, redirect, flashed messages, body), encrypted with a key derived from
    the form's token, which is stored only as a keyed hash: the rows can be read by no one but the browser that holds
    the token. Rows live for minutes.
    """

    __tablename__ = "repeat_guards"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(12))
    answer: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (CheckConstraint(f"state in ({allowed_values(RepeatState)})", name="state_known"),)


class PendingObject(Base):
    """The key of an object written before the row that refers to it is committed.

    Recorded — and committed in a transaction of its own — before the object is written; deleted in the transaction
    that records the row. So a crash at any point leaves either the row, or this record: the storage sweep removes
    an object whose upload was abandoned at once, and one still "writing" only once it is older than a safe age.
    """

    __tablename__ = "pending_objects"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(12), default=PendingState.WRITING.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (CheckConstraint(f"state in ({allowed_values(PendingState)})", name="state_known"),)


class ArchiveJob(Base):
    """One requested electronic archive (电子档案) of a class or a school: a ZIP of one PDF per student, an index
    workbook and a SHA-256 manifest, built by the background worker and kept in object storage for 24 hours.

    ``scope_key`` (``class:12``, ``school:3``) names what it covers; a partial unique index allows one open (queued
    or building) job per scope, so a double tap or two admins at once queue one build.
    """

    __tablename__ = "archive_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"), index=True)
    scope: Mapped[str] = mapped_column(String(10))
    scope_key: Mapped[str] = mapped_column(String(40))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    status: Mapped[str] = mapped_column(String(12), default=ArchiveStatus.QUEUED.value)
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    object_key: Mapped[str | None] = mapped_column(String(200))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    missing_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # documents not in storage
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    progress_at: Mapped[datetime | None]  # the build's last sign of life: a job silent for long is stale
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    school_class: Mapped[SchoolClass | None] = relationship()

    __table_args__ = (
        CheckConstraint(f"status in ({allowed_values(ArchiveStatus)})", name="status_known"),
        CheckConstraint(f"scope in ({allowed_values(ArchiveScope)})", name="scope_known"),
        CheckConstraint("scope = 'school' or class_id is not null", name="class_scope_has_class"),
        Index("uq_archive_jobs_open_scope", "scope_key", unique=True,
              sqlite_where=text(f"status in ({allowed_values(ARCHIVE_OPEN)})"),
              postgresql_where=text(f"status in ({allowed_values(ARCHIVE_OPEN)})")),
    )

    @property
    def is_open(self) -> bool:
        """True while the archive is queued or being built."""
        return self.status in ARCHIVE_OPEN
