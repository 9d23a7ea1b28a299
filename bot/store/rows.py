"""How the store's values go into and come out of rows: UTC times and JSON text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, overload


def now() -> datetime:
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: None) -> None: ...
def aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every time we store is UTC.
    return None if value is None else value if value.tzinfo else value.replace(tzinfo=UTC)


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)
