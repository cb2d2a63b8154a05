"""The project's own checks, so CI enforces them: ruff (lint and format), mypy (strict)
and the import-layering contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy", "device_agent", "cloud", "firmware_sim", "dashboards"],
        ["lint-imports"],
    ],
    ids=["ruff-check", "ruff-format", "mypy", "import-layers"],
)
@pytest.mark.timeout(300)
def test_check_passes(command: list[str]) -> None:
    tool = Path(sys.executable).parent / command[0]
    executable = str(tool) if tool.exists() else command[0]
    result = subprocess.run(
        [executable, *command[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
