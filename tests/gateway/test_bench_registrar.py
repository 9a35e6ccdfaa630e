"""The ``dialer bench gateway`` registrar builds its sub-command (the bench is run by hand)."""

from __future__ import annotations

import argparse

from bench.gateway import register_bench


def test_register_bench_adds_gateway_with_json() -> None:
    parser = argparse.ArgumentParser(prog="dialer")
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench")
    register_bench(bench.add_subparsers(dest="bench_command"))
    args = parser.parse_args(["bench", "gateway", "--calls", "10", "--json"])
    assert args.calls == 10
    assert args.json is True
    assert args.in_flight == 10_000
    assert callable(args.handler)
