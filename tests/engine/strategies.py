"""Hypothesis strategies: random but valid specs (as YAML) and histories to score.

Specs and data draw from the same small vocabularies (trait keys, words, numbers, event
names) so that rules actually match: a threshold of 5 meets counts around 5, a word
in a condition is one the data uses, and JSON values come in every type the reading
rules care about (numbers, strings that look like numbers, booleans, nulls, objects,
missing keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import yaml
from hypothesis import strategies as st
from tests.engine.oracle import Account, Event, Person

DAY = 86400
EVENT_NAMES = ("Page Viewed", "Signed In", "Webinar Attended", "Demo Requested", "Message Sent")
STAGES = ("subscriber", "lead", "mql", "sal", "sql", "nurture", "customer", "pql")
PLANS = ("free", "trial", "paid", "enterprise")
KEYS = ("title", "n", "flag", "obj")
# Paths an expression reads: the keys above, a nested one, and one no document has.
PATHS = ("title", "n", "n", "flag", "obj", "obj.a", "nope")
WORDS = (
    "/pricing",
    "/pricing/teams",
    "/docs",
    "/a_b%",
    "VP Sales",
    "Head of Data",
    "engineer",
    "Acme",
    "acme",
    "trial",
    "5",
    "1.5",
    "true",
    "",
)
FRAGMENTS = ("/pricing", "/", "acme", "Acme", "VP", "_", "%", "a", "s", "")
PATTERNS = ("^/pricing", "s$", "(?i)acme", "[0-9]+", "\\bvp\\b", "(?i)\\bvp\\b", "a.c", "^$")
DURATIONS = ("1d", "7d", "30d", "36h", "90m")
LISTS = {"vip": ["Acme", "acme", "trial", "5"], "tiers": [1, 2, 3.5]}

numbers = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([0.5, 2.5, -1.25, 100, 1e3]),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 12),
    st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 2)),
    st.sampled_from(WORDS),
)
json_values = st.one_of(
    json_scalars,
    json_scalars,
    json_scalars,
    st.dictionaries(st.sampled_from(("a", "b")), json_scalars, max_size=2),
    st.lists(json_scalars, max_size=2),
)
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=len(KEYS))


# -- expressions ---------------------------------------------------------------------------------
def _num(value: float) -> str:
    return repr(value)


def _str(value: str) -> str:
    return '"' + value + '"'


def document_atoms(heads: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Conditions over JSON documents (traits, properties, context)."""
    path = st.tuples(st.sampled_from(heads), st.sampled_from(PATHS)).map(".".join)
    ops = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
    return st.one_of(
        st.builds(lambda p, o, n: f"{p} {o} {_num(n)}", path, ops, numbers),
        st.builds(
            lambda p, o, w: f"{p} {o} {_str(w)}",
            path,
            st.sampled_from(["==", "!="]),
            st.sampled_from(WORDS),
        ),
        st.builds(
            lambda p, o, w: f"{p} {o} {_str(w)}",
            path,
            st.sampled_from(["<", ">="]),
            st.sampled_from(WORDS),
        ),
        st.builds(
            lambda p, o, ws: f"{p} {o} ({', '.join(_str(w) for w in ws)},)",
            path,
            st.sampled_from(["in", "not in"]),
            st.lists(st.sampled_from(WORDS), min_size=1, max_size=3),
        ),
        st.builds(
            lambda p, o, ns: f"{p} {o} ({', '.join(_num(n) for n in ns)},)",
            path,
            st.sampled_from(["in", "not in"]),
            st.lists(numbers, min_size=1, max_size=3),
        ),
        st.builds(lambda p, name: f"{p} in {name}", path, st.sampled_from(["vip", "tiers"])),
        st.builds(
            lambda p, o: f"{p} {o} None", path, st.sampled_from(["==", "!=", "is", "is not"])
        ),
        path,  # read as a boolean
        st.builds(lambda p, b: f"{p} == {b}", path, st.sampled_from(["True", "False"])),
        path.map(lambda p: f"not {p}"),
        st.builds(
            lambda f, p, x: f"{f}({p}, {_str(x)})",
            st.sampled_from(["starts_with", "ends_with", "contains"]),
            path,
            st.sampled_from(FRAGMENTS),
        ),
        st.builds(lambda p, x: f"matches({p}, {x!r})", path, st.sampled_from(PATTERNS)),
        st.builds(lambda p, w: f"lower({p}) == {_str(w)}", path, st.sampled_from(WORDS)),
        st.builds(lambda a, b, n: f"{a} / {b} > {_num(n)}", path, path, numbers),
        st.builds(lambda a, b, n: f"{a} * 2 - {b} >= {_num(n)}", path, path, numbers),
        st.builds(lambda a, n: f"-{a} < {_num(n)}", path, numbers),
    )


