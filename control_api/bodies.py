"""Request bodies and replies of the campaign endpoints, shared by the routes and the CLI.

Each :class:`control_api.schemas.Schema` validates a decoded JSON body before it reaches the
domain (:mod:`gateway.campaigns`), and renders the same rules for the OpenAPI document. The
domain checks what a schema cannot express (time zones, schedules, windows); the replies name
the domain's columns (``tests/api/test_bodies.py`` holds them equal).
"""

from __future__ import annotations

import zoneinfo

import phonenumbers
from holidays.registry import EntityLoader

from control_api.schemas import INT32, Field, Reply, Schema
from gateway.asterisk import validate
from gateway.campaigns.governance import CATEGORIES
from gateway.campaigns.records import RESETTABLE
from pacing import skills
from pacing.dispositions import CODE_PATTERN, MAX_DELAY_S, Scope, Step
from pacing.outcomes import Outcome
from pacing.schedule_doc import DAYS

#: A time of day in the campaign's zone; ``24:00`` is the end of the day.
TIME_OF_DAY = r"^(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
MAX_RETRY_DELAY_S = 366 * 86400
TIME_ZONE = Field(
    "time_zone",
    "string",
    enum=tuple(sorted(zoneinfo.available_timezones())),
    enum_name="TimeZone",
    fmt="time-zone",
    description="IANA zone of the campaign",
)
REGION = Field(
    "default_region",
    "string",
    enum=tuple(sorted(phonenumbers.SUPPORTED_REGIONS)),
    enum_name="Region",
    fmt="phone-region",
    description="ISO 3166 region of numbers written without a country code, e.g. US, GB",
)
WEEKLY_WINDOW = Schema(
    "WeeklyWindow",
    (
        Field("days", "array", items="string", enum=DAYS, enum_name="Weekday"),
        Field("start", "string", pattern=TIME_OF_DAY, description="HH:MM, default 00:00"),
        Field("end", "string", pattern=TIME_OF_DAY, description="HH:MM after start, default 24:00"),
    ),
)
HOLIDAYS = Schema(
    "Holidays",
    (
        Field(
            "country",
            "string",
            True,
            # the codes of holidays.list_supported_countries(), without importing its ~280
            # country modules as that does (0.25 s of every start)
            enum=tuple(sorted(EntityLoader.get_country_codes())),
            enum_name="HolidayCountry",
            fmt="holiday-country",
        ),
        Field(
            "subdivision",
            "string",
            nullable=True,
            max_length=16,
            pattern=r"^[A-Za-z0-9-]*$",
            description="a subdivision the holidays library knows for the country",
        ),
    ),
)
SCHEDULE = Schema(
    "Schedule",
    (
        Field("weekly", "array", items="object", shape=WEEKLY_WINDOW),
        Field("start_date", "date"),
        Field("end_date", "date"),
        Field("holidays", "object", shape=HOLIDAYS),
        Field("blackout_dates", "array", items="date"),
    ),
)
RETRY_RULE = Schema(
    "RetryRule",
    (
        Field("delay_s", "integer", minimum=0, maximum=MAX_RETRY_DELAY_S, description="default 0"),
        Field("max_attempts", "integer", minimum=1, maximum=100),
    ),
)
RETRY_RULES = Schema(
    "RetryRules",
    tuple(Field(str(outcome), "object", shape=RETRY_RULE) for outcome in Outcome),
)

