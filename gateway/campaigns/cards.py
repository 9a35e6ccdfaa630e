"""What an agent's desktop shows of the record on the line: the record card, read by id.

:func:`read_cards` reads the cards of many records in one query (the agent event hub batches
its look-ups: every record id of the changes waiting when it wakes, one round trip). A card is
the record's name, phone, skill and custom fields (the columns of an upload that are not one of
the template's, kept as they were imported); nothing of its dialing state (nor the record's
``agent``, which the call itself sets: the event names the agent).

It knows no HTTP and nothing of Asterisk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_CARDS = text(
    "SELECT id, campaign_id, name, phone, skill, custom FROM records "
    "WHERE id = ANY(CAST(:ids AS bigint[]))"
)


@dataclass(frozen=True, slots=True)
class RecordCard:
    """One record as a screen pop shows it (``custom``: the upload's own columns)."""

    id: int
    campaign_id: int
    name: str
    phone: str
    skill: str
    custom: Mapping[str, Any]


async def read_cards(engine: AsyncEngine, record_ids: Iterable[int]) -> dict[int, RecordCard]:
    """The cards of the records that exist among ``record_ids`` (one query), by id."""
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    async with engine.connect() as conn:
        rows = (await conn.execute(_CARDS, {"ids": ids})).mappings().all()
    return {
        int(r["id"]): RecordCard(
            int(r["id"]),
            int(r["campaign_id"]),
            r["name"],
            r["phone"],
            r["skill"],
            dict(r["custom"] or {}),
        )
        for r in rows
    }
