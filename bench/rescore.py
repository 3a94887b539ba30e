"""Rescoring benchmark: Winnow's engine against hand-written DuckDB SQL and pandas.

    .venv/bin/python bench/rescore.py                      # 100k people / 5M events
    .venv/bin/python bench/rescore.py --quick              # 10k / 300k smoke run
    .venv/bin/python bench/rescore.py --json out.json --profile

One synthetic world (numpy, seeded) is written once to a DuckDB file; generation is not
measured. Each contestant then runs in its own fresh process (this script again, with
--contestant) and loads the world into memory; the parent then has them rescore
everyone REPEATS times, round-robin, so that other load on the machine falls on all
three alike:

- winnow: the spec's plan over in-memory DuckDB tables, compiled to SQL once before
          timing (as Winnow does: compiled plans are cached per spec) and rendered for
          the instant in each run.
- sql:    one hand-written DuckDB query (one pass over events, FILTER aggregates,
          json_extract_string), the ceiling Winnow is measured against.
- pandas: vectorised pandas (boolean masks, groupby, merge, JSON parsed with
          pd.read_json(lines=True, engine="pyarrow") for the rows that need it).

All three compute fit = sum of points of the fit rules that hold, and engagement =
sum over rules of clamp(points * sum(0.5 ** (age_days / 30)), -max, max) over events at
or before AS_OF. The script exits non-zero unless they agree on every person's fit,
engagement and score: |a - b| <= 1e-6 * max(1, |a|, |b|).

Wall time and CPU time (all threads of the process) are taken around each rescore.
Memory, per contestant process, from /proc/self/status: "ready" is VmRSS once the data
is loaded (DuckDB tables or DataFrames), "peak" is the highest VmHWM over the timed runs,
the high-water mark being reset (/proc/self/clear_refs) just before each run. Peak thus
includes the resident data; peak - ready is what scoring itself added.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

AS_OF = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF_EPOCH = int(AS_OF.timestamp())
HALF_LIFE_DAYS = 30
REPEATS = 3
TOLERANCE = 1e-6
THREADS = len(os.sched_getaffinity(0))
CONTESTANTS = ("winnow", "sql", "pandas")

TARGET_INDUSTRIES = ("Software", "Fintech", "E-commerce", "Media")
TARGET_COUNTRIES = ("US", "GB", "DE", "JP", "FR", "CA", "AU", "NL")
DECISION_MAKER = r"(?i)\b(vp|head|director|chief|founder)\b"

# The expression language reads "..." like a Python literal: the regex's \b is \\b there.
DECISION_MAKER_LITERAL = DECISION_MAKER.replace("\\", "\\\\")
SPEC = rf"""
version: 1
lists:
  target_industries: {list(TARGET_INDUSTRIES)}
  target_countries: {list(TARGET_COUNTRIES)}
fit:
  rules:
    - {{name: decision maker, points: 20,
        when: 'matches(person.title, "{DECISION_MAKER_LITERAL}")'}}
    - {{name: student, when: 'contains(lower(person.title), "student")', points: -30}}
    - {{name: target industry, when: 'account.industry in target_industries', points: 15}}
    - {{name: company size, points: 15,
        when: 'account.employees >= 50 and account.employees <= 2000'}}
    - {{name: tiny company, when: 'account.employees < 10', points: -10}}
    - {{name: target country, when: 'account.country in target_countries', points: 5}}
engagement:
  half_life: {HALF_LIFE_DAYS}d
  rules:
    - {{name: email clicked, event: Email Clicked, points: 4, max: 20}}
    - {{name: webinar attended, event: Webinar Attended, where: 'properties.minutes >= 30',
        points: 12, max: 36}}
    - {{name: whitepaper, event: Content Downloaded, where: 'properties.type == "whitepaper"',
        points: 8, max: 24}}
    - {{name: pricing page, event: Page Viewed,
        where: 'starts_with(properties.path, "/pricing")', points: 10, max: 40}}
    - {{name: docs reading, event: Page Viewed,
        where: 'starts_with(properties.path, "/docs")', points: 2, max: 12}}
    - {{name: demo requested, event: Demo Requested, points: 40}}
    - {{name: trial started, event: Trial Started, points: 15}}
    - {{name: unsubscribed, event: Unsubscribed, points: -40}}
