"""Real-time scoring: queued people rescored in micro-batches; everyone, now and then.

One loop serves the in-process scorer of `winnow serve` and the `winnow worker`
processes: claim queued people (on PostgreSQL, rows locked with SKIP LOCKED, so workers
never take the same person), rescore them in the store as of now, commit; when the
queue is empty, rescore whole workspaces whose last full rescore is older than the
interval, so that decay and time windows stay true for people nobody touched.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from winnow.clock import utcnow
from winnow.engine.run import with_account_members
from winnow.qualification import rescore
from winnow.store.queue import claim
from winnow.store.schema import workspaces
from winnow.store.specs import NoSpec

log = logging.getLogger("winnow.scorer")


@dataclass
class Scorer:
    engine: sa.Engine
    batch: int = 2000
    full_every: timedelta = timedelta(hours=1)
    clock: Callable[[], datetime] = utcnow
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _full_done: dict[int, datetime] = field(default_factory=dict)

    def wake(self) -> None:
        self._wake.set()

    def score_queued(self) -> int:
        """One micro-batch: claim, rescore, commit. Returns how many people it claimed."""
        with self.engine.begin() as conn:
            claimed = claim(conn, limit=self.batch)
            now = self.clock()
            for workspace_id, person_ids in claimed.items():
                # Their account-mates too: a rollup, and criteria on account.score, move
                # with every member's engagement.
                everyone = with_account_members(conn, workspace_id, person_ids)
                try:
                    rescore(conn, workspace_id, as_of=now, person_ids=everyone, on="store")
                except NoSpec:
                    continue  # nothing to score with; publishing a spec rescores everyone
        return sum(len(ids) for ids in claimed.values())

    def score_stale(self) -> int:
        """Rescore everyone in workspaces not fully rescored for `full_every`."""
        now = self.clock()
        with self.engine.connect() as conn:
            ids = conn.execute(sa.select(workspaces.c.id).order_by(workspaces.c.id)).scalars()
            due = [w for w in ids if w not in self._full_done or self._stale(w, now)]
        for workspace_id in due:
            with self.engine.begin() as conn:
                try:
                    rescore(conn, workspace_id, as_of=now)
                except NoSpec:
                    pass
            self._full_done[workspace_id] = now
        return len(due)

    def _stale(self, workspace_id: int, now: datetime) -> bool:
        return now - self._full_done[workspace_id] >= self.full_every

    def run(self, idle_seconds: float = 0.5) -> None:
        """Loop until stopped; errors are logged and the batch stays queued."""
        while not self._stop.is_set():
            try:
                if self.score_queued():
                    continue
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
