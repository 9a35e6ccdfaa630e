"""Errors raised by the simulated Asterisk.

Holds the one error tree of :mod:`asterisk_sim`; it must not hold any logic. The tree::

    SimError
    ├── ConfigError          a TOML file or dataclass value that cannot describe a world
    ├── FrameError           bytes on the AMI socket that are not an AMI message
    ├── DialStringError      a dial string with an unknown technology or a missing part
    ├── IllegalTransition    a channel or agent asked to move where its state machine forbids
    └── UnknownChannel       an action named a channel that does not exist
"""

from __future__ import annotations


class SimError(Exception):
    """Root of every error raised by the simulator."""


class ConfigError(SimError):
    """The configuration cannot describe a world (bad TOML, bad distribution, bad weights)."""


class FrameError(SimError):
    """Bytes received on the AMI socket do not form an AMI message."""


class DialStringError(SimError):
    """A dial string uses an unknown technology or lacks its resource."""


class IllegalTransition(SimError):
    """A state machine was asked for a transition its table does not allow."""

    def __init__(self, machine: str, state: str, event: str) -> None:
        super().__init__(f"{machine}: no transition from {state!r} on {event!r}")
        self.machine = machine
        self.state = state
        self.event = event


class UnknownChannel(SimError):
    """An action or request named a channel that does not exist."""
