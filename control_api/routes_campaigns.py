"""Campaign endpoints: CRUD, lifecycle operations, records (upload, export, delete), diagnostics,
pause history. Handlers only translate HTTP to the services of :mod:`gateway.campaigns`
(``campaigns``, ``records``, ``governance``, ``status``) and their typed rows back to JSON; the
route table at the bottom declares them once.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from control_api import bodies, formats, uploads
from control_api.auth import Permission as P
from control_api.http import COUNTS, STATUS, UPLOADS, Call, Route, notify, paging, reply
from control_api.schemas import INT32, Field, Reply, document
from control_api.webhooks import http_probe
from gateway.campaigns import campaigns, governance, records
from gateway.campaigns import status as status_reads
from gateway.campaigns.audit import jsonable
from gateway.campaigns.campaigns import Campaign
from gateway.campaigns.status import RecordCounts
from pacing.lifecycle import CampaignState, Operation, apply

CAMPAIGN = bodies.CAMPAIGN


def _campaign(row: Campaign) -> dict[str, Any]:
    return document(row)


def _changed(call: Call, campaign: Campaign) -> None:
    call.ctx.runtime.campaign_changed(campaign.id, campaign.state)


def _moved(call: Call, campaign: Campaign) -> web.StreamResponse:
    """A lifecycle move was made: wake the runtime and the live views, reply with the row."""
    notify(call.request)
    _changed(call, campaign)
    return reply(_campaign(campaign))


def _records_changed(call: Call) -> None:
    """The campaign's records may have changed: its next status waits for a fresh count."""
    call.request.app[COUNTS].invalidate(call.ids["id"])


async def list_campaigns(call: Call) -> web.StreamResponse:
    rows = await campaigns.listing(
        call.ctx.engine,
        call.query.get("state"),
        call.query.get("limit", 100),
        call.query.get("offset", 0),
        newest_first=call.query.get("order", "oldest") == "newest",
    )
    return reply({"campaigns": [_campaign(r) for r in rows]})


async def create_campaign(call: Call) -> web.StreamResponse:
    row = await campaigns.create(call.ctx.engine, call.principal.name, call.body)
    return reply(_campaign(row), 201)


async def get_campaign(call: Call) -> web.StreamResponse:
    return reply(_campaign(await campaigns.get(call.ctx.engine, call.ids["id"])))


async def update_campaign(call: Call) -> web.StreamResponse:
    row = await campaigns.update(call.ctx.engine, call.principal, call.ids["id"], call.body)
    return reply(_campaign(row))


async def delete_campaign(call: Call) -> web.StreamResponse:
    try:
        await campaigns.delete(call.ctx.engine, call.principal.name, call.ids["id"])
    finally:
        _records_changed(call)
    return web.Response(status=204)


async def status_body(engine: AsyncEngine, counts: RecordCounts, campaign_id: int) -> bytes:
    """The status reply body: state read now, counts from the cache
    (:mod:`gateway.campaigns.status` explains the rules)."""
    state = await status_reads.read_state(engine, campaign_id)
    found = await counts.get(campaign_id)
    body = {**document(state), "records": dict(found.records), "records_as_of": found.as_of}
    return json.dumps(jsonable(body)).encode()


async def status(call: Call) -> web.StreamResponse:
    body = await call.request.app[STATUS].get(call.ids["id"])
    return web.Response(body=body, content_type="application/json")


def _simple(operation: Operation) -> Any:
    async def handler(call: Call) -> web.StreamResponse:
        row, _ = await campaigns.transition(
            call.ctx.engine, call.principal.name, call.ids["id"], operation
        )
        _changed(call, row)
        return reply(_campaign(row))

    return handler


async def pause(call: Call) -> web.StreamResponse:
    row = await governance.pause(
        call.ctx.engine,
        call.principal.name,
        call.ids["id"],
        call.body["category"],
        call.body["text"],
        call.ctx.clock(),
    )
    return _moved(call, row)


async def resume(call: Call) -> web.StreamResponse:
    row = await governance.resume(
        call.ctx.engine,
        call.ctx.runtime,
        call.ctx.probe or http_probe,
        call.principal,
        call.ids["id"],
        call.body,
        call.ctx.clock(),
    )
    return _moved(call, row)


async def start(call: Call) -> web.StreamResponse:
    row = await governance.start(
        call.ctx.engine,
        call.ctx.runtime,
        call.ctx.probe or http_probe,
        call.principal,
        call.ids["id"],
        call.ctx.clock(),
    )
    return _moved(call, row)


async def reset(call: Call) -> web.StreamResponse:
    try:
        row, count = await records.reset(
            call.ctx.engine, call.principal.name, call.ids["id"], call.body
        )
    finally:
        _records_changed(call)
    _changed(call, row)
    return reply({"campaign": _campaign(row), "reset": count})


