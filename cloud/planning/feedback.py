"""The owner's word as a second verification signal: a low rating of a fix the telemetry
verified reopens its incident and counts against that fix in what self-healing learns.

Called by the outreach store after an answer is committed (a response listener), on the
API's thread; the remediation worker takes the dispute through its own queue.
"""

from __future__ import annotations

import logging

from cloud.db.incidents import IncidentStore
from cloud.db.outreach import OutreachItem
from cloud.db.remediation import RemediationStore
from cloud.heal.worker import RemediationWorker
from cloud.outreach.responses import Answer

log = logging.getLogger("aftercare.planning.feedback")

LOW_RATING = 2
"""Ratings at or below this say the fix did not hold (1-5 scale)."""


class FixFeedback:
    """``store.response_listeners.append(FixFeedback(...))``."""

    def __init__(
        self,
        incidents: IncidentStore,
        remediation_store: RemediationStore,
        remediation: RemediationWorker | None,
    ) -> None:
        self.incidents = incidents
        self.remediation_store = remediation_store
        self.remediation = remediation

    def __call__(self, item: OutreachItem, answer: Answer) -> None:
        if item.kind != "feedback_question" or item.incident_id is None:
            return
        if answer.response != "rate" or answer.rating is None or answer.rating > LOW_RATING:
            return
        incident = self.incidents.get(item.incident_id)
        if incident is None:
            return
        said = f": {answer.text}" if answer.text else ""
        reason = f"reopened: the owner rated the fix {answer.rating}/5{said}"
        log.info("incident=%s disputed by its owner (rating %s)", incident.id, answer.rating)
        if self.remediation is not None:
            self.remediation.owner_disputed(
                incident.id, incident.model or "", incident.signature, reason
            )
        else:
            self.remediation_store.reopen(incident.id, answer.at, reason)
