"""Small synthetic histories for the event-history model, with or without a planted signal.

People arrive over 150 days at 120 accounts on trial or free plans. Everyone views pages
and opens emails at random. A third of them connect a data source ("Source Connected")
some days after arriving. With `signal`, people who connected become customers 60% of
the time, 5 to 30 days after connecting, and the others 4% of the time; without it,
everyone converts at the same rate whatever they did.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from winnow.engine.run import FRAME_SCHEMAS
from winnow.learn.snapshots import History

START = datetime(2026, 1, 1)
DAYS = 150


def world(*, signal: bool, people: int = 700, seed: int = 3) -> History:
    rng = np.random.default_rng(seed)
    person_rows, event_rows, reached = [], [], {}
    plans = {a: ("trial" if a % 2 else "free") for a in range(1, 121)}
    for pid in range(1, people + 1):
        born = START + timedelta(days=float(rng.uniform(0, DAYS - 20)))
        account = int(rng.integers(1, 121))
        person_rows.append((pid, account, born, rng.choice(["analyst", "manager", "student"])))
        for _ in range(int(rng.integers(2, 12))):
            at = born + timedelta(days=float(rng.uniform(0, DAYS)))
            path = rng.choice(["/blog/a", "/docs/x", "/pricing", "/careers"])
            event_rows.append((pid, "Page Viewed", at, {"path": str(path)}))
        for _ in range(int(rng.integers(0, 4))):
            at = born + timedelta(days=float(rng.uniform(0, DAYS)))
            event_rows.append((pid, "Email Opened", at, {}))
        connected = None
        if rng.random() < 1 / 3:
            connected = born + timedelta(days=float(rng.uniform(1, 20)))
            event_rows.append((pid, "Source Connected", connected, {}))
        if signal:
            rate, after = (0.6, connected) if connected is not None else (0.04, born)
        else:
            rate, after = 0.15, born + timedelta(days=float(rng.uniform(0, 100)))
        if rng.random() < rate:
            assert after is not None
            reached[pid] = after + timedelta(days=float(rng.uniform(5, 30) if signal else 0))
    end = START + timedelta(days=DAYS + 40)
    event_rows = [e for e in event_rows if e[2] <= end]
    return History(
        people=pa.table(
            {
                "id": [p[0] for p in person_rows],
                "account_id": [p[1] for p in person_rows],
                "email": [f"p{p[0]}@example.com" for p in person_rows],
                "email_domain": ["example.com"] * len(person_rows),
                "user_id": [f"u{p[0]}" for p in person_rows],
                "owner": [None] * len(person_rows),
                "created_at": [p[2] for p in person_rows],
                "stage": ["lead"] * len(person_rows),
                "recycled_at": [None] * len(person_rows),
                "traits": [json.dumps({"role": str(p[3])}) for p in person_rows],
            },
            schema=FRAME_SCHEMAS["people"],
        ),
        accounts=pa.table(
            {
                "id": list(plans),
                "group_id": [f"g{a}" for a in plans],
                "name": [f"Account {a}" for a in plans],
                "domain": [f"a{a}.example" for a in plans],
                "plan": ["paid"] * len(plans),  # today's plan: must not be what is learned from
                "created_at": [START] * len(plans),
                "traits": ["{}"] * len(plans),
            },
            schema=FRAME_SCHEMAS["accounts"],
        ),
        events=pa.table(
            {
                "person_id": [e[0] for e in event_rows],
                "name": [e[1] for e in event_rows],
                "timestamp": [e[2] for e in event_rows],
                "properties": [json.dumps(e[3]) for e in event_rows],
                "context": ["{}"] * len(event_rows),
            },
            schema=FRAME_SCHEMAS["events"],
        ),
        plan_changes=pa.table(
            {
                "account_id": list(plans),
                "plan": list(plans.values()),
                "at": [START] * len(plans),
            }
        ),
        reached=reached,
        target="customer",
    )
