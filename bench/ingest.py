"""Ingestion benchmark: `winnow serve`'s /v1/batch against the library and raw inserts.

    .venv/bin/python bench/ingest.py                        # 200k events, SQLite and PostgreSQL
    .venv/bin/python bench/ingest.py --quick                # 20k events, 5 s latency run
    .venv/bin/python bench/ingest.py --backend sqlite --senders 8 --json out.json

One seeded stream of Segment messages (track, page and identify, as analytics.js sends
them: unique messageIds, userId and anonymousId, context with library, page, userAgent,
ip; a few thousand distinct users, some of them in accounts through context.groupId) is
generated once; generation is not measured. Per backend (a SQLite file in a temporary
directory; PostgreSQL in a fresh schema, dropped at the end), every contestant writes
those same messages into its own fresh store (migrated, with a workspace, the spec of
examples/winnow.yaml and a write key, made through the library; not measured):

- http:     `winnow serve` as a subprocess; SENDERS threads, each with its own httpx
            client, POST /v1/batch bodies of BATCH messages (encoded before timing) as
            fast as the server answers. Every answer must be 200 and the accepted counts
            must add up to the events sent. Run with the in-process scorer off (the
            ingestion path alone, comparable with the baselines) and on (`winnow serve`'s
            default: the scorer competes for the store while events arrive).
- library:  `ingest_messages` + `enqueue` in one transaction per BATCH messages, in one
            process: what the server does per request, without HTTP, JSON, auth and
            concurrency. The ceiling of the write path.
- raw:      SQLAlchemy executemany INSERTs of the same event rows (as the writer would
            store them) into `events`, one transaction per BATCH rows; the people they
            point to are created before timing. The ceiling of the database.

library and raw run in their own fresh processes (this script with --contestant).

Then event -> stage change latency: the library contestant's store (all the events
above, its scoring queue emptied) is served by `winnow serve` with its scorer on; once
the startup rescore of everyone has landed, messages are sent at a steady RATE events/s
(open loop: requests leave on schedule whatever the answers) for LATENCY_SECONDS. At the
start, HOT users get a grade-A profile (identify: VP title, company email; group: 500
employees, US, software) and 22 points of engagement (a pricing page, a webinar); then,
spread over the run, each sends "Demo Requested" (+40: engagement 62 >= 55, the spec's
MQL). A thread of this process polls people.stage for those users every POLL seconds;
the latency is (first poll that sees them promoted) - (the moment their Demo Requested
request started), so it includes the request itself, queueing and scoring, and is
rounded up by at most one poll interval.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "examples" / "winnow.yaml"
WINNOW = ROOT / ".venv" / "bin" / "winnow"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TARGET_EVENTS_PER_S = 20_000  # through HTTP, on SQLite
TARGET_P99_S = 2.0  # event -> stage change at 1,000 events/s
BACKENDS = ("sqlite", "postgres")

# -- the messages ------------------------------------------------------------------------------
TRACK_EVENTS = {  # name: weight
    "Feature Used": 20, "Query Run": 18, "Dashboard Saved": 6, "Email Opened": 12,
    "Email Clicked": 5, "Signed In": 8, "Content Downloaded": 3, "Webinar Registered": 2,
    "Webinar Attended": 1.5, "Form Submitted": 1, "Data Source Connected": 1,
    "Teammate Invited": 1, "Demo Requested": 0.3, "Signed Up": 0.5,
}  # fmt: skip
PAGES = [("/", "Home"), ("/pricing", "Pricing"), ("/pricing/enterprise", "Enterprise pricing"),
         ("/docs", "Docs"), ("/docs/getting-started", "Getting started"), ("/docs/api", "API"),
         ("/blog/launch", "Launch"), ("/blog/scoring", "Lead scoring"), ("/careers", "Careers"),
         ("/demo", "Book a demo"), ("/customers", "Customers"), ("/about", "About")]  # fmt: skip
TITLES = ["VP of Sales", "Head of Data", "Data Analyst", "Software Engineer", "CTO",
          "Marketing Manager", "Student", "Director of IT", "Account Executive",
          "Founder"]  # fmt: skip
BROWSERS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/130.0.0.0 Safari/537.36",
]
CAMPAIGNS = [None, None, None, {"name": "spring", "source": "google", "medium": "cpc"},
             {"name": "newsletter-42", "source": "newsletter", "medium": "email"}]  # fmt: skip


@dataclass(frozen=True)
class User:
    user_id: str
    anonymous_id: str
    email: str
    title: str
    group_id: str | None


def make_users(count: int, rng: random.Random) -> list[User]:
    users = []
    for n in range(count):
        account = rng.randrange(count // 5 + 1) if rng.random() < 0.6 else None
        domain = f"acct{account}.example" if account is not None else "gmail.com"
        users.append(
            User(
                user_id=f"user-{n}",
                anonymous_id=str(uuid.UUID(int=rng.getrandbits(128))),
                email=f"person{n}@{domain}",
                title=rng.choice(TITLES),
                group_id=f"acct{account}" if account is not None else None,
            )
        )
    return users


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def _context(user: User, rng: random.Random, page: tuple[str, str]) -> dict[str, Any]:
    path, title = page
    context: dict[str, Any] = {
        "library": {"name": "analytics.js", "version": "next-1.72.0"},
        "ip": f"198.51.{rng.randrange(256)}.{rng.randrange(256)}",
        "locale": "en-US",
        "userAgent": rng.choice(BROWSERS),
        "page": {
            "path": path,
            "url": f"https://lumen.example{path}",
            "title": f"{title} | Lumen",
            "referrer": rng.choice(["", "https://www.google.com/", "https://news.example/"]),
            "search": "",
        },
    }
    campaign = rng.choice(CAMPAIGNS)
    if campaign:
        context["campaign"] = campaign
    if user.group_id is not None:
        context["groupId"] = user.group_id
    return context


def message(
    user: User, rng: random.Random, message_id: str, at: datetime | None, kind: str | None = None
) -> dict[str, Any]:
    """One Segment message for `user`: page (50%), track (45%) or identify (5%)."""
    roll = rng.random()
    kind = kind or ("page" if roll < 0.5 else "track" if roll < 0.95 else "identify")
    page = rng.choice(PAGES)
    base: dict[str, Any] = {
        "type": kind,
        "messageId": message_id,
        "userId": user.user_id,
        "anonymousId": user.anonymous_id,
        "context": _context(user, rng, page),
        "integrations": {},
    }
    if at is not None:
        base["timestamp"] = _iso(at)
    if kind == "page":
        base["name"] = page[1]
        base["properties"] = {"path": page[0], "url": f"https://lumen.example{page[0]}"}
    elif kind == "identify":
        base["traits"] = {"email": user.email, "title": user.title, "name": user.user_id}
    else:
        event = rng.choices(list(TRACK_EVENTS), weights=list(TRACK_EVENTS.values()))[0]
        base["event"] = event
        base["properties"] = _properties(event, rng)
    return base


def _properties(event: str, rng: random.Random) -> dict[str, Any]:
    match event:
        case "Query Run":
            return {"rows": rng.randrange(1, 5_000_000), "ms": rng.randrange(5, 9000)}
        case "Feature Used":
            return {"feature": rng.choice(["filters", "export", "alerts", "sharing", "sql"])}
        case "Dashboard Saved":
            return {"charts": rng.randrange(1, 30), "dashboard": f"d{rng.randrange(500)}"}
        case "Email Opened" | "Email Clicked":
            return {"campaign": f"c{rng.randrange(40)}", "subject": "What's new in Lumen"}
        case "Content Downloaded":
            return {"type": rng.choice(["whitepaper", "case study", "ebook"])}
        case "Webinar Registered" | "Webinar Attended":
            return {"webinar": f"w{rng.randrange(12)}", "minutes": rng.randrange(1, 60)}
        case "Form Submitted":
            return {"form": rng.choice(["contact", "newsletter", "event"])}
        case "Data Source Connected":
            return {"source": rng.choice(["postgres", "bigquery", "snowflake", "s3"])}
        case "Teammate Invited":
            return {"invitee_email": f"mate{rng.randrange(10_000)}@example.com"}
        case _:
            return {}


def generate(count: int, users: Sequence[User], seed: int, now: datetime) -> list[dict[str, Any]]:
    """`count` messages over the past 30 days, oldest first, each with a unique messageId."""
    rng = random.Random(seed)
    start = now - timedelta(days=30)
    step = timedelta(days=30) / count
    return [
        message(rng.choice(users), rng, f"bench-{seed}-{i}", start + step * i) for i in range(count)
    ]


# -- stores ------------------------------------------------------------------------------------
@dataclass
class Store:
    """One contestant's fresh store: a SQLite file or a PostgreSQL schema."""

    url: str
    schema: str | None = None
    workspace_id: int = 0
    token: str = ""

    @property
    def server_url(self) -> str:
        """The URL `winnow serve --database` gets: the schema travels as libpq options."""
        if self.schema is None:
            return self.url
        return f"{self.url}?options=-csearch_path%3D{self.schema}"

    def engine(self) -> sa.Engine:
        from winnow.store.db import create_engine

        if self.schema is None:
            return create_engine(self.url)
        return create_engine(self.url, connect_args={"options": f"-csearch_path={self.schema}"})


