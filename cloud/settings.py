"""The cloud's settings, from ``AFTERCARE_*`` environment variables or flags."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from device_agent.settings import ENV_PREFIX


@dataclass(frozen=True)
class BrokerLogin:
    """How a cloud session authenticates to the broker: its identity, and for
    ``mqtts://`` the CA to trust (None: the system's). Empty for a broker without
    authentication."""

    username: str | None = None
    password: str | None = None
    tls_ca_file: str | None = None


class CloudSettings(BaseSettings):
    """Where the cloud finds its broker and database, and how it paces ingest."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    """``mqtt://host:port``, or ``mqtts://host:port`` for TLS (never credentials in it)."""
    mqtt_username: str | None = None
    """The cloud's broker identity (ingest, acknowledgements, commands, provisioning);
    unset for a broker without authentication, such as the embedded one."""
    mqtt_password: str | None = None
    mqtt_tls_ca_file: str | None = None
    """CA bundle for an ``mqtts://`` broker; the system's trust store when unset."""
    dynsec_admin_username: str | None = None
    """A Mosquitto dynamic-security admin client. Set (with the password), the cloud keeps
    the broker's roles in step, provisions factory-fresh devices and revokes a released
    device's broker client; unset, there is no provisioning."""
    dynsec_admin_password: str | None = None
    bootstrap_username: str | None = None
    """The factory-fresh devices' shared broker login; with a dynsec admin the cloud
    gives it the bootstrap role (as it gives its own identity the cloud role)."""
    provisioning: bool = False
    """Answer devices' provisioning handshakes even without a dynsec admin (on for the
    demo's embedded broker, which accepts any login: the handshake runs, nothing
    enforces its result). Always on when a dynsec admin is configured."""
    provisioning_client_id: str = "aftercare-provisioning"
    database_url: str = "sqlite:///aftercare.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    ingest_client_id: str = "aftercare-ingest-1"
    ingest_share_group: str = "aftercare-ingest"
    ingest_batch_max: int = Field(default=2000, ge=1)
    ingest_flush_s: float = Field(default=0.05, gt=0)
    ingest_queue_max: int = Field(default=100_000, ge=1)
    """Messages waiting between the network thread and the writer, at most..."""
    ingest_buffer_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    """...and at most this many payload bytes; beyond either, ingest applies back-pressure."""
    ingest_stall_s: float = Field(default=60.0, gt=0)
    """/healthz reports ingest stalled when messages wait this long with nothing written."""
    scoring_queue_max: int = Field(default=10_000, ge=1)
    """Stored batches waiting for the scoring worker; beyond it, ingest waits."""
    device_state_idle_s: float = Field(default=7 * 86_400.0, gt=0)
    """Per-device scoring state is dropped after this long without a sample (clock time)."""
    checkpoint_interval_s: float = Field(default=300.0, gt=0)
    """How often (real seconds) scored devices' detector state is saved to the database."""
    max_future_skew_s: float = Field(default=86_400.0, ge=0)
    registered_devices_only: bool = False
    """Accept telemetry, status, events and results only from device ids imported from a
    factory batch; others are counted and dropped, never stored. Mosquitto with dynamic
    security already keeps unknown devices out; this also holds on a broker without
    logins (the embedded one)."""
    db_retry_max_s: float = Field(default=10.0, gt=0)
    model_dir: str = "models"
    command_key_path: str = "command_key.pem"
    """The Ed25519 key commands are signed with; created (mode 0600) on first start."""
    self_healing: bool = True
    """Send playbook fixes for new incidents and verify them (off: incidents only)."""
    playbook_dir: str | None = None
    """Folder of playbook YAML files; the bundled playbooks when unset."""
    retrain_interval_s: float = Field(default=86_400.0, gt=0)
    train_window_s: float = Field(default=7 * 86_400.0, gt=0)
    train_min_span_s: float = Field(default=86_400.0, ge=0)
    train_max_samples: int = Field(default=200_000, ge=1)
    owner_token_ttl_s: float = Field(default=3600.0, gt=0)
    """How long an owner's sign-in token (``POST /api/v1/auth/token``) stays valid."""
    claim_failure_window_s: float = Field(default=900.0, gt=0)
    """The sliding window over which wrong claim codes are counted..."""
    claim_max_failures_per_owner: int = Field(default=5, ge=1)
    """...and how many one account may make in it before claims answer 429..."""
    claim_max_failures_per_client: int = Field(default=20, ge=1)
    """...and how many one client address may make, across accounts."""
    support_diagnostics_timeout_s: float = Field(default=120.0, gt=0)
    """How long (clock time) a support request waits for its device's bundle before the
    cloud's own summary is attached instead."""
    support_first_response_s: float = Field(default=4 * 3600.0, gt=0)
    """Service-level target for a first response to a support request (clock time)..."""
    support_resolution_s: float = Field(default=3 * 86_400.0, gt=0)
    """...and for its resolution; a request late for either escalates."""
    support_sla_by_category: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """Per category (first_response_s, resolution_s), e.g.
    ``{"not_working": [3600, 86400]}`` as JSON in ``AFTERCARE_SUPPORT_SLA_BY_CATEGORY``."""
    support_summary_window_s: float = Field(default=86_400.0, gt=0)
    """How much recent telemetry the cloud's own summary of a silent device covers."""
    support_poll_s: float = Field(default=1.0, gt=0)
    """How often (real seconds) the support worker checks diagnostics and SLA clocks."""

    smtp_url: str | None = None
    """Outreach email: ``smtp://host:port`` or ``smtps://user:password@host:port``; unset,
    email is not sent (owners are reached in-app and by webhook)."""
    smtp_from: str = "Aftercare <aftercare@localhost>"
    outreach_poll_s: float = Field(default=1.0, gt=0)
    """How often (real seconds) the delivery worker plans new items and sends due ones."""
    outreach_link_base: str = "http://127.0.0.1:8080"
    """Where owners open an item (``{base}/#outreach/{id}``), in emails and webhooks."""
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    delivery_max_attempts: int = Field(default=6, ge=1, le=50)
    """A delivery that failed this many times is given up, its last error kept."""
    delivery_backoff_s: float = Field(default=30.0, gt=0)
    """The first retry's delay; each further retry waits twice as long (at most a day)."""
    delivery_lease_s: float = Field(default=300.0, gt=0)
    """How long a claimed delivery is held before another process may take it over."""
    outreach_dedupe_window_s: float = Field(default=7 * 86_400.0, ge=0)
    """A closed item's device and reason are not raised again for this long."""
    outreach_expire_after_s: float = Field(default=30 * 86_400.0, gt=0)
    """A delivered item nobody answered expires after this long."""
    planning_poll_s: float = Field(default=5.0, gt=0)
    """How often (real seconds) the planner reads what happened and makes outreach items."""
    live_poll_s: float = Field(default=1.0, gt=0)
    """How often (real seconds) the pages' live updates read the database's changes, while
    a page listens."""
    outreach_lead_time_s: float = Field(default=7 * 86_400.0, gt=0)
    """Owners hear of a part predicted to fail at least this long before it may fail..."""
    outreach_arrange_s: float = Field(default=3 * 86_400.0, ge=0)
    """...plus this long to arrange a visit."""
    feedback_delay_s: float = Field(default=3600.0, ge=0)
    """A fix or visit is asked about once it has had this long to hold."""
    rul_period_s: float = Field(default=3600.0, gt=0)
    """Wear features are summarised per period of this length (device time)."""
    rul_interval_s: float = Field(default=3600.0, gt=0)
    """How often every device with a wear model is forecast (clock time)."""
    rul_window_s: float = Field(default=30 * 86_400.0, gt=0)
    """How much recent history a forecast (and a training run) reads."""
    rul_retrain_s: float = Field(default=86_400.0, gt=0)
    rul_min_runs: int = Field(default=8, ge=2)
    """Run-to-failure histories a model needs before it forecasts anything."""
    rul_quick_search: bool = False
    """Fit wear models with one candidate per setting instead of the cross-validated
    search (seconds instead of minutes: the demo)."""

    influx_url: str = ""
    """An InfluxDB v2 write API (``http://host:8086``) that telemetry, incident changes
    and fix outcomes are mirrored to; empty (the default), nothing is exported. Export
    never slows ingest: while InfluxDB is down, points are dropped and counted."""
    influx_token: str = ""
    influx_org: str = "aftercare"
    influx_bucket: str = "aftercare"

    @property
    def broker_login(self) -> BrokerLogin:
        """The login every cloud session to the broker uses."""
        return BrokerLogin(self.mqtt_username, self.mqtt_password, self.mqtt_tls_ca_file)

    @property
    def dynsec_admin(self) -> BrokerLogin | None:
        """The dynamic-security admin login, when provisioning is configured."""
        if self.dynsec_admin_username is None or self.dynsec_admin_password is None:
            return None
        return BrokerLogin(
            self.dynsec_admin_username, self.dynsec_admin_password, self.mqtt_tls_ca_file
        )
