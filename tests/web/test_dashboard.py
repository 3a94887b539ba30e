"""The dashboard in a real browser: headless Chromium driven by Playwright, a real server.

The browser is the system's Chromium (/usr/bin/chromium); nothing is downloaded. Every
page visited is saved as a screenshot under build/screenshots/ for people to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tests.factories import CREATED, make_group, make_identify, make_page, make_track
from tests.server.conftest import NOW, SPEC, start

from winnow.ingest import ingest_messages
from winnow.qualification import rescore
from winnow.server import Settings, create_app
from winnow.store.db import create_engine, migrate
from winnow.store.specs import publish_spec
from winnow.store.users import create_user
from winnow.store.workspaces import create_workspace

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
PASSWORD = "correct horse battery"
# Reviews are due 8 hours after entering the queue, any hour of any day.
HANDOFF = """
handoff:
  calendar: {hours: "00:00-24:00", days: [mon, tue, wed, thu, fri, sat, sun]}
  sla: {mql: 8h}
  owners:
    - {round_robin: [ana@acme.example]}
"""
# p_convert: sigmoid(-2 + 1.5) = 38% for anyone who asked for a demo.
MODEL = """
model:
  name: test-model
  intercept: -2
  factors:
    - {name: asked for a demo, when: 'did("Demo Requested")', weight: 1.5}
    - {name: an engineer, when: 'matches(person.title, "(?i)^engineer")', weight: -0.5}
"""
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a SQLite store with two leads in the review queue and three users."""
    path = tmp_path_factory.mktemp("dashboard") / "winnow.db"
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.begin() as conn:
        ws = create_workspace(conn, "acme", "Acme", now=CREATED)
        publish_spec(conn, ws.id, SPEC + HANDOFF + MODEL, by="test", now=CREATED)
        for email, role in (("ana@acme.example", "admin"), ("rui@acme.example", "read")):
            create_user(conn, ws.id, email=email, password=PASSWORD, role=role, now=CREATED)
        people = [
            ("ada", "Ada", "Lovelace", "VP Engineering", "initech"),
            ("cy", "Cy", "Young", "VP Sales", "globex"),
            ("bob", "Bob", "Stone", "Engineer", "initech"),
        ]
        messages = []
        for user, first, last, title, company in people:
            traits = {"firstName": first, "lastName": last, "title": title,
                      "email": f"{user}@{company}.example"}  # fmt: skip
            messages += [make_identify(userId=user, traits=traits),
                         make_group(userId=user, groupId=company,
                                    traits={"name": company.title(), "plan": "trial"})]  # fmt: skip
        messages += [make_page(userId="ada"), make_track(userId="ada", event="Demo Requested"),
                     make_track(userId="cy", event="Demo Requested"), make_page(userId="bob")]  # fmt: skip
        ingest_messages(conn, ws.id, messages, received_at=NOW, source="test")
        rescore(conn, ws.id, as_of=NOW)
    app = create_app(Settings(scorer=False, dispatcher=False), engine=engine, clock=lambda: NOW)
    server, thread, url = start(app)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join()
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, site: str, email: str = "ana@acme.example") -> None:
    page.goto(f"{site}/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site}/")


def test_signing_in_opens_the_overview(page: Page, site: str) -> None:
    page.goto(f"{site}/leads")
    expect(page).to_have_url(re.compile(r"/login\?next=/leads$"))
    page.fill("input[name=email]", "ana@acme.example")
    page.fill("input[name=password]", "wrong password!")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_have_text("The email or password is not right.")
    shot(page, "sign-in")
    sign_in(page, site)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    waiting = page.locator(".kpi").first
    expect(waiting).to_contain_text("2")
    expect(waiting).to_contain_text("MQLs and PQLs waiting for review")
    expect(page.locator("table.funnel tbody tr").first).to_contain_text("LEAD → MQL")
    expect(page.locator("canvas#weekly")).to_have_attribute("data-drawn", "1")
    shot(page, "overview")


