"""The control API, HTTP only: the aiohttp application under ``/v1``, routes, schemas, auth and
roles, download formats, the webhook sender, OpenAPI and the console. No SQL: every handler
calls a service of :mod:`gateway.campaigns` (``tests/test_layers.py``)."""
