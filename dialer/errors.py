"""The user mistakes the ``dialer`` command reports as one line and exit code 2.

:class:`UsageError` is raised where a mistake is found (a port already in use, a missing file or
folder) and caught once, in :func:`dialer.cli.main`, which prints ``dialer: error: <message>``
without a traceback. Settings mistakes have their own :class:`gateway.settings.SettingsError`,
handled the same way.
"""

from __future__ import annotations

import errno


class UsageError(Exception):
    """Something the user asked for cannot be done as asked; the message says what to change."""


def listen_error(what: str, host: str, port: int, exc: OSError) -> UsageError:
    """The one line for a listener that could not bind (port in use, address not local...)."""
    if exc.errno == errno.EADDRINUSE:
        reason = "the port is already in use (another dialer or program listens there)"
    elif exc.errno == errno.EADDRNOTAVAIL:
        reason = "the address is not one of this machine's"
    elif exc.errno == errno.EACCES:
        reason = "permission denied (ports under 1024 need privileges)"
    else:
        reason = exc.strerror or str(exc)
    return UsageError(f"{what} cannot listen on {host}:{port}: {reason}")
