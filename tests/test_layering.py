"""The pure cores load without the web, MQTT, database or model-file stack, and the
wire contract without the agent's MQTT client (import-linter checks the source; this
checks what actually gets imported at run time, package ``__init__`` files included)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = {"fastapi", "paho", "aiomqtt", "uvicorn", "sqlalchemy", "skops", "sklearn"}


@pytest.mark.parametrize(
    "module",
    [
        "cloud.learning",
        "cloud.detect",
        "cloud.diagnosis.diagnoser",
        "cloud.incidents.tracker",
        "cloud.ingest.triage",
        "device_agent.contract",
    ],
)
def test_importing_a_pure_module_loads_no_io_stack(module: str) -> None:
    code = f"import sys, {module}\nprint(sorted(set({sorted(HEAVY)!r}) & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