def person_column_atoms() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            "person.email_domain in free_email_domains",
            'ends_with(person.email, ".com")',
            'person.email_domain == "acme.com"',
            "person.owner == None",
            'person.user_id != "u1"',
            'matches(person.email, "^[a-c]")',
        ]
    )


def account_column_atoms() -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            'account.plan == "trial"',
            'account.plan in ("paid", "enterprise")',
            "account.plan is None",
            'starts_with(account.name, "Ac")',
            'lower(account.name) == "acme"',
            'account.domain != "acme.com"',
            'account.group_id == "g1"',
        ]
    )


def combined(atoms: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
            st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
            inner.map(lambda a: f"not ({a})"),
        ),
        max_leaves=3,
    )


fit_conditions = combined(
    st.one_of(document_atoms(("person", "account")), person_column_atoms(), account_column_atoms())
)
account_conditions = combined(st.one_of(document_atoms(("account",)), account_column_atoms()))
event_conditions = combined(
    st.one_of(
        document_atoms(("properties", "properties", "context")),
        st.sampled_from(EVENT_NAMES).map(lambda e: f"event == {_str(e)}"),
    )
)
event_names = st.sampled_from(EVENT_NAMES)
events_or_any = st.one_of(event_names, st.just("any"))


def person_conditions(metric_names: list[str]) -> st.SearchStrategy[str]:
    """Stage criteria and segments: scores, metrics, aggregates, traits, stage."""
    small = st.integers(0, 4)
    days = st.sampled_from([0.5, 1, 7, 30, 60])
    aggregate_options = st.builds(
        lambda where, within: "".join(
            ([f", where={where!r}"] if where else []) + ([f", within={within!r}"] if within else [])
        ),
        st.none() | event_conditions,
        st.none() | st.sampled_from(DURATIONS),
    )
    atoms = [
        st.builds(lambda o, n: f"fit {o} {_num(n)}", st.sampled_from([">=", "<", "=="]), numbers),
        st.sampled_from(['grade in ("A", "B")', 'grade == "D"', 'grade != "C"']),
        st.builds(lambda n: f"engagement > {_num(n)}", numbers),
        st.builds(lambda n: f"score <= {_num(n)}", numbers),
        st.builds(lambda n: f"engagement / fit > {_num(n)}", numbers),
        st.builds(lambda n: f"-engagement + 2 * fit < {_num(n)}", numbers),
        st.builds(
            lambda e, opts, n: f"count({e!r}{opts}) >= {n}", events_or_any, aggregate_options, small
        ),
        st.builds(lambda e, opts: f"did({e!r}{opts})", events_or_any, aggregate_options),
        st.builds(
            lambda e, opts, d: f"days_since({e!r}{opts}) <= {d}",
            events_or_any,
            aggregate_options,
            days,
        ),
        st.builds(lambda e: f"days_since({e!r}) == None", event_names),
        st.builds(lambda d: f"days_since(person.created_at) > {d}", days),
        st.builds(lambda d: f"days_since(account.created_at) < {d}", days),
        st.sampled_from(
            [
                'stage == "lead"',
                'stage in ("lead", "mql", "nurture")',
                'stage != "customer"',
                "account.score == None",
            ]
        ),
        st.builds(lambda n: f"account.fit >= {_num(n)}", numbers),
        st.builds(lambda n: f"account.engagement > {_num(n)}", numbers),
        st.builds(lambda n: f"account.score - score < {_num(n)}", numbers),
        fit_conditions,
    ]
    if metric_names:
        metric = st.sampled_from(metric_names).map(lambda m: f"metrics.{m}")
        atoms += [
            st.builds(lambda m, n: f"{m} >= {n}", metric, small),
            st.builds(lambda m, o: f"{m} {o} None", metric, st.sampled_from(["==", "!="])),
            st.builds(lambda a, b: f"{a} / {b} >= 1", metric, metric),
        ]
    return combined(st.one_of(*atoms))


