"""Durable delivery end to end on a real database: email arrives at a real SMTP server,
webhooks at a real HTTP server that checks their signatures, a failing webhook is
retried with backoff, and a worker stopped (or killed) mid-schedule and replaced by
another delivers each item exactly once, also with two workers at once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import time as local_time
from pathlib import Path

import pytest

from cloud.app import outreach_senders
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.notify.email import SmtpUrlInvalid
from cloud.notify.webhook import sign, verify
from cloud.notify.worker import DeliveryWorker, Retry
from cloud.outreach.items import OutreachDraft, ServiceSlot
from cloud.outreach.preferences import ContactWindow, FrequencyCap, OwnerPreferences
from cloud.settings import CloudSettings
from device_agent.clock import ManualClock
from tests.cloud.notify.receivers import Hook, smtp_server, webhook_server

T0 = 1_750_000_000.0  # Sun 15 Jun 2025 15:06:40 UTC
DAY = 86_400.0
ALL_DAY = (ContactWindow(start=local_time(0, 0), end=local_time(23, 59)),)
NO_CAP = FrequencyCap(per_day=None, per_week=None)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def settings_for(database_url: str, tmp_path: Path, **overrides: object) -> CloudSettings:
    return CloudSettings(database_url=database_url, model_dir=str(tmp_path), **overrides)  # type: ignore[arg-type]


@pytest.fixture
def repos(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Repositories]:
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings_for(database_url, tmp_path), clock)


def owner(repos: Repositories, name: str, **prefs: object) -> tuple[str, str | None]:
    """A new owner with these preferences; their id and webhook secret."""
    owner_id = repos.owners.create(f"{name}@example.com", "correct horse battery").id
    values: dict[str, object] = {
        "email": f"{name}@example.com",
        "windows": ALL_DAY,
        "quiet_hours": None,
        "cap": NO_CAP,
    }
    values.update(prefs)
    _, secret = repos.outreach.set_preferences(owner_id, OwnerPreferences(**values))  # type: ignore[arg-type]
    return owner_id, secret


def draft(owner_id: str, device: str, clock: ManualClock, **fields: object) -> OutreachDraft:
    values: dict[str, object] = {
        "device_id": device,
        "owner_id": owner_id,
        "kind": "wear_out",
        "dedupe_key": f"{device}:wear_out:compressor",
        "reason": "The compressor's bearing is wearing out: it may fail within 14 days.",
        "action": "Book a technician visit to replace the bearing.",
        "urgency": "normal",
        "created_at": clock.now(),
        "evidence": {"vibration_rms_mm_s": 7.4},
        "slots": (ServiceSlot(T0 + 2 * DAY, T0 + 2 * DAY + 7200),),
    }
    values.update(fields)
    return OutreachDraft(**values)  # type: ignore[arg-type]


def worker(
    repos: Repositories, clock: ManualClock, smtp_url: str | None = None, **options: object
) -> DeliveryWorker:
    settings = CloudSettings(smtp_url=smtp_url, webhook_timeout_s=5)
    values: dict[str, object] = {"poll_s": 0.02, "retry": Retry(5, 30.0)}
    values.update(options)
    return DeliveryWorker(
        repos.deliveries,
        repos.outreach,
        outreach_senders(settings),
        clock,
        **values,  # type: ignore[arg-type]
    )


def test_email_arrives_with_reason_action_and_link(repos: Repositories, clock: ManualClock) -> None:
    alice, _ = owner(repos, "alice", time_zone="Europe/Berlin")
    item_id = repos.outreach.add(draft(alice, "hp-1", clock))
    assert item_id is not None
    assert repos.outreach.add(draft(alice, "hp-1", clock)) is None, "one open item per key"
    with smtp_server() as mailbox:
        delivery = worker(repos, clock, mailbox.url, link_base="https://care.example.com")
        delivery.step()
        assert delivery.stats.sent == 1
        (mail,) = mailbox.messages
    assert mail["To"] == "alice@example.com"
    assert "wearing out" in mail["Subject"]
    assert "hp-1" in mail["Subject"]
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "bearing is wearing out" in text
    assert "What to do: Book a technician visit" in text
    assert f"https://care.example.com/#outreach/{item_id}" in text
    assert "Tue 17 Jun 2025 17:06 CEST" in text, "slots in the owner's local time"
    (row,) = repos.deliveries.for_items([item_id])[item_id]
    assert mail["Message-ID"] == f"<{row.id}@aftercare>"
    assert mail["X-Aftercare-Delivery"] == row.id
    assert (row.state, row.channel, row.attempts) == ("sent", "email", 1)
    stored = repos.outreach.get(item_id)
    assert stored is not None
    assert stored.status == "delivered"
    assert stored.delivered_at == T0


def test_a_failing_webhook_is_retried_with_backoff_then_succeeds(
    repos: Repositories, clock: ManualClock
) -> None:
    with webhook_server(Hook(fail_first=2)) as hook:
        bob, secret = owner(repos, "bob", email=None, webhook_url=hook.url)
        assert secret is not None
        assert len(secret) >= 32
        hook.secrets.append(secret)
        item_id = repos.outreach.add(draft(bob, "ev-7", clock, urgency="high"))
        assert item_id is not None
        delivery = worker(repos, clock)
        delivery.step()  # attempt 1: HTTP 500
        (row,) = repos.deliveries.for_items([item_id])[item_id]
        assert (row.state, row.attempts, row.last_error) == (
            "pending",
            1,
            "webhook answered HTTP 500",
        )
        assert row.next_attempt_at == T0 + 30
        clock.advance(29)
        delivery.step()
        assert len(hook.requests) == 1, "not before its backoff"
        clock.advance(1)
        delivery.step()  # attempt 2: HTTP 500, then twice the wait
        (row,) = repos.deliveries.for_items([item_id])[item_id]
        assert row.next_attempt_at == T0 + 30 + 60
        clock.advance(60)
        delivery.step()  # attempt 3 succeeds
        assert [r["status"] for r in hook.requests] == [500, 500, 200]
        assert all(r["signed"] for r in hook.requests)
        assert len({r["delivery"] for r in hook.requests}) == 1, "one stable delivery id"
        body = hook.requests[-1]["body"]
        assert body["item_id"] == item_id
        assert body["device_id"] == "ev-7"
        assert body["reason"].startswith("The compressor")
        assert body["urgency"] == "high"
        assert body["slots"][0]["start"] == "2025-06-17T15:06:40+00:00"
        (row,) = repos.deliveries.for_items([item_id])[item_id]
        assert (row.state, row.attempts, row.last_error) == ("sent", 3, None)
        assert delivery.stats.retried == 2
        assert delivery.stats.sent == 1


def test_a_webhook_that_never_answers_is_given_up_with_its_error_kept(
    repos: Repositories, clock: ManualClock
) -> None:
    with webhook_server(Hook(fail_first=100)) as hook:
        carol, secret = owner(repos, "carol", email=None, webhook_url=hook.url)
        hook.secrets.append(secret)  # type: ignore[arg-type]
        item_id = repos.outreach.add(draft(carol, "hp-9", clock))
        assert item_id is not None
        delivery = worker(repos, clock, retry=Retry(3, 10.0))
        for _ in range(4):
            delivery.step()
            clock.advance(1000)
        assert len(hook.requests) == 3
    (row,) = repos.deliveries.for_items([item_id])[item_id]
    assert (row.state, row.attempts, row.last_error) == ("failed", 3, "webhook answered HTTP 500")
    item = repos.outreach.get(item_id)
    assert item is not None
    assert item.delivered_at is not None, "the inbox still has it"


def test_a_bad_smtp_url_is_a_clear_error() -> None:
    for url, reason in (
        ("http://mail.example.com", "smtp:// or smtps://"),
        ("smtp://user:pw@mail.example.com:25", "needs smtps://"),
        ("smtps://mail.example.com:notaport", "port"),
        ("smtp://:25", "names no host"),
    ):
        with pytest.raises(SmtpUrlInvalid, match=reason):
            outreach_senders(CloudSettings(smtp_url=url))


def wait_for(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_a_restart_mid_schedule_delivers_each_item_exactly_once(
    repos: Repositories, clock: ManualClock
) -> None:
    """Three owners with four items each and one contact a day: due over four days. The
    first worker delivers two days' worth and stops; a second claims the third day's and
    dies without sending; a third, after the lease, sends the rest."""
    with smtp_server() as mailbox, webhook_server(Hook()) as hook:
        ann, _ = owner(repos, "ann", cap=FrequencyCap(per_day=1, per_week=None))
        ben, secret = owner(
            repos,
            "ben",
            email=None,
            webhook_url=hook.url,
            cap=FrequencyCap(per_day=1, per_week=None),
        )
        hook.secrets.append(secret)  # type: ignore[arg-type]
        cid, _ = owner(repos, "cid", email=None, cap=FrequencyCap(per_day=1, per_week=None))
        items = [
            repos.outreach.add(draft(who, f"{who[-6:]}-{n}", clock))
            for who in (ann, ben, cid)
            for n in range(4)
        ]
        assert None not in items

        def delivered() -> int:
            """Deliveries recorded as sent (the receivers are counted at the end)."""
            rows = repos.deliveries.for_items(items)  # type: ignore[arg-type]
            return sum(r.state == "sent" for d in rows.values() for r in d)

        first = worker(repos, clock, mailbox.url)
        first.start()
        wait_for(lambda: delivered() == 3)
        clock.advance(DAY)
        wait_for(lambda: delivered() == 6)
        first.stop()
        assert delivered() == 6
        assert not first.alive

        clock.advance(DAY)
        crashed = worker(repos, clock, mailbox.url, lease_s=60.0)
        claims = repos.deliveries.claim_due(clock.now(), 10, crashed.worker_id, 60.0)
        assert len(claims) == 3, "the third day's deliveries, claimed by a worker that dies"

        second = worker(repos, clock, mailbox.url)
        second.start()
        time.sleep(0.1)
        assert delivered() == 6, "a live lease is not taken over"
        assert len(mailbox.messages) + len(hook.accepted()) == 4
        clock.advance(61)
        wait_for(lambda: delivered() == 9)
        clock.advance(DAY)
        wait_for(lambda: delivered() == 12)
        second.stop()
        assert delivered() == 12

    received = [m["X-Aftercare-Delivery"] for m in mailbox.messages]
    received += [r["delivery"] for r in hook.accepted()]
    assert len(received) == 8, Counter(received)
    assert len(set(received)) == 8, Counter(received)
    rows = repos.deliveries.for_items(items)  # type: ignore[arg-type]
    assert all(len(rows[i]) == 1 and rows[i][0].state == "sent" for i in rows), rows
    in_app = [rows[i][0] for i in rows if rows[i][0].channel == "in_app"]
    assert len(in_app) == 4
    sent_days = sorted(int((r[0].sent_at - T0) // DAY) for r in rows.values())  # type: ignore[operator]
    assert sent_days == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], "one a day per owner"
    assert first.stats.errors == second.stats.errors == 0


def test_two_workers_at_once_never_send_twice(
    repos: Repositories, clock: ManualClock, database_url: str, tmp_path: Path
) -> None:
    """Two workers on separate engines (two cloud processes) drain one queue together."""
    with webhook_server(Hook(delay_s=0.005)) as hook:
        owners = [owner(repos, f"o{n}", email=None, webhook_url=hook.url) for n in range(3)]
        hook.secrets += [secret for _, secret in owners if secret is not None]
        items = [
            repos.outreach.add(draft(who, f"dev-{n}-{k}", clock, urgency="critical"))
            for n, (who, _) in enumerate(owners)
            for k in range(12)
        ]
        with open_database(database_url) as other_engine:
            other = build_repositories(other_engine, settings_for(database_url, tmp_path), clock)
            workers = [worker(repos, clock, batch=4), worker(other, clock, batch=4)]
            for w in workers:
                w.start()
            wait_for(lambda: sum(w.stats.sent for w in workers) >= 36 * 2, timeout_s=20)
            time.sleep(0.2)
            for w in workers:
                w.stop()
    sent = Counter(r["delivery"] for r in hook.accepted())
    assert len(sent) == 36, "a webhook for each critical item (and the inbox)"
    assert set(sent.values()) == {1}, "no delivery sent twice"
    assert sum(w.stats.sent for w in workers) == 36 * 2
    assert all(w.stats.errors == 0 for w in workers)
    assert None not in items


def test_the_documented_signature_check() -> None:
    body = b'{"delivery_id":"dlv-1"}'
    header = sign("s3cret", 1_750_000_000, body)
    assert header.startswith("t=1750000000,v1=")
    assert verify("s3cret", header, body, now=1_750_000_100)
    assert not verify("s3cret", header, body + b" ", now=1_750_000_100), "the exact body"
    assert not verify("other", header, body, now=1_750_000_100), "the owner's secret"
    assert not verify("s3cret", header, body, now=1_750_001_000), "a replay, too late"
    assert not verify("s3cret", "v1=abc", body, now=1_750_000_000)
