"""Training rows from an event history: what was known of each person at a cutoff, and
what happened next.

A row is (person, cutoff). Its features are conditions of the spec language evaluated by
the engine as of the cutoff (`as_of`: events after it are invisible), so a model learned
on them can be written back into the spec and scored in real time with no second
implementation of the features. Accounts' plans are taken as they were at the cutoff,
from the plan history: today's plan would leak the outcome (a converted trial's plan is
now "paid"); people's stages and recycle dates likewise, from their moves. Traits are
the ones known now, since traits are not kept by date.

The label is whether the person reached the target stage (customer, or sql; or a later
stage of the main path) within `within` after the cutoff. People count at a cutoff from
their creation until they reach the target; cutoffs run every `every` from the first
activity, up to the last one whose label window has ended, so that every label is final.

Candidate features, generated from the data and the live spec:
- each fit rule of the live spec, as its condition;
- each plan an account was on (as of the cutoff), except the paying ones;
- for each frequent event (and each first path segment of page views, like /pricing):
  done in the last 30 days at least 1, 3 and 10 times, and ever at least once;
- each frequent value of a text trait (person or account) with few values;
- how long the person has been known.
Raw counts of each event (30 days and ever) are kept beside, for the stronger model.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
import yaml

from winnow.analytics.funnel import PATHS, first_entries
from winnow.analytics.history import load_moves
from winnow.analytics.trials import load_plan_changes
from winnow.engine import PersonScore, score_frames
from winnow.spec import Spec, load_spec
from winnow.store.frames import load_frames

MAX_EVENTS = 25  # the most frequent events and page sections considered
MAX_VALUES = 8  # the most frequent values of a text trait considered
MIN_SHARE = 0.01  # a feature held by fewer rows than this is left out
COUNT_STEPS = (1, 3, 10)


@dataclass(frozen=True, kw_only=True)
class History:
    """Everything a model learns from: the scoring frames, plan changes and outcomes."""

    people: pa.Table
    accounts: pa.Table
    events: pa.Table
    plan_changes: pa.Table  # (account_id, plan, at)
    reached: Mapping[int, datetime]  # person -> when they first reached the target (naive UTC)
    target: str
    paid_plans: tuple[str, ...] = ("paid",)
    # Every stage move, oldest first (analytics.history.load_moves), to rewind people's
    # stages and recycle dates; None: take them as they are.
    moves: pa.Table | None = None


@dataclass(frozen=True, kw_only=True)
class Candidate:
    name: str  # how people read it: "Webinar Attended, 3+ times in 30 days"
    when: str  # the condition in the spec language
    kind: Literal["fit", "plan", "event", "trait", "recency"]
    # For events: count(event, where=..., within=...) >= at_least.
    event: str | None = None
    where: str | None = None
    at_least: int = 1
    within_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class Rows:
    """The training table: one row per (person, cutoff)."""

    person_id: np.ndarray[Any, Any]
    cutoff: np.ndarray[Any, Any]  # datetime64
    created_at: np.ndarray[Any, Any]  # datetime64, to split by cohort
    label: np.ndarray[Any, Any]
    conditions: np.ndarray[Any, Any]  # 0/1, one column per candidate
    counts: np.ndarray[Any, Any]  # raw event counts, one column per count name
    candidates: tuple[Candidate, ...]
    count_names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.label)


def load_history(conn: sa.Connection, workspace_id: int, *, target: str) -> History:
    from winnow.analytics.trials import paid_plans

    moves = load_moves(conn, workspace_id)
    return History(
        **load_frames(conn, workspace_id),
        plan_changes=load_plan_changes(conn, workspace_id),
        reached=first_reached(moves, target),
        target=target,
        paid_plans=paid_plans(conn, workspace_id),
        moves=moves,
    )


def first_reached(moves: pa.Table, target: str) -> dict[int, datetime]:
    """When each person first reached `target` or a later stage of the main path (naive UTC)."""
    path = PATHS["main"]
    if target not in path:
        raise ValueError(f"the target is a stage of {', '.join(path)}, not {target!r}")
    first = first_entries(moves)
    later = first.filter(first.stage.isin(list(path[path.index(target) :])))
    done = later.group_by("person_id").agg(at=later.at.min()).to_pyarrow().to_pylist()
    return {r["person_id"]: naive(r["at"]) for r in done}


def candidates(history: History, live: Spec | None) -> list[Candidate]:
    """The conditions a model may weigh (see the module's comment)."""
    found: list[Candidate] = []
    if live is not None:
        found += [
            Candidate(name=f"fit: {c.rule.name}", when=c.rule.when, kind="fit") for c in live.fit
        ]
    plans = sorted(set(history.plan_changes.column("plan").to_pylist()) - set(history.paid_plans))
    found += [
        Candidate(name=f"on the {p} plan", when=f"account.plan == {_quote(p)}", kind="plan")
        for p in plans
    ]
    names = Counter(history.events.column("name").to_pylist())
    for event, _ in names.most_common(MAX_EVENTS):
        found += _event_candidates(event, event, None)
    sections = Counter(
        _section(json.loads(p or "{}").get("path"))
        for n, p in zip(
            history.events.column("name").to_pylist(),
            history.events.column("properties").to_pylist(),
            strict=True,
        )
        if n == "Page Viewed"
    )
    for section, _ in sections.most_common(MAX_EVENTS):
        if section:
            where = f"starts_with(properties.path, {_quote(section)})"
            found += _event_candidates(f"{section} page", "Page Viewed", where)
    for scope, table in (("person", history.people), ("account", history.accounts)):
        found += _trait_candidates(scope, table.column("traits").to_pylist())
    # One column per condition: a live fit rule written like a plan or trait candidate
    # (a suggested spec, published) would otherwise be learned from twice.
    unique: dict[str, Candidate] = {}
    for candidate in found:
        unique.setdefault(candidate.when, candidate)
    found = list(unique.values())
    found += [
        Candidate(
            name=f"known for {d} days or less",
            when=f"days_since(person.created_at) <= {d}",
            kind="recency",
        )
        for d in (14, 60)
    ]
    return found


def build_rows(
    history: History,
    found: Sequence[Candidate],
    *,
    within: timedelta,
    every: timedelta,
    lists: Mapping[str, Sequence[Any]] | None = None,
    end: datetime | None = None,
) -> Rows:
    """Rows at every cutoff whose label window has ended by `end` (default: the last event)."""
    stamps = history.events.column("timestamp")
    if len(stamps) == 0:
        raise ValueError("there are no events to learn from")
    first, last = naive(pc.min(stamps).as_py()), naive(pc.max(stamps).as_py())
    stop = naive(end) if end is not None else last
    cutoffs = []
    at = first + every
    while at + within <= stop:
        cutoffs.append(at)
        at += every
    if not cutoffs:
        raise ValueError(
            f"the history ({first:%Y-%m-%d} to {stop:%Y-%m-%d}) is too short to see outcomes "
            f"{within.days} days after a cutoff; shorten --within"
        )
    spec, count_names = feature_spec(found, lists or {})
    created = dict(
        zip(
            history.people.column("id").to_pylist(),
            history.people.column("created_at").to_pylist(),
            strict=True,
        )
    )
    parts: list[dict[str, Any]] = []
    for cutoff in cutoffs:
        for s in scores_as_of(spec, history, cutoff):
            born = created[s.person_id]
            reached = history.reached.get(s.person_id)
            if reached is not None and reached <= cutoff:
                continue
            parts.append(
                {
                    "person_id": s.person_id,
                    "cutoff": cutoff,
                    "created_at": born,
                    "label": int(reached is not None and reached <= cutoff + within),
                    "conditions": [s.conditions[f"segment:f{i}"] for i in range(len(found))],
                    "counts": [s.metrics[n] or 0.0 for n in count_names],
                }
            )
    if not parts:
        raise ValueError("no one was open at any cutoff: nothing to learn from")
    return Rows(
        person_id=np.array([p["person_id"] for p in parts]),
        cutoff=np.array([p["cutoff"] for p in parts], dtype="datetime64[us]"),
        created_at=np.array([p["created_at"] for p in parts], dtype="datetime64[us]"),
        label=np.array([p["label"] for p in parts]),
        conditions=np.array([p["conditions"] for p in parts], dtype=np.float64),
        counts=np.array([p["counts"] for p in parts], dtype=np.float64),
        candidates=tuple(found),
        count_names=count_names,
    )


def feature_spec(
    found: Sequence[Candidate], lists: Mapping[str, Sequence[Any]]
) -> tuple[Spec, tuple[str, ...]]:
    """A spec whose segments are the candidates and whose metrics are the raw counts."""
    events = sorted({c.event for c in found if c.event is not None and c.where is None})
    metrics: dict[str, Any] = {}
    for n, event in enumerate(events):
        metrics[f"c{n}_30d"] = {"count": event, "within": "30d"}
        metrics[f"c{n}_all"] = {"count": event}
    document = {
        "lists": {k: list(v) for k, v in lists.items() if k != "free_email_domains"},
        "metrics": metrics,
        "segments": {f"f{i}": c.when for i, c in enumerate(found)},
    }
    return load_spec(yaml.safe_dump(document, allow_unicode=True)), tuple(metrics)


def usable(rows: Rows) -> np.ndarray[Any, Any]:
    """The candidate columns held by enough rows, and not by (nearly) all of them."""
    share = rows.conditions.mean(axis=0)
    mask: np.ndarray[Any, Any] = (share >= MIN_SHARE) & (share <= 1 - MIN_SHARE)
    return mask


def _event_candidates(label: str, event: str, where: str | None) -> list[Candidate]:
    options = f", where={_quote(where)}" if where else ""
    call = f"count({_quote(event)}{options}"
    common: dict[str, Any] = {"kind": "event", "event": event, "where": where}
    found = [
        Candidate(
            name=f"{label}, {n}+ time{'s' if n > 1 else ''} in 30 days",
            when=f'{call}, within="30d") >= {n}',
            at_least=n,
            within_days=30,
            **common,
        )
        for n in COUNT_STEPS
    ]
    found.append(Candidate(name=f"{label}, ever", when=f"{call}) >= 1", **common))
    return found


def _trait_candidates(scope: str, documents: Sequence[str | None]) -> list[Candidate]:
    values: dict[str, Counter[str]] = {}
    numbers: dict[str, list[float]] = {}
    for text in documents:
        for key, value in json.loads(text or "{}").items():
            if not key.isidentifier():
                continue
            if isinstance(value, str):
                values.setdefault(key, Counter())[value] += 1
            elif isinstance(value, int | float) and not isinstance(value, bool):
                numbers.setdefault(key, []).append(float(value))
    found = []
    for key, seen in sorted(numbers.items()):
        for q in sorted({float(np.quantile(seen, s)) for s in (0.25, 0.5, 0.75)}):
            found.append(
                Candidate(
                    name=f"{scope} {key} {q:g} or more",
                    when=f"{scope}.{key} >= {q:g}",
                    kind="trait",
                )
            )
    for key, counter in sorted(values.items()):
        if len(counter) > 3 * MAX_VALUES:
            continue  # names, titles, emails: too many values to be categories
        for value, _ in counter.most_common(MAX_VALUES):
            found.append(
                Candidate(
                    name=f"{scope} {key} is {value}",
                    when=f"{scope}.{key} == {_quote(value)}",
                    kind="trait",
                )
            )
    return found


class Past(Protocol):
    """What a replay of history reads (History here, backtest.Outcomes there)."""

    @property
    def people(self) -> pa.Table: ...
    @property
    def accounts(self) -> pa.Table: ...
    @property
    def events(self) -> pa.Table: ...
    @property
    def plan_changes(self) -> pa.Table: ...
    @property
    def moves(self) -> pa.Table | None: ...


def scores_as_of(spec: Spec, past: Past, at: datetime) -> list[PersonScore]:
    """Everyone who existed at `at` (naive UTC), scored with what was known then: events
    up to it, and plans, stages and recycle dates as they were."""
    known = naive(at)
    results = score_frames(
        spec,
        people=people_as_of(past.people, past.moves, known),
        accounts=plans_as_of(past.accounts, past.plan_changes, known),
        events=past.events,
        as_of=known.replace(tzinfo=UTC),
    )
    created = dict(
        zip(
            past.people.column("id").to_pylist(),
            past.people.column("created_at").to_pylist(),
            strict=True,
        )
    )
    return [s for s in results if created[s.person_id] <= known]


def plans_as_of(accounts: pa.Table, changes: pa.Table, cutoff: datetime) -> pa.Table:
    """The accounts frame with each account's plan as it was at `cutoff` (naive UTC).

    An account with no plan history keeps the plan it has: nothing says it changed."""
    changed = set(changes.column("account_id").to_pylist())
    latest = _latest(changes, "account_id", "plan", cutoff)
    plans = [
        latest[a][1] if a in latest else (None if a in changed else current)
        for a, current in zip(
            accounts.column("id").to_pylist(), accounts.column("plan").to_pylist(), strict=True
        )
    ]
    index = accounts.schema.get_field_index("plan")
    return accounts.set_column(index, "plan", pa.array(plans, pa.string()))


def _latest(table: pa.Table, key: str, value: str, at: datetime) -> dict[Any, tuple[datetime, Any]]:
    """Each key's latest (time, value) at or before `at` (naive UTC), from rows with an
    `at` column; of rows at one time, the last wins."""
    latest: dict[Any, tuple[datetime, Any]] = {}
    for k, v, when in zip(
        table.column(key).to_pylist(),
        table.column(value).to_pylist(),
        table.column("at").to_pylist(),
        strict=True,
    ):
        when = naive(when)
        if when <= at and (k not in latest or when >= latest[k][0]):
            latest[k] = (when, v)
    return latest


def people_as_of(people: pa.Table, moves: pa.Table | None, at: datetime) -> pa.Table:
    """The people frame with each person's stage and recycle date as they were at `at`
    (naive UTC): the last move by then, and the last move to nurture (which recycles)."""
    if moves is None:
        return people
    stage = _latest(moves, "person_id", "to_stage", at)
    nurtured = moves.filter(pc.equal(moves.column("to_stage"), "nurture"))
    recycled = {p: when for p, (when, _) in _latest(nurtured, "person_id", "to_stage", at).items()}
    ids = people.column("id").to_pylist()
    stages = [
        stage[p][1] if p in stage else now
        for p, now in zip(ids, people.column("stage").to_pylist(), strict=True)
    ]
    table = people.set_column(
        people.schema.get_field_index("stage"), "stage", pa.array(stages, pa.string())
    )
    return table.set_column(
        table.schema.get_field_index("recycled_at"),
        "recycled_at",
        pa.array([recycled.get(p) for p in ids], pa.timestamp("us")),
    )


def _section(path: object) -> str | None:
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    head = path.split("?")[0].split("/")[1]
    return f"/{head}" if head else None


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
