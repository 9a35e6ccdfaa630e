"""The agent feed owner of each Asterisk server: a lease row in ``agent_feed_owners``.

Every gateway instance connected to a server sees all of its queue member events, so every
instance's feed reports the same member state changes (``agent.state``). The changes tied to one
of our calls are resolved only by the instance that placed it; the call-less ones are queued
for the webhooks by one instance per server, the holder of that server's lease here. It is
taken and kept like the pacer lease (:func:`gateway.campaigns.leasing.acquire_pacer`): an
upsert that succeeds when the row is free, expired or already ours, renewed about every second
(``dialer.feedowner``), taken over by another instance once it expired.

Expiry is judged by the database's clock (``clock_timestamp()``), one clock for every instance,
so two gateways whose wall clocks differ never both hold a server; ``now`` may be given instead
(the table tests). No HTTP, nothing of Asterisk: a server is its configured name.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_NOW = "COALESCE(CAST(:now AS timestamptz), clock_timestamp())"
_TTL = "make_interval(secs => CAST(:ttl AS double precision))"

_ACQUIRE = text(f"""
INSERT INTO agent_feed_owners (server, instance_id, lease_expires_at)
VALUES (:server, :iid, {_NOW} + {_TTL})
ON CONFLICT (server) DO UPDATE
SET instance_id = EXCLUDED.instance_id, lease_expires_at = EXCLUDED.lease_expires_at
WHERE agent_feed_owners.instance_id = EXCLUDED.instance_id
   OR agent_feed_owners.lease_expires_at <= {_NOW}
RETURNING instance_id
""")  # noqa: S608 (constant fragments, no input)

_RENEW = text(f"""
UPDATE agent_feed_owners SET lease_expires_at = {_NOW} + {_TTL}
WHERE server = :server AND instance_id = :iid AND lease_expires_at > {_NOW}
""")  # noqa: S608 (constant fragments, no input)

_RELEASE = text("DELETE FROM agent_feed_owners WHERE server = :server AND instance_id = :iid")

_OWNER = text(f"""
SELECT instance_id FROM agent_feed_owners WHERE server = :server AND lease_expires_at > {_NOW}
""")  # noqa: S608 (constant fragments, no input)


async def acquire_feed(
    engine: AsyncEngine, server: str, instance_id: str, ttl_s: float, now: datetime | None = None
) -> bool:
    """Take (or keep) the feed lease of ``server``; True if ``instance_id`` now holds it."""
    params = {"server": server, "iid": instance_id, "ttl": ttl_s, "now": now}
    async with engine.begin() as conn:
        row = (await conn.execute(_ACQUIRE, params)).first()
    return row is not None


async def renew_feed(
    engine: AsyncEngine, server: str, instance_id: str, ttl_s: float, now: datetime | None = None
) -> bool:
    """Extend a held, unexpired feed lease; False if it was lost (expired, or taken)."""
    params = {"server": server, "iid": instance_id, "ttl": ttl_s, "now": now}
    async with engine.begin() as conn:
        result = await conn.execute(_RENEW, params)
    return bool(result.rowcount == 1)


async def release_feed(engine: AsyncEngine, server: str, instance_id: str) -> None:
    """Give up the feed lease of ``server`` (only if ``instance_id`` holds it)."""
    async with engine.begin() as conn:
        await conn.execute(_RELEASE, {"server": server, "iid": instance_id})


async def feed_owner(engine: AsyncEngine, server: str, now: datetime | None = None) -> str | None:
    """The instance holding ``server``'s unexpired feed lease, if any."""
    async with engine.connect() as conn:
        row = (await conn.execute(_OWNER, {"server": server, "now": now})).first()
    return None if row is None else str(row[0])
