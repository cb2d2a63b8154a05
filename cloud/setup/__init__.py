"""Guided setup, pure: checklists as data per model, each device's setup state computed
from its self-check events and its owner's ticks, and the fleet's activation funnel."""

from cloud.setup.checklist import (
    BUNDLED_CHECKLISTS,
    Checklist,
    ChecklistError,
    Checklists,
    Step,
    load_checklist,
)
from cloud.setup.funnel import Funnel, StepCount, funnel
from cloud.setup.state import (
    FACTS_EVENT,
    SELF_CHECK_EVENT,
    CheckResult,
    SetupEvent,
    SetupState,
    StepState,
    check_results,
    setup_state,
)

__all__ = [
    "BUNDLED_CHECKLISTS",
    "FACTS_EVENT",
    "SELF_CHECK_EVENT",
    "CheckResult",
    "Checklist",
    "ChecklistError",
    "Checklists",
    "Funnel",
    "SetupEvent",
    "SetupState",
    "Step",
    "StepCount",
    "StepState",
    "check_results",
    "funnel",
    "load_checklist",
    "setup_state",
]
