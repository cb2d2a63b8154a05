"""VictoriaMetrics for the export tests: it serves the InfluxDB v2 write API
(``/api/v2/write``) the exporter writes to, and reads the points back through its export
API, a measurement's field becoming the metric ``{measurement}_{field}`` with the tags as
labels.

Under ``CI=true`` a missing ``victoria-metrics`` (Debian's package) fails the test; it
never skips.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.mqtt.broker import free_port

BINARY = "/usr/bin/victoria-metrics"
END = "4102444800"
"""Read up to 2100: a cloud on a faster clock writes points ahead of the wall clock."""


class VictoriaMetrics:
    """A private VictoriaMetrics on a free loopback port that a test may stop and start
    again (same port, same data)."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.data = folder / "victoria-metrics"
        self.log = folder / "victoria-metrics.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            self.binary,
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={self.data}",
            "-retentionPeriod=100y",
            "-loggerLevel=WARN",
        ]
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=1).text.strip() == "OK":
                    return
            if self._process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"VictoriaMetrics did not answer on {self.url}: see {self.log}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(15)
            self._process = None

    def export(self, match: str) -> list[dict[str, Any]]:
        """Every series matching ``match`` (a series selector), with all its samples.
        Rows written last are made searchable first (otherwise they show after ~10 s)."""
        httpx.get(f"{self.url}/internal/force_flush", timeout=10).raise_for_status()
        response = httpx.get(
            f"{self.url}/api/v1/export",
            params={"match[]": match, "start": "0", "end": END},
            timeout=10,
        )
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def wait_for(self, match: str, samples: int, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        """The series of ``match`` once they hold ``samples`` samples between them, or
        what they hold at the timeout (the writer may still be on its way)."""
        deadline = time.monotonic() + timeout_s
        while True:
            series = self.export(match)
            if sum(len(s["values"]) for s in series) >= samples or time.monotonic() > deadline:
                return series
            time.sleep(0.2)


def _binary() -> str | None:
    return shutil.which("victoria-metrics") or (BINARY if Path(BINARY).exists() else None)


@pytest.fixture
def victoria_metrics(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    binary = _binary()
    if binary is None:  # no stand-in for a real InfluxDB write API: never a skip
        pytest.fail("victoria-metrics is not installed (apt-get install victoria-metrics)")
    server = VictoriaMetrics(binary, tmp_path)
    server.start()
    yield server
    server.stop()
