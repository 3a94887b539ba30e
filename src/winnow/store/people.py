"""People, their accounts and the ids that resolve to them: lookups and the writes ingestion makes.

Stage columns are not written here: stages change only through recorded moves
(winnow.store.history), so a write of traits can never undo a promotion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from winnow.clock import from_db, to_db
from winnow.store.events import chunked, insert_or_skip, move_events
from winnow.store.schema import accounts, identities, people


@dataclass(frozen=True, kw_only=True)
class Person:
    id: int
    user_id: str | None
    email: str | None
    email_domain: str | None
    account_id: int | None
    traits: Mapping[str, Any]
    stage: str
    stage_changed_at: datetime
    recycled_at: datetime | None
    owner: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class Account:
    id: int
    group_id: str
    name: str | None
    domain: str | None
    plan: str | None
    traits: Mapping[str, Any]
    created_at: datetime


def display_name(traits: Mapping[str, Any]) -> str | None:
    """A person's name from their traits: first and last name (either spelling), else `name`."""
    first = traits.get("firstName") or traits.get("first_name")
    last = traits.get("lastName") or traits.get("last_name")
    return " ".join(p for p in (first, last) if p) or traits.get("name") or None


class PersonNotFound(LookupError):
    pass


class AccountNotFound(LookupError):
    pass


def _person(row: sa.RowMapping) -> Person:
    recycled = row["recycled_at"]
    return Person(
        id=row["id"],
        user_id=row["user_id"],
        email=row["email"],
        email_domain=row["email_domain"],
        account_id=row["account_id"],
        traits=dict(row["traits"] or {}),
        stage=row["stage"],
        stage_changed_at=from_db(row["stage_changed_at"]),
        recycled_at=from_db(recycled) if recycled is not None else None,
        owner=row["owner"],
        created_at=from_db(row["created_at"]),
    )


def _account(row: sa.RowMapping) -> Account:
    return Account(
        id=row["id"],
        group_id=row["group_id"],
        name=row["name"],
        domain=row["domain"],
        plan=row["plan"],
        traits=dict(row["traits"] or {}),
        created_at=from_db(row["created_at"]),
    )


def get_person(conn: sa.Connection, workspace_id: int, person_id: int) -> Person:
    found = load_people(conn, workspace_id, "id", [person_id])
    if not found:
        raise PersonNotFound(f"no person with id {person_id} in this workspace")
    return found[0]


def find_person(conn: sa.Connection, workspace_id: int, key: str | int) -> Person:
    """A person by internal id, user id or email (in that order of preference)."""
    text = str(key).strip()
    if text.isdigit():
        found = load_people(conn, workspace_id, "id", [int(text)])
        if found:
            return found[0]
    found = load_people(conn, workspace_id, "user_id", [text]) or load_people(
        conn, workspace_id, "email", [text.lower()]
    )
    if not found:
        raise PersonNotFound(f"no person with id, user id or email {text!r} in this workspace")
    return min(found, key=lambda p: p.id)


def get_account(conn: sa.Connection, workspace_id: int, account_id: int) -> Account:
    found = load_accounts(conn, workspace_id, "id", [account_id])
    if not found:
        raise AccountNotFound(f"no account with id {account_id} in this workspace")
    return found[0]


def find_account(conn: sa.Connection, workspace_id: int, key: str | int) -> Account:
    """An account by internal id or group id."""
    text = str(key).strip()
    found = load_accounts(conn, workspace_id, "group_id", [text])
    if not found and text.isdigit():
        found = load_accounts(conn, workspace_id, "id", [int(text)])
    if not found:
        raise AccountNotFound(f"no account with id or group id {text!r} in this workspace")
    return found[0]


