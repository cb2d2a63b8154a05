"""Running cloud commands on the device, each to exactly one reported terminal state.

Nothing runs before :class:`~device_agent.command_auth.CommandAuthenticator` has opened
the signed command; a refused one is reported as ``refused`` with the reason.

Results go to ``report`` (the agent keeps them in its durable outbox until the cloud has
stored them), so a command finished while the link was down, or just before a restart,
is still reported. Commands run beside the MQTT session, not inside it, and a running
action is shielded from cancellation: pulling the network must not leave a fix
half-applied or unreported.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from device_agent.clock import Clock
from device_agent.command_auth import CommandAuthenticator, CommandRefused
from device_agent.contract import Command, CommandResult, CommandState, Scalar, SignedCommand
from device_agent.hal import ActionOutcome, Hal, UnknownAction

LocalAction = Callable[[Mapping[str, Scalar]], ActionOutcome]
"""An action the agent carries out itself rather than the HAL (collecting diagnostics):
quick and synchronous, run once the command is authenticated like any other."""

log = logging.getLogger("aftercare.agent.commands")


class CommandRunner:
    """Validates, runs and reports commands for one device."""

    def __init__(
        self,
        device_id: str,
        hal: Hal,
        clock: Clock,
        timeout_s: float,
        report: Callable[[CommandResult], None],
        authenticator: CommandAuthenticator,
        report_attempt: Callable[[str, str], None],
        after_action: Callable[[str], None] | None = None,
        local_actions: Mapping[str, LocalAction] | None = None,
    ) -> None:
        self.device_id = device_id
        self.hal = hal
        self.clock = clock
        self.timeout_s = timeout_s
        self.report = report
        self.authenticator = authenticator
        self.report_attempt = report_attempt
        """(command id, reason) of a message refused as not authentic: an event."""
        self.after_action = after_action
        """Called with the action's name after it ran to ``done`` (a reset re-checks)."""
        self.local_actions = dict(local_actions or {})

    async def handle(self, signed: SignedCommand) -> CommandResult | None:
        """Check, run and report one command (its result goes to ``report``). A message
        that is not an authentic command has no result: it goes to ``report_attempt``."""
        action = "-"
        try:
            command = self.authenticator.open(signed)
        except CommandRefused as exc:
            if not exc.authentic:
                log.warning(
                    "device=%s command=%s refused: %s",
                    self.device_id,
                    signed.command_id,
                    exc.reason,
                )
                self.report_attempt(signed.command_id, exc.reason)
                return None
            state: CommandState = "refused"
            detail = exc.reason
        else:
            action = command.action
            state, detail = await self._execute(command)
            if state == "done" and self.after_action is not None:
                self.after_action(action)
        result = CommandResult(
            device_id=self.device_id,
            command_id=signed.command_id,
            state=state,
            ts=self.clock.now(),
            detail=detail[:256],
        )
        log.info(
            "device=%s command=%s action=%s state=%s detail=%s",
            self.device_id,
            signed.command_id,
            action,
            state,
            detail[:80],
        )
        self.report(result)
        return result

    async def _execute(self, command: Command) -> tuple[CommandState, str]:
        local = self.local_actions.get(command.action)
        if local is not None:
            try:
                outcome = local(command.params)
            except Exception as exc:
                log.exception("device=%s command=%s failed", self.device_id, command.command_id)
                return "failed", f"{type(exc).__name__}: {exc}"
            return ("done" if outcome.ok else "failed"), outcome.detail
        action = asyncio.ensure_future(self.hal.run_action(command.action, command.params))
        try:
            async with asyncio.timeout(self.timeout_s):  # not wait_for: see cancellation.py
                outcome = await asyncio.shield(action)
        except UnknownAction as exc:
            return "refused", f"unknown action: {exc}"
        except TimeoutError:
            action.cancel()
            return "timed_out", f"no outcome within {self.timeout_s:g} s"
        except Exception as exc:
            log.exception("device=%s command=%s failed", self.device_id, command.command_id)
            return "failed", f"{type(exc).__name__}: {exc}"
        return ("done" if outcome.ok else "failed"), outcome.detail
