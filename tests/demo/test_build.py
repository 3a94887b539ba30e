"""Building a demo workspace: the replay leaves a consistent, explainable history."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from winnow.demo.build import build_demo
from winnow.demo.world import build_world
from winnow.lifecycle import ACTIONS, RANK
from winnow.store.schema import accounts, people, rejected_messages, scores, stage_history
from winnow.store.workspaces import Workspace

SPEC = (Path(__file__).parents[2] / "examples" / "winnow.yaml").read_text(encoding="utf-8")
END = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_small_world_replays_into_a_consistent_workspace(
    conn: sa.Connection, workspace: Workspace
) -> None:
    world = build_world(3, people=250, accounts=75, end=END)
    report = build_demo(conn, workspace.id, world, SPEC)

    ws = workspace.id
    count = conn.execute(
        sa.select(sa.func.count()).select_from(people).where(people.c.workspace_id == ws)
    ).scalar_one()
    assert report.people == count >= 250
    assert report.messages == len(world.messages) and report.as_of == END
    # The broken release's messages were refused, and kept.
    kept = conn.execute(
        sa.select(sa.func.count())
        .select_from(rejected_messages)
        .where(rejected_messages.c.workspace_id == ws)
    ).scalar_one()
    assert report.rejected == kept == 12

    # Everyone is scored as of the end, with the published spec.
    scored = conn.execute(
        sa.select(scores.c.spec_version, scores.c.as_of).where(scores.c.workspace_id == ws)
    ).all()
    assert len(scored) == count and {s.spec_version for s in scored} == {1}

    history = conn.execute(
        sa.select(stage_history)
        .where(stage_history.c.workspace_id == ws)
        .order_by(stage_history.c.person_id, stage_history.c.at, stage_history.c.id)
    ).mappings()
    chains = defaultdict(list)
    for row in history:
        chains[row["person_id"]].append(row)
    by_rules = by_people = 0
    for person_id, moves in chains.items():
        assert moves[0]["cause"] == "fact:created" and moves[0]["from_stage"] is None
        for before, after in zip(moves, moves[1:], strict=False):
            # Each move starts where the previous one ended, and never goes back in time.
            assert after["from_stage"] == before["to_stage"], person_id
            assert after["at"] >= before["at"]
        for move in moves[1:]:
            if move["cause"].startswith("rule:") or move["cause"] == "fact:account.plan":
                by_rules += 1
                assert RANK[move["to_stage"]] > RANK[move["from_stage"]]
            elif move["cause"].startswith("user:"):
                by_people += 1
                legal = [a for a, (to, sources) in ACTIONS.items() if to == move["to_stage"]]
                assert any(move["from_stage"] in ACTIONS[a][1] for a in legal), move
    assert by_rules == report.moves_by_rules > 0
    assert by_people == report.moves_by_people > 0

    # Every stage the demo shows off is reached by someone.
    stages = {m["to_stage"] for moves in chains.values() for m in moves}
    assert {"mql", "pql", "sal", "sql", "nurture", "disqualified", "customer"} <= stages
    # A won deal was synced back: its account pays.
    won = conn.execute(
        sa.select(people.c.account_id)
        .join(stage_history, stage_history.c.person_id == people.c.id)
        .where(stage_history.c.workspace_id == ws, stage_history.c.cause.like("user:%"))
        .where(stage_history.c.to_stage == "customer")
    ).scalars()
    for account_id in won:
        plan = conn.execute(sa.select(accounts.c.plan).where(accounts.c.id == account_id))
        assert plan.scalar_one() == "paid"
