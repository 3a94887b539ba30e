"""Building a demo workspace: the world's six months replayed day by day.

Each day's messages are ingested as they would have arrived, the people they touched
are rescored as of the end of that day (so stage moves carry their true dates), and
the sales team works its queue: a lead that became an MQL or PQL is reviewed some hours
later (accepted, sent back to nurture or disqualified, as the world decided), accepted
leads may be qualified with BANT, opportunities opened and won or lost. A won deal is
synced back like a CRM would: the account's plan becomes paid. A final rescore of
everyone, as of the last day, brings decayed scores and time windows up to date.
"""

from __future__ import annotations

import heapq
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from winnow.clock import parse_instant
from winnow.demo.world import World
from winnow.ingest.writer import ingest_messages
from winnow.lifecycle import Move
from winnow.qualification import act, rescore
from winnow.spec import load_spec
from winnow.store.people import PersonNotFound, find_person
from winnow.store.schema import people
from winnow.store.specs import publish_spec

DAY = timedelta(days=1)
REPS = ("maya", "kenji", "sofia", "liam")


@dataclass(frozen=True, kw_only=True)
class DemoReport:
    people: int
    messages: int
    rejected: int
    moves_by_rules: int
    moves_by_people: int
    spec_version: int
    as_of: datetime


def build_demo(
    conn: sa.Connection,
    workspace_id: int,
    world: World,
    spec_source: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> DemoReport:
    """Publish the spec, replay the world into the workspace and score it as of its end."""
    version = publish_spec(
        conn, workspace_id, spec_source, by="demo", note="the demo world's spec", now=world.start
    )
    spec = (version.version, load_spec(spec_source))
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in world.messages:
        by_day[message["timestamp"][:10]].append(message)
    sales = _SalesTeam(conn, workspace_id, world)
    days = (world.end - world.start).days
    rule_moves = rejected = 0
    for index in range(days):
        day_end = world.start + (index + 1) * DAY - timedelta(seconds=1)
        arrived = sales.as_billing_sees(by_day.get(f"{world.start + index * DAY:%Y-%m-%d}", []))
        result = ingest_messages(conn, workspace_id, arrived, received_at=day_end, source="demo")
        rejected += len(result.rejected)
        touched = set(result.touched) | sales.work(until=day_end)
        if touched:
            report = rescore(
                conn, workspace_id, as_of=day_end, person_ids=touched, spec=spec, on="store"
            )
            rule_moves += len(report.moves)
            sales.notice(report.moves)
        if progress is not None:
            progress(index + 1, days)
    final = rescore(conn, workspace_id, as_of=world.end, spec=spec, on="duckdb")
    count = conn.execute(
        sa.select(sa.func.count()).select_from(people).where(people.c.workspace_id == workspace_id)
    ).scalar_one()
    return DemoReport(
        people=count,
        messages=len(world.messages),
        rejected=rejected,
        moves_by_rules=rule_moves + len(final.moves),
        moves_by_people=sales.moves,
        spec_version=version.version,
        as_of=world.end,
    )


class _SalesTeam:
    """Works leads as they reach sales, following the world's decisions."""

    def __init__(self, conn: sa.Connection, workspace_id: int, world: World) -> None:
        self.conn, self.workspace_id, self.world = conn, workspace_id, world
        self.queue: list[tuple[datetime, int, str, str]] = []
        self.reviewed: set[str] = set()
        self.moves = 0
        self._order = itertools.count()  # steps due at the same instant keep their order
        self.paying: set[str] = set()
        self.accounts = {
            r.user_id: r.company.group_id for r in world.residents if r.company is not None
        }

    def schedule(self, at: datetime, user_id: str, step: str) -> None:
        heapq.heappush(self.queue, (at, next(self._order), user_id, step))

    def notice(self, moves: Iterable[Move]) -> None:
        """Leads that just became MQLs or PQLs join the review queue."""
        arrived = {m.person_id: m.at for m in moves if m.to_stage in ("mql", "pql")}
        if not arrived:
            return
        rows = self.conn.execute(
            sa.select(people.c.id, people.c.user_id).where(
                people.c.workspace_id == self.workspace_id, people.c.id.in_(arrived)
            )
        )
        for person_id, user_id in rows:
            decision = self.world.decisions.get(user_id)
            if decision is None or user_id in self.reviewed:
                continue
            self.reviewed.add(user_id)
            delay = timedelta(hours=decision.review_delay_hours)
            self.schedule(arrived[person_id] + delay, user_id, "review")

    def work(self, *, until: datetime) -> set[int]:
        """Every step due by `until`, in time order; returns the people it moved."""
        moved: set[int] = set()
        while self.queue and self.queue[0][0] <= until:
            at, _, user_id, step = heapq.heappop(self.queue)
            person_id = self.step(at, user_id, step)
            if person_id is not None:
                moved.add(person_id)
        return moved

    def step(self, at: datetime, user_id: str, step: str) -> int | None:
        decision = self.world.decisions[user_id]
        try:
            person = find_person(self.conn, self.workspace_id, user_id)
        except PersonNotFound:
            return None
        # A move never predates the stage it leaves.
        at = max(at, person.stage_changed_at + timedelta(seconds=1))
        stage = person.stage
        if step == "review" and stage in ("mql", "pql"):
            reason = decision.review_reason if decision.review != "accept" else None
            self.act(person.id, decision.review, at, reason=reason)
            if decision.review == "accept" and decision.reaches_sql:
                self.schedule(at + timedelta(days=decision.days_to_sql), user_id, "qualify")
        elif step == "review" and stage == "sql":
            pass  # the spec's sql rule got there first; sales goes on to the opportunity
        elif step == "qualify" and stage in ("sal", "mql", "pql"):
            self.act(person.id, "qualify", at, details=dict(decision.bant))
            stage = "sql"
        elif step == "open_opportunity" and stage == "sql":
            self.act(person.id, "open_opportunity", at)
            self.schedule(at + timedelta(days=decision.days_to_close), user_id, "close")
        elif step == "close" and stage == "opportunity":
            self.act(person.id, decision.outcome, at, reason=decision.lost_reason)
            if decision.outcome == "won" and user_id in self.accounts:
                self.sync_won(user_id, at)
        else:
            return None
        # Qualified by sales or by the spec's sql rule: an opportunity may follow.
        if step in ("review", "qualify") and stage == "sql" and decision.opportunity:
            days = decision.days_to_opportunity
            self.schedule(at + timedelta(days=days), user_id, "open_opportunity")
        return person.id

    def act(
        self,
        person_id: int,
        action: str,
        at: datetime,
        *,
        reason: str | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        actor = REPS[person_id % len(REPS)]
        act(
            self.conn,
            self.workspace_id,
            person_id,
            action,
            actor=actor,
            reason=reason,
            details=details,
            at=at,
        )
        self.moves += 1

    def as_billing_sees(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """An account that signed a contract stays paying, whatever its trial did since."""
        if not self.paying:
            return messages
        return [
            {**m, "traits": {k: v for k, v in m["traits"].items() if k != "plan"}}
            if m["type"] == "group" and m.get("groupId") in self.paying and "plan" in m["traits"]
            else m
            for m in messages
        ]

    def sync_won(self, user_id: str, at: datetime) -> None:
        """The CRM marks the account paying once its deal is won."""
        self.paying.add(self.accounts[user_id])
        timestamp = f"{at:%Y-%m-%dT%H:%M:%S}Z"
        message = {
            "type": "group",
            "userId": user_id,
            "groupId": self.accounts[user_id],
            "traits": {"plan": "paid"},
            "messageId": f"crm-won-{user_id}",
            "timestamp": timestamp,
        }
        received = parse_instant(timestamp)
        ingest_messages(self.conn, self.workspace_id, [message], received_at=received, source="crm")
