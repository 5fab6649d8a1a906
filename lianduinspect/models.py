"""The inspection domain (DESIGN.md §2) as SQLAlchemy models; constraints live in the database."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, Computed, Date, DateTime, Float,
                        ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from .db import db
from .rules.phash_index import SUBSTRINGS, substrings

ROLES = ("inspector", "leader", "supervisor", "admin")
RISKS = ("low", "medium", "high")
SEVERITIES = ("low", "medium", "high")
CADENCES = ("monthly", "quarterly", "half_yearly", "yearly")
SAMPLE_KINDS = ("all", "fixed", "percent")
ROUND_KINDS = ("scheduled", "complaint", "campaign", "reinspection")
ROUND_STATUSES = ("planned", "in_progress", "completed", "overdue", "cancelled")
VISIT_STATUSES = ("pending", "inspected", "unreachable", "skipped")
EXEMPTIONS = ("high_risk", "complaint", "reinspection")
# Why a body was kept aside: its UUID holds other content; its visit has a record it does not say
# it corrects; it corrects a revision someone has corrected already.
CONFLICT_REASONS = ("same_uuid", "visit_inspected", "stale_supersedes")
RESULTS = ("pass", "fail", "na")
OUTCOMES = ("pass", "rectify", "refer")
INSPECTION_STATUSES = ("submitted", "approved", "rejected", "needs_evidence", "superseded")
DECISIONS = ("approved", "rejected", "needs_evidence")
RECTIFICATION_STATUSES = ("open", "reinspection_planned", "closed")


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Store aware datetimes as UTC; SQLite gives them back naive, so mark them UTC again."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def phash_columns(phash: str | None) -> dict[str, int | None]:
    """Return Evidence's substring columns for a perceptual hash (all None without one)."""
    parts = substrings(phash) if phash is not None else (None,) * SUBSTRINGS
    return {f"phash_q{k}": part for k, part in enumerate(parts)}


