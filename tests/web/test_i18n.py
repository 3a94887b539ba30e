"""Every string the dashboard shows has its Japanese, and the language is chosen well."""

from __future__ import annotations

import re

import pytest

from winnow.web import pages
from winnow.web.i18n import catalog, negotiate, translator

TEMPLATES = pages.TEMPLATES_DIR
LITERAL = re.compile(r"""_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def shown_strings() -> set[str]:
    found = set(pages.DYNAMIC_STRINGS)
    for template in TEMPLATES.glob("*.html"):
        for match in LITERAL.finditer(template.read_text(encoding="utf-8")):
            found.add(match.group(1) if match.group(1) is not None else match.group(2))
    return found


def test_every_shown_string_has_a_japanese_translation_and_none_is_stale() -> None:
    japanese = catalog("ja")
    assert sorted(shown_strings() - japanese.keys()) == []
    assert sorted(japanese.keys() - shown_strings()) == []


def test_placeholders_survive_translation() -> None:
    _ = translator("ja")
    assert _("{count} overdue", count=3) == "3件が期限超過"
    assert translator("en")("{count} overdue", count=3) == "3 overdue"
    assert _("a string nobody translated") == "a string nobody translated"


@pytest.mark.parametrize(
    ("setting", "cookie", "accept", "expected"),
    [
        (None, None, "ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        (None, None, "en-US,en;q=0.9,ja;q=0.8", "en"),
        (None, None, "fr-FR, ja;q=0.5", "ja"),  # French is not offered: the next one
        (None, None, "fr-FR", "en"),
        (None, None, None, "en"),
        (None, "ja", "en", "ja"),  # the cookie beats the browser
        ("en", "ja", "ja", "en"),  # the user's setting beats both
        (None, None, "ja;q=0.5, en;q=0.5", "ja"),  # a tie: the first listed
    ],
)
def test_the_language_is_the_users_then_the_cookies_then_the_browsers(
    setting: str | None, cookie: str | None, accept: str | None, expected: str
) -> None:
    assert negotiate(setting=setting, cookie=cookie, accept=accept) == expected