stages:
  customer_plans: []
"""

# -- the synthetic world ----------------------------------------------------------------------
INDUSTRIES = [*TARGET_INDUSTRIES, "Healthcare", "Retail", "Education", "Manufacturing",
              "Logistics", "Government", "Energy", "Legal"]  # fmt: skip
COUNTRIES = [*TARGET_COUNTRIES, "BR", "IN", "MX", "ES", "IT", "SE", "PL"]
TITLES = ["VP of Sales", "Head of Marketing", "Director of IT", "Chief Technology Officer",
          "Founder & CEO", "Software Engineer", "Marketing Manager", "Student",
          "PhD student", "Headhunter", "Data Analyst", "Account Executive", "Co-founder",
          "vp engineering", "Product Manager", "Intern"]  # fmt: skip
EVENT_MIX = {"Page Viewed": 40, "Email Opened": 14, "Feature Used": 14, "Messages Sent": 10,
             "Email Clicked": 6, "Signed In": 6, "Content Downloaded": 4,
             "Webinar Registered": 2, "Webinar Attended": 1.5, "Form Submitted": 1,
             "Demo Requested": 0.5, "Trial Started": 0.5, "Unsubscribed": 0.5}  # fmt: skip
PATHS = ["/", "/pricing", "/pricing/enterprise", "/docs", "/docs/api", "/docs/getting-started",
         "/blog/launch", "/blog/scoring", "/careers", "/about", "/customers"]  # fmt: skip


def raw_profiles(rng: np.random.Generator, n_people: int) -> tuple[pa.Table, pa.Table, Any]:
    """Raw accounts and people (turned into FRAME_SCHEMAS rows by ACCOUNTS_SQL and
    PEOPLE_SQL), and each person's activity: their relative share of the events."""
    n_accounts = max(1, n_people // 5)

    def pick(options: list[str], size: int, missing: float = 0.0) -> pa.Array:
        codes = rng.integers(0, len(options), size)
        absent = rng.random(size) < missing
        return pa.array(np.array(options, dtype=object)[codes], mask=absent)

    employees = np.minimum(rng.lognormal(4.0, 1.8, n_accounts).astype(np.int64) + 1, 100_000)
    raw_accounts = pa.table(
        {
            "id": np.arange(1, n_accounts + 1),
            "industry": pick(INDUSTRIES, n_accounts, 0.05),
            "employees": pa.array(employees, mask=rng.random(n_accounts) < 0.05),
            "country": pick(COUNTRIES, n_accounts, 0.05),
            "plan": pick(["free", "trial", "paid"], n_accounts),
        }
    )
    account_ids = rng.integers(1, n_accounts + 1, n_people)
    raw_people = pa.table(
        {
            "id": np.arange(1, n_people + 1),
            "account_id": pa.array(account_ids, mask=rng.random(n_people) < 0.15),
            "title": pick(TITLES, n_people, 0.1),
            "free_email": rng.random(n_people) < 0.2,
        }
    )
    activity = rng.lognormal(0.0, 1.3, n_people)
    return raw_accounts, raw_people, activity


def raw_events(rng: np.random.Generator, n_events: int, activity: Any) -> pa.Table:
    """Raw events of the people whose activity is given (EVENTS_SQL makes them rows)."""
    names = np.array(list(EVENT_MIX), dtype=object)
    mix = np.array(list(EVENT_MIX.values()))
    ages = rng.integers(0, 365 * 86400, n_events)
    future = rng.random(n_events) < 0.005  # after AS_OF: every contestant must skip them
    return pa.table(
        {
            "person_id": rng.choice(len(activity), n_events, p=activity / activity.sum()) + 1,
            "name": names[rng.choice(len(names), n_events, p=mix / mix.sum())],
            "ts": np.where(future, AS_OF_EPOCH + ages // 12, AS_OF_EPOCH - ages),
            "v": rng.integers(0, 1_000_000, n_events),
        }
    )


# SELECTs over the raw tables registered as raw_accounts, raw_people and raw_events.
ACCOUNTS_SQL = """
    SELECT
        id::BIGINT AS id, 'g' || id AS group_id, 'Account ' || id AS name,
        'acct' || id || '.example' AS domain, plan,
        TIMESTAMP '2024-01-01' + to_days(id::INTEGER % 700) AS created_at,
        '{' || concat_ws(', ',
            '"industry": "' || industry || '"', '"employees": ' || employees,
            '"country": "' || country || '"') || '}' AS traits
    FROM raw_accounts ORDER BY id
"""
PEOPLE_SQL = """
    SELECT
        id::BIGINT AS id, account_id::BIGINT AS account_id,
        'person' || id || '@' || email_domain AS email, email_domain,
        'u' || id AS user_id, NULL::VARCHAR AS owner,
        TIMESTAMP '2025-01-01' + to_days(id::INTEGER % 300) AS created_at,
        'new' AS stage, NULL::TIMESTAMP AS recycled_at,
        '{' || concat_ws(', ', '"title": "' || title || '"',
            '"lead_source": "' || ['webinar', 'ads', 'organic'][1 + id % 3] || '"')
            || '}' AS traits
    FROM (
        SELECT *,
            CASE WHEN free_email THEN 'gmail.com'
                 ELSE 'acct' || coalesce(account_id, 0) || '.example' END AS email_domain
        FROM raw_people
    ) ORDER BY id
"""
EVENTS_SQL = f"""
    SELECT
        person_id::BIGINT AS person_id, name,
        make_timestamp(ts * 1000000) AS "timestamp",
        CASE name
            WHEN 'Page Viewed' THEN '{{"path": "' || {PATHS}[1 + v % {len(PATHS)}]
                || '", "referrer": "' || ['google', 'direct', 'newsletter'][1 + v % 3] || '"}}'
            WHEN 'Content Downloaded' THEN '{{"type": "'
                || ['whitepaper', 'case_study', 'ebook'][1 + v % 3]
                || '", "asset": "asset-' || v % 40 || '"}}'
            WHEN 'Webinar Attended' THEN '{{"webinar": "w' || v % 20
                || '", "minutes": ' || 1 + v % 90 || '}}'
            WHEN 'Messages Sent' THEN '{{"count": ' || 1 + v % 40 || '}}'
            WHEN 'Email Opened' THEN '{{"campaign": "c' || v % 50 || '"}}'
            WHEN 'Email Clicked' THEN '{{"campaign": "c' || v % 50 || '"}}'
            ELSE '{{}}'
        END AS properties,
        '{{"library": {{"name": "analytics.js", "version": "4.1.' || v % 7
            || '"}}, "ip": "198.51.100.' || v % 256 || '", "locale": "en-US"}}' AS context
    FROM raw_events ORDER BY ts, person_id, v
"""


def generate(path: Path, n_people: int, n_events: int, seed: int) -> None:
    """Write people, accounts and events (FRAME_SCHEMAS columns) to a DuckDB file."""
    rng = np.random.default_rng(seed)
    accounts, people, activity = raw_profiles(rng, n_people)
    events = raw_events(rng, n_events, activity)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.register("raw_accounts", accounts)
    con.register("raw_people", people)
    con.register("raw_events", events)
    con.execute(f"""
        CREATE TABLE accounts AS {ACCOUNTS_SQL};
        CREATE TABLE people AS {PEOPLE_SQL};
        CREATE TABLE events AS {EVENTS_SQL};
    """)
    con.close()


# -- contestant 1: Winnow ------------------------------------------------------------------
def winnow_scorer(con: Any) -> Any:
    """A function rescoring everyone with Winnow; the spec is loaded once, outside timing."""
    # Imported here, not at the top, to keep Ibis out of the other contestants' memory.
    from winnow.engine.run import FRAME_SCHEMAS, _run_duckdb, source_tables
    from winnow.engine.sqlplan import sql_plan
    from winnow.spec import load_spec

    spec = load_spec(SPEC)
    inputs = source_tables("", FRAME_SCHEMAS)
    plan = sql_plan(spec, lambda: inputs, dialect="duckdb", recycling=False, key="bench")

    def score(profile: dict[str, float] | None = None) -> pa.Table:
        if profile is not None:
            return _profiled_winnow(con, spec, inputs, profile)
        table = _run_duckdb(con, plan.render(as_of=AS_OF, workspace_id=0, prefix="bench"))
        return table.select(["id", "fit", "engagement"])

    return score


def _profiled_winnow(con: Any, spec: Any, inputs: Any, profile: dict[str, float]) -> pa.Table:
    """score_duckdb's run_plan, statement by statement, timing each one.

    Steps DuckDB keeps as views cost nothing here; their work shows in the step that
    reads them.
    """
    import ibis

    from winnow.engine.compile import compile_scores

    started = time.perf_counter()
    plan = compile_scores(spec, inputs, as_of=AS_OF, recycling=False, prefix="bench")
    steps = [
        ("TABLE" if s.materialize else "VIEW", s.name, str(ibis.to_sql(s.table, dialect="duckdb")))
        for s in plan.steps
    ]
    final = str(ibis.to_sql(plan.final, dialect="duckdb"))
    profile["compile + to_sql"] = time.perf_counter() - started
    for kind, name, sql in steps:
        started = time.perf_counter()
        con.execute(f'CREATE TEMP {kind} "{name}" AS {sql}')
        profile[f"{kind.lower()} {name.removeprefix('bench_')}"] = time.perf_counter() - started
    started = time.perf_counter()
    table = con.sql(final).to_arrow_table()
    profile["final query + fetch"] = time.perf_counter() - started
    for kind, name, _ in reversed(steps):
        con.execute(f'DROP {kind} "{name}"')
    return table.select(["id", "fit", "engagement"])


# -- contestant 2: hand-written SQL --------------------------------------------------------
RULE_EVENTS = ("Email Clicked", "Webinar Attended", "Content Downloaded", "Page Viewed",
               "Demo Requested", "Trial Started", "Unsubscribed")  # fmt: skip


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


HAND_WRITTEN_SQL = f"""
WITH weighted AS (
    SELECT person_id, name, properties,
           pow(0.5, ({AS_OF_EPOCH} - epoch("timestamp")) / {HALF_LIFE_DAYS * 86400}) AS w
    FROM events
    WHERE "timestamp" <= TIMESTAMP '{AS_OF:%Y-%m-%d %H:%M:%S}'
      AND name IN ({_sql_list(RULE_EVENTS)})
), engagement AS (
    SELECT person_id,
        sum(w) FILTER (WHERE name = 'Email Clicked') AS email_clicked,
        sum(w) FILTER (WHERE name = 'Webinar Attended'
            AND json_extract_string(properties, '$.minutes')::DOUBLE >= 30) AS webinar,
        sum(w) FILTER (WHERE name = 'Content Downloaded'
            AND json_extract_string(properties, '$.type') = 'whitepaper') AS whitepaper,
        sum(w) FILTER (WHERE name = 'Page Viewed'
            AND starts_with(json_extract_string(properties, '$.path'), '/pricing')) AS pricing,
        sum(w) FILTER (WHERE name = 'Page Viewed'
            AND starts_with(json_extract_string(properties, '$.path'), '/docs')) AS docs,
        sum(w) FILTER (WHERE name = 'Demo Requested') AS demo,
        sum(w) FILTER (WHERE name = 'Trial Started') AS trial,
        sum(w) FILTER (WHERE name = 'Unsubscribed') AS unsubscribed
    FROM weighted
    GROUP BY person_id
), profile AS (
    SELECT p.id,
        json_extract_string(p.traits, '$.title') AS title,
        json_extract_string(a.traits, '$.industry') AS industry,
        json_extract_string(a.traits, '$.employees')::DOUBLE AS employees,
        json_extract_string(a.traits, '$.country') AS country
    FROM people p LEFT JOIN accounts a ON a.id = p.account_id
)
SELECT f.id,
    (CASE WHEN regexp_matches(title, '{DECISION_MAKER}') THEN 20 ELSE 0 END
     + CASE WHEN contains(lower(title), 'student') THEN -30 ELSE 0 END
     + CASE WHEN industry IN ({_sql_list(TARGET_INDUSTRIES)}) THEN 15 ELSE 0 END
     + CASE WHEN employees BETWEEN 50 AND 2000 THEN 15 ELSE 0 END
     + CASE WHEN employees < 10 THEN -10 ELSE 0 END
     + CASE WHEN country IN ({_sql_list(TARGET_COUNTRIES)}) THEN 5 ELSE 0 END
    )::DOUBLE AS fit,
    least(coalesce(email_clicked, 0) * 4, 20)
    + least(coalesce(webinar, 0) * 12, 36)
    + least(coalesce(whitepaper, 0) * 8, 24)
    + least(coalesce(pricing, 0) * 10, 40)
    + least(coalesce(docs, 0) * 2, 12)
    + coalesce(demo, 0) * 40
    + coalesce(trial, 0) * 15
    + coalesce(unsubscribed, 0) * -40 AS engagement
FROM profile f LEFT JOIN engagement e ON e.person_id = f.id
"""


def score_sql(con: Any) -> pa.Table:
    return con.sql(HAND_WRITTEN_SQL).to_arrow_table()


# -- contestant 3: pandas ------------------------------------------------------------------
def _json_columns(documents: pd.Series, keys: list[str]) -> pd.DataFrame:
    """JSON text -> one column per key, aligned with `documents` (pyarrow's C++ parser)."""
    ndjson = documents.str.cat(sep="\n").encode()
    parsed = pd.read_json(io.BytesIO(ndjson), lines=True, engine="pyarrow")
    return parsed.reindex(columns=keys).set_axis(documents.index)


def score_pandas(people: pd.DataFrame, accounts: pd.DataFrame, events: pd.DataFrame) -> Any:
    person = _json_columns(people["traits"], ["title"])
    account = _json_columns(accounts["traits"], ["industry", "employees", "country"])
    account["account_id"] = accounts["id"]
    profile = pd.concat([people[["id", "account_id"]], person], axis=1).merge(
        account, on="account_id", how="left"
    )
    title = profile["title"].astype("str")
    fit_rules = [
        (title.str.contains(DECISION_MAKER, regex=True, na=False), 20),
        (title.str.lower().str.contains("student", regex=False, na=False), -30),
        (profile["industry"].isin(TARGET_INDUSTRIES), 15),
        (profile["employees"].between(50, 2000), 15),
        (profile["employees"] < 10, -10),
        (profile["country"].isin(TARGET_COUNTRIES), 5),
    ]
    fit = sum(np.where(holds.fillna(False), points, 0.0) for holds, points in fit_rules)

    as_of = pd.Timestamp(AS_OF.replace(tzinfo=None))
    ev = events.loc[
        (events["timestamp"] <= as_of) & events["name"].isin(RULE_EVENTS),
        ["person_id", "name", "timestamp", "properties"],
    ]
    age_days = (as_of - ev["timestamp"]).dt.total_seconds() / 86400
    weight = 0.5 ** (age_days / HALF_LIFE_DAYS)
    name = ev["name"]
    needs_properties = name.isin(["Webinar Attended", "Content Downloaded", "Page Viewed"])
    props = _json_columns(ev.loc[needs_properties, "properties"], ["minutes", "type", "path"])
    props = props.reindex(ev.index)
    path = props["path"].astype("str")
    engagement_rules = [  # (matches, points, max)
        (name == "Email Clicked", 4, 20),
        ((name == "Webinar Attended") & (props["minutes"] >= 30), 12, 36),
        ((name == "Content Downloaded") & (props["type"] == "whitepaper"), 8, 24),
        ((name == "Page Viewed") & path.str.startswith("/pricing", na=False), 10, 40),
        ((name == "Page Viewed") & path.str.startswith("/docs", na=False), 2, 12),
        (name == "Demo Requested", 40, None),
        (name == "Trial Started", 15, None),
        (name == "Unsubscribed", -40, None),
    ]
    contributions = []
    for matches, points, cap in engagement_rules:
        matches = matches.fillna(False).astype(bool)
        total = weight[matches].groupby(ev.loc[matches, "person_id"]).sum() * points
        contributions.append(total if cap is None else total.clip(-cap, cap))
    engagement = pd.concat(contributions, axis=1).sum(axis=1)
    return pd.DataFrame(
        {
            "id": people["id"].to_numpy(),
            "fit": fit,
            "engagement": engagement.reindex(people["id"], fill_value=0.0).to_numpy(),
        }
    )


# -- one contestant, in its own process ----------------------------------------------------
def _memory_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1])


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


