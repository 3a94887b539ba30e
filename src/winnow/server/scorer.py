"""Real-time scoring: queued people rescored in micro-batches; everyone, now and then.

One loop serves the in-process scorer of `winnow serve` and the `winnow worker`
processes: lease queued people (winnow.store.queue), score them as of now on a reader
connection, store the results and promotions in a short write transaction, settle the
lease. Only the claimed people's scores are stored (their account-mates are read for
the rollup, and were queued with them), so each person's score is written by the one
scorer holding their lease. No lock is held while scoring, so ingestion never waits for
it (on SQLite, with one writer at a time, a scoring held as a write transaction stalled
every request). A person whose stage changed between the scoring and the storing is not
promoted from the stage the scoring saw. If scoring fails, the lease is given back and
the people are claimed again; if the process dies, the lease runs out. When the queue is
empty, whole workspaces whose last full rescore is older than the interval are rescored,
so that decay and time windows stay true for people nobody touched, and reviews past
their SLA are marked and notified. A full rescore leases everyone not queued first,
scores everyone at once, and stores only those it leased.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import sqlalchemy as sa

from winnow.clock import utcnow
from winnow.handoff.queue import breach_overdue
from winnow.qualification import Scoring, apply_scores, score_people
from winnow.store.db import write_transaction
from winnow.store.queue import LEASE, claim, claim_everyone, release, settle
from winnow.store.schema import workspaces
from winnow.store.scores import drop_orphan_rollups
from winnow.store.specs import NoSpec, live_spec

log = logging.getLogger("winnow.scorer")


@dataclass
class Scorer:
    engine: sa.Engine
    batch: int = 2000
    full_every: timedelta = timedelta(hours=1)
    clock: Callable[[], datetime] = utcnow
    # How long a claimed batch is this scorer's (see winnow.store.queue).
    lease: timedelta = LEASE
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _full_done: dict[int, datetime] = field(default_factory=dict)

    def wake(self) -> None:
        self._wake.set()

    def score_queued(self) -> int:
        """One micro-batch: lease, score, store, settle. Returns how many people it claimed."""
        with write_transaction(self.engine) as conn:
            claimed = claim(conn, now=self.clock(), limit=self.batch, lease=self.lease)
        for workspace_id, person_ids in claimed.items():
            try:
                self._rescore(workspace_id, person_ids)
            except Exception:
                with write_transaction(self.engine) as conn:
                    release(conn, workspace_id, person_ids)
                raise
        return sum(len(ids) for ids in claimed.values())

    def _rescore(self, workspace_id: int, person_ids: list[int]) -> None:
        with self.engine.connect() as reader:
            try:
                # The claimed people only: the engine reads their account-mates for the
                # rollup but returns no results for them. A mate may be leased by another
                # scorer right now, and two scorers storing one person's score at once
                # collide, or leave the older scoring's result last; ingestion queued the
                # mates too, so each is stored by their own claimer.
                scoring = score_people(
                    reader, workspace_id, as_of=self.clock(), person_ids=person_ids,
                    on="store", touched=True,
                )  # fmt: skip
            except NoSpec:
                scoring = None  # nothing to score with; publishing a spec rescores everyone
        with write_transaction(self.engine) as conn:
            if scoring is not None:
                apply_scores(conn, workspace_id, scoring)
            settle(conn, workspace_id, person_ids)

    def score_stale(self) -> int:
        """Rescore everyone in workspaces not fully rescored for `full_every`."""
        with self.engine.connect() as conn:
            ids = conn.execute(sa.select(workspaces.c.id).order_by(workspaces.c.id)).scalars()
            due = [w for w in ids if w not in self._full_done or self._stale(w, self.clock())]
        for workspace_id in due:
            # Everyone is scored at once on a reader, but only the people this scorer could
            # lease are stored: the queued ones are the micro-batches' to score. The clock
            # is read per workspace, after the lease: the last workspace's scoring must not
            # be as of before the first's.
            with write_transaction(self.engine) as conn:
                now = self.clock()
                leased = claim_everyone(conn, workspace_id, now=now, lease=self.lease)
            try:
                self._store_everyone(workspace_id, leased, now)
            except Exception:
                with write_transaction(self.engine) as conn:
                    release(conn, workspace_id, leased)
                raise
            self._full_done[workspace_id] = now
        return len(due)

    def _store_everyone(self, workspace_id: int, leased: list[int], now: datetime) -> None:
        scoring: Scoring | None = None
        if leased:
            try:
                with self.engine.connect() as reader:
                    scoring = score_people(reader, workspace_id, as_of=now)
            except NoSpec:
                scoring = None
        with write_transaction(self.engine) as conn:
            if scoring is not None:
                held = set(leased)
                mine = tuple(r for r in scoring.results if r.person_id in held)
                apply_scores(conn, workspace_id, replace(scoring, results=mine, everyone=False))
            drop_orphan_rollups(conn, workspace_id)
            settle(conn, workspace_id, leased)

    def breach_overdue(self) -> int:
        """Mark and notify reviews past their SLA deadline, in every workspace."""
        now = self.clock()
        breached = 0
        with self.engine.connect() as conn:
            ids = list(conn.execute(sa.select(workspaces.c.id).order_by(workspaces.c.id)).scalars())
        for workspace_id in ids:
            with write_transaction(self.engine) as conn:
                try:
                    _, spec = live_spec(conn, workspace_id)
                except NoSpec:
                    continue
                breached += len(breach_overdue(conn, workspace_id, spec, now=now))
        return breached

    def _stale(self, workspace_id: int, now: datetime) -> bool:
        return now - self._full_done[workspace_id] >= self.full_every

    def run(self, idle_seconds: float = 0.5) -> None:
        """Loop until stopped; errors are logged and the batch stays queued."""
        while not self._stop.is_set():
            try:
                if self.score_queued():
                    continue
                self.breach_overdue()
                self.score_stale()
            except Exception:
                log.exception("scoring failed; the people stay queued")
            self._wake.wait(idle_seconds)
            self._wake.clear()

    def start(self, idle_seconds: float = 0.5) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, args=(idle_seconds,), name="winnow-scorer", daemon=True
        )
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
