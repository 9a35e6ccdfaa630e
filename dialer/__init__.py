"""The composition root: the one package that imports every layer and wires the service.

It holds the ``dialer`` command line, ``Service`` (database, Asterisk edge, pacing, control API,
metrics), the demo and its live view, the observer, the result writer and instance heartbeats.
Nothing below it imports it: ``pacing`` (the pure dialing core), ``gateway`` (the Asterisk edge,
the database and the campaign domain) and ``control_api`` (HTTP only) know nothing of how they
are put together.
"""
