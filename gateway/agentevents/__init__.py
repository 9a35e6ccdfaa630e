"""Agent events: what each agent's phone does with the gateway's calls, as a stream of
numbered events with the record on the line (the screen pop), kept in a bounded replay buffer
and fanned out to subscribers (the control API's WebSocket streams) and to the webhook outbox.

``model`` holds the event and its JSON form, ``replay`` the buffer (pure), ``hub`` the owner of
both (one task, no HTTP).
"""
