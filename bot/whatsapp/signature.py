"""Webhook authenticity: Meta's HMAC signature and the one-time verification handshake.

Meta signs every POST with `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the
raw body bytes keyed with the app secret. It must be checked on the exact bytes received,
before any JSON parsing, and compared in constant time so timing leaks nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def _key(app_secret: str | bytes) -> bytes:
    return app_secret.encode() if isinstance(app_secret, str) else app_secret


def sign(app_secret: str | bytes, raw_body: bytes) -> str:
    """The header value Meta would send for `raw_body` (used by tests and fakes)."""
    digest = hmac.new(_key(app_secret), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(app_secret: str | bytes, raw_body: bytes, header: str | None) -> bool:
    """True only if `header` is `sha256=<hex>` of `raw_body` under `app_secret`.

    Missing header, another algorithm prefix, non-hex garbage or an empty secret all
    refuse: an empty secret would make any attacker's signature trivially valid.
    """
    if not app_secret or not header or not header.startswith(_PREFIX):
        return False
    given = header[len(_PREFIX) :].strip().lower()
    expected = hmac.new(_key(app_secret), raw_body, hashlib.sha256).hexdigest()
    # compare_digest on ASCII str is constant-time; non-ASCII input would raise.
    if not given.isascii():
        return False
    return hmac.compare_digest(given, expected)


def verify_challenge(params: Mapping[str, str], verify_token: str) -> str | None:
    """Answer Meta's GET handshake: the challenge text if mode and token match, else None.

    The caller answers 200 with the returned text as `text/plain`, or 403 on None.
    """
    if not verify_token:
        return None
    if params.get("hub.mode") != "subscribe":
        return None
    token = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    challenge = params.get("hub.challenge")
    return challenge if challenge else None
