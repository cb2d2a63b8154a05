"""The owner's word closes the loop: a fix the telemetry verified is asked about once it
had time to hold, and a low rating reopens the incident and counts against that fix in
what self-healing learns (its posterior falls)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.db.outreach_facts import OutreachFacts
from cloud.db.planner_marks import PlannerMarks
from cloud.db.remediation import AttemptRow, FixCounts
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.heal.choice import FixRecord, posterior
from cloud.heal.engine import RemediationEngine
from cloud.heal.playbook import BUNDLED_PLAYBOOKS, Playbooks
from cloud.heal.signing import CommandSigner
from cloud.heal.worker import RemediationWorker
from cloud.incidents.tracker import IncidentOpened
from cloud.notify.worker import DeliveryWorker
from cloud.outreach.planner import OutreachPolicy
from cloud.planning.feedback import FixFeedback
from cloud.planning.worker import PlanningWorker
from cloud.settings import CloudSettings
from device_agent.clock import ManualClock
from tests.cloud.api.test_claims import T0, api, bearer, sign_up

MODEL, SIGNATURE, ACTION = "heatpump-hp200", "overheat/compressor", "reduce_load"
HP = "hp-7"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)  # Sunday afternoon UTC: inside the default contact window


@pytest.fixture
def repos(database_url: str, tmp_path: Path, clock: ManualClock) -> Iterator[Repositories]:
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        yield build_repositories(engine, settings, clock)


def _healed_incident(repos: Repositories) -> int:
    """An incident a verified ``reduce_load`` resolved; the fleet had 5 such successes."""
    repos.incidents.record([(IncidentOpened(HP, SIGNATURE, T0, T0, 0.9, {}), MODEL)])
    (incident,) = repos.remediation.opened_after(0)
    repos.remediation.save_attempt(
        AttemptRow(
            "fix-1",
            incident.id,
            1,
            HP,
            ACTION,
            {},
            T0 + 10,
            "done",
            T0 + 20,
            "ok",
            True,
            T0 + 60,
            T0 + 600,
        ),
    )
    repos.remediation.save_counts([FixCounts(MODEL, SIGNATURE, ACTION, 5, 0)])
    repos.remediation.set_status(incident.id, "resolved", T0 + 600)
    return incident.id


def _wait_for(check: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the remediation worker did not act in time"
        time.sleep(0.05)


async def test_a_low_rating_after_a_verified_fix_reopens_it_and_lowers_its_posterior(
    repos: Repositories, clock: ManualClock, tmp_path: Path
) -> None:
    remediation = RemediationWorker(
        RemediationEngine(
            Playbooks.load(BUNDLED_PLAYBOOKS), RemediationWorker.records_from(repos.remediation)
        ),
        repos.remediation,
        repos.campaigns,
        CommandSigner.load_or_create(tmp_path / "key.pem"),
        lambda topic, payload: None,
        clock,
    )
    repos.outreach.response_listeners.append(
        FixFeedback(repos.incidents, repos.remediation, remediation)
    )
    planner = PlanningWorker(
        OutreachFacts(repos.engine),
        repos.outreach,
        PlannerMarks(repos.engine),
        clock,
        policy=OutreachPolicy(feedback_delay_s=3600),
    )
    try:
        async with api(repos) as client:
            token = await sign_up(client, "ann@example.com")
            principal = repos.tokens.principal_for(token)
            assert principal is not None
            assert principal.owner_id is not None
            repos.telemetry.set_owner(HP, principal.owner_id)
            owner = bearer(repos.tokens.issue("owner", principal.owner_id))
            incident_id = _healed_incident(repos)
            # The fix was verified before this worker started. Started earlier, its first
            # poll could catch the incident in the instant it was recorded open and plan a
            # fix for it (CI, once: the incident was then never "resolved" to reopen).
            remediation.start()

            clock.advance(1200)
            assert planner.plan_once() == 0, "not asked before the fix had time to hold"
            clock.advance(3600)
            assert planner.plan_once() == 1
            assert planner.plan_once() == 0, "asked once"
            restarted = PlanningWorker(
                OutreachFacts(repos.engine), repos.outreach, PlannerMarks(repos.engine), clock
            )
            assert restarted.plan_once() == 0, "a restarted planner resumes at its marks"
            assert PlannerMarks(repos.engine).load()["verified_fixes"] == T0 + 600
            DeliveryWorker(repos.deliveries, repos.outreach, {}, clock).step()
            (question,) = (await client.get("/api/v1/outreach", headers=owner)).json()
            assert question["kind"] == "feedback_question"
            assert "reduce load" in question["reason"]

            answer = {"response": "rate", "rating": 1, "text": "it still trips at night"}
            url = f"/api/v1/outreach/{question['id']}/response"
            assert (await client.post(url, json=answer, headers=owner)).status_code == 200

            def reopened() -> bool:
                incident = repos.incidents.get(incident_id)
                return incident is not None and incident.status == "open"

            _wait_for(reopened)
            incident = repos.incidents.get(incident_id)
            assert incident is not None
            assert incident.escalation == (
                "reopened: the owner rated the fix 1/5: it still trips at night"
            )
            _wait_for(lambda: repos.remediation.counts()[0].failures == 1)
            (counts,) = repos.remediation.counts()
            assert (counts.successes, counts.failures) == (4, 1)
            before = posterior(FixRecord(5, 0), 0, 1)
            after = posterior(FixRecord(counts.successes, counts.failures), 0, 1)
            assert after[0] / sum(after) < before[0] / sum(before)
    finally:
        remediation.stop()
