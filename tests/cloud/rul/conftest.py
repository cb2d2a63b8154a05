"""One OpenMP thread for the tree ensembles: on a busy two-core machine, two threads
spin-wait on each other and fit several times slower."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield
