"""Identity resolution: which person a message is about, creating and merging people.

A person is keyed by `user_id`. Every other id that resolves to them (anonymous ids,
and user ids they had before an alias) is a row in `identities`. For each message:

- userId only: that person, created as a lead if new.
- anonymousId only: whoever the anonymous id resolves to, else a new anonymous person
  (a subscriber: no user id, no email) that the id now resolves to.
- userId and anonymousId: the userId's person. If the anonymous id belongs to an
  anonymous person, the two are one person: when the userId is new the anonymous
  person is adopted (given the user id, moved subscriber -> lead), otherwise it is
  merged into the userId's person (events and ids move over, the anonymous person is
  deleted). An anonymous id already held by another *identified* person stays theirs:
  two known users on one device are still two people.
- identify with an email: a person known only by that email (say, from a CRM import)
  is the same person, adopted or merged like an anonymous one.
- alias(previousId -> userId): previousId's person (by user id or anonymous id) is
  adopted or merged the same way, and previousId resolves to the result from now on.
- no ids at all (file imports only): the person with that email, else a new lead.

New people are recorded in stage history ("fact:created", at the message's time);
adoption records "fact:identified". Stages never move back here.

The directory keeps working copies of everyone one ingestion call touches and writes
them at the end (`flush`). People created during a call get a provisional (negative) id
and are stored only then, so a visitor created and merged within one call (a visit and
a login in the same batch) never costs an insert and a delete. Merging someone already
stored moves their rows at once. Creating people and ids skips conflicts at the
database: if another transaction created the same user id meanwhile, this call's
copy folds into theirs; if it took the same anonymous id, theirs keeps it and a visitor
created here just for that id folds into theirs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from winnow.ingest.messages import Message
from winnow.lifecycle import Move
from winnow.store import people as store
from winnow.store.history import record_moves


@dataclass(kw_only=True)
class Draft:
    """A person's working copy. Mutable on purpose: many messages edit it, one write saves it."""

    id: int  # negative until stored
    user_id: str | None
    email: str | None
    email_domain: str | None
    account_id: int | None
    traits: dict[str, Any]
    stage: str
    stage_changed_at: datetime
    created_at: datetime
    recycled_at: datetime | None = None
    owner: str | None = None
    changed: bool = False

    @property
    def stored(self) -> bool:
        return self.id > 0

    @classmethod
    def of(cls, person: store.Person) -> Draft:
        return cls(
            id=person.id,
            user_id=person.user_id,
            email=person.email,
            email_domain=person.email_domain,
            account_id=person.account_id,
            traits=dict(person.traits),
            stage=person.stage,
            stage_changed_at=person.stage_changed_at,
            created_at=person.created_at,
            recycled_at=person.recycled_at,
            owner=person.owner,
        )

    def saved(self) -> store.Person:
        return store.Person(
            id=self.id,
            user_id=self.user_id,
            email=self.email,
            email_domain=self.email_domain,
            account_id=self.account_id,
            traits=self.traits,
            stage=self.stage,
            stage_changed_at=self.stage_changed_at,
            recycled_at=self.recycled_at,
            owner=self.owner,
            created_at=self.created_at,
        )


def email_domain(email: str) -> str | None:
    domain = email.rpartition("@")[2].strip().lower()
    return domain or None


