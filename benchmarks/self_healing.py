"""Self-healing on a simulated fleet: how many faults end in a recovery the telemetry
verified, how fast, whether the fleet learns which fix to try first, and whether anything
unsafe ever runs.

Each simulated device reports every ``--interval`` seconds through the cloud's own
diagnosis and incident tracker; every incident goes to the cloud's remediation engine
with the bundled playbooks; a fix reaches the device ``--command-delay`` seconds later
(once its link is up) and runs the simulator's action, which clears a fault only as
often as its remedy says (a broken part never remotely). Faults last until something
clears them; ``--unfixable`` of them are broken parts that only a service visit clears.

    python -m benchmarks.self_healing --devices 90 --days 5 --faults-per-day 2

The last line's keys: ``healed_share`` (remotely fixable faults that ended in a verified
recovery with no human), ``median_verify_intervals`` (incident opened to verified
recovery, in telemetry intervals), ``first_fix_q1`` / ``first_fix_q4`` (the share of
incidents whose first fix was verified, in the first and last quarter of the run),
``escalated_unfixable`` (found broken parts handed to people), ``false_healed`` (faults
marked healed that the simulator says persist) and ``unsafe_executed`` (actions run from
forged, tampered, replayed, expired, retained or misaddressed commands, sent through the
real agent's command path). After them: ``faults``, ``seconds`` and
``first_fix_ceiling_q4``, the best ``first_fix_q4`` the simulator allows (a right fix
works only as often as its remedy says, and a broken part never).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt

from benchmarks.fleet_detection import DAY_S, START_S, _History, _model_source, build_fleet
from cloud.diagnosis.diagnoser import DeviceDiagnoser
from cloud.diagnosis.profiles import profile_for
from cloud.heal.engine import Escalated, Healed, RemediationEngine, SendFix, Step
from cloud.heal.playbook import Playbooks
from cloud.heal.signing import CommandSigner
from cloud.incidents.tracker import (
    IncidentOpened,
    IncidentResolved,
    IncidentTracker,
    signatures_seen,
)
from cloud.learning import FleetModel
from device_agent import contract
from device_agent.agent import Agent
from device_agent.clock import ManualClock
from device_agent.contract import Channel, Command, Scalar
from device_agent.hal import ActionOutcome
from device_agent.settings import AgentSettings
from firmware_sim.fault_plan import plan_faults
from firmware_sim.faults import FaultWindow, remedy_for
from firmware_sim.models import SimulatedDevice

SETTLE_S = 12 * 3600.0
"""Faults that start later than this before the end have no time to be found and fixed:
they are not counted."""


@dataclass
class Incident:
    id: int
    device_id: str
    signature: str
    opened_at: float
    healed_at: float | None = None
    healed_by: str | None = None
    escalated: bool = False
    first_fix_verified: bool | None = None


@dataclass
class Outcome:
    incidents: list[Incident] = field(default_factory=list)
    faults: list[tuple[str, FaultWindow]] = field(default_factory=list)
    end_s: float = 0.0
    samples: int = 0


@dataclass(frozen=True)
class Delivery:
    due_s: float
    device_id: str
    command_id: str
    action: str
    params: Mapping[str, Scalar]


async def simulate(args: argparse.Namespace) -> Outcome:
    clock = ManualClock(START_S)
    fleet = build_fleet(args.devices, args.seed, clock, None)
    _inject(fleet, args)
    by_id = {d.device_id: d for d in fleet}
    fleet_models: dict[str, FleetModel] = {}
    history = _History(keep_all=True)
    diagnosers = {
        d.device_id: DeviceDiagnoser(profile_for(d.model), _model_source(fleet_models, d.model))
        for d in fleet
    }
    tracker = IncidentTracker()
    engine = RemediationEngine(Playbooks.load(), rng=random.Random(args.seed))
    outcome = Outcome()
    incidents: dict[int, Incident] = {}
    open_ids: dict[tuple[str, str], int] = {}
    deliveries: list[Delivery] = []
    link_up = {d.device_id: True for d in fleet}
    train_at = int(args.warmup_hours * 3600 / args.interval)
    steps = int(args.days * DAY_S / args.interval)
    for step in range(steps):
        now = clock.now()
        pending: list[Step] = []
        for device in fleet:
            device_id = device.device_id
            up = device.link_up()
            if up != link_up[device_id]:
                link_up[device_id] = up
                diagnosers[device_id].observe_link(now, up)
            metrics = device.read_metrics()
            if step < train_at:
                history.add(device.model, now, metrics)
            diagnosers[device_id].hold(tracker.suspected(device_id))
            findings = diagnosers[device_id].observe(now, metrics)
            for decision in tracker.observe(device_id, now, findings):
                if isinstance(decision, IncidentOpened):
                    incident = Incident(len(incidents) + 1, device_id, decision.signature, now)
                    incidents[incident.id] = incident
                    open_ids[(device_id, decision.signature)] = incident.id
                    pending += engine.start(
                        incident.id, device_id, device.model, incident.signature, now
                    )
                elif isinstance(decision, IncidentResolved):
                    closed = open_ids.pop((device_id, decision.signature), None)
                    active = engine.active.get(closed) if closed is not None else None
                    if active is not None and active.status == "waiting":
                        engine.forget(active.incident_id)  # it went away before any fix
            found = signatures_seen(findings, tracker.config.open_threshold)
            pending += engine.observe(device_id, now, metrics, found)
            outcome.samples += 1
        pending += engine.tick(now)
        _carry_out(pending, incidents, deliveries, now + args.command_delay)
        await _deliver_until(
            now + args.interval, clock, deliveries, by_id, link_up, engine, incidents, args
        )
        if step == train_at:
            fleet_models.update(history.fit(now))
        clock.advance(now + args.interval - clock.now())
        if step % max(1, steps // 10) == 0:
            print(f"  {step / steps:4.0%} simulated", file=sys.stderr, flush=True)
    outcome.end_s = clock.now()
    outcome.incidents = list(incidents.values())
    for device in fleet:
        outcome.faults += [(device.device_id, w) for w in device.fault_log]
    return outcome


async def _deliver_until(
    until_s: float,
    clock: ManualClock,
    deliveries: list[Delivery],
    by_id: Mapping[str, SimulatedDevice],
    link_up: Mapping[str, bool],
    engine: RemediationEngine,
    incidents: dict[int, Incident],
    args: argparse.Namespace,
) -> None:
    """Run each command on its device when it arrives, ``--command-delay`` after it was
    sent, and hand the device's result to the engine at once (as the agent reports it);
    a fix that failed outright makes the next one, which arrives a delay later. A
    device whose link is down gets its commands once it is back."""
    while True:
        due = [d for d in deliveries if d.due_s < until_s and link_up[d.device_id]]
        if not due:
            return
        at = min(d.due_s for d in due)
        clock.advance(max(0.0, at - clock.now()))
        now = clock.now()
        pending: list[Step] = []
        for delivered in [d for d in due if d.due_s <= at]:
            deliveries.remove(delivered)
            result = await by_id[delivered.device_id].run_action(delivered.action, delivered.params)
            state = "done" if result.ok else "failed"
            pending += engine.result(
                delivered.device_id, delivered.command_id, state, result.detail, now
            )
        _carry_out(pending, incidents, deliveries, now + args.command_delay)


def _inject(fleet: Sequence[SimulatedDevice], args: argparse.Namespace) -> None:
    """Occasional faults that last until cleared; a share of them broken parts."""
    start = START_S + args.warmup_hours * 3600
    plan = plan_faults(
        [d.device_id for d in fleet],
        {d.device_id: d.model for d in fleet},
        rng_seed=args.seed,
        start_s=start,
        duration_s=args.days * DAY_S - args.warmup_hours * 3600,
        rate_per_device_day=args.faults_per_day,
    )
    for device in fleet:
        draw = random.Random(f"{args.seed}/{device.device_id}/unfixable")
        for fault in plan[device.device_id]:
            broken = draw.random() < args.unfixable
            device.inject(dataclasses.replace(fault, duration_s=None, remote_fix=not broken))


def _carry_out(
    steps: list[Step], incidents: dict[int, Incident], deliveries: list[Delivery], due_s: float
) -> None:
    for step in steps:
        if isinstance(step, SendFix):
            attempt = step.attempt
            deliveries.append(
                Delivery(
                    due_s,
                    step.remediation.device_id,
                    attempt.command_id,
                    attempt.action,
                    dict(attempt.params),
                )
            )
        elif isinstance(step, Healed):
            incident = incidents[step.remediation.incident_id]
            incident.healed_at = step.attempt.check.last_sample_at if step.attempt.check else None
            incident.healed_by = step.attempt.action
        elif isinstance(step, Escalated):
            incidents[step.remediation.incident_id].escalated = True
        if isinstance(step, Healed | Escalated):
            attempts = step.remediation.attempts
            judged = [a for a in attempts if a.verified is not None]
            if judged:
                incidents[step.remediation.incident_id].first_fix_verified = judged[0].verified


@dataclass
class Scores:
    fixable: int = 0
    healed: int = 0
    verify_intervals: list[float] = field(default_factory=list)
    unfixable_found: int = 0
    unfixable_escalated: int = 0
    false_healed: int = 0
    q1: float = float("nan")
    q4: float = float("nan")
    ceiling_q4: float = float("nan")
    """The best first-fix share the last quarter's incidents allow: the simulator's success
    chance of the right fix for a remotely fixable fault, 0 for a broken part, 1 for an
    incident with no fault behind it."""


def score(outcome: Outcome, interval_s: float) -> Scores:
    scores = Scores()
    counted_until = outcome.end_s - SETTLE_S
    by_key: dict[tuple[str, str], list[Incident]] = {}
    for incident in outcome.incidents:
        by_key.setdefault((incident.device_id, incident.signature), []).append(incident)
    for device_id, window in outcome.faults:
        if window.start_s >= counted_until:
            continue
        matches = [
            i
            for i in by_key.get((device_id, window.signature), [])
            if i.opened_at >= window.start_s
        ]
        healed = next((i for i in matches if i.healed_at is not None), None)
        if window.fault.remote_fix:
            scores.fixable += 1
            healed_at = healed.healed_at if healed is not None else None
            ended = window.end_s
            if healed is not None and healed_at is not None and ended is not None:
                cured = ended <= healed_at  # the fault really ended before the verdict
                if cured:
                    scores.healed += 1
                    scores.verify_intervals.append((healed_at - healed.opened_at) / interval_s)
        else:
            if matches:
                scores.unfixable_found += 1
                scores.unfixable_escalated += any(i.escalated for i in matches)
        for incident in matches:
            if incident.healed_at is not None and (
                window.end_s is None or window.end_s > incident.healed_at
            ):
                scores.false_healed += 1
    judged = sorted(
        (i for i in outcome.incidents if i.first_fix_verified is not None),
        key=lambda i: i.opened_at,
    )
    quarter = max(1, len(judged) // 4)
    if judged:
        scores.q1 = statistics.fmean(bool(i.first_fix_verified) for i in judged[:quarter])
        scores.q4 = statistics.fmean(bool(i.first_fix_verified) for i in judged[-quarter:])
        windows: dict[tuple[str, str], list[FaultWindow]] = {}
        for device_id, window in outcome.faults:
            windows.setdefault((device_id, window.signature), []).append(window)
        scores.ceiling_q4 = statistics.fmean(
            _best_first_fix(windows.get((i.device_id, i.signature), []), i.opened_at)
            for i in judged[-quarter:]
        )
    return scores


def _best_first_fix(windows: Sequence[FaultWindow], at_s: float) -> float:
    """The chance that the right fix, sent first, is verified for an incident opened at
    ``at_s``: its remedy's success for a fault still on then, 0 for a broken part, and 1
    where no fault of the signature was on (healthy telemetry verifies any fix)."""
    on = [w for w in windows if w.start_s <= at_s and (w.end_s is None or w.end_s > at_s)]
    if not on:
        return 1.0
    fault = max(on, key=lambda w: w.start_s).fault
    return remedy_for(fault).success if fault.remote_fix else 0.0


class _Recording:
    """A device that counts every action it is made to run."""

    model = "heatpump-hp200"
    firmware = "1.0"

    def __init__(self) -> None:
        self.ran = 0

    def read_metrics(self) -> dict[str, float]:
        return {"t": 1.0}

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        self.ran += 1
        return ActionOutcome(True, "ok")

    def facts(self) -> dict[str, Scalar]:
        return {}


async def unsafe_executed(attacks: int, seed: int) -> int:
    """Attack one real agent's command path the ways the issue lists; count what ran."""
    logging.getLogger("aftercare.agent").setLevel(logging.ERROR)  # the attacks are expected
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        signer = CommandSigner.load_or_create(Path(folder) / "key.pem")
        attacker = CommandSigner.load_or_create(Path(folder) / "attacker.pem")
        clock = ManualClock(START_S)
        hal = _Recording()
        settings = AgentSettings(
            device_id="hp-1",
            outbox_path=":memory:",
            state_dir=Path(folder),
            command_key=signer.public_key_text,
        )
        agent = Agent(settings, hal, clock)
        topic = contract.topic("hp-1", Channel.COMMANDS)
        replayable = signer.issue("hp-1", "restart_firmware", now=START_S)
        await _deliver(agent, topic, replayable, retain=False)
        legitimate = hal.ran
        for n in range(attacks):
            kind = n % 6
            now = clock.now()
            if kind == 0:  # forged: another key
                message, retain = attacker.issue("hp-1", "restart_firmware", now=now), False
            elif kind == 1:  # tampered
                genuine = signer.issue("hp-1", "restart_firmware", now=now)
                text = genuine.command.replace("restart_firmware", "reset_radio_____")
                message, retain = genuine.model_copy(update={"command": text}), False
            elif kind == 2:  # replayed
                message, retain = replayable, False
            elif kind == 3:  # expired
                command = Command(
                    device_id="hp-1",
                    command_id=f"old-{n}",
                    action="restart_firmware",
                    issued_at=now - 3600,
                    expires_at=now - 60,
                    nonce=f"nonce-{rng.getrandbits(64):x}",
                )
                message, retain = signer.sign(command), False
            elif kind == 4:  # retained
                message, retain = signer.issue("hp-1", "restart_firmware", now=now), True
            else:  # stolen from another device and re-addressed
                stolen = signer.issue("hp-2", "restart_firmware", now=now)
                message, retain = stolen.model_copy(update={"device_id": "hp-1"}), False
            await _deliver(agent, topic, message, retain=retain)
            clock.advance(1.0)
        agent.outbox.close()
        return hal.ran - legitimate


