"""JSON text for the store and the wire: orjson where it is exact, the standard library otherwise.

Ingestion encodes and decodes every message a few times (the request body, its size,
the stored properties and context), and orjson does that 3-5x faster. It differs from
the standard library in two ways that would lose data, so those cases go the slow way:
integers beyond 64 bits (orjson refuses to encode them, and decodes them as floats) and
values it cannot encode at all. Decoding looks for a run of 19 or more digits first: such
a number may not fit in 64 bits, so the standard library reads the text exactly.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_LONG_NUMBER = re.compile(rb"\d{19}")


def dumps(value: Any, *, lenient: bool = False) -> str:
    """Compact JSON text, non-ASCII kept as is (what the store keeps)."""
    return encode(value, lenient=lenient).decode()


def encode(value: Any, *, lenient: bool = False) -> bytes:
    """Compact UTF-8 JSON.

    What JSON cannot hold raises TypeError, as `json.dumps` does, unless `lenient`: then
    it is written as its str() (for keeping whatever a caller sent, verbatim).
    """
    default = str if lenient else None
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default)
        return text.encode()


def loads(text: str | bytes) -> Any:
    """Parse JSON text; raises ValueError (json.JSONDecodeError) with the position of a fault."""
    raw = text.encode() if isinstance(text, str) else text
    if _LONG_NUMBER.search(raw) is None:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library names the fault, or accepts what orjson does not
    return json.loads(raw)
