"""Reading short answers the way residents type them, and cutting long texts into bubbles."""

from __future__ import annotations

import re
import unicodedata

YES_WORDS = frozenset({
    "ya", "iya", "iyaa", "iyaaa", "iy", "y", "yaa", "yes", "yess", "yup", "yep", "yoi", "yo",
    "ok", "oke", "okay", "okey", "betul", "benar", "bener", "setuju", "he eh", "heeh", "hooh",
    "nggih", "enggih", "inggih", "muhun", "leres", "sip", "siap", "boleh", "mau",
})
NO_WORDS = frozenset({
    "tidak", "tdk", "tak", "gak", "ga", "gk", "g", "nggak", "ngga", "nggk", "ngak", "enggak",
    "engga", "ndak", "nda", "ndak ah", "no", "nope", "bukan", "belum", "blm", "jangan",
    "mboten", "ora", "henteu", "teu", "moal", "tidak mau", "gak mau", "ga mau", "nggak mau",
})

_PUNCT_EDGES = re.compile(r"^[\s\W_]+|[\s\W_]+$", re.UNICODE)
_SPACES = re.compile(r"\s+")
BUBBLE_LIMIT = 4000  # below Telegram's and WhatsApp's 4,096 characters


def normalise_answer(text: str) -> str:
    """Lowercase, trim punctuation and emoji at the edges, collapse spaces: 'Ya!! ' -> 'ya'."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT_EDGES.sub("", text)
    return _SPACES.sub(" ", text)


def split_long_text(text: str, limit: int = BUBBLE_LIMIT) -> list[str]:
    """Split at paragraph, then line, then sentence, then word boundaries; never mid-word."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", ". ", " "):
            cut = window.rfind(sep)
            if cut > limit // 3:
                cut += len(sep)
                break
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
