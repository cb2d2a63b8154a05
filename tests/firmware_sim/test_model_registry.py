"""Bring your own device model: a model name resolves to a built-in model, an installed
``aftercare.device_models`` entry point or a ``package.module:ClassName`` path, and the
example washing machine (``examples/washing_machine``, never imported by the project)
runs through the same fleet, agent and cloud as the built-in models."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import ClassVar

import pytest

from cloud.cli.main import main as aftercare
from device_agent.clock import ManualClock
from firmware_sim import Fault, FaultNotApplicable
from firmware_sim.factory import generate_batch
from firmware_sim.fleet import Fleet, FleetSpec
from firmware_sim.models import (
    MODELS,
    HeatPump,
    NotADeviceModel,
    SimulatedDevice,
    UnknownModel,
    build_device,
    model_class,
)
from firmware_sim.scenario import load_scenario
from tests.conftest import Broker, RunningCloud, drain, running_fleet, small_fleet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "washing_machine"
WASHER_PATH = "washer_example.model:WashingMachine"
START_S = 1_700_000_000.0


class ShoutingHeatPump(HeatPump):
    """A model whose id could not start a device id."""

    MODEL: ClassVar[str] = "Heat Pump"


@pytest.fixture
def example_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example package importable, as it is for a manufacturer with it on PYTHONPATH."""
    monkeypatch.syspath_prepend(str(EXAMPLE))


def _install_entry_points(folder: Path, name: str, entries: dict[str, str]) -> None:
    """A distribution as pip leaves it (a ``*.dist-info`` folder), without pip."""
    info = folder / f"{name}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[aftercare.device_models]\n{lines}")


@pytest.fixture
def installed_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example_on_path: None
) -> None:
    """The example's entry point installed, plus two broken ones another vendor shipped."""
    _install_entry_points(tmp_path, "washer_example", {"washer-wm1": WASHER_PATH})
    _install_entry_points(
        tmp_path,
        "broken_vendor",
        {"dryer-d1": "no_such_vendor.models:Dryer", "toaster-t1": "collections:OrderedDict"},
    )
    monkeypatch.syspath_prepend(str(tmp_path))


def test_built_in_names_resolve_to_their_classes() -> None:
    for model, cls in MODELS.items():
        assert model_class(model) is cls
        assert build_device(model, "dev-1", ManualClock(START_S), 1).model == model


def test_a_dotted_path_builds_the_example_washing_machine(example_on_path: None) -> None:
    clock = ManualClock(START_S)
    washer = build_device(WASHER_PATH, "washer-wm1-00000", clock, seed=3)
    assert isinstance(washer, SimulatedDevice)
    assert washer.model == "washer-wm1"
    assert washer.facts()["model"] == "washer-wm1"
    phases, peak_rpm = set(), 0.0
    for _ in range(2 * 24 * 60):  # two days, a reading a minute
        clock.advance(60.0)
        reading = washer.read_metrics()
        phases.add(reading["cycle_phase"])
        peak_rpm = max(peak_rpm, reading["drum_speed_rpm"])
        assert reading["door_locked"] == (0.0 if reading["cycle_phase"] == 0.0 else 1.0)
    assert phases == {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}, "every phase of a wash cycle shows"
    assert peak_rpm == 1_200.0
    assert {"mem_free_kb", "cpu_load_pct", "rssi_dbm", "uptime_s"} <= set(reading)


async def test_the_example_suffers_and_recovers_from_a_fault_the_simulator_knows(
    example_on_path: None,
) -> None:
    clock = ManualClock(START_S)
    washer = build_device(WASHER_PATH, "washer-wm1-00000", clock, seed=3)
    washer.inject(Fault.from_signature("sensor-stuck/motor_temp_c", START_S + 60.0))
    clock.advance(120.0)
    frozen = washer.read_metrics()["motor_temp_c"]
    clock.advance(4 * 3600.0)
    assert washer.read_metrics()["motor_temp_c"] == frozen
    assert washer.self_checks()["sensor_selftest"][0] is False
    outcome = await washer.run_action("service_visit", {})
    assert outcome.ok
    assert washer.active_faults() == []
    with pytest.raises(FaultNotApplicable, match="no metric 'supply_temp_c'"):
        washer.inject(Fault.from_signature("sensor-stuck/supply_temp_c", START_S))


def test_an_entry_point_builds_the_example_without_pip(installed_example: None) -> None:
    washer = build_device("washer-wm1", "washer-wm1-00000", ManualClock(START_S), seed=1)
    assert type(washer).__qualname__ == "WashingMachine"
    assert washer.model == "washer-wm1"


