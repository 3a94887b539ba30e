"""The demo world: six months of Lumen, an analytics product sold with a 21-day trial.

`build_world` draws, from one seed, what the product's tracking would have sent
(Segment-style identify, group, page and track messages) and what its sales team would
decide about each lead. People arrive anonymously, read the blog, the docs and the
pricing page, identify themselves through a form, open newsletters, attend webinars and
ask for demos, at rates that follow their hidden intent. Companies start trials; a trial
team connects data sources, invites teammates, runs queries and saves dashboards, then
pays or lets the trial expire. Planted: trials that connect two or more data sources and
invite three or more teammates convert several times as often (the "aha moment" the
spec's PQL criterion looks for). A few broken messages are mixed in, as real tracking
plans produce them, so the rejected-messages log has something to show.

The world knows nothing of any spec: which leads become MQLs is for the spec to decide.
Sales decisions are therefore drawn for everyone and applied by `winnow.demo.build`
only to the leads that reach sales.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from winnow.clock import utcnow
from winnow.demo.population import Company, Resident, make_companies, make_residents

DAY = timedelta(days=1)
TRIAL_DAYS = 21
DATA_SOURCES = ("postgres", "snowflake", "bigquery", "stripe", "hubspot", "salesforce", "mysql")
BLOG_POSTS = (
    "/blog/metrics-that-matter", "/blog/sql-for-marketers", "/blog/dashboard-anti-patterns",
    "/blog/cohort-analysis-101", "/blog/data-team-of-one", "/blog/warehouse-costs",
)  # fmt: skip
DOCS = ("/docs/getting-started", "/docs/connect-postgres", "/docs/sharing", "/docs/api")
WEBINARS = ("Metrics that matter", "Warehouse-native BI", "Dashboards people read")
CAMPAIGNS = (
    {"source": "google", "medium": "cpc", "name": "analytics-tools"},
    {"source": "linkedin", "medium": "cpc", "name": "data-leaders"},
    {"source": "newsletter", "medium": "email", "name": "monthly-digest"},
    {"source": "twitter", "medium": "social", "name": "launch-week"},
)


@dataclass(frozen=True, kw_only=True)
class SalesDecision:
    """What sales would do with this lead once it reaches them."""

    user_id: str
    review: Literal["accept", "nurture", "disqualify"]
    review_reason: str | None
    review_delay_hours: float
    reaches_sql: bool
    bant: Mapping[str, str]
    days_to_sql: float
    opportunity: bool
    days_to_opportunity: float
    outcome: Literal["won", "lost"]
    lost_reason: str | None
    days_to_close: float


@dataclass(frozen=True, kw_only=True)
class Trial:
    """A company trying the product: a 21-day trial, or the free plan (no end)."""

    group_id: str
    plan: Literal["trial", "free"]
    started: datetime
    ends: datetime
    data_sources: int
    teammates: int
    converted: bool

    @property
    def aha(self) -> bool:
        return self.data_sources >= 2 and self.teammates >= 3


@dataclass(frozen=True, kw_only=True)
class World:
    seed: int
    start: datetime
    end: datetime
    # Segment-style messages, in timestamp order (each has a messageId and a timestamp).
    messages: tuple[dict[str, Any], ...]
    decisions: Mapping[str, SalesDecision]
    # Hidden truth, for measuring how well a spec finds the buyers.
    intents: Mapping[str, float]
    trials: Mapping[str, Trial]
    residents: tuple[Resident, ...] = field(repr=False)


def build_world(
    seed: int = 7, *, people: int = 5000, accounts: int = 1500, end: datetime | None = None
) -> World:
    """Everything the demo workspace will receive, drawn from `seed` (same seed, same world)."""
    end = (end or utcnow()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - 182 * DAY
    rng = random.Random(seed)
    companies = make_companies(rng, accounts)
    residents = make_residents(rng, people, companies)
    tracker = _Tracker(rng, seed, start, end)
    for resident in residents:
        tracker.journey(resident)
    tracker.trials_of(companies, residents)
    tracker.broken_messages(residents)
    everyone = tuple(residents) + tuple(tracker.newcomers)
    return World(
        seed=seed,
        start=start,
        end=end,
        messages=tracker.messages(),
        decisions={r.user_id: decide(rng, r) for r in everyone},
        intents={r.user_id: r.intent for r in everyone},
        trials=tracker.trials,
        residents=everyone,
    )


def decide(rng: random.Random, person: Resident) -> SalesDecision:
    """A sales rep's verdict: good-fit, high-intent leads are accepted and some close."""
    propensity = person.company.propensity if person.company else 0.0
    if person.bad_fit:
        review: Literal["accept", "nurture", "disqualify"] = (
            "disqualify" if rng.random() < 0.85 else "nurture"
        )
    elif person.intent > 0.55:
        review = "accept" if rng.random() < 0.85 else "nurture"
    else:
        roll = rng.random()
        review = "accept" if roll < 0.25 else "nurture" if roll < 0.8 else "disqualify"
    reasons = {
        "accept": (None,),
        "nurture": ("timing: next quarter", "no budget this year", "just researching"),
        "disqualify": ("student or personal project", "competitor", "no buying authority"),
    }
    reason = rng.choice(reasons[review])
    if review == "disqualify" and person.title in ("Student", "Marketing Intern"):
        reason = "student or personal project"
    elif (
        review == "disqualify" and person.company and person.company.industry == "analytics vendor"
    ):
        reason = "competitor"
    reaches_sql = review == "accept" and rng.random() < 0.15 + 0.5 * person.intent * propensity
    won = rng.random() < 0.1 + 0.35 * propensity
    return SalesDecision(
        user_id=person.user_id,
        review=review,
        review_reason=reason,
        review_delay_hours=min(240.0, rng.lognormvariate(math.log(16), 0.9)),
        reaches_sql=reaches_sql,
        bant={
            "budget": f"${rng.choice((12, 24, 36, 60, 120))}k a year",
            "authority": person.title,
            "need": rng.choice(
                ("self-serve dashboards", "replace spreadsheets", "warehouse reporting")
            ),
            "timeline": rng.choice(("this quarter", "next quarter", "within 6 months")),
        },
        days_to_sql=rng.uniform(2, 10),
        opportunity=reaches_sql and rng.random() < 0.8,
        days_to_opportunity=rng.uniform(1, 7),
        outcome="won" if won else "lost",
        lost_reason=None
        if won
        else rng.choice(("price", "no decision", "chose a competitor", "timing")),
        days_to_close=rng.uniform(10, 60),
    )


