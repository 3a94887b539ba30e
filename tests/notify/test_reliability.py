"""Killing the dispatcher mid-delivery loses no notification.

A dispatcher process delivers notifications to a real receiver; the receiver holds one
request open, and the dispatcher is killed with SIGKILL while it waits for the answer.
A new dispatcher takes the delivery over once the dead one's lease runs out: every
notification arrives at least once, each with its original webhook-id, so the receiver
keeps exactly one of each by deduplicating on that id.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from tests.notify.conftest import Receiver

from winnow.notify.outbox import add_endpoint, add_rule, emit
from winnow.store.db import create_engine, migrate
from winnow.store.schema import deliveries
from winnow.store.workspaces import create_workspace

NOTIFICATIONS = 12
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def dispatch(database: str) -> subprocess.Popen[bytes]:
    winnow = shutil.which("winnow", path=str(Path(sys.executable).parent)) or "winnow"
    command = [winnow, "dispatch", "--database", database, "--lease", "1"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def pending(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        query = sa.select(sa.func.count()).where(deliveries.c.status != "delivered")
        return int(conn.execute(query).scalar_one())


def test_a_killed_dispatcher_loses_no_notification(tmp_path: Path, receiver: Receiver) -> None:
    database = f"sqlite:///{tmp_path / 'winnow.db'}"
    engine = create_engine(database)
    migrate(engine)
    with engine.begin() as conn:
        ws = create_workspace(conn, "acme", now=T0)
        hook = add_endpoint(conn, ws.id, name="crm", kind="webhook", url=receiver.url,
                            by="test", now=T0)  # fmt: skip
        add_rule(conn, ws.id, name="all", happenings=["*"], endpoint_id=hook.id, by="test", now=T0)
        sent = [
            emit(conn, ws.id, "person.mql", {"person": {"id": n}}, at=T0, person_id=n)
            for n in range(1, NOTIFICATIONS + 1)
        ]
    receiver.hold = 5
    first = dispatch(database)
    try:
        # The fifth request is in flight: kill the dispatcher before it hears the answer.
        while not receiver.holding.wait(0.05):
            assert first.poll() is None, "the dispatcher exited before delivering"
        first.kill()
        first.wait()
        receiver.release.set()
        assert pending(engine) == NOTIFICATIONS - 4

        second = dispatch(database)
        try:
            while pending(engine):
                # Waiting on the process, not on the clock: it must stay up meanwhile.
                try:
                    second.wait(0.1)
                except subprocess.TimeoutExpired:
                    continue
                raise AssertionError(f"the second dispatcher exited with {second.returncode}")
        finally:
            second.terminate()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        engine.dispose()

    ids = receiver.ids()
    assert set(ids) == set(sent)
    # The interrupted one came twice, with the same id; everything else once.
    held = ids[4]
    assert ids.count(held) == 2 and len(ids) == NOTIFICATIONS + 1
    assert len(set(ids)) == NOTIFICATIONS
