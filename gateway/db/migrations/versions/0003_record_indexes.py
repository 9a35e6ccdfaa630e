"""Fewer indexes on records: bulk resets and imports maintain three instead of four.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

A reset turns hundreds of thousands of done records back to new. Because ``status`` changes
(and the dialing index ``records_eligible`` is partial on it), every such update is non-HOT and
adds an entry to every index of the table; measured on 1,000,000 records, each index costs
about 1.5 s of a 500,000-row reset. ``records_campaign_status`` (campaign_id, status) only
served the per-status counts, so it goes; the unique ``records_campaign_phone`` index carries
``status`` as an INCLUDE column instead, which keeps those counts index-only scans.

Hand-written; ``gateway/db/models.py`` declares the same indexes.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("records_campaign_status", table_name="records")
    op.drop_index("records_campaign_phone", table_name="records")
    op.create_index(
        "records_campaign_phone",
        "records",
        ["campaign_id", "phone"],
        unique=True,
        postgresql_include=["status"],
    )


def downgrade() -> None:
    op.drop_index("records_campaign_phone", table_name="records")
    op.create_index("records_campaign_phone", "records", ["campaign_id", "phone"], unique=True)
    op.create_index("records_campaign_status", "records", ["campaign_id", "status"])
