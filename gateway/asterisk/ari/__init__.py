"""The ARI edge: an aiohttp REST client, the events WebSocket, and typed ARI events."""