def prepare(store: Store) -> Store:
    """Schema, workspace, the example spec and a write key, through the library."""
    from winnow.store.db import migrate, open_store
    from winnow.store.keys import create_key
    from winnow.store.specs import publish_spec
    from winnow.store.workspaces import create_workspace

    if store.schema is None:
        engine = open_store(store.url)
    else:
        # open_store with the schema as connect_args (open_store takes a URL only).
        engine = store.engine()
        migrate(engine)
    try:
        with engine.begin() as conn:
            workspace = create_workspace(conn, "bench")
            publish_spec(conn, workspace.id, SPEC_PATH.read_text(), by="bench")
            _, token = create_key(conn, workspace.id, kind="write", name="bench", by="bench")
    finally:
        engine.dispose()
    store.workspace_id, store.token = workspace.id, token
    return store


class Backend:
    """Hands out fresh stores for one backend and removes them all at the end."""

    def __init__(self, name: str, workdir: Path, postgres_url: str) -> None:
        self.name = name
        self.workdir = workdir
        self.postgres_url = postgres_url
        self.schemas: list[str] = []

    def fresh(self, label: str) -> Store:
        if self.name == "sqlite":
            return prepare(Store(url=f"sqlite:///{self.workdir / f'{label}.db'}"))
        schema = f"bench_ingest_{os.getpid()}_{label}".replace("-", "_")
        with self._admin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        return prepare(Store(url=self.postgres_url, schema=schema))

    def close(self) -> None:
        if not self.schemas:
            return
        with self._admin() as conn:
            for schema in self.schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        self.schemas.clear()

    @contextmanager
    def _admin(self) -> Iterator[sa.Connection]:
        engine = sa.create_engine(self.postgres_url)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()


