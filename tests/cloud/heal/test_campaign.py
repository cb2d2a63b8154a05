"""Campaigns roll a fix out in batches, canary first, and pause themselves when a batch
fails verification too often."""

from __future__ import annotations

from cloud.heal.campaign import Campaign, CampaignSpec
from cloud.heal.playbook import Verification

T0 = 1_780_000_000.0
SPEC = CampaignSpec(
    action="restart_firmware",
    params={},
    verify=Verification(within_s=300, hold_s=120),
    signature="memory-leak/firmware",
    canary_share=0.1,
    batch_size=6,
    pause_s=600,
    max_failure_rate=0.2,
)
DEVICES = [f"hp-{i:02d}" for i in range(20)]


def _run_batch(campaign: Campaign, now: float, failing: set[str]) -> float:
    """Devices of the current batch report done; the failing ones stay leaky."""
    batch = [t for t in campaign.targets if t.batch == campaign.batch]
    for target in batch:
        assert target.command_id is not None
        campaign.result(target.device_id, target.command_id, "done", "ok", now + 10)
    for minute in range(1, 5):
        for target in batch:
            leaky = target.device_id in failing
            found = frozenset({"memory-leak/firmware"}) if leaky else frozenset()
            campaign.observe(target.device_id, now + 10 + 60 * minute, {}, found)
    campaign.tick(now + 400)
    return now + 400


def test_a_canary_goes_first_then_batches_after_a_pause() -> None:
    campaign = Campaign.plan(1, SPEC, DEVICES)
    assert [sum(t.batch == b for t in campaign.targets) for b in range(4)] == [2, 6, 6, 6]
    canary = campaign.step(T0)
    assert [s.target.device_id for s in canary] == ["hp-00", "hp-01"]
    now = _run_batch(campaign, T0, failing=set())
    assert campaign.step(now) == [], "the pause between batches"
    second = campaign.step(now + 600)
    assert len(second) == 6
    now = _run_batch(campaign, now + 600, failing=set())
    for _ in range(2):
        now += 600
        campaign.step(now)
        now = _run_batch(campaign, now, failing=set())
    campaign.step(now + 600)
    assert campaign.status == "completed"
    assert all(t.state == "verified" for t in campaign.targets)


def test_a_batch_that_fails_too_often_pauses_the_rollout_until_resumed() -> None:
    campaign = Campaign.plan(2, SPEC, DEVICES)
    campaign.step(T0)
    now = _run_batch(campaign, T0, failing=set())
    campaign.step(now + 600)
    now = _run_batch(campaign, now + 600, failing={"hp-02", "hp-03"})
    assert campaign.step(now + 10_000) == []
    assert campaign.status == "paused"
    assert "33%" in campaign.reason
    untouched = [t for t in campaign.targets if t.batch >= 2]
    assert all(t.state == "queued" for t in untouched), "no further device was touched"
    campaign.resume(now + 20_000)
    assert len(campaign.step(now + 20_000)) == 6
    campaign.abort("the service team stopped it")
    assert campaign.status == "aborted"
    assert campaign.step(now + 30_000) == []


def test_a_device_that_never_reports_counts_as_failed() -> None:
    campaign = Campaign.plan(3, SPEC, DEVICES[:1])
    (send,) = campaign.step(T0)
    campaign.tick(T0 + SPEC.timeout_s + 1)
    assert send.target.state == "failed"
    assert campaign.status == "paused"
