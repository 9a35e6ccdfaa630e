"""Caller-ID numbers, campaigns' number pools and the do-not-call list.

Every change runs in one transaction with its audit entry. Numbers are stored in E.164
(:func:`e164` normalises and checks them with ``phonenumbers``). The settings a client may set
are :data:`SETTINGS`; nothing else of a number is ever written from outside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import phonenumbers
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.campaigns import audit, campaigns
from gateway.campaigns.errors import Conflict, Invalid, NotFound
from gateway.campaigns.typed import columns, row_of


@dataclass(frozen=True, slots=True)
class BookEntry:
    """One number of the caller-ID book as stored, with its id, caps and health (the pacing
    core's view of a number is :class:`pacing.callerid.CallerIdNumber`)."""

    id: int
    number: str
    status: str
    max_concurrent: int
    max_per_day: int
    cooldown_s: int
    region: str
    health: float
    rest_reason: str


SETTINGS = frozenset(columns(BookEntry)) - {"id", "number"}
_COLS = ", ".join(columns(BookEntry))
_POOL_COLS = ", ".join(f"n.{c}" for c in columns(BookEntry))


def e164(raw: str, field: str) -> str:
    """``raw`` as an E.164 number, or :class:`Invalid` naming ``field``."""
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise Invalid(field, "must be an E.164 number (+ and digits)") from None
    if not phonenumbers.is_valid_number(parsed):
        raise Invalid(field, "is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _settings(values: Mapping[str, object]) -> dict[str, object]:
    unknown = set(values) - SETTINGS
    if unknown:
        raise Invalid(sorted(unknown)[0], "is not a setting of a caller-ID number")
    return dict(values)


async def _fetch(conn: AsyncConnection, number_id: int) -> BookEntry:
    row = (
        (
            await conn.execute(
                text(f"SELECT {_COLS} FROM callerid_numbers WHERE id = :id"),  # noqa: S608
                {"id": number_id},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"caller-ID number {number_id} does not exist")
    return row_of(BookEntry, row)


async def listing(engine: AsyncEngine, limit: int, offset: int) -> list[BookEntry]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT {_COLS} FROM callerid_numbers ORDER BY id LIMIT :l OFFSET :o"),  # noqa: S608
            {"l": limit, "o": offset},
        )
        return [row_of(BookEntry, r) for r in rows.mappings()]


async def create(
    engine: AsyncEngine, actor: str, number: str, settings: Mapping[str, object]
) -> BookEntry:
    """Add ``number`` (any spelling ``e164`` accepts); :class:`Conflict` if already present."""
    data = {**_settings(settings), "number": e164(number, "number")}
    cols = ", ".join(data)
    values = ", ".join(f":{k}" for k in data)
    try:
        async with engine.begin() as conn:
            new_id = (
                await conn.execute(
                    text(f"INSERT INTO callerid_numbers ({cols}) VALUES ({values}) RETURNING id"),  # noqa: S608
                    data,
                )
            ).scalar_one()
            after = await _fetch(conn, int(new_id))
            await audit.record(conn, actor, "number.create", "number", new_id, None, asdict(after))
    except IntegrityError as exc:
        raise Conflict(f"{data['number']} is already in the pool") from exc
    return after


async def update(
    engine: AsyncEngine, actor: str, number_id: int, settings: Mapping[str, object]
) -> BookEntry:
    """Change a number's settings (rest, retire, caps); no settings only writes the audit."""
    changes = _settings(settings)
    async with engine.begin() as conn:
        before = await _fetch(conn, number_id)
        if changes:
            sets = ", ".join(f"{k} = :{k}" for k in changes)
            await conn.execute(
                text(f"UPDATE callerid_numbers SET {sets}, updated_at = now() WHERE id = :id"),  # noqa: S608
                {**changes, "id": number_id},
            )
        after = await _fetch(conn, number_id)
        await audit.record(
            conn, actor, "number.update", "number", number_id, asdict(before), asdict(after)
        )
    return after


async def _pool(conn: AsyncConnection, campaign_id: int) -> list[BookEntry]:
    rows = await conn.execute(
        text(
            f"SELECT {_POOL_COLS} FROM callerid_numbers n "  # noqa: S608
            "JOIN campaign_numbers l ON l.number_id = n.id WHERE l.campaign_id = :cid "
            "ORDER BY n.id"
        ),
        {"cid": campaign_id},
    )
    return [row_of(BookEntry, r) for r in rows.mappings()]


async def pool(engine: AsyncEngine, campaign_id: int) -> list[BookEntry]:
    """The campaign's caller-ID numbers; :class:`NotFound` if there is no such campaign."""
    async with engine.connect() as conn:
        await campaigns.fetch(conn, campaign_id)
        return await _pool(conn, campaign_id)


async def set_pool(
    engine: AsyncEngine, actor: str, campaign_id: int, number_ids: list[int]
) -> list[BookEntry]:
    """Make the campaign's pool exactly ``number_ids``; :class:`Conflict` names unknown ones
    (the request is well formed; the number book has no such numbers now)."""
    ids = sorted(set(number_ids))
    async with engine.begin() as conn:
        await campaigns.fetch(conn, campaign_id, lock=True)
        known = await conn.execute(
            text("SELECT id FROM callerid_numbers WHERE id = ANY(:ids)"), {"ids": ids}
        )
        missing = set(ids) - {r[0] for r in known}
        if missing:
            raise Conflict(f"unknown numbers: {sorted(missing)}", field="number_ids")
        before = await conn.execute(
            text("SELECT number_id FROM campaign_numbers WHERE campaign_id = :cid"),
            {"cid": campaign_id},
        )
        old = sorted(r[0] for r in before)
        await conn.execute(
            text("DELETE FROM campaign_numbers WHERE campaign_id = :cid"), {"cid": campaign_id}
        )
        if ids:
            await conn.execute(
                text("INSERT INTO campaign_numbers SELECT :cid, unnest(CAST(:ids AS bigint[]))"),
                {"cid": campaign_id, "ids": ids},
            )
        await audit.record(
            conn,
            actor,
            "campaign.pool",
            "campaign",
            campaign_id,
            {"number_ids": old},
            {"number_ids": ids},
        )
    async with engine.connect() as conn:
        return await _pool(conn, campaign_id)


async def add_dnc(engine: AsyncEngine, actor: str, phone: str, reason: str) -> str:
    """Put ``phone`` on the do-not-call list (kept if already there); returns it in E.164."""
    normalised = e164(phone, "phone")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO dnc_numbers (phone, reason, added_by) VALUES (:p, :r, :by) "
                "ON CONFLICT (phone) DO NOTHING"
            ),
            {"p": normalised, "r": reason, "by": actor},
        )
        await audit.record(conn, actor, "dnc.add", "dnc", normalised, None, {"phone": normalised})
    return normalised
