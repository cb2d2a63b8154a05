"""Scenario files: the fleet by model and firmware, environment events, a fault schedule
and expectations as a list; a malformed file is refused naming its file, line and field;
a run applies the schedule on device time and refuses what it cannot carry out."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from device_agent.clock import ScaledClock, SystemClock
from firmware_sim.expectations import ExpectationResult
from firmware_sim.faults import FaultKind
from firmware_sim.report_files import write_json, write_junit
from firmware_sim.run_report import build_report
from firmware_sim.scenario import ScenarioError, ScenarioResult, load_scenario, run_scenario
from tests.conftest import Broker

GOOD = """\
name: lab
fleet:
  seed: 4
  id_prefix: lab-
  telemetry_interval_s: 60
  models:
    - {model: heatpump-hp200, count: 2, firmware: "4.3.0"}
    - {model: evcharger-ec11, count: 2}
duration_s: 3000
speed: 600
events:
  - {event: network_outage, at_s: 300, duration_s: 1200, devices: {model: evcharger-ec11, count: 1}}
faults:
  - at_s: 1200
    devices: {model: heatpump-hp200, count: 2}
    fault: sensor-stuck/supply_temp_c
  - at_s: 1800
    devices: {ids: [evcharger-ec11-00003]}
    fault: spike/current_a
    magnitude: 2
    duration_s: 600
expect:
  - {kind: all_connected}
  - {kind: max_unacknowledged_samples, limit: 0}
