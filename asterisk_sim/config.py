"""Configuration of the simulated Asterisk: a frozen dataclass tree, from Python or from TOML.

Holds the world description (trunks, carrier behaviour per number prefix, queues and agents),
the listener settings and the credentials. It must not open sockets, read clocks or draw random
numbers: sampling a :class:`Dist` takes the world's seeded ``random.Random`` as an argument.

TOML layout (every key optional)::

    [sim]
    seed = 7
    host = "127.0.0.1"
    ami_port = 5038
    ari_port = 8088
    time_scale = 1.0
    varset_events = true

    [[trunk]]
    name = "carrier-a"
    channels = 200
    cps = 50

    [[carrier]]            # prefix "" is the default carrier
    prefix = "+1555"
    live = 0.3
    machine = 0.1
    no_answer = 0.35
    busy = 0.1
    congestion = 0.05
    failure = 0.0
    ring_time = [3, 20]             # uniform; a number is fixed;
    talk_time = {dist = "lognormal", mean = 90, sigma = 0.6}

    [[queue]]
    name = "sales"
    agents = 20
    talk_time = {dist = "lognormal", mean = 90, sigma = 0.6}
    wrapup = 10
"""

from __future__ import annotations

import dataclasses
import math
import random
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from asterisk_sim.errors import ConfigError

_DIST_KINDS = ("fixed", "uniform", "lognormal", "exponential")


@dataclasses.dataclass(frozen=True, slots=True)
class Dist:
    """A duration distribution in simulated seconds.

    ``fixed`` uses ``a``; ``uniform`` draws in [a, b]; ``lognormal`` has mean ``a`` and shape
    ``b`` (sigma of the underlying normal); ``exponential`` has mean ``a``.
    """

    kind: str = "fixed"
    a: float = 0.0
    b: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in _DIST_KINDS:
            raise ConfigError(f"unknown distribution {self.kind!r}, expected one of {_DIST_KINDS}")
        if self.a < 0 or self.b < 0:
            raise ConfigError(f"distribution parameters must be >= 0, got {self.a}, {self.b}")

    def sample(self, rng: random.Random) -> float:
        """Draw one value (never negative)."""
        if self.kind == "fixed":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        sigma = self.b
        mu = math.log(self.a) - sigma * sigma / 2 if self.a > 0 else 0.0
        return rng.lognormvariate(mu, sigma)

    @classmethod
    def fixed(cls, value: float) -> Dist:
        return cls("fixed", value)

    @classmethod
    def uniform(cls, low: float, high: float) -> Dist:
        return cls("uniform", low, high)

    @classmethod
    def lognormal(cls, mean: float, sigma: float) -> Dist:
        return cls("lognormal", mean, sigma)


_PDD = Dist("uniform", 0.5, 2.5)
_RING = Dist("uniform", 3.0, 20.0)
_CALLEE_HANGUP = Dist("uniform", 20.0, 120.0)
# AMD's verdict time with asterisk_conf/amd.conf; the dialplan bounds AMD to 1 s (the 2 s connect
# limit less 1 s), so the later ones end NOTSURE and go to the queue (asterisk_sim.world).
_AMD_TIME = Dist("uniform", 0.6, 1.2)
_JITTER = Dist("uniform", 2.0, 30.0)
_LOSS = Dist("uniform", 0.0, 2.0)
_RTT = Dist("uniform", 20.0, 120.0)
# Agents' phones auto-answer (Call-Info answer-after=0 from asterisk_conf's [dialer-agent-predial]):
# a member answers 0.1-0.4 s after it is rung. With AMD, Queue() has only what is left of the 2 s
# limit (1 s), so phones picked up by hand (0.5-1.5 s) would abandon many live answers.
_AGENT_RING = Dist("uniform", 0.1, 0.4)
_TALK = Dist("lognormal", 90.0, 0.6)