@dataclass(kw_only=True)
class Directory:
    """Who is who, within one ingestion call (or one file import)."""

    conn: sa.Connection
    workspace_id: int
    received_at: datetime
    drafts: dict[int, Draft] = field(default_factory=dict)
    # (merged person id, the id it became) for stored people, in order.
    merged: list[tuple[int, int]] = field(default_factory=list)
    _by_user: dict[str, int] = field(default_factory=dict)
    _by_anonymous: dict[str, int] = field(default_factory=dict)
    _by_email: dict[str, int] = field(default_factory=dict)
    # Ids that now stand for another person: merged away, or provisional and then stored.
    _became: dict[int, int] = field(default_factory=dict)
    _looked_up: set[tuple[str, str]] = field(default_factory=set)
    _links: list[str] = field(default_factory=list)
    _created: set[int] = field(default_factory=set)
    _moves: list[Move] = field(default_factory=list)
    _touched: set[int] = field(default_factory=set)
    _provisional: int = 0

    def preload(self, messages: Iterable[Message]) -> None:
        """Read everyone these messages could be about, in a few queries instead of many."""
        user_ids: set[str] = set()
        other_ids: set[str] = set()
        emails: set[str] = set()
        for m in messages:
            for value, kind, into in (
                (m.user_id, "user", user_ids),
                (m.previous_id, "user", user_ids),
                (m.email, "email", emails),
            ):
                if value is not None and (kind, value) not in self._looked_up:
                    into.add(value)
            # Former user ids resolve through identities too.
            for value in (m.anonymous_id, m.previous_id, m.user_id):
                if value is not None and ("anonymous", value) not in self._looked_up:
                    other_ids.add(value)
        self._looked_up.update(("user", v) for v in user_ids)
        self._looked_up.update(("email", v) for v in emails)
        self._looked_up.update(("anonymous", v) for v in other_ids)
        self._load(store.load_people(self.conn, self.workspace_id, "user_id", user_ids, lock=True))
        self._load(store.load_people(self.conn, self.workspace_id, "email", emails, lock=True))
        known = store.identities_of(self.conn, self.workspace_id, other_ids)
        self._by_anonymous.update(known)
        self._load_ids(known.values())

    def _load_ids(self, person_ids: Iterable[int]) -> None:
        missing = set(person_ids) - self.drafts.keys()
        self._load(store.load_people(self.conn, self.workspace_id, "id", missing, lock=True))

    def _load(self, found: Iterable[store.Person]) -> None:
        for person in found:
            if person.id not in self.drafts:
                self._register(Draft.of(person))

    def _register(self, draft: Draft) -> None:
        self.drafts[draft.id] = draft
        if draft.user_id is not None:
            self._by_user[draft.user_id] = draft.id
        if draft.email is not None:
            self._by_email.setdefault(draft.email, draft.id)

    def resolve(self, message: Message) -> Draft:
        """The person a message is about (see the module comment); preload it first."""
        at = message.timestamp
        if message.type == "alias":
            person = self._alias(message, at)
        elif message.user_id is not None:
            person = self._identified(message, at)
        elif message.anonymous_id is not None:
            person = self._anonymous(message.anonymous_id, at)
        else:
            assert message.email is not None, "a message names someone (checked on parsing)"
            person = self._find_email(message.email) or self._create(
                user_id=None, email=message.email, stage="lead", at=at
            )
        self._touched.add(person.id)
        return person

    def _identified(self, message: Message, at: datetime) -> Draft:
        assert message.user_id is not None
        target = self._find_user(message.user_id)
        # People without a user id that this message shows to be the same person.
        unclaimed: list[Draft] = []
        for other in (
            self._find_email(message.email) if message.email else None,
            self._find_anonymous(message.anonymous_id) if message.anonymous_id else None,
        ):
            if other is not None and other.user_id is None:
                if all(other.id != u.id for u in unclaimed):
                    unclaimed.append(other)
        if target is None and unclaimed:
            target = self._adopt(unclaimed.pop(0), message.user_id, at)
        if target is None:
            target = self._create(user_id=message.user_id, email=None, stage="lead", at=at)
        for other in unclaimed:
            if other.id != target.id:
                target = self._merge(other, target)
        if message.anonymous_id is not None and message.anonymous_id not in self._by_anonymous:
            self._link(message.anonymous_id, target)
        return target

    def _anonymous(self, anonymous_id: str, at: datetime) -> Draft:
        owner = self._find_anonymous(anonymous_id)
        if owner is not None:
            return owner
        person = self._create(user_id=None, email=None, stage="subscriber", at=at)
        self._link(anonymous_id, person)
        return person

    def _alias(self, message: Message, at: datetime) -> Draft:
        assert message.user_id is not None and message.previous_id is not None
        previous = message.previous_id
        target = self._find_user(message.user_id)
        source = self._find_user(previous) or self._find_anonymous(previous)
        if source is None:
            target = target or self._create(
                user_id=message.user_id, email=None, stage="lead", at=at
            )
        elif target is None:
            target = self._adopt(source, message.user_id, at)
        elif source.id != target.id:
            target = self._merge(source, target)
        if previous not in self._by_anonymous:
            self._link(previous, target)
        return target

    def _find_user(self, user_id: str) -> Draft | None:
        found = self._by_user.get(user_id)
        if found is None:
            # A user id someone had before an alias resolves like an anonymous id.
            former = self._find_anonymous(user_id)
            return former if former is not None and former.user_id is not None else None
        return self.drafts[self.alive(found)]

    def _find_anonymous(self, anonymous_id: str) -> Draft | None:
        found = self._by_anonymous.get(anonymous_id)
        return None if found is None else self.drafts[self.alive(found)]

    def _find_email(self, email: str | None) -> Draft | None:
        found = self._by_email.get(email) if email else None
        return None if found is None else self.drafts.get(self.alive(found))

    def alive(self, person_id: int) -> int:
        """The person an id stands for now (merged away, or provisional and since stored)."""
        while person_id in self._became:
            person_id = self._became[person_id]
        return person_id

    def _create(self, *, user_id: str | None, email: str | None, stage: str, at: datetime) -> Draft:
        self._provisional -= 1
        draft = Draft(
            id=self._provisional,
            user_id=user_id,
            email=email,
            email_domain=email_domain(email) if email else None,
            account_id=None,
            traits={},
            stage=stage,
            stage_changed_at=at,
            created_at=at,
        )
        self._register(draft)
        self._moves.append(
            Move(person_id=draft.id, from_stage=None, to_stage=stage, at=at, cause="fact:created")
        )
        return draft

    def _adopt(self, person: Draft, user_id: str, at: datetime) -> Draft:
        """Give a person a (new) user id; a former one keeps resolving to them."""
        former = person.user_id
        person.user_id = user_id
        person.changed = True
        self._by_user[user_id] = person.id
        if former is not None:
            self._by_user.pop(former, None)
            self._link(former, person)
        if person.stage == "subscriber":
            move = Move(
                person_id=person.id,
                from_stage="subscriber",
                to_stage="lead",
                at=at,
                cause="fact:identified",
            )
            self._moves.append(move)
            person.stage, person.stage_changed_at = "lead", at
        return person

    def _merge(self, source: Draft, target: Draft) -> Draft:
        """Make two people one, the target keeping its own values where both have one."""
        if source.stored:
            # The source's rows move over now, so the target must exist in the store.
            target = self._store(target)
            store.merge_person(self.conn, self.workspace_id, source.id, target.id)
            self.merged.append((source.id, target.id))
        self._fold(source, into=target, theirs_win=False)
        return target

    def _fold(self, source: Draft, *, into: Draft, theirs_win: bool) -> None:
        """Carry a draft's values over to another and retire it (its id now means `into`)."""
        # Moves recorded for the source (its creation, say) are not the survivor's.
        self._moves = [m for m in self._moves if self.alive(m.person_id) != source.id]
        first, second = (into, source) if theirs_win else (source, into)
        into.traits = {**first.traits, **second.traits}
        into.email = second.email or first.email
        into.email_domain = email_domain(into.email) if into.email else None
        into.account_id = second.account_id or first.account_id
        into.created_at = min(into.created_at, source.created_at)
        into.changed = True
        self._became[source.id] = into.id
        del self.drafts[source.id]
        self._touched.add(into.id)
        if source.user_id is not None and source.user_id != into.user_id:
            self._by_user.pop(source.user_id, None)
            self._link(source.user_id, into)

    def _store(self, draft: Draft) -> Draft:
        """Insert a provisional person; returns whoever it is now (theirs, after a race)."""
        return self._store_all([draft])[0]

    def _store_all(self, drafts: list[Draft]) -> list[Draft]:
        """Insert provisional people in one statement; each becomes whoever it is now."""
        new = [d for d in drafts if not d.stored]
        ids = store.insert_people(
            self.conn, self.workspace_id, [d.saved() for d in new], now=self.received_at
        )
        for draft, new_id in zip(new, ids, strict=True):
            if new_id is None:
                # Another transaction created this user id meanwhile: ours folds into
                # theirs, with this call's values on top, and theirs keeps its own history.
                assert draft.user_id is not None
                found = store.load_people(self.conn, self.workspace_id, "user_id", [draft.user_id])
                self._load(found)
                self._fold(draft, into=self.drafts[found[0].id], theirs_win=True)
                continue
            del self.drafts[draft.id]
            self._became[draft.id] = new_id
            draft.id = new_id
            draft.changed = False
            self._register(draft)
            self._created.add(new_id)
        return [self.drafts[self.alive(d.id)] for d in drafts]

    def _link(self, anonymous_id: str, person: Draft) -> None:
        """Let an id resolve to the person (stored by `flush`) unless it resolves already."""
        if anonymous_id not in self._by_anonymous:
            self._by_anonymous[anonymous_id] = person.id
            self._links.append(anonymous_id)

    def set_traits(self, person: Draft, traits: Mapping[str, Any]) -> None:
        # An explicit null removes nothing: clients send null for "not known here", and
        # a partial form or a library default must not erase what a CRM import or an
        # earlier identify set. Keys are kept exactly as sent.
        for key, value in traits.items():
            if value is not None and person.traits.get(key, None) != value:
                person.traits[key] = value
                person.changed = True

    def set_email(self, person: Draft, email: str) -> None:
        if person.email != email:
            person.email, person.email_domain = email, email_domain(email)
            person.changed = True
        self._by_email.setdefault(email, person.id)

    def set_account(self, person: Draft, account_id: int) -> None:
        if person.account_id != account_id:
            person.account_id = account_id
            person.changed = True

    def flush(self) -> None:
        """Store new people and ids, save what changed, then record the moves."""
        self._store_all([d for d in self.drafts.values() if not d.stored])
        self._store_links()
        changed = [d for d in self.drafts.values() if d.changed]
        store.save_people(
            self.conn, self.workspace_id, [d.saved() for d in changed], now=self.received_at
        )
        for draft in changed:
            draft.changed = False
        moves = [dataclasses.replace(m, person_id=self.alive(m.person_id)) for m in self._moves]
        record_moves(self.conn, self.workspace_id, [m for m in moves if m.person_id in self.drafts])
        self._moves = []

    def _store_links(self) -> None:
        wanted = {a: self.alive(self._by_anonymous[a]) for a in self._links}
        self._links = []
        taken = set(wanted) - store.link_identities(self.conn, self.workspace_id, wanted)
        if not taken:
            return
        # Another transaction linked these ids meanwhile: the ids stay theirs, and a
        # visitor created here only for such an id is theirs too.
        owners = store.identities_of(self.conn, self.workspace_id, taken)
        self._by_anonymous.update(owners)
        self._load_ids(owners.values())
        for anonymous_id, owner in owners.items():
            ours = self.drafts.get(wanted[anonymous_id])
            if ours is not None and ours.id in self._created and ours.user_id is None:
                self._merge(ours, self.drafts[owner])

    def touched(self) -> frozenset[int]:
        return frozenset(self.alive(p) for p in self._touched)
