"""The simulated Asterisk: real AMI (TCP) and ARI (HTTP + WebSocket) over a seeded world.

Public API: :class:`SimAsterisk` and :class:`SimConfig` (plus the config parts). Nothing here may
be imported by production code paths of the gateway except for tests, the demo and benchmarks.
"""

from asterisk_sim.config import (
    AgentConfig,
    CarrierProfile,
    Dist,
    QueueConfig,
    SimConfig,
    TrunkConfig,
)
from asterisk_sim.sim import SimAsterisk, SimCredentials

__all__ = [
    "AgentConfig",
    "CarrierProfile",
    "Dist",
    "QueueConfig",
    "SimAsterisk",
    "SimConfig",
    "SimCredentials",
    "TrunkConfig",
]