def count_rows(store: Store, table: str) -> int:
    engine = store.engine()
    try:
        with engine.connect() as conn:
            query = f"SELECT count(*) FROM {table} WHERE workspace_id = :w"
            return int(conn.execute(sa.text(query), {"w": store.workspace_id}).scalar_one())
    finally:
        engine.dispose()


# -- contestants in their own processes: library and raw ---------------------------------------
def run_contestant(name: str, store: Store, messages_path: Path, batch: int) -> dict[str, Any]:
    messages = [json.loads(line) for line in messages_path.open()]
    chunks = [messages[i : i + batch] for i in range(0, len(messages), batch)]
    engine = store.engine()
    try:
        if name == "library":
            return _library(engine, store.workspace_id, chunks)
        return _raw(engine, store.workspace_id, chunks)
    finally:
        engine.dispose()


def _library(engine: sa.Engine, workspace_id: int, chunks: list[list[Any]]) -> dict[str, Any]:
    from winnow.clock import utcnow
    from winnow.ingest.writer import ingest_messages
    from winnow.store.queue import enqueue

    accepted = duplicates = rejected = 0
    latencies = []
    started = time.perf_counter()
    for chunk in chunks:
        begun = time.perf_counter()
        now = utcnow()
        with engine.begin() as conn:
            result = ingest_messages(
                conn, workspace_id, chunk, received_at=now, source="bench",
                max_message_bytes=32 * 1024,
            )  # fmt: skip
            enqueue(conn, workspace_id, result.touched, at=now)
        latencies.append(time.perf_counter() - begun)
        accepted += result.accepted
        duplicates += result.duplicates
        rejected += len(result.rejected)
    elapsed = time.perf_counter() - started
    return {
        "seconds": elapsed,
        "accepted": accepted,
        "duplicates": duplicates,
        "rejected": rejected,
        "latencies": latencies,
    }


