"""A manufacturer's test harness: a broker, the cloud and a simulated fleet in one
process on one clock (:class:`LocalStack`, :class:`ThreadedStack` for synchronous code),
and the pytest plugin whose fixtures hand them to tests (``cloud.harness.pytest_plugin``).

Importing this package loads nothing heavy: the stacks are imported when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloud.harness.options import StackOptionError, StackOptions
from cloud.harness.waiting import ExpectationNotMet

if TYPE_CHECKING:
    from cloud.harness.stack import LocalStack
    from cloud.harness.threaded import ThreadedStack

__all__ = [
    "ExpectationNotMet",
    "LocalStack",
    "StackOptionError",
    "StackOptions",
    "ThreadedStack",
]


def __getattr__(name: str) -> Any:
    if name == "LocalStack":
        from cloud.harness.stack import LocalStack

        return LocalStack
    if name == "ThreadedStack":
        from cloud.harness.threaded import ThreadedStack

        return ThreadedStack
    raise AttributeError(f"module 'cloud.harness' has no attribute {name!r}")
