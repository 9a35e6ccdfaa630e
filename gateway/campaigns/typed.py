"""Typed rows at the domain boundary: frozen dataclasses built from result mappings.

:func:`columns` names a row class's fields (the columns its query selects, in order);
:func:`row_of` builds one from a SQLAlchemy row mapping, taking exactly those keys. Turning rows
into JSON is the control API's business (``control_api.schemas.document``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def columns(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def row_of(cls: type[R], row: Mapping[Any, Any]) -> R:
    return cls(**{name: row[name] for name in columns(cls)})