drain_timeout_s: 1
"""


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    return str(refused.value)


def test_a_scenario_file_with_model_groups_faults_events_and_a_list_of_expectations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    assert scenario.fleet.devices == 4
    assert [f.fault for f in scenario.faults] == ["sensor-stuck/supply_temp_c", "spike/current_a"]
    assert [e.kind for e in scenario.expectations] == [
        "all_connected",
        "max_unacknowledged_samples",
    ]
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text(
        "fleet: {devices: 3, models: [heatpump-hp200]}\nduration_s: 60\n"
        "expect: {all_connected: false, max_unacknowledged_samples: 5, drain_timeout_s: 4}\n"
    )
    old = load_scenario(legacy)
    assert [(e.kind, getattr(e, "limit", None)) for e in old.expectations] == [
        ("max_unacknowledged_samples", 5)
    ]
    assert old.drain_s == 4


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "fleet: {devices: 2}\nduration_s: 60\nfaults:\n"
            "  - at_s: -5\n    devices: {share: 0.5}\n    fault: spike/current_a\n",
            "scenario.yaml:4: faults[0].at_s: Input should be greater than or equal to 0",
        ),
        (
            "fleet:\n  models:\n    - {model: heatpump-hp200, count: 0}\nduration_s: 60\n",
            "scenario.yaml:3: fleet.models[0].count: Input should be greater than or equal to 1",
        ),
        (
            "fleet: {devices: 2}\nduration_s: 60\nfaults:\n"
            "  - {at_s: 5, devices: {share: 0.5}, fault: melted/everything}\n",
            "scenario.yaml:4: faults[0]: Value error, unknown fault kind 'melted'",
        ),
        (
            "fleet: {devices: 2}\nduration_s: 60\nexpect:\n  - {kind: all_connected}\n"
            "  - {kind: max_unacknowledged_samples, limit: 0, slack: 3}\n",
            "scenario.yaml:5: expect[1].slack: Extra inputs are not permitted",
        ),
        (
            "fleet: {devices: 2}\nduration_s: 60\nevents:\n  - {event: network_outage, at_s: 5}\n",
            "scenario.yaml:4: events[0].duration_s: Field required",
        ),
        (
            "fleet:\n  devices: 2\n  models: [heatpump-hp300]\nduration_s: 60\n",
            "scenario.yaml:3: fleet.models: Value error, unknown device model 'heatpump-hp300'",
        ),
    ],
)
def test_a_malformed_scenario_is_refused_with_its_file_line_and_field(
    tmp_path: Path, text: str, said: str
) -> None:
    assert said in refusal(tmp_path, text)


def test_entries_that_cannot_apply_to_the_fleet_are_refused_with_their_line(
    tmp_path: Path,
) -> None:
    head = "fleet:\n  models:\n    - {model: heatpump-hp200, count: 2}\nduration_s: 60\n"
    wrong_part = head + "faults:\n  - {at_s: 5, devices: {share: 1}, fault: overheat/connector}\n"
    assert refusal(tmp_path, wrong_part).startswith(
        "scenario.yaml:6: faults[0].fault: heatpump-hp200-00000: heatpump-hp200 has no connector"
    )
    unknown = head + "faults:\n  - {at_s: 5, devices: {ids: [hp-7]}, fault: spike/supply_temp_c}\n"
    assert refusal(tmp_path, unknown).startswith(
        "scenario.yaml:6: faults[0].devices.ids[0]: no device 'hp-7' in this fleet"
    )
    too_many = head + (
        "events:\n  - event: network_outage\n    at_s: 5\n    duration_s: 60\n"
        "    devices: {model: heatpump-hp200, count: 3}\n"
    )
    assert refusal(tmp_path, too_many) == (
        "scenario.yaml:9: events[0].devices.count: the fleet has 2 heatpump-hp200 devices, not 3"
    )
    unscheduled = head + (
        "faults:\n  - {at_s: 5, devices: {share: 1}, fault: spike/supply_temp_c}\n"
        "expect:\n  - kind: incident_within\n    signature: overheat/compressor\n"
        "    within_intervals: 3\n"
    )
    assert refusal(tmp_path, unscheduled).startswith(
        "scenario.yaml:9: expect[0].signature: no fault in the schedule has signature "
        "'overheat/compressor'"
    )


async def test_a_restart_or_a_cloud_expectation_the_run_cannot_carry_out_is_refused_up_front(
    broker: Broker, tmp_path: Path
) -> None:
    path = tmp_path / "restart.yaml"
    path.write_text(
        "fleet: {devices: 2}\nduration_s: 600\nspeed: 100\nevents:\n"
        "  - {event: network_outage, at_s: 10, duration_s: 60}\n"
        "  - {event: broker_restart, at_s: 120, down_s: 2}\n"
        "expect:\n  - {kind: every_seq_stored_once}\n"
    )
    with pytest.raises(ScenarioError) as refused:
        await run_scenario(load_scenario(path), broker.url)
    assert str(refused.value).splitlines() == [
        "restart.yaml:6: events[1]: a broker_restart needs a broker this run starts and can "
        "restart; this run targets an external broker, which it cannot restart: remove the event",
        "restart.yaml:8: expect[0]: every_seq_stored_once is judged from what the cloud "
        "recorded: give --api and --token (a service token), or AFTERCARE_API_URL and "
        "AFTERCARE_API_TOKEN",
    ]


async def test_simulated_owners_need_a_cloud_the_run_starts(broker: Broker, tmp_path: Path) -> None:
    """Their box codes are made when the run registers the fleet in its own cloud."""
    path = tmp_path / "owners.yaml"
    path.write_text(
        "fleet: {devices: 2}\nduration_s: 600\nspeed: 100\nowners: {steps_after_s: 30}\n"
    )
    with pytest.raises(ScenarioError) as refused:
        await run_scenario(load_scenario(path), broker.url)
    assert str(refused.value).startswith(
        "owners.yaml:4: owners: the simulated owners claim their devices with the codes "
        "from their boxes, which only a cloud this run starts can make"
    )


async def test_the_fault_schedule_and_an_outage_happen_on_device_time(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(GOOD)
    scenario = load_scenario(path)
    result = await run_scenario(scenario, broker.url, progress_every_s=0.5)
    t0 = result.device_start_s
    logs = result.fault_logs
    stuck = [(w.signature, w.start_s - t0) for w in logs["lab-heatpump-hp200-00000"]]
    assert stuck == [("sensor-stuck/supply_temp_c", 1200.0)]
    assert [w.start_s - t0 for w in logs["lab-heatpump-hp200-00001"]] == [1200.0]
    (spike,) = logs["lab-evcharger-ec11-00003"]
    assert (spike.kind, spike.start_s - t0, spike.end_s) == (
        FaultKind.SPIKE,
        1800.0,
        spike.start_s + 600,
    )
    assert logs["lab-evcharger-ec11-00002"] == ()
    assert result.connects["lab-evcharger-ec11-00002"] >= 2, "the outage cut its broker link"
    assert result.connects["lab-heatpump-hp200-00000"] == 1
    connected, unacknowledged = result.expectations
    assert connected.passed, connected.detail
    assert not unacknowledged.passed, "no cloud behind the broker: nothing acknowledged"
    progress = capsys.readouterr().err
    assert "of 00:50:00, 4 devices, 0 faults applied" in progress
    assert "4 devices, 3 faults applied" in progress


def test_the_report_files_carry_every_expectation_and_the_failures_words(tmp_path: Path) -> None:
    path = tmp_path / "lab.yaml"
    path.write_text(GOOD)
    outcomes = (
        ExpectationResult("all_connected", True, "all 4 devices connected to the broker", (), 4, 4),
        ExpectationResult(
            "every_seq_stored_once",
            False,
            "on 1 of 4 devices the cloud did not store each seq once",
            ("lab-heatpump-hp200-00001",),
            3,
            0,
        ),
    )
    result = ScenarioResult(
        load_scenario(path), 1.78e9, 1.78e9 + 5, ("heatpump-hp200",), outcomes, "scenario lab"
    )
    report = build_report(result, "lab.yaml", "ci")
    write_json(report, tmp_path / "r.json")
    write_junit(report, tmp_path / "r.xml")
    assert json.loads((tmp_path / "r.json").read_text()) == report
    root = ET.parse(tmp_path / "r.xml").getroot()
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "2", "1")
    (suite,) = root
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("lab", "2", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["all_connected", "every_seq_stored_once"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "on 1 of 4 devices the cloud did not store each seq once"
    assert failure.text is not None
    assert "devices: lab-heatpump-hp200-00001" in failure.text
    assert "measured: 3, limit: 0" in failure.text


class RestartsTheTestBroker:
    """The control an in-process deployment gives a run: here, the test's own broker."""

    def __init__(self, broker: Broker, clock: ScaledClock) -> None:
        self.broker = broker
        self.clock = clock
        self.restarted_at: list[float] = []

    async def restart_broker(self, down_s: float) -> None:
        self.restarted_at.append(self.clock.now())
        self.broker.kill()
        await asyncio.sleep(down_s)
        self.broker.start()

    async def restart_cloud(self, down_s: float) -> None:
        raise AssertionError("the scenario has no cloud restart")


