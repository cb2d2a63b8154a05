"""Tables of the cloud's state and telemetry store.

Times are float seconds since the Unix epoch (UTC) throughout: one unit on the wire, in
the database and in the core, converted to ISO 8601 only at the HTTP edge.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

devices = Table(
    "devices",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("model", String(256)),
    Column("firmware", String(256)),
    Column("online", Boolean, nullable=False, default=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("dropped_total", BigInteger, nullable=False, default=0),
)

device_owners = Table(
    "device_owners",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("owner_id", String(128), nullable=False, index=True),
    Column("claimed_at", Float),
)
"""Who owns a device: the one link every owner-scoped query joins (a claim writes it, a
release deletes it). ``claimed_at`` is null for links made before claims existed."""

device_tags = Table(
    "device_tags",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("tag", String(64), primary_key=True, index=True),
)
"""Labels the service team gives devices (a site, a batch of suspect parts, a pilot
group): what campaigns pick cohorts by beyond model and firmware."""

samples = Table(
    "samples",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False),
    Column("metrics", JSON, nullable=False),
    Index("ix_samples_device_ts", "device_id", "ts"),
)

events = Table(
    "events",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("ts", Float, nullable=False),
    Column("detail", JSON, nullable=False),
    Index("ix_events_kind", "kind"),
)

command_results = Table(
    "command_results",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("command_id", String(64), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("ts", Float, nullable=False),
    Column("detail", Text, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", Float, nullable=False, index=True),
    Column("topic", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("payload_size", Integer, nullable=False),
    Column("payload_excerpt", Text, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("owner_id", String(128)),
    Column("label", String(128), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
)
"""Bearer tokens by digest; ``expires_at`` is null for tokens that never expire (service
tokens and those the command line issues), set for owners' sign-in tokens."""

