"""Pseudonymous resident keys: HMAC-SHA256(secret, channel + ":" + platform user id).

The platform id never reaches storage; without the secret a key cannot be linked back
to a Telegram or WhatsApp account.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

SECRET_ENV = "TEMANJIWA_SECRET"


def user_key(secret: bytes, channel: str, platform_user_id: str) -> str:
    message = f"{channel}:{platform_user_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def load_secret(db_path: Path | None) -> bytes:
    """The HMAC secret from TEMANJIWA_SECRET, or (embedded default) a 0600 file beside the db."""
    value = os.environ.get(SECRET_ENV)
    if value:
        return value.encode()
    if db_path is None:
        return secrets.token_bytes(32)
    path = Path(str(db_path) + ".secret")
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_hex(32).encode())
    log.warning(
        "%s is not set: generated a secret in %s (mode 0600). Back it up with the database; "
        "set %s in production.", SECRET_ENV, path, SECRET_ENV,
    )
    return path.read_bytes().strip()