async def force_complete(call: Call) -> web.StreamResponse:
    try:
        row, count = await records.force_complete(
            call.ctx.engine, call.principal.name, call.ids["id"]
        )
    finally:
        _records_changed(call)
    _changed(call, row)
    return reply({"campaign": _campaign(row), "completed": count})


async def upload(call: Call) -> web.StreamResponse:
    campaign = await campaigns.get(call.ctx.engine, call.ids["id"])
    apply(CampaignState(campaign.state), Operation.ADD_DATA)  # refuse before reading
    with call.request.app[UPLOADS].take():
        async with uploads.received(call.request, call.ctx.max_upload_bytes) as (kind, data):
            try:
                report = await records.import_upload(
                    call.ctx.engine, call.principal.name, call.ids["id"], kind, data
                )
            finally:
                _records_changed(call)
    return reply(report.as_json())


async def export(call: Call) -> web.StreamResponse:
    fmt = call.query.get("format", "csv")
    campaign = await campaigns.get(call.ctx.engine, call.ids["id"])
    apply(CampaignState(campaign.state), Operation.DOWNLOAD)
    response = web.StreamResponse(
        headers={
            "Content-Type": formats.CONTENT_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="campaign-{campaign.id}.{fmt}"',
        }
    )
    await response.prepare(call.request)
    await formats.export(call.ctx.engine, campaign.id, fmt, response.write)
    await response.write_eof()
    return response


async def delete_records(call: Call) -> web.StreamResponse:
    try:
        deleted = await records.delete_all(
            call.ctx.engine, call.principal.name, call.ids["id"], call.query.get("confirm")
        )
    finally:
        _records_changed(call)
    return reply({"deleted": deleted})


async def diagnostics(call: Call) -> web.StreamResponse:
    campaign = await campaigns.get(call.ctx.engine, call.ids["id"])
    found = await call.ctx.runtime.diagnostics(campaign.id, call.query.get("record"))
    return reply({"campaign_id": campaign.id, "state": campaign.state, "runtime": found})


async def pauses(call: Call) -> web.StreamResponse:
    found = await governance.history(call.ctx.engine, call.ids["id"], call.query.get("limit", 100))
    return reply(document(found))


async def all_pauses(call: Call) -> web.StreamResponse:
    found = await governance.history(call.ctx.engine, None, call.query.get("limit", 100))
    return reply(document(found))


_ID = ("id",)
_STATE = Field("state", "string", enum=tuple(CampaignState))
_ORDER = Field(
    "order",
    "string",
    enum=("oldest", "newest"),
    description="by creation: oldest first (the default) or newest first",
)
_LIST = Reply("CampaignList", (Field("campaigns", "array", items="object", shape=CAMPAIGN),))
_STATUS = Reply(
    "CampaignStatus",
    (
        Field("id", "integer"),
        Field("state", "string"),
        Field("version", "integer"),
        Field(
            "records",
            "object",
            values="integer",
            description="records per status, as of records_as_of",
        ),
        Field(
            "records_as_of",
            "datetime",
            description=(
                "database time of the counted snapshot: counts are refreshed at most once a "
                f"second per campaign and are never more than {status_reads.MAX_AGE_S:g} s old; "
                "a change made through this API shows at once"
            ),
        ),
        Field("controlled_until", "datetime", nullable=True),
    ),
)
_RESET_REPLY = Reply(
    "ResetReply", (Field("campaign", "object", shape=CAMPAIGN), Field("reset", "integer"))
)
_COMPLETE_REPLY = Reply(
    "ForceCompleteReply",
    (Field("campaign", "object", shape=CAMPAIGN), Field("completed", "integer")),
)
_IMPORT_ERROR = Reply(
    "ImportError",
    (Field("row", "integer", description="1 = the header row"), Field("reason", "string")),
)
_IMPORT_REPLY = Reply(
    "ImportReport",
    (
        Field("rows", "integer"),
        Field("added", "integer"),
        Field("duplicates", "integer"),
        Field("blank", "integer"),
        Field("rejected", "integer"),
        Field("errors", "array", items="object", shape=_IMPORT_ERROR),
    ),
)
_HISTORY = Reply(
    "PauseHistory",
    (
        Field("events", "array", items="object", shape=bodies.PAUSE_EVENT),
        Field("by_category", "object", values="integer", description="pauses per category"),
        Field("total", "integer"),
    ),
)
_DIAG = Reply(
    "Diagnostics",
    (
        Field("campaign_id", "integer"),
        Field("state", "string"),
        Field("runtime", "json", description="what the live runtime reports (free form)"),
    ),
)
_C: dict[int, Reply | str] = {200: CAMPAIGN, 404: "problem", 409: "problem"}

