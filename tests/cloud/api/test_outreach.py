"""Outreach through the real API on a real database: owners see only their delivered
items and answer them (validated per answer type; 404 for another's, 409 once closed),
the service team sees the queue with delivery states and records outcomes, listeners
hear each answer, and owners set their contact preferences (a webhook gets a secret)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.db.outreach import OutreachItem
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.notify.worker import DeliveryWorker
from cloud.outreach.items import ServiceSlot
from cloud.outreach.responses import Answer
from cloud.settings import CloudSettings
from device_agent.clock import ManualClock
from tests.cloud.api.test_claims import T0, api, bearer, sign_up
from tests.cloud.notify.test_delivery import draft

SLOT = ServiceSlot(T0 + 2 * 86_400, T0 + 2 * 86_400 + 7200)
SLOT_ISO = "2025-06-17T15:06:40Z"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)  # Sun 15:06 UTC: inside the default window


@pytest.fixture
def repos(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, clock)


def owner_id_of(repos: Repositories, token: str) -> str:
    principal = repos.tokens.principal_for(token)
    assert principal is not None
    assert principal.owner_id is not None
    return principal.owner_id


async def test_inbox_answers_outcomes_and_permissions(
    repos: Repositories, clock: ManualClock
) -> None:
    heard: list[tuple[OutreachItem, Answer]] = []
    repos.outreach.response_listeners.append(lambda item, answer: heard.append((item, answer)))
    staff = bearer(repos.tokens.issue("service"))
    async with api(repos) as client:
        alice_token = await sign_up(client, "alice@example.com")
        alice, bob = bearer(alice_token), bearer(await sign_up(client, "bob@example.com"))
        alice_id = owner_id_of(repos, alice_token)
        alice = bearer(repos.tokens.issue("owner", alice_id))  # lasts while days pass
        wear = repos.outreach.add(draft(alice_id, "hp-1", clock, slots=(SLOT,)))
        later = repos.outreach.add(draft(alice_id, "hp-2", clock))
        feedback = repos.outreach.add(
            draft(alice_id, "hp-3", clock, kind="feedback_question", dedupe_key="hp-3:fb", slots=())
        )
        assert (await client.get("/api/v1/outreach", headers=alice)).json() == [], (
            "nothing in the inbox before it is delivered"
        )
        assert (await client.get(f"/api/v1/outreach/{wear}", headers=alice)).status_code == 404
        DeliveryWorker(repos.deliveries, repos.outreach, {}, clock).step()  # in-app, 1 a day
        inbox = (await client.get("/api/v1/outreach", headers=alice)).json()
        assert [i["id"] for i in inbox] == [wear]
        assert inbox[0]["status"] == "delivered"
        assert inbox[0]["deliveries"] is None
        assert inbox[0]["slots"] == [
            {"start": "2025-06-17T15:06:40Z", "end": "2025-06-17T17:06:40Z"}
        ]
        queue = (await client.get("/api/v1/outreach", headers=staff)).json()
        assert {i["id"] for i in queue} == {wear, later, feedback}
        by_id = {i["id"]: i for i in queue}
        assert by_id[wear]["deliveries"][0]["state"] == "sent"
        assert by_id[later]["status"] == "scheduled"
        assert by_id[later]["deliveries"][0]["due_at"] == "2025-06-16T15:06:40Z", "the cap"
        scheduled = await client.get("/api/v1/outreach?status=scheduled", headers=staff)
        assert {i["id"] for i in scheduled.json()} == {later, feedback}
        bad_status = await client.get("/api/v1/outreach?status=lost", headers=staff)
        assert bad_status.status_code == 422

        url = f"/api/v1/outreach/{wear}/response"
        assert (await client.get(f"/api/v1/outreach/{wear}", headers=bob)).status_code == 404
        assert (
            await client.post(url, json={"response": "decline"}, headers=bob)
        ).status_code == 404
        assert (
            await client.post(url, json={"response": "decline"}, headers=staff)
        ).status_code == 403
        assert (await client.post(url, json={"response": "decline"})).status_code == 401
        for body, reason in (
            ({"response": "book"}, "needs slot_start"),
            ({"response": "snooze"}, "needs until"),
            ({"response": "rate", "rating": 9}, "less than or equal to 5"),
            ({"response": "decline", "rating": 3}, "takes no rating"),
            ({"response": "book", "slot_start": "2025-06-17T15:06:40"}, "timezone"),
            ({"response": "shrug"}, "book"),
            ({"response": "rate", "rating": 4}, "only a feedback question"),
            ({"response": "book", "slot_start": "2025-06-18T09:00:00Z"}, "suggested slots"),
            ({"response": "snooze", "until": "2025-06-01T00:00:00Z"}, "in the future"),
        ):
            answer = await client.post(url, json=body, headers=alice)
            assert answer.status_code == 422, (body, answer.text)
            assert reason in answer.text, (body, answer.text)
        assert heard == []

        booked = await client.post(
            url,
            json={"response": "book", "slot_start": SLOT_ISO, "text": "mornings"},
            headers=alice,
        )
        assert booked.status_code == 200, booked.text
        assert booked.json()["status"] == "booked"
        assert booked.json()["booked"] == {"start": SLOT_ISO, "end": "2025-06-17T17:06:40Z"}
        ((item, answer),) = heard
        assert (item.id, item.status, answer.response, answer.slot) == (
            wear,
            "booked",
            "book",
            SLOT,
        )

        outcome_url = f"/api/v1/outreach/{wear}/outcome"
        outcome = {"outcome": "part_replaced", "note": "new bearing fitted"}
        assert (await client.post(outcome_url, json=outcome, headers=alice)).status_code == 403
        assert (
            await client.post(outcome_url, json={"outcome": "magic"}, headers=staff)
        ).status_code == 422
        assert (
            await client.post("/api/v1/outreach/999/outcome", json=outcome, headers=staff)
        ).status_code == 404
        done = await client.post(outcome_url, json=outcome, headers=staff)
        assert done.status_code == 200
        assert done.json()["status"] == "done"
        assert repos.outreach.outcomes(wear)[0].note == "new bearing fitted"
        closed = await client.post(url, json={"response": "decline"}, headers=alice)
        assert closed.status_code == 409
        assert "closed" in closed.json()["detail"]

        # the next day the capped item arrives; snoozing it brings it back later
        clock.advance(86_400)
        DeliveryWorker(repos.deliveries, repos.outreach, {}, clock).step()
        snooze = await client.post(
            f"/api/v1/outreach/{later}/response",
            json={"response": "snooze", "until": "2025-06-20T12:00:00+02:00"},
            headers=alice,
        )
        assert snooze.status_code == 200
        assert snooze.json()["status"] == "snoozed"
        stored = repos.outreach.get(later)
        until = datetime(2025, 6, 20, 10, 0, tzinfo=UTC).timestamp()
        assert stored is not None
        assert stored.plan_after == until
        assert len(repos.outreach.answers(later)) == 1
        assert len(heard) == 2

        # the feedback question comes on the third day and takes a rating, once
        clock.advance(86_400)
        DeliveryWorker(repos.deliveries, repos.outreach, {}, clock).step()
        rate_url = f"/api/v1/outreach/{feedback}/response"
        for wrong in ({"response": "book", "slot_start": SLOT_ISO}, {"response": "rate"}):
            assert (await client.post(rate_url, json=wrong, headers=alice)).status_code == 422
        rated = await client.post(
            rate_url, json={"response": "rate", "rating": 2, "text": "still noisy"}, headers=alice
        )
        assert rated.status_code == 200
        assert rated.json()["status"] == "answered"
        assert heard[-1][1].rating == 2
        assert heard[-1][1].text == "still noisy"
        again = await client.post(rate_url, json={"response": "rate", "rating": 5}, headers=alice)
        assert again.status_code == 409

        # the snoozed item comes back after its time, and within the cap (3 a week)
        clock.advance(until - clock.now() + 60)
        DeliveryWorker(repos.deliveries, repos.outreach, {}, clock).step()
        rows = repos.deliveries.for_items([later])[later]
        assert [r.state for r in rows] == ["sent", "pending"]
        assert rows[1].due_at == T0 + 7 * 86_400, "a week after the first of three"
        clock.advance(rows[1].due_at - clock.now())
        DeliveryWorker(repos.deliveries, repos.outreach, {}, clock).step()
        assert repos.deliveries.for_items([later])[later][1].state == "sent"


async def test_owners_set_preferences_and_get_a_webhook_secret_once(repos: Repositories) -> None:
    async with api(repos) as client:
        token = await sign_up(client, "dana@example.com")
        dana = bearer(token)
        url = "/api/v1/owners/me/preferences"
        first = (await client.get(url, headers=dana)).json()
        assert first["is_default"] is True
        assert first["webhook_secret"] is None
        assert first["preferences"]["email"] == "dana@example.com"
        assert first["preferences"]["windows"] == [
            {"days": [0, 1, 2, 3, 4, 5, 6], "start": "09:00:00", "end": "20:00:00"}
        ]
        wanted = {
            "email": "dana@example.com",
            "webhook_url": "https://sms-gateway.example.com/hook",
            "time_zone": "America/New_York",
            "windows": [{"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "21:30"}],
            "quiet_hours": {"start": "22:00", "end": "07:00"},
            "cap": {"per_day": 2, "per_week": None},
            "preferred_channel": "webhook",
        }
        put = await client.put(url, json=wanted, headers=dana)
        assert put.status_code == 200, put.text
        secret = put.json()["webhook_secret"]
        assert isinstance(secret, str)
        assert len(secret) >= 40
        again = await client.put(url, json=wanted, headers=dana)
        assert again.json()["webhook_secret"] is None, "shown once; unchanged URL keeps it"
        stored = repos.outreach.preferences(owner_id_of(repos, token))
        assert stored.webhook_secret == secret
        assert not stored.is_default
        changed = await client.put(
            url, json={**wanted, "webhook_url": "https://other.example.com/h"}, headers=dana
        )
        assert changed.json()["webhook_secret"] not in (None, secret)
        read = (await client.get(url, headers=dana)).json()
        assert read["preferences"]["time_zone"] == "America/New_York"
        assert read["preferences"]["cap"] == {"per_day": 2, "per_week": None}
        assert read["webhook_secret"] is None

        for body, reason in (
            ({**wanted, "time_zone": "Atlantis/Capital"}, "IANA"),
            ({**wanted, "windows": [{"start": "21:00", "end": "08:00"}]}, "start before it ends"),
            ({**wanted, "quiet_hours": {"start": "00:00", "end": "23:59"}}, "quiet hours cover"),
            ({**wanted, "webhook_url": None}, "no address"),
            ({**wanted, "surprise": 1}, "Extra inputs"),
        ):
            refused = await client.put(url, json=body, headers=dana)
            assert refused.status_code == 422, (body, refused.text)
            assert reason in refused.text
        staff = bearer(repos.tokens.issue("service"))
        assert (await client.get(url, headers=staff)).status_code == 403
        assert (await client.get(url)).status_code == 401
