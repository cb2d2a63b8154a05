"""What a simulated device is configured with: the settings an installer made, including
the kind of values a real product holds and must never share (its Wi-Fi key, a cloud
API key, the installer's e-mail and phone, the exact site), so support bundles are
tested against realistic secrets. Deterministic per device and seed."""

from __future__ import annotations

import random

from device_agent.contract import Scalar


def installed_config(device_id: str, model: str, rng: random.Random) -> dict[str, Scalar]:
    """The configuration a device leaves the installer with."""
    token = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return {
        "wifi_ssid": f"site-{device_id[-5:]}",
        "wifi_psk": f"psk-{token[:16]}",
        "cloud_api_key": f"ak_{token}",
        "installer_email": f"installer{rng.randint(1, 999)}@example.com",
        "installer_phone": f"+44 20 7946 {rng.randint(0, 9999):04d}",
        "site_latitude": round(rng.uniform(48.0, 56.0), 6),
        "site_longitude": round(rng.uniform(-3.0, 14.0), 6),
        "model": model,
        "telemetry_units": "metric",
        "eco_mode": rng.random() < 0.5,
    }