def _in(column: str, values: tuple[str, ...]) -> str:
    """Return SQL that allows only these values in a column."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Department(db.Model):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    short: Mapped[str] = mapped_column(String(16))


class Area(db.Model):
    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # 街道 / 镇 / 乡
    mode: Mapped[str] = mapped_column(String(8))  # 赋权 / 派驻 / 辐射
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class SquadArea(db.Model):
    __tablename__ = "squad_areas"
    squad_id: Mapped[int] = mapped_column(ForeignKey("squads.id", ondelete="CASCADE"), primary_key=True)
    # An area is covered by exactly one squad.
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True, unique=True)


class Squad(db.Model):
    __tablename__ = "squads"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    areas: Mapped[list[Area]] = relationship(secondary="squad_areas", order_by="Area.id")
    members: Mapped[list["User"]] = relationship(back_populates="squad", order_by="User.id")


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    squad_id: Mapped[int | None] = mapped_column(ForeignKey("squads.id"))
    certificate_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    department: Mapped[Department | None] = relationship()
    squad: Mapped[Squad | None] = relationship(back_populates="members")

    @property
    def department_code(self) -> str | None:
        return self.department.code if self.department else None

    @property
    def roles(self) -> list[str]:
        return sorted(r.role for r in self.role_rows)

    def has(self, *roles: str) -> bool:
        """Return whether the user holds any of these roles."""
        return any(r.role in roles for r in self.role_rows)


class AuthSession(db.Model):
    """A server-side session; the cookie holds a random token whose SHA-256 is the key."""

    __tablename__ = "auth_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(db.Model):
    """Failed sign-ins per account, kept in the database so every worker process sees them."""

    __tablename__ = "login_throttle"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Scene(db.Model):
    __tablename__ = "scenes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    versions: Mapped[list["SceneVersion"]] = relationship(
        back_populates="scene", order_by="SceneVersion.version")


class SceneVersion(db.Model):
    """An immutable version of a scene; editing a scene adds one, rounds pin theirs."""

    __tablename__ = "scene_versions"
    __table_args__ = (
        UniqueConstraint("scene_id", "version"),
        CheckConstraint(_in("cadence", CADENCES), name="cadence"),
        CheckConstraint(_in("sample_kind", SAMPLE_KINDS), name="sample_kind"),
        CheckConstraint("sample_value >= 0", name="sample_value"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    cadence: Mapped[str] = mapped_column(String(16))
    sample_kind: Mapped[str] = mapped_column(String(8))
    sample_value: Mapped[int] = mapped_column(Integer, default=0)
    departments: Mapped[list] = mapped_column(JSON)  # department codes taking part
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scene: Mapped[Scene] = relationship(back_populates="versions")
    items: Mapped[list["ChecklistItem"]] = relationship(
        order_by="ChecklistItem.position", cascade="all, delete-orphan", lazy="selectin")


class ChecklistItem(db.Model):
    __tablename__ = "checklist_items"
    __table_args__ = (
        UniqueConstraint("scene_version_id", "code"),
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scene_version_id: Mapped[int] = mapped_column(ForeignKey("scene_versions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    text: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    photo_required_on_fail: Mapped[bool] = mapped_column(Boolean, default=True)
    department: Mapped[Department] = relationship(lazy="joined")


class Target(db.Model):
    __tablename__ = "targets"
    __table_args__ = (
        CheckConstraint(_in("risk", RISKS), name="risk"),
        CheckConstraint("length(credit_code) = 18", name="credit_code_length"),
        CheckConstraint("lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="gps"),
        Index("ix_targets_category_area", "category", "area_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    category: Mapped[str] = mapped_column(String(32))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    address: Mapped[str] = mapped_column(String(255))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    risk: Mapped[str] = mapped_column(String(8), default="low")
    contact_name: Mapped[str | None] = mapped_column(String(64))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    area: Mapped[Area] = relationship(lazy="joined")


class InspectorConflict(db.Model):
    """A declared conflict of interest (回避): this inspector must not inspect this target."""

    __tablename__ = "inspector_conflicts"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(255))


class Round(db.Model):
    __tablename__ = "rounds"
    __table_args__ = (
        CheckConstraint(_in("kind", ROUND_KINDS), name="kind"),
        CheckConstraint(_in("status", ROUND_STATUSES), name="status"),
        CheckConstraint("window_end > window_start", name="window"),
        # Exactly one generated round per (scene, squad, period), however many schedulers run.
        Index("uq_rounds_scheduled", "scene_id", "squad_id", "period_key", unique=True,
              sqlite_where=text("kind = 'scheduled'"), postgresql_where=text("kind = 'scheduled'")),
        # One re-inspection round (复查) per scene, squad and month, however often the job runs.
        Index("uq_rounds_reinspection", "scene_id", "squad_id", "period_key", unique=True,
              sqlite_where=text("kind = 'reinspection'"), postgresql_where=text("kind = 'reinspection'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    scene_id: Mapped[int] = mapped_column(ForeignKey("scenes.id"))
    scene_version_id: Mapped[int] = mapped_column(ForeignKey("scene_versions.id"))
    squad_id: Mapped[int] = mapped_column(ForeignKey("squads.id"), index=True)
    period_key: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="scheduled")
    status: Mapped[str] = mapped_column(String(16), default="planned")
    title: Mapped[str | None] = mapped_column(String(128))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    seed: Mapped[str | None] = mapped_column(String(64))
    algorithm_version: Mapped[str | None] = mapped_column(String(32))
    candidates_digest: Mapped[str | None] = mapped_column(String(64))
    draw: Mapped[dict | None] = mapped_column(JSON)  # the stored result, for `rounds explain`
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    scene_version: Mapped[SceneVersion] = relationship(lazy="joined")
    squad: Mapped[Squad] = relationship()
    members: Mapped[list[User]] = relationship(secondary="round_members", order_by="User.id")
    # Every visit this round is served by, joint ones included (read-only: visits are written in bulk).
    visits: Mapped[list["Visit"]] = relationship(secondary="visit_rounds", order_by="Visit.id", viewonly=True)


class RoundMember(db.Model):
    __tablename__ = "round_members"
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class Visit(db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        CheckConstraint(_in("status", VISIT_STATUSES), name="status"),
        CheckConstraint(f"exemption IS NULL OR {_in('exemption', EXEMPTIONS)}", name="exemption"),
        CheckConstraint("status != 'skipped' OR skip_reason IS NOT NULL", name="skip_reason"),
        Index("ix_visits_target_month", "target_id", "planned_month"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)  # the round that planned it
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"))
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 检查码, unguessable
    status: Mapped[str] = mapped_column(String(16), default="pending")
    skip_reason: Mapped[str | None] = mapped_column(Text)
    planned_month: Mapped[str] = mapped_column(String(7))
    exemption: Mapped[str | None] = mapped_column(String(16))
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    round: Mapped[Round] = relationship(foreign_keys=[round_id])
    target: Mapped[Target] = relationship(lazy="joined")
    rounds: Mapped[list[Round]] = relationship(secondary="visit_rounds", order_by="Round.id")


class VisitRound(db.Model):
    """The rounds a visit serves: more than one when scenes are merged into a joint visit."""

    __tablename__ = "visit_rounds"
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), primary_key=True, index=True)


class Inspection(db.Model):
    """One revision of what happened at a visit; immutable once stored."""

    __tablename__ = "inspections"
    __table_args__ = (
        UniqueConstraint("visit_id", "revision"),
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(_in("status", INSPECTION_STATUSES), name="status"),
        CheckConstraint("finished_at >= started_at", name="times"),
        CheckConstraint("revision >= 1", name="revision"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("inspections.id"))
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(8))
    notes: Mapped[str | None] = mapped_column(Text)
    late_reason: Mapped[str | None] = mapped_column(Text)
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    body_digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical body: replay vs conflict
    # SHA-256 of the body exactly as sent (canonical JSON): a replay is recognised before validation.
    wire_digest: Mapped[str | None] = mapped_column(String(64))
    evidence_complete: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[list | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    visit: Mapped[Visit] = relationship()
    inspectors: Mapped[list[User]] = relationship(secondary="inspection_inspectors", order_by="User.id")
    results: Mapped[list["ItemResult"]] = relationship(order_by="ItemResult.id", cascade="all, delete-orphan")
    photos: Mapped[list["InspectionPhoto"]] = relationship(order_by="InspectionPhoto.id", cascade="all, delete-orphan")


class InspectionInspector(db.Model):
    __tablename__ = "inspection_inspectors"
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class ItemResult(db.Model):
    __tablename__ = "item_results"
    __table_args__ = (
        UniqueConstraint("inspection_id", "item_id"),
        CheckConstraint(_in("result", RESULTS), name="result"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("checklist_items.id"))
    result: Mapped[str] = mapped_column(String(4))
    note: Mapped[str | None] = mapped_column(Text)


class InspectionPhoto(db.Model):
    """A photo the record expects, for one item or the scene; it may arrive before or after."""

    __tablename__ = "inspection_photos"
    __table_args__ = (UniqueConstraint("inspection_id", "sha256"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("checklist_items.id"))
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the phone's clock
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)


class Evidence(db.Model):
    """A photo's original bytes (by SHA-256) and the facts read from them; stored once."""

    __tablename__ = "evidence"
    # The hash's four 16-bit substrings, for the near-duplicate search (rules/phash_index.py,
    # services/authenticity.py); each index carries the hash too, so candidates are read from the
    # index alone. Set with phash by the validator below; a Core insert takes phash_columns().
    __table_args__ = (
        Index("ix_evidence_phash_q0", "phash_q0", "phash"),
        Index("ix_evidence_phash_q1", "phash_q1", "phash"),
        Index("ix_evidence_phash_q2", "phash_q2", "phash"),
        Index("ix_evidence_phash_q3", "phash_q3", "phash"),
    )
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(8))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    facts: Mapped[dict] = mapped_column(JSON)
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    phash_q0: Mapped[int | None] = mapped_column(Integer)
    phash_q1: Mapped[int | None] = mapped_column(Integer)
    phash_q2: Mapped[int | None] = mapped_column(Integer)
    phash_q3: Mapped[int | None] = mapped_column(Integer)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("phash")
    def _set_phash_substrings(self, _key: str, phash: str | None) -> str | None:
        """Keep the substring columns in step with the hash."""
        for column, value in phash_columns(phash).items():
            setattr(self, column, value)
        return phash