def test_filtering_leads_and_accepting_one(page: Page, site: str) -> None:
    sign_in(page, site)
    page.goto(f"{site}/leads")
    rows = page.locator("table.leads tbody tr")
    expect(rows).to_have_count(3)
    page.select_option("select[name=stage]", "mql")
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"stage=mql"))
    page.fill("input[name=q]", "lovelace")
    expect(rows).to_have_count(1)
    shot(page, "leads-filtered")
    page.click("table.leads a")
    expect(page.get_by_role("heading", name=re.compile("Ada Lovelace"))).to_be_visible()
    expect(page.locator(".rules li").first).to_contain_text("demo")
    expect(page.locator("h3.pconvert")).to_have_text("Chance to convert 38%")
    expect(page.locator("p.small", has_text="For")).to_contain_text("asked for a demo")
    shot(page, "lead")
    page.get_by_role("button", name="Accept as SAL").click()
    expect(page.locator("h1 .badge")).to_have_text("SAL")
    expect(page.locator(".history li").first).to_contain_text("user:ana@acme.example")


def test_a_read_only_user_sees_no_actions_and_a_forged_form_is_refused(
    page: Page, site: str
) -> None:
    sign_in(page, site, "rui@acme.example")
    page.goto(f"{site}/leads?stage=mql")
    page.click("table.leads a")
    expect(page.get_by_role("heading", name=re.compile("Cy Young"))).to_be_visible()
    expect(page.get_by_role("button", name="Accept as SAL")).to_have_count(0)
    person = page.url.rsplit("/", 1)[1]
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    forged = httpx.post(f"{site}/people/{person}/actions/accept", cookies=cookies, data={})
    assert forged.status_code == 403
    assert "out of date" in forged.text


def test_switching_to_japanese(page: Page, site: str) -> None:
    sign_in(page, site)
    page.select_option("#lang-select", "ja")
    expect(page.get_by_role("heading", name="概要")).to_be_visible()
    expect(page.locator(".side")).to_contain_text("リード")
    expect(page.locator(".kpi").first).to_contain_text("レビュー待ちのMQL・PQL")
    shot(page, "overview-ja")
    page.goto(f"{site}/leads")
    expect(page.get_by_role("heading", name="リード")).to_be_visible()
    shot(page, "leads-ja")
    # The choice is the user's: it follows them to a new browser.
    page.context.clear_cookies()
    sign_in(page, site)
    expect(page.get_by_role("heading", name="概要")).to_be_visible()
    page.select_option("#lang-select", "en")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_the_session_cookie_is_http_only_and_signing_out_ends_it(page: Page, site: str) -> None:
    sign_in(page, site)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "winnow_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    answer = httpx.get(f"{site}/", cookies={"winnow_session": cookie["value"]})
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/"


def test_a_segment_with_an_error_is_shown_in_place_then_fixed_and_saved(
    page: Page, site: str
) -> None:
    sign_in(page, site)
    page.goto(f"{site}/segments")
    page.fill("#segment-form input[name=name]", "asked for a demo")
    page.fill("#segment-form textarea[name=expression]", 'did("Demo Requested") and engagment > 0')
    problems = page.locator("#check .problems")
    expect(problems).to_contain_text("unknown name 'engagment'")
    expect(problems).to_contain_text("did you mean 'engagement'?")
    shot(page, "segment-error")
    page.fill("#segment-form textarea[name=expression]", 'did("Demo Requested") and engagement > 0')
    expect(page.locator("#check .ok")).to_have_text("Valid: 2 people are in it now.")
    shot(page, "segment-valid")
    page.get_by_role("button", name="Save and publish").click()
    row = page.locator("table.segments tbody tr", has_text="asked for a demo")
    expect(row).to_contain_text("2")
    row.get_by_role("link").click()
    expect(page.locator("table.leads tbody tr")).to_have_count(2)


def test_the_review_queue_shows_sla_timers_and_takes_a_review(page: Page, site: str) -> None:
    sign_in(page, site)
    page.goto(f"{site}/queue")
    row = page.locator("table.queue tbody tr", has_text="Cy Young")
    expect(row).to_contain_text("8.0 h left")
    expect(row).to_contain_text("ana@acme.example")
    shot(page, "queue")
    row.locator("select[name=outcome]").select_option("nurture")
    row.locator("input[name=reason]").fill("next quarter")
    row.get_by_role("button", name="Done").click()
    expect(page.locator("table.queue tbody tr", has_text="Cy Young")).to_have_count(0)
    page.goto(f"{site}/leads?q=young")
    expect(page.locator("table.leads tbody tr").first).to_contain_text("NURTURE")


def test_reports_draw_their_charts(page: Page, site: str) -> None:
    sign_in(page, site)
    page.goto(f"{site}/reports")
    expect(page.locator("canvas[data-drawn='1']")).to_have_count(4)
    expect(page.locator("section", has_text="Funnel").locator("tbody tr").first).to_contain_text(
        "LEAD → MQL"
    )
    shot(page, "reports")


