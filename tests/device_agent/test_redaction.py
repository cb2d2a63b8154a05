"""Redaction keeps secrets and personal data out of support bundles, leaves everything
else readable, and is idempotent; property tests plant secrets in arbitrary shapes."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_agent.redaction import (
    is_location_key,
    is_personal_key,
    is_secret_key,
    redact,
    redact_mapping,
    redact_text,
)


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "mqtt_password",
        "wifiPSK",
        "wifi_psk",
        "api_key",
        "apiKey",
        "cloud_api_key",
        "device_secret",
        "access_token",
        "claim_code",
        "Credentials",
        "private_key",
        "pin",
    ],
)
def test_names_that_look_secret_are_secret(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize(
    "name",
    ["telemetry_interval_s", "keepalive_s", "model", "firmware", "signature", "hostname", "ssid"],
)
def test_ordinary_names_are_not_secret_or_personal(name: str) -> None:
    assert not is_secret_key(name)
    assert not is_personal_key(name)
    assert not is_location_key(name)


def test_values_are_withheld_by_their_names_and_locations_coarsened() -> None:
    redacted = redact_mapping(
        {
            "wifi_psk": "hunter2",
            "pin": 1234,
            "installer_email": "x",
            "owner_phone": "y",
            "site_latitude": 52.520008,
            "gps": "52.52,13.40",
            "flow_setpoint_c": 45.0,
            "eco_mode": True,
        }
    )
    assert redacted.value == {
        "wifi_psk": "[redacted:secret]",
        "pin": "[redacted:secret]",
        "installer_email": "[redacted:personal]",
        "owner_phone": "[redacted:personal]",
        "site_latitude": 52.5,
        "gps": "[redacted:location]",
        "flow_setpoint_c": 45.0,
        "eco_mode": True,
    }
    assert redacted.count == 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe+x@example.co.uk now", "mail [redacted:email] now"),
        ("call +44 20 7946 0958 or (555) 123-4567", "call [redacted:phone] or [redacted:phone]"),
        ("mqtts://dev-1:s3cret@broker:8883", "mqtts://[redacted:secret]@broker:8883"),
        ("retry password=abc123, then", "retry password=[redacted:secret], then"),
        ('api_key: "k-99"', "api_key: [redacted:secret]"),
        ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: [redacted:secret]"),
        ("at 52.520008, 13.404954 today", "at [redacted:location] today"),
        ("key Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWpr end", "key [redacted:secret] end"),
    ],
)
def test_free_text_loses_what_it_must(text: str, expected: str) -> None:
    assert redact_text(text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "read_metrics failed: TimeoutError: sensor bus",
        "seq 1700000000.5 after 300.0000 s at -12.5 dBm",
        "/var/lib/aftercare/heatpump-hp200-00001/outbox.db",
        "command=cmd-0123456789abcdef state=done",
    ],
)
def test_ordinary_log_lines_are_left_alone(text: str) -> None:
    assert redact_text(text) == (text, 0)


_secret = st.text(string.ascii_letters + string.digits + "!#%&*", min_size=6, max_size=30)
_email = st.builds(
    "{}@{}.{}".format,
    st.text(string.ascii_lowercase + string.digits + "._", min_size=1, max_size=12).filter(
        lambda s: s[0].isalnum()
    ),
    st.text(string.ascii_lowercase, min_size=2, max_size=10),
    st.sampled_from(["com", "org", "example", "co.uk"]),
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(string.ascii_lowercase + "_", max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(secret=_secret, email=_email, noise=_json, depth=st.integers(0, 3))
def test_planted_secrets_and_addresses_never_survive(
    secret: str, email: str, noise: object, depth: int
) -> None:
    planted: dict[str, object] = {
        "wifi_psk": secret,
        "note": f"contact {email} please",
        "other": noise,
    }
    for _ in range(depth):
        planted = {"nested": planted, "list": [planted]}
    text = repr(redact(planted).value)  # type: ignore[arg-type]
    assert secret not in text or secret in repr(noise)
    assert email not in text


@given(_json)
def test_redaction_is_idempotent(value: object) -> None:
    once = redact(value)  # type: ignore[arg-type]
    twice = redact(once.value)
    assert twice.value == once.value
    assert twice.count == 0


@pytest.mark.parametrize(
    "line",
    [
        "broker refused login password=hunter2-secret",
        "connecting to mqtt://device:s3cr3t-pass@broker.example:8883",
        "config api_key: 'abc123XYZ' token=deadbeefcafe",
    ],
)
def test_a_redacted_credential_is_not_counted_again(line: str) -> None:
    """The cloud redacts a bundle again and reads a count above zero as the device having
    let something through, so a marker that only re-matches a rule must count nothing."""
    once, found = redact_text(line)
    assert found >= 1
    assert redact_text(once) == (once, 0)
