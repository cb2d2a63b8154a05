"""What the export writes: one line-protocol point per sample, incident change and judged
fix, with the tags Grafana filters on and the sample's own time."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client import Point

from cloud.db.records import IncidentChange, StoredSample
from cloud.export.points import (
    MEASUREMENTS,
    PRECISION,
    TELEMETRY,
    fix_line,
    incident_line,
    telemetry_line,
)
from cloud.heal.outcome import FixOutcome

TS = 1_780_000_000.25
TS_US = 1_780_000_000_250_000


def test_a_sample_is_a_telemetry_point_with_its_metrics_as_float_fields() -> None:
    sample = StoredSample("hp-00001", 7, TS, {"supply_temp_c": 41.5, "heap_free_kb": 512})
    line = telemetry_line(sample, "heatpump-hp200")
    assert line == (
        "telemetry,device=hp-00001,model=heatpump-hp200 "
        f"heap_free_kb=512,supply_temp_c=41.5 {TS_US}"
    )
    # 512 is written as a float, not 512i: a field may not change type within a series
    assert "512i" not in (line or "")


def test_readings_that_are_not_finite_numbers_are_left_out() -> None:
    sample = StoredSample("hp-1", 0, TS, {"ok": 1.0, "bad": math.nan, "worse": math.inf})
    assert telemetry_line(sample, "m") == f"telemetry,device=hp-1,model=m ok=1 {TS_US}"
    assert telemetry_line(StoredSample("hp-1", 1, TS, {"bad": math.nan}), "m") is None
    assert telemetry_line(StoredSample("hp-1", 2, TS, {}), "m") is None


def test_a_device_whose_model_is_unknown_has_no_model_tag() -> None:
    line = telemetry_line(StoredSample("ev-1", 0, TS, {"current_a": 16.0}), None)
    assert line == f"telemetry,device=ev-1 current_a=16 {TS_US}"


def test_tag_values_are_escaped() -> None:
    line = telemetry_line(StoredSample("a b,c=d", 0, TS, {"x": 1.0}), "m 1")
    assert line == rf"telemetry,device=a\ b\,c\=d,model=m\ 1 x=1 {TS_US}"


def test_an_incident_change_is_an_incident_point_tagged_with_its_status() -> None:
    change = IncidentChange(42, "hp-1", "heatpump-hp200", "overheat/compressor", "open", TS, 0.9)
    assert incident_line(change) == (
        "incident,device=hp-1,model=heatpump-hp200,signature=overheat/compressor,status=open "
        f"incident_id=42i,peak_score=0.9 {TS_US}"
    )
    unknown = IncidentChange(43, "hp-2", None, "spike/x", "escalated", TS, 1.0)
    assert incident_line(unknown).startswith("incident,device=hp-2,signature=spike/x,status=")


def test_a_judged_fix_is_a_fix_point_saying_whether_it_ran_and_whether_it_worked() -> None:
    healed = FixOutcome(
        42, "hp-1", "heatpump-hp200", "overheat/compressor", "reduce_load", 1, "done", True, TS
    )
    assert fix_line(healed) == (
        "fix,action=reduce_load,device=hp-1,model=heatpump-hp200,signature=overheat/compressor "
        f"attempt=1i,incident_id=42i,ok=true,verified=true {TS_US}"
    )
    refused = FixOutcome(
        42, "hp-1", "", "overheat/compressor", "clean_filter", 2, "refused", False, TS
    )
    assert fix_line(refused) == (
        "fix,action=clean_filter,device=hp-1,signature=overheat/compressor "
        f"attempt=2i,incident_id=42i,ok=false,verified=false {TS_US}"
    )


def test_the_measurements_are_the_three_the_dashboards_read() -> None:
    assert MEASUREMENTS == ("telemetry", "incident", "fix")


_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_metrics = st.dictionaries(
    _texts.filter(bool),
    st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**6), 10**6),
    max_size=8,
)


@given(device=_texts.filter(bool), model=st.none() | _texts, metrics=_metrics)
def test_telemetry_lines_read_as_the_clients_own_points_would(
    device: str, model: str | None, metrics: dict[str, float]
) -> None:
    """The hand-written telemetry encoder (it runs for every stored sample) gives the
    text influxdb-client's ``Point`` gives, for any names and values."""
    sample = StoredSample(device, 1, 1_750_000_000.25, metrics)
    point = Point(TELEMETRY).tag("device", device).tag("model", model)
    finite = 0
    for name, value in metrics.items():
        if math.isfinite(value):
            point.field(name, float(value))
            finite += 1
    expected = point.time(1_750_000_000_250_000, PRECISION).to_line_protocol() if finite else None
    assert telemetry_line(sample, model) == expected
