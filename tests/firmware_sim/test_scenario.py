"""``aftercare sim run``: a scenario against a real broker and cloud, with its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_sim.fleet import FleetSpec
from firmware_sim.recording import run_and_record
from firmware_sim.scenario import ScenarioError, load_scenario, run_scenario_file
from firmware_sim.upload import RecordTarget
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


async def test_a_run_is_recorded_in_the_cloud_and_a_refused_upload_keeps_the_verdict(
    broker: Broker, cloud: RunningCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "lab.yaml"
    scenario.write_text(
        "name: lab smoke\n"
        "fleet: {devices: 2, seed: 3, telemetry_interval_s: 60, id_prefix: lab-}\n"
        "duration_s: 240\nspeed: 100\n"
    )
    token = cloud.service.repos.tokens.issue("manufacturer")
    api = cloud.base_url + "/api/v1"
    assert await run_and_record(scenario, broker.url, RecordTarget(api, token, "test")) == 0
    said = capsys.readouterr().out
    assert f"recorded as simulation run 1: {cloud.base_url}/manufacturer" in said
    (run,) = cloud.service.repos.sim_runs.find()
    assert (run.report.scenario, run.report.scenario_file) == ("lab smoke", "lab.yaml")
    assert run.report.passed
    assert [e.name for e in run.report.expectations] == [
        "all_connected",
        "max_unacknowledged_samples",
    ]
    assert run.report.expectations[0].detail == "all 2 devices connected to the broker"
    devices = {d.id for d in cloud.service.repos.telemetry.list_devices()}
    assert devices == {"lab-evcharger-ec11-00000", "lab-heatpump-hp200-00001"}

    owner = cloud.service.repos.tokens.issue("owner", owner_id="alice")
    refused = RecordTarget(api, owner, "test")
    assert await run_and_record(scenario, broker.url, refused) == 0, "the verdict stands"
    captured = capsys.readouterr()
    assert "PASSED" in captured.out
    assert "the run was not recorded: this token may not record simulation runs" in captured.err
    assert len(cloud.service.repos.sim_runs.find()) == 1


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


def test_an_id_prefix_goes_before_every_device_id_and_a_bad_one_is_refused(
    tmp_path: Path,
) -> None:
    spec = FleetSpec(devices=2, mqtt_url="mqtt://127.0.0.1:9", id_prefix="lab-")
    assert [d for _, d in spec.identities()] == [
        "lab-evcharger-ec11-00000",
        "lab-heatpump-hp200-00001",
    ]
    scenario = tmp_path / "bad-prefix.yaml"
    scenario.write_text("fleet: {devices: 2, id_prefix: '-lab/'}\nduration_s: 10\n")
    with pytest.raises(ScenarioError, match=r"fleet\.id_prefix: String should match pattern"):
        load_scenario(scenario)
