"""Distress that is not a crisis, as content (`distress.yaml`): words for a few topics
(sleep, sadness, worry, stress, anger) and the flow that answers each kindly and offers
the module that fits. Read by flows/loader.py, checked by flows/linter.py, used by the
engine only for free text that answers nothing and after the crisis check found nothing.

```yaml
flow: dengar                  # answers; one node per topic (consent: not_required)
topics:
  tidur: [gak bisa tidur, susah tidur, ora iso turu]   # topic = node of the flow
  sedih: [sedih terus, aku sedih]
```
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

# A phrase right after one of these words is negated ("aku gak sedih kok"): no match.
NEGATIONS = frozenset({
    "tidak", "tdk", "tak", "gak", "ga", "gk", "nggak", "ngga", "enggak", "engga", "ndak",
    "nda", "bukan", "ora", "mboten", "henteu", "teu", "belum", "blm", "nggk", "ngak",
})
_WORD = re.compile(r"\w+", re.UNICODE)
_REPEATS = re.compile(r"(\w)\1{2,}", re.UNICODE)  # "sedihhh" → "sedih"


@dataclass(frozen=True)
class DistressSettings:
    flow: str
    topics: Mapping[str, tuple[tuple[str, ...], ...]]  # topic → phrases as words
    file: str = "distress.yaml"
    lines: Mapping[str, int] = field(default_factory=dict)  # topic (and "flow") → line


def words_of(text: str) -> tuple[str, ...]:
    """Lowercase words with long letter repeats squeezed, as residents type them."""
    text = unicodedata.normalize("NFKC", text).lower()
    return tuple(_REPEATS.sub(r"\1", w) for w in _WORD.findall(text))


def find_topic(settings: DistressSettings | None, text: str) -> str | None:
    """The first topic (in file order) one of whose phrases occurs in `text` as whole
    words and is not negated by the word before it; None if none does."""
    if settings is None:
        return None
    words = words_of(text)
    for topic, phrases in settings.topics.items():
        for phrase in phrases:
            size = len(phrase)
            for i in range(len(words) - size + 1):
                if words[i:i + size] == phrase and (i == 0 or words[i - 1] not in NEGATIONS):
                    return topic
    return None
