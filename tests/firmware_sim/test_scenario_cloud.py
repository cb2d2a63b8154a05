"""A scenario judged from what the cloud recorded: a stuck sensor scheduled in the file
opens its incident within the intervals the scenario allows, no healthy device gets one,
every seq is stored once though a device lost its network for a while, and an
expectation that cannot hold fails with a report naming it, the device and the amount,
in the JSON and JUnit files CI reads. A fix the cloud's playbook sends and the telemetry
verifies is a verified recovery; the setup and outreach the cloud reports are read too.

Device time runs 600 (healing: 300) times faster than real time, shared by the fleet and
the cloud through one ScaledClock (see tests/e2e/test_detection.py).
"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cloud.heal.signing import CommandSigner
from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.cloud_reader import read_stored_seqs
from firmware_sim.recording import ReportFiles, run_and_record
from firmware_sim.scenario import load_scenario, run_scenario
from firmware_sim.upload import RecordTarget
from tests.conftest import Broker, cloud_settings, running_cloud

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SPEED = 600.0
FAULTY = "lab-heatpump-hp200-00001"
SCENARIO = """\
name: stuck sensor
fleet:
  seed: 3
  id_prefix: lab-
  telemetry_interval_s: 60
  models:
    - {model: heatpump-hp200, count: 2, firmware: "4.3.0-rc1"}
    - {model: evcharger-ec11, count: 1}
duration_s: 6300          # 105 intervals: 60 to learn normal, the fault from the 65th
events:                   # the charger loses its network for half an hour: nothing is lost
  - {event: network_outage, at_s: 1200, duration_s: 1800, devices: {model: evcharger-ec11}}
faults:
  - at_s: 3900
    devices: {ids: [heatpump-hp200-00001]}
    fault: sensor-stuck/supply_temp_c
expect:
  - {kind: incident_within, signature: sensor-stuck/supply_temp_c, within_intervals: 15}
  - {kind: no_incident_on_healthy_devices}
  - {kind: every_seq_stored_once}
  - {kind: max_unacknowledged_samples, limit: 0}
  - {kind: incident_within, signature: sensor-stuck/supply_temp_c, within_intervals: 1}
"""


async def test_a_scheduled_fault_is_judged_from_the_clouds_incidents_and_reported(
    broker: Broker,
    database_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "stuck.yaml"
    path.write_text(SCENARIO)
    clock = ScaledClock(SystemClock().now(), SPEED)
    settings = cloud_settings(broker, database_url, tmp_path, self_healing=False)
    files = ReportFiles(tmp_path / "report.json", tmp_path / "report.xml", "ci job 7")
    async with running_cloud(settings, clock) as cloud:
        token = cloud.service.repos.tokens.issue("service")
        target = RecordTarget(cloud.base_url + "/api/v1", token, "ci job 7")
        code = await run_and_record(path, broker.url, target, speed=SPEED, files=files, clock=clock)
        devices = {d.id: d for d in cloud.service.repos.telemetry.list_devices()}
        api = cloud.base_url + "/api/v1"
        paged = await asyncio.to_thread(read_stored_seqs, api, token, FAULTY, 0.0, 7)
        whole = await asyncio.to_thread(read_stored_seqs, api, token, FAULTY, 0.0)
    captured = capsys.readouterr()
    said = captured.out
    assert code == 1, said
    assert "of 01:45:00, 3 devices, " in captured.err, "a progress line every few seconds"
    faulty = FAULTY
    assert paged == whole == list(range(len(whole))), "paging by 7 reads every row once"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["scenario_file"] == "stuck.yaml"
    assert report["devices"] == 3
    connects = int(report["summary"].split(" connects")[0].rsplit(" ", 1)[1])
    assert connects >= 4, f"the outage cut the charger's broker link: {report['summary']}"
    outcomes = {e["name"]: e for e in report["expectations"]}
    held = outcomes["incident sensor-stuck/supply_temp_c within 15 intervals"]
    assert held["passed"], held["detail"]
    assert 1 <= held["measured"] <= 15
    assert held["detail"].startswith(
        "an incident sensor-stuck/supply_temp_c opened on the faulted device within 15 "
        "intervals of 60 s (after "
    )
    assert outcomes["no_incident_on_healthy_devices"]["passed"], outcomes
    assert outcomes["every_seq_stored_once"]["passed"], outcomes
    assert outcomes["every_seq_stored_once"]["detail"].endswith(
        "the 3 devices produced is stored exactly once"
    )
    failed = outcomes["incident sensor-stuck/supply_temp_c within 1 interval"]
    assert not failed["passed"]
    assert failed["devices"] == [faulty]
    late = held["measured"] - 1
    assert f"{faulty} (after {held['measured']:.1f}, {late:.1f} late)" in failed["detail"]
    assert (failed["measured"], failed["limit"]) == (held["measured"], 1)
    assert "FAILED incident sensor-stuck/supply_temp_c within 1 interval: " in said
    assert "1 expectation(s) failed" in said

    suites = ET.parse(tmp_path / "report.xml").getroot()
    (suite,) = suites.findall("testsuite")
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "stuck sensor",
        "5",
        "1",
    )
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [e["name"] for e in report["expectations"]]
    (failure,) = suite.iter("failure")
    assert failure.get("message") == failed["detail"]
    assert f"devices: {faulty}" in (failure.text or "")

    assert devices[faulty].firmware == "4.3.0-rc1"
    assert devices["lab-evcharger-ec11-00002"].firmware != "4.3.0-rc1"
    (run,) = cloud.service.repos.sim_runs.find()
    assert not run.report.passed, "the report is recorded in the cloud too"


HEALING = """\
name: stuck sensor healed
fleet:
  seed: 3
  id_prefix: heal-
  telemetry_interval_s: 60
  models:
    - {model: heatpump-hp200, count: 1}
