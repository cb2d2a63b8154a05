"""Agent settings: defaults, then a TOML file, then ``AFTERCARE_*`` environment variables,
then explicit overrides (command-line flags), each beating the one before."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from device_agent.command_auth import load_public_key

ENV_PREFIX = "AFTERCARE_"


class SettingsError(ValueError):
    """A settings file or value that cannot be used; the message says which and why."""


class BrokerAddress(NamedTuple):
    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://host:port`` (plain, port 1883 by default) or ``mqtts://host:port`` (TLS,
    port 8883 by default). Credentials never travel in the URL: URLs get printed and
    logged, so usernames and passwords have settings of their own."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not parts.hostname:
        raise SettingsError(
            f"MQTT URL {url!r} must look like mqtt://host:port or mqtts://host:port"
        )
    if parts.username is not None or parts.password is not None:
        raise SettingsError(
            f"MQTT URL for {parts.hostname} carries credentials; set them as mqtt_username "
            "and mqtt_password instead (URLs are printed and logged)"
        )
    tls = parts.scheme in ("mqtts", "ssl")
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise SettingsError(f"MQTT URL {url!r} has a bad port: {exc}") from None
    return BrokerAddress(parts.hostname, port, tls)


def parse_mqtt_url(url: str) -> tuple[str, int]:
    """(host, port) of an MQTT URL; see :func:`parse_broker_url`."""
    address = parse_broker_url(url)
    return address.host, address.port


class AgentSettings(BaseSettings):
    """How one agent talks to the cloud and how it paces its telemetry."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    device_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    """``mqtt://host:port`` or ``mqtts://host:port`` (TLS); credentials never go in it."""
    tls_ca_file: Path | None = None
    """CA bundle that signed an ``mqtts://`` broker's certificate (the system's trust
    store when unset)."""
    mqtt_username: str | None = None
    """The device's own broker credentials, when set by hand. Usually unset: the agent
    provisions itself with ``device_secret`` and keeps what it gets in its state dir."""
    mqtt_password: str | None = None
    device_secret: str | None = Field(default=None, min_length=32, max_length=256)
    """The factory secret from the device's batch: with it and the bootstrap credential a
    factory-fresh device provisions itself on first start."""
    bootstrap_username: str | None = None
    """The broker credential every factory-fresh device shares; it reaches only the
    provisioning topics."""
    bootstrap_password: str | None = None
    provision_timeout_s: float = Field(default=15.0, gt=0)
    """How long one provisioning attempt waits for the cloud's challenge and answer."""
    telemetry_interval_s: float = Field(default=5.0, gt=0)
    flush_interval_s: float = Field(default=5.0, gt=0)
    batch_max_samples: int = Field(default=100, ge=1, le=500)
    state_dir: Path = Field(default_factory=lambda: default_state_dir())
    """Where the agent keeps what must survive a restart (its outbox)."""
    outbox_path: str | None = None
    """The outbox's SQLite file; ``state_dir/<device_id>/outbox.db`` by default.
    ``:memory:`` keeps it in memory (simulated fleets only: unsent data dies with it)."""
    outbox_max_samples: int = Field(default=100_000, ge=1)
    outbox_max_reports: int = Field(default=1000, ge=1)
    ack_timeout_s: float = Field(default=20.0, gt=0)
    reconnect_min_s: float = Field(default=0.5, gt=0)
    reconnect_max_s: float = Field(default=30.0, gt=0)
    keepalive_s: int = Field(default=30, ge=5)
    command_timeout_s: float = Field(default=60.0, gt=0)
    model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    """The product model reported to the cloud (selects profiles and playbooks)."""
    firmware: str = "unknown"
    metrics_command: str | None = None
    """A program that prints the current readings as one JSON object (name -> number)."""
    action_command: str | None = None
    """A program run as ``ACTION_COMMAND <action>`` with the parameters as JSON on stdin."""
    hal_timeout_s: float = Field(default=10.0, gt=0)
    watchdog: bool = True
    """Local self-heal: reset a dead link, restart hung sensors, thin a filling outbox."""
    watchdog_dead_link_s: float = Field(default=600.0, gt=0)
    """No cloud session for this long is a dead link (the radio is reset)."""
    watchdog_hung_reads: int = Field(default=5, ge=1)
    """Failed readings in a row that make the sensors hung (the firmware is restarted)."""
    watchdog_cooldown_s: float = Field(default=900.0, gt=0)
    """At most one firing per rule this often..."""
    watchdog_breaker_after: int = Field(default=3, ge=1)
    """...and after this many in a row without recovery, none until it recovers."""
    command_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+/]{43}=$")
    """The cloud's Ed25519 public key (base64 of its 32 raw bytes) that every command
    must be signed with. Set, it wins over the key provisioning delivers (an integrator
    who pins a key by hand means it); unset, the provisioned key is pinned; with
    neither the agent runs no command at all."""

    @field_validator("mqtt_url")
    @classmethod
    def _a_broker_url(cls, url: str) -> str:
        parse_broker_url(url)  # raises SettingsError (a ValueError) with the reason
        return url

    @field_validator("command_key")
    @classmethod
    def _a_real_key(cls, text: str | None) -> str | None:
        if text is not None:
            load_public_key(text)  # raises ValueError with the reason
        return text

    def resolved_outbox_path(self) -> Path | Literal[":memory:"]:
        if self.outbox_path == ":memory:":
            return ":memory:"
        if self.outbox_path:
            return Path(self.outbox_path)
        return self.state_dir / self.device_id / "outbox.db"


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/aftercare``, else ``~/.local/state/aftercare``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "aftercare"


def load_agent_settings(config_path: Path | None = None, **overrides: Any) -> AgentSettings:
    """Build settings from an optional TOML file, the environment and explicit overrides."""
    values: dict[str, Any] = {}
    if config_path is not None:
        try:
            values = tomllib.loads(config_path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read agent settings {config_path}: {exc}") from None
        unknown = set(values) - set(AgentSettings.model_fields)
        if unknown:
            raise SettingsError(f"{config_path}: unknown settings {sorted(unknown)}")
        values = {k: v for k, v in values.items() if ENV_PREFIX + k.upper() not in os.environ}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return AgentSettings(**values)
    except ValidationError as exc:
        raise SettingsError(describe_invalid(exc)) from None


def describe_invalid(exc: ValidationError) -> str:
    """One line naming each bad setting and where to set it."""
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        where = f"--{name.replace('_', '-')}, {ENV_PREFIX}{name.upper()} or {name} in --config"
        problems.append(f"{name}: {error['msg'].lower()} (set {where})")
    return "bad agent settings: " + "; ".join(problems)