def load_people(
    conn: sa.Connection,
    workspace_id: int,
    by: Literal["id", "user_id", "email"],
    values: Iterable[Any],
    *,
    lock: bool = False,
) -> list[Person]:
    """People whose `by` column is one of `values`.

    `lock` takes row locks (PostgreSQL) so that two ingestions of the same person
    serialize instead of one overwriting the other's traits.
    """
    found: list[Person] = []
    for chunk in chunked(sorted(set(values))):
        query = sa.select(people).where(
            people.c.workspace_id == workspace_id, people.c[by].in_(chunk)
        )
        if lock:
            # FOR NO KEY UPDATE: serialises writers of the row without blocking the
            # foreign-key checks of scores and history rows that point at it.
            query = query.with_for_update(key_share=True)
        found.extend(_person(r) for r in conn.execute(query.order_by(people.c.id)).mappings())
    return found


def identities_of(
    conn: sa.Connection, workspace_id: int, anonymous_ids: Iterable[str]
) -> dict[str, int]:
    """anonymous id -> person id, for the ids that are known."""
    found: dict[str, int] = {}
    for chunk in chunked(sorted(set(anonymous_ids))):
        rows = conn.execute(
            sa.select(identities.c.anonymous_id, identities.c.person_id).where(
                identities.c.workspace_id == workspace_id, identities.c.anonymous_id.in_(chunk)
            )
        )
        found.update((a, p) for a, p in rows)
    return found


def insert_people(
    conn: sa.Connection, workspace_id: int, new: Sequence[Person], *, now: datetime
) -> list[int | None]:
    """Store new people (their `id`s are ignored); returns the ids, in order.

    None for a person whose user id another transaction took meanwhile. People without a
    user id cannot collide, so their ids come back in the order given.
    """
    ids: list[int | None] = [None] * len(new)
    identified = [i for i, p in enumerate(new) if p.user_id is not None]
    anonymous = [i for i, p in enumerate(new) if p.user_id is None]
    statement = insert_or_skip(conn, people)
    if identified:
        rows = conn.execute(
            statement.returning(people.c.user_id, people.c.id),
            [_person_row(workspace_id, new[i], now) for i in identified],
        )
        taken = {user_id: new_id for user_id, new_id in rows}
        for i in identified:
            ids[i] = taken.get(new[i].user_id)
    if anonymous:
        made = conn.execute(
            statement.returning(people.c.id, sort_by_parameter_order=True),
            [_person_row(workspace_id, new[i], now) for i in anonymous],
        ).scalars()
        for i, new_id in zip(anonymous, made, strict=True):
            ids[i] = new_id
    return ids


def _person_row(workspace_id: int, person: Person, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "user_id": person.user_id,
        "email": person.email,
        "email_domain": person.email_domain,
        "account_id": person.account_id,
        "traits": dict(person.traits),
        "stage": person.stage,
        "stage_changed_at": to_db(person.stage_changed_at),
        "recycled_at": to_db(person.recycled_at) if person.recycled_at else None,
        "owner": person.owner,
        "created_at": to_db(person.created_at),
        "updated_at": to_db(now),
    }


def link_identities(conn: sa.Connection, workspace_id: int, links: Mapping[str, int]) -> set[str]:
    """Resolve each anonymous id to its person; returns the ids linked (not already taken)."""
    if not links:
        return set()
    statement = insert_or_skip(conn, identities).returning(identities.c.anonymous_id)
    rows = [
        {"workspace_id": workspace_id, "anonymous_id": a, "person_id": p} for a, p in links.items()
    ]
    return set(conn.execute(statement, rows).scalars())


def merge_person(conn: sa.Connection, workspace_id: int, source_id: int, target_id: int) -> None:
    """Give the source's events and ids to the target, then delete the source.

    The source's scores and stage history go with it (cascade): the target has its own,
    and the next scoring reads the merged events.
    """
    move_events(conn, workspace_id, source_id, target_id)
    conn.execute(
        identities.update()
        .where(identities.c.workspace_id == workspace_id, identities.c.person_id == source_id)
        .values(person_id=target_id)
    )
    delete_person(conn, workspace_id, source_id)


def delete_person(conn: sa.Connection, workspace_id: int, person_id: int) -> None:
    conn.execute(
        people.delete().where(people.c.workspace_id == workspace_id, people.c.id == person_id)
    )