@dataclasses.dataclass(frozen=True, slots=True)
class CarrierProfile:
    """How the network behind a trunk treats numbers with this prefix (``""`` = default)."""

    prefix: str = ""
    live: float = 0.3
    machine: float = 0.1
    no_answer: float = 0.35
    busy: float = 0.1
    congestion: float = 0.05
    failure: float = 0.1
    post_dial_delay: Dist = _PDD
    ring_time: Dist = _RING
    callee_hangup: Dist = _CALLEE_HANGUP
    amd_time: Dist = _AMD_TIME
    jitter_ms: Dist = _JITTER
    loss_pct: Dist = _LOSS
    rtt_ms: Dist = _RTT

    def __post_init__(self) -> None:
        weights = self.weights()
        if any(w < 0 for _, w in weights) or sum(w for _, w in weights) <= 0:
            raise ConfigError(f"carrier {self.prefix!r}: outcome weights must be >= 0, sum > 0")

    def weights(self) -> tuple[tuple[str, float], ...]:
        """Outcome names with their weights, in a fixed order (for deterministic draws)."""
        return (
            ("live", self.live),
            ("machine", self.machine),
            ("no_answer", self.no_answer),
            ("busy", self.busy),
            ("congestion", self.congestion),
            ("failure", self.failure),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class TrunkConfig:
    """A PJSIP trunk: dial strings ``PJSIP/<number>@<name>``; capacity and calls-per-second."""

    name: str = "carrier-a"
    channels: int = 10_000
    cps: float = 10_000.0


@dataclasses.dataclass(frozen=True, slots=True)
class AgentConfig:
    """One agent: a queue member with interface ``PJSIP/agent-<ext>`` unless given."""

    ext: str
    name: str = ""
    interface: str = ""
    logged_in: bool = True
    # the member's own wrap-up (the ``member =>`` line's sixth field); 0: the queue's applies,
    # and the member's events then say ``Wrapuptime: 0``, as Asterisk's do
    wrapup: float = 0.0

    @property
    def member_interface(self) -> str:
        return self.interface or f"PJSIP/agent-{self.ext}"

    @property
    def member_name(self) -> str:
        return self.name or f"Agent {self.ext}"


@dataclasses.dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue, its agents and its ring strategy."""

    name: str
    agents: tuple[AgentConfig, ...] = ()
    ring_time: Dist = _AGENT_RING
    talk_time: Dist = _TALK
    wrapup: float = 10.0
    # "ringall" (the recorded trace queues) rings every free member for the head caller;
    # "rrmemory" with autofill (asterisk_conf/queues.conf) offers each waiting caller its own
    # free member at once, the one whose last call is the oldest first.
    strategy: str = "ringall"


@dataclasses.dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything a :class:`asterisk_sim.SimAsterisk` needs. Ports 0 pick free ports."""

    seed: int = 1
    host: str = "127.0.0.1"
    ami_port: int = 5038
    ari_port: int = 8088
    time_scale: float = 1.0
    ami_user: str = "dialer"
    ami_secret: str = dataclasses.field(default="dialer-secret", repr=False)
    ari_user: str = "dialer"
    ari_password: str = dataclasses.field(default="dialer-secret", repr=False)
    ari_app: str = "dialer"
    # the AMI user's write classes (manager.conf ``write``); Asterisk checks an action's
    # privilege against them, so GetConfig (system,config) is refused with the project's user
    ami_write: tuple[str, ...] = ("originate", "call", "agent", "reporting")
    varset_events: bool = True
    trace_contexts: bool = True
    trunks: tuple[TrunkConfig, ...] = (TrunkConfig(),)
    carriers: tuple[CarrierProfile, ...] = (CarrierProfile(),)
    queues: tuple[QueueConfig, ...] = ()
    playback_seconds: float = 4.0
    rtcp_interval: float = 5.0

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ConfigError(f"time_scale must be > 0, got {self.time_scale}")

    @classmethod
    def demo(cls, agents: int = 20, seed: int = 1, **overrides: Any) -> SimConfig:
        """A realistic world for the demo: one carrier, one trunk, queue ``sales``."""
        carrier = CarrierProfile(
            prefix="",
            live=0.30,
            machine=0.10,
            no_answer=0.35,
            busy=0.10,
            congestion=0.03,
            failure=0.02,
            ring_time=Dist.uniform(3.0, 20.0),
            callee_hangup=Dist.lognormal(60.0, 0.5),
        )
        team = tuple(AgentConfig(ext=str(101 + i)) for i in range(agents))
        sales = QueueConfig(
            name="sales",
            agents=team,
            talk_time=Dist.lognormal(90.0, 0.6),
            wrapup=10.0,
            strategy="rrmemory",
        )
        base = cls(
            seed=seed,
            trunks=(TrunkConfig(name="carrier-a", channels=500, cps=50),),
            carriers=(carrier,),
            queues=(sales,),
        )
        return dataclasses.replace(base, **overrides)

    @classmethod
    def from_toml(cls, path: str | Path) -> SimConfig:
        """Read a TOML file (layout in the module docstring)."""
        try:
            with Path(path).open("rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SimConfig:
        """Build from an already parsed TOML document."""
        sim = dict(data.get("sim", {}))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(sim) - known
        if unknown:
            raise ConfigError(f"unknown [sim] keys: {sorted(unknown)}")
        kwargs: dict[str, Any] = dict(sim)
        if "trunk" in data:
            kwargs["trunks"] = tuple(TrunkConfig(**t) for t in data["trunk"])
        if "carrier" in data:
            kwargs["carriers"] = tuple(_carrier(c) for c in data["carrier"])
        if "queue" in data:
            kwargs["queues"] = tuple(_queue(q) for q in data["queue"])
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc


def parse_dist(value: Any, key: str) -> Dist:
    """A number (fixed), a two-item list (uniform) or a table ``{dist, mean|min, sigma|max}``."""
    if isinstance(value, int | float):
        return Dist.fixed(float(value))
    if isinstance(value, list) and len(value) == 2:
        return Dist.uniform(float(value[0]), float(value[1]))
    if isinstance(value, dict):
        kind = str(value.get("dist", "fixed"))
        a = float(value.get("mean", value.get("min", value.get("value", 0.0))) or 0.0)
        b = float(value.get("sigma", value.get("max", 0.0)) or 0.0)
        return Dist(kind, a, b)
    raise ConfigError(f"{key}: cannot read a distribution from {value!r}")


_CARRIER_DISTS = (
    "post_dial_delay",
    "ring_time",
    "callee_hangup",
    "amd_time",
    "jitter_ms",
    "loss_pct",
    "rtt_ms",
)


def _carrier(raw: Mapping[str, Any]) -> CarrierProfile:
    kwargs = dict(raw)
    for key in _CARRIER_DISTS:
        if key in kwargs:
            kwargs[key] = parse_dist(kwargs[key], key)
    try:
        return CarrierProfile(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"[[carrier]]: {exc}") from exc


def _queue(raw: Mapping[str, Any]) -> QueueConfig:
    kwargs = dict(raw)
    agents = kwargs.pop("agents", ())
    if isinstance(agents, int):
        kwargs["agents"] = tuple(AgentConfig(ext=str(101 + i)) for i in range(agents))
    else:
        kwargs["agents"] = tuple(AgentConfig(**a) for a in agents)
    for key in ("ring_time", "talk_time"):
        if key in kwargs:
            kwargs[key] = parse_dist(kwargs[key], key)
    try:
        return QueueConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"[[queue]]: {exc}") from exc
