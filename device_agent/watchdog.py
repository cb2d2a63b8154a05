"""Local self-heal: what a device fixes on its own, with no cloud.

A device whose link is dead cannot be sent a fix, so a few symptoms are handled on the
device itself: a link that stays dead (reset the radio), sensors that keep failing to
read (restart the hung component), storage that fills up (rotate it). Each rule is
rate-limited (at most one firing per ``cooldown_s``) and has a circuit breaker: after
``breaker_after`` firings in a row without the symptom going away, it stops firing until
the symptom clears by itself, so a fix that does not work is never looped. Every firing
and every breaker change is reported as an event, kept durably until the link is back.

Pure: the agent measures the symptoms and carries out the firings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Firing", "RuleState", "Watchdog", "WatchdogRule"]


@dataclass(frozen=True)
class WatchdogRule:
    name: str
    action: str
    """The HAL action to run, or ``rotate_outbox`` for the agent's own storage."""
    cooldown_s: float = 900.0
    breaker_after: int = 3


@dataclass(frozen=True)
class Firing:
    """What the agent should do and report now. ``action`` is None for a report only."""

    rule: str
    action: str | None
    event: str
    detail: dict[str, str | int | float | bool] = field(default_factory=dict)


@dataclass
class RuleState:
    in_a_row: int = 0
    last_fired_s: float = float("-inf")
    breaker_open: bool = False


class Watchdog:
    """Decides, from the symptoms present now, which rules fire."""

    def __init__(self, rules: tuple[WatchdogRule, ...]) -> None:
        self.rules = rules
        self.state = {rule.name: RuleState() for rule in rules}

    def check(self, now_s: float, symptoms: Mapping[str, bool]) -> list[Firing]:
        firings = []
        for rule in self.rules:
            state = self.state[rule.name]
            if not symptoms.get(rule.name, False):
                if state.in_a_row or state.breaker_open:
                    firings.append(
                        Firing(rule.name, None, "self_heal.recovered", {"after": state.in_a_row})
                    )
                self.state[rule.name] = RuleState()
                continue
            if state.breaker_open or now_s - state.last_fired_s < rule.cooldown_s:
                continue
            if state.in_a_row >= rule.breaker_after:
                state.breaker_open = True
                detail: dict[str, str | int | float | bool] = {
                    "action": rule.action,
                    "tried": state.in_a_row,
                }
                firings.append(Firing(rule.name, None, "self_heal.breaker_open", detail))
                continue
            state.in_a_row += 1
            state.last_fired_s = now_s
            detail = {"action": rule.action, "in_a_row": state.in_a_row}
            firings.append(Firing(rule.name, rule.action, f"self_heal.{rule.name}", detail))
        return firings
