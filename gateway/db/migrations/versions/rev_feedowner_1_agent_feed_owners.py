"""One gateway instance per Asterisk server writes that server's call-less agent webhooks.

Revision ID: rev_feedowner_1
Revises: rev_pbx_1
Create Date: 2026-12-04

Why. Every gateway instance connected to a server sees all of its queue member events, so with
two instances each ``agent.state`` webhook was queued twice. A change tied to one of our calls is
resolved only by the instance that placed the call; the others (a member's state between calls)
are now queued by the server's feed owner only.

What. ``agent_feed_owners``: one row per server (its name, as configured), the instance that
holds the lease and until when (``gateway.campaigns.feedowners``, renewed about every second).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rev_feedowner_1"
down_revision = "rev_pbx_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_feed_owners",
        sa.Column("server", sa.String(64), primary_key=True),
        sa.Column("instance_id", sa.String(64), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agent_feed_owners")
