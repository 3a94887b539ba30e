"""Funnel benchmark: Winnow's analytics against hand-written DuckDB SQL, same data, same run.

    .venv/bin/python bench/funnel.py                 # 1M people, 20M events
    .venv/bin/python bench/funnel.py --quick         # 100k people, 2M events
    .venv/bin/python bench/funnel.py --json out.json

A seeded synthetic history (numpy; not measured): every person enters lead on a day of
the past year; 30% reach mql after 1-30 days, 45% of those are accepted (sal) by sales
within 3 days, the others nurtured or never reviewed; 60% of SALs reach sql, 50% of
SQLs an opportunity, 35% of those are won (customer) and the others lost with a reason.
Ten events a person on average (20M for 1M people), a fifth of them carrying a UTM
campaign (source, medium, name).

Contestants, each run REPEATS times alternately, timed by wall clock:

- winnow: `analytics.funnel.overall` (main path, all time) and
          `analytics.sources.by_touch` (lead -> customer by first-touch source), on
          Ibis over DuckDB, from the same Arrow tables.
- sql:    the same two answers in hand-written DuckDB SQL (first entries, "reached this
          stage or a later one", first touch by row_number()).

The script fails unless both give the same numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from winnow.analytics.funnel import PATHS, overall  # noqa: E402
from winnow.analytics.sources import by_touch  # noqa: E402

REPEATS = 3
START = np.datetime64("2025-01-01T00:00:00", "us")
DAY = np.timedelta64(86_400_000_000, "us")
SOURCES = np.array(["google", "linkedin", "newsletter", "partner", "g2"], dtype=object)
MEDIUMS = np.array(["cpc", "social", "email", "referral", "review"], dtype=object)


def generate(people: int, events: int, seed: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, people + 1)
    lead_at = START + (rng.uniform(0, 365, people) * DAY).astype("timedelta64[us]")
    columns: dict[str, list[Any]] = {k: [] for k in ("person_id", "to_stage", "at", "cause")}

    def add(mask: np.ndarray, stage: str, at: np.ndarray, cause: str) -> None:
        columns["person_id"].append(ids[mask])
        columns["to_stage"].append(np.full(mask.sum(), stage, dtype=object))
        columns["at"].append(at[mask])
        columns["cause"].append(np.full(mask.sum(), cause, dtype=object))

    def later(at: np.ndarray, low: float, high: float) -> np.ndarray:
        return at + (rng.uniform(low, high, people) * DAY).astype("timedelta64[us]")

    everyone = np.ones(people, dtype=bool)
    add(everyone, "lead", lead_at, "fact:created")
    mql = rng.random(people) < 0.30
    mql_at = later(lead_at, 1, 30)
    add(mql, "mql", mql_at, "rule:stages.mql")
    sal = mql & (rng.random(people) < 0.45)
    sal_at = later(mql_at, 0.1, 3)
    add(sal, "sal", sal_at, "user:rep")
    nurtured = mql & ~sal & (rng.random(people) < 0.5)
    add(nurtured, "nurture", sal_at, "user:rep")
    sql = sal & (rng.random(people) < 0.60)
    sql_at = later(sal_at, 1, 14)
    add(sql, "sql", sql_at, "user:rep")
    opportunity = sql & (rng.random(people) < 0.50)
    opp_at = later(sql_at, 1, 10)
    add(opportunity, "opportunity", opp_at, "user:rep")
    won = opportunity & (rng.random(people) < 0.35)
    close_at = later(opp_at, 5, 60)
    add(won, "customer", close_at, "user:rep")
    add(opportunity & ~won, "nurture", close_at, "user:rep")
    moves = pa.table(
        {
            "person_id": pa.array(np.concatenate(columns["person_id"]), pa.int64()),
            "from_stage": pa.nulls(sum(len(c) for c in columns["person_id"]), pa.string()),
            "to_stage": pa.array(np.concatenate(columns["to_stage"]), pa.string()),
            "at": pa.array(np.concatenate(columns["at"]), pa.timestamp("us")),
            "cause": pa.array(np.concatenate(columns["cause"]), pa.string()),
            "reason": pa.nulls(sum(len(c) for c in columns["person_id"]), pa.string()),
            "outcome": pa.nulls(sum(len(c) for c in columns["person_id"]), pa.string()),
        }
    )
    who = rng.integers(1, people + 1, events)
    at = lead_at[who - 1] + (rng.uniform(-20, 120, events) * DAY).astype("timedelta64[us]")
    tagged = rng.random(events) < 0.2
    pick = rng.integers(0, len(SOURCES), events)
    source = np.where(tagged, SOURCES[pick], None)
    medium = np.where(tagged, MEDIUMS[pick], None)
    campaign = np.where(tagged, np.char.add("c", (pick * 7 + who % 3).astype(str)), None)
    touches = pa.table(
        {
            "person_id": pa.array(who, pa.int64()),
            "at": pa.array(at, pa.timestamp("us")),
            "source": pa.array(source, pa.string()),
            "medium": pa.array(medium, pa.string()),
            "campaign": pa.array(campaign, pa.string()),
        }
    )
    return moves, touches


FUNNEL_SQL = """
WITH first AS (
  SELECT person_id, to_stage AS stage, min("at") AS "at" FROM moves GROUP BY 1, 2
), ranked AS (
  SELECT f.*, p.rank FROM first f JOIN path p ON p.stage = f.stage
), steps AS (
  SELECT e.person_id, e.rank,
         bool_or(l.person_id IS NOT NULL) AS reached
  FROM ranked e
  LEFT JOIN ranked l ON l.person_id = e.person_id AND l.rank > e.rank AND l."at" >= e."at"
  WHERE e.rank < (SELECT max(rank) FROM path)
  GROUP BY e.person_id, e.rank, e."at"
)
SELECT p.stage AS from_stage, count(*) AS entered, sum(reached::INT) AS reached
FROM steps s JOIN path p ON p.rank = s.rank
GROUP BY p.stage, p.rank ORDER BY p.rank
"""

SOURCES_SQL = """
WITH first AS (
  SELECT person_id, to_stage AS stage, min("at") AS "at" FROM moves GROUP BY 1, 2
), cohort AS (
  SELECT person_id, "at" AS e_at FROM first WHERE stage = 'lead'
), people AS (
  SELECT c.person_id, min(f."at") AS d_at
  FROM cohort c LEFT JOIN first f
    ON f.person_id = c.person_id AND f.stage = 'customer' AND f."at" >= c.e_at
  GROUP BY 1
), firsts AS (
  SELECT person_id, source, row_number() OVER (PARTITION BY person_id ORDER BY "at", source) AS n
  FROM touches WHERE source IS NOT NULL OR medium IS NOT NULL OR campaign IS NOT NULL
)
SELECT coalesce(t.source, '(none)') AS channel, count(*) AS entered,
       count(p.d_at) AS reached
