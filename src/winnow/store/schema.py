"""The store's tables, as SQLAlchemy Core. The same schema runs on SQLite and PostgreSQL.

Timestamps are stored as naive UTC with whole-second precision: SQLite has no time zone
type, and the engine's decay and window arithmetic works on epoch seconds, so every
backend must see exactly the same instants.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# On SQLite, instants are text; without a fractional part they compare correctly with the
# literals the engine's queries use ("2026-05-01 12:00:00").
Timestamp = sa.DateTime().with_variant(
    SQLITE_DATETIME(  # type: ignore[no-untyped-call]
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)

# JSON documents: JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
Json = sa.JSON().with_variant(JSONB(), "postgresql")


def _workspace_fk() -> sa.Column[int]:
    return sa.Column(
        "workspace_id",
        sa.Integer,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    )


workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

spec_versions = sa.Table(
    "spec_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    # The backtest it was published with (required when the server says so).
    sa.Column("backtest_id", sa.Integer, nullable=True),
    sa.UniqueConstraint("workspace_id", "version"),
)

# What a spec would have done on history (winnow.learn.backtest), kept so that
# publishing can require one for the exact source against the live version.
backtests = sa.Table(
    "backtests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("spec_sha", sa.String(64), nullable=False),
    sa.Column("against_version", sa.Integer, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("report", Json, nullable=False),
    sa.Index("ix_backtests_workspace_spec", "workspace_id", "spec_sha"),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("group_id", sa.String(200), nullable=False),
    sa.Column("name", sa.String(300), nullable=True),
    sa.Column("domain", sa.String(300), nullable=True),
    # free / trial / paid: the fact that makes people customers when it becomes "paid".
    sa.Column("plan", sa.String(50), nullable=True),
    sa.Column("traits", Json, nullable=False, default=dict),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("workspace_id", "group_id"),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("email_domain", sa.String(255), nullable=True),
    sa.Column(
        "account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True
    ),
    sa.Column("traits", Json, nullable=False, default=dict),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("stage_changed_at", Timestamp, nullable=False),
    # Set when a person is sent back to nurture: engagement counts afresh from here.
    sa.Column("recycled_at", Timestamp, nullable=True),
    sa.Column("owner", sa.String(320), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("workspace_id", "user_id"),
    sa.Index("ix_people_workspace_email", "workspace_id", "email"),
    sa.Index("ix_people_workspace_account", "workspace_id", "account_id"),
    sa.Index("ix_people_workspace_stage", "workspace_id", "stage"),
)

# Anonymous ids (and former user ids after an alias) that resolve to a person.
identities = sa.Table(
    "identities",
    metadata,
    _workspace_fk(),
    sa.Column("anonymous_id", sa.String(200), nullable=False),
    sa.Column(
        "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
    ),
    sa.PrimaryKeyConstraint("workspace_id", "anonymous_id"),
    sa.Index("ix_identities_person", "person_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    _workspace_fk(),
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column(
        "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
    ),
    # identify / track / page / screen / group / alias
    sa.Column("type", sa.String(20), nullable=False),
    # The event name: `event` for track, "Page Viewed"/"Screen Viewed" for page/screen.
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("properties", Json, nullable=False, default=dict),
    sa.Column("context", Json, nullable=False, default=dict),
    sa.Column("timestamp", Timestamp, nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.UniqueConstraint("workspace_id", "message_id"),
    sa.Index("ix_events_workspace_person_ts", "workspace_id", "person_id", "timestamp"),
)

scores = sa.Table(
    "scores",
    metadata,
    _workspace_fk(),
    sa.Column(
        "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("spec_version", sa.Integer, nullable=False),
    sa.Column("as_of", Timestamp, nullable=False),
    sa.Column("fit", sa.Float, nullable=False),
    sa.Column("grade", sa.String(1), nullable=False),
    sa.Column("engagement", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("metrics", Json, nullable=False, default=dict),
    sa.Column("explanation", Json, nullable=False, default=dict),
    # Which stage criteria held at as_of, e.g. {"mql": true, "sql": false}.
    sa.Column("criteria", Json, nullable=False, default=dict),
    sa.PrimaryKeyConstraint("workspace_id", "person_id"),
    sa.Index("ix_scores_workspace_score", "workspace_id", "score"),
)

account_scores = sa.Table(
    "account_scores",
    metadata,
    _workspace_fk(),
    sa.Column(
        "account_id", sa.Integer, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("spec_version", sa.Integer, nullable=False),
    sa.Column("as_of", Timestamp, nullable=False),
    sa.Column("fit", sa.Float, nullable=False),
    sa.Column("engagement", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("people", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("workspace_id", "account_id"),
)

stage_history = sa.Table(
    "stage_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column(
        "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("from_stage", sa.String(20), nullable=True),
    sa.Column("to_stage", sa.String(20), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
    # "rule:stages.mql", "fact:account.plan", or "user:<who>".
    sa.Column("cause", sa.String(300), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    # BANT fields for a SQL, lost reason, and any other structured detail of the move.
    sa.Column("details", Json, nullable=False, default=dict),
    sa.Column("fit", sa.Float, nullable=True),
    sa.Column("engagement", sa.Float, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("grade", sa.String(1), nullable=True),
    sa.Index("ix_stage_history_workspace_person", "workspace_id", "person_id", "at"),
    sa.Index("ix_stage_history_workspace_at", "workspace_id", "at"),
)

# Messages and rows that could not be accepted, kept verbatim with the reason.
rejected_messages = sa.Table(
    "rejected_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("position", sa.String(100), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Index("ix_rejected_messages_workspace_received", "workspace_id", "received_at"),
)

# API keys. Only a hash of the secret is kept; `prefix` (the first characters, shown in
# lists) finds the row. kind "write": ingestion only; kind "secret": the REST API with a
# role (admin, member, read).
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("role", sa.String(10), nullable=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(20), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
)

# People whose events arrived since they were last scored. Ingestion adds them in the
# same transaction as the events; scorers lease, score and remove them.
scoring_queue = sa.Table(
    "scoring_queue",
    metadata,
    _workspace_fk(),
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("queued_at", Timestamp, nullable=False),
    # A scorer has these people until then (see winnow.store.queue).
    sa.Column("claimed_until", Timestamp, nullable=True),
    # Events arrived while they were claimed: score them again.
    sa.Column("dirty", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.PrimaryKeyConstraint("workspace_id", "person_id"),
    sa.Index("ix_scoring_queue_queued", "queued_at"),
)

# -- the handoff to sales -------------------------------------------------------------------

# A person's time in a stage someone must act on: the review queue (mql, pql) and any
# stage with an SLA. Opened when they enter the stage, closed when they leave it, with
# the outcome of the review ("ready", "nurture", "suspect") or "advanced" for any other
# way out (qualified straight to SQL, became a customer...).
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column(
        "person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("entered_at", Timestamp, nullable=False),
    sa.Column("owner", sa.String(200), nullable=True),
    # The SLA's deadline, in business time from entered_at; null when the stage has none.
    sa.Column("due_at", Timestamp, nullable=True),
    # The first hand-raise that holds (its name), and when it was seen.
    sa.Column("hand_raise", sa.String(200), nullable=True),
    sa.Column("raised_at", Timestamp, nullable=True),
    # When the SLA breach was noticed (and notified).
    sa.Column("breached_at", Timestamp, nullable=True),
    sa.Column("closed_at", Timestamp, nullable=True),
    sa.Column("outcome", sa.String(20), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("reviewer", sa.String(200), nullable=True),
    sa.Index("ix_reviews_workspace_person", "workspace_id", "person_id"),
    sa.Index("ix_reviews_workspace_closed_due", "workspace_id", "closed_at", "due_at"),
)

# Where each round-robin owner rule is in its rotation.
owner_rotation = sa.Table(
    "owner_rotation",
    metadata,
    _workspace_fk(),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("workspace_id", "rule"),
)

# -- notifications -----------------------------------------------------------------------------

# Where notifications go: a generic webhook (signed, Standard Webhooks) or a Slack incoming
# webhook. During a secret rotation the previous secret signs too, until previous_until.
endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.String(200), nullable=True),
    sa.Column("previous_secret", sa.String(200), nullable=True),
    sa.Column("previous_until", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("disabled_at", Timestamp, nullable=True),
    sa.Column("disabled_reason", sa.Text, nullable=True),
)

# Which happenings ("person.mql", "person.*", "review.overdue") go to which endpoint.
notification_rules = sa.Table(
    "notification_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("happenings", Json, nullable=False),
    sa.Column(
        "endpoint_id", sa.Integer, sa.ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

# The outbox: one row per happening, written in the transaction that made it happen.
notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # "msg_...": the webhook-id, the same on every attempt and redelivery.
    sa.Column("message_id", sa.String(40), nullable=False, unique=True),
    _workspace_fk(),
    sa.Column("type", sa.String(50), nullable=False),
    sa.Column("person_id", sa.Integer, nullable=True),
    sa.Column("payload", Json, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index("ix_notifications_workspace_created", "workspace_id", "created_at"),
)

# One notification to one endpoint, until it is delivered or given up.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column(
        "notification_id",
        sa.Integer,
        sa.ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "endpoint_id", sa.Integer, sa.ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False
    ),
    # pending, delivered, failed (gave up or endpoint disabled)
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    # A dispatcher is sending it until then; after, another may take it over.
    sa.Column("leased_until", Timestamp, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("notification_id", "endpoint_id"),
    sa.Index("ix_deliveries_status_next", "status", "next_attempt_at"),
)

# Every attempt to deliver, with what the endpoint answered.
delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column(
        "delivery_id",
        sa.Integer,
        sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("response", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_delivery_attempts_delivery", "delivery_id"),
)

# -- the dashboard -----------------------------------------------------------------------------

# People who sign in to the dashboard, with a role as API keys have (admin, member, read).
# The password is kept as a salted scrypt hash (winnow.store.users).
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _workspace_fk(),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("language", sa.String(10), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("disabled_at", Timestamp, nullable=True),
)

# Signed-in sessions. Only a hash of the cookie's token is kept; each has its CSRF token.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
)