async def test_a_broker_restart_happens_at_its_device_time_when_the_run_controls_the_broker(
    broker: Broker, tmp_path: Path
) -> None:
    path = tmp_path / "restart.yaml"
    path.write_text(
        "fleet: {devices: 2, telemetry_interval_s: 60}\nduration_s: 3000\nspeed: 600\n"
        "events:\n  - {event: broker_restart, at_s: 1200, down_s: 1}\n"
        "expect:\n  - {kind: all_connected}\ndrain_timeout_s: 1\n"
    )
    clock = ScaledClock(SystemClock().now(), 600)
    control = RestartsTheTestBroker(broker, clock)
    result = await run_scenario(load_scenario(path), broker.url, control=control, clock=clock)
    (restarted_at,) = control.restarted_at
    assert 1200 <= restarted_at - result.device_start_s < 1200 + 120
    assert all(n >= 2 for n in result.connects.values()), result.connects
    assert result.expectations[0].passed, result.expectations[0].detail


def test_recovery_activation_and_outreach_expectations_parse_and_say_what_the_cloud_must_give(
    tmp_path: Path,
) -> None:
    path = tmp_path / "care.yaml"
    path.write_text(
        GOOD.replace(
            "  - {kind: max_unacknowledged_samples, limit: 0}\n",
            "  - {kind: verified_recovery, within_s: 600}\n"
            "  - {kind: activation_within, within_s: 300}\n"
            "  - {kind: outreach_before_failure}\n",
        )
    )
    scenario = load_scenario(path)
    assert [e.kind for e in scenario.expectations] == [
        "all_connected",
        "verified_recovery",
        "activation_within",
        "outreach_before_failure",
    ]
    assert [i for i, _ in scenario.needs_cloud] == [1, 2, 3]
    assert scenario.cloud_reads == {"setup", "outreach"}
    refused = refusal(
        tmp_path, "fleet: {devices: 2}\nduration_s: 60\nexpect:\n  - {kind: verified_recovery}\n"
    )
    assert "scenario.yaml:4: expect[0].within_s: Field required" in refused