FROM people p LEFT JOIN firsts t ON t.person_id = p.person_id AND t.n = 1
GROUP BY 1 ORDER BY entered DESC, channel
"""


def run_winnow(moves: pa.Table, touches: pa.Table) -> tuple[list[Any], list[Any]]:
    funnel = overall(moves, path=PATHS["main"])
    channels = by_touch(moves, touches, touch="first", level="source")
    return (
        [(r["from_stage"], r["entered"], r["reached"]) for r in funnel.to_pylist()],
        [(r["channel"], r["entered"], r["reached"]) for r in channels.to_pylist()],
    )


def run_sql(moves: pa.Table, touches: pa.Table) -> tuple[list[Any], list[Any]]:
    con = duckdb.connect()
    path = pa.table({"stage": list(PATHS["main"]), "rank": list(range(len(PATHS["main"])))})
    con.register("moves", moves)
    con.register("touches", touches)
    con.register("path", path)
    funnel = [(s, int(e), int(r)) for s, e, r in con.execute(FUNNEL_SQL).fetchall()]
    channels = [(c, int(e), int(r)) for c, e, r in con.execute(SOURCES_SQL).fetchall()]
    con.close()
    return funnel, channels


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, help="default 1,000,000 (--quick: 100,000)")
    parser.add_argument("--events", type=int, help="default 20,000,000 (--quick: 2,000,000)")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    people = args.people or (100_000 if args.quick else 1_000_000)
    events = args.events or (2_000_000 if args.quick else 20_000_000)
    started = time.perf_counter()
    moves, touches = generate(people, events, args.seed)
    print(
        f"{people:,} people, {moves.num_rows:,} moves, {events:,} events"
        f" ({int(touches['source'].null_count):,} without a campaign);"
        f" generated in {time.perf_counter() - started:.1f} s (not measured)"
    )
    timings: dict[str, list[float]] = {"winnow": [], "sql": []}
    answers: dict[str, Any] = {}
    for _ in range(args.repeats):
        for name, contestant in (("winnow", run_winnow), ("sql", run_sql)):
            begun = time.perf_counter()
            answers[name] = contestant(moves, touches)
            timings[name].append(time.perf_counter() - begun)
    if answers["winnow"] != answers["sql"]:
        print("FAIL: winnow and sql disagree", answers, file=sys.stderr)
        return 1
    winnow, sql = (statistics.median(timings[k]) for k in ("winnow", "sql"))
    print(f"winnow  {winnow:6.2f} s  (median of {args.repeats}: funnel + first-touch sources)")
    print(f"sql     {sql:6.2f} s")
    print(f"winnow/sql {winnow / sql:.2f}x; both agree on every figure")
    print("funnel:", answers["sql"][0])
    if args.json:
        figures = {"people": people, "events": events, "moves": moves.num_rows,
                   "timings": timings, "answers": answers}  # fmt: skip
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
