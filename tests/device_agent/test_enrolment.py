"""Broker URLs (plain and TLS), and where a provisioned agent keeps its credentials."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from device_agent.enrolment import CredentialStore, tls_parameters
from device_agent.provisioning import IssuedCredentials
from device_agent.settings import (
    AgentSettings,
    BrokerAddress,
    SettingsError,
    load_agent_settings,
    parse_broker_url,
)

ISSUED = IssuedCredentials(
    mqtt_username="dev-1",
    mqtt_password="p" * 32,
    command_key=base64.b64encode(bytes(32)).decode(),
    credentials_version=2,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.example", BrokerAddress("broker.example", 1883, False)),
        ("mqtt://10.0.0.1:1999", BrokerAddress("10.0.0.1", 1999, False)),
        ("mqtts://broker.example", BrokerAddress("broker.example", 8883, True)),
        ("mqtts://broker.example:9883", BrokerAddress("broker.example", 9883, True)),
        ("ssl://broker.example", BrokerAddress("broker.example", 8883, True)),
    ],
)
def test_broker_urls(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://broker.example", "must look like"),
        ("mqtts://", "must look like"),
        ("mqtt://broker.example:99999", "bad port"),
        ("mqtts://dev:secret@broker.example", "carries credentials"),
    ],
)
def test_bad_broker_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(SettingsError, match=reason):
        parse_broker_url(url)
    with pytest.raises(SettingsError, match="mqtt_url"):
        load_agent_settings(device_id="dev-1", mqtt_url=url)


def test_tls_is_used_for_mqtts_only(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    settings = AgentSettings(device_id="dev-1", tls_ca_file=ca)
    assert tls_parameters(settings, parse_broker_url("mqtt://b")) is None
    params = tls_parameters(settings, parse_broker_url("mqtts://b"))
    assert params is not None
    assert params.ca_certs == str(ca)


def test_credentials_are_kept_readable_by_the_agent_only(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "dev-1" / "outbox.db")
    assert store.load() is None
    store.save(ISSUED)
    assert store.path is not None
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert CredentialStore(tmp_path / "dev-1" / "outbox.db").load() == ISSUED
    store.path.write_text("{not json")
    assert store.load() is None  # unusable: provision again
    store.clear()
    assert not store.path.exists()


def test_an_in_memory_agent_keeps_credentials_in_memory() -> None:
    store = CredentialStore(":memory:")
    store.save(ISSUED)
    assert store.path is None
    assert store.load() == ISSUED
    store.clear()
    assert store.load() is None


def test_a_short_device_secret_is_refused() -> None:
    with pytest.raises(SettingsError, match="device_secret"):
        load_agent_settings(device_id="dev-1", device_secret="short")
