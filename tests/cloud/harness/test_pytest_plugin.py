"""The pytest plugin as a manufacturer meets it: the README's example test file, run by
pytest in a fresh process with the plugin loaded, passes; an expectation that cannot
hold fails with a message that says what was awaited and what the cloud had instead."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[3]
PLUGIN = "cloud.harness.pytest_plugin"
EXAMPLE_HEADING = "## Testing your product with the pytest plugin"

FAILING_EXAMPLE = """
import pytest


@pytest.mark.aftercare(devices=2, models=["heatpump-hp200"], speed=480)
def test_the_wrong_pump_overheats(aftercare_fleet):
    pump, healthy = aftercare_fleet.device_ids
    aftercare_fleet.inject(pump, "overheat/compressor", magnitude=6.0)
    aftercare_fleet.wait_for_incident("overheat/compressor", device_id=pump)
    aftercare_fleet.wait_for_incident("overheat/compressor", device_id=healthy, timeout_s=1)


@pytest.mark.parametrize("aftercare_cloud", [{"devicez": 1}], indirect=True)
def test_a_misspelt_option(aftercare_cloud):
    pass
"""


def readme_example() -> str:
    """The first Python block of the README's plugin section, verbatim."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(EXAMPLE_HEADING) :]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's plugin section has no Python example"
    return found.group(1)


def test_the_readme_example_passes_and_a_broken_expectation_fails_readably(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # this checkout, installed or not
    pytester.makepyfile(test_example=readme_example(), test_broken=FAILING_EXAMPLE)
    # The entry point is active only where aftercare is installed from a tree that declares
    # it: block it by its name and load the module, so the run sees the plugin once.
    result = pytester.runpytest_subprocess(
        "-p", "no:aftercare", "-p", PLUGIN, "-p", "no:cacheprovider", "-v", timeout=100
    )
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_example.py::test_overheat_is_healed PASSED*",
            "*test_example.py::test_a_new_cloud_has_no_devices PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ExpectationNotMet: no incident overheat/compressor on heatpump-hp200-00001 "
            "within 1 s*",
            "*#1 overheat/compressor on heatpump-hp200-00000: *",
        ]
    )
    misspelt = "StackOptionError: unknown aftercare options ['devicez']; known: ["
    assert misspelt in result.stdout.str()


def test_the_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:asyncio", "-p", "no:aftercare", "-p", PLUGIN, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.aftercare(devices=4, models=None, speed=60.0*"])


def test_the_plugin_is_declared_as_a_pytest11_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["pytest11"] == {"aftercare": PLUGIN}
    plugin = importlib.import_module(PLUGIN)
    assert callable(plugin.aftercare_fleet)
    assert callable(plugin.aftercare_cloud)
    installed = [
        ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "aftercare"
    ]
    # Where aftercare is installed from a tree with the declaration, it names this module.
    assert all(ep.value == PLUGIN for ep in installed), installed


def test_loading_the_plugin_starts_nothing_and_loads_no_cloud_stack() -> None:
    """It loads for every pytest run where aftercare is installed: only the fixtures'
    declarations, the stack is imported when a test asks for it."""
    heavy = ["fastapi", "paho", "sqlalchemy", "uvicorn", "sklearn", "iotcore", "cloud.app"]
    code = (
        f"import sys, threading, {PLUGIN}\n"
        f"print(sorted(set({heavy!r}) & set(sys.modules)), threading.active_count())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.split() == ["[]", "1"]