def _raw(engine: sa.Engine, workspace_id: int, chunks: list[list[Any]]) -> dict[str, Any]:
    from winnow.clock import to_db, utcnow
    from winnow.ingest.messages import parse_message
    from winnow.store.schema import events, people

    # Not timed: the rows the writer would store, and the people they point to.
    now = utcnow()
    parsed = [[parse_message(m, received_at=now) for m in chunk] for chunk in chunks]
    user_ids = sorted({m.user_id for chunk in parsed for m in chunk if m.user_id})
    at = to_db(now)
    with engine.begin() as conn:
        conn.execute(
            people.insert(),
            [
                {"workspace_id": workspace_id, "user_id": u, "traits": {}, "stage": "lead",
                 "stage_changed_at": at, "created_at": at, "updated_at": at}
                for u in user_ids
            ],
        )  # fmt: skip
        ids = dict(
            conn.execute(
                sa.select(people.c.user_id, people.c.id).where(
                    people.c.workspace_id == workspace_id
                )
            ).all()
        )
    pages = [
        [
            {
                "workspace_id": workspace_id,
                "message_id": m.message_id,
                "person_id": ids[m.user_id],
                "type": m.type,
                "name": m.name,
                "properties": m.properties,
                "context": m.context,
                "timestamp": to_db(m.timestamp),
                "received_at": at,
            }
            for m in chunk
        ]
        for chunk in parsed
    ]
    latencies = []
    started = time.perf_counter()
    for rows in pages:
        begun = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(events.insert(), rows)
        latencies.append(time.perf_counter() - begun)
    elapsed = time.perf_counter() - started
    inserted = sum(len(rows) for rows in pages)
    return {
        "seconds": elapsed,
        "accepted": inserted,
        "duplicates": 0,
        "rejected": 0,
        "latencies": latencies,
    }


def spawn_contestant(
    name: str, store: Store, messages_path: Path, batch: int, workdir: Path
) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--contestant", name]
    command += ["--url", store.url, "--workspace-id", str(store.workspace_id)]
    command += ["--messages", str(messages_path), "--batch", str(batch)]
    command += ["--schema", store.schema] if store.schema else []
    errors = workdir / f"{name}.stderr"
    with errors.open("w") as stderr:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        print(errors.read_text(), file=sys.stderr)
        raise SystemExit(f"FAIL: contestant {name} exited with {done.returncode}")
    reply: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return reply


# -- the server --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(store: Store, *, scorer: bool, workdir: Path, label: str) -> Iterator[str]:
    """`winnow serve` on a free port until the block ends (killed in any case)."""
    port = free_port()
    log = workdir / f"server-{label}.log"
    command = [str(WINNOW), "serve", "--database", store.server_url, "--port", str(port)]
    command += ["--scorer" if scorer else "--no-scorer"]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                print(log.read_text(), file=sys.stderr)
                raise SystemExit(f"FAIL: winnow serve exited with {server.returncode}")
            with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise SystemExit("FAIL: winnow serve did not answer within 60 s")
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        text = log.read_text()
        if "Traceback" in text:
            # The work directory goes away: keep the log where it can be read afterwards.
            kept = Path(tempfile.gettempdir()) / f"winnow-bench-ingest-{label}.log"
            kept.write_text(text)
            print(f"  ({text.count('Traceback')} tracebacks in the server log, kept as {kept})")


def auth_header(token: str) -> dict[str, str]:
    value = base64.b64encode(f"{token}:".encode()).decode()
    return {"Authorization": f"Basic {value}", "Content-Type": "application/json"}


def send_all(base: str, token: str, bodies: Sequence[bytes], senders: int) -> dict[str, Any]:
    """POST every body to /v1/batch from `senders` threads as fast as answers come."""
    next_body = iter(range(len(bodies)))
    lock = threading.Lock()
    latencies: list[float] = [0.0] * len(bodies)
    answers: list[tuple[int, Any]] = [(0, None)] * len(bodies)

    def sender() -> None:
        with httpx.Client(base_url=base, headers=auth_header(token), timeout=120) as client:
            while True:
                with lock:
                    i = next(next_body, None)
                if i is None:
                    return
                begun = time.perf_counter()
                try:
                    response = client.post("/v1/batch", content=bodies[i])
                    status = response.status_code
                    answer = response.json() if status == 200 else response.text[:300]
                except httpx.HTTPError as exc:
                    status, answer = -1, repr(exc)
                latencies[i] = time.perf_counter() - begun
                answers[i] = (status, answer)

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    failed = [(i, s, a) for i, (s, a) in enumerate(answers) if s != 200]
    ok = [a for s, a in answers if s == 200]
    return {
        "seconds": elapsed,
        "accepted": sum(a["accepted"] for a in ok),
        "duplicates": sum(a["duplicates"] for a in ok),
        "rejected": sum(len(a["rejected"]) for a in ok),
        "failed_requests": len(failed),
        "first_failures": [f"request {i}: {s} {a}" for i, s, a in failed[:3]],
        "latencies": latencies,
    }


