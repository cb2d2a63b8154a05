"""The Grafana dashboards read what the exporter writes: each file is valid JSON, every
panel has a Flux query, and every measurement, tag and field the queries name is one the
export writes (built here by :mod:`cloud.export.points` itself, so the two cannot drift
apart)."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

import pytest

from cloud.db.records import IncidentChange, StoredSample
from cloud.export.points import (
    FIX,
    INCIDENT,
    MEASUREMENTS,
    TELEMETRY,
    fix_line,
    incident_line,
    telemetry_line,
)
from cloud.heal.outcome import FixOutcome

DASHBOARDS = ("fleet-overview.json", "device-detail.json")


def _written() -> dict[str, tuple[set[str], set[str]]]:
    """Per measurement, the tag keys and the (non-metric) field keys the export writes."""
    lines = [
        telemetry_line(StoredSample("hp-1", 0, 1.0, {"supply_temp_c": 40.0}), "heatpump-hp200"),
        incident_line(IncidentChange(1, "hp-1", "hp", "overheat/compressor", "open", 1.0, 0.9)),
        fix_line(
            FixOutcome(1, "hp-1", "hp", "overheat/compressor", "reduce_load", 1, "done", True, 1)
        ),
    ]
    written = {}
    for line in lines:
        assert line is not None
        series, fields, _ = line.split(" ")
        measurement, *tags = series.split(",")
        field_keys = {f.split("=")[0] for f in fields.split(",")}
        written[measurement] = ({t.split("=")[0] for t in tags}, field_keys)
    written[TELEMETRY] = (written[TELEMETRY][0], set())  # its fields are the metrics
    return written


def _load(name: str) -> dict[str, Any]:
    text = (files("dashboards") / "grafana" / name).read_text(encoding="utf-8")
    board: dict[str, Any] = json.loads(text)
    return board


def _queries(board: dict[str, Any]) -> list[str]:
    """Every Flux query of the dashboard: its panels' and its query variables'."""
    queries = []
    for panel in board["panels"]:
        targets = [t.get("query", "") for t in panel.get("targets", [])]
        assert targets, f"panel {panel['title']!r} has no query"
        assert all(q.strip() for q in targets), f"panel {panel['title']!r} has an empty query"
        queries += targets
    variables = board["templating"]["list"]
    queries += [v["query"] for v in variables if v["type"] == "query"]
    return queries


def test_the_dashboard_files_are_the_packaged_ones() -> None:
    folder = files("dashboards") / "grafana"
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".json")) == sorted(
        DASHBOARDS
    )


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_query_names_what_the_export_writes(name: str) -> None:
    board = _load(name)
    written = _written()
    all_tags = set().union(*(tags for tags, _ in written.values()))
    named: set[str] = set()
    for query in _queries(board):
        measurements = set(re.findall(r'_measurement == "([^"]+)"', query))
        measurements |= set(re.findall(r'measurement: "([^"]+)"', query))
        assert measurements, f"{name}: a query names no measurement:\n{query}"
        assert measurements <= set(MEASUREMENTS), f"{name}: not exported: {measurements}"
        named |= measurements
        # tags filtered on: r.device == "...", contains(value: r.model, ...), tag: "device"
        tags = set(re.findall(r"\br\.([a-z]\w*) ==", query))
        tags |= set(re.findall(r"value: r\.([a-z]\w*)", query))
        tags |= set(re.findall(r'\btag: "([^"]+)"', query))
        assert tags <= all_tags, f"{name}: tags the export does not write: {tags - all_tags}"
        fields = set(re.findall(r'_field == "([^"$]+)"', query))
        measured_fields = set().union(*(written[m][1] for m in measurements))
        assert fields <= measured_fields, f"{name}: fields not written: {fields}"
        for kept in re.findall(r"keep\(columns: \[([^\]]*)\]", query):
            columns = set(re.findall(r'"([^"]+)"', kept)) - {"_time", "_value", "_field"}
            assert columns <= all_tags | measured_fields, f"{name}: unknown columns {columns}"
    assert named == {TELEMETRY, INCIDENT, FIX}, f"{name} should show all three measurements"


def test_device_detail_is_templated_on_the_device() -> None:
    board = _load("device-detail.json")
    (device,) = [v for v in board["templating"]["list"] if v["name"] == "device"]
    assert device["type"] == "query"
    assert 'tag: "device"' in device["query"]
    for panel in board["panels"]:
        (target,) = panel["targets"]
        assert 'r.device == "${device}"' in target["query"], panel["title"]