PACING = Schema(
    "Pacing",
    (
        Field(
            "power_ratio",
            "number",
            minimum=1,
            maximum=20,
            description="power mode: calls per agent",
        ),
        Field("ring_timeout_s", "number", minimum=15, maximum=300),
        Field(
            "caller_id_name",
            "string",
            max_length=64,
            pattern=validate.CALLER_ID_NAME_PATTERN,
            description="shown to the callee; no quotes, <>, \\ or separators , | ( ) ; $ { }",
        ),
        Field("max_channels", "integer", minimum=1, maximum=100_000, nullable=True),
        Field("amd", "boolean", description="answering-machine detection"),
        Field(
            "skill_queues",
            "object",
            values="string",
            keys=skills.SKILL_PATTERN,
            pattern=skills.QUEUE_PATTERN,
            max_length=skills.MAX_SKILLS,
            description='skills: a queue per skill, {"spanish": "sales-es"}; records without a '
            "skill go to the campaign's queue, one whose skill no queue takes is not dialled",
        ),
    ),
)
DISPOSITION_CODE = Schema(
    "DispositionCode",
    (
        Field("code", "string", True, max_length=16, pattern=CODE_PATTERN),
        Field("step", "string", True, enum=tuple(Step), description="what it does to the record"),
        Field("delay_s", "integer", minimum=0, maximum=MAX_DELAY_S, description="retry: delay"),
    ),
)
DISPOSITIONS = Schema(
    "Dispositions",
    (
        Field(
            "codes",
            "array",
            items="object",
            shape=DISPOSITION_CODE,
            description="the campaign's wrap-up codes (absent: sale, not_interested, callback, "
            "dnc, wrong_number)",
        ),
        Field("default_code", "string", max_length=16, pattern=CODE_PATTERN, nullable=True,
              description="set when no disposition comes within the wrap-up limit"),
        Field("wrapup_limit_s", "integer", minimum=0, maximum=86400,
              description="0: Asterisk's own wrap-up; else the gateway holds the agent paused "
              "until a disposition, at most this long"),
        Field("callback_grace_s", "integer", minimum=0, maximum=7 * 86400,
              description="an agent-only callback falls back to anyone after this"),
    ),
)  # fmt: skip
_SETUP = (
    TIME_ZONE,
    REGION,
    Field("schedule", "object", shape=SCHEDULE, description="calling windows (local times)"),
    Field("callee_window_start", "integer", minimum=0, maximum=1439, description="minutes"),
    Field("callee_window_end", "integer", minimum=1, maximum=1440, description="minutes"),
    Field("pacing_mode", "string", enum=("progressive", "power", "predictive")),
    Field("pacing", "object", shape=PACING),
    Field(
        "abandon_target",
        "number",
        minimum=0,
        maximum=1,
        exclusive=True,
        description="a fraction strictly between 0 and 1 (0.03 = 3 %); the runner paces to it",
    ),
    Field(
        "queue",
        "string",
        max_length=80,
        pattern=validate.OPTIONAL_NAME_PATTERN,
        description="Asterisk queue: letters, digits and _ . @ / + : - (no spaces or separators)",
    ),
    Field("retry_rules", "object", shape=RETRY_RULES, description="per outcome"),
    Field("dispositions", "object", shape=DISPOSITIONS),
    Field("max_attempts", "integer", minimum=1, maximum=100),
    Field("abandon_holdoff_s", "integer", minimum=0, maximum=90 * 86400),
    Field("owner", "string", max_length=128),
    Field("resume_owner", "string", max_length=128),
)
CREATE = Schema(
    "CampaignCreate",
    (Field("name", "string", True, min_length=1, max_length=200), *_SETUP),
    example={
        "name": "spring-renewals",
        "time_zone": "Europe/London",
        "default_region": "GB",
        "schedule": {
            "weekly": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "20:00"}
            ],
            "holidays": {"country": "GB", "subdivision": "ENG"},
            "blackout_dates": ["2026-12-24"],
        },
        "pacing_mode": "progressive",
        "retry_rules": {"no_answer": {"delay_s": 3600, "max_attempts": 3}},
    },
)
UPDATE = Schema(
    "CampaignUpdate",
    (
        Field("name", "string", min_length=1, max_length=200),
        *_SETUP,
        Field("version", "integer", minimum=1, maximum=INT32, description="refuse if changed"),
    ),
    example={"max_attempts": 4, "pacing": {"ring_timeout_s": 25}},
)
CAMPAIGN = Reply(
    "Campaign",
    (
        Field("id", "integer"),
        Field("name", "string"),
        Field("state", "string"),
        *_SETUP,
        Field("controlled_until", "datetime", nullable=True),
        Field("controlled_max_calls", "integer", nullable=True),
        Field("controlled_progressive", "boolean"),
        Field("created_at", "datetime"),
        Field("updated_at", "datetime"),
        Field("version", "integer"),
    ),
)

RESET = Schema(
    "Reset",
    (
        Field("from", "datetime", description="last attempt at or after"),
        Field("to", "datetime", description="last attempt before"),
        Field(
            "status",
            "array",
            items="string",
            enum=tuple(sorted(RESETTABLE)),
            enum_name="ResettableStatus",
        ),
        Field("reason", "string", max_length=1000),
        Field(
            "dispositions",
            "array",
            items="string",
            max_length=16,
            pattern=CODE_PATTERN,
            description="outcomes (answered, busy, …) or disposition codes of the last attempt",
        ),
        Field("priority_min", "integer", minimum=1, maximum=99),
        Field("priority_max", "integer", minimum=1, maximum=99),
        Field("agent", "string", max_length=1000),
        Field("skill", "string", max_length=1000),
    ),
    example={"status": ["done"], "dispositions": ["no_answer", "busy"]},
)

DISPOSE = Schema(
    "Disposition",
    (
        Field("code", "string", True, max_length=16, pattern=CODE_PATTERN),
        Field("note", "string", max_length=2000),
        Field("callback_at", "datetime", description="a callback code: when to call back"),
        Field("callback_scope", "string", enum=tuple(Scope), description="default anyone"),
    ),
)
DISPOSED = Reply(
    "Disposed",
    (
        Field("attempt_id", "string"),
        Field("campaign_id", "integer"),
        Field("record_id", "integer"),
        Field("code", "string"),
        Field("agent", "string", nullable=True),
        Field("disposed_by", "string"),
        Field("disposed_at", "datetime"),
        Field("applied", "boolean", description="false: the call is in progress; on its end"),
        Field("record_status", "string", nullable=True),
        Field("next_attempt_at", "datetime", nullable=True),
        Field("callback_agent", "string", nullable=True),
    ),
)

PAUSE = Schema(
    "Pause",
    (
        Field("category", "string", True, enum=CATEGORIES),
        Field("text", "string", True, min_length=1, max_length=2000),
    ),
    example={"category": "call_quality", "text": "one-way audio on the carrier trunk"},
)
RESUME = Schema(
    "Resume",
    (
        Field("review_minutes", "integer", minimum=1, maximum=1440),
        Field("max_concurrent_calls", "integer", minimum=1, maximum=10000),
        Field("progressive_only", "boolean"),
        Field("note", "string", max_length=2000),
    ),
    example={"review_minutes": 30, "max_concurrent_calls": 20, "note": "carrier fixed"},
)
PAUSE_EVENT = Reply(
    "PauseEvent",
    (
        Field("id", "integer"),
        Field("campaign_id", "integer"),
        Field("paused_by", "string"),
        Field("paused_at", "datetime"),
        Field("category", "string"),
        Field("text", "string"),
        Field("resumed_by", "string", nullable=True),
        Field("resumed_at", "datetime", nullable=True),
        Field("checklist", "json", description="the resume checklist as answered, or null"),
        Field("controlled", "json", description="the controlled restart's limits, or null"),
    ),
)
