"""Attempts keep the AMD result as the call goes, so a crash cannot lose what decided it.

Revision ID: rev_writepath_1
Revises: 0005
Create Date: 2026-12-02

Why. What decides an attempt's outcome — answered, the agent it reached, the AMD result — was
held in memory until the call ended; a kill -9 of the gateway turned calls that were talking to
agents into ``unknown``. Answer and agent-connect times already have columns on ``attempts``;
the AMD result had none.

What. ``attempts.amd_status`` (nullable ``varchar(16)``: Asterisk's ``AMDSTATUS``), written with
the other progress columns while the attempt is ``dialing`` (``gateway.campaigns.batches``).
Adding a nullable column without a default rewrites nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rev_writepath_1"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("amd_status", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("attempts", "amd_status")