duration_s: 8400          # 140 intervals: 65 to learn normal, then the fault and its fix
speed: 600
faults:
  - at_s: 3900
    devices: {ids: [heatpump-hp200-00000]}
    fault: sensor-stuck/supply_temp_c
expect:
  - {kind: verified_recovery, within_s: 4500}
  - {kind: verified_recovery, within_s: 60}
  - {kind: activation_within, within_s: 300}
  - {kind: outreach_before_failure}
"""


async def test_a_fix_the_cloud_verifies_is_a_verified_recovery_and_too_slow_one_names_the_delay(
    broker: Broker, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "healing.yaml"
    path.write_text(HEALING)
    clock = ScaledClock(SystemClock().now(), SPEED)
    settings = cloud_settings(broker, database_url, tmp_path)
    key = CommandSigner.load_or_create(Path(settings.command_key_path)).public_key_text
    async with running_cloud(settings, clock) as cloud:
        token = cloud.service.repos.tokens.issue("service")
        target = RecordTarget(cloud.base_url + "/api/v1", token, "ci job 8")
        result = await run_scenario(
            load_scenario(path), broker.url, cloud=target, clock=clock, command_key=key
        )
    healed = "heal-heatpump-hp200-00000"
    windows = result.fault_logs[healed]
    assert [w.cleared_by for w in windows] == ["recalibrate_sensor"], "the device ran the fix"
    held, too_slow, activation, outreach = result.expectations
    assert held.passed, held.detail
    assert held.detail.startswith("a verified fix recovered the faulted device within 4,500 s")
    assert held.measured is not None
    assert 60 < held.measured <= 4500
    assert not too_slow.passed
    assert too_slow.devices == (healed,)
    late = f"after {held.measured:,.0f} s, {held.measured - 60:,.0f} s late"
    assert too_slow.detail == f"1 device recovered too late: {healed} ({late})"
    assert not activation.passed, "nobody ticked the owner's steps"
    assert activation.devices == (healed,)
    assert activation.detail == (
        f"1 of 1 device not activated: {healed} (held up by owner_preferences needs_owner)"
    )
    assert outreach.passed
    assert outreach.measured == 0
    assert "no device's part failed during the run" in outreach.detail
