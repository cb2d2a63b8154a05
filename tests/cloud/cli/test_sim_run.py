"""``aftercare sim run``'s exit codes and files: 2 for a scenario or option that cannot be
used (said on stderr with the file, line and field), 1 when an expectation failed, with
the JSON and JUnit reports written either way."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cloud.cli.main import main
from tests.conftest import Broker


def test_an_unusable_scenario_or_option_exits_2_saying_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AFTERCARE_MQTT_URL", raising=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("fleet:\n  devices: 2\nduration_s: 60\nspeed: 0\n")
    assert main(["sim", "run", str(bad)]) == 2
    assert capsys.readouterr().err == (
        "aftercare: error: bad.yaml:4: speed: Input should be greater than 0\n"
    )
    good = tmp_path / "good.yaml"
    good.write_text(
        "fleet: {devices: 2}\nduration_s: 60\nexpect: [{kind: every_seq_stored_once}]\n"
    )
    for flag in ("--mqtt-url", "--mqtt"):  # the spelling and the long one
        external = [flag, "mqtt://127.0.0.1:1"]  # refused before anything connects
        assert main(["sim", "run", str(good), *external]) == 2
        assert "good.yaml:3: expect[0]: every_seq_stored_once is judged from what the cloud" in (
            capsys.readouterr().err
        )
    api = ["--api", "http://127.0.0.1:1/api/v1", "--token", "t"]
    assert main(["sim", "run", str(good), *api]) == 2, "an external cloud needs its broker"
    assert "--api targets a running cloud: give its broker too" in capsys.readouterr().err
    with pytest.raises(SystemExit) as refused:
        main(["sim", "run", str(good), "--speed", "-3"])
    assert refused.value.code == 2
    assert "--speed: must lie in (0, 10000], got -3" in capsys.readouterr().err


def test_a_failed_expectation_exits_1_with_its_json_and_junit_reports(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "no-cloud.yaml"
    scenario.write_text(
        "name: nobody stores\nfleet: {devices: 2, telemetry_interval_s: 60}\n"
        "duration_s: 120\nspeed: 1\ndrain_timeout_s: 1\n"
        "expect:\n  - {kind: all_connected}\n  - {kind: max_unacknowledged_samples, limit: 0}\n"
    )
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    argv = ["sim", "run", str(scenario), "--mqtt-url", broker.url, "--speed", "100"]
    assert main([*argv, "--json", str(report), "--junit", str(junit)]) == 1
    said = capsys.readouterr().out
    assert "FAILED max_unacknowledged_samples: " in said
    written = json.loads(report.read_text())
    assert (written["scenario_file"], written["speed"], written["passed"]) == (
        "no-cloud.yaml",
        100.0,
        False,
    )
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "nobody stores",
        "2",
        "1",
    )