async def _deliver(
    agent: Agent, topic: str, message: contract.SignedCommand, *, retain: bool
) -> None:
    payload = contract.encode(message)
    decoded = agent._accept(aiomqtt.Message(topic, payload, 1, retain, 1, None))
    if isinstance(decoded, contract.SignedCommand):
        await agent._commands.handle(decoded)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=90)
    parser.add_argument("--days", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=60.0, help="telemetry interval (s)")
    parser.add_argument("--faults-per-day", type=float, default=2.0, help="per device")
    parser.add_argument("--unfixable", type=float, default=0.1, help="share of broken parts")
    parser.add_argument("--warmup-hours", type=float, default=24.0)
    parser.add_argument("--command-delay", type=float, default=5.0, help="seconds to the device")
    parser.add_argument("--attacks", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    outcome = asyncio.run(simulate(args))
    scores = score(outcome, args.interval)
    unsafe = asyncio.run(unsafe_executed(args.attacks, args.seed))
    counted = scores.fixable + scores.unfixable_found
    print(
        f"faults counted: {scores.fixable} remotely fixable, {scores.unfixable_found} broken "
        f"parts found; incidents: {len(outcome.incidents)}; samples: {outcome.samples}",
        flush=True,
    )
    median = statistics.median(scores.verify_intervals) if scores.verify_intervals else float("nan")
    fields = {
        "healed_share": _ratio(scores.healed, scores.fixable),
        "median_verify_intervals": median,
        "first_fix_q1": scores.q1,
        "first_fix_q4": scores.q4,
        "escalated_unfixable": _ratio(scores.unfixable_escalated, scores.unfixable_found),
        "false_healed": scores.false_healed,
        "unsafe_executed": unsafe,
        "faults": counted,
        "seconds": round(time.perf_counter() - started, 1),
        "first_fix_ceiling_q4": scores.ceiling_q4,
    }
    print(" ".join(f"{k}={_fmt(v)}" for k, v in fields.items()))


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _fmt(value: float) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
