"""Who hears which live change: the service team everything, an owner only their own
devices' changes and never simulation runs, a manufacturer only simulation runs."""

from __future__ import annotations

import pytest

from cloud.api.live import Audience
from cloud.db.changes import Change
from cloud.db.tokens import Principal

SIM_RUN = Change("sim_run", "7", None, None, {"id": 7, "passed": True})
ALICES_INCIDENT = Change("incident", "1", "hp-1", "alice", {"id": 1})
BOBS_DEVICE = Change("device", "hp-2", "hp-2", "bob", {"id": "hp-2", "online": False})
UNOWNED_DEVICE = Change("device", "hp-3", "hp-3", None, {"id": "hp-3", "online": True})
CAMPAIGN = Change("campaign", "4", None, None, {"id": 4, "status": "running"})
EVERY_CHANGE = [SIM_RUN, ALICES_INCIDENT, BOBS_DEVICE, UNOWNED_DEVICE, CAMPAIGN]


def heard(principal: Principal, owned: frozenset[str] = frozenset()) -> list[Change]:
    audience = Audience.of(principal)
    return [c for c in EVERY_CHANGE if audience.may_see(c, owned)]


def test_the_service_team_hears_every_change() -> None:
    assert heard(Principal("service")) == EVERY_CHANGE


def test_a_manufacturer_hears_only_simulation_runs() -> None:
    assert heard(Principal("manufacturer")) == [SIM_RUN]
    assert heard(Principal("manufacturer"), frozenset({"hp-1", "hp-3"})) == [SIM_RUN]


def test_an_owner_hears_their_own_devices_and_never_simulation_runs() -> None:
    assert heard(Principal("owner", "alice"), frozenset({"hp-1", "hp-3"})) == [
        ALICES_INCIDENT,
        UNOWNED_DEVICE,  # hp-3 is in alice's owned set (claimed since the change was read)
    ]
    assert heard(Principal("owner", "carol")) == []


def test_an_owner_without_an_owner_id_cannot_exist() -> None:
    with pytest.raises(ValueError, match="owner_id"):
        Principal("owner")
    with pytest.raises(ValueError, match="owner_id"):
        Principal("manufacturer", "alice")