def wait_queue_empty(store: Store, timeout: float) -> float | None:
    """Seconds until the scoring queue is empty (None: not within `timeout`)."""
    started = time.perf_counter()
    engine = store.engine()
    try:
        while time.perf_counter() - started < timeout:
            with engine.connect() as conn:
                left = conn.execute(sa.text("SELECT count(*) FROM scoring_queue")).scalar_one()
            if left == 0:
                return time.perf_counter() - started
            time.sleep(0.2)
        return None
    finally:
        engine.dispose()


def run_http(
    backend: Backend, bodies: Sequence[bytes], args: Any, scorer: bool, workdir: Path
) -> dict[str, Any]:
    label = f"http-scorer-{'on' if scorer else 'off'}"
    store = backend.fresh(label.replace("-", "_"))
    with serving(store, scorer=scorer, workdir=workdir, label=f"{backend.name}-{label}") as base:
        result = send_all(base, store.token, bodies, args.senders)
        if scorer:
            result["queue_drain_s"] = wait_queue_empty(store, timeout=300)
    result["stored"] = count_rows(store, "events")
    return result


# -- event -> stage change ---------------------------------------------------------------------
HOT_PREP = 4  # identify, group, a pricing page, a webinar: grade A, 22 points of engagement


def hot_messages(n: int, stage: str, rng: random.Random, at: datetime) -> list[dict[str, Any]]:
    user = User(
        user_id=f"hot-{n}",
        anonymous_id=str(uuid.UUID(int=rng.getrandbits(128))),
        email=f"vp{n}@hot{n}.example",
        title="VP of Sales",
        group_id=f"hot{n}",
    )
    mid = f"hot-{n}-{stage}"
    if stage == "cross":
        crossing = message(user, rng, f"{mid}-demo", at, kind="track")
        crossing["event"], crossing["properties"] = "Demo Requested", {"source": "pricing page"}
        return [crossing]
    identify = message(user, rng, f"{mid}-identify", at, kind="identify")
    identify["traits"] = {"email": user.email, "title": user.title, "name": f"Hot Lead {n}"}
    group = {
        "type": "group",
        "messageId": f"{mid}-group",
        "userId": user.user_id,
        "anonymousId": user.anonymous_id,
        "groupId": user.group_id,
        "timestamp": _iso(at),
        "traits": {"name": f"Hot {n} Inc", "employees": 500, "country": "US",
                   "industry": "software", "website": f"https://hot{n}.example"},
    }  # fmt: skip
    pricing = message(user, rng, f"{mid}-pricing", at, kind="page")
    pricing["name"], pricing["properties"] = "Pricing", {"path": "/pricing"}
    webinar = message(user, rng, f"{mid}-webinar", at, kind="track")
    webinar["event"], webinar["properties"] = "Webinar Attended", {"webinar": "w1", "minutes": 45}
    return [identify, group, pricing, webinar]


def wait_full_rescore(store: Store, timeout: float) -> float | None:
    """Seconds until everyone has a score (the server's startup rescore has committed)."""
    started = time.perf_counter()
    engine = store.engine()
    query = sa.text(
        "SELECT (SELECT count(*) FROM scores WHERE workspace_id = :w),"
        " (SELECT count(*) FROM people WHERE workspace_id = :w)"
    )
    try:
        while time.perf_counter() - started < timeout:
            with engine.connect() as conn:
                scored, people = conn.execute(query, {"w": store.workspace_id}).one()
            if scored >= people:
                return time.perf_counter() - started
            time.sleep(0.2)
        return None
    finally:
        engine.dispose()