def run_contestant(name: str, data: Path, out: Path, profile: bool) -> None:
    """Load the world, then serve the parent's commands on stdin: "run" times one rescore,
    "finish" writes the scores to `out` (and profiles Winnow's plan) and exits."""
    source = duckdb.connect(str(data), read_only=True)
    if name == "pandas":
        tables = ("people", "accounts", "events")
        frames = {t: source.sql(f"SELECT * FROM {t}").df() for t in tables}
        source.close()

        def score() -> pa.Table:
            return pa.Table.from_pandas(score_pandas(**frames), preserve_index=False)
    else:
        source.close()
        con = duckdb.connect()
        con.execute(f"SET threads = {THREADS}")
        con.execute(f"ATTACH '{data}' AS source (READ_ONLY)")
        for table in ("people", "accounts", "events"):
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM source.{table}")
        con.execute("DETACH source")
        score = winnow_scorer(con) if name == "winnow" else lambda: score_sql(con)

    gc.collect()
    _reply({"ready_mb": _memory_kb("VmRSS") / 1024})
    for command in sys.stdin:
        if command.strip() == "run":
            _reset_peak()
            started, cpu = time.perf_counter(), time.process_time()
            result = score()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            _reply({"time": elapsed, "cpu": cpu, "peak_mb": _memory_kb("VmHWM") / 1024})
            del result
            gc.collect()
            continue
        steps: dict[str, float] = {}
        for _ in range(REPEATS if profile and name == "winnow" else 0):
            run: dict[str, float] = {}
            score(run)
            steps = {step: min(seconds, steps.get(step, seconds)) for step, seconds in run.items()}
        pq.write_table(score().sort_by("id"), out)
        _reply({"steps": steps})
        return


