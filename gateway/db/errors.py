"""Errors of the database edge.

DatabaseError            the database cannot be started, reached or migrated
└── EmbeddedServerError  the embedded PostgreSQL failed to start or stop
"""

from __future__ import annotations


class DatabaseError(Exception):
    """The database could not be started, reached or migrated."""


class EmbeddedServerError(DatabaseError):
    """The embedded PostgreSQL could not be started or stopped."""