def test_an_unknown_name_lists_built_ins_and_installed_entry_points(
    installed_example: None,
) -> None:
    with pytest.raises(UnknownModel) as caught:
        model_class("fridge-f9")
    message = str(caught.value)
    assert "unknown device model 'fridge-f9'" in message
    assert "evcharger-ec11, heatpump-hp200" in message
    assert "entry points: dryer-d1, toaster-t1, washer-wm1" in message
    assert "'package.module:ClassName'" in message


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("no_such_pkg.models:Fridge", UnknownModel, "module 'no_such_pkg.models' does not import"),
        ("no_such_pkg.models:Fridge", UnknownModel, "ModuleNotFoundError"),
        (f"{WASHER_PATH[:-15]}:Dryer", UnknownModel, "has no 'Dryer'"),
        (":WashingMachine", UnknownModel, "must look like 'package.module:ClassName'"),
        ("dryer-d1", UnknownModel, "'no_such_vendor.models:Dryer', which does not load"),
        ("toaster-t1", NotADeviceModel, "it lacks FAULT_MENU, FIRMWARE"),
        ("os.path:join", NotADeviceModel, "is a function, not a device model class"),
        (
            "firmware_sim.models.base:SimulatedDevice",
            NotADeviceModel,
            "is abstract; it must implement: _cpu_activity_pct",
        ),
        (f"{__name__}:ShoutingHeatPump", NotADeviceModel, "has MODEL 'Heat Pump'; a model id"),
    ],
)
def test_a_name_that_gives_no_device_model_says_why(
    installed_example: None, name: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        model_class(name)


def test_a_fleet_builds_reports_and_plans_faults_for_a_dotted_path_model(
    example_on_path: None,
) -> None:
    spec = FleetSpec(
        devices=4,
        mqtt_url="mqtt://127.0.0.1:1",
        models=["heatpump-hp200", WASHER_PATH],
        id_prefix="lab-",
        fault_rate_per_device_day=20.0,
        faults_after_s=0.0,
    )
    assert spec.identities() == [
        ("heatpump-hp200", "lab-heatpump-hp200-00000"),
        ("washer-wm1", "lab-washer-wm1-00001"),
        ("heatpump-hp200", "lab-heatpump-hp200-00002"),
        ("washer-wm1", "lab-washer-wm1-00003"),
    ]
    fleet = Fleet(spec, ManualClock(START_S))
    try:
        washer = fleet.unit("lab-washer-wm1-00001").device
        assert washer.model == "washer-wm1"
        menu = {signature for signature, _ in type(washer).FAULT_MENU}
        planned = {w.signature for w in washer.fault_log}
        assert planned, "the fault plan reads the washer's own menu"
        assert planned <= menu
    finally:
        fleet.close()


def test_a_fleet_with_a_bad_model_name_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="unknown device model 'fridge-f9'; known models"):
        FleetSpec(devices=1, mqtt_url="mqtt://127.0.0.1:1", models=["fridge-f9"])


def test_a_factory_batch_of_a_dotted_path_model_carries_its_model_id(
    example_on_path: None,
) -> None:
    batch = generate_batch(WASHER_PATH, 2, random.Random(1))
    assert (batch.model, batch.firmware) == ("washer-wm1", "1.3.0")
    assert all(d.device_id.startswith("washer-wm1-") for d in batch.devices)


def test_agent_run_simulate_refuses_an_unknown_model_by_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = aftercare(
        ["agent", "run", "--device-id", "fridge-f9-1", "--simulate", "no_such_pkg:Fridge"]
    )
    assert code != 0
    assert "module 'no_such_pkg' does not import" in capsys.readouterr().err


@pytest.mark.e2e
async def test_a_washing_machine_fleet_reaches_the_cloud_and_the_api_lists_it(
    broker: Broker, cloud: RunningCloud, example_on_path: None
) -> None:
    fleet = small_fleet(broker, devices=3, models=["heatpump-hp200", WASHER_PATH])
    token = cloud.service.repos.tokens.issue("service")
    async with running_fleet(fleet):
        await fleet.wait_connected(15)
        await asyncio.sleep(1.0)
        await drain(fleet)
        async with cloud.client(token) as api:
            devices = {d["id"]: d for d in (await api.get("/api/v1/devices")).json()}
            assert {i: d["model"] for i, d in devices.items()} == {
                "heatpump-hp200-00000": "heatpump-hp200",
                "washer-wm1-00001": "washer-wm1",
                "heatpump-hp200-00002": "heatpump-hp200",
            }
            assert devices["washer-wm1-00001"]["online"] is True
            washer = fleet.unit("washer-wm1-00001")
            response = await api.get("/api/v1/devices/washer-wm1-00001/telemetry")
            points = response.json()["points"]
            assert [p["seq"] for p in points] == list(range(washer.agent.stats.samples_taken))
            assert {"drum_speed_rpm", "water_level_l", "door_locked"} <= set(points[-1]["metrics"])
            detail = await api.get("/api/v1/devices/washer-wm1-00001")
            assert detail.status_code == 200, json.dumps(detail.json())


def test_the_example_scenario_runs_a_mixed_fleet_with_the_washer(example_on_path: None) -> None:
    scenario = load_scenario(EXAMPLE / "mixed_fleet.yaml")
    assert scenario.fleet.models is not None
    spec = FleetSpec(
        devices=scenario.fleet.devices, mqtt_url="mqtt://127.0.0.1:1", models=scenario.fleet.models
    )
    assert {model for model, _ in spec.identities()} == {
        "heatpump-hp200",
        "evcharger-ec11",
        "washer-wm1",
    }
