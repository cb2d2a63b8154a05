"""The ``aftercare`` pytest plugin (entry point ``pytest11``): fixtures that start a
broker, the cloud and a simulated fleet for one test, so a manufacturer writes
``def test_overheat_is_healed(aftercare_fleet): ...`` in their own repository.

Loaded by every pytest run once aftercare is installed, so it only declares: the stack
is imported and started when a test asks for a fixture, never at import.

Options, from the closest ``@pytest.mark.aftercare(...)`` and then an indirect
parameter (``@pytest.mark.parametrize("aftercare_fleet", [{"devices": 2}], indirect=True)``),
are the fields of :class:`cloud.harness.options.StackOptions`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import pytest

from cloud.harness.options import StackOptions

if TYPE_CHECKING:
    from cloud.harness.threaded import ThreadedStack

MARKER = (
    "aftercare(devices=4, models=None, speed=60.0, seed=1, telemetry_interval_s=60.0, "
    "fault_rate_per_device_day=0.0, broker='embedded', database_url=None): options of the "
    "aftercare_fleet / aftercare_cloud stack (simulated devices, their models, device time "
    "per real second, the fleet's seed, ...)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def _options(request: pytest.FixtureRequest, base: StackOptions) -> StackOptions:
    marker = request.node.get_closest_marker("aftercare")
    options = base.updated(marker.kwargs) if marker is not None else base
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, Mapping):
            raise pytest.UsageError(
                f"an indirect aftercare parameter must be a dict of options, not {param!r}"
            )
        options = options.updated(param)
    return options


def _running(options: StackOptions) -> Iterator[ThreadedStack]:
    from cloud.harness.threaded import ThreadedStack

    with ThreadedStack(options) as stack:
        yield stack


@pytest.fixture
def aftercare_fleet(request: pytest.FixtureRequest) -> Iterator[ThreadedStack]:
    """A running broker, cloud and simulated fleet (4 devices of every model at 60x by
    default), stopped after the test. Its helpers block: ``inject``, ``incidents``,
    ``wait_for_incident``, ``wait_for_verified_fix``, ``device_time``, ``get``."""
    yield from _running(_options(request, StackOptions()))


@pytest.fixture
def aftercare_cloud(request: pytest.FixtureRequest) -> Iterator[ThreadedStack]:
    """A running broker and cloud without simulated devices (unless the marker asks for
    some): for tests that bring their own agents or call the API."""
    yield from _running(_options(request, StackOptions(devices=0)))
