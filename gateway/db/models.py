"""SQLAlchemy 2 declarative models: the schema the migrations create.

Tables are declared here and created by hand-written Alembic revisions in
``gateway/db/migrations/versions``; a test (``tests/db/test_schema.py``) runs Alembic's
autogenerate comparison against a migrated database and fails on any difference.

This module declares structure only: no queries, no sessions, no I/O. Status columns are plain
text guarded by CHECK constraints whose value lists come from the StrEnums below, so the enums and
the database cannot drift apart silently. Two statement-level triggers on ``records`` (migration
0004) keep :class:`RecordQueue` in step with inserted and deleted records, and three more
(migration 0005) write every change of the records per status to :data:`record_counts`;
autogenerate does not see triggers, so they live in the migrations only.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from pacing.callerid import NumberStatus as NumberStatus
from pacing.eligibility import DialStatus


class Base(DeclarativeBase):
    """Declarative base of every table."""


# The status vocabularies belong to the pacing core (it decides on them); the columns store them.
RecordStatus = DialStatus  # ``new``/``retry``/``callback`` are dialable

DIALABLE = (RecordStatus.NEW, RecordStatus.RETRY, RecordStatus.CALLBACK)


class AttemptStatus(enum.StrEnum):
    DIALING = "dialing"
    SETTLED = "settled"


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPS = "ops"
    REVIEWER = "reviewer"
    VIEWER = "viewer"
    AGENT = "agent"  # bound to one agent id (``api_tokens.agent_id``): its own calls only


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def _one_of(column: str, values: type[enum.StrEnum]) -> str:
    listed = ", ".join(f"'{v.value}'" for v in values)
    return f"{column} IN ({listed})"


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class ServiceInstance(Base):
    """Gateway instances seen by this database (one row per running process)."""

    __tablename__ = "service_instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    heartbeat_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Campaign(Base):
    """A campaign: its setup, lifecycle state and optimistic-concurrency version."""

    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint(
            "state IN ('ready', 'running', 'paused', 'stopped', 'completed')", name="campaign_state"
        ),
        CheckConstraint(
            "pacing_mode IN ('progressive', 'power', 'predictive')", name="campaign_pacing_mode"
        ),
        CheckConstraint("abandon_target >= 0 AND abandon_target <= 1", name="campaign_abandon"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    time_zone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    default_region: Mapped[str] = mapped_column(String(2), server_default="US")
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    callee_window_start: Mapped[int] = mapped_column(SmallInteger, server_default="480")
    callee_window_end: Mapped[int] = mapped_column(SmallInteger, server_default="1260")
    pacing_mode: Mapped[str] = mapped_column(String(16), server_default="progressive")
    pacing: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    abandon_target: Mapped[float] = mapped_column(Float, server_default="0.03")
    queue: Mapped[str] = mapped_column(String(128), server_default="")
    retry_rules: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    dispositions: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    max_attempts: Mapped[int] = mapped_column(Integer, server_default="3")
    abandon_holdoff_s: Mapped[int] = mapped_column(Integer, server_default="259200")
    state: Mapped[str] = mapped_column(String(16), server_default="ready")
    owner: Mapped[str] = mapped_column(String(128), server_default="")
    resume_owner: Mapped[str] = mapped_column(String(128), server_default="")
    controlled_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    controlled_max_calls: Mapped[int | None] = mapped_column(Integer)
    controlled_progressive: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    version: Mapped[int] = mapped_column(Integer, server_default="1")


RECORDS_FILLFACTOR = 60


class Record(Base):
    """One contact to call, with its dialing state and lease.

    No index may name a column that leasing, dialing, settling or a reset changes (status,
    attempts, next attempt, lease, outcome): then those updates are HOT — the new row version
    stays on its page, which ``fillfactor`` keeps room on, and no index is touched. Which
    records may be dialled, in which order, is :class:`RecordQueue` (migration 0004).
    """

    __tablename__ = "records"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 99", name="record_priority"),
        CheckConstraint(_one_of("status", RecordStatus), name="record_status"),
        Index("records_campaign_phone", "campaign_id", "phone", unique=True),
        {"postgresql_with": {"fillfactor": RECORDS_FILLFACTOR}},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    phone: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(Text, server_default="")
    time_zone: Mapped[str | None] = mapped_column(String(64))
    time_zones: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    priority: Mapped[int] = mapped_column(SmallInteger, server_default="50")
    skill: Mapped[str] = mapped_column(Text, server_default="")
    agent: Mapped[str] = mapped_column(Text, server_default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    status: Mapped[str] = mapped_column(String(16), server_default="new")
    reason: Mapped[str] = mapped_column(Text, server_default="")
    disposition: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    callback_agent: Mapped[str | None] = mapped_column(Text)  # an agent-only callback's agent
    caller_id: Mapped[str | None] = mapped_column(String(16))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class RecordQueue(Base):
    """The records that may be leased (status new, retry, callback), in lease order.

    One row per such record; the primary key is the lease order (campaign, priority, record id)
    and ``next_attempt_at`` repeats the record's, so records waiting for a retry are passed over
    without reading ``records``. Rows come and go with their records' status: inserts and
    deletes of records through triggers, status changes in the statements that make them
    (``gateway.campaigns.leasing``, ``gateway.campaigns.records``). No foreign keys: see
    migration 0004.
    """

    __tablename__ = "record_queue"

    campaign_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    priority: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


#: Signed changes of a campaign's records per status, written only by the triggers of migration
#: 0005; the records per status are ``sum(n)`` grouped by status. Insert-only (no primary key,
#: no row anyone updates), so concurrent writers never wait here; folded by
#: ``gateway.campaigns.counts.compact``.
record_counts = Table(
    "record_counts",
    Base.metadata,
    Column("campaign_id", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("n", BigInteger, nullable=False),
    Index("record_counts_campaign", "campaign_id"),
)


class Attempt(Base):
    """One call: created when dialing starts, settled once with its outcome."""

    __tablename__ = "attempts"
    __table_args__ = (
        CheckConstraint(_one_of("status", AttemptStatus), name="attempt_status"),
        Index("attempts_record", "record_id"),
        Index("attempts_campaign_originated", "campaign_id", "originated_at"),
        Index(
            "attempts_unsettled_instance",
            "instance_id",
            postgresql_where=text("status = 'dialing'"),
        ),
        Index("attempts_unsettled_server", "server", postgresql_where=text("status = 'dialing'")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    record_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("records.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(64))
    server: Mapped[str] = mapped_column(String(64))
    caller_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="dialing")
    outcome: Mapped[str | None] = mapped_column(String(16))
    q850_cause: Mapped[int | None] = mapped_column(SmallInteger)
    originated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_ring_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agent_connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hangup_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    agent: Mapped[str | None] = mapped_column(Text)
    amd_status: Mapped[str | None] = mapped_column(String(16))
    disposition: Mapped[str | None] = mapped_column(String(16))  # the wrap-up code, set once
    disposition_note: Mapped[str | None] = mapped_column(Text)
    disposed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disposed_by: Mapped[str | None] = mapped_column(String(128))
    callback_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    callback_scope: Mapped[str | None] = mapped_column(String(8))  # anyone | agent
    fault: Mapped[str | None] = mapped_column(String(16))  # pacing.outcomes.PbxFault


class CallerIdNumber(Base):
    """A caller-ID number of the shared pool, with its caps and health."""

    __tablename__ = "callerid_numbers"
    __table_args__ = (CheckConstraint(_one_of("status", NumberStatus), name="number_status"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    max_concurrent: Mapped[int] = mapped_column(Integer, server_default="1")
    max_per_day: Mapped[int] = mapped_column(Integer, server_default="100")
    cooldown_s: Mapped[int] = mapped_column(Integer, server_default="0")
    region: Mapped[str] = mapped_column(String(16), server_default="")
    health: Mapped[float] = mapped_column(Float, server_default="1.0")
    rest_reason: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class CampaignNumber(Base):
    """The campaign ↔ caller-ID number link (a campaign's pool)."""

    __tablename__ = "campaign_numbers"

    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    number_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("callerid_numbers.id", ondelete="CASCADE"), primary_key=True
    )


