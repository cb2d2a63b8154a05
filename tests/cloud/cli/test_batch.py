"""``aftercare sim batch`` and ``aftercare cloud batch import`` as a manufacturer runs them:
the file the factory writes is what the cloud imports, whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from cloud.api.app import create_api
from cloud.cli import main
from cloud.db.repositories import build_repositories, open_database
from cloud.settings import CloudSettings
from device_agent.clock import SystemClock


async def test_a_batch_made_by_the_factory_is_imported_and_claimed(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    batch_file = tmp_path / "batch.json"
    args = ["sim", "batch", "--model", "evcharger-ec11", "--count", "4", "--out", str(batch_file)]
    assert main(args) == 0
    assert "wrote 4 evcharger-ec11 devices" in capsys.readouterr().out
    assert main(args) == 2
    assert "never overwritten" in capsys.readouterr().err

    import_args = ["cloud", "batch", "import", str(batch_file), "--database-url", database_url]
    assert main(import_args) == 0
    assert "imported 4 evcharger-ec11 devices" in capsys.readouterr().out
    assert main(import_args) == 2
    assert "already registered" in capsys.readouterr().err

    devices = json.loads(batch_file.read_text())["devices"]
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        repos = build_repositories(engine, settings, SystemClock())
        assert all(repos.factory.is_known(d["device_id"]) for d in devices)
        assert repos.factory.verify_device_secret(
            devices[0]["device_id"], devices[0]["device_secret"]
        )
        repos.owners.create("owner@example.com", "a long password")
        signed_in = repos.owners.sign_in("OWNER@example.com", "a long password")
        assert signed_in is not None
        transport = httpx.ASGITransport(app=create_api(repos, dict))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            claimed = await client.post(
                "/api/v1/claims",
                json={"claim_code": devices[2]["claim_code"]},
                headers={"Authorization": f"Bearer {signed_in.token}"},
            )
    assert claimed.status_code == 201
    assert claimed.json()["device_id"] == devices[2]["device_id"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            lambda b: b["devices"][1].update(claim_code="ABCD"),
            "devices[1].claim_code: a claim code has 16",
        ),
        (lambda b: b["devices"][0].update(device_secret="short"), "devices[0].device_secret"),
        (lambda b: b["devices"].append(dict(b["devices"][0])), "appears twice"),
        (lambda b: b.pop("model"), "model: Field required"),
    ],
)
def test_a_bad_batch_file_is_refused_whole_with_a_clear_message(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str], edit, expected: str
) -> None:
    made = tmp_path / "made.json"
    assert (
        main(["sim", "batch", "--model", "heatpump-hp200", "--count", "2", "--out", str(made)]) == 0
    )
    body = json.loads(made.read_text())
    edit(body)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(body))
    capsys.readouterr()
    assert main(["cloud", "batch", "import", str(broken), "--database-url", database_url]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"aftercare: error: {broken}: not a valid batch file: ")
    assert expected in error
    settings = CloudSettings(database_url=database_url, model_dir=str(tmp_path))
    with open_database(database_url) as engine:
        factory = build_repositories(engine, settings, SystemClock()).factory
        assert not any(factory.is_known(d["device_id"]) for d in body["devices"])
