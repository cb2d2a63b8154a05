"""What a scenario gives the cloud its run starts: settings by name, checked before
anything starts with the file, line and setting named, and the reliability lab built
from the scenario's own wear."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.harness.scenario_stack import check_cloud_settings, reliability_lab
from cloud.rul.wear_spec import load_wear_specs
from firmware_sim.scenario import ScenarioError, load_scenario

HEAD = "fleet:\n  models: [{model: heatpump-hp200, count: 2}]\nduration_s: 600\n"


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lab.yaml"
    path.write_text(HEAD + text)
    return path


def test_a_setting_the_cloud_does_not_have_is_named_with_its_line(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "cloud_settings:\n  rul_period_s: 600\n  rul_perod_s: 60\n")
    with pytest.raises(ScenarioError) as refused:
        check_cloud_settings(load_scenario(path))
    assert str(refused.value) == (
        "lab.yaml:6: cloud_settings.rul_perod_s: the cloud has no setting 'rul_perod_s'"
    )


def test_a_value_the_cloud_refuses_is_named_with_its_line(tmp_path: Path) -> None:
    path = _scenario(tmp_path, "cloud_settings:\n  planning_poll_s: -1\n")
    with pytest.raises(ScenarioError) as refused:
        check_cloud_settings(load_scenario(path))
    assert str(refused.value).startswith("lab.yaml:5: cloud_settings.planning_poll_s: ")
    assert "greater than 0" in str(refused.value)


def test_a_lab_without_a_life_spread_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_scenario(_scenario(tmp_path, "reliability_lab: {devices: 4}\n"))
    assert "how long the lab's parts live" in str(refused.value)


def test_the_lab_has_run_to_failure_histories_of_the_fleets_models_only(tmp_path: Path) -> None:
    text = "reliability_lab: {devices: 3, scale_days: 0.15, shape: 2.5, min_days: 0.1}\n"
    lab = reliability_lab(load_scenario(_scenario(tmp_path, text)))
    assert lab is not None
    specs = {spec.model: spec for spec in load_wear_specs()}
    runs = lab.runs(specs["heatpump-hp200"], 600.0, 0.0)
    assert len(runs) == 3, "one history per rig unit"
    assert all(len(run) > 0 for run in runs)
    assert lab.runs(specs["evcharger-ec11"], 600.0, 0.0) == [], "the lab tested no charger"
