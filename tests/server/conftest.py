"""A real server on a real socket: uvicorn in a thread, over the test's store.

The server's clock is fixed and its scorer does not run by itself: tests call
`server.app.state.scorer.score_queued()` when they want scoring to happen. Tests that
need whole processes (`winnow serve`, `winnow worker`) start them with `serve` and
`winnow_command`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from tests.factories import CREATED

from winnow.server import Settings, create_app
from winnow.store.keys import create_key
from winnow.store.specs import publish_spec
from winnow.store.workspaces import create_workspace

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SPEC = """
fit:
  rules:
    - {name: vp, when: 'matches(person.title, "(?i)\\\\bvp\\\\b")', points: 30}
engagement:
  rules:
    - {name: pricing, event: Page Viewed, where: 'starts_with(properties.path, "/pricing")', points: 20}
    - {name: demo, event: Demo Requested, points: 40}
stages:
  mql: 'engagement >= 40 and grade in ("A", "B", "C")'
"""


@dataclass(frozen=True)
class Server:
    url: str
    app: FastAPI
    engine: sa.Engine
    workspace_id: int
    write_key: str
    secret_key: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def winnow_command() -> str:
    """The `winnow` script of the running interpreter's environment."""
    return shutil.which("winnow", path=str(Path(sys.executable).parent)) or "winnow"


def serve(database: str, port: int, *options: str) -> subprocess.Popen[str]:
    """A `winnow serve` process, returned once it listens on `port`."""
    return listening(launch(database, port, *options))


def launch(database: str, port: int, *options: str) -> subprocess.Popen[str]:
    """A `winnow serve` process, just started (see `listening`)."""
    return subprocess.Popen(
        [winnow_command(), "serve", "--database", database, "--port", str(port)]
        + ["--log-level", "info", *options],
        stdout=subprocess.DEVNULL,  # the access log
        stderr=subprocess.PIPE,
        text=True,
    )


def listening(process: subprocess.Popen[str]) -> subprocess.Popen[str]:
    """The `winnow serve` process once its socket is bound."""
    assert process.stderr is not None
    # Uvicorn says so once the socket is bound.
    for line in process.stderr:
        if "Uvicorn running on" in line:
            # Keep reading its log, or a full pipe would block the server.
            threading.Thread(target=drain, args=(process.stderr,), daemon=True).start()
            return process
    process.stderr.close()
    raise RuntimeError(f"the server exited with {process.wait()} before listening")


def drain(stream: IO[str]) -> None:
    with stream:
        for _ in stream:
            pass


def start(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    # Waiting for the socket to be bound, not for time to pass.
    while not server.started:
        thread.join(0.01)
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def server(engine: sa.Engine) -> Iterator[Server]:
    with engine.begin() as conn:
        ws = create_workspace(conn, "acme", "Acme", now=CREATED)
        publish_spec(conn, ws.id, SPEC, by="test", now=CREATED)
        _, write = create_key(conn, ws.id, kind="write", name="website", by="test", now=CREATED)
        _, secret = create_key(
            conn, ws.id, kind="secret", role="admin", name="ops", by="test", now=CREATED
        )
    app = create_app(
        Settings(scorer=False, dispatcher=False, max_message_bytes=2048, max_batch_bytes=64 * 1024),
        engine=engine,
        clock=lambda: NOW,
    )
    uv, thread, url = start(app)
    try:
        yield Server(url, app, engine, ws.id, write, secret)
    finally:
        uv.should_exit = True
        thread.join()
