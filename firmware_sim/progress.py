"""How far a scenario run is, shown while it runs: a live bar (``rich``) on a terminal,
a plain line every few seconds of real time elsewhere (CI logs, a pipe), on stderr so
the report on stdout stays clean."""

from __future__ import annotations

import importlib.util
import sys
from typing import Protocol, TextIO

__all__ = ["ProgressView", "hms", "open_progress", "progress_line"]


def hms(seconds: float) -> str:
    whole = max(0, int(seconds))
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def progress_line(elapsed_s: float, duration_s: float, devices: int, faults: int) -> str:
    """``device time 00:12:00 of 01:00:00, 4 devices, 2 faults applied``."""
    fleet = f"{devices} device{'' if devices == 1 else 's'}"
    applied = f"{faults} fault{'' if faults == 1 else 's'} applied"
    return f"device time {hms(elapsed_s)} of {hms(duration_s)}, {fleet}, {applied}"


class ProgressView(Protocol):
    """Shown every few real seconds; ``close`` may be called more than once."""

    def show(self, elapsed_s: float, faults: int) -> None: ...

    def close(self) -> None: ...


class PlainProgress:
    """One line per update: what a log keeps."""

    def __init__(self, duration_s: float, devices: int, stream: TextIO) -> None:
        self.duration_s = duration_s
        self.devices = devices
        self.stream = stream

    def show(self, elapsed_s: float, faults: int) -> None:
        line = progress_line(elapsed_s, self.duration_s, self.devices, faults)
        print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing held open."""


class LiveProgress:
    """A bar of device time with the fleet and faults beside it, redrawn in place."""

    def __init__(self, duration_s: float, devices: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.devices = devices
        self.duration_s = duration_s
        self._progress = Progress(
            TextColumn("device time"),
            BarColumn(),
            TextColumn("{task.description}"),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("", total=duration_s)
        self._progress.start()
        self._open = True

    def show(self, elapsed_s: float, faults: int) -> None:
        line = progress_line(elapsed_s, self.duration_s, self.devices, faults)
        self._progress.update(
            self._task,
            completed=min(elapsed_s, self.duration_s),
            description=line.removeprefix("device time "),
        )

    def close(self) -> None:
        """Take the bar off the terminal; closing twice is closing once."""
        if self._open:
            self._open = False
            self._progress.stop()


def open_progress(
    duration_s: float, devices: int, stream: TextIO | None = None
) -> tuple[ProgressView, float]:
    """The view for ``stream`` (stderr) and how often to update it, in real seconds:
    live on a terminal when ``rich`` is installed, plain lines otherwise."""
    out = stream or sys.stderr
    if out.isatty() and importlib.util.find_spec("rich") is not None:
        return LiveProgress(duration_s, devices), 0.25
    return PlainProgress(duration_s, devices, out), 5.0