class InspectionConflict(db.Model):
    """A body that could not be stored as it came (its UUID or its visit is taken); kept for a supervisor.

    ``reason`` is one of CONFLICT_REASONS; a supervisor resolves it with a note, once.
    """

    __tablename__ = "inspection_conflicts"
    __table_args__ = (UniqueConstraint("uuid", "body_digest"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), index=True)
    body: Mapped[dict] = mapped_column(JSON)
    body_digest: Mapped[str] = mapped_column(String(64))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)  # null: kept before 0002
    reason: Mapped[str | None] = mapped_column(String(24))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution: Mapped[str | None] = mapped_column(Text)


class Rectification(db.Model):
    __tablename__ = "rectifications"
    __table_args__ = (
        UniqueConstraint("inspection_id", "item_id"),
        CheckConstraint(_in("status", RECTIFICATION_STATUSES), name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("checklist_items.id"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id"), index=True)
    squad_id: Mapped[int] = mapped_column(ForeignKey("squads.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default="open")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    reinspection_visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"))
    before_sha256: Mapped[str | None] = mapped_column(String(64))
    after_sha256: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lookback: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    item: Mapped[ChecklistItem] = relationship()
    target: Mapped[Target] = relationship()


class Review(db.Model):
    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint(_in("decision", DECISIONS), name="decision"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspections.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    item_comments: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The audit event's query columns are computed by the database from its hashed ``body`` (SQLite:
# virtual, read out of the body when queried; PostgreSQL: stored, and refused to any UPDATE), so
# they cannot disagree with what the chain proves and verification needs to hash the body only.
# The migration spells the same expressions; ``services.audit_chain`` checks the live schema still
# computes them before it relies on that. ``at`` is kept as each database stores its times
# (SQLite: SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" text, from the body's fixed-width UTC time).
_SQLITE_BODY = "CAST(body AS TEXT)"
AUDIT_COPY_SQL = {
    "sqlite": {
        "at": f"replace(substr(json_extract({_SQLITE_BODY}, '$.at'), 1, 26), 'T', ' ')",
        "actor_id": f"json_extract({_SQLITE_BODY}, '$.actor_id')",
        "action": f"json_extract({_SQLITE_BODY}, '$.action')",
        "subject_type": f"json_extract({_SQLITE_BODY}, '$.subject_type')",
        "subject_id": f"json_extract({_SQLITE_BODY}, '$.subject_id')",
        "data": f"json_extract({_SQLITE_BODY}, '$.data')",
    },
    # audit_body(bytea) -> json and audit_body_time(text) -> timestamptz are the migration's
    # IMMUTABLE wrappers (convert_from and the text-to-timestamptz cast are only STABLE).
    "postgresql": {
        "at": "audit_body_time(audit_body(body) ->> 'at')",
        "actor_id": "(audit_body(body) ->> 'actor_id')::integer",
        "action": "audit_body(body) ->> 'action'",
        "subject_type": "audit_body(body) ->> 'subject_type'",
        "subject_id": "audit_body(body) ->> 'subject_id'",
        "data": "audit_body(body) -> 'data'",
    },
}


class _FromBody(ColumnElement):
    """An audit query column's expression over ``body``, in the dialect's own SQL (for Computed)."""

    inherit_cache = True

    def __init__(self, column: str):
        self.column = column


@compiles(_FromBody)
def _compile_from_body(element, compiler, **kw):
    return AUDIT_COPY_SQL[compiler.dialect.name][element.column]


def _from_body(column: str) -> Computed:
    return Computed(_FromBody(column))  # virtual on SQLite, STORED on PostgreSQL


class AuditEvent(db.Model):
    """Append-only, hash-chained record of every state change (执法全过程记录).

    ``body`` is authoritative: the event's canonical JSON content, the bytes its hash covers after
    the previous hash. The other columns are read out of it by the database (AUDIT_COPY_SQL);
    only seq, prev_hash, hash and body are ever written.
    """

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, _from_body("at"))
    actor_id: Mapped[int | None] = mapped_column(Integer, _from_body("actor_id"))  # no FK: the record outlives accounts
    action: Mapped[str] = mapped_column(String(48), _from_body("action"), index=True)
    subject_type: Mapped[str] = mapped_column(String(32), _from_body("subject_type"))
    subject_id: Mapped[str] = mapped_column(String(64), _from_body("subject_id"))
    data: Mapped[dict] = mapped_column(JSON, _from_body("data"))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHead(db.Model):
    """The single row writers lock to extend the chain one at a time."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(db.Model):
    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(primary_key=True)
    length: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    signed: Mapped[dict] = mapped_column(JSON)


class PublicRateSalt(db.Model):
    """A random salt per minute window for the public endpoints' rate counters; dropped after it."""

    __tablename__ = "public_rate_salts"
    window: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                        autoincrement=False)  # minutes since the epoch
    salt: Mapped[str] = mapped_column(String(64))


class PublicRateCounter(db.Model):
    """Requests in one minute window per salted hash of a client address or a visit code.

    The salt dies with its window, so a counter can never be traced back to an address later,
    and nothing here refers to evaluations.
    """

    __tablename__ = "public_rate_counters"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    count: Mapped[int] = mapped_column(Integer)


class Evaluation(db.Model):
    """An anonymous rating from the inspected enterprise; nothing links it to a device or person."""

    __tablename__ = "evaluations"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_on: Mapped[date] = mapped_column(Date)  # a day, not a time, to blunt timing links