# -- specs -------------------------------------------------------------------------------------
points = st.one_of(st.integers(-50, 50), st.sampled_from([2.5, -7.5, 0.25]))


@st.composite
def fit_rules(draw: st.DrawFn, prefix: str, conditions: st.SearchStrategy[str]) -> list[dict]:
    count = draw(st.integers(0, 4))
    return [
        {"name": f"{prefix}{i}", "when": draw(conditions), "points": draw(points)}
        for i in range(count)
    ]


@st.composite
def engagement_rules(draw: st.DrawFn) -> list[dict]:
    rules = []
    for i in range(draw(st.integers(0, 4))):
        rule: dict[str, object] = {"name": f"e{i}", "event": draw(event_names)}
        if draw(st.booleans()):
            rule["where"] = draw(event_conditions)
        rule["points"] = draw(points)
        if draw(st.booleans()):
            rule["max"] = draw(st.sampled_from([5, 12.5, 30]))
        if draw(st.booleans()):
            rule["once_per"] = draw(st.sampled_from(["1h", "1d", "7d", "90m"]))
        half_life = draw(st.sampled_from([None, "none", "30d", "3d", "12h"]))
        if half_life is not None:
            rule["half_life"] = half_life
        rules.append(rule)
    return rules


@st.composite
def metric(draw: st.DrawFn) -> dict:
    kind = draw(
        st.sampled_from(["count", "count_distinct", "sum", "max", "active_days", "longest_streak"])
    )
    body: dict[str, object] = {}
    if kind in ("count", "active_days", "longest_streak"):
        body[kind] = draw(events_or_any)
    else:
        head = draw(st.sampled_from(["properties", "properties", "context"]))
        body[kind] = f"{head}.{draw(st.sampled_from(PATHS))}"
        if draw(st.booleans()):
            body["event"] = draw(event_names)
    if draw(st.booleans()):
        body["where"] = draw(event_conditions)
    if draw(st.booleans()):
        body["within"] = draw(st.sampled_from(DURATIONS))
    if draw(st.booleans()):
        body["scope"] = "account"
    return body


@st.composite
def specs(draw: st.DrawFn) -> str:
    """A valid spec as YAML text."""
    grades = sorted(draw(st.lists(st.integers(-20, 60), min_size=3, max_size=3)), reverse=True)
    metrics = {f"m{i}": draw(metric()) for i in range(draw(st.integers(0, 4)))}
    conditions = person_conditions(list(metrics))
    engagement: dict[str, object] = {"rules": draw(engagement_rules())}
    half_life = draw(st.sampled_from([None, "30d", "7d", "12h"]))
    if half_life:
        engagement["half_life"] = half_life
    stages: dict[str, object] = {
        stage: draw(conditions) for stage in ("mql", "sql", "pql", "csql") if draw(st.booleans())
    }
    stages["customer_plans"] = draw(
        st.sampled_from([["paid"], ["paid", "enterprise"], [], ["trial"]])
    )
    document = {
        "lists": LISTS,
        "fit": {
            "rules": draw(fit_rules("f", fit_conditions)),
            "grades": dict(zip("ABC", grades, strict=True)),
        },
        "engagement": engagement,
        "metrics": metrics,
        "accounts": {
            "people": {
                "top": draw(st.integers(1, 4)),
                "aggregate": draw(st.sampled_from(["sum", "max", "avg"])),
            },
            "fit": draw(fit_rules("a", account_conditions)),
        },
        "stages": stages,
        "segments": {f"s{i}": draw(conditions) for i in range(draw(st.integers(0, 2)))},
    }
    if draw(st.booleans()):
        weights = st.floats(-3, 3, allow_nan=False).map(lambda w: round(w, 2))
        document["model"] = {
            "name": "m",
            "intercept": draw(weights),
            "factors": [
                {"name": f"x{i}", "when": draw(conditions), "weight": draw(weights)}
                for i in range(draw(st.integers(0, 3)))
            ],
        }
        if draw(st.booleans()):
            stages["pql"] = f"p_convert >= {draw(st.sampled_from([0.1, 0.5, 0.9]))}"
    return yaml.safe_dump(document, sort_keys=False, width=1000)


