"""SQLAlchemy 2 declarative models: the schema the migrations create.

Tables are declared here and created by hand-written Alembic revisions in
``gateway/db/migrations/versions``; a test checks the two agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table."""


class ServiceInstance(Base):
    """Gateway instances seen by this database (one row per running process)."""

    __tablename__ = "service_instances"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    heartbeat_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
