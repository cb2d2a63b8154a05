"""The report a finished run sends to the cloud, built from its result alone; the cloud's
own validation accepts it as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.api.schemas.sim_runs import SimRunIn
from firmware_sim.expectations import ExpectationResult
from firmware_sim.run_report import build_report
from firmware_sim.scenario import ScenarioResult, load_scenario
from firmware_sim.upload import RecordTarget, api_base, page_url

T0 = 1_780_000_000.0


def result(tmp_path: Path) -> ScenarioResult:
    path = tmp_path / "smoke.yaml"
    path.write_text(
        "name: smoke\nfleet: {devices: 3, seed: 9, id_prefix: lab-}\nduration_s: 300\nspeed: 100\n"
    )
    outcomes = (
        ExpectationResult("all_connected", True, "all 3 devices connected", (), 3, 3),
        ExpectationResult(
            "max_unacknowledged_samples", False, "4 samples left", ("lab-x-00001",), 4, 0
        ),
    )
    return ScenarioResult(
        load_scenario(path), T0, T0 + 7.25, ("heatpump-hp200",), outcomes, "scenario smoke: 3"
    )


def test_the_report_carries_the_run_and_each_expectation_as_checked(tmp_path: Path) -> None:
    report = build_report(result(tmp_path), "smoke.yaml", "ci  job\n 7")
    assert report == {
        "scenario": "smoke",
        "scenario_file": "smoke.yaml",
        "started_at": "2026-05-28T20:26:40+00:00",
        "finished_at": "2026-05-28T20:26:47.250000+00:00",
        "speed": 100.0,
        "seed": 9,
        "devices": 3,
        "models": ["heatpump-hp200"],
        "passed": False,
        "expectations": [
            {
                "name": "all_connected",
                "passed": True,
                "detail": "all 3 devices connected",
                "devices": [],
                "measured": 3,
                "limit": 3,
            },
            {
                "name": "max_unacknowledged_samples",
                "passed": False,
                "detail": "4 samples left",
                "devices": ["lab-x-00001"],
                "measured": 4,
                "limit": 0,
            },
        ],
        "summary": "scenario smoke: 3",
        "reported_by": "ci job 7",
    }
    stored = SimRunIn.model_validate(report).report("manufacturer")
    assert stored.finished_at - stored.started_at == 7.25
    assert stored.expectations[1].devices == ("lab-x-00001",)


def test_the_api_address_is_normalised_and_a_bad_one_refused() -> None:
    assert api_base("http://127.0.0.1:8000") == "http://127.0.0.1:8000/api/v1"
    assert api_base("http://127.0.0.1:8000/api/v1/") == "http://127.0.0.1:8000/api/v1"
    assert page_url("http://h:1/api/v1") == "http://h:1/manufacturer"
    with pytest.raises(ValueError, match="not the cloud's address"):
        RecordTarget("ftp://h/api/v1", "t")
    with pytest.raises(ValueError, match="needs a token"):
        RecordTarget("http://h/api/v1", " ")