# -- histories ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class History:
    as_of: datetime  # naive UTC
    people: list[Person]
    accounts: list[Account]
    events: list[Event]


BASE = datetime(2026, 3, 1)
instants_near = st.integers(-90 * DAY, 2 * DAY)


@st.composite
def histories(draw: st.DrawFn) -> History:
    midnight = draw(st.integers(0, 300)) * DAY
    as_of = BASE + timedelta(seconds=draw(st.one_of(st.just(midnight), st.integers(0, 300 * DAY))))

    def moment(offset: int) -> datetime:
        return as_of + timedelta(seconds=offset)

    def day_edge() -> datetime:
        start = as_of.replace(hour=0, minute=0, second=0) - timedelta(
            days=draw(st.integers(-1, 10))
        )
        return start + timedelta(seconds=draw(st.sampled_from([0, DAY - 1, 3600, -1])))

    account_ids = draw(st.lists(st.integers(1, 40), unique=True, max_size=3))
    accounts = [
        Account(
            id=aid,
            group_id=f"g{aid}",
            name=draw(st.sampled_from([None, "Acme", "acme", "Globex", "Ac"])),
            domain=draw(st.sampled_from([None, "acme.com", "globex.io"])),
            plan=draw(st.sampled_from([None, *PLANS])),
            created_at=moment(draw(instants_near)),
            traits=draw(documents),
        )
        for aid in account_ids
    ]
    person_ids = draw(st.lists(st.integers(1, 60), unique=True, min_size=1, max_size=6))
    people = []
    for pid in person_ids:
        domain = draw(st.sampled_from([None, "acme.com", "gmail.com", "globex.io"]))
        local = draw(st.sampled_from(["ada", "bob", "carl", "dee"]))
        recycled = draw(st.none() | st.none() | instants_near.map(moment))
        people.append(
            Person(
                id=pid,
                account_id=draw(st.none() | st.sampled_from(account_ids)) if account_ids else None,
                email=None if domain is None else f"{local}@{domain}",
                email_domain=domain,
                user_id=draw(st.sampled_from([None, f"u{pid}"])),
                owner=draw(st.sampled_from([None, "sam@us.io"])),
                created_at=moment(draw(st.integers(-120 * DAY, DAY))),
                stage=draw(st.sampled_from(STAGES)),
                recycled_at=recycled,
                traits=draw(documents),
            )
        )
    events = []
    for _ in range(draw(st.integers(0, 30))):
        person = draw(st.sampled_from(people))
        kind = draw(st.sampled_from(["any", "any", "any", "special", "edge", "recycled"]))
        if kind == "special":
            timestamp = moment(draw(st.sampled_from([0, 1, -1, -DAY, -7 * DAY, -7 * DAY + 1])))
        elif kind == "edge":
            timestamp = day_edge()
        elif kind == "recycled" and person.recycled_at is not None:
            timestamp = person.recycled_at + timedelta(seconds=draw(st.sampled_from([0, 1, -1])))
        else:
            timestamp = moment(draw(instants_near))
        events.append(
            Event(
                person_id=person.id,
                name=draw(st.sampled_from([*EVENT_NAMES, "Other"])),
                timestamp=timestamp,
                properties=draw(documents),
                context=draw(documents),
            )
        )
    return History(as_of=as_of, people=people, accounts=accounts, events=events)
