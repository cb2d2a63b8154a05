"""Playbooks are data: the bundled ones load and cover every simulated fault signature,
and a bad file is refused with its path, line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.heal.playbook import Condition, PlaybookError, Playbooks, load_playbook

GOOD = """\
model: boiler-b1
signatures:
  overheat/burner:
    - action: reduce_load
      preconditions: [{metric: flow_lpm, min: 2}]
      verify: {within_s: 600, hold_s: 120, bounds: [{metric: burner_temp_c, max: 90}]}
  sensor-stuck/*:
    - action: recalibrate_sensor
      params: {metric: "{metric}"}
      verify: {within_s: 600, hold_s: 120}
"""


def _write(tmp_path: Path, text: str, name: str = "boiler-b1.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_bundled_playbooks_name_a_fix_for_every_simulated_fault() -> None:
    playbooks = Playbooks.load()
    assert playbooks.models == ["*", "evcharger-ec11", "heatpump-hp200"]
    cases = {
        ("heatpump-hp200", "overheat/compressor"): "reduce_load",
        ("evcharger-ec11", "overheat/connector"): "reset_connector",
        ("heatpump-hp200", "memory-leak/firmware"): "restart_firmware",
        ("evcharger-ec11", "connectivity/flapping"): "reset_radio",
        ("heatpump-hp200", "sensor-stuck/supply_temp_c"): "recalibrate_sensor",
        ("unknown-model", "sensor-drift/voltage_v"): "recalibrate_sensor",
    }
    for (model, signature), first_action in cases.items():
        fixes = playbooks.fixes_for(model, signature)
        assert fixes, f"no fix for {signature} on {model}"
        assert fixes[0].action == first_action


def test_a_sensor_fix_is_aimed_at_the_signature_s_metric(tmp_path: Path) -> None:
    playbooks = Playbooks([load_playbook(_write(tmp_path, GOOD))])
    (fix,) = playbooks.fixes_for("boiler-b1", "sensor-stuck/flow_temp_c")
    assert fix.params == {"metric": "flow_temp_c"}
    assert playbooks.fixes_for("boiler-b1", "overheat/pump") == ()
    assert playbooks.fixes_for("other-model", "overheat/burner") == ()


def test_preconditions_hold_only_on_readings_that_meet_them() -> None:
    idle = Condition(metric="current_a", max=1.0)
    assert idle.holds({"current_a": 0.2}) is True
    assert idle.holds({"current_a": 16.0}) is False
    assert idle.holds({"voltage_v": 230.0}) is None  # not reported: unknown, not true


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (GOOD.replace("reduce_load", "Reduce Load"), 4, "action: String should match pattern"),
        (GOOD.replace("hold_s: 120, bounds", "hold_s: -5, bounds"), 6, "hold_s: Input should be"),
        (GOOD.replace("min: 2", "min: 2, speed: 3"), 5, "speed: Extra inputs are not permitted"),
        (GOOD.replace("{metric: flow_lpm, min: 2}", "{metric: flow_lpm}"), 5, "min, max or both"),
        (GOOD.replace("overheat/burner", "overheat"), 3, "String should match pattern"),
        (GOOD.replace("sensor-stuck/*", "sensor-stuck/flow_c"), 7, "{metric} placeholder is only"),
        (GOOD + "  bad: [unclosed\n", 12, "not YAML"),
    ],
)
def test_a_bad_playbook_is_refused_with_its_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(PlaybookError) as refused:
        load_playbook(path)
    assert str(refused.value).startswith(f"{path}:")
    assert refused.value.line == line, str(refused.value)
    assert reason in refused.value.reason


def test_two_playbooks_for_one_model_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(ValueError, match="two playbooks for model 'boiler-b1'"):
        Playbooks.load(tmp_path)
