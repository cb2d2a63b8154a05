"""Every example in ``scenarios/`` passes through the real command line, in-process
broker and cloud included: ``python -m cloud.cli sim run FILE --json OUT`` exits 0 and
its report says every expectation held."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
IN_CI = (
    "delivery_under_outage.yaml",
    "detection.yaml",
    "healing.yaml",
    "activation.yaml",
    "outreach.yaml",
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]


@pytest.mark.parametrize("name", IN_CI)
def test_the_example_scenario_passes(name: str, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloud.cli",
            "sim",
            "run",
            str(SCENARIOS / name),
            "--json",
            str(report),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=140,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("PASSED"), done.stdout
    written = json.loads(report.read_text())
    outcomes = written["expectations"]
    if name == "delivery_under_outage.yaml":
        connects = int(written["summary"].split(" connects")[0].rsplit(" ", 1)[1])
        assert connects >= 2 * written["devices"], f"the broker restart: {written['summary']}"
    assert outcomes, "the report lists the expectations"
    assert all(e["passed"] for e in outcomes), outcomes


def test_every_example_runs_in_ci() -> None:
    assert sorted(IN_CI) == sorted(p.name for p in SCENARIOS.glob("*.yaml"))


def test_every_example_is_described_in_the_folders_readme() -> None:
    readme = (SCENARIOS / "README.md").read_text()
    for path in sorted(SCENARIOS.glob("*.yaml")):
        assert f"`{path.name}`" in readme, f"{path.name} is not described in scenarios/README.md"
