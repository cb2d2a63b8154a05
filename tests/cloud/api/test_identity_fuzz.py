"""Whatever an owner types as a claim code and whatever a manufacturer posts as a batch,
the API answers with a decision or a clear 422, never a 500."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.api.app import create_api
from cloud.db.repositories import Repositories, build_repositories, open_database
from cloud.settings import CloudSettings
from device_agent.clock import ManualClock
from device_agent.identity import CLAIM_CODE_ALPHABET
from firmware_sim.factory import generate_batch

HEALTHY = {"mqtt": True, "ingest": True, "scoring": True}
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def repos(database_url: str, tmp_path: Path) -> Iterator[Repositories]:
    """Limits high enough that random wrong codes are answered, not throttled."""
    config = CloudSettings(
        database_url=database_url,
        model_dir=str(tmp_path),
        claim_max_failures_per_owner=1_000_000,
        claim_max_failures_per_client=1_000_000,
    )
    with open_database(database_url) as engine:
        yield build_repositories(engine, config, ManualClock())


def _post(repos: Repositories, path: str, token: str, body: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_api(repos, lambda: HEALTHY))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                path,
                content=json.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )

    return asyncio.run(send())


typed_codes = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=CLAIM_CODE_ALPHABET + CLAIM_CODE_ALPHABET.lower() + " -_.0OIl", max_size=24),
)
json_values = st.recursive(  # Python's JSON, NaN and Infinity included: they must get a 422
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(code=st.one_of(typed_codes, json_values))
def test_any_claim_code_gets_an_answer_never_a_500(repos: Repositories, code: object) -> None:
    token = repos.tokens.issue("owner", owner_id="fuzzer")
    response = _post(repos, "/api/v1/claims", token, {"claim_code": code})
    assert response.status_code in (404, 422), response.text
    if response.status_code == 422:
        assert response.json()["detail"][0]["loc"][:2] == ["body", "claim_code"]


@FUZZ
@given(
    devices=st.lists(
        st.fixed_dictionaries(
            {"device_id": st.text(max_size=70), "device_secret": st.text(max_size=40)},
            optional={"claim_code": typed_codes, "extra": json_values},
        ),
        max_size=3,
    ),
    model=json_values,
)
def test_any_batch_body_is_imported_or_refused_clearly(
    repos: Repositories, devices: list[dict[str, object]], model: object
) -> None:
    token = repos.tokens.issue("service")
    response = _post(
        repos, "/api/v1/batches", token, {"model": model, "firmware": "1.0", "devices": devices}
    )
    assert response.status_code in (201, 409, 422), response.text
    valid = json.loads(generate_batch("heatpump-hp200", 1).to_json())
    assert _post(repos, "/api/v1/batches", token, valid).status_code == 201


def test_a_body_with_nan_or_infinity_gets_a_422_that_names_them(repos: Repositories) -> None:
    token = repos.tokens.issue("service")
    body = {"model": float("nan"), "firmware": float("inf"), "devices": []}
    response = _post(repos, "/api/v1/batches", token, body)
    assert response.status_code == 422, response.text
    echoed = {str(e.get("input")) for e in response.json()["detail"]}
    assert {"nan", "inf"} <= echoed, response.text
