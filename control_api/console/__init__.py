"""The browser console: static files served with strict headers, and ``GET /v1/me``.

``console_app()`` is an aiohttp sub-application (mounted at ``/console`` by ``dialer.app``) that
serves the three files of ``static/`` — the project's own HTML, CSS and JavaScript, no build step,
nothing from another origin — under a Content-Security-Policy without inline script. The console
speaks only the ``/v1`` API with a bearer token held in the browser's session storage, so there is
no cookie and no CSRF surface; the server stays the authority on every operation.

This package does no database work and must not: ``ME`` is the one route it adds to ``/v1``.
"""

from control_api.console.serve import CSP, console_app
from control_api.console.whoami import ME

__all__ = ["CSP", "ME", "console_app"]
