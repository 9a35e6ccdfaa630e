"""The control API: aiohttp application under ``/v1``, auth and roles, import/export, webhooks."""