factory_devices = Table(
    "factory_devices",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("model", String(256), nullable=False),
    Column("firmware", String(256), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("claim_code_sha256", String(64), nullable=False, unique=True),
    Column("credentials_version", Integer, nullable=False),
    Column("imported_at", Float, nullable=False),
    Column("rotated_at", Float),
)
"""The factory registry: every device a manufacturing batch made, with digests of its
secret and claim code (never the plaintext). Whether a device is known is a primary-key
lookup; which device a claim code opens is a unique-index lookup. ``credentials_version``
counts secret rotations (1 as shipped), for the broker side to provision against."""

owners = Table(
    "owners",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)
"""Owner accounts; ``email_key`` is the lower-cased email, so uniqueness ignores case on
every database; ``password_hash`` is an argon2id hash string."""

claim_failures = Table(
    "claim_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner_id", String(128), nullable=False),
    Column("client", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_claim_failures_owner_at", "owner_id", "at"),
    Index("ix_claim_failures_client_at", "client", "at"),
    Index("ix_claim_failures_at", "at"),
)
"""Wrong claim codes per account and client address, counted in the database so that
several API processes throttle guessing together; rows older than the window are pruned."""

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("model", String(256)),
    Column("signature", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("evidence_since", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("peak_score", Float, nullable=False),
    Column("explanation", JSON, nullable=False),
    Column("verdict", String(16)),
    Column("verdict_at", Float),
    Column("verdict_note", Text),
    Column("escalation", Text),
    Index("ix_incidents_device_signature_status", "device_id", "signature", "status"),
    Index("ix_incidents_status_opened", "status", "opened_at"),
)

detector_tunings = Table(
    "detector_tunings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("min_score", Float, nullable=False),
    Column("muted_detector", String(32)),
    Column("incident_id", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_detector_tunings_device_signature", "device_id", "signature"),
)
"""What service verdicts taught detection: a false positive raises the score a device's
signature needs to open an incident again, or mutes the detector that fired."""

device_checkpoints = Table(
    "device_checkpoints",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("saved_at", Float, nullable=False),
    Column("state", LargeBinary, nullable=False),
)
"""Each device's detector and tracker state (compressed JSON, never pickle), so a restart
or a move to another scoring worker does not make its detectors learn again."""

ml_models = Table(
    "ml_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_model", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("trained_at", Float, nullable=False),
    Column("n_samples", Integer, nullable=False),
    Column("n_devices", Integer, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("thresholds", JSON, nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Index("ix_ml_models_device_model_version", "device_model", "version", unique=True),
)

fix_attempts = Table(
    "fix_attempts",
    metadata,
    Column("command_id", String(64), primary_key=True),
    Column("incident_id", Integer, nullable=False),
    Column("number", Integer, nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("params", JSON, nullable=False),
    Column("sent_at", Float, nullable=False),
    Column("result_state", String(16)),
    Column("result_at", Float),
    Column("detail", Text, nullable=False),
    Column("verified", Boolean),
    Column("evidence_from", Float),
    Column("evidence_to", Float),
    Index("ix_fix_attempts_incident", "incident_id", "number"),
)
"""Every fix sent for an incident, with the device's word and the telemetry's verdict."""

fix_records = Table(
    "fix_records",
    metadata,
    Column("model", String(256), primary_key=True),
    Column("signature", String(128), primary_key=True),
    Column("action", String(64), primary_key=True),
    Column("successes", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
)
"""Verified outcomes per (model, signature, fix): what the fleet has learned works."""

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("spec", JSON, nullable=False),
    Column("cohort", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)
"""A fix pushed to a cohort in batches; ``spec`` holds the action and the rollout rules."""

campaign_targets = Table(
    "campaign_targets",
    metadata,
    Column("campaign_id", Integer, primary_key=True),
    Column("device_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("batch", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("command_id", String(64)),
    Column("sent_at", Float),
    Column("result_state", String(16)),
    Column("detail", Text, nullable=False),
)

setup_completions = Table(
    "setup_completions",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("step", String(64), primary_key=True),
    Column("owner_id", String(128), nullable=False),
    Column("completed_at", Float, nullable=False),
)
"""Setup steps an owner ticked (their device's own checks tick themselves, from
``events``); deleted when the device is released."""

support_items = Table(
    "support_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("step", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("resolved_at", Float),
    Index("ix_support_items_device_step", "device_id", "step"),
    Index(
        "ux_support_items_open",
        "device_id",
        "step",
        unique=True,
        postgresql_where=text("resolved_at IS NULL"),
        sqlite_where=text("resolved_at IS NULL"),
    ),
)
"""A setup step that failed or stalled past its ``support_after_s``: the service team
reaches out (outreach reads these). At most one open item per (device, step)."""

outreach_items = Table(
    "outreach_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False),
    Column("owner_id", String(128)),
    Column("kind", String(32), nullable=False),
    Column("dedupe_key", String(256), nullable=False),
    Column("reason", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("urgency", String(16), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("predicted_failure_at", Float),
    Column("lead_time_s", Float),
    Column("slots", JSON, nullable=False),
    Column("incident_id", Integer),
    Column("support_request_id", Integer),
    Column("created_at", Float, nullable=False),
    Column("status", String(16), nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("plan_after", Float),
    Column("delivered_at", Float),
    Column("closed_at", Float),
    Column("booked_start", Float),
    Column("booked_end", Float),
    Column("note", Text, nullable=False),
    Index("ix_outreach_items_owner_status", "owner_id", "status"),
    Index("ix_outreach_items_plan_after", "plan_after"),
    Index("ix_outreach_items_dedupe", "dedupe_key", "closed_at"),
    Index(
        "ux_outreach_items_open",
        "dedupe_key",
        unique=True,
        postgresql_where=text("closed_at IS NULL"),
        sqlite_where=text("closed_at IS NULL"),
    ),
)
"""Outreach items, one open per ``dedupe_key`` (device and reason). ``plan_after`` is set
while the item waits for the delivery worker to plan it (new, or snoozed until then)."""

outreach_deliveries = Table(
    "outreach_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("item_id", Integer, nullable=False, index=True),
    Column("owner_id", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("critical", Boolean, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", Text),
    Column("lease_owner", String(128)),
    Column("lease_until", Float),
    Column("sent_at", Float),
    Column("created_at", Float, nullable=False),
    Index("ix_outreach_deliveries_state_next", "state", "next_attempt_at"),
    Index("ix_outreach_deliveries_owner", "owner_id", "critical", "state"),
)
"""The delivery due-queue: a row per (item, channel) send, claimed under a lease."""

outreach_responses = Table(
    "outreach_responses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, nullable=False, index=True),
    Column("owner_id", String(128), nullable=False),
    Column("response", String(16), nullable=False),
    Column("channel", String(16)),
    Column("at", Float, nullable=False),
    Column("slot_start", Float),
    Column("slot_end", Float),
    Column("until", Float),
    Column("rating", Integer),
    Column("text", Text),
    Index("ix_outreach_responses_owner_at", "owner_id", "at"),
)

outreach_outcomes = Table(
    "outreach_outcomes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", Integer, nullable=False, index=True),
    Column("outcome", String(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("at", Float, nullable=False),
)
"""What happened at a service visit (or why there was none), as the service team says."""

owner_preferences = Table(
    "owner_preferences",
    metadata,
    Column("owner_id", String(128), primary_key=True),
    Column("preferences", JSON, nullable=False),
    Column("webhook_secret", String(128)),
    Column("updated_at", Float, nullable=False),
)
"""Owners' contact terms (``OwnerPreferences`` as JSON) and the secret their webhook
deliveries are signed with (made by the server when a webhook URL is set)."""

diagnostic_bundles = Table(
    "diagnostic_bundles",
    metadata,
    Column("device_id", String(64), primary_key=True),
    Column("bundle_id", String(64), primary_key=True),
    Column("request_id", String(64), nullable=False, index=True),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("bundle", JSON, nullable=False),
)
"""Support bundles as devices sent them, redacted on the device and again by ingest."""

support_requests = Table(
    "support_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(64), nullable=False, index=True),
    Column("owner_id", String(128)),
    Column("filed_by", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("first_response_due", Float, nullable=False),
    Column("resolution_due", Float, nullable=False),
    Column("first_response_at", Float),
    Column("resolved_at", Float),
    Column("resolution", Text),
    Column("escalated_at", Float),
    Column("escalation", Text),
    Column("command_id", String(64)),
    Column("command_sent_at", Float),
    Column("bundle_id", String(64)),
    Column("cloud_summary", JSON),
    Column("diagnostics_note", Text),
    Column("diagnostics_at", Float),
    Index("ix_support_requests_status_created", "status", "created_at"),
)
"""Owners' support requests with their diagnostics (a device bundle, or the cloud's own
summary when the device was offline or silent) and their SLA clocks."""

support_replies = Table(
    "support_replies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("author", String(16), nullable=False),
    Column("text", Text, nullable=False),
)
"""What the service team answered a request, in order; the first sets its first response."""

planner_marks = Table(
    "planner_marks",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("at", Float, nullable=False),
)
"""How far the outreach planner has read each source (escalations, verified fixes...)."""

sim_runs = Table(
    "sim_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scenario", String(128), nullable=False),
    Column("scenario_file", String(256), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False, index=True),
    Column("recorded_at", Float, nullable=False, index=True),
    Column("speed", Float, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("devices", Integer, nullable=False),
    Column("models", JSON, nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("expectations", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    Column("reported_by", String(128), nullable=False),
)
"""Simulation runs manufacturers recorded (``aftercare sim run --api``), with each
expectation's outcome in words; ``recorded_at`` is the cloud's clock when it was stored
(the live updates read by it: a run's own times are the reporter's)."""