def run_latency(
    store: Store, users: Sequence[User], args: Any, workdir: Path, label: str
) -> dict[str, Any]:
    """Steady traffic at args.rate events/s; time from each hot user's crossing event
    (request start) to their promotion being visible in people.stage."""
    engine = store.engine()
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM scoring_queue"))
    rng = random.Random(args.seed + 1)
    hot = [f"hot-{n}" for n in range(args.hot)]
    interval = args.latency_batch / args.rate
    ticks = round(args.latency_seconds / interval)
    warm = min(2.0, args.latency_seconds / 4)
    # Crossing events spread evenly from `warm` to 1 s before the end.
    span = max(args.latency_seconds - 1.0 - warm, 0.0)
    cross_tick = {
        n: round((warm + span * n / max(args.hot - 1, 1)) / interval) for n in range(args.hot)
    }
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    early: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        query = sa.text(
            "SELECT user_id, stage FROM people WHERE workspace_id = :w AND user_id IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True))
        with engine.connect() as conn:
            while not stop.is_set():
                rows = conn.execute(query, {"w": store.workspace_id, "ids": hot}).all()
                conn.rollback()  # a fresh snapshot for the next poll
                now = time.perf_counter()
                for user_id, stage in rows:
                    if stage in ("lead", "subscriber") or user_id in seen:
                        continue
                    seen[user_id] = now
                    if user_id not in sent:
                        early.append(user_id)
                if len(seen) == len(hot):
                    return
                time.sleep(args.poll)

    answers: list[int] = []
    events_sent = 0
    results: dict[str, Any] = {}
    with serving(store, scorer=True, workdir=workdir, label=f"{label}-latency") as base:
        results["startup_rescore_s"] = wait_full_rescore(store, timeout=300)
        client = httpx.Client(
            base_url=base,
            headers=auth_header(store.token),
            timeout=60,
            limits=httpx.Limits(max_connections=args.in_flight),
        )

        def post(body: bytes, crossing: list[str], due: float) -> None:
            begun = time.perf_counter()
            starts.append((due, begun))
            for user_id in crossing:
                sent[user_id] = begun
            try:
                answers.append(client.post("/v1/batch", content=body).status_code)
            except httpx.HTTPError:
                answers.append(-1)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        pool = ThreadPoolExecutor(max_workers=args.in_flight)
        starts: list[tuple[float, float]] = []  # (due, started) per request
        counter = 0
        try:
            started = time.perf_counter()
            for tick in range(ticks):
                due = started + tick * interval
                time.sleep(max(0.0, due - time.perf_counter()))
                now = datetime.now(UTC)
                batch = []
                crossing = []
                if tick == 0:
                    for n in range(args.hot):
                        batch += hot_messages(n, "prep", rng, now)
                for n, at_tick in cross_tick.items():
                    if at_tick == tick:
                        batch += hot_messages(n, "cross", rng, now)
                        crossing.append(f"hot-{n}")
                while len(batch) < args.latency_batch:
                    counter += 1
                    batch.append(message(rng.choice(users), rng, f"lat-{counter}", now))
                events_sent += len(batch)
                body = json.dumps({"batch": batch, "sentAt": _iso(now)}).encode()
                pool.submit(post, body, crossing, due)
            pool.shutdown(wait=True)
            # From the first request's start to the last one's: the rate actually sent.
            send_seconds = max(b for _, b in starts) - started
            poller.join(timeout=15)
        finally:
            stop.set()
            pool.shutdown(wait=True)
            client.close()
            engine.dispose()
    latencies = sorted(seen[u] - sent[u] for u in seen if u in sent and u not in early)
    missing = [u for u in hot if u not in seen]
    results |= {
        "events_sent": events_sent,
        "send_seconds": send_seconds,
        "rate_target": args.rate,
        "requests": len(answers),
        "failed_requests": sum(1 for s in answers if s != 200),
        # Requests leave late when the server answers slower than the schedule (at most
        # args.in_flight requests are in flight).
        "schedule_lag_max_s": max(b - d for d, b in starts),
        "hot_users": len(hot),
        "promoted_early": early,
        "not_promoted": missing,
        "latencies": latencies,
    }
    return results


# -- the report --------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summarize(result: dict[str, Any], events: int) -> dict[str, Any]:
    lat = result.pop("latencies")
    return result | {
        "events": events,
        "events_per_s": events / result["seconds"],
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000 if lat else float("nan"),
    }


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_backend(name: str, figures: dict[str, Any], args: Any) -> list[str]:
    """Print one backend's table and targets; returns the problems found."""
    problems = []
    print(f"\n== {name} ==")
    print(
        f"{'contestant':<16} {'events/s':>9} {'seconds':>8} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'max ms':>8}  stored   notes"
    )
    for label, r in figures["throughput"].items():
        notes = []
        if r.get("failed_requests"):
            notes.append(f"{r['failed_requests']} failed requests: {r['first_failures']}")
        if "queue_drain_s" in r:
            drain = r["queue_drain_s"]
            notes.append(
                "scoring queue drained after the load in "
                + (f"{drain:.1f} s" if drain is not None else "> 300 s")
            )
        counts_ok = (
            r["accepted"] == r["events"]
            and r["duplicates"] == 0
            and r["rejected"] == 0
            and r["stored"] == r["events"]
        )
        if not counts_ok:
            problems.append(
                f"{name} {label}: accepted {r['accepted']}, duplicates {r['duplicates']},"
                f" rejected {r['rejected']}, stored {r['stored']} of {r['events']} events"
            )
        if r.get("failed_requests"):
            problems.append(f"{name} {label}: {r['failed_requests']} requests not answered 200")
        print(
            f"{label:<16} {r['events_per_s']:>9,.0f} {r['seconds']:>8.2f} {r['p50_ms']:>8.1f}"
            f" {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f}  {r['stored']:>7,}  {'; '.join(notes)}"
        )
    print(f"(latency per request of {args.batch} messages; library and raw: per transaction)")
    t = figures["throughput"]
    for label in [k for k in t if k.startswith("http")]:
        rate = t[label]["events_per_s"]
        ratios = "  ".join(
            f"{label}/{base} {rate / t[base]['events_per_s']:.2f}x"
            for base in ("library", "raw")
            if base in t
        )
        print(ratios)
    if name == "sqlite":
        for label in [k for k in t if k.startswith("http")]:
            rate = t[label]["events_per_s"]
            print(
                f"{label} {rate:,.0f} events/s   (target >= {TARGET_EVENTS_PER_S:,}/s on SQLite:"
                f" {verdict(rate >= TARGET_EVENTS_PER_S)})"
            )
    lat = figures.get("latency")
    if lat:
        p50, p99 = lat["p50_s"], lat["p99_s"]
        achieved = lat["events_sent"] / lat["send_seconds"]
        print(
            f"\nevent -> stage change, {lat['hot_users']} users crossing MQL during"
            f" {lat['send_seconds']:.1f} s at {achieved:,.0f} events/s"
            f" ({lat['requests']} requests of {args.latency_batch}, started up to"
            f" {lat['schedule_lag_max_s'] * 1000:.0f} ms late; startup rescore of everyone took"
            f" {_s(lat['startup_rescore_s'])}):"
        )
        print(
            f"  p50 {p50:.3f} s   p99 {p99:.3f} s   max {lat['max_s']:.3f} s"
            f"   (poll every {args.poll * 1000:.0f} ms)"
        )
        sustained = achieved >= 0.95 * args.rate
        met = (
            p99 < TARGET_P99_S
            and sustained
            and not lat["not_promoted"]
            and not lat["promoted_early"]
        )
        note = (
            "" if sustained else f"; the server took {achieved:,.0f} events/s, not {args.rate:,.0f}"
        )
        print(
            f"  p99 {p99:.3f} s   (target < {TARGET_P99_S} s at {args.rate:,.0f} events/s:"
            f" {verdict(met)}{note})"
        )
        if lat["not_promoted"]:
            print(f"  never promoted: {', '.join(lat['not_promoted'])}")
        if lat["promoted_early"]:
            problems.append(
                f"{name}: promoted before their crossing event: {lat['promoted_early']}"
            )
        if lat["failed_requests"]:
            problems.append(f"{name} latency run: {lat['failed_requests']} requests not 200")
    return problems


def _s(value: float | None) -> str:
    return "(timed out)" if value is None else f"{value:.1f} s"


def run_backend(
    name: str, args: Any, users: Sequence[User], messages_path: Path, bodies: Sequence[bytes],
    workdir: Path,
) -> dict[str, Any]:  # fmt: skip
    backend = Backend(name, workdir, args.postgres_url)
    figures: dict[str, Any] = {"throughput": {}}
    try:
        for scorer in args.http_scorer:
            label = f"http scorer {'on' if scorer else 'off'}"
            print(f"[{name}] {label} ...", flush=True)
            result = run_http(backend, bodies, args, scorer, workdir)
            figures["throughput"][label] = summarize(result, args.events)
        library_store = None
        for contestant in ("library", "raw"):
            print(f"[{name}] {contestant} ...", flush=True)
            store = backend.fresh(contestant)
            result = spawn_contestant(contestant, store, messages_path, args.batch, workdir)
            result["stored"] = count_rows(store, "events")
            figures["throughput"][contestant] = summarize(result, args.events)
            if contestant == "library":
                library_store = store
        if args.latency_seconds > 0 and library_store is not None:
            print(f"[{name}] event -> stage change ...", flush=True)
            lat = run_latency(library_store, users, args, workdir, name)
            values = lat.pop("latencies")
            lat |= {
                "p50_s": percentile(values, 50),
                "p99_s": percentile(values, 99),
                "max_s": max(values) if values else float("nan"),
                "values_s": values,
            }
            if lat["not_promoted"]:
                lat["p99_s"] = lat["max_s"] = float("inf")
            figures["latency"] = lat
    finally:
        backend.close()
    return figures


def main() -> int:
    # Stopped with SIGTERM (a timeout, kill): exit through the finally blocks, which stop
    # the servers this run started and drop its PostgreSQL schemas.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--events", type=int, help="default 200,000 (--quick: 20,000)")
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per request")
    parser.add_argument("--senders", type=int, default=4, help="concurrent HTTP senders")
    parser.add_argument(
        "--http-scorer", choices=("off", "on", "both", "none"), default="both",
        help="the server's in-process scorer during the throughput run (none: no HTTP run)",
    )  # fmt: skip
    parser.add_argument("--rate", type=float, default=1_000, help="events/s, latency run")
    parser.add_argument(
        "--latency-seconds", type=float, help="default 20 (--quick: 5); 0 skips the run"
    )
    parser.add_argument("--latency-batch", type=int, default=20, help="messages per request")
    parser.add_argument("--hot", type=int, help="users crossing MQL: 20 (--quick: 10)")
    parser.add_argument(
        "--in-flight", type=int, default=32,
        help="latency run: most requests awaiting answers (the server's default gate is 32)",
    )  # fmt: skip
    parser.add_argument("--poll", type=float, default=0.02, help="seconds between stage polls")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20k events, 5 s latency run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--contestant", choices=("library", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--workspace-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--messages", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contestant:
        store = Store(url=args.url, schema=args.schema, workspace_id=args.workspace_id)
        reply = run_contestant(args.contestant, store, args.messages, args.batch)
        print(json.dumps(reply), flush=True)
        return 0
    for option, full, quick in (("events", 200_000, 20_000), ("latency_seconds", 20.0, 5.0),
                                ("hot", 20, 10)):  # fmt: skip
        if getattr(args, option) is None:
            setattr(args, option, quick if args.quick else full)
    args.http_scorer = {"off": [False], "on": [True], "both": [False, True], "none": []}[
        args.http_scorer
    ]
    backends = BACKENDS if args.backend == "both" else (args.backend,)

    now = datetime.now(UTC)
    started = time.perf_counter()
    users = make_users(args.users, random.Random(args.seed))
    messages = generate(args.events, users, args.seed, now)
    bodies = [
        json.dumps({"batch": messages[i : i + args.batch]}).encode()
        for i in range(0, len(messages), args.batch)
    ]
    print(
        f"{args.events:,} messages ({len(bodies):,} requests of {args.batch}), {args.users:,}"
        f" users, seed {args.seed}; {args.senders} senders; {len(os.sched_getaffinity(0))} cores;"
        f" generated in {time.perf_counter() - started:.1f} s (not measured)"
    )
    figures: dict[str, Any] = {
        "events": args.events, "users": args.users, "batch": args.batch,
        "senders": args.senders, "seed": args.seed, "rate": args.rate,
        "latency_seconds": args.latency_seconds, "hot": args.hot,
        "cores": len(os.sched_getaffinity(0)), "backends": {},
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="winnow-bench-ingest-") as tmp:
        workdir = Path(tmp)
        messages_path = workdir / "messages.jsonl"
        with messages_path.open("w") as out:
            for m in messages:
                out.write(json.dumps(m) + "\n")
        del messages
        for name in backends:
            figures["backends"][name] = run_backend(
                name, args, users, messages_path, bodies, workdir
            )
    problems = []
    for name, backend_figures in figures["backends"].items():
        problems += print_backend(name, backend_figures, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
