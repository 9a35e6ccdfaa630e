"""Attempts say when the PBX, not the number, made a call fail (a restart, a crash).

Revision ID: rev_pbx_1
Revises: rev_dispo_1
Create Date: 2026-12-02

Why. A call that Asterisk hung up to restart (``core restart now``) or lost in a crash (kill -9)
was recorded ``no_answer`` or ``unknown``: counted as a no-answer, or ending its record for good.
It is now ``failed`` with the fault named, and its record stays dialable (``pacing.retry``).

What. ``attempts.fault`` (nullable ``varchar(16)``: ``pbx_restart`` or ``pbx_lost``,
``pacing.outcomes.PbxFault``), written when the attempt is settled. Adding a nullable column
without a default rewrites nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rev_pbx_1"
down_revision = "rev_dispo_1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attempts", sa.Column("fault", sa.String(16), nullable=True))


def downgrade() -> None:
    op.drop_column("attempts", "fault")
