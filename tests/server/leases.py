"""A log of the scoring queue's leases and of score writes, kept by PostgreSQL triggers.

Each claim (a lease taken), free (a lease settled or given back) and score write is
logged with the process that made it: its connection's application_name. A queue row's
changes wait for its lock, so the sequence has one person's claims and frees in the
order they committed, and a score write between its claim and its free (settling is in
the same transaction). A full rescore's leases are claims like the others (queue rows
inserted already leased, or updated). The triggers live in the test's schema only while
the log is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

Entry = tuple[str, int, str]  # (kind, person id, process)

EVIDENCE = """
CREATE TABLE mp_log (
    seq bigserial PRIMARY KEY, kind text NOT NULL, person_id integer NOT NULL,
    process text NOT NULL
);
CREATE FUNCTION mp_log_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.claimed_until IS NOT NULL THEN
            INSERT INTO mp_log (kind, person_id, process)
            VALUES ('claim', NEW.person_id, current_setting('application_name'));
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.claimed_until IS NOT NULL THEN
            INSERT INTO mp_log (kind, person_id, process)
            VALUES ('free', OLD.person_id, current_setting('application_name'));
        END IF;
    ELSIF NEW.claimed_until IS NOT NULL
          AND NEW.claimed_until IS DISTINCT FROM OLD.claimed_until THEN
        INSERT INTO mp_log (kind, person_id, process)
        VALUES ('claim', NEW.person_id, current_setting('application_name'));
    ELSIF OLD.claimed_until IS NOT NULL AND NEW.claimed_until IS NULL THEN
        INSERT INTO mp_log (kind, person_id, process)
        VALUES ('free', NEW.person_id, current_setting('application_name'));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER mp_log_queue AFTER INSERT OR UPDATE OR DELETE ON scoring_queue
    FOR EACH ROW EXECUTE FUNCTION mp_log_queue();
CREATE FUNCTION mp_log_scores() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mp_log (kind, person_id, process)
    VALUES ('score', NEW.person_id, current_setting('application_name'));
    RETURN NULL;
END $$;
CREATE TRIGGER mp_log_scores AFTER INSERT ON scores
    FOR EACH ROW EXECUTE FUNCTION mp_log_scores();
"""
NO_EVIDENCE = """
DROP TRIGGER mp_log_scores ON scores;
DROP TRIGGER mp_log_queue ON scoring_queue;
DROP FUNCTION mp_log_scores();
DROP FUNCTION mp_log_queue();
DROP TABLE mp_log;
"""


@contextmanager
def lease_log(engine: sa.Engine) -> Iterator[list[Entry]]:
    """Log while inside; the list holds the entries, in order, once the block ends."""
    with engine.begin() as conn:
        conn.execute(sa.text(EVIDENCE))
    log: list[Entry] = []
    try:
        yield log
    finally:
        with engine.begin() as conn:
            found = conn.execute(
                sa.text("SELECT kind, person_id, process FROM mp_log ORDER BY seq")
            )
            log.extend((kind, person, process) for kind, person, process in found)
            conn.execute(sa.text(NO_EVIDENCE))


def lease_violations(log: list[Entry]) -> list[str]:
    """Claims of a held person, and frees and score writes by a process not holding them."""
    holder: dict[int, str] = {}
    found = []
    for kind, person, process in log:
        held = holder.get(person)
        if kind == "claim":
            if held is not None:
                found.append(f"{process} claimed person {person} held by {held}")
            holder[person] = process
        elif kind == "free":
            if held != process:
                found.append(f"{process} freed person {person} held by {held}")
            holder.pop(person, None)
        elif held != process:
            found.append(f"{process} wrote the score of person {person} held by {held}")
    return found
