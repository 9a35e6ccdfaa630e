"""Pure parts: the AMI frame parser, config from TOML, determinism, the CLI registrars."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from asterisk_sim import SimConfig
from asterisk_sim.amiproto import AmiMessage, parse_frames
from asterisk_sim.cli import build_config, register
from asterisk_sim.config import Dist
from asterisk_sim.errors import ConfigError, FrameError
from bench.sim import register_bench


def test_parser_handles_split_and_joined_frames() -> None:
    data = (
        b"Action: Ping\r\nActionID: 1\r\n\r\n"
        b"Action: Originate\r\nVariable: A=1\r\nVariable: B=2\r\n\r\nAct"
    )
    first = parse_frames(data[:20])
    assert first.messages == ()
    assert first.leftover == data[:20]
    result = parse_frames(data)
    assert result.leftover == b"Act"
    ping, orig = result.messages
    assert isinstance(ping, AmiMessage)
    assert ping.action == "Ping"
    assert isinstance(orig, AmiMessage)
    assert orig.get_all("variable") == ["A=1", "B=2"]
    empty = parse_frames(b"AccountCode: \r\n\r\n").messages[0]
    assert isinstance(empty, AmiMessage)
    assert empty.get("AccountCode") == ""
    assert isinstance(parse_frames(b"no colon here\r\n\r\n").messages[0], FrameError)


def test_config_from_toml(tmp_path: Path) -> None:
    path = tmp_path / "world.toml"
    path.write_text(
        "[sim]\nseed = 9\ntime_scale = 0.5\n"
        '[[trunk]]\nname = "t1"\nchannels = 3\ncps = 2\n'
        '[[carrier]]\nprefix = "+44"\nlive = 1\nmachine = 0\nno_answer = 0\nbusy = 0\n'
        "congestion = 0\nfailure = 0\nring_time = [1, 2]\n"
        '[[queue]]\nname = "sales"\nagents = 3\n'
        'talk_time = {dist = "lognormal", mean = 90, sigma = 0.5}\n'
    )
    cfg = SimConfig.from_toml(path)
    assert (cfg.seed, cfg.time_scale, cfg.trunks[0].name, cfg.trunks[0].channels) == (
        9,
        0.5,
        "t1",
        3,
    )
    assert cfg.carriers[0].ring_time == Dist.uniform(1, 2)
    assert next(a.member_interface for a in cfg.queues[0].agents) == "PJSIP/agent-101"
    assert cfg.queues[0].talk_time == Dist("lognormal", 90, 0.5)
    bad = tmp_path / "bad.toml"
    bad.write_text("[sim]\nnope = 1\n")
    with pytest.raises(ConfigError, match="nope"):
        SimConfig.from_toml(bad)


def test_demo_config_and_distributions_are_seeded() -> None:
    import random

    demo = SimConfig.demo(agents=5, seed=4)
    assert len(demo.queues[0].agents) == 5
    assert demo.seed == 4
    dist = Dist.lognormal(90, 0.6)
    a = [dist.sample(random.Random(1)) for _ in range(3)]
    b = [dist.sample(random.Random(1)) for _ in range(3)]
    assert a == b
    draws = [dist.sample(random.Random(i)) for i in range(2000)]
    assert 80 < sum(draws) / len(draws) < 100
    with pytest.raises(ConfigError):
        Dist("gaussian", 1)


def test_cli_registrars_parse() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    register(sub)
    bench = sub.add_parser("bench").add_subparsers()
    register_bench(bench)
    args = parser.parse_args(
        ["sim", "--ami-port", "0", "--ari-port", "0", "--seed", "5", "--host", "127.0.0.2"]
    )
    cfg = build_config(args)
    assert (cfg.ami_port, cfg.ari_port, cfg.seed, cfg.host) == (0, 0, 5, "127.0.0.2")
    assert callable(args.handler)
    bargs = parser.parse_args(["bench", "sim", "--json", "--seconds", "1"])
    assert bargs.json
    assert bargs.seconds == 1.0
    assert callable(bargs.handler)
