"""The gateway: every edge of the dialer (Asterisk links, database, settings, CLI, wiring).

Nothing here decides how many calls to place; that is :mod:`pacing`. The gateway turns those
decisions into Originates and turns Asterisk's events back into recorded outcomes.
"""

__version__ = "0.1.0"
