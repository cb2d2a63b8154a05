"""The HAL a product without Python bindings uses: two programs, JSON on the wire."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from device_agent.command_hal import CommandHal, HalCommandError, parse_metrics
from device_agent.hal import UnknownAction
from device_agent.settings import SettingsError, load_agent_settings
from tests.audit import stored_seqs
from tests.conftest import Broker, RunningCloud

ACTION_SCRIPT = """
import json, sys
params = json.load(sys.stdin)
if sys.argv[1] == "restart_service":
    print("restarted " + params["name"])
    sys.exit(0)
if sys.argv[1] == "break":
    print("disk full")
    sys.exit(1)
sys.exit(3)
"""


def _hal(tmp_path: Path, metrics_code: str) -> CommandHal:
    action = tmp_path / "action.py"
    action.write_text(ACTION_SCRIPT)
    return CommandHal(
        "boiler-b1",
        "1.2.3",
        [sys.executable, "-c", metrics_code],
        [sys.executable, str(action)],
        timeout_s=10,
    )


def test_metrics_are_read_from_the_program(tmp_path: Path) -> None:
    hal = _hal(tmp_path, 'print(\'{"temp_c": 41.5, "fan_rpm": 1200}\')')
    assert hal.read_metrics() == {"temp_c": 41.5, "fan_rpm": 1200.0}


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (b"not json", "no JSON object"),
        (b"[1, 2]", "JSON object"),
        (b'{"temp_c": "hot"}', "not a number"),
        (b'{"ok": true}', "not a number"),
        (b'{"temp_c": NaN}', "not finite"),
    ],
)
def test_unusable_metrics_output_is_refused_with_its_reason(output: bytes, reason: str) -> None:
    with pytest.raises(HalCommandError, match=reason):
        parse_metrics(output)


def test_a_failing_metrics_program_is_an_error_naming_its_exit(tmp_path: Path) -> None:
    hal = _hal(tmp_path, "import sys; print('sensor bus down', file=sys.stderr); sys.exit(4)")
    with pytest.raises(HalCommandError, match="exited 4: sensor bus down"):
        hal.read_metrics()


async def test_actions_run_the_program_with_parameters_on_stdin(tmp_path: Path) -> None:
    hal = _hal(tmp_path, "print('{}')")
    done = await hal.run_action("restart_service", {"name": "pump"})
    assert done.ok
    assert done.detail == "restarted pump"
    failed = await hal.run_action("break", {})
    assert not failed.ok
    assert failed.detail == "disk full"
    with pytest.raises(UnknownAction):
        await hal.run_action("self_destruct", {})


def test_settings_without_a_metrics_program_say_what_to_set() -> None:
    with pytest.raises(SettingsError, match="metrics_command"):
        CommandHal.from_settings(load_agent_settings(device_id="d1"))


async def test_agent_run_reports_a_products_own_readings(
    broker: Broker, cloud: RunningCloud, tmp_path: Path
) -> None:
    script = tmp_path / "read_sensors.py"
    script.write_text("print('{\"temp_c\": 40.0}')\n")
    config = tmp_path / "agent.toml"
    config.write_text(
        'device_id = "boiler-1"\nmodel = "boiler-b1"\nfirmware = "2.0"\n'
        "telemetry_interval_s = 0.2\nflush_interval_s = 0.2\n"
        f'metrics_command = "{sys.executable} {script}"\n'
        f'outbox_path = "{tmp_path / "outbox.db"}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloud.cli", "agent", "run", "--config", str(config),
        "--mqtt-url", broker.url,
    )  # fmt: skip
    try:
        for _ in range(100):
            if len(stored_seqs(cloud.service.repos.engine, "boiler-1")) >= 3:
                break
            await asyncio.sleep(0.1)
        device = cloud.service.repos.telemetry.get_device("boiler-1")
        assert device is not None
        assert (device.model, device.firmware) == ("boiler-b1", "2.0")
        points = cloud.service.repos.telemetry.telemetry("boiler-1")
        assert len(points) >= 3
        assert all(p.metrics == {"temp_c": 40.0} for p in points)
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
