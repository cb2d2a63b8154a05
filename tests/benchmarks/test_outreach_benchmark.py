"""The outreach benchmark end to end at a tiny size, and the independent checks it judges
delivery with (so its zeros mean something)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from benchmarks import outreach
from benchmarks.outreach_owners import over_cap, unwelcome
from cloud.outreach.preferences import ContactWindow, FrequencyCap, OwnerPreferences, QuietHours

FIRST_KEYS = [
    "wearout_lead_share",
    "quiet_hour_contacts",
    "over_cap_contacts",
    "answer_rate_first_month",
    "answer_rate_last_month",
    "complete_bundles",
]


def test_a_tiny_run_prints_its_tables_and_a_last_line_that_holds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = outreach.main(
        [
            "--owners", "24", "--months", "2", "--devices", "2", "--reliability-devices", "3",
            "--life-days", "3", "--bundles", "4", "--forecast-every-h", "24", "--workers", "1",
        ]
    )  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("wear-out lead time") for line in lines)
    assert any(line.startswith("owners (") for line in lines)
    assert any(line.startswith("support bundles") for line in lines)
    figures = dict(pair.split("=", 1) for pair in lines[-1].split())
    assert list(figures)[: len(FIRST_KEYS)] == FIRST_KEYS
    assert {"false_alarms", "answer_rate_first_month_learned", "seconds"} <= set(figures)
    assert figures["quiet_hour_contacts"] == "0"
    assert figures["over_cap_contacts"] == "0"
    assert float(figures["complete_bundles"]) == 1.0
    assert int(figures["contacts"]) > 24, "every owner was contacted about something"
    for key in ("answer_rate_first_month", "answer_rate_last_month"):
        assert 0.0 < float(figures[key]) <= 1.0
    share = float(figures["wearout_lead_share"])
    assert math.isnan(share) or 0.0 <= share <= 1.0


def _at(zone: str, *local: int) -> float:
    return datetime(*local, tzinfo=ZoneInfo(zone)).timestamp()  # type: ignore[misc]


def test_the_window_check_reads_local_wall_time_across_daylight_saving() -> None:
    prefs = OwnerPreferences(
        time_zone="Europe/Berlin",
        windows=(ContactWindow(start=time(9), end=time(20)),),
        quiet_hours=QuietHours(start=time(21), end=time(8)),
    )
    # 31 March 2024: Berlin moves from UTC+1 to UTC+2 at 02:00 local.
    assert not unwelcome(prefs, _at("Europe/Berlin", 2024, 3, 31, 9, 0))
    assert unwelcome(prefs, _at("Europe/Berlin", 2024, 3, 31, 8, 59))
    eight_utc = datetime(2024, 3, 31, 8, 0, tzinfo=UTC).timestamp()  # 10:00 local, not 09:00
    assert not unwelcome(prefs, eight_utc)
    seven_utc = datetime(2024, 3, 31, 6, 30, tzinfo=UTC).timestamp()  # 08:30: outside window
    assert unwelcome(prefs, seven_utc)
    assert unwelcome(prefs, _at("Europe/Berlin", 2024, 3, 30, 21, 30)), "quiet hours"


def test_the_cap_check_counts_every_contact_beyond_a_rolling_span() -> None:
    prefs = OwnerPreferences(cap=FrequencyCap(per_day=1, per_week=2))
    day = 86_400.0
    assert over_cap(prefs, [0.0, day, 2 * day + 1]) == 1, "three within a week"
    assert over_cap(prefs, [0.0, day - 1]) == 1, "two within a day"
    assert over_cap(prefs, [0.0, 7 * day, 14 * day]) == 0
