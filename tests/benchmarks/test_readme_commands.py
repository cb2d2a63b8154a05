"""The README's benchmark commands run as written, from a directory outside the checkout.

`python benchmarks/X.py` puts only `benchmarks/` on the path, so a script that imports a
sibling as `benchmarks.Y` failed on a fresh clone while every test, which imports it as a
package, passed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _readme_benchmark_commands() -> list[list[str]]:
    """Each benchmark command line in the README, as its argv up to the first option."""
    readme = (ROOT / "README.md").read_text()
    commands: list[list[str]] = []
    for match in re.finditer(r"`python (-m benchmarks\.\w+|benchmarks/\w+\.py)", readme):
        target = match.group(1)
        if target.startswith("-m "):
            commands.append(["-m", target.removeprefix("-m ")])
        else:
            commands.append([str(ROOT / target)])
    return commands


def test_readme_names_benchmarks_both_ways() -> None:
    commands = _readme_benchmark_commands()
    assert any(c[0] == "-m" for c in commands)
    assert any(c[0] != "-m" for c in commands)


def test_every_readme_benchmark_command_starts(tmp_path: Path) -> None:
    failures = []
    for argv in _readme_benchmark_commands():
        done = subprocess.run(
            [sys.executable, *argv, "--help"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0 or "usage:" not in done.stdout:
            failures.append(f"{' '.join(argv)}: {done.stderr.strip().splitlines()[-1:]}")
    assert not failures, failures
