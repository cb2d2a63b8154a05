"""The agent's counters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AgentStats:
    """Counters a product can report or a test can assert on."""

    samples_taken: int = 0
    sample_errors: int = 0
    last_sample_error: str = ""
    batches_sent: int = 0
    resends: int = 0
    connects: int = 0
    commands_handled: int = 0
    local_heals: int = 0
    """Watchdog actions run on the device itself (dead link, hung sensors, full outbox)."""
    refused_commands: int = 0
    """Command messages refused as not authentic (reported as ``command.refused`` events)."""
    session_errors: int = 0
    refused_messages: int = 0
    """Messages from the broker the agent did not act on: invalid, retained, or
    acknowledging what it never sent."""
    setup_report_errors: int = 0
    """Setup facts or self-check results the wire refused (a name it does not allow)."""
    event_report_errors: int = 0
    """Events the device noticed on its own (``ReportsEvents``) that the wire refused."""
