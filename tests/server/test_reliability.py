"""Killing the server mid-stream loses nothing and duplicates nothing.

A client sends batches; the server process is killed with SIGKILL while it is sending,
then restarted; the client retries what was not answered. Every batch answered 200 is
stored exactly once: a 200 is only sent after the commit, and message ids make retries
of batches that were stored but not answered harmless.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import sqlalchemy as sa
from tests.factories import CREATED, make_batch, make_track
from tests.server.conftest import free_port, serve

from winnow.store.db import create_engine, migrate
from winnow.store.keys import create_key
from winnow.store.schema import events
from winnow.store.workspaces import create_workspace

BATCHES = 60
PER_BATCH = 50


def test_a_killed_server_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'winnow.db'}"
    engine = create_engine(database)
    migrate(engine)
    with engine.begin() as conn:
        ws = create_workspace(conn, "acme", now=CREATED)
        _, key = create_key(conn, ws.id, kind="write", name="site", by="test", now=CREATED)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/batch"
    server = serve(database, port)
    up = threading.Event()
    up.set()
    killed_after, down, killed_again_after = threading.Event(), threading.Event(), threading.Event()
    answered: list[int] = []
    failures: list[int] = []

    def client() -> None:
        with httpx.Client(auth=(key, "")) as http:
            for number in range(BATCHES):
                body = make_batch(
                    *[
                        make_track(userId=f"u{number % 7}", messageId=f"b{number}-m{i}")
                        for i in range(PER_BATCH)
                    ]
                )
                while True:
                    try:
                        answer = http.post(url, json=body)
                    except httpx.TransportError:
                        failures.append(number)
                        up.wait()  # the server is being restarted
                        continue
                    assert answer.status_code == 200, answer.text
                    answered.append(number)
                    break
                if number == BATCHES // 3:
                    # The first kill comes between two batches, for certain ...
                    killed_after.set()
                    down.wait()
                if number == 2 * BATCHES // 3:
                    # ... the second one while this client keeps sending.
                    killed_again_after.set()

    sender = threading.Thread(target=client)
    sender.start()
    for moment in (killed_after, killed_again_after):
        moment.wait()
        up.clear()
        server.kill()  # SIGKILL: no shutdown, no flush
        server.wait()
        down.set()
        server = serve(database, port)
        up.set()
    sender.join()
    server.kill()
    server.wait()

    assert answered == list(range(BATCHES))
    assert BATCHES // 3 + 1 in failures  # the client did meet a dead server
    with engine.connect() as conn:
        ids = conn.execute(
            sa.select(events.c.message_id).where(events.c.workspace_id == ws.id)
        ).scalars()
        stored = Counter(ids)
    engine.dispose()
    expected = {f"b{n}-m{i}" for n in range(BATCHES) for i in range(PER_BATCH)}
    assert set(stored) == expected
    assert set(stored.values()) == {1}
