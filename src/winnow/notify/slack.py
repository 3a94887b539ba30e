"""Slack incoming-webhook messages for notifications.

Sales reads these on a phone between calls, so one glance must say who, what and why:
a headline, the stage/score/owner, the top reasons and a link back to Winnow. The
input is plain data (the notification's type and payload), so this stays a pure
function that the outbox, previews and tests call alike.

Names, titles and reasons come from forms and CRMs, i.e. from strangers: everything
user-provided is escaped so a lead called "<!channel>" cannot ping a channel. All
English lives in TEMPLATES (and STAGE_NAMES) so it can be translated in one place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

TEMPLATES: Final[Mapping[str, str]] = {
    "person.mql": "New MQL: {who}",
    "person.sql": "New SQL: {who}",
    "person.pql": "New PQL: {who}",
    "person.csql": "New CSQL: {who}",
    "person.sal": "Sales accepted: {who}",
    "person.opportunity": "New opportunity: {who}",
    "person.customer": "New customer: {who}",
    "person.reengaged": "Re-engaged: {who}",
    "person.other": "{who} moved to {stage}",
    "review.overdue": "SLA breached: {who} waiting {hours} business hours past due",
    "review.overdue.one": "SLA breached: {who} waiting 1 business hour past due",
    "review.overdue.unknown": "SLA breached: {who} is past due",
    "account.converted": "{account} converted from {old} to {new}",
    "account.converted.to": "{account} converted to {new}",
    "account.converted.paid": "{account} converted to a paid plan",
    "unknown": "{type}: {who}",
    "unknown.none": "Winnow notification: {type}",
    "who": "{name}",
    "who.title": "{name} ({title})",
    "who.account": "{name} at {account}",
    "who.title.account": "{name} ({title}) at {account}",
    "person.id": "person {id}",
    "person.none": "an unknown person",
    "account.id": "account {id}",
    "account.none": "An account",
    "field.stage": "Stage",
    "field.score": "Score",
    "field.owner": "Owner",
    "stage.change": "{old} → {new}",
    "score.grade": "{score} (grade {grade})",
    "score.parts": "fit {fit} · engagement {engagement}",
    "owner.none": "Unassigned",
    "reasons": "Top reasons: {reasons}",
    "reasons.separator": " · ",
    "link": "Open in Winnow",
}

STAGE_NAMES: Final[Mapping[str, str]] = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "nurture": "Nurture",
    "mql": "MQL",
    "pql": "PQL",
    "sal": "SAL",
    "sql": "SQL",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "csql": "CSQL",
    "disqualified": "Disqualified",
}

# Slack rejects a whole message whose blocks exceed these, so we truncate instead.
HEADER_LIMIT: Final = 150
TEXT_LIMIT: Final = 3000
FIELD_LIMIT: Final = 2000
MAX_REASONS: Final = 5
ELLIPSIS: Final = "…"


def slack_message(type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The incoming-webhook body ({"text", "blocks"}) for one notification."""
    headline = _headline(type, data)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(headline, HEADER_LIMIT)}}
    ]
    fields = _fields(data)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    reasons = _reasons(data.get("reasons"))
    if reasons:
        text = truncate(TEMPLATES["reasons"].format(reasons=reasons), TEXT_LIMIT)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    link = _text(data.get("link"))
    # Only web links: anything else would render as a dead or misleading link.
    if link is not None and link.startswith(("https://", "http://")):
        # A '|' would end the URL part of <url|label> early.
        url = escape(link).replace("|", "%7C")
        text = f"<{url}|{TEMPLATES['link']}>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    # The top-level text is what notifications and screen readers show.
    return {"text": truncate(headline, TEXT_LIMIT), "blocks": blocks}


def escape(text: str) -> str:
    """Slack's three control characters as entities; '&' first, or it would double-escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, ending in "…" when cut, never inside an &entity;."""
    if len(text) <= limit:
        return text
    cut = limit - len(ELLIPSIS)
    amp = text.rfind("&", 0, cut)
    # Every '&' in escaped text starts an entity; cutting through one would show garbage.
    if amp != -1 and text.find(";", amp) >= cut:
        cut = amp
    return text[:cut] + ELLIPSIS


def _headline(type: str, data: Mapping[str, Any]) -> str:
    who = _who(data)
    if type == "review.overdue":
        hours = _number(_mapping(data.get("review")).get("overdue_by_hours"))
        if hours is None:
            return TEMPLATES["review.overdue.unknown"].format(who=who)
        key = "review.overdue.one" if hours == "1" else "review.overdue"
        return TEMPLATES[key].format(who=who, hours=hours)
    if type == "account.converted":
        return _converted(data)
    if type in TEMPLATES and type.startswith("person."):
        return TEMPLATES[type].format(who=who)
    if type.startswith("person.") and len(type) > len("person."):
        return TEMPLATES["person.other"].format(who=who, stage=_stage(type[len("person.") :]))
    # Unknown types still say something useful rather than failing the delivery.
    key = "unknown" if _mapping(data.get("person")) else "unknown.none"
    return TEMPLATES[key].format(type=escape(_clean(type)), who=who)


