"""Wrap-up dispositions, agent tokens and agent-only callbacks.

Revision ID: rev_dispo_1
Revises: rev_writepath_1
Create Date: 2026-12-02

Why. An agent (or ops) sets a disposition on a call that reached them (issue 17): the code, a
note, who set it and when are kept on the attempt; a campaign has its own set of codes; a token
may be bound to one agent (role ``agent``); a callback may be kept for the agent who set it.

What. ``attempts.disposition`` (``varchar(16)``), ``disposition_note`` (text),
``disposed_at``, ``disposed_by``, and the callback it asks for (``callback_at``,
``callback_scope``: a disposition set during the call is applied when the call is settled);
``campaigns.dispositions`` (JSONB, ``{}``: the default codes);
``records.callback_agent`` (text: an agent-only callback's agent); ``api_tokens.agent_id`` (text)
and the role check widened to ``agent``. Nullable columns without defaults and a JSONB column
with a constant default rewrite nothing (PostgreSQL 11+ stores the default in the catalogue).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "rev_dispo_1"
down_revision = "rev_writepath_1"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("attempts", sa.Column("disposition", sa.String(16), nullable=True))
    op.add_column("attempts", sa.Column("disposition_note", sa.Text(), nullable=True))
    op.add_column("attempts", sa.Column("disposed_at", TZ, nullable=True))
    op.add_column("attempts", sa.Column("disposed_by", sa.String(128), nullable=True))
    op.add_column("attempts", sa.Column("callback_at", TZ, nullable=True))
    op.add_column("attempts", sa.Column("callback_scope", sa.String(8), nullable=True))
    op.add_column(
        "campaigns",
        sa.Column("dispositions", JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
    )
    op.add_column("records", sa.Column("callback_agent", sa.Text(), nullable=True))
    op.add_column("api_tokens", sa.Column("agent_id", sa.Text(), nullable=True))
    op.drop_constraint("token_role", "api_tokens", type_="check")
    op.create_check_constraint(
        "token_role", "api_tokens", "role IN ('admin', 'ops', 'reviewer', 'viewer', 'agent')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM api_tokens WHERE role = 'agent'")
    op.drop_constraint("token_role", "api_tokens", type_="check")
    op.create_check_constraint(
        "token_role", "api_tokens", "role IN ('admin', 'ops', 'reviewer', 'viewer')"
    )
    op.drop_column("api_tokens", "agent_id")
    op.drop_column("records", "callback_agent")
    op.drop_column("campaigns", "dispositions")
    for column in ("callback_scope", "callback_at", "disposed_by", "disposed_at",
                   "disposition_note", "disposition"):  # fmt: skip
        op.drop_column("attempts", column)
