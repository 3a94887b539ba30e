"""The dashboard's languages: every visible string goes through `_`, English is the key.

Catalogs are JSON files in `locales/` mapping an English string to its translation; a
missing entry falls back to English, and a test fails when a template string has no
entry in a shipped catalog, so a translation can't silently go stale. The language is
the user's setting, else the `lang` cookie, else the browser's Accept-Language.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

LANGUAGES = {"en": "English", "ja": "日本語"}
DEFAULT = "en"
_LOCALES = Path(__file__).parent / "locales"


@functools.cache
def catalog(language: str) -> dict[str, str]:
    path = _LOCALES / f"{language}.json"
    if language == DEFAULT or not path.exists():
        return {}
    loaded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def translator(language: str) -> Callable[..., str]:
    strings = catalog(language)

    def translate(text: str, **values: Any) -> str:
        found = strings.get(text, text)
        return found.format(**values) if values else found

    return translate


def negotiate(*, setting: str | None, cookie: str | None, accept: str | None) -> str:
    """The language to show: a user's setting, their cookie, then the browser's wishes."""
    for choice in (setting, cookie):
        if choice in LANGUAGES:
            return choice
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES:
            weighted.append((quality, -index, base))  # ties: the first one listed
    return max(weighted)[2] if weighted else DEFAULT
