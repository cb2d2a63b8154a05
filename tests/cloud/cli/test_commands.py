"""The ``aftercare`` command as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cloud.cli import main
from cloud.db.repositories import build_repositories, open_database
from cloud.settings import CloudSettings
from device_agent.clock import SystemClock
from tests.audit import stored_seqs
from tests.conftest import Broker, RunningCloud

pytestmark = pytest.mark.e2e


def test_demo_runs_writes_demo_json_and_stops_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cloud.cli",
            "demo",
            "--devices",
            "4",
            "--port",
            "0",
            "--duration",
            "8",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.startswith("4 simulated devices reporting"):
            break
    demo = json.loads((out / "demo.json").read_text())
    old_keys = {"api", "service_token", "owner_token", "owner_device_ids"}
    assert set(demo) == old_keys | {
        "mqtt_url",
        "unclaimed",
        "dashboard_url",
        "app_url",
        "manufacturer_token",
    }
    root = demo["api"].removesuffix("/api/v1")
    assert demo["app_url"] == f"{root}/app#token={demo['owner_token']}"
    assert f"manufacturer: {root}/manufacturer#token={demo['manufacturer_token']}\n" in printed
    maker = {"Authorization": f"Bearer {demo['manufacturer_token']}"}
    assert httpx.get(demo["api"] + "/sim-runs", headers=maker).json() == []
    assert httpx.get(demo["api"] + "/devices", headers=maker).status_code == 403
    assert demo["mqtt_url"].startswith("mqtt://127.0.0.1:")
    assert len(demo["unclaimed"]) == 3
    assert all(set(d) == {"device_id", "claim_code"} for d in demo["unclaimed"])
    staff = {"Authorization": f"Bearer {demo['service_token']}"}
    funnel = httpx.get(demo["api"] + "/activation/funnel", headers=staff)
    assert funnel.status_code == 200, funnel.text
    fresh = httpx.get(
        f"{demo['api']}/devices/{demo['unclaimed'][0]['device_id']}/setup", headers=staff
    )
    assert fresh.status_code == 200
    assert fresh.json()["activated"] is False
    devices = httpx.get(
        demo["api"] + "/devices", headers={"Authorization": f"Bearer {demo['service_token']}"}
    )
    assert devices.status_code == 200
    owned = httpx.get(
        demo["api"] + "/devices", headers={"Authorization": f"Bearer {demo['owner_token']}"}
    ).json()
    assert {d["id"] for d in owned} <= set(demo["owner_device_ids"])
    assert process.wait(timeout=30) == 0
    assert "demo stopped" in process.stdout.read()


def test_demo_on_mosquitto_provisions_every_device_and_enforces_access(tmp_path: Path) -> None:
    """``--broker mosquitto``: every simulated device provisions itself over the bootstrap
    login and reports under its own; the broker refuses anonymous clients."""
    import aiomqtt

    out = tmp_path / "out"
    command = [sys.executable, "-m", "cloud.cli", "demo", "--broker", "mosquitto"]
    options = ["--devices", "3", "--port", "0", "--duration", "10", "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k != "AFTERCARE_MQTT_URL"}
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("3 simulated devices reporting"):
            break
    assert any("Mosquitto with dynamic security" in line for line in banner), banner
    url = next(line.split(" on ")[1].split(":")[0:3] for line in banner if "Mosquitto" in line)
    port = int(url[2])
    demo = json.loads((out / "demo.json").read_text())
    headers = {"Authorization": f"Bearer {demo['service_token']}"}
    deadline = time.monotonic() + 15
    online: list[str] = []
    while time.monotonic() < deadline and len(online) < 3:
        devices = httpx.get(demo["api"] + "/devices", headers=headers).json()
        online = [d["id"] for d in devices if d["online"]]
        time.sleep(0.3)
    assert len(online) == 3, devices

    async def anonymous() -> None:
        async with aiomqtt.Client("127.0.0.1", port, identifier="anonymous", timeout=5):
            pass

    with pytest.raises(aiomqtt.MqttCodeError):
        asyncio.run(anonymous())
    assert process.wait(timeout=30) == 0
    assert "demo stopped" in process.stdout.read()


def test_bad_scenario_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("fleet: {devices: 0}\nduration_s: -1\n")
    assert main(["sim", "run", str(scenario)]) == 2
    error = capsys.readouterr().err
    assert "fleet.devices" in error
    assert "duration_s" in error


def test_the_cli_issues_a_manufacturer_token_that_opens_simulation_runs_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    assert main(["cloud", "token", "--role", "manufacturer", "--database-url", url]) == 0
    token = capsys.readouterr().out.strip()
    owner_flag = ["--role", "manufacturer", "--owner", "alice", "--database-url", url]
    assert main(["cloud", "token", *owner_flag]) == 2
    assert "--owner is for --role owner" in capsys.readouterr().err
    settings = CloudSettings(database_url=url, model_dir=str(tmp_path))
    with open_database(url) as engine:
        principal = build_repositories(engine, settings, SystemClock()).tokens.principal_for(token)
    assert principal is not None
    assert (principal.role, principal.owner_id) == ("manufacturer", None)


def test_detect_scores_every_row_of_a_csv(tmp_path: Path) -> None:
    source = tmp_path / "series.csv"
    rows = ["timestamp,value"]
    for i in range(400):
        value = 100.0 if i == 300 else 10.0 + (i % 7) * 0.1
        rows.append(f"2024-01-01 {i // 60:02d}:{i % 60:02d}:00,{value}")
    source.write_text("\n".join(rows) + "\n")
    out = tmp_path / "scores.csv"
    assert main(["detect", str(source), "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,anomaly_score,is_anomaly"
    assert len(lines) == 401
    flagged = [i for i, line in enumerate(lines[1:]) if line.endswith(",1")]
    assert 300 in flagged


def test_detect_refuses_a_csv_without_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "words.csv"
    source.write_text("timestamp,name\n2024-01-01 00:00:00,pump\n")
    assert main(["detect", str(source)]) == 2
    assert "numeric" in capsys.readouterr().err


async def test_agent_run_reports_to_the_cloud_and_stops_on_sigterm(
    broker: Broker, cloud: RunningCloud, tmp_path: Path
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(
        'device_id = "hp-cli-1"\ntelemetry_interval_s = 0.2\nflush_interval_s = 0.2\n'
        f'outbox_path = "{tmp_path / "outbox.db"}"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cloud.cli",
        "agent",
        "run",
        "--config",
        str(config),
        "--mqtt-url",
        broker.url,
        "--simulate",
        "heatpump-hp200",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            if len(stored_seqs(cloud.service.repos.engine, "hp-cli-1")) >= 5:
                break
            await asyncio.sleep(0.1)
        assert len(stored_seqs(cloud.service.repos.engine, "hp-cli-1")) >= 5
        device = cloud.service.repos.telemetry.get_device("hp-cli-1")
        assert device is not None
        assert device.model == "heatpump-hp200"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    assert (tmp_path / "outbox.db").exists(), "the durable outbox is the configured file"


def _aftercare(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nimport sys\nfrom cloud.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("aftercare: error: ")
    return lines[0]


def test_a_new_users_mistakes_are_one_line_each_with_exit_2(tmp_path: Path) -> None:
    unknown = _one_line_error(_aftercare("agent", "run", "--device-id", "d1", "--simulate", "x"))
    assert "known models: evcharger-ec11, heatpump-hp200" in unknown
    missing_id = _one_line_error(_aftercare("agent", "run", "--simulate", "heatpump-hp200"))
    assert "device_id" in missing_id
    assert "--device-id" in missing_id
    no_hal = _one_line_error(_aftercare("agent", "run", "--device-id", "d1"))
    assert "metrics_command" in no_hal
    assert "--simulate" in no_hal
    bad_config = tmp_path / "agent.toml"
    bad_config.write_text('device_id = "d1"\ntelemetry_interval = 5\n')
    assert "telemetry_interval" in _one_line_error(
        _aftercare("agent", "run", "--config", str(bad_config))
    )


def test_a_missing_extra_names_what_to_install() -> None:
    """An agent-only install has no web stack: ``aftercare demo`` says what to install."""
    blocked = _aftercare(
        "demo", "--duration", "1", prelude="import sys; sys.modules['fastapi'] = None"
    )
    assert "pip install 'aftercare[cloud,sim]'" in _one_line_error(blocked)


@pytest.mark.parametrize("command", [["demo", "--duration", "20"], ["cloud", "serve"]])
def test_a_taken_port_is_a_clear_error(command: list[str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        env = {
            **os.environ,
            "AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}",
            "AFTERCARE_MODEL_DIR": str(tmp_path / "models"),
            "AFTERCARE_COMMAND_KEY_PATH": str(tmp_path / "command_key.pem"),
            "AFTERCARE_MQTT_URL": "mqtt://127.0.0.1:1",  # never reached: the port fails first
        }
        result = subprocess.run(
            [sys.executable, "-m", "cloud.cli", *command, "--port", port],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert "Address already in use" in _one_line_error(result)


def test_help_is_plain_text() -> None:
    for args in (["--help"], ["agent", "run", "--help"], ["demo", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "cloud.cli", *args], capture_output=True, text=True, check=True
        )
        assert "``" not in result.stdout
        assert ":class:" not in result.stdout
