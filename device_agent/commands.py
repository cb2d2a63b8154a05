"""Running cloud commands on the device, each to exactly one reported terminal state.

Results go to ``report`` (the agent keeps them in its durable outbox until the cloud has
stored them), so a command finished while the link was down, or just before a restart,
is still reported. Commands run beside the MQTT session, not inside it, and a running
action is shielded from cancellation: pulling the network must not leave a fix
half-applied or unreported.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

from device_agent.clock import Clock
from device_agent.contract import Command, CommandResult, CommandState
from device_agent.hal import Hal, UnknownAction

log = logging.getLogger("aftercare.agent.commands")

_REMEMBERED_NONCES = 1024


class CommandRunner:
    """Validates, runs and reports commands for one device."""

    def __init__(
        self,
        device_id: str,
        hal: Hal,
        clock: Clock,
        timeout_s: float,
        report: Callable[[CommandResult], None],
    ) -> None:
        self.device_id = device_id
        self.hal = hal
        self.clock = clock
        self.timeout_s = timeout_s
        self.report = report
        self._seen_nonces: OrderedDict[str, None] = OrderedDict()

    async def handle(self, command: Command) -> CommandResult:
        """Run one command and hand its result to ``report``."""
        state, detail = await self._execute(command)
        result = CommandResult(
            device_id=self.device_id,
            command_id=command.command_id,
            state=state,
            ts=self.clock.now(),
            detail=detail[:256],
        )
        log.info(
            "device=%s command=%s action=%s state=%s",
            self.device_id,
            command.command_id,
            command.action,
            state,
        )
        self.report(result)
        return result

    async def _execute(self, command: Command) -> tuple[CommandState, str]:
        if command.nonce in self._seen_nonces:
            return "refused", "replayed nonce"
        self._seen_nonces[command.nonce] = None
        while len(self._seen_nonces) > _REMEMBERED_NONCES:
            self._seen_nonces.popitem(last=False)
        if command.expires_at <= self.clock.now():
            return "refused", "expired before it could run"
        action = asyncio.ensure_future(self.hal.run_action(command.action, command.params))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(action), self.timeout_s)
        except UnknownAction as exc:
            return "refused", f"unknown action: {exc}"
        except TimeoutError:
            action.cancel()
            return "timed_out", f"no outcome within {self.timeout_s:g} s"
        except Exception as exc:
            log.exception("device=%s command=%s failed", self.device_id, command.command_id)
            return "failed", f"{type(exc).__name__}: {exc}"
        return ("done" if outcome.ok else "failed"), outcome.detail
