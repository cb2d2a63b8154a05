"""What a service engineer reads: peak with unit, normal range, duration, a sentence,
the likely cause and the next step."""

from __future__ import annotations

import random

import numpy as np

from cloud.diagnosis.narrative import advice_for, narrate, unit_of
from cloud.diagnosis.shapes import ShapeBank
from cloud.incidents.tracker import Finding, IncidentOpened, IncidentTracker


def test_units_follow_the_metric_naming_convention() -> None:
    assert unit_of("compressor_current_a") == "A"
    assert unit_of("connector_temp_c") == "°C"
    assert unit_of("energy_total_kwh") == "kWh"
    assert unit_of("cpu_load_pct") == "%"
    assert unit_of("cop") == ""


def test_a_spike_incident_reads_like_a_service_note() -> None:
    evidence = {
        "detector": "spike",
        "metric": "compressor_current_a",
        "value": 5.35,
        "normal_low": 2.1,
        "normal_high": 3.0,
    }
    explained = narrate("spike/compressor_current_a", evidence, 1000.0, 1600.0, 3)
    assert explained["summary"] == (
        "Compressor current spiked to 5.35 A 3 times within 10 minutes; normal is 2.10 A to 3.00 A."
    )
    assert explained["peak_value"] == 5.35
    assert explained["unit"] == "A"
    assert explained["duration_s"] == 600.0
    assert explained["likely_cause"] == advice_for("spike/x").cause
    assert "recalibrate" in str(explained["next_step"])


def test_limits_stuck_sensors_and_flapping_links_have_their_own_sentences() -> None:
    limit = narrate(
        "overheat/compressor",
        {"detector": "limit", "metric": "compressor_temp_c", "value": 107.2, "limit": 105.0},
        0.0,
        180.0,
        3,
    )
    assert limit["summary"] == "Compressor temp reached 107 °C, beyond the rated limit of 105 °C."
    assert "filter" in str(limit["next_step"])
    stuck = narrate(
        "sensor-stuck/supply_temp_c",
        {"detector": "repeat", "metric": "supply_temp_c", "value": 41.0, "repeats": 120},
        0.0,
        7200.0,
        40,
    )
    assert stuck["summary"] == "Supply temp has read exactly 41.0 °C for 120 readings in a row."
    seasonal = narrate(
        "sensor-drift/supply_temp_c",
        {
            "detector": "daily",
            "metric": "supply_temp_c",
            "value": 40.2,
            "normal_low": 35.6,
            "normal_high": 45.1,
        },
        0.0,
        840.0,
        15,
    )
    assert seasonal["summary"] == (
        "Supply temp has been unusual for the time of day for 14 minutes, at 40.2 °C "
        "(its usual range is 35.6 °C to 45.1 °C)."
    )
    flapping = narrate(
        "connectivity/flapping", {"detector": "presence", "drops_last_hour": 4}, 0.0, 60.0, 3
    )
    assert flapping["summary"] == "The device's connection dropped 4 times within an hour."
    relation = narrate(
        "overheat/compressor",
        {
            "detector": "relation",
            "metric": "compressor_temp_c",
            "value": 81.2,
            "expected": 62.5,
            "normal_low": 55.0,
            "normal_high": 70.0,
        },
        0.0,
        1800.0,
        30,
    )
    assert relation["summary"] == (
        "Compressor temp reached 81.2 °C where devices like it read about 62.5 °C in the "
        "same conditions, for 30 minutes; normal is 55.0 °C to 70.0 °C."
    )


def test_the_incident_shows_the_peak_of_its_evidence_not_the_last_reading() -> None:
    tracker = IncidentTracker()
    readings = [5.35, 2.6, 4.1]  # a spike, then calmer readings while evidence persists
    opened: list[IncidentOpened] = []
    for i, value in enumerate(readings):
        finding = Finding(
            "spike/current_a",
            0.8,
            {"metric": "current_a", "value": value, "normal_low": 2.1, "normal_high": 3.0},
        )
        for decision in tracker.observe("d1", 60.0 * i, {finding.signature: finding}):
            assert isinstance(decision, IncidentOpened)
            opened.append(decision)
    (incident,) = opened
    assert incident.explanation["value"] == 5.35
    assert incident.occurrences == 3
    assert incident.evidence_since == 0.0


def test_the_normal_band_is_the_5th_to_95th_percentile_of_what_it_learned() -> None:
    rng = random.Random(3)
    bank = ShapeBank()
    bank.columns(["current_a"])
    assert bank.band("current_a") is None
    values = np.array([[rng.gauss(2.5, 0.25)] for _ in range(3000)])
    bands = bank.learn_bands(values, np.ones_like(values, dtype=np.bool_))
    bounds = bank.band("current_a")
    assert bounds is not None
    assert tuple(bands[-1, 0]) == bounds
    recent = sorted(values[-1000:, 0])
    assert abs(bounds[0] - recent[50]) < 0.1
    assert abs(bounds[1] - recent[950]) < 0.1


def test_samples_found_abnormal_do_not_move_the_band() -> None:
    rng = random.Random(4)
    bank = ShapeBank()
    bank.columns(["current_a"])
    values = np.array([[rng.gauss(2.5, 0.25)] for _ in range(500)] + [[9.0]] * 500)
    normal = np.ones_like(values, dtype=np.bool_)
    normal[500:] = False
    bank.learn_bands(values, normal)
    bounds = bank.band("current_a")
    assert bounds is not None
    assert bounds[1] < 3.2
