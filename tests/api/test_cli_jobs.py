"""The ``dialer campaign|records|token`` jobs on the session database, output read back."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dialer import control_cli as cli
from gateway.campaigns.errors import Invalid
from gateway.campaigns.tokens import holder
from pacing.lifecycle import Operation


async def test_campaign_jobs_run_through_the_domain(
    engine: AsyncEngine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    name = f"cli-{uuid.uuid4().hex[:10]}"
    args = argparse.Namespace(
        name=name, time_zone="Europe/London", queue="q1", owner=None, resume_owner="ann"
    )
    assert await cli.campaign_create(engine, args) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["name"] == name
    assert created["state"] == "ready"
    assert created["resume_owner"] == "ann"
    cid = created["id"]

    assert await cli.campaign_list(engine, argparse.Namespace()) == 0
    assert any(
        line.split()[:2] == [str(cid), "ready"] for line in capsys.readouterr().out.splitlines()
    )

    upload = tmp_path / "rows.csv"
    upload.write_text("phone\n+12125550101\n+12125550102\nnot a number\n")
    assert await cli.records_import(engine, argparse.Namespace(id=cid, file=upload)) == 3
    out = capsys.readouterr().out
    assert "added 2" in out
    assert "row 4:" in out

    assert await cli.campaign_show(engine, argparse.Namespace(id=cid)) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == cid
    assert shown["records"]["new"] == 2

    assert await cli._operation(Operation.START)(engine, argparse.Namespace(id=cid)) == 0
    assert capsys.readouterr().out.strip() == f"campaign {cid}: running"
    pause = argparse.Namespace(id=cid, category="timing", text="late")
    assert await cli.campaign_pause(engine, pause) == 0
    assert capsys.readouterr().out.strip() == f"campaign {cid}: paused"
    assert await cli.campaign_force_complete(engine, argparse.Namespace(id=cid)) == 0
    assert capsys.readouterr().out.strip() == f"campaign {cid}: completed, 2 records completed"

    target = tmp_path / "out.csv"
    export = argparse.Namespace(id=cid, format="csv", output=target)
    assert await cli.records_export(engine, export) == 0
    lines = target.read_text().splitlines()
    assert lines[0].startswith("id,phone,")
    assert len(lines) == 3

    reset = argparse.Namespace(id=cid, status=[], disposition=[])
    assert await cli.campaign_reset(engine, reset) == 0
    assert capsys.readouterr().out.strip().endswith("ready, 2 records reset")


async def test_token_create_binds_an_agent_token_to_its_agent(
    engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"desk-{uuid.uuid4().hex[:8]}"
    args = argparse.Namespace(name=name, role="agent", agent_id="Agent 7")
    assert await cli.token_create(engine, args) == 0
    token = capsys.readouterr().out.strip()
    assert await holder(engine, token) == (name, "agent", "Agent 7")
    with pytest.raises(Invalid, match="agent_id"):
        await cli.token_create(engine, argparse.Namespace(name=name, role="agent", agent_id=None))
    with pytest.raises(Invalid, match="agent_id"):
        await cli.token_create(engine, argparse.Namespace(name=name, role="ops", agent_id="x"))
    async with engine.connect() as conn:
        stored = (
            await conn.execute(text("SELECT count(*) FROM api_tokens WHERE name = :n"), {"n": name})
        ).scalar_one()
    assert stored == 1  # the refused ones wrote nothing