def _reply(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


# -- the parent: generate, run each contestant, compare, report ----------------------------
def compare(results: dict[str, pa.Table]) -> dict[str, Any]:
    """Largest differences of each contestant from Winnow, per column."""
    base = results["winnow"]
    found: dict[str, Any] = {}
    for other, table in results.items():
        if other == "winnow":
            continue
        if table.column("id").to_pylist() != base.column("id").to_pylist():
            raise SystemExit(f"FAIL: {other} scored a different set of people than winnow")
        for column in ("fit", "engagement", "score"):
            a, b = (_column(base, column), _column(table, column))
            diff = np.abs(a - b)
            relative = diff / np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
            found[f"{other}.{column}"] = {"abs": float(diff.max()), "rel": float(relative.max())}
    return found


def _column(table: pa.Table, column: str) -> np.ndarray:
    if column == "score":
        return _column(table, "fit") + _column(table, "engagement")
    return table.column(column).to_numpy(zero_copy_only=False).astype(np.float64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="10k people / 300k events")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--profile", action="store_true", help="time each step of Winnow's plan")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--contestant", choices=CONTESTANTS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contestant:
        run_contestant(args.contestant, args.data, args.out, args.profile)
        return 0
    if args.quick:
        args.people, args.events = 10_000, 300_000

    print(f"{args.people:,} people / {args.events:,} events, seed {args.seed}, as of {AS_OF:%F}")
    with tempfile.TemporaryDirectory(prefix="winnow-bench-") as workdir:
        reports, results = run_all(args, Path(workdir))
    differences = compare(results)
    worst = max(d["rel"] for d in differences.values())
    print_report(reports, differences, results["winnow"])
    if args.json:
        figures = {"people": args.people, "events": args.events, "seed": args.seed}
        figures |= {"threads": THREADS, "contestants": reports, "differences": differences}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if worst > TOLERANCE:
        print(f"FAIL: contestants disagree (max relative difference {worst:.3g})")
        return 1
    return 0


def run_all(args: Any, workdir: Path) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    """Generate the world, start one process per contestant, time them in rounds.

    Round-robin (winnow, sql, pandas, winnow, ...) so that load from anything else on
    the machine falls on every contestant alike.
    """
    data = workdir / "world.duckdb"
    started = time.perf_counter()
    generate(data, args.people, args.events, args.seed)
    print(f"generated in {time.perf_counter() - started:.1f}s (not measured); {THREADS} threads")
    commands = {
        name: [
            sys.executable, str(Path(__file__).resolve()), "--contestant", name,
            "--data", str(data), "--out", str(workdir / f"{name}.parquet"),
            *(["--profile"] if args.profile else []),
        ]
        for name in CONTESTANTS
    }  # fmt: skip
    reports = rounds(commands, args.repeats, workdir)
    return reports, {name: pq.read_table(workdir / f"{name}.parquet") for name in CONTESTANTS}


def rounds(
    commands: dict[str, list[str]],
    repeats: int,
    workdir: Path,
    on_run: Any = None,
) -> dict[str, dict[str, Any]]:
    """Start one process per contestant, have each rescore `repeats` times round-robin,
    and gather their reports (times, CPU and peak memory as lists, one entry a run)."""
    processes = {}
    for name, command in commands.items():
        errors = (workdir / f"{name}.stderr").open("w")
        processes[name] = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    reports = {name: _listen(name, p, workdir) | {"runs": []} for name, p in processes.items()}
    for _ in range(repeats):
        for name, process in processes.items():
            run = _ask(name, process, "run", workdir)
            reports[name]["runs"].append(run)
            if on_run is not None:
                on_run(name, run)
    for name, process in processes.items():
        reports[name] |= _ask(name, process, "finish", workdir)
        process.wait()
    for report in reports.values():
        runs = report.pop("runs")
        report |= {key: [run[key] for run in runs] for key in ("time", "cpu", "peak_mb")}
    return reports


def _ask(name: str, process: Any, command: str, workdir: Path) -> dict[str, Any]:
    process.stdin.write(command + "\n")
    process.stdin.flush()
    return _listen(name, process, workdir)


def _listen(name: str, process: Any, workdir: Path) -> dict[str, Any]:
    line = process.stdout.readline()
    if not line:
        print((workdir / f"{name}.stderr").read_text(), file=sys.stderr)
        raise SystemExit(f"FAIL: contestant {name} exited with {process.wait()}")
    reply: dict[str, Any] = json.loads(line)
    return reply


def print_report(reports: dict[str, Any], diffs: dict[str, Any], base: Any) -> None:
    fit, engagement = _column(base, "fit"), _column(base, "engagement")
    print(
        f"\nscores: mean fit {fit.mean():.2f}, mean engagement {engagement.mean():.2f}, "
        f"{(engagement != 0).mean():.0%} of people engaged, {(fit != 0).mean():.0%} with fit"
    )
    print(
        f"\n{'contestant':<10} {'best s':>7} {'median s':>8} {'cpu s':>6} {'ready MB':>8}"
        f" {'peak MB':>7} {'peak-ready':>10}   wall time of each run"
    )
    for name, r in reports.items():
        peak = max(r["peak_mb"])
        print(
            f"{name:<10} {min(r['time']):>7.3f} {statistics.median(r['time']):>8.3f}"
            f" {statistics.median(r['cpu']):>6.2f} {r['ready_mb']:>8.0f} {peak:>7.0f}"
            f" {peak - r['ready_mb']:>10.0f}   {' '.join(f'{t:.3f}' for t in r['time'])}"
        )
    print()
    winnow = reports["winnow"]
    for other, target in (("sql", 1.5), ("pandas", 1.0)):
        best = min(winnow["time"]) / min(reports[other]["time"])
        median = statistics.median(winnow["time"]) / statistics.median(reports[other]["time"])
        verdict = "met" if median <= target else "MISSED"
        print(
            f"winnow / {other:<6}  best {best:5.2f}x  median {median:5.2f}x"
            f"   (target <= {target}x on the median: {verdict})"
        )
    print("\nagreement with winnow (max abs / max rel difference):")
    for key, d in diffs.items():
        print(f"  {key:<18} {d['abs']:.3g} / {d['rel']:.3g}")
    steps = reports["winnow"]["steps"]
    if steps:
        print("\nwinnow plan, best of the profiled runs:")
        for step, seconds in steps.items():
            print(f"  {step:<28} {seconds:7.3f}s")
    if not math.isfinite(fit.sum() + engagement.sum()):
        raise SystemExit("FAIL: non-finite scores")


if __name__ == "__main__":
    sys.exit(main())
