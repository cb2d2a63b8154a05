"""``aftercare sim run``: a scenario against a real broker and cloud, with its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.scenario import ScenarioError, load_scenario, run_scenario_file
from tests.audit import sample_count
from tests.conftest import Broker, RunningCloud

pytestmark = pytest.mark.e2e


async def test_a_scenario_passes_when_the_cloud_stores_everything(
    broker: Broker, cloud: RunningCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "smoke.yaml"
    scenario.write_text(
        "name: smoke\n"
        "fleet: {devices: 4, seed: 2, telemetry_interval_s: 60}\n"
        "duration_s: 300\n"
        "speed: 100\n"
        "expect: {all_connected: true, max_unacknowledged_samples: 0}\n"
    )
    assert await run_scenario_file(scenario, broker.url) == 0
    report = capsys.readouterr().out
    assert "scenario smoke: 4 devices" in report
    assert "0 unacknowledged" in report
    assert report.strip().endswith("PASSED")
    assert sample_count(cloud.service.repos.engine) > 0


async def test_a_scenario_fails_when_nothing_stores_the_telemetry(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "no-cloud.yaml"
    scenario.write_text(
        "fleet: {devices: 2, telemetry_interval_s: 60}\nduration_s: 120\nspeed: 100\n"
        "expect: {drain_timeout_s: 2}\n"
    )
    assert await run_scenario_file(scenario, broker.url) == 1  # no cloud: nothing acknowledged
    assert "FAILED max_unacknowledged_samples" in capsys.readouterr().out


def test_unknown_keys_in_a_scenario_are_refused(tmp_path: Path) -> None:
    scenario = tmp_path / "typo.yaml"
    scenario.write_text("fleet: {devices: 2}\nduration_s: 10\nexpectations: {}\n")
    with pytest.raises(ScenarioError, match="expectations: Extra inputs are not permitted"):
        load_scenario(scenario)
