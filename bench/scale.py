"""Scaling curve of full rescoring: Winnow against hand-written DuckDB SQL, 10k to 1M people.

    .venv/bin/python bench/scale.py                               # 10k, 100k, 1M people
    .venv/bin/python bench/scale.py --sizes 10k,100k              # the quick part
    .venv/bin/python bench/scale.py --data /var/tmp/winnow-scale  # keep the worlds for next time
    .venv/bin/python bench/scale.py --sizes 10k,100k --engine spark --json out.json

Each size is a world of people with about --events-per-person events each (so 50M events
at 1M people), from rescore.py's seeded generator: people and accounts in one go, the
events in chunks of CHUNK_EVENTS written straight to Parquet files, so that no process
ever holds all the events. Worlds live in --data (reused when already complete) or in a
temporary directory removed at the end (unless --keep); generating is not measured.

Every contestant scores from disk: a fresh process per size and contestant opens an
in-memory DuckDB whose views `people`, `accounts` and `events` read the Parquet files,
and rescores everyone --repeats times (round-robin with the other contestants):

- winnow: `score_duckdb(con, spec, inputs, as_of=...)` with Ibis tables naming the views,
          spec compile and SQL rendering included in the time, as a caller pays them.
- sql:    rescore.py's hand-written DuckDB query over the same views: the ceiling.
- spark:  (--engine spark, at most MAX_SPARK_PEOPLE people) winnow.engine.spark's
          score_spark on a local SparkSession over DataFrames reading the same files.

Peak memory is the process's VmHWM over the timed runs (reset through
/proc/self/clear_refs before each), so it includes DuckDB's buffers, Python, Ibis and the
fetched result (for Spark, the Python driver's and the JVM's added up). Every contestant
must agree with Winnow on every person's fit, engagement and score as in rescore.py, or
the script exits 1.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rescore import (
    ACCOUNTS_SQL,
    AS_OF,
    EVENTS_SQL,
    HAND_WRITTEN_SQL,
    PEOPLE_SQL,
    SPEC,
    THREADS,
    TOLERANCE,
    _memory_kb,
    _reply,
    compare,
    raw_events,
    raw_profiles,
    rounds,
)

# 5M events a chunk: the 100k-people world is then exactly rescore.py's default one.
CHUNK_EVENTS = 5_000_000
MAX_SPARK_PEOPLE = 100_000
SPARK_DRIVER_MEMORY = "2g"
TARGET_SECONDS = 60.0  # at 1M people / 50M events
TARGET_PEAK_GB = 4.0
WORLD_VERSION = 1  # bump when the generated data changes, so kept worlds are redone
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}


# -- worlds on disk --------------------------------------------------------------------------
def world_path(root: Path, people: int, events: int, seed: int) -> Path:
    return root / f"world-{people}p-{events}e-seed{seed}"


def ensure_world(path: Path, people: int, events: int, seed: int) -> float:
    """Generate the world unless a complete one is there; seconds spent (0 when reused)."""
    marker = path / "world.json"
    wanted = {"version": WORLD_VERSION, "people": people, "events": events, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return 0.0
    started = time.perf_counter()
    shutil.rmtree(path, ignore_errors=True)
    (path / "events").mkdir(parents=True)
    rng = np.random.default_rng(seed)
    accounts, persons, activity = raw_profiles(rng, people)
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.register("raw_accounts", accounts)
    con.register("raw_people", persons)
    con.execute(f"COPY ({ACCOUNTS_SQL}) TO '{path / 'accounts.parquet'}' (FORMAT parquet)")
    con.execute(f"COPY ({PEOPLE_SQL}) TO '{path / 'people.parquet'}' (FORMAT parquet)")
    del accounts, persons
    for chunk, start in enumerate(range(0, events, CHUNK_EVENTS)):
        con.register("raw_events", raw_events(rng, min(CHUNK_EVENTS, events - start), activity))
        target = path / "events" / f"part-{chunk:04d}.parquet"
        con.execute(f"COPY ({EVENTS_SQL}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        con.unregister("raw_events")
    con.close()
    # Written last: a world cut short by an interruption is generated again next time.
    marker.write_text(json.dumps(wanted) + "\n")
    return time.perf_counter() - started


def open_world(world: Path, scratch: Path) -> Any:
    """An in-memory DuckDB whose views people, accounts and events read the world's files."""
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    # Spills (if any) go to the run's scratch directory rather than the working directory;
    # row order is irrelevant to scoring, and keeping it costs memory in DuckDB's sinks.
    con.execute(f"SET temp_directory = '{scratch}'")
    con.execute("SET preserve_insertion_order = false")
    files = {
        "people": world / "people.parquet",
        "accounts": world / "accounts.parquet",
        "events": world / "events" / "*.parquet",
    }
    for view, pattern in files.items():
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{pattern}')")
    return con


