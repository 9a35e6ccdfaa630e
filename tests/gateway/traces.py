"""Helpers for the recorded Asterisk traces: where they are and what the client sent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TRACES = Path("/work/shared/asterisk-traces")


def ami_traces() -> list[Path]:
    """Every ``ami-*.txt`` file of bytes Asterisk sent (not ``.sent.txt``, not the rate results)."""
    return sorted(
        p
        for p in TRACES.glob("ami-*.txt")
        if not p.name.endswith(".sent.txt") and p.name != "ami-originate-rate.txt"
    )


@dataclass(frozen=True)
class SentOriginate:
    action_id: str
    channel: str
    channel_id: str | None
    timeout_ms: int


def sent_actions(name: str) -> list[dict[str, str]]:
    """The actions the recording client sent, as dicts (first value per key)."""
    return parse_sent((TRACES / f"{name}.sent.txt").read_bytes().decode())


def parse_sent(raw: str) -> list[dict[str, str]]:
    """AMI actions as written (CRLF lines, a blank line after each), as dicts."""
    actions = []
    for block in raw.split("\r\n\r\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.split("\r\n"):
            key, _, value = line.partition(": ")
            fields.setdefault(key, value)
        actions.append(fields)
    return actions


def sent_originates(name: str) -> list[SentOriginate]:
    return [
        SentOriginate(
            a["ActionID"], a["Channel"], a.get("ChannelId"), int(a.get("Timeout", "30000"))
        )
        for a in sent_actions(name)
        if a.get("Action") == "Originate" and "Channel" in a
    ]
