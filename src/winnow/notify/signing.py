"""Signing outbound webhooks the Standard Webhooks way (v1, symmetric).

Receivers must be able to tell our deliveries from forgeries and replays without
bespoke code, so we follow https://www.standardwebhooks.com exactly: any of its
reference libraries verifies what we send. A signature is
base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")); the secret is
written "whsec_" + base64(key). Rotation is done by signing with the old and the new
secret at once, so receivers can switch at their own pace.

Everything here is pure: time and randomness come in as arguments (except the two
generators), so delivery code and tests decide what "now" is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from secrets import token_bytes, token_urlsafe

SECRET_PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
DEFAULT_TOLERANCE = 300  # seconds, the value the reference libraries use

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


class InvalidSignature(ValueError):
    """A delivery that must not be trusted, with the precise reason."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(token_bytes(32)).decode("ascii")


def new_message_id() -> str:
    # 20 random bytes are 27 url-safe characters: 160 bits, and never a '.'.
    return "msg_" + token_urlsafe(20)


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The "v1,<base64>" signature of one delivery attempt."""
    digest = _digest(_key(secret), message_id, timestamp, body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(
    *, message_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The headers of one attempt: one signature per secret, in the order given."""
    # A bare str is a Sequence[str] too; signing with each character would be a silent bug.
    if isinstance(secrets, str):
        raise TypeError("secrets must be a sequence of secrets, not a single str")
    if not secrets:
        raise ValueError("at least one secret is needed to sign a webhook")
    return {
        "content-type": "application/json",
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(signature(s, message_id, timestamp, body) for s in secrets),
    }


def verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Raise InvalidSignature unless `body` was signed with `secret` within `tolerance`.

    A malformed `secret` raises a plain ValueError: that is the receiver's misconfiguration,
    not a bad delivery.
    """
    key = _key(secret)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 seconds, got {tolerance}")
    # HTTP header names are case-insensitive; frameworks disagree on how they spell them.
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = _required(lowered, ID_HEADER)
    raw_timestamp = _required(lowered, TIMESTAMP_HEADER)
    raw_signatures = _required(lowered, SIGNATURE_HEADER)
    if "." in message_id:
        raise InvalidSignature(f"{ID_HEADER} must not contain '.': {message_id!r}")
    # Digits only: int() would also take "+12" or "1_2", which the sender did not sign.
    if not (raw_timestamp.isascii() and raw_timestamp.isdigit()):
        raise InvalidSignature(f"{TIMESTAMP_HEADER} is not an integer: {raw_timestamp!r}")
    timestamp = int(raw_timestamp)
    # The timestamp is signed, so checking its age rejects replays of captured deliveries.
    if timestamp < now - tolerance:
        raise InvalidSignature(
            f"{TIMESTAMP_HEADER} is too old: {timestamp} is {now - timestamp}s before now "
            f"({now}); tolerance is {tolerance}s"
        )
    if timestamp > now + tolerance:
        raise InvalidSignature(
            f"{TIMESTAMP_HEADER} is too new: {timestamp} is {timestamp - now}s after now "
            f"({now}); tolerance is {tolerance}s"
        )
    expected = _digest(key, message_id, timestamp, body)
    candidates = 0
    for entry in raw_signatures.split(" "):
        version, _, encoded = entry.partition(",")
        # Other versions (v1a, future schemes) are skipped, as the spec requires.
        if version != "v1" or not encoded:
            continue
        candidates += 1
        try:
            given = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        if hmac.compare_digest(expected, given):
            return
    raise InvalidSignature(
        f"no matching signature: none of the {candidates} v1 signature(s) in "
        f"{SIGNATURE_HEADER} matches this secret and body"
    )


def _required(lowered: Mapping[str, str], name: str) -> str:
    value = lowered.get(name, "").strip()
    if not value:
        raise InvalidSignature(f"missing {name} header")
    return value


def _key(secret: str) -> bytes:
    encoded = secret.strip()
    encoded = encoded.removeprefix(SECRET_PREFIX)
    if not encoded:
        raise ValueError("webhook secret is empty")
    try:
        # Secrets pasted from dashboards sometimes lose their '=' padding; restore it.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError(
            f"webhook secret is not valid base64 after the optional {SECRET_PREFIX!r} prefix"
        ) from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(
            f"webhook secret decodes to {len(key)} bytes; "
            f"it must be {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes"
        )
    return key


def _digest(key: bytes, message_id: str, timestamp: int, body: bytes) -> bytes:
    if not message_id:
        raise ValueError("message id is empty")
    if "." in message_id:
        # The id is the first '.'-separated part of the signed content; a '.' would let
        # one (id, timestamp) pair impersonate another.
        raise ValueError(f"message id must not contain '.': {message_id!r}")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError(f"timestamp must be a non-negative integer of Unix seconds: {timestamp!r}")
    signed = f"{message_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()