# -- the contestants, each in its own process ------------------------------------------------
def winnow_scorer(con: Any) -> Any:
    # Imported here, not at the top, to keep Ibis out of the other contestants' memory.
    from winnow.engine.run import FRAME_SCHEMAS, score_duckdb, source_tables
    from winnow.spec import load_spec

    spec = load_spec(SPEC)
    # Unbound tables named after the views: `people`, `accounts`, `events`.
    inputs = source_tables("", FRAME_SCHEMAS)

    def score() -> pa.Table:
        table, _ = score_duckdb(con, spec, inputs, as_of=AS_OF, recycling=False)
        return table.select(["id", "fit", "engagement"])

    return score


def spark_scorer(world: Path) -> Any:
    """winnow.engine.spark's score_spark over DataFrames reading the same Parquet files."""
    from pyspark.sql import SparkSession

    from winnow.engine.spark import score_spark
    from winnow.spec import load_spec

    spec = load_spec(SPEC)
    # Local mode on the same cores as DuckDB; Winnow's instants are naive UTC, so the
    # session runs in UTC (score_spark insists). The driver holds all of Spark here.
    session = (
        SparkSession.builder.master(f"local[{THREADS}]")
        .appName("winnow-bench-scale")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", SPARK_DRIVER_MEMORY)
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    paths = {
        "people": world / "people.parquet",
        "accounts": world / "accounts.parquet",
        "events": world / "events",
    }

    def score() -> pa.Table:
        frames = {kind: session.read.parquet(str(path)) for kind, path in paths.items()}
        scores = score_spark(session, spec, as_of=AS_OF, **frames)
        return pa.table(
            {
                "id": pa.array([s.person_id for s in scores], pa.int64()),
                "fit": pa.array([s.fit for s in scores], pa.float64()),
                "engagement": pa.array([s.engagement for s in scores], pa.float64()),
            }
        )

    return score


def _process_tree() -> list[int]:
    """This process and its descendants (Spark's JVM is a child of the Python driver)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, pending = [], [os.getpid()]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _tree_peak_mb(tree: list[int]) -> float:
    """Sum of the processes' VmHWM: for a single process, exactly its peak."""
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as status:
                line = next(line for line in status if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            continue
        total += int(line.split()[1])
    return total / 1024


def _tree_cpu_s(tree: list[int]) -> float:
    """CPU seconds (user + system, all threads) of the processes so far."""
    ticks = 0
    for pid in tree:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _reset_tree_peak(tree: list[int]) -> None:
    for pid in tree:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:
            continue


def run_contestant(name: str, world: Path, scratch: Path, out: Path) -> None:
    """Open the world, then serve the parent's commands on stdin: "run" times one rescore,
    "finish" writes the scores to `out` and exits."""
    # Replies go to the parent through stdout; anything else writing there (Spark's JVM
    # inherits the descriptor) goes to stderr instead.
    replies = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(replies, "w")
    if name == "spark":
        score = spark_scorer(world)
    else:
        con = open_world(world, scratch)
        score = winnow_scorer(con) if name == "winnow" else lambda: score_sql(con)
    gc.collect()
    tree = _process_tree()
    _reply({"ready_mb": _memory_kb("VmRSS") / 1024, "processes": len(tree)})
    for command in sys.stdin:
        if command.strip() == "run":
            _reset_tree_peak(tree)
            started, cpu = time.perf_counter(), _tree_cpu_s(tree)
            result = score()
            elapsed, cpu = time.perf_counter() - started, _tree_cpu_s(tree) - cpu
            _reply({"time": elapsed, "cpu": cpu, "peak_mb": _tree_peak_mb(tree)})
            del result
            gc.collect()
            continue
        pq.write_table(score().sort_by("id"), out)
        _reply({})
        return


def score_sql(con: Any) -> pa.Table:
    return con.sql(HAND_WRITTEN_SQL).to_arrow_table()


# -- the parent ------------------------------------------------------------------------------
def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.lower().split(","):
        part = part.strip()
        if part in SIZES:
            sizes.append(SIZES[part])
        elif part.endswith("k") and part[:-1].isdigit():
            sizes.append(int(part[:-1]) * 1_000)
        elif part.endswith("m") and part[:-1].isdigit():
            sizes.append(int(part[:-1]) * 1_000_000)
        elif part.isdigit():
            sizes.append(int(part))
        else:
            raise argparse.ArgumentTypeError(f"not a size: {part!r} (e.g. 10k,100k,1m)")
    return sizes


def label(people: int) -> str:
    if people % 1_000_000 == 0:
        return f"{people // 1_000_000}M"
    return f"{people // 1_000}k" if people % 1_000 == 0 else str(people)


def measure(args: Any, root: Path, people: int) -> dict[str, Any]:
    """One size: generate (or reuse) its world, run the contestants, compare the scores."""
    events = people * args.events_per_person
    world = world_path(root, people, events, args.seed)
    generated = ensure_world(world, people, events, args.seed)
    on_disk = sum(f.stat().st_size for f in world.rglob("*.parquet")) / 2**20
    how = f"generated in {generated:.1f}s" if generated else "reused"
    print(f"\n{label(people)} people / {events:,} events: world {how} ({on_disk:,.0f} MB Parquet)")
    contestants = ["winnow", "sql"]
    if "spark" in args.engine and people <= MAX_SPARK_PEOPLE:
        contestants.append("spark")
    elif "spark" in args.engine:
        print(f"  spark: not run above {label(MAX_SPARK_PEOPLE)} people")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="winnow-scale-run-") as run_dir:
        workdir = Path(run_dir)
        commands = {
            name: [
                sys.executable, str(Path(__file__).resolve()), "--contestant", name,
                "--world", str(world), "--scratch", str(workdir / f"{name}.tmp"),
                "--out", str(workdir / f"{name}.parquet"),
            ]
            for name in contestants
        }  # fmt: skip

        def show(name: str, run: dict[str, Any]) -> None:
            print(f"  {name:<7} {run['time']:8.3f}s  peak {run['peak_mb'] / 1024:5.2f} GB")

        reports = rounds(commands, args.repeats, workdir, on_run=show)
        scores = {name: pq.read_table(workdir / f"{name}.parquet") for name in contestants}
    differences = compare(scores)
    return {
        "people": people,
        "events": events,
        "world": str(world),
        "generated_s": generated,
        "parquet_mb": on_disk,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "contestants": reports,
        "differences": differences,
        "worst_rel": max(d["rel"] for d in differences.values()),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    spark = any("spark" in r["contestants"] for r in results)
    header = (
        f"{'people':>7} {'events':>11} {'winnow s':>9} {'sql s':>7} {'ratio':>6}"
        f" {'winnow GB':>9} {'sql GB':>7} {'s/M events':>10} {'winnow cpu':>10} {'sql cpu':>7}"
    )
    print(
        "\nmedian wall time of the runs; peak = highest VmHWM of the scoring process;"
        " cpu = median CPU seconds of its processes (all threads)"
    )
    print(header + (f" {'spark s':>8} {'spark GB':>8}" if spark else ""))
    for r in results:
        winnow, sql = r["contestants"]["winnow"], r["contestants"]["sql"]
        w, s = statistics.median(winnow["time"]), statistics.median(sql["time"])
        line = (
            f"{label(r['people']):>7} {r['events']:>11,} {w:>9.2f} {s:>7.2f} {w / s:>5.2f}x"
            f" {max(winnow['peak_mb']) / 1024:>9.2f} {max(sql['peak_mb']) / 1024:>7.2f}"
            f" {w / (r['events'] / 1e6):>10.3f} {statistics.median(winnow['cpu']):>10.2f}"
            f" {statistics.median(sql['cpu']):>7.2f}"
        )
        if "spark" in r["contestants"]:
            other = r["contestants"]["spark"]
            line += f" {statistics.median(other['time']):>8.2f}"
            line += f" {max(other['peak_mb']) / 1024:>8.2f}"
        print(line)
    for small, large in zip(results, results[1:], strict=False):
        growth = statistics.median(large["contestants"]["winnow"]["time"]) / statistics.median(
            small["contestants"]["winnow"]["time"]
        )
        scale = large["events"] / small["events"]
        verdict = "linear or better" if growth <= scale else "WORSE than linear"
        print(
            f"{label(small['people'])} -> {label(large['people'])}: events x{scale:g},"
            f" winnow time x{growth:.2f} ({verdict})"
        )
    largest = max(results, key=lambda r: r["people"])
    if largest["people"] >= 1_000_000:
        winnow = largest["contestants"]["winnow"]
        seconds, peak = statistics.median(winnow["time"]), max(winnow["peak_mb"]) / 1024
        met_time = "met" if seconds < TARGET_SECONDS else "MISSED"
        met_peak = "met" if peak < TARGET_PEAK_GB else "MISSED"
        print(
            f"{label(largest['people'])} people: {seconds:.1f}s (target < {TARGET_SECONDS:g}s:"
            f" {met_time}), peak {peak:.2f} GB (target < {TARGET_PEAK_GB:g} GB: {met_peak})"
        )
    worst = max(r["worst_rel"] for r in results)
    print(f"agreement with winnow: max relative difference {worst:.3g} (tolerance {TOLERANCE})")


def check_engines(engines: list[str]) -> None:
    if "spark" not in engines:
        return
    if importlib.util.find_spec("winnow.engine.spark") is None:
        raise SystemExit(
            "--engine spark: the Spark engine (module winnow.engine.spark) is not part of this"
            " checkout; run without --engine spark"
        )
    if importlib.util.find_spec("pyspark") is None:
        raise SystemExit("--engine spark needs pyspark (and a Java runtime) installed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("10k,100k,1m"))
    parser.add_argument("--events-per-person", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine", action="append", default=[], choices=["spark"],
                        help="also measure this engine (at most 100k people)")  # fmt: skip
    parser.add_argument("--data", type=Path, help="keep and reuse the worlds in this directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary worlds")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--contestant", help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.contestant:
        run_contestant(args.contestant, args.world, args.scratch, args.out)
        return 0
    check_engines(args.engine)

    root = args.data or Path(tempfile.mkdtemp(prefix="winnow-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"rescoring everyone as of {AS_OF:%F}, seed {args.seed}, {args.repeats} runs per"
        f" contestant, {THREADS} threads, DuckDB {duckdb.__version__}; worlds in {root}"
    )
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    try:
        results = [measure(args, root, people) for people in sorted(args.sizes)]
    finally:
        if args.data is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif args.keep:
            print(f"worlds kept in {root} (reuse them with --data {root})")
    print_table(results)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        figures = {"seed": args.seed, "threads": THREADS, "duckdb": duckdb.__version__}
        figures |= {"cpus": os.cpu_count(), "sizes": results}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    worst = max(r["worst_rel"] for r in results)
    if worst > TOLERANCE:
        print(f"FAIL: contestants disagree (max relative difference {worst:.3g})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
