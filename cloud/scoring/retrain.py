"""Periodic retraining, as one long-running task the composition root starts."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from cloud.learning import Trainer
from device_agent.clock import Clock

__all__ = ["RETRAIN_CHECK_S", "retrain_forever"]

log = logging.getLogger("aftercare.learning")

RETRAIN_CHECK_S = 3600.0
"""How often to look for device models that are due; shorter than the retrain interval so
a new device model gets its first model within the hour once it has enough history."""


async def retrain_forever(
    trainer: Trainer,
    clock: Clock,
    interval_s: float,
    check_every_s: float = RETRAIN_CHECK_S,
) -> None:
    """Retrain each device model once its model is ``interval_s`` old, until cancelled.

    Training runs in a worker thread (it is CPU and database bound). A database outage
    fails one round, which is logged with its traceback and a running count of failed
    rounds; the next round tries again. Per-device-model failures are handled (and
    logged) by :meth:`Trainer.train_due` itself.
    """
    failed_rounds = 0
    while True:
        try:
            result = await asyncio.to_thread(trainer.train_due, interval_s)
            if result.reports or result.skipped:
                log.info(
                    "retrain round trained=%d skipped=%d",
                    len(result.reports),
                    len(result.skipped),
                )
        except SQLAlchemyError:
            failed_rounds += 1
            log.exception("retrain round failed failed_rounds=%d", failed_rounds)
        await clock.sleep(min(interval_s, check_every_s))
