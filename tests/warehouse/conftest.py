"""A small world, ingested through the factories, then laid out as a team's own tables.

The world goes through real ingestion into a SQLite store and comes out as the engine's
frames (`load_frames`); `score_frames` on those frames is what warehouse scoring must
reproduce. The team's tables carry the same facts under their own names: text or integer
keys, time-zoned instants, their own stage names, traits spread over columns or kept in
a JSON column.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from tests.factories import CREATED, make_group, make_identify, make_track

from winnow.ingest import ingest_messages
from winnow.store.db import create_engine
from winnow.store.frames import load_frames
from winnow.store.workspaces import create_workspace

AS_OF = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
SPEC_PATH = Path(__file__).resolve().parents[2] / "examples" / "winnow.yaml"
# The team's stage names, and which Winnow stage each means.
STAGE_NAMES = {"New": "lead", "Marketing Qualified": "mql", "Customer": "customer"}

_PAGES = ["/pricing", "/pricing/teams", "/docs/setup", "/blog/launch", "/careers", "/demo"]
_EVENTS = [
    "Page Viewed",
    "Webinar Attended",
    "Webinar Registered",
    "Email Clicked",
    "Content Downloaded",
    "Demo Requested",
    "Form Submitted",
    "Signed Up",
    "Data Source Connected",
    "Teammate Invited",
    "Query Run",
    "Dashboard Saved",
    "Plan Upgraded",
    "Email Unsubscribed",
]


@dataclass(frozen=True, kw_only=True)
class World:
    frames: dict[str, pa.Table]  # the engine's frames, as the store holds the world
    team_stages: list[str]  # each person's stage as the team's table names it


def _properties(rng: random.Random, event: str) -> dict[str, Any]:
    if event == "Page Viewed":
        return {"path": rng.choice(_PAGES)}
    if event == "Content Downloaded":
        return {"type": rng.choice(["whitepaper", "case study"])}
    if event == "Form Submitted":
        return {"form": rng.choice(["contact", "newsletter"])}
    if event == "Data Source Connected":
        return {"source": rng.choice(["postgres", "snowflake", "bigquery"])}
    if event == "Teammate Invited":
        return {"invitee_email": f"mate{rng.randrange(6)}@example.com"}
    if event == "Query Run":
        return {"rows": rng.randrange(1, 50_000)}
    if event == "Dashboard Saved":
        return {"charts": rng.randrange(1, 12)}
    return {}


def build_world(store: Path, seed: int = 11) -> World:
    rng = random.Random(seed)
    engine = create_engine(f"sqlite:///{store}")
    messages: list[dict[str, Any]] = []
    industries = ["software", "fintech", "analytics vendor", "retail"]
    for a in range(5):
        messages.append(
            make_group(
                userId="u0",
                groupId=f"acct-{a}",
                timestamp="2026-04-02T10:00:00Z",
                traits={
                    "name": f"Company {a}",
                    "website": f"https://company{a}.example",
                    "plan": ["trial", "free", "paid", "trial", "enterprise"][a],
                    "industry": industries[a % len(industries)],
                    "employees": [12, 80, 400, 2500, 60][a],
                    "country": ["US", "JP", "BR", "DE", "GB"][a],
                },
            )
        )
    titles = ["VP Engineering", "Data Analyst", "Student", "Head of Data", "Engineer", "CEO"]
    people = 18
    for p in range(people):
        user = f"u{p}"
        domain = "gmail.com" if p % 7 == 3 else f"company{p % 5}.example"
        messages.append(
            make_identify(
                userId=user,
                timestamp="2026-04-03T08:00:00Z",
                traits={
                    "email": f"person{p}@{domain}",
                    "firstName": f"Name{p}",
                    "title": titles[p % len(titles)],
                },
            )
        )
        if p % 6 != 5:  # a few people belong to no account
            messages.append(
                make_group(
                    userId=user,
                    groupId=f"acct-{p % 5}",
                    timestamp="2026-04-03T09:00:00Z",
                    traits={},
                )
            )
        start = datetime(2026, 4, 5, tzinfo=UTC)
        for _ in range(rng.randrange(0, 25)):
            event = rng.choice(_EVENTS)
            when = start + timedelta(seconds=rng.randrange(0, 60 * 86400))
            context: dict[str, Any] = {"library": {"name": "analytics.js"}}
            if rng.random() < 0.3:
                context["campaign"] = {"medium": rng.choice(["cpc", "email"]), "source": "ads"}
            messages.append(
                make_track(
                    userId=user,
                    event=event,
                    properties=_properties(rng, event),
                    context=context,
                    timestamp=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
            )
    with engine.begin() as conn:
        workspace = create_workspace(conn, "team", now=CREATED)
        result = ingest_messages(
            conn,
            workspace.id,
            messages,
            received_at=datetime(2026, 6, 1, tzinfo=UTC),
            source="test",
        )
        assert not result.rejected, result.rejected
        frames = load_frames(conn, workspace.id)
    engine.dispose()
    names = list(STAGE_NAMES)
    team_stages = [names[i % len(names)] for i in range(frames["people"].num_rows)]
    # The frames carry the stage the team's table says, in Winnow's words.
    people_frame = frames["people"]
    winnow_stages = pa.array([STAGE_NAMES[s] for s in team_stages], pa.string())
    frames["people"] = people_frame.set_column(
        people_frame.schema.get_field_index("stage"), "stage", winnow_stages
    )
    return World(frames=frames, team_stages=team_stages)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> World:
    store = tmp_path_factory.mktemp("world") / "winnow.db"
    shutil.copyfile(sqlite_template, store)
    return build_world(store)


def spread(documents: list[str | None]) -> dict[str, list[Any]]:
    """JSON documents as one column per key (missing keys as nulls)."""
    parsed = [json.loads(d) if d else {} for d in documents]
    keys = sorted({k for d in parsed for k in d})
    return {k: [d.get(k) for d in parsed] for k in keys}


def _utc(values: list[datetime | None], zone: str = "UTC") -> pa.Array:
    """Naive UTC instants as an aware column (the team keeps time zones)."""
    return pa.array(values, pa.timestamp("us")).cast(pa.timestamp("us", tz=zone))


def team_tables(world: World, *, text_keys: bool, spread_events: bool) -> dict[str, pa.Table]:
    """The world as a team's tables: contacts, companies and tracks, in their own words."""
    people, accounts, events = (world.frames[k] for k in ("people", "accounts", "events"))

    def person_key(ids: list[int | None]) -> list[Any]:
        return [None if i is None else (f"C-{i:04d}" if text_keys else i) for i in ids]

    def account_key(ids: list[int | None]) -> list[Any]:
        return [None if i is None else (f"K-{i:03d}" if text_keys else i) for i in ids]

    contacts = {
        "contact_key": person_key(people.column("id").to_pylist()),
        "company_key": account_key(people.column("account_id").to_pylist()),
        "work_email": people.column("email").to_pylist(),
        "product_user": people.column("user_id").to_pylist(),
        "rep": people.column("owner").to_pylist(),
        "signed_up_at": _utc(people.column("created_at").to_pylist(), "Asia/Tokyo"),
        "lifecycle": world.team_stages,
        "recycled_on": _utc(people.column("recycled_at").to_pylist()),
        **spread(people.column("traits").to_pylist()),
    }
    companies = {
        "company_key": account_key(accounts.column("id").to_pylist()),
        "segment_group": accounts.column("group_id").to_pylist(),
        "company_name": accounts.column("name").to_pylist(),
        "web_domain": accounts.column("domain").to_pylist(),
        "billing_plan": accounts.column("plan").to_pylist(),
        "opened": accounts.column("created_at").to_pylist(),
        **spread(accounts.column("traits").to_pylist()),
    }
    tracks: dict[str, Any] = {
        "contact_key": person_key(events.column("person_id").to_pylist()),
        "event": events.column("name").to_pylist(),
        "sent_at": _utc(events.column("timestamp").to_pylist()),
        "ctx": events.column("context").to_pylist(),
    }
    if spread_events:
        tracks |= {f"{k}": v for k, v in spread(events.column("properties").to_pylist()).items()}
    else:
        tracks["props"] = events.column("properties").to_pylist()
    return {
        "contacts": pa.table(contacts),
        "companies": pa.table(companies),
        "tracks": pa.table(tracks),
    }


def mapping_yaml(
    *, contacts: str, companies: str, tracks: str, spread_events: bool, spec: str | None = None
) -> str:
    properties = "{rest: true}" if spread_events else "{json: props}"
    names = ", ".join(f"'{k}': {v}" for k, v in STAGE_NAMES.items())
    return f"""
{f"spec: {spec}" if spec else ""}
people:
  table: {contacts}
  columns:
    id: contact_key
    account_id: company_key
    email: work_email
    user_id: product_user
    owner: rep
    created_at: signed_up_at
    stage: lifecycle
    recycled_at: recycled_on
  stage_values: {{{names}}}
accounts:
  table: {companies}
  columns:
    id: company_key
    group_id: segment_group
    name: company_name
    domain: web_domain
    plan: billing_plan
    created_at: opened
events:
  table: {tracks}
  columns: {{person_id: contact_key, name: event, timestamp: sent_at}}
  properties: {properties}
  context: ctx
"""


@pytest.fixture(autouse=True)
def session_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB and PostgreSQL sessions in New York: instants must be converted, not cast."""
    monkeypatch.setenv("TZ", "America/New_York")
    monkeypatch.setenv("PGTZ", "America/New_York")
