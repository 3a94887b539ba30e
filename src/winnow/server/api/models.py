"""Request and response bodies of /api/v1, so the OpenAPI document says exactly what goes
over the wire. Built from the library's dataclasses with `from_attributes`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from winnow import lifecycle
from winnow.clock import from_db

# Text the store can hold: PostgreSQL refuses NUL characters in text.
STORABLE = r"^[^\x00]*$"

# An instant, always with its UTC offset on the wire (stored rows hold naive UTC).
Instant = Annotated[datetime, AfterValidator(from_db)]

Stage = Literal[
    "subscriber", "lead", "nurture", "mql", "pql", "sal", "sql",
    "opportunity", "customer", "csql", "disqualified",
]  # fmt: skip


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Error(Model):
    code: str
    message: str


class PersonSummary(Model):
    id: int = Field(validation_alias="person_id")
    user_id: str | None
    email: str | None
    name: str | None
    title: str | None
    company: str | None
    account_id: int | None
    stage: Stage
    fit: float | None
    grade: str | None
    engagement: float | None
    score: float | None
    scored_at: Instant | None
    updated_at: Instant


class PeoplePage(Model):
    data: list[PersonSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class FitPoints(Model):
    rule: str
    points: float


class EngagementPoints(Model):
    rule: str
    points: float
    matched: int = Field(description="Events the rule matched.")
    counted: int = Field(description="Events that counted, after once-per periods.")
    decay: float = Field(description="Points decay took off.")
    capped: float = Field(description="Points the cap took off.")


class Explanation(Model):
    fit: list[FitPoints]
    engagement: list[EngagementPoints]


class Score(Model):
    spec_version: int
    as_of: Instant
    fit: float
    grade: str
    engagement: float
    score: float
    explanation: Explanation
    metrics: dict[str, Any]
    criteria: dict[str, bool] = Field(description="Which stage criteria and segments held.")


class Move(Model):
    from_stage: str | None
    to_stage: str
    at: Instant
    cause: str = Field(description='"rule:stages.mql", "fact:account.plan" or "user:<who>".')
    reason: str | None
    details: dict[str, Any]
    fit: float | None
    engagement: float | None
    score: float | None
    grade: str | None

    @classmethod
    def of(cls, move: lifecycle.Move) -> Move:
        return cls.model_validate(
            {
                "from_stage": move.from_stage,
                "to_stage": move.to_stage,
                "at": move.at,
                "cause": move.cause,
                "reason": move.reason,
                "details": dict(move.details),
                **vars(move.snapshot),
            }
        )


class TimelineEvent(Model):
    name: str
    type: str
    timestamp: Instant
    properties: dict[str, Any]


class AccountRef(Model):
    id: int
    group_id: str
    name: str | None
    domain: str | None
    plan: str | None


class Person(Model):
    id: int
    user_id: str | None
    email: str | None
    name: str | None
    stage: Stage
    owner: str | None
    traits: dict[str, Any]
    account: AccountRef | None
    score: Score | None
    history: list[Move]
    events: list[TimelineEvent] = Field(description="The latest events, newest first.")


class Bant(Model):
    budget: str = Field(pattern=STORABLE)
    authority: str = Field(pattern=STORABLE)
    need: str = Field(pattern=STORABLE)
    timeline: str = Field(pattern=STORABLE)


class ActionRequest(Model):
    reason: str | None = Field(
        default=None, description="Needed to nurture, disqualify and mark lost.", pattern=STORABLE
    )
    bant: Bant | None = Field(default=None, description="Needed to qualify.")


class AccountSummary(Model):
    id: int = Field(validation_alias="account_id")
    group_id: str
    name: str | None
    domain: str | None
    plan: str | None
    people: int
    fit: float | None
    engagement: float | None
    score: float | None
    scored_at: Instant | None


class AccountsPage(Model):
    data: list[AccountSummary]
    next_cursor: str | None


class Account(AccountSummary):
    members: list[PersonSummary] = Field(description="Its people, best score first (up to 200).")


class SpecVersion(Model):
    version: int
    source: str
    created_at: Instant
    created_by: str
    note: str | None
    backtest_id: int | None = Field(
        default=None, description="The backtest report it was published with."
    )


class SpecSource(Model):
    source: str = Field(description="The spec, as YAML.", pattern=STORABLE)


class SpecPublish(SpecSource):
    note: str | None = Field(default=None, description="Why this version.", pattern=STORABLE)
    backtest_id: int | None = Field(
        default=None,
        description="A backtest of this exact source against the live version"
        " (POST /api/v1/spec/backtest); required when the server requires backtests.",
    )


class BacktestRequest(SpecSource):
    start: Instant | None = Field(
        default=None, alias="from", description="First week's end (default: 12 weeks before to)."
    )
    end: Instant | None = Field(default=None, alias="to", description="Last week's end (now).")


class BacktestStage(Model):
    stage: str
    per_week: list[int] = Field(description="People newly flagged each week after the first.")
    flagged: int
    precision_sql: float | None = Field(description="Share of them that reached sql after.")
    precision_customer: float | None = Field(description="Share that became customers after.")


class BacktestSpec(Model):
    label: str = Field(description="`candidate` or `live`.")
    stages: list[BacktestStage]
    customers: int = Field(description="People who became customers in the period.")
    caught: int = Field(description="Of them, flagged before they did.")
    recall: float | None
    median_days_early: float | None


class BacktestDifference(Model):
    person_id: int
    first: str | None = Field(description="The stage under the candidate spec.")
    second: str | None = Field(description="The stage under the live spec.")


class Backtest(Model):
    id: int = Field(description="Pass as backtest_id when publishing this source.")
    against_version: int | None = Field(description="The live version it was compared with.")
    start: Instant = Field(alias="from")
    end: Instant = Field(alias="to")
    weeks: list[Instant]
    specs: list[BacktestSpec]
    only_first: dict[str, int] = Field(description="Flagged by the candidate only, per stage.")
    only_second: dict[str, int] = Field(description="Flagged by the live spec only, per stage.")
    differing: int = Field(description="People in another stage at the end.")
    differences: list[BacktestDifference] = Field(description="Some of them.")


class SpecProblem(Model):
    path: str
    line: int | None
    column: int | None
    message: str
    suggestion: str | None


class SpecCheck(Model):
    valid: bool
    errors: list[SpecProblem]


class InvalidSpec(Error):
    errors: list[SpecProblem]


class Published(SpecVersion):
    scored: int = Field(description="People rescored with it.")
    moves: int = Field(description="Stage changes the rescore made.")


class Key(Model):
    id: int
    kind: Literal["write", "secret"]
    role: Literal["admin", "member", "read"] | None
    name: str
    prefix: str
    created_at: Instant
    created_by: str
    revoked_at: Instant | None


class KeyRequest(Model):
    kind: Literal["write", "secret"]
    name: str = Field(min_length=1, max_length=200, pattern=STORABLE)
    role: Literal["admin", "member", "read"] | None = Field(
        default=None, description="For secret keys; write keys have none."
    )


class NewKey(Key):
    token: str = Field(description="The key itself; shown this once, never again.")


class RejectedMessage(Model):
    id: int
    received_at: Instant
    source: str
    position: str | None
    reason: str
    payload: str = Field(description="The message as received.")


class RejectedPage(Model):
    data: list[RejectedMessage]
    next_cursor: str | None


class Workspace(Model):
    id: int
    slug: str
    name: str
    created_at: Instant


class WorkspaceRequest(Model):
    slug: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Lowercase letters, digits and '-', up to 63; unique on this server.",
    )
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=STORABLE)


class NewWorkspace(Model):
    workspace: Workspace
    key: NewKey = Field(description="An admin key of the new workspace; shown this once.")


class QueueItem(Model):
    review_id: int
    person: PersonSummary
    stage: Stage
    entered_at: Instant
    owner: str | None
    due_at: Instant | None = Field(description="The SLA deadline (business time), if any.")
    overdue: bool
    hand_raise: str | None = Field(description="The hand-raise that put them in front.")


class ReviewRequest(Model):
    outcome: Literal["ready", "nurture", "suspect"] = Field(
        description="ready: accept as SAL; nurture: back to nurture; suspect: disqualify."
    )
    reason: str = Field(min_length=1, max_length=2000, pattern=STORABLE)


class Owner(Model):
    owner: str
    open: int = Field(description="Reviews waiting for them.")
    overdue: int


class Endpoint(Model):
    id: int
    name: str
    kind: Literal["webhook", "slack"]
    url: str
    secret: str | None = Field(description="The signing secret (whsec_...), webhooks only.")
    previous_secret: str | None
    previous_until: Instant | None
    created_at: Instant
    created_by: str
    disabled_at: Instant | None
    disabled_reason: str | None


class EndpointRequest(Model):
    name: str = Field(min_length=1, max_length=200, pattern=STORABLE)
    kind: Literal["webhook", "slack"]
    url: str = Field(min_length=12, max_length=2000, pattern=r"^https?://[^\s\x00]+$")


class Rule(Model):
    id: int
    name: str
    happenings: list[str]
    endpoint_id: int
    created_at: Instant
    created_by: str


class RuleRequest(Model):
    name: str = Field(min_length=1, max_length=200, pattern=STORABLE)
    happenings: list[Annotated[str, Field(min_length=1, max_length=50, pattern=STORABLE)]] = Field(
        min_length=1, description='e.g. ["person.mql", "person.sql", "review.overdue"]'
    )
    endpoint_id: int = Field(ge=1, le=2**31 - 1)


class Attempt(Model):
    at: Instant
    status_code: int | None
    latency_ms: float
    response: str | None
    error: str | None


class Delivery(Model):
    id: int
    endpoint_id: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: Instant | None
    delivered_at: Instant | None
    last_status_code: int | None
    log: list[Attempt]


class Notification(Model):
    id: str = Field(description="The webhook-id: the same on every attempt and redelivery.")
    type: str
    person_id: int | None
    created_at: Instant
    payload: dict[str, Any]
    deliveries: list[Delivery]


class Replay(Model):
    since: Instant
    until: Instant
    endpoint_id: int | None = Field(default=None, ge=1, le=2**31 - 1)


class Redelivered(Model):
    redelivered: int = Field(description="Deliveries queued again.")
