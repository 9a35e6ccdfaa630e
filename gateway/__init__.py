"""The gateway: the Asterisk edge, the campaign domain and the database, with settings and logs.

``gateway.asterisk`` speaks AMI and ARI and tracks calls; ``gateway.campaigns`` holds the
campaign domain and all its SQL; ``gateway.db`` the engine, models and migrations. Nothing here
decides how many calls to place (that is :mod:`pacing`) or wires the service (that is
:mod:`dialer`), and nothing here imports ``control_api`` or ``dialer``
(``tests/test_layers.py``).
"""

__version__ = "0.1.0"
