"""Standard Webhooks signing: golden values, the reference verifier, and our verify."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from winnow.notify.signing import (
    InvalidSignature,
    headers,
    new_message_id,
    new_secret,
    signature,
    verify,
)

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
TS = 1_777_636_800  # 2026-05-01T12:00:00Z
BODY = json.dumps({"type": "person.mql", "data": {"person": {"id": 42}}}).encode()


def _signed(secrets: list[str], *, timestamp: int = TS, body: bytes = BODY) -> dict[str, str]:
    return headers(message_id=MSG_ID, timestamp=timestamp, body=body, secrets=secrets)


# --- generators ---------------------------------------------------------------------------


def test_new_secret_is_whsec_and_32_random_bytes_the_reference_accepts() -> None:
    made = [new_secret() for _ in range(20)]
    assert len(set(made)) == 20
    for secret in made:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    sig = signature(made[0], MSG_ID, TS, BODY)
    reference = Webhook(made[0]).sign(MSG_ID, datetime.fromtimestamp(TS, UTC), BODY.decode())
    assert sig == reference


def test_new_message_id_is_msg_and_27_url_safe_chars_without_dots() -> None:
    made = [new_message_id() for _ in range(200)]
    assert len(set(made)) == 200
    for message_id in made:
        assert re.fullmatch(r"msg_[A-Za-z0-9_-]{27}", message_id), message_id


# --- golden signatures --------------------------------------------------------------------


def test_signature_matches_the_standard_webhooks_published_example() -> None:
    # The worked example from the Standard Webhooks / Svix documentation.
    sig = signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_golden_by_hand_and_by_the_reference_library() -> None:
    by_hand = base64.b64encode(
        hmac.new(KEY, f"{MSG_ID}.{TS}.".encode() + BODY, hashlib.sha256).digest()
    ).decode()
    reference = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(TS, UTC), BODY.decode())
    ours = signature(SECRET, MSG_ID, TS, BODY)
    assert ours == f"v1,{by_hand}"
    assert ours == reference


def test_secret_without_prefix_and_without_padding_signs_the_same() -> None:
    bare = base64.b64encode(bytes(range(40))).decode()
    assert bare.endswith("=")  # 40 bytes need padding, so stripping it is a real test
    expected = signature("whsec_" + bare, MSG_ID, TS, BODY)
    assert signature(bare, MSG_ID, TS, BODY) == expected
    assert signature(bare.rstrip("="), MSG_ID, TS, BODY) == expected


# --- headers ------------------------------------------------------------------------------


def test_headers_carry_id_timestamp_signature_and_content_type() -> None:
    sent = _signed([SECRET])
    assert sent == {
        "content-type": "application/json",
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TS),
        "webhook-signature": signature(SECRET, MSG_ID, TS, BODY),
    }


def test_reference_verifier_accepts_our_headers() -> None:
    now = int(time.time())  # the reference checks the timestamp against the real clock
    sent = _signed([SECRET], timestamp=now)
    assert Webhook(SECRET).verify(BODY, sent) == json.loads(BODY)


def test_rotation_signs_with_each_secret_in_order_and_either_verifies() -> None:
    now = int(time.time())
    sent = _signed([SECRET, OTHER_SECRET], timestamp=now)
    assert sent["webhook-signature"].split(" ") == [
        signature(SECRET, MSG_ID, now, BODY),
        signature(OTHER_SECRET, MSG_ID, now, BODY),
    ]
    assert Webhook(SECRET).verify(BODY, sent) == json.loads(BODY)
    assert Webhook(OTHER_SECRET).verify(BODY, sent) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(new_secret()).verify(BODY, sent)
    verify(secret=SECRET, headers=sent, body=BODY, now=now)
    verify(secret=OTHER_SECRET, headers=sent, body=BODY, now=now)


def test_headers_refuse_a_bare_string_and_no_secrets() -> None:
    with pytest.raises(TypeError, match="not a single str"):
        headers(message_id=MSG_ID, timestamp=TS, body=BODY, secrets=SECRET)
    with pytest.raises(ValueError, match="at least one secret"):
        headers(message_id=MSG_ID, timestamp=TS, body=BODY, secrets=[])


# --- our verify ---------------------------------------------------------------------------


def test_verify_accepts_our_headers_in_any_header_case() -> None:
    sent = _signed([SECRET])
    verify(secret=SECRET, headers=sent, body=BODY, now=TS)
    title_case = {name.title(): value for name, value in sent.items()}
    assert "Webhook-Signature" in title_case
    verify(secret=SECRET, headers=title_case, body=BODY, now=TS + 10)


def test_verify_accepts_what_the_reference_library_signs() -> None:
    sig = Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(TS, UTC), BODY.decode())
    sent = {"webhook-id": MSG_ID, "webhook-timestamp": str(TS), "webhook-signature": sig}
    verify(secret=SECRET, headers=sent, body=BODY, now=TS)


def test_verify_rejects_a_tampered_body() -> None:
    sent = _signed([SECRET])
    tampered = BODY.replace(b"42", b"43")
    assert tampered != BODY
    with pytest.raises(InvalidSignature, match=r"no matching signature: none of the 1 v1"):
        verify(secret=SECRET, headers=sent, body=tampered, now=TS)


def test_verify_rejects_the_wrong_secret() -> None:
    sent = _signed([SECRET])
    with pytest.raises(InvalidSignature, match="no matching signature"):
        verify(secret=OTHER_SECRET, headers=sent, body=BODY, now=TS)


def test_verify_rejects_a_changed_id_or_timestamp() -> None:
    sent = _signed([SECRET])
    with pytest.raises(InvalidSignature, match="no matching signature"):
        verify(secret=SECRET, headers={**sent, "webhook-id": "msg_other"}, body=BODY, now=TS)
    moved = {**sent, "webhook-timestamp": str(TS + 1)}
    with pytest.raises(InvalidSignature, match="no matching signature"):
        verify(secret=SECRET, headers=moved, body=BODY, now=TS)


def test_verify_rejects_stale_and_future_timestamps_at_the_tolerance_edge() -> None:
    sent = _signed([SECRET])
    verify(secret=SECRET, headers=sent, body=BODY, now=TS + 300)
    verify(secret=SECRET, headers=sent, body=BODY, now=TS - 300)
    with pytest.raises(
        InvalidSignature, match=r"too old: .* is 301s before now.*tolerance is 300s"
    ):
        verify(secret=SECRET, headers=sent, body=BODY, now=TS + 301)
    with pytest.raises(InvalidSignature, match=r"too new: .* is 301s after now"):
        verify(secret=SECRET, headers=sent, body=BODY, now=TS - 301)
    with pytest.raises(InvalidSignature, match="tolerance is 60s"):
        verify(secret=SECRET, headers=sent, body=BODY, now=TS + 61, tolerance=60)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_names_the_missing_header(missing: str) -> None:
    sent = {k: v for k, v in _signed([SECRET]).items() if k != missing}
    with pytest.raises(InvalidSignature, match=f"^missing {missing} header$"):
        verify(secret=SECRET, headers=sent, body=BODY, now=TS)


@pytest.mark.parametrize("raw", ["soon", "1.5e9", "+1777636800", "1_777_636_800"])
def test_verify_rejects_a_timestamp_that_is_not_plain_digits(raw: str) -> None:
    sent = {**_signed([SECRET]), "webhook-timestamp": raw}
    with pytest.raises(InvalidSignature, match="webhook-timestamp is not an integer"):
        verify(secret=SECRET, headers=sent, body=BODY, now=TS)


def test_verify_skips_other_versions_and_garbage_but_finds_the_v1_match() -> None:
    good = signature(SECRET, MSG_ID, TS, BODY)
    v1a = "v1a," + good.removeprefix("v1,")
    noisy = {**_signed([SECRET]), "webhook-signature": f"{v1a} v1,!!notbase64!! nocomma {good}"}
    verify(secret=SECRET, headers=noisy, body=BODY, now=TS)
    only_other = {**noisy, "webhook-signature": v1a}
    with pytest.raises(InvalidSignature, match="none of the 0 v1 signature"):
        verify(secret=SECRET, headers=only_other, body=BODY, now=TS)


def test_verify_rejects_a_dotted_id() -> None:
    sent = {**_signed([SECRET]), "webhook-id": "msg.1"}
    with pytest.raises(InvalidSignature, match="must not contain '.'"):
        verify(secret=SECRET, headers=sent, body=BODY, now=TS)


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("", "webhook secret is empty"),
        ("whsec_", "webhook secret is empty"),
        ("whsec_not*base64!", "not valid base64"),
        (
            "whsec_" + base64.b64encode(bytes(16)).decode(),
            "decodes to 16 bytes; it must be 24 to 64",
        ),
        (
            "whsec_" + base64.b64encode(bytes(65)).decode(),
            "decodes to 65 bytes; it must be 24 to 64",
        ),
    ],
)
def test_bad_secrets_are_refused_with_what_is_wrong(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        signature(secret, MSG_ID, TS, BODY)
    with pytest.raises(ValueError, match=message) as raised:
        verify(secret=secret, headers=_signed([SECRET]), body=BODY, now=TS)
    # A misconfigured receiver is not a forged delivery.
    assert not isinstance(raised.value, InvalidSignature)


def test_key_length_bounds_are_inclusive() -> None:
    for size in (24, 64):
        secret = "whsec_" + base64.b64encode(bytes(size)).decode()
        assert signature(secret, MSG_ID, TS, BODY).startswith("v1,")


def test_message_id_with_a_dot_or_empty_is_refused() -> None:
    with pytest.raises(ValueError, match="must not contain '.'"):
        signature(SECRET, "msg.1", TS, BODY)
    with pytest.raises(ValueError, match="must not contain '.'"):
        headers(message_id="msg.1", timestamp=TS, body=BODY, secrets=[SECRET])
    with pytest.raises(ValueError, match="message id is empty"):
        signature(SECRET, "", TS, BODY)


def test_timestamp_must_be_non_negative_integer_seconds() -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        signature(SECRET, MSG_ID, -1, BODY)
    with pytest.raises(ValueError, match="non-negative integer"):
        signature(SECRET, MSG_ID, True, BODY)
