"""The replies of the control API name exactly the columns the domain reads."""

from __future__ import annotations

from control_api import bodies
from gateway.campaigns import campaigns, governance


def test_campaign_reply_names_the_domain_columns() -> None:
    assert tuple(f.name for f in bodies.CAMPAIGN.fields) == campaigns.COLUMNS


def test_pause_event_reply_names_the_domain_columns() -> None:
    assert tuple(f.name for f in bodies.PAUSE_EVENT.fields) == governance.EVENT_COLUMNS