def _converted(data: Mapping[str, Any]) -> str:
    """Plans come only from the optional `plan_change` {"from", "to"}: whether
    `account.plan` is the plan before or after the conversion depends on when the payload
    was built, and a headline must not state the wrong one."""
    account = _mapping(data.get("account"))
    name = _account_name(account)
    if name is None:
        has_id = account.get("id") is not None
        key = "account.id" if has_id else "account.none"
        name = TEMPLATES[key].format(id=escape(str(account.get("id"))))
    change = _mapping(data.get("plan_change"))
    old, new = _text(change.get("from")), _text(change.get("to"))
    if new is None:
        return TEMPLATES["account.converted.paid"].format(account=name)
    if old is None:
        return TEMPLATES["account.converted.to"].format(account=name, new=escape(new))
    return TEMPLATES["account.converted"].format(account=name, old=escape(old), new=escape(new))


def _who(data: Mapping[str, Any]) -> str:
    person = _mapping(data.get("person"))
    name = _text(person.get("name")) or _text(person.get("email"))
    if name is not None:
        name = escape(name)
    elif person.get("id") is not None:
        name = TEMPLATES["person.id"].format(id=escape(str(person["id"])))
    else:
        name = TEMPLATES["person.none"]
    title = _text(person.get("title"))
    account = _account_name(_mapping(data.get("account")))
    key = "who" + (".title" if title else "") + (".account" if account else "")
    return TEMPLATES[key].format(name=name, title=escape(title or ""), account=account)


def _account_name(account: Mapping[str, Any]) -> str | None:
    name = _text(account.get("name")) or _text(account.get("domain"))
    return escape(name) if name is not None else None


def _fields(data: Mapping[str, Any]) -> list[dict[str, str]]:
    fields: list[tuple[str, str]] = []
    change = _mapping(data.get("stage_change"))
    new_stage = _text(change.get("to"))
    if new_stage is not None:
        old_stage = _text(change.get("from"))
        value = _stage(new_stage)
        if old_stage is not None:
            value = TEMPLATES["stage.change"].format(old=_stage(old_stage), new=value)
        fields.append((TEMPLATES["field.stage"], value))
    score = _score(_mapping(data.get("score")))
    if score is not None:
        fields.append((TEMPLATES["field.score"], score))
    owner = _text(data.get("owner"))
    fields.append((TEMPLATES["field.owner"], escape(owner) if owner else TEMPLATES["owner.none"]))
    return [
        {"type": "mrkdwn", "text": truncate(f"*{label}*\n{value}", FIELD_LIMIT)}
        for label, value in fields
    ]


def _score(score: Mapping[str, Any]) -> str | None:
    total, grade = _number(score.get("score")), _text(score.get("grade"))
    fit, engagement = _number(score.get("fit")), _number(score.get("engagement"))
    lines: list[str] = []
    if total is not None and grade is not None:
        lines.append(TEMPLATES["score.grade"].format(score=total, grade=escape(grade)))
    elif total is not None:
        lines.append(total)
    elif grade is not None:
        lines.append(escape(grade))
    if fit is not None and engagement is not None:
        lines.append(TEMPLATES["score.parts"].format(fit=fit, engagement=engagement))
    return "\n".join(lines) or None


def _reasons(reasons: Any) -> str:
    if not isinstance(reasons, list | tuple):
        return ""
    parts: list[str] = []
    for reason in reasons:
        rule = _text(_mapping(reason).get("rule"))
        points = _number(_mapping(reason).get("points"))
        if rule is None or points is None:
            continue
        # U+2212, not '-': the true minus sign lines up with '+' and reads as arithmetic.
        sign = "−" + points[1:] if points.startswith("-") else ("+" + points)
        parts.append(f"{sign} {escape(rule)}")
        if len(parts) == MAX_REASONS:
            break
    return TEMPLATES["reasons.separator"].join(parts)


def _stage(stage: str) -> str:
    return STAGE_NAMES.get(stage.lower(), escape(stage))


def _number(value: Any) -> str | None:
    """40.0 -> "40", 3.5 -> "3.5", 62.456 -> "62.5"; None for anything not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _text(value: Any) -> str | None:
    """A non-blank string from the payload, whitespace collapsed; None otherwise."""
    if not isinstance(value, str):
        return None
    return _clean(value) or None


def _clean(text: str) -> str:
    # Newlines and runs of spaces from CRM fields would break the one-line layout.
    return " ".join(text.split())


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
