"""Records per status kept as they change, so the status endpoint never counts a campaign.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Why. ``GET /v1/campaigns/{id}/status`` answered the records per status with a ``count(*)`` over
the campaign's records: about 0.2–0.35 s of a database core for 1,000,000 records, every second
while someone polls, and on a 2-core machine the API's p99 was the requests in flight during
that count (``dialer bench api``: 79–145 ms against 50 ms). Since 0004 no index of ``records``
carries ``status`` (so that status changes are HOT updates), so the count reads the heap too.

What. ``record_counts (campaign_id, status, n)`` holds signed changes: every ``INSERT``,
``UPDATE`` and ``DELETE`` on ``records`` (the API, the dialer, a cascade from a deleted campaign,
a hand-written statement) adds, through one statement-level trigger with transition tables, one
row per campaign and status whose count the statement changed. A statement that changes no
status (a lease, a priority edit) adds nothing. The records per status of a campaign are
``sum(n)`` over its rows, exact at every commit. Rows are only ever inserted by the triggers, so
concurrent transactions (two gateway instances settling calls of one campaign) never wait on one
another and cannot deadlock here; ``gateway.campaigns.counts.compact`` folds a campaign's
rows into one per status when they pile up, in one ``DELETE … RETURNING`` + ``INSERT``.

Cost, measured with ``dialer bench api`` on the embedded PostgreSQL: see the README's benchmark
table (the reset statement also writes its transition tables).

Existing data. Upgrade inserts one row per campaign and status from ``records``. Downgrade drops
the triggers, the function and the table, which hold nothing ``records`` does not.

Hand-written; ``gateway/db/models.py`` declares the same table and index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# One function for the three events: a missing transition table is an empty set.
_FUNCTION = """
CREATE FUNCTION record_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO record_counts (campaign_id, status, n)
        SELECT campaign_id, status, count(*) FROM counted_new GROUP BY 1, 2;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO record_counts (campaign_id, status, n)
        SELECT campaign_id, status, -count(*) FROM counted_old GROUP BY 1, 2;
    ELSE
        INSERT INTO record_counts (campaign_id, status, n)
        SELECT campaign_id, status, sum(d) FROM (
            SELECT campaign_id, status, 1 AS d FROM counted_new
            UNION ALL
            SELECT campaign_id, status, -1 FROM counted_old
        ) changes GROUP BY 1, 2 HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END $$
"""
_TRIGGERS = (
    "CREATE TRIGGER records_counts_insert AFTER INSERT ON records "
    "REFERENCING NEW TABLE AS counted_new FOR EACH STATEMENT "
    "EXECUTE FUNCTION record_counts_track()",
    "CREATE TRIGGER records_counts_update AFTER UPDATE ON records "
    "REFERENCING OLD TABLE AS counted_old NEW TABLE AS counted_new FOR EACH STATEMENT "
    "EXECUTE FUNCTION record_counts_track()",
    "CREATE TRIGGER records_counts_delete AFTER DELETE ON records "
    "REFERENCING OLD TABLE AS counted_old FOR EACH STATEMENT "
    "EXECUTE FUNCTION record_counts_track()",
)


def upgrade() -> None:
    op.create_table(
        "record_counts",
        sa.Column("campaign_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.create_index("record_counts_campaign", "record_counts", ["campaign_id"])
    op.execute(
        "INSERT INTO record_counts (campaign_id, status, n) "
        "SELECT campaign_id, status, count(*) FROM records GROUP BY 1, 2"
    )
    op.execute(_FUNCTION)
    for statement in _TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for name in ("records_counts_delete", "records_counts_update", "records_counts_insert"):
        op.execute(f"DROP TRIGGER {name} ON records")
    op.execute("DROP FUNCTION record_counts_track()")
    op.drop_table("record_counts")
