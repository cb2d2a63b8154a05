"""Plain words for owners: what a device's health means to the person who owns it (pure).

Owners never see signatures (``overheat/connector``) or detector names; they read one
sentence on how their device is, what happened lately and what, if anything, they are
asked to do. Time words ("on Tuesday") are left to the page, which knows the reader's
clock and language.
"""

from cloud.plain.health import (
    DeviceFacts,
    FixFacts,
    HealthState,
    HealthStory,
    IncidentFacts,
    OutreachFacts,
    SetupProblem,
    StoryEvent,
    health_story,
)
from cloud.plain.names import Problem, action_words, device_name, problem_of

__all__ = [
    "DeviceFacts",
    "FixFacts",
    "HealthState",
    "HealthStory",
    "IncidentFacts",
    "OutreachFacts",
    "Problem",
    "SetupProblem",
    "StoryEvent",
    "action_words",
    "device_name",
    "health_story",
    "problem_of",
]
