"""Campaigns, records, attempts, caller-ID numbers, DNC, governance, audit, tokens, webhooks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Hand-written; ``gateway/db/models.py`` declares the same tables and ``tests/db/test_schema.py``
checks the two agree. Status lists in CHECK constraints mirror the StrEnums of the models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, TZ, server_default=sa.func.now(), nullable=False)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(name, JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False)


def _fk(name: str, target: str, *, nullable: bool = False, pk: bool = False) -> sa.Column[object]:
    return sa.Column(
        name,
        sa.BigInteger,
        sa.ForeignKey(target, ondelete="CASCADE"),
        nullable=nullable,
        primary_key=pk,
    )


def _identity() -> sa.Column[object]:
    return sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)


def _str(name: str, length: int, default: str | None = None) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), server_default=default, nullable=False)


def _int(name: str, default: str, kind: type[sa.Integer] = sa.Integer) -> sa.Column[object]:
    return sa.Column(name, kind(), server_default=default, nullable=False)


def _text(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Text, server_default="", nullable=False)


def _campaigns() -> None:
    op.create_table(
        "campaigns",
        _identity(),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        _str("time_zone", 64, "UTC"),
        _str("default_region", 2, "US"),
        _json("schedule"),
        _int("callee_window_start", "480", sa.SmallInteger),
        _int("callee_window_end", "1260", sa.SmallInteger),
        _str("pacing_mode", 16, "progressive"),
        _json("pacing"),
        sa.Column("abandon_target", sa.Float, server_default="0.03", nullable=False),
        _str("queue", 128, ""),
        _json("retry_rules"),
        _int("max_attempts", "3"),
        _int("abandon_holdoff_s", "259200"),
        _str("state", 16, "ready"),
        _str("owner", 128, ""),
        _str("resume_owner", 128, ""),
        sa.Column("controlled_until", TZ, nullable=True),
        sa.Column("controlled_max_calls", sa.Integer, nullable=True),
        sa.Column("controlled_progressive", sa.Boolean, server_default="false", nullable=False),
        _now("created_at"),
        _now("updated_at"),
        _int("version", "1"),
        sa.CheckConstraint(
            "state IN ('ready', 'running', 'paused', 'stopped', 'completed')", name="campaign_state"
        ),
        sa.CheckConstraint(
            "pacing_mode IN ('progressive', 'power', 'predictive')", name="campaign_pacing_mode"
        ),
        sa.CheckConstraint("abandon_target >= 0 AND abandon_target <= 1", name="campaign_abandon"),
    )


def _records() -> None:
    op.create_table(
        "records",
        _identity(),
        _fk("campaign_id", "campaigns.id"),
        sa.Column("phone", sa.String(16), nullable=False),
        _text("name"),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("time_zones", sa.ARRAY(sa.Text), server_default=sa.text("'{}'"), nullable=False),
        _int("priority", "50", sa.SmallInteger),
        _text("skill"),
        _text("agent"),
        _json("custom"),
        _str("status", 16, "new"),
        _text("reason"),
        sa.Column("disposition", sa.String(16), nullable=True),
        _int("attempts", "0"),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("callback_at", TZ, nullable=True),
        sa.Column("caller_id", sa.String(16), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", TZ, nullable=True),
        sa.Column("last_attempt_at", TZ, nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("priority BETWEEN 1 AND 99", name="record_priority"),
        sa.CheckConstraint(
            "status IN ('new', 'retry', 'callback', 'dialing', 'done', 'dnc')",
            name="record_status",
        ),
    )
    op.create_index("records_campaign_phone", "records", ["campaign_id", "phone"], unique=True)
    op.create_index(
        "records_eligible",
        "records",
        ["campaign_id", "priority", "id"],
        postgresql_where=sa.text("status IN ('new', 'retry', 'callback')"),
    )
    op.create_index("records_campaign_status", "records", ["campaign_id", "status"])


def _attempts() -> None:
    op.create_table(
        "attempts",
        sa.Column("id", sa.String(32), primary_key=True),
        _fk("campaign_id", "campaigns.id"),
        _fk("record_id", "records.id"),
        sa.Column("instance_id", sa.String(64), nullable=False),
        sa.Column("server", sa.String(64), nullable=False),
        sa.Column("caller_id", sa.String(16), nullable=False),
        _str("status", 16, "dialing"),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("q850_cause", sa.SmallInteger, nullable=True),
        sa.Column("originated_at", TZ, nullable=False),
        sa.Column("first_ring_at", TZ, nullable=True),
        sa.Column("answered_at", TZ, nullable=True),
        sa.Column("agent_connected_at", TZ, nullable=True),
        sa.Column("hangup_at", TZ, nullable=True),
        sa.Column("settled_at", TZ, nullable=True),
        sa.Column("agent", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('dialing', 'settled')", name="attempt_status"),
    )
    op.create_index("attempts_record", "attempts", ["record_id"])
    op.create_index("attempts_campaign_originated", "attempts", ["campaign_id", "originated_at"])
    op.create_index(
        "attempts_unsettled_instance",
        "attempts",
        ["instance_id"],
        postgresql_where=sa.text("status = 'dialing'"),
    )
    op.create_index(
        "attempts_unsettled_server",
        "attempts",
        ["server"],
        postgresql_where=sa.text("status = 'dialing'"),
    )


def _numbers() -> None:
    op.create_table(
        "callerid_numbers",
        _identity(),
        sa.Column("number", sa.String(16), nullable=False, unique=True),
        _str("status", 16, "active"),
        _int("max_concurrent", "1"),
        _int("max_per_day", "100"),
        _int("cooldown_s", "0"),
        _str("region", 16, ""),
        sa.Column("health", sa.Float, server_default="1.0", nullable=False),
        _text("rest_reason"),
        _now("created_at"),
        _now("updated_at"),
        sa.CheckConstraint("status IN ('active', 'resting', 'retired')", name="number_status"),
    )
    op.create_table(
        "campaign_numbers",
        _fk("campaign_id", "campaigns.id", pk=True),
        _fk("number_id", "callerid_numbers.id", pk=True),
    )
    op.create_table(
        "dnc_numbers",
        sa.Column("phone", sa.String(16), primary_key=True),
        _text("reason"),
        _str("added_by", 128, ""),
        _now("added_at"),
    )


def _governance() -> None:
    op.create_table(
        "pause_events",
        _identity(),
        _fk("campaign_id", "campaigns.id"),
        sa.Column("paused_by", sa.String(128), nullable=False),
        sa.Column("paused_at", TZ, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("resumed_by", sa.String(128), nullable=True),
        sa.Column("resumed_at", TZ, nullable=True),
        sa.Column("checklist", JSONB, nullable=True),
        sa.Column("controlled", JSONB, nullable=True),
        sa.CheckConstraint(
            "category IN ('timing', 'call_quality', 'logging', 'compliance', "
            "'customer_experience', 'process_failure', 'other')",
            name="pause_category",
        ),
    )
    op.create_index("pause_events_campaign", "pause_events", ["campaign_id", "paused_at"])
    op.create_table(
        "audit_log",
        _identity(),
        _now("at"),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
    )
    op.create_index("audit_log_entity", "audit_log", ["entity", "entity_id", "id"])
    op.create_table(
        "api_tokens",
        _identity(),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        _str("created_by", 128, ""),
        _now("created_at"),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.CheckConstraint("role IN ('admin', 'ops', 'reviewer', 'viewer')", name="token_role"),
    )


def _webhooks() -> None:
    op.create_table(
        "webhooks",
        _identity(),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        _fk("campaign_id", "campaigns.id", nullable=True),
        sa.Column("events", sa.ARRAY(sa.Text), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("active", sa.Boolean, server_default="true", nullable=False),
        _now("created_at"),
    )
    op.create_table(
        "webhook_deliveries",
        _identity(),
        _fk("webhook_id", "webhooks.id"),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        _str("status", 16, "pending"),
        _int("attempts", "0"),
        _now("next_attempt_at"),
        sa.Column("last_status", sa.Integer, nullable=True),
        _text("last_error"),
        _now("created_at"),
        sa.Column("delivered_at", TZ, nullable=True),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="delivery_status"),
    )
    op.create_index(
        "webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "campaign_pacers",
        _fk("campaign_id", "campaigns.id", pk=True),
        sa.Column("instance_id", sa.String(64), nullable=False),
        sa.Column("lease_expires_at", TZ, nullable=False),
    )


def upgrade() -> None:
    _campaigns()
    _records()
    _attempts()
    _numbers()
    _governance()
    _webhooks()


def downgrade() -> None:
    for table in (
        "campaign_pacers",
        "webhook_deliveries",
        "webhooks",
        "api_tokens",
        "audit_log",
        "pause_events",
        "dnc_numbers",
        "campaign_numbers",
        "callerid_numbers",
        "attempts",
        "records",
        "campaigns",
    ):
        op.drop_table(table)
