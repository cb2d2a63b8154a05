"""API tokens: issued at random, kept only as digests, and safe to paste on a command line."""

from __future__ import annotations

from cloud.db.engine import migrate, open_engine
from cloud.db.tokens import TokenStore
from device_agent.clock import ManualClock

T0 = 1_780_000_000.0


def test_no_token_starts_with_a_dash_that_a_command_line_reads_as_an_option(
    database_url: str,
) -> None:
    """About one URL-safe token in 64 would: among 400, almost surely one (a
    manufacturer's ``aftercare sim run --token T`` then failed with "expected one
    argument")."""
    engine = open_engine(database_url)
    migrate(engine)
    store = TokenStore(engine, ManualClock(T0))
    tokens = [store.issue("manufacturer", label=f"lab {n}") for n in range(400)]
    assert not [t for t in tokens if t.startswith("-")]
    assert len(set(tokens)) == 400
    principal = store.principal_for(tokens[7])
    assert principal is not None
    assert principal.role == "manufacturer"