class DncNumber(Base):
    """The do-not-call list (global): E.164 numbers never dialled."""

    __tablename__ = "dnc_numbers"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    reason: Mapped[str] = mapped_column(Text, server_default="")
    added_by: Mapped[str] = mapped_column(String(128), server_default="")
    added_at: Mapped[datetime] = _now()


class PauseEvent(Base):
    """One pause of a campaign and, once resumed, who approved the resume and how."""

    __tablename__ = "pause_events"
    __table_args__ = (
        CheckConstraint(
            "category IN ('timing', 'call_quality', 'logging', 'compliance', "
            "'customer_experience', 'process_failure', 'other')",
            name="pause_category",
        ),
        Index("pause_events_campaign", "campaign_id", "paused_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    paused_by: Mapped[str] = mapped_column(String(128))
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    resumed_by: Mapped[str | None] = mapped_column(String(128))
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checklist: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    controlled: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class AuditEntry(Base):
    """Every change made through the API or CLI: who, when, what, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("audit_log_entity", "entity", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ApiToken(Base):
    """A bearer token: its name is the acting user; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(_one_of("role", Role), name="token_role"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[str | None] = mapped_column(Text)  # role ``agent``: the agent it acts as
    created_by: Mapped[str] = mapped_column(String(128), server_default="")
    created_at: Mapped[datetime] = _now()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Webhook(Base):
    """A notification target; ``campaign_id`` NULL means every campaign."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    events: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _now()


class WebhookDelivery(Base):
    """One notification to one webhook (an outbox row), with its delivery attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DeliveryStatus), name="delivery_status"),
        Index(
            "webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhooks.id", ondelete="CASCADE")
    )
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = _now()
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = _now()
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CampaignPacer(Base):
    """Which gateway instance paces a campaign, until when (one pacer per campaign)."""

    __tablename__ = "campaign_pacers"

    campaign_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AgentFeedOwner(Base):
    """Which gateway instance writes a server's call-less agent webhooks, until when."""

    __tablename__ = "agent_feed_owners"

    server: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
