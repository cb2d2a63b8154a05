"""A run's progress: a plain line in logs and pipes, a live bar only on a terminal."""

from __future__ import annotations

import io

from firmware_sim.progress import PlainProgress, open_progress, progress_line


def test_progress_in_a_log_is_one_plain_line_per_update() -> None:
    assert progress_line(720, 3600, 4, 2) == (
        "device time 00:12:00 of 01:00:00, 4 devices, 2 faults applied"
    )
    assert progress_line(59.9, 90_000, 1, 1).endswith(
        "00:00:59 of 25:00:00, 1 device, 1 fault applied"
    )
    log = io.StringIO()
    view, every_s = open_progress(3600, 4, log)
    assert isinstance(view, PlainProgress)
    assert every_s == 5.0
    view.show(60, 0)
    view.close()
    assert log.getvalue() == "device time 00:01:00 of 01:00:00, 4 devices, 0 faults applied\n"
