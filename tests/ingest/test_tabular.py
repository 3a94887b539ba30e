"""File imports: CSV and JSONL of people, accounts and events, with CRM column names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.factories import RECEIVED

from winnow.ingest import ImportReport, import_rows
from winnow.ingest.columns import ColumnMapping, Target, snake_case, typed
from winnow.store.events import list_rejected
from winnow.store.people import find_account, find_person
from winnow.store.schema import accounts, events, people
from winnow.store.workspaces import Workspace


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(
    conn: sa.Connection, workspace: Workspace, kind: str, path: Path, **options: Any
) -> ImportReport:
    return import_rows(conn, workspace.id, kind, path, received_at=RECEIVED, **options)


def count(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


PEOPLE_CSV = """\
email,user_id,title,seniority
ada@example.com,u1,CTO,exec
not-an-email,u2,Engineer,ic
carl@example.com,,"Head of
Data",director
,,Nobody,none
dora@example.com,u4,Analyst,ic,extra
erin@example.com,u5,Designer,ic
"""


def test_a_bad_csv_row_is_reported_by_line_and_the_rest_imported(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, "people.csv", PEOPLE_CSV)
    report = run(conn, workspace, "people", path)
    assert report.imported == 3
    # Line numbers are the file's: carl's row spans lines 4-5, so the next row is line 6.
    assert report.problems == (
        (3, "'email' is not an email address: 'not-an-email'"),
        (6, "needs an email or a user id (map a column to 'email' or 'user_id')"),
        (7, "5 values for 4 columns"),
    )
    assert find_person(conn, workspace.id, "carl@example.com").traits == {
        "title": "Head of\nData",
        "seniority": "director",
        "email": "carl@example.com",
    }
    kept = sorted(list_rejected(conn, workspace.id, source="import:people.csv"), key=lambda r: r.id)
    assert [(r.position, r.reason) for r in kept] == [
        (f"line {n}", f"line {n}: {reason}") for n, reason in report.problems
    ]
    assert json.loads(kept[0].payload) == {
        "email": "not-an-email",
        "user_id": "u2",
        "title": "Engineer",
        "seniority": "ic",
    }
    assert json.loads(kept[2].payload) == ["dora@example.com", "u4", "Analyst", "ic", "extra"]


def test_importing_people_twice_changes_nothing(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, "people.csv", PEOPLE_CSV)
    run(conn, workspace, "people", path)
    before = conn.execute(sa.select(people).order_by(people.c.id)).all()
    again = run(conn, workspace, "people", path)
    assert again.imported == 3
    assert conn.execute(sa.select(people).order_by(people.c.id)).all() == before
    assert count(conn, events) == 0  # an import is not something the person did


HUBSPOT_CONTACTS = """\
\ufeffRecord ID,First Name,Last Name,Email,Job Title,Company Name,Lifecycle Stage,Create Date,Country/Region,Industry,Number of Employees,Annual Revenue,Original Source,Favourite Colour
501,Ada,Lovelace,ada@initech.com,VP Engineering,Initech,Marketing Qualified Lead,2025-11-03 09:15,Germany,Software,120,25000000,Organic Search,teal
502,Bob,Stone,bob@initech.com,Engineer,Initech,Lead,2025-12-01 10:00,Germany,Software,120,25000000,Paid Search,
"""


def test_hubspot_contact_exports_are_recognised(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, "hubspot-contacts.csv", HUBSPOT_CONTACTS)
    report = run(conn, workspace, "people", path)
    assert (report.imported, report.problems) == (2, ())
    ada = find_person(conn, workspace.id, "ada@initech.com")
    assert ada.user_id is None
    assert ada.traits == {
        "hubspot_record_id": 501,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": "ada@initech.com",
        "title": "VP Engineering",
        "lifecycle_stage": "Marketing Qualified Lead",
        "country": "Germany",
        "lead_source": "Organic Search",
        "favourite_colour": "teal",
    }
    assert (ada.stage, ada.created_at) == ("lead", datetime(2025, 11, 3, 9, 15, tzinfo=UTC))
    account = find_account(conn, workspace.id, "Initech")
    assert account.name == "Initech"
    assert account.traits == {"industry": "Software", "employees": 120, "annual_revenue": 25000000}
    bob = find_person(conn, workspace.id, "bob@initech.com")
    assert ada.account_id == bob.account_id == account.id
    assert count(conn, accounts) == 1


SALESFORCE_ACCOUNTS = """\
Id,Name,Website,Industry,NumberOfEmployees,BillingCountry,Type
001Ax000001,Globex,https://globex.example/about,Manufacturing,2300,US,Prospect
001Ax000002,Umbrella,,Biotech,0042,GB,Customer
"""
SALESFORCE_CONTACTS = """\
Id,FirstName,LastName,Title,Email,AccountId,Lead Source,Status,CreatedDate
003Ax01,Hank,Scorpio,CEO,hank@globex.example,001Ax000001,Web,Open - Not Contacted,2026-01-05T08:00:00.000+0000
"""
SALESFORCE_LEADS = """\
Lead ID,FirstName,LastName,Title,Company,Email,Lead Source,Status,NumberOfEmployees,Industry,CreatedDate
00Q1,Marge,Bouvier,Head of Ops,Globex,marge@globex.example,Partner Referral,Working - Contacted,2300,Manufacturing,2026-02-01T12:30:00.000Z
00Q2,Lisa,Simpson,Student,Springfield Elementary,lisa@springfield.example,Web,Open - Not Contacted,40,Education,2026-02-02T12:30:00.000Z
"""


def test_salesforce_exports_are_recognised(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    assert (
        run(
            conn, workspace, "accounts", write(tmp_path, "Account.csv", SALESFORCE_ACCOUNTS)
        ).imported
        == 2
    )
    globex = find_account(conn, workspace.id, "001Ax000001")
    assert (globex.name, globex.domain) == ("Globex", "globex.example")
    assert globex.traits == {
        "website": "https://globex.example/about",
        "industry": "Manufacturing",
        "employees": 2300,
        "country": "US",
        "type": "Prospect",
    }
    # "0042" is kept as text: a leading zero says it is a code, not a count.
    assert find_account(conn, workspace.id, "001Ax000002").traits["employees"] == "0042"

    run(conn, workspace, "people", write(tmp_path, "Contact.csv", SALESFORCE_CONTACTS))
    hank = find_person(conn, workspace.id, "hank@globex.example")
    assert hank.account_id == globex.id
    assert hank.traits["salesforce_id"] == "003Ax01"
    assert (hank.traits["lead_source"], hank.traits["lead_status"]) == (
        "Web",
        "Open - Not Contacted",
    )
    assert hank.created_at == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    report = run(conn, workspace, "people", write(tmp_path, "Lead.csv", SALESFORCE_LEADS))
    assert (report.imported, report.problems) == (2, ())
    marge = find_person(conn, workspace.id, "marge@globex.example")
    assert marge.account_id == globex.id  # found by its name
    assert marge.traits["title"] == "Head of Ops"
    lisa = find_person(conn, workspace.id, "lisa@springfield.example")
    school = find_account(conn, workspace.id, "Springfield Elementary")
    assert lisa.account_id == school.id
    assert school.traits == {"employees": 40, "industry": "Education"}
    assert count(conn, accounts) == 3


def test_an_explicit_mapping_wins_and_unmapped_columns_become_traits(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "custom.csv",
        "Work Email,Member ID,Role,Org,Seats Bought,Lead Score (Custom),Notes\n"
        "ada@initech.com,m-1,CTO,Initech,25,87.5,ignore me\n",
    )
    mapping = {
        "Work Email": "email",
        "Member ID": "user_id",
        "Role": "title",
        "Org": "company",
        "Seats Bought": "account.seats",
        "Notes": "ignore",
    }
    report = run(conn, workspace, "people", path, mapping=mapping)
    assert report.problems == ()
    person = find_person(conn, workspace.id, "m-1")
    assert person.email == "ada@initech.com"
    assert person.traits == {"title": "CTO", "lead_score_custom": 87.5, "email": "ada@initech.com"}
    assert find_account(conn, workspace.id, "Initech").traits == {"seats": 25}


def test_a_mapping_naming_a_missing_column_is_refused(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, "people.csv", "email\nada@example.com\n")
    with pytest.raises(
        ValueError, match=r"names column\(s\) 'E-mail' that people.csv does not have"
    ):
        run(conn, workspace, "people", path, mapping={"E-mail": "email"})


EVENTS_CSV = """\
user_id,event,timestamp,message_id,properties,prop_count,plan,account_id
u1,Messages Sent,2026-04-01T10:00:00Z,e-1,"{""channel"": ""general""}",250,team,acct-1
u1,Messages Sent,2026-04-02T10:00:00Z,,,300,team,acct-1
u2,,2026-04-02T10:00:00Z,e-3,,1,,
u2,Signed In,yesterday,e-4,,,,
u2,Signed In,2026-04-03T08:00:00+02:00,e-5,{oops,,,
"""


def test_events_import_is_idempotent_and_reports_bad_rows(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, "events.csv", EVENTS_CSV)
    report = run(conn, workspace, "events", path)
    assert (report.imported, report.duplicates) == (2, 0)
    assert report.problems == (
        (4, "track needs 'event'"),
        (5, "'timestamp': not an ISO-8601 instant: 'yesterday'"),
        (6, "'properties' is not JSON"),
    )
    rows = conn.execute(
        sa.select(
            events.c.name, events.c.properties, events.c.context, events.c.timestamp
        ).order_by(events.c.timestamp)
    ).all()
    assert [tuple(r) for r in rows] == [
        (
            "Messages Sent",
            {"channel": "general", "count": 250, "plan": "team"},
            {"groupId": "acct-1"},
            datetime(2026, 4, 1, 10),
        ),
        (
            "Messages Sent",
            {"count": 300, "plan": "team"},
            {"groupId": "acct-1"},
            datetime(2026, 4, 2, 10),
        ),
    ]
    u1 = find_person(conn, workspace.id, "u1")
    assert u1.account_id == find_account(conn, workspace.id, "acct-1").id

    again = run(conn, workspace, "events", path)
    assert (again.imported, again.duplicates) == (0, 2)  # the row without an id dedupes too
    assert count(conn, events) == 2


def test_events_can_name_their_person_by_email(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    run(
        conn,
        workspace,
        "people",
        write(tmp_path, "people.csv", "Email,Title\nada@example.com,CTO\n"),
    )
    path = write(
        tmp_path,
        "events.csv",
        "Email,Event,Time\nADA@example.com,Webinar Attended,2026-04-10 15:00\nbo@example.com,Webinar Attended,2026-04-10 15:00\n",
    )
    report = run(conn, workspace, "events", path)
    assert report.imported == 2
    ada = find_person(conn, workspace.id, "ada@example.com")
    bo = find_person(conn, workspace.id, "bo@example.com")
    assert (bo.stage, bo.user_id) == ("lead", None)
    assert report.touched == {ada.id, bo.id}


JSONL = """\
{"type": "track", "userId": "u1", "event": "Trial Started", "timestamp": "2026-04-01T09:00:00Z", "messageId": "j-1", "properties": {"trial_plan_name": "team"}, "context": {"groupId": "acct-1"}}
{"type": "page", "anonymousId": "anon-1", "timestamp": "2026-04-01T09:05:00Z", "properties": {"path": "/pricing"}, "context": {"campaign": {"medium": "cpc"}}}

{"type": "track", "userId": "u1", "timestamp": "2026-04-01T09:10:00Z"}
{"userId": "u1", "event": "Invite Sent", "timestamp": "2026-04-01T09:20:00Z", "invitee_email": "bob@initech.com"}
not json
[1, 2]
"""


def test_jsonl_events_import(conn: sa.Connection, workspace: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path, "events.jsonl", JSONL)
    report = run(conn, workspace, "events", path)
    assert report.imported == 3
    assert report.problems == (
        (4, "track needs 'event'"),
        (6, "not JSON: Expecting value"),
        (7, "not a JSON object"),
    )
    rows = conn.execute(
        sa.select(events.c.type, events.c.name, events.c.properties, events.c.context).order_by(
            events.c.timestamp
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("track", "Trial Started", {"trial_plan_name": "team"}, {"groupId": "acct-1"}),
        ("page", "Page Viewed", {"path": "/pricing"}, {"campaign": {"medium": "cpc"}}),
        ("track", "Invite Sent", {"invitee_email": "bob@initech.com"}, {}),
    ]
    assert run(conn, workspace, "events", path).duplicates == 3


def test_jsonl_accounts_keep_json_types(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "accounts.ndjson",
        '{"group_id": "acct-1", "name": "Initech", "plan": "trial", "employees": "120", "tags": ["b2b"], "seats": 10}\n'
        '{"industry": "Software"}\n',
    )
    report = run(conn, workspace, "accounts", path)
    assert report.problems == (
        (2, "needs an account id or a name (map a column to 'group_id' or 'name')"),
    )
    account = find_account(conn, workspace.id, "acct-1")
    assert (account.name, account.plan) == ("Initech", "trial")
    assert account.traits == {"employees": 120, "tags": ["b2b"], "seats": 10}


def test_the_format_comes_from_the_suffix_or_is_said(
    conn: sa.Connection, workspace: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path, "people.export", '{"email": "ada@example.com"}\n')
    with pytest.raises(ValueError, match="cannot tell the format of people.export"):
        run(conn, workspace, "people", path)
    assert run(conn, workspace, "people", path, format="jsonl").imported == 1
    with pytest.raises(ValueError, match="format must be one of csv, jsonl, not 'xlsx'"):
        run(conn, workspace, "people", path, format="xlsx")


def test_column_names_are_recognised_ignoring_case_and_punctuation() -> None:
    people = ColumnMapping(kind="people")
    assert (
        people.target("First Name")
        == people.target("FirstName")
        == Target(place="trait", key="firstName")
    )
    assert people.target("Number of Employees") == Target(place="account", key="employees")
    assert (
        people.target("AccountId")
        == people.target("Account ID")
        == Target(place="field", key="account_id")
    )
    assert people.target("Shoe Size") == Target(place="trait", key="shoe_size")
    events = ColumnMapping(kind="events", explicit={"When": "timestamp"})
    assert events.target("When") == Target(place="field", key="timestamp")
    assert events.target("prop_plan") == Target(place="property", key="plan")
    assert events.target("context.ip") == Target(place="property", key="context_ip")
    with pytest.raises(ValueError, match="kind must be one of people, accounts, events"):
        ColumnMapping(kind="leads")


def test_snake_case_and_numbers() -> None:
    assert snake_case("Lead Score (Custom)") == "lead_score_custom"
    assert snake_case("annualRevenue") == "annual_revenue"
    assert snake_case("Country/Region") == "country_region"
    assert [typed(v) for v in ("120", "-3", "2.50", "0", "0042", "1,200", "1e5", "12a", 7)] == [
        120,
        -3,
        2.5,
        0,
        "0042",
        "1,200",
        "1e5",
        "12a",
        7,
    ]