def _one_of(
    roll: float, choices: tuple[tuple[str, float, dict[str, Any]], ...]
) -> tuple[str, dict[str, Any]] | None:
    """The choice a uniform roll lands on, each taking its chance in turn; or none."""
    for event, chance, properties in choices:
        if roll < chance:
            return event, properties
        roll -= chance
    return None


class _Tracker:
    """Writes what the product's tracking sends, as Segment messages."""

    def __init__(self, rng: random.Random, seed: int, start: datetime, end: datetime) -> None:
        self.rng, self.seed, self.start, self.end = rng, seed, start, end
        self.sent: list[tuple[datetime, int, dict[str, Any]]] = []
        self.trials: dict[str, Trial] = {}
        self.newcomers: list[Resident] = []
        self.identified_at: dict[str, datetime] = {}

    def messages(self) -> tuple[dict[str, Any], ...]:
        return tuple(message for _, _, message in sorted(self.sent, key=lambda s: s[:2]))

    def send(self, at: datetime, message: dict[str, Any]) -> None:
        if at >= self.end:
            return
        number = len(self.sent)
        message["messageId"] = f"demo-{self.seed}-{number}"
        message["timestamp"] = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        self.sent.append((at, number, message))

    def during_day(self, day: datetime) -> datetime:
        """A moment in working hours (07:00-20:00 UTC) of that day."""
        return day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            seconds=self.rng.uniform(7 * 3600, 20 * 3600)
        )

    # -- one person's marketing journey ----------------------------------------------------
    def journey(self, person: Resident) -> None:
        rng = self.rng
        span = (self.end - self.start).days
        first_seen = self.during_day(self.start + rng.randrange(span - 1) * DAY)
        campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.3 else None
        at = first_seen
        for _ in range(1 + min(6, int(rng.expovariate(0.6)))):
            self.page(person, at, self._browse(person), anonymous=True, campaign=campaign)
            at += timedelta(minutes=rng.uniform(0.5, 6))
        self.identify(person, at, how=self._signup_form(person))
        self.engage(person, at)

    def _browse(self, person: Resident) -> str:
        roll = self.rng.random()
        if roll < 0.15 + 0.35 * person.intent:
            return "/pricing"
        if roll < 0.45 + 0.2 * person.intent:
            return self.rng.choice(DOCS)
        if person.title in ("Student", "Marketing Intern") and roll < 0.75:
            return "/careers"
        return self.rng.choice((*BLOG_POSTS, "/", "/product", "/customers"))

    def _signup_form(self, person: Resident) -> str:
        roll = self.rng.random()
        if roll < 0.15 * person.intent:
            return "contact"
        if roll < 0.5:
            return "newsletter"
        return "content"

    def identify(self, person: Resident, at: datetime, *, how: str) -> None:
        self.identified_at[person.user_id] = at
        self.send(
            at,
            {
                "type": "identify",
                "userId": person.user_id,
                "anonymousId": person.anonymous_id,
                "traits": person.traits,
            },
        )
        if person.company is not None:
            self.send(
                at + timedelta(seconds=1),
                {
                    "type": "group",
                    "userId": person.user_id,
                    "groupId": person.company.group_id,
                    "traits": person.company.traits,
                },
            )
        if how == "content":
            self.track(person, at + timedelta(seconds=2), "Content Downloaded", self._content())
        else:
            self.track(person, at + timedelta(seconds=2), "Form Submitted", {"form": how})

    def _content(self) -> dict[str, Any]:
        kind = self.rng.choice(("whitepaper", "whitepaper", "case study", "ebook"))
        return {"type": kind, "title": f"The {kind} #{self.rng.randint(1, 9)}"}

    def engage(self, person: Resident, since: datetime) -> None:
        """Sessions at a rate that follows intent, while interest lasts; weekly newsletters."""
        rng = self.rng
        interest_ends = since + timedelta(days=rng.expovariate(1 / (20 + 80 * person.intent)))
        rate = 0.03 + 0.45 * person.intent**2
        day = since
        unsubscribed = False
        next_email = since + timedelta(days=rng.uniform(1, 7))
        while True:
            day += timedelta(days=rng.expovariate(rate if day < interest_ends else 0.02))
            while next_email < min(day, self.end) and not unsubscribed:
                unsubscribed = self.newsletter(person, next_email)
                next_email += 7 * DAY
            if day >= self.end:
                return
            self.session(person, self.during_day(day))

    def newsletter(self, person: Resident, at: datetime) -> bool:
        rng = self.rng
        if rng.random() < 0.12 + 0.35 * person.intent:
            self.track(person, at, "Email Opened", {"campaign": "weekly"})
            if rng.random() < 0.1 + 0.3 * person.intent:
                self.track(
                    person, at + timedelta(minutes=2), "Email Clicked", {"campaign": "weekly"}
                )
        if rng.random() < 0.015 * (1 - person.intent):
            self.track(person, at + timedelta(minutes=3), "Email Unsubscribed", {})
            return True
        return False

    def session(self, person: Resident, at: datetime) -> None:
        rng = self.rng
        campaign = rng.choice(CAMPAIGNS) if rng.random() < 0.1 else None
        for _ in range(1 + min(5, int(rng.expovariate(0.7)))):
            self.page(person, at, self._browse(person), campaign=campaign)
            at += timedelta(minutes=rng.uniform(0.3, 5))
        # Each session may end in one action; the likely ones follow intent.
        choices: tuple[tuple[str, float, dict[str, Any]], ...] = (
            ("Content Downloaded", 0.05, self._content()),
            ("Webinar Registered", 0.06 * person.intent, {"webinar": rng.choice(WEBINARS)}),
            ("Demo Requested", 0.03 * person.intent**2 * (not person.bad_fit), {}),
            ("Form Submitted", 0.02 * person.intent, {"form": "contact"}),
        )
        chosen = _one_of(rng.random(), choices)
        if chosen is None:
            return
        event, properties = chosen
        if event == "Demo Requested":
            self.page(person, at, "/demo", campaign=campaign)
        self.track(person, at + timedelta(seconds=30), event, properties)
        if event == "Webinar Registered" and rng.random() < 0.35 + 0.4 * person.intent:
            live = self.during_day(at + timedelta(days=rng.randint(2, 10)))
            self.track(person, live, "Webinar Attended", properties)

    def page(
        self,
        person: Resident,
        at: datetime,
        path: str,
        *,
        anonymous: bool = False,
        campaign: Mapping[str, str] | None = None,
    ) -> None:
        message: dict[str, Any] = {
            "type": "page",
            "anonymousId": person.anonymous_id,
            "name": path.strip("/").split("/")[0].title() or "Home",
            "properties": {"path": path, "url": f"https://lumen.example{path}"},
        }
        if not anonymous:
            message["userId"] = person.user_id
        if campaign is not None:
            message["context"] = {"campaign": dict(campaign)}
        self.send(at, message)

    def track(self, person: Resident, at: datetime, event: str, properties: dict[str, Any]) -> None:
        message = {"type": "track", "userId": person.user_id, "event": event}
        self.send(at, {**message, "properties": properties})

    def plan(self, person: Resident, at: datetime, plan: str) -> None:
        assert person.company is not None
        group = {"type": "group", "userId": person.user_id, "groupId": person.company.group_id}
        self.send(at, {**group, "traits": {"plan": plan}})

    # -- trials ------------------------------------------------------------------------------
    def trials_of(self, companies: list[Company], residents: list[Resident]) -> None:
        """Interested people at a company start its trial; the team then uses the product."""
        staff: dict[str, list[Resident]] = {}
        for person in residents:
            if person.company is not None:
                staff.setdefault(person.company.group_id, []).append(person)
        for company in companies:
            members = staff.get(company.group_id, [])
            keen = [p for p in members if p.intent > 0.3 and p.user_id in self.identified_at]
            if not keen:
                continue
            signer = max(keen, key=lambda p: p.intent)
            if self.rng.random() < 0.1 + 0.5 * company.propensity * signer.intent:
                self.trial(company, signer, members)

    def trial(self, company: Company, signer: Resident, members: list[Resident]) -> None:
        rng = self.rng
        earliest = self.identified_at[signer.user_id]
        started = earliest + timedelta(days=rng.uniform(0.1, 20))
        sources = min(len(DATA_SOURCES), int(rng.expovariate(1 / (0.4 + 2.2 * company.propensity))))
        invited = min(8, int(rng.expovariate(1 / (0.5 + 3.5 * company.propensity))))
        aha = sources >= 2 and invited >= 3
        converts = rng.random() < (
            0.45 + 0.3 * company.propensity if aha else 0.05 + 0.1 * company.propensity
        )
        plan: Literal["trial", "free"] = "free" if rng.random() < 0.3 else "trial"
        # A trial decides by its last week; the free plan upgrades whenever it outgrows it.
        ends = started + (TRIAL_DAYS if plan == "trial" else rng.uniform(20, 90)) * DAY
        self.trials[company.group_id] = Trial(
            group_id=company.group_id,
            started=started,
            plan=plan,
            ends=ends,
            data_sources=sources,
            teammates=invited,
            converted=converts,
        )
        self.track(signer, started, "Signed Up", {"plan": plan})
        self.plan(signer, started + timedelta(seconds=1), plan)
        for index, source in enumerate(rng.sample(DATA_SOURCES, sources)):
            at = started + timedelta(hours=1 + index * rng.uniform(2, 72))
            self.track(signer, at, "Data Source Connected", {"source": source})
        team = [(signer, started)]
        others = [p for p in members if p is not signer]
        for index in range(invited):
            invitee = others[index] if index < len(others) else self.colleague(company)
            at = started + timedelta(hours=2 + rng.uniform(0, 24 * 10))
            self.track(signer, at, "Teammate Invited", {"invitee_email": invitee.email})
            if rng.random() < 0.8:
                joined = at + timedelta(hours=rng.uniform(1, 48))
                if invitee.user_id not in self.identified_at:
                    self.identify(invitee, joined, how="invite")
                team.append((invitee, joined))
        converted_at = ends - timedelta(days=rng.uniform(0, 7))
        if converts:
            self.track(signer, converted_at - timedelta(hours=2), "Credit Card Added", {})
            self.plan(signer, converted_at, "paid")
            upgrade = {"from": plan, "to": "paid"}
            self.track(signer, converted_at + timedelta(seconds=1), "Plan Upgraded", upgrade)
        elif plan == "trial":
            self.plan(signer, ends, "expired")
        usage_ends = ends if plan == "trial" and not converts else self.end
        for member, since in team:
            self.usage(member, since, usage_ends, company.propensity, converts or plan == "free")

    def colleague(self, company: Company) -> Resident:
        """Someone invited to the trial who never came through marketing."""
        rng = self.rng
        number = len(self.newcomers) + 1
        first, last = rng.choice(("Alex", "Jordan", "Kai", "Robin", "Sasha")), f"Teammate{number}"
        person = Resident(
            user_id=f"user_t{number:05d}",
            anonymous_id=f"anon-t{number:05d}",
            first_name=first,
            last_name=last,
            email=f"{first}.{last}@{company.domain}".lower(),
            title=rng.choice(("Data Analyst", "Software Engineer", "Product Manager")),
            company=company,
            intent=0.2 * rng.random(),
        )
        self.newcomers.append(person)
        return person

    def usage(
        self, person: Resident, since: datetime, until: datetime, propensity: float, limited: bool
    ) -> None:
        """Queries on active days; dashboards now and then; plans with limits hit them."""
        rng = self.rng
        active = 0.2 + 0.5 * propensity
        day = since
        while day < min(until, self.end):
            if rng.random() < active:
                at = self.during_day(day)
                for _ in range(1 + int(rng.expovariate(0.5))):
                    rows = int(rng.lognormvariate(8, 2))
                    self.track(person, at, "Query Run", {"rows": rows})
                    at += timedelta(minutes=rng.uniform(1, 30))
                if rng.random() < 0.15:
                    charts = rng.randint(1, 12)
                    self.track(person, at, "Dashboard Saved", {"charts": charts})
                if limited and rng.random() < 0.01 + 0.02 * propensity:
                    self.track(person, at, "Usage Limit Hit", {"limit": "queries"})
            day += DAY

    # -- what breaks -------------------------------------------------------------------------
    def broken_messages(self, residents: list[Resident]) -> None:
        """A release that shipped a broken tracking call, for a few hours."""
        rng = self.rng
        day = self.during_day(self.end - 40 * DAY)
        for index in range(12):
            person = rng.choice(residents)
            at = day + timedelta(minutes=10 * index)
            if index % 3 == 0:
                self.send(at, {"type": "track", "userId": person.user_id, "properties": {}})
            elif index % 3 == 1:
                self.send(at, {"type": "track", "event": "Query Run", "properties": {"rows": 5}})
            else:
                self.send(
                    at,
                    {"type": "identify", "userId": person.user_id, "traits": "not an object"},
                )
