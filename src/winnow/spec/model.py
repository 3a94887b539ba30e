"""The spec document as pydantic models: the shape of the YAML a team writes.

Expressions are kept as source strings here; `winnow.spec.load` checks them with the
expression language and attaches the checked trees.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from winnow.spec.durations import parse_duration

if TYPE_CHECKING:
    from winnow.handoff.calendar import BusinessCalendar


def _duration_or_none(value: object) -> int | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "never")):
        return None
    return parse_duration(value)


Duration = Annotated[int, BeforeValidator(parse_duration)]
OptionalDuration = Annotated[int | None, BeforeValidator(_duration_or_none)]
Name = Annotated[str, Field(min_length=1, max_length=200)]

# Stages promoted by spec criteria; the others move by people or by facts.
CRITERIA_STAGES = ("mql", "sql", "pql", "csql")
METRIC_KINDS = ("count", "count_distinct", "sum", "max", "active_days", "longest_streak")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FitRule(_Model):
    name: Name
    when: str
    points: float


class Grades(_Model):
    A: float
    B: float
    C: float

    @model_validator(mode="after")
    def _descending(self) -> Grades:
        if not self.A >= self.B >= self.C:
            raise ValueError("grade thresholds must satisfy A >= B >= C")
        return self


class Fit(_Model):
    rules: list[FitRule] = []
    grades: Grades = Grades(A=50, B=30, C=10)


class EngagementRule(_Model):
    name: Name
    event: Name
    where: str | None = None
    points: float
    max: float | None = Field(default=None, gt=0)
    once_per: Duration | None = None
    # Unset: the engagement section's half_life; "none": this rule never decays.
    half_life: OptionalDuration = Field(default=0)


class Engagement(_Model):
    half_life: OptionalDuration = None
    rules: list[EngagementRule] = []

    def half_life_of(self, rule: EngagementRule) -> int | None:
        return self.half_life if rule.half_life == 0 else rule.half_life


class Metric(_Model):
    """One product-usage measure. Exactly one kind key is set.

    count / active_days / longest_streak take an event name (or "any");
    count_distinct / sum / max take a property path such as properties.count.
    """

    count: str | None = None
    count_distinct: str | None = None
    sum: str | None = None
    max: str | None = None
    active_days: str | None = None
    longest_streak: str | None = None
    event: str | None = None
    where: str | None = None
    within: Duration | None = None
    # person: this person's events; account: the events of everyone in the person's account.
    scope: Literal["person", "account"] = "person"

    @model_validator(mode="after")
    def _one_kind(self) -> Metric:
        kinds = [k for k in METRIC_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(
                f"a metric needs exactly one of {', '.join(METRIC_KINDS)} (found {found})"
            )
        if kinds[0] in ("count", "active_days", "longest_streak") and self.event is not None:
            raise ValueError(f"{kinds[0]} names its event itself; drop 'event'")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in METRIC_KINDS if getattr(self, k) is not None)

    @property
    def argument(self) -> str:
        value = getattr(self, self.kind)
        assert isinstance(value, str)
        return value

    @property
    def event_name(self) -> str | None:
        """The event this metric counts, or None for every event."""
        if self.kind in ("count", "active_days", "longest_streak"):
            return None if self.argument == "any" else self.argument
        return self.event


class AccountPeople(_Model):
    """How people's engagement rolls up to their account: the top N, summed or maxed."""

    top: int = Field(default=3, ge=1, le=1000)
    aggregate: Literal["sum", "max", "avg"] = "sum"


class Accounts(_Model):
    people: AccountPeople = AccountPeople()
    fit: list[FitRule] = []


class Stages(_Model):
    mql: str | None = None
    sql: str | None = None
    pql: str | None = None
    csql: str | None = None
    # An account whose plan is one of these makes its people customers.
    customer_plans: list[str] = ["paid"]


class Calendar(_Model):
    """When the sales team works: SLAs count these hours only."""

    timezone: str = "UTC"
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    ]
    hours: str = "09:00-17:00"
    # A country for public holidays ("JP", "US", "US-CA", "DE"), and dates closed besides.
    holidays: str | None = None
    closed: list[date] = []

    @model_validator(mode="after")
    def _valid(self) -> Calendar:
        self.business()  # raises ValueError naming the bad field
        return self

    def business(self) -> BusinessCalendar:
        from winnow.handoff.calendar import BusinessCalendar

        return BusinessCalendar(
            timezone=self.timezone,
            days=tuple(self.days),
            hours=self.hours,
            holidays=self.holidays,
            closed=tuple(self.closed),
        )


class Route(_Model):
    """An owner rule: who reviews the people it matches (`when` omitted: everyone)."""

    when: str | None = None
    owner: Name | None = None
    round_robin: list[Name] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Route:
        if (self.owner is None) == (self.round_robin is None):
            raise ValueError("an owner rule needs exactly one of owner, round_robin")
        return self


class HandRaise(_Model):
    """A signal that someone wants to talk to sales now: straight to the front of the queue."""

    name: Name
    when: str


class Handoff(_Model):
    # First matching rule wins; people no rule matches wait unassigned.
    owners: list[Route] = []
    # Business time to review someone after they enter a stage, per stage.
    sla: dict[Literal["mql", "pql", "sal", "sql", "csql"], Duration] = {}
    calendar: Calendar = Calendar()
    hand_raise: list[HandRaise] = []


class AccountSegment(_Model):
    """A segment of accounts: those with someone for whom `accounts` holds (written with
    account.* and account-scoped metrics, it holds for all of an account's people alike)."""

    accounts: str


class Factor(_Model):
    """One term of the predictive model: a condition and the log-odds it adds when it holds."""

    name: Name
    when: str
    weight: float


class PredictiveModel(_Model):
    """A logistic model over conditions, as `winnow learn train` writes it.

    p_convert = 1 / (1 + exp(-(intercept + the sum of the weights of the factors that hold))).
    Written as conditions of the spec language, it runs wherever the spec runs and its
    explanation is the list of factors that hold.
    """

    name: Name  # the trained artifact it came from, e.g. "customer-90d-20261201T1200"
    outcome: str | None = None  # what it predicts, e.g. "customer within 90 days"
    intercept: float
    factors: list[Factor] = []


class SpecDocument(_Model):
    version: Literal[1] = 1
    lists: dict[Name, list[str | int | float]] = {}
    fit: Fit = Fit()
    engagement: Engagement = Engagement()
    metrics: dict[Name, Metric] = {}
    accounts: Accounts = Accounts()
    stages: Stages = Stages()
    segments: dict[Name, str | AccountSegment] = {}
    handoff: Handoff = Handoff()
    model: PredictiveModel | None = None
