"""A HAL made of two programs the product already has, for products that do not embed
the agent in Python: one prints the current readings as JSON, the other carries out an
action. This is the HAL behind ``aftercare agent run``.

Protocol of the programs:

* ``metrics_command`` prints one JSON object, metric name -> number, and exits 0;
* ``action_command <action>`` gets the action's parameters as a JSON object on stdin.
  Exit 0 means done, :data:`EXIT_UNKNOWN_ACTION` means the device has no such action,
  anything else failed; the last line printed is the detail reported to the cloud.
"""

from __future__ import annotations

import asyncio
import json
import math
import shlex
import subprocess
from collections.abc import Mapping

from device_agent.contract import Scalar
from device_agent.hal import ActionOutcome, UnknownAction
from device_agent.settings import AgentSettings, SettingsError

EXIT_UNKNOWN_ACTION = 3


class HalCommandError(RuntimeError):
    """A HAL program failed or printed something unusable; the message says which."""


class CommandHal:
    """Reads metrics and runs actions through the configured programs."""

    def __init__(
        self,
        model: str,
        firmware: str,
        metrics_command: list[str],
        action_command: list[str] | None,
        timeout_s: float,
    ) -> None:
        self._model = model
        self._firmware = firmware
        self.metrics_command = metrics_command
        self.action_command = action_command
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> CommandHal:
        """Raises SettingsError naming what is missing."""
        if not settings.metrics_command:
            raise SettingsError(
                "no HAL: set metrics_command (and action_command) in --config or "
                "AFTERCARE_METRICS_COMMAND, or try the agent with --simulate MODEL"
            )
        if not settings.model:
            raise SettingsError("set model (the product model) in --config or AFTERCARE_MODEL")
        action = shlex.split(settings.action_command) if settings.action_command else None
        return cls(
            settings.model,
            settings.firmware,
            shlex.split(settings.metrics_command),
            action,
            settings.hal_timeout_s,
        )

    @property
    def model(self) -> str:
        return self._model

    @property
    def firmware(self) -> str:
        return self._firmware

    def read_metrics(self) -> dict[str, float]:
        """Runs the metrics program (blocking, at most ``timeout_s``)."""
        try:
            done = subprocess.run(
                self.metrics_command,
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise HalCommandError(f"metrics command failed: {exc}") from None
        if done.returncode != 0:
            raise HalCommandError(
                f"metrics command exited {done.returncode}: {_last_line(done.stderr)}"
            )
        return parse_metrics(done.stdout)

    async def run_action(self, action: str, params: Mapping[str, Scalar]) -> ActionOutcome:
        if self.action_command is None:
            raise UnknownAction(f"{action} (no action_command is configured)")
        process = await asyncio.create_subprocess_exec(
            *self.action_command,
            action,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await process.communicate(json.dumps(dict(params)).encode())
        except asyncio.CancelledError:
            process.kill()
            raise
        if process.returncode == EXIT_UNKNOWN_ACTION:
            raise UnknownAction(action)
        return ActionOutcome(ok=process.returncode == 0, detail=_last_line(output))

    def facts(self) -> dict[str, Scalar]:
        return {"model": self._model, "firmware": self._firmware}


def parse_metrics(output: bytes) -> dict[str, float]:
    """The metrics program's output as readings; raises HalCommandError saying why not."""
    try:
        decoded = json.loads(output)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HalCommandError(f"metrics command printed no JSON object: {exc}") from None
    if not isinstance(decoded, dict):
        raise HalCommandError("metrics command must print a JSON object of name -> number")
    readings: dict[str, float] = {}
    for name, value in decoded.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise HalCommandError(f"metric {name!r} is not a number: {value!r}")
        if not math.isfinite(value):
            raise HalCommandError(f"metric {name!r} is not finite")
        readings[str(name)] = float(value)
    return readings


def _last_line(output: bytes) -> str:
    lines = output.decode("utf-8", errors="replace").strip().splitlines()
    return lines[-1][:256] if lines else ""
