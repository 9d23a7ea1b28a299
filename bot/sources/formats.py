"""Response bodies that live sources and snapshots both read: Prometheus text exposition and
Log Analytics query tables."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def parse_prometheus(text: str) -> list[dict[str, Any]]:
    """Prometheus text -> [{name, labels, value}] with prometheus_client's own parser."""
    samples = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.append(
                {"name": sample.name, "labels": dict(sample.labels), "value": sample.value}
            )
    return samples


def table_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the primary table of a Log Analytics query response, as dicts by column name."""
    tables = body.get("tables") or []
    if not tables:
        return []
    table = next((t for t in tables if t.get("name") == "PrimaryResult"), tables[0])
    columns = [c.get("name") for c in table.get("columns") or []]
    return [dict(zip(columns, row, strict=False)) for row in table.get("rows") or []]
