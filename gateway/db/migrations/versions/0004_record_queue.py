"""The dialing queue leaves ``records``: resets become HOT updates plus one narrow insert.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Why. A reset turns hundreds of thousands of done records back to new. Through 0003 the dialing
index ``records_eligible`` was partial on ``status`` and ``records_campaign_phone`` carried
``status`` as an INCLUDE column, so every status change was a non-HOT update: a new row version
on another page and an entry in each of the three indexes (``dialer bench api --only reset``,
500,000 of 1,000,000 records: 340 MiB of WAL, 4.8–5.0 s on a quiet machine). Now no index of
``records`` names a column that a reset, a lease, a start or a settle changes, and the table
keeps free room on each page (``fillfactor`` 60), so those updates are HOT: the new version goes
on the same page and no index is touched (the same reset: 146 MiB, 2.4 s).

What. The records that may be leased — status new, retry or callback — each have one row in
``record_queue (campaign_id, priority, record_id, next_attempt_at)``, whose primary key is the
lease order. ``records_eligible`` is dropped; ``records_campaign_phone`` loses its INCLUDE
(per-status counts read the campaign's rows). Who keeps the queue in step:

* rows that appear or disappear — any ``INSERT`` or ``DELETE`` on ``records``, an import, a
  cascade from a deleted campaign, a hand-written statement — go through two statement-level
  triggers with transition tables (one set-based statement each, not one call per row);
* status changes are written by the statement that decides them, in the same transaction:
  ``gateway.campaigns.leasing`` (start, settle) and ``gateway.campaigns.records`` (reset, force
  complete).

The queue has no foreign keys on purpose: checking one per inserted row (a lock on the
referenced record or campaign) more than doubled the queue's share of a reset (measured:
+2.2 s to +2.8 s per 500,000 rows); the triggers above remove rows with their records instead.

Existing data. Upgrade fills the queue from the dialable records. ``fillfactor`` applies to
pages written from now on; existing full pages keep working (their updates are non-HOT, with
two index entries instead of three) until a ``VACUUM FULL records`` rewrites them, which this
migration does not do because it would lock the table for as long as the rewrite takes.
Downgrade restores the 0003 indexes and drops the queue, which holds nothing that ``records``
does not.

Hand-written; ``gateway/db/models.py`` declares the same table and indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FILLFACTOR = 60

# One statement per execute: asyncpg prepares each, and a prepared statement holds one command.
_FUNCTIONS = (
    """
CREATE FUNCTION record_queue_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO record_queue (campaign_id, priority, record_id, next_attempt_at)
    SELECT campaign_id, priority, id, next_attempt_at FROM added
    WHERE status IN ('new', 'retry', 'callback');
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION record_queue_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM record_queue q USING removed r
    WHERE q.campaign_id = r.campaign_id AND q.priority = r.priority AND q.record_id = r.id;
    RETURN NULL;
END $$
""",
)
_TRIGGERS = (
    "CREATE TRIGGER records_queue_add AFTER INSERT ON records "
    "REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION record_queue_add()",
    "CREATE TRIGGER records_queue_remove AFTER DELETE ON records "
    "REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION record_queue_remove()",
)


def upgrade() -> None:
    op.create_table(
        "record_queue",
        sa.Column("campaign_id", sa.BigInteger, nullable=False),
        sa.Column("priority", sa.SmallInteger, nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("campaign_id", "priority", "record_id", name="record_queue_pkey"),
    )
    op.execute(
        "INSERT INTO record_queue (campaign_id, priority, record_id, next_attempt_at) "
        "SELECT campaign_id, priority, id, next_attempt_at FROM records "
        "WHERE status IN ('new', 'retry', 'callback')"
    )
    for statement in (*_FUNCTIONS, *_TRIGGERS):
        op.execute(statement)
    op.drop_index("records_eligible", table_name="records")
    op.drop_index("records_campaign_phone", table_name="records")
    op.create_index("records_campaign_phone", "records", ["campaign_id", "phone"], unique=True)
    op.execute(f"ALTER TABLE records SET (fillfactor = {FILLFACTOR})")
    op.execute("ANALYZE record_queue")


def downgrade() -> None:
    op.execute("ALTER TABLE records RESET (fillfactor)")
    op.drop_index("records_campaign_phone", table_name="records")
    op.create_index(
        "records_campaign_phone",
        "records",
        ["campaign_id", "phone"],
        unique=True,
        postgresql_include=["status"],
    )
    op.create_index(
        "records_eligible",
        "records",
        ["campaign_id", "priority", "id"],
        postgresql_where=sa.text("status IN ('new', 'retry', 'callback')"),
    )
    op.execute("DROP TRIGGER records_queue_remove ON records")
    op.execute("DROP TRIGGER records_queue_add ON records")
    op.execute("DROP FUNCTION record_queue_remove()")
    op.execute("DROP FUNCTION record_queue_add()")
    op.drop_table("record_queue")
