"""What every benchmark command shares: how its result is printed, where its database is.

A benchmark prints one table of measured numbers, or with ``--json`` one JSON object (for
scripts and for the closing notes' numbers); its default database is the test server on the
machine (``DIALER_TEST_DATABASE_URL``, else PostgreSQL on 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")

LOCAL_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"


def emit(result: R, args: argparse.Namespace, table: Callable[[R], object]) -> int:
    """Print ``result`` as one JSON object when ``args.json`` is set, else as ``table`` prints
    it; the command's exit code (0)."""
    if args.json:
        print(json.dumps(result))
    else:
        table(result)
    return 0


def default_database_url(*, own_first: bool = False) -> str:
    """The database a benchmark uses unless told: the test server's URL (with ``own_first``,
    the service's ``DIALER_DATABASE_URL`` before it), else the local PostgreSQL."""
    own = os.environ.get("DIALER_DATABASE_URL") if own_first else None
    return own or os.environ.get("DIALER_TEST_DATABASE_URL", LOCAL_DATABASE)