ROUTES = (
    Route(
        "GET",
        "/campaigns",
        list_campaigns,
        "List campaigns",
        P.READ,
        {200: _LIST},
        query=(_STATE, _ORDER, *paging()),
    ),
    Route(
        "POST",
        "/campaigns",
        create_campaign,
        "Create a campaign",
        P.CAMPAIGN_WRITE,
        {201: CAMPAIGN, 409: "problem", 422: "problem"},
        body=bodies.CREATE,
    ),
    Route(
        "GET",
        "/campaigns/{id}",
        get_campaign,
        "Show a campaign",
        P.READ,
        {200: CAMPAIGN, 404: "problem"},
        ids=_ID,
    ),
    Route(
        "PATCH",
        "/campaigns/{id}",
        update_campaign,
        "Change a campaign's setup (resume owner of a paused one: that owner or an admin)",
        P.CAMPAIGN_WRITE,
        {**_C, 403: "problem", 422: "problem"},
        body=bodies.UPDATE,
        ids=_ID,
    ),
    Route(
        "DELETE",
        "/campaigns/{id}",
        delete_campaign,
        "Delete a campaign (not running)",
        P.CAMPAIGN_WRITE,
        {204: "empty", 404: "problem", 409: "problem"},
        ids=_ID,
    ),
    Route(
        "GET",
        "/campaigns/{id}/status",
        status,
        f"State (read now) and record counts (at most {status_reads.MAX_AGE_S:g} s old)",
        P.READ,
        {200: _STATUS, 404: "problem"},
        ids=_ID,
    ),
    Route(
        "POST",
        "/campaigns/{id}/start",
        start,
        "Start (after a pause not resumed: owner approval, checklist)",
        P.CAMPAIGN_RUN,
        {**_C, 403: "problem"},
        ids=_ID,
    ),
    Route(
        "POST", "/campaigns/{id}/stop", _simple(Operation.STOP), "Stop", P.CAMPAIGN_RUN, _C, ids=_ID
    ),
    Route(
        "POST",
        "/campaigns/{id}/pause",
        pause,
        "Pause now, with a reason",
        P.PAUSE,
        {**_C, 422: "problem"},
        body=bodies.PAUSE,
        ids=_ID,
    ),
    Route(
        "POST",
        "/campaigns/{id}/resume",
        resume,
        "Resume (owner approval, checklist)",
        P.RESUME,
        {**_C, 403: "problem", 422: "problem"},
        body=bodies.RESUME,
        ids=_ID,
    ),
    Route(
        "POST",
        "/campaigns/{id}/reset",
        reset,
        "Reset matching records; campaign → ready",
        P.CAMPAIGN_RUN,
        {200: _RESET_REPLY, 404: "problem", 409: "problem", 422: "problem"},
        body=bodies.RESET,
        ids=_ID,
    ),
    Route(
        "POST",
        "/campaigns/{id}/force-complete",
        force_complete,
        "Force complete",
        P.CAMPAIGN_RUN,
        {200: _COMPLETE_REPLY, 404: "problem", 409: "problem"},
        ids=_ID,
    ),
    Route(
        "POST",
        "/campaigns/{id}/records",
        upload,
        "Add records from CSV or XLSX",
        P.RECORDS_WRITE,
        {
            200: _IMPORT_REPLY,
            404: "problem",
            409: "problem",
            413: "problem",
            415: "problem",
            422: "problem",
            429: "problem",
        },
        upload=True,
        ids=_ID,
    ),
    Route(
        "GET",
        "/campaigns/{id}/records/export",
        export,
        "Download records and outcomes",
        P.RECORDS_READ,
        {200: "file", 404: "problem", 409: "problem", 422: "problem"},
        query=(Field("format", "string", enum=formats.FORMATS),),
        ids=_ID,
    ),
    Route(
        "DELETE",
        "/campaigns/{id}/records",
        delete_records,
        "Delete every record (confirm = the record count)",
        P.RECORDS_WRITE,
        {
            200: Reply("Deleted", (Field("deleted", "integer"),)),
            404: "problem",
            409: "problem",
            422: "problem",
        },
        query=(Field("confirm", "integer", minimum=0, maximum=INT32),),
        ids=_ID,
    ),
    Route(
        "GET",
        "/campaigns/{id}/diagnostics",
        diagnostics,
        "Why no calls are placed",
        P.READ,
        {200: _DIAG, 404: "problem", 422: "problem"},
        query=(Field("record", "integer", minimum=1, maximum=2**63 - 1),),
        ids=_ID,
    ),
    Route(
        "GET",
        "/campaigns/{id}/pauses",
        pauses,
        "Pause history with counts per reason",
        P.READ,
        {200: _HISTORY, 404: "problem", 422: "problem"},
        query=(paging()[0],),
        ids=_ID,
    ),
    Route(
        "GET",
        "/pauses",
        all_pauses,
        "Pause history of every campaign",
        P.READ,
        {200: _HISTORY, 422: "problem"},
        query=(paging()[0],),
        tag="governance",
    ),
)