def save_people(
    conn: sa.Connection, workspace_id: int, changed: Sequence[Person], *, now: datetime
) -> None:
    """Write what ingestion owns (ids, email, account, traits, creation time) for many people."""
    if not changed:
        return
    statement = (
        people.update()
        .where(people.c.workspace_id == workspace_id, people.c.id == sa.bindparam("p_id"))
        .values(
            user_id=sa.bindparam("p_user_id"),
            email=sa.bindparam("p_email"),
            email_domain=sa.bindparam("p_email_domain"),
            account_id=sa.bindparam("p_account_id"),
            traits=sa.bindparam("p_traits"),
            created_at=sa.bindparam("p_created_at"),
            updated_at=to_db(now),
        )
    )
    conn.execute(
        statement,
        [
            {
                "p_id": p.id,
                "p_user_id": p.user_id,
                "p_email": p.email,
                "p_email_domain": p.email_domain,
                "p_account_id": p.account_id,
                "p_traits": dict(p.traits),
                "p_created_at": to_db(p.created_at),
            }
            for p in changed
        ],
    )


def load_accounts(
    conn: sa.Connection,
    workspace_id: int,
    by: Literal["id", "group_id"],
    values: Iterable[Any],
    *,
    lock: bool = False,
) -> list[Account]:
    found: list[Account] = []
    for chunk in chunked(sorted(set(values))):
        query = sa.select(accounts).where(
            accounts.c.workspace_id == workspace_id, accounts.c[by].in_(chunk)
        )
        if lock:
            # FOR NO KEY UPDATE: serialises writers of the row without blocking the
            # foreign-key checks of scores and history rows that point at it.
            query = query.with_for_update(key_share=True)
        found.extend(_account(r) for r in conn.execute(query.order_by(accounts.c.id)).mappings())
    return found


def group_ids_by_name(
    conn: sa.Connection, workspace_id: int, names: Iterable[str]
) -> dict[str, str]:
    """lowercased account name -> group id, for accounts with one of these names (oldest wins)."""
    found: dict[str, str] = {}
    for chunk in chunked(sorted({n.lower() for n in names})):
        rows = conn.execute(
            sa.select(accounts.c.name, accounts.c.group_id)
            .where(
                accounts.c.workspace_id == workspace_id, sa.func.lower(accounts.c.name).in_(chunk)
            )
            .order_by(accounts.c.id.desc())
        )
        found.update((name.lower(), group_id) for name, group_id in rows)
    return found


def insert_accounts(
    conn: sa.Connection, workspace_id: int, new: Mapping[str, datetime], *, now: datetime
) -> dict[str, int]:
    """New, empty accounts from group id -> created at; returns the ids of those created.

    A group id another transaction took meanwhile is left out of the answer.
    """
    if not new:
        return {}
    statement = insert_or_skip(conn, accounts).returning(accounts.c.group_id, accounts.c.id)
    rows = conn.execute(
        statement,
        [
            {
                "workspace_id": workspace_id,
                "group_id": group_id,
                "traits": {},
                "created_at": to_db(at),
                "updated_at": to_db(now),
            }
            # Sorted: two transactions creating the same accounts wait for each other
            # instead of deadlocking (PostgreSQL).
            for group_id, at in sorted(new.items())
        ],
    )
    return {group_id: new_id for group_id, new_id in rows}


def save_accounts(
    conn: sa.Connection, workspace_id: int, changed: Sequence[Account], *, now: datetime
) -> None:
    if not changed:
        return
    statement = (
        accounts.update()
        .where(accounts.c.workspace_id == workspace_id, accounts.c.id == sa.bindparam("a_id"))
        .values(
            name=sa.bindparam("a_name"),
            domain=sa.bindparam("a_domain"),
            plan=sa.bindparam("a_plan"),
            traits=sa.bindparam("a_traits"),
            updated_at=to_db(now),
        )
    )
    conn.execute(
        statement,
        [
            {
                "a_id": a.id,
                "a_name": a.name,
                "a_domain": a.domain,
                "a_plan": a.plan,
                "a_traits": dict(a.traits),
            }
            for a in changed
        ],
    )
