"""Encryption at rest for the few things that must not lie in the database in clear.

What is sealed: a resident's own words kept for their cadre (until delivered, declined or
the case closes) and contact addresses for the anonymous relay (channel + platform id of
the resident, and of the cadre in a relay). Fernet (AES-128-CBC + HMAC-SHA256, from
`cryptography`) with a key from TEMANJIWA_ENCRYPTION_KEY; the embedded default generates
a 0600 key file beside the database, like `storage.keys` does for the HMAC secret.
Losing the key loses only those sealed values, never the cases themselves.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)

KEY_ENV = "TEMANJIWA_ENCRYPTION_KEY"


class EncryptionKeyError(ValueError):
    """The configured key is not a Fernet key (32 url-safe base64-encoded bytes)."""


def generate_key() -> str:
    """A new key, for `TEMANJIWA_ENCRYPTION_KEY` (print it once, keep it in a secret store)."""
    return Fernet.generate_key().decode()


def load_key(db_path: Path | str | None) -> bytes:
    """The key from TEMANJIWA_ENCRYPTION_KEY, or (embedded default) a 0600 file beside the db."""
    value = os.environ.get(KEY_ENV)
    if value:
        key = value.strip().encode()
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise EncryptionKeyError(
                f"{KEY_ENV} is not a valid key: it must be 32 url-safe base64 bytes, e.g. the "
                "output of: python -c 'from bot.crypto import generate_key; print(generate_key())'"
            ) from None
        return key
    if db_path is None or str(db_path) == ":memory:":
        log.warning(
            "%s is not set and there is no database file: using a key that lasts only "
            "as long as this process",
            KEY_ENV,
        )
        return Fernet.generate_key()
    path = Path(str(db_path) + ".key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
            log.warning(
                "%s is not set: generated an encryption key in %s (mode 0600). Back it up apart "
                "from the database; set %s in production.",
                KEY_ENV,
                path,
                KEY_ENV,
            )
    return path.read_bytes().strip()


class Sealer:
    """Encrypts short texts and small JSON values; `open` returns None for a foreign token."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)

    def seal(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode("utf-8"))

    def open(self, token: bytes | str | None) -> str | None:
        if token is None:
            return None
        raw = token.encode() if isinstance(token, str) else bytes(token)
        try:
            return self._fernet.decrypt(raw).decode("utf-8")
        except InvalidToken:
            log.error("a sealed value cannot be opened with the current key (key changed?)")
            return None

    def seal_json(self, value: Any) -> bytes:
        """A JSON value, sealed. Text that is not valid Unicode (a lone surrogate from a
        webhook) is kept as JSON escapes instead of failing."""
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        try:
            return self._fernet.encrypt(text.encode("utf-8"))
        except UnicodeEncodeError:
            return self.seal(json.dumps(value, separators=(",", ":")))

    def open_json(self, token: bytes | str | None) -> Any:
        text = self.open(token)
        return None if text is None else json.loads(text)
