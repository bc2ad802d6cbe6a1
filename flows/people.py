"""Who a crisis message is about when it names another person: a child, a friend, a relative.

The detector says whether a message is about the resident or about someone else
(`Detection.subject`). This names the other person, so that the crisis flow can ask about
them ("Apakah anak itu aman sekarang?") and the cadre's card can say plainly who is at risk.
Only a person *of someone* counts — "anakku", "anak saya", "temen gw", "anak tetangga",
"anaknya" — so "aku anak SMP" is not a report about a child. A child named anywhere wins
(a child's safety comes first); otherwise the first person named. Nothing here is stored:
the engine keeps only the answer ("child", "friend", "family", "neighbour" or "").
"""

from __future__ import annotations

import re

RELATIONS: dict[str, frozenset[str]] = {
    "child": frozenset({
        "anak", "putra", "putri", "bocah", "balita", "bayi", "murid", "siswa",
        "siswi", "keponakan", "ponakan", "cucu",
    }),
    "friend": frozenset({
        "teman", "temen", "tmn", "kawan", "sahabat", "sobat", "pacar", "bestie", "rekan",
    }),
    "family": frozenset({
        "ayah", "bapak", "bapa", "papa", "papi", "ibu", "mama", "mami", "emak", "mamah",
        "suami", "istri", "kakak", "abang", "adik", "adek", "paman", "om", "bibi", "tante",
        "saudara", "sepupu", "nenek", "kakek", "mertua", "ipar", "keluarga",
    }),
    "neighbour": frozenset({"tetangga"}),
}
# Words after a person word that make it someone's person ("anak saya", "teman gw").
POSSESSORS = frozenset({
    "saya", "aku", "ku", "gue", "gua", "gw", "kami", "kita", "mu", "kamu", "dia", "itu",
    "ini", "tetangga", "teman", "temen", "orang", "kecil", "perempuan", "laki",
})
SUFFIXES = ("ku", "mu", "nya")  # anakku, temanmu, anaknya
PRIORITY = ("child",)  # named anywhere, these win over the first person named
_WORD = re.compile(r"[a-z]+")


def _relation(word: str) -> tuple[str | None, bool]:
    """(relation, owned) of one word: "anakku" → ("child", True), "anak" → ("child", False)."""
    for relation, words in RELATIONS.items():
        if word in words:
            return relation, False
    for suffix in SUFFIXES:
        base = word[: -len(suffix)]
        if word.endswith(suffix) and len(base) >= 2:
            for relation, words in RELATIONS.items():
                if base in words:
                    return relation, True
    return None, False


def person_at_risk(text: str) -> str:
    """The relation of the other person a message names, or "" when it names none."""
    words = _WORD.findall(text.lower())
    found: list[str] = []
    for i, word in enumerate(words):
        relation, owned = _relation(word)
        if relation is None:
            continue
        after = words[i + 1] if i + 1 < len(words) else ""
        before = words[i - 1] if i else ""
        if owned or after in POSSESSORS or after == word or before in ("si", "sang"):
            found.append(relation)
    for relation in PRIORITY:
        if relation in found:
            return relation
    return found[0] if found else ""