def test_the_spec_page_shows_versions_their_diff_and_checks_a_draft(page: Page, site: str) -> None:
    sign_in(page, site)
    page.goto(f"{site}/spec")
    # The segment saved earlier made version 2: its diff adds the segments block.
    expect(page.locator(".versions li").first).to_contain_text("v2")
    expect(page.locator("pre.diff .d-added").last).to_contain_text("'asked for a demo'")
    expect(page.locator("pre.diff .d-removed")).to_have_count(0)
    draft = page.locator("#spec-form textarea[name=source]")
    original = draft.input_value()
    draft.fill(original.replace("engagement >= 40", "engagment >= 40"))
    expect(page.locator("#spec-check .problems")).to_contain_text(
        "stages.mql (line 9): unknown name 'engagment'"
    )
    shot(page, "spec-error")
    draft.fill(original)
    expect(page.locator("#spec-check .ok")).to_contain_text("Valid: 1 fit rules")


def test_settings_create_a_key_an_endpoint_and_log_what_it_is_sent(page: Page, site: str) -> None:
    sign_in(page, site, "rui@acme.example")
    assert httpx.get(f"{site}/settings", cookies=_cookies(page)).status_code == 403
    expect(page.locator(".side")).not_to_contain_text("Settings")
    page.context.clear_cookies()
    sign_in(page, site)
    page.goto(f"{site}/settings")
    keys = page.locator("section", has_text="API keys")
    keys.locator("input[name=name]").fill("crm sync")
    keys.locator("select[name=kind]").select_option("secret")
    keys.locator("select[name=role]").select_option("read")
    keys.get_by_role("button", name="Create key").click()
    token = page.locator(".new-token code").inner_text()
    assert token.startswith("wn_secret_")
    reader = httpx.get(f"{site}/api/v1/people", headers={"Authorization": f"Bearer {token}"})
    assert reader.status_code == 200
    hooks = page.locator("section", has_text="Notification endpoints")
    hooks.locator("input[name=name]").fill("crm")
    hooks.locator("input[name=url]").fill("https://crm.example/winnow")
    hooks.locator("input[value='person.disqualified']").check()
    hooks.get_by_role("button", name="Add endpoint").click()
    expect(page.locator("table.endpoints")).to_contain_text("person.disqualified")
    # A move that rule wants lands in the log, waiting for the dispatcher.
    page.goto(f"{site}/leads?q=stone")
    page.click("table.leads a")
    page.locator("form.a-disqualify input[name=reason]").fill("student")
    page.get_by_role("button", name="Disqualify").click()
    page.goto(f"{site}/settings")
    entry = page.locator("table.log tbody tr").first
    expect(entry).to_contain_text("person.disqualified")
    expect(entry).to_contain_text("pending")
    shot(page, "settings")


def _cookies(page: Page) -> dict[str, str]:
    return {c["name"]: c["value"] for c in page.context.cookies()}


def test_bulk_actions_move_the_ticked_leads_and_say_who_could_not(page: Page, site: str) -> None:
    sign_in(page, site)
    page.goto(f"{site}/leads")
    for name in ("Ada Lovelace", "Cy Young"):  # a SAL and a nurtured lead by now
        page.locator("table.leads tr", has_text=name).locator("input[name=ids]").check()
    page.locator("#bulk select[name=action]").select_option("accept")
    page.get_by_role("button", name="Apply").click()
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("0 moved, 2 not.")
    expect(notice).to_contain_text("they are in stage 'sal', and only mql, pql can move to sal")
    page.locator("table.leads tr", has_text="Cy Young").locator("input[name=ids]").check()
    page.locator("#bulk select[name=action]").select_option("disqualify")
    page.locator("#bulk input[name=reason]").fill("duplicate")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("1 moved, 0 not.")
    expect(page.locator("table.leads tr", has_text="Cy Young")).to_contain_text("DISQUALIFIED")


def test_pages_fit_a_phone_screen(browser: Browser, site: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone = context.new_page()
    try:
        sign_in(phone, site)
        for path, name in (("/", "phone-overview"), ("/queue", "phone-queue")):
            phone.goto(f"{site}{path}")
            overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the phone"
            shot(phone, name)
    finally:
        context.close()
