"""The fault suite's short variant: `dialer bench faults` with every single-instance fault once.

An independent witness (a TCP proxy that logs every Originate, :mod:`bench.witness`) and the
database judge the run, never the gateway's counters: no number and no attempt originated
twice, no record closed without a call, no Originate for an attempt already settled or unknown
to the database, nothing left dialling, and (the outcome ledger) almost no ``unknown``.

The bench needs PostgreSQL over TCP (a relay in front of it cuts the database); on the
embedded server, which listens on a socket only, the test skips with one line. CI's second pass
runs it against the machine's server.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

import pytest

from bench import faults

pytestmark = [pytest.mark.db, pytest.mark.slow]


def _args(url: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    faults.register_bench(parser.add_subparsers())
    argv = ["faults", "--database-url", url, "--faults", "ami_cut,sim_restart,kill",
            "--repeat", "1", "--agents", "60", "--records", "3000", "--power-ratio", "2",
            "--warmup-s", "6", "--settle-s", "4", "--drain-s", "90"]  # fmt: skip
    return parser.parse_args(argv)


@pytest.mark.timeout(480)  # three faults, each followed by its resume and settle, then the drain
async def test_single_instance_faults_lose_nothing(database_server_url: str) -> None:
    host = urlsplit(database_server_url).hostname or ""
    if not host or host.startswith("/"):
        pytest.skip("the fault suite needs PostgreSQL over TCP (DIALER_TEST_DATABASE_URL)")
    report = await faults.run(_args(database_server_url))
    assert report["originates_seen"] > 100, report  # a campaign really ran through the faults
    assert [f["fault"] for f in report["faults"]] == ["ami_cut", "sim_restart", "kill"]
    assert report["double_dials"] == 0, report
    assert report["attempts_sent_twice"] == 0, report
    assert report["records_closed_without_call"] == 0, report
    assert report["phantom_attempts"] == 0, report
    assert report["originates_unknown_to_db"] == 0, report
    assert report["left_dialing"] == 0, report
    # a restarted simulator forgets its calls (like a crashed Asterisk): those may be unknown;
    # after an AMI cut and a gateway kill the ledger gives the real outcome of a call that ended
    # while the link was down, and of one found alive that ended with nothing saying how (its
    # answer and agent came while no session listened). Measured runs end with none; one per
    # fault is margin for a loaded machine, not an expected loss
    by_fault = {f["fault"]: f["unknown"] for f in report["faults"]}
    bound = 1
    assert by_fault["ami_cut"] <= bound, report["faults"]
    assert by_fault["kill"] <= bound, report["faults"]
