"""Refusals of the campaign domain; the control API maps each to one problem document.

CampaignError    root: a human ``detail`` and ``extra`` facts (the current version, a checklist)
├── NotFound     no such campaign, record, token, webhook or number
├── Conflict     the resource is not in a state that allows this (version, confirmation, name)
├── Forbidden    this actor may not do this to this campaign (a resume by someone else)
├── Invalid      a value is malformed or contradicts another; ``field`` names it
└── Unavailable  a part of the running system the request needs is out of reach now (an
                 Asterisk server's AMI link for agent control); ``detail`` says which and why

Lifecycle refusals are :class:`pacing.lifecycle.OperationRefused`. Nothing here knows HTTP:
``control_api.errors`` holds the one table from these classes to statuses.
"""

from __future__ import annotations

from collections.abc import Mapping


class CampaignError(Exception):
    """A request the domain refuses; ``extra`` carries the facts a client needs to react."""

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: Mapping[str, object] = extra


class NotFound(CampaignError):
    pass


class Conflict(CampaignError):
    pass


class Forbidden(CampaignError):
    pass


class Invalid(CampaignError):
    """A malformed or contradictory value; ``field`` names it."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}", field=field)
        self.field = field
        self.reason = detail  # without the field's name, for nesting (``pacing.amd``)


class Unavailable(CampaignError):
    """What the request needs is out of reach right now (a PBX link); retrying later may work."""
