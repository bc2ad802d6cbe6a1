"""Turning what residents type into comparable words, without any lexicon knowledge.

Two halves, applied the same way to the resident's message and to the editors' phrases,
so both sides always meet in the same form:

- `clauses(text)`: lowercase, strip accents and zero-width characters, join spaced or
  hyphenated letters ("b u n u h", "b-u-n-u-h"), cut at sentence and comma punctuation,
  and split each piece into words.
- `clean_word(word)`: digits used as letters ("m4t1"), "2" for reduplication ("mati2an"),
  repeated letters ("matiii" → "mati", and also "tinggal" → "tingal": every run of one
  letter becomes a single letter on both sides, so spelling length never matters).
- `family(base)`: the affixed forms of an Indonesian base word (membunuh, dibunuh,
  bunuhin, nyayat, nyakitin, pembunuhan, …), generated ahead of time so that looking a
  word up while a message is checked is a single dictionary access.
"""

from __future__ import annotations

import re
import unicodedata

VOWELS = frozenset("aeiou")

# Endings that only add person or emphasis; stripped while looking a word up
# (aku → akulah, diri → diriku, hidup → hidupnya), longest first.
PARTICLES = ("nyalah", "nya", "nye", "lah", "kah", "pun", "tah", "ku", "mu")
# Possessive endings of the regional languages, stripped only from longer words.
REGIONAL_ENDINGS = ("nipun", "ipun", "ne", "na", "e")
# Of those, the pronouns: split off as their own word, so "memukulku" reads "memukul ku"
# (= aku) and "temanku" reads "teman ku".
CLITICS = ("ku", "mu")

# Endings after a reduplicated word that keep its meaning ("barang2ku", "pukul2in"); "-an"
# makes another word ("mati-matian") and is not among them.
_REDUP_ENDINGS = frozenset({*PARTICLES, "in", "kan", "i"})

# Endings that make a verb or noun: generated into each base word's family.
_DERIVATIONAL = ("", "kan", "in", "i", "an", "ake", "ke")

# A hyphen before one of these joins the pieces: "luka-in", "sakit-in", "bunuh-nya".
_HYPHEN_SUFFIXES = frozenset({"in", "an", "i", "kan", "nya", "ku", "mu", "lah", "kah", "pun"})

_LEET = str.maketrans(
    {
        "4": "a",
        "@": "a",
        "1": "i",
        "3": "e",
        "0": "o",
        "5": "s",
        "$": "s",
        "7": "t",
        "9": "g",
        "6": "g",
        "8": "b",
    }
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_APOSTROPHES = dict.fromkeys(map(ord, "'`\u2018\u2019\u02bc"), None)
_ELLIPSIS = re.compile(r"\.{2,}|\u2026")
# Three or more single letters (or digits) separated by spaces, hyphens, dots, stars:
# "b u n u h", "b-u-n-u-h", "m.a.t.i".
_SPACED = re.compile(r"(?<![^\W_])[^\W_](?:[ \t\-._*]+[^\W_]){2,}(?![^\W_])")
_SPACED_SEPARATORS = re.compile(r"[ \t\-._*]+")
_SENTENCE_BREAK = re.compile(r"[.!?;\n\r]+")
_CLAUSE_BREAK = re.compile(r"[,:()\[\]{}\"|/\\]+")
_WORD = re.compile(r"[^\W_]+(?:[-@$*][^\W_]*)*")
_REPEATS = re.compile(r"(.)\1+")
_REDUP_TWO = re.compile(r"([a-z]+)2([a-z]*)")
# laughter typed at any length reads as one word: "hahaha", "ahahah" → haha, "wkwkwk" → wkwk
_LAUGHTER = {
    "haha": re.compile(r"a?(?:ha){2,}h?"),
    "hehe": re.compile(r"(?:he){2,}h?"),
    "hihi": re.compile(r"(?:hi){2,}h?"),
    "wkwk": re.compile(r"(?:wk){2,}w?"),
}


def prepare(text: str) -> str:
    """Lowercase, NFKC, no accents, no zero-width characters, spaced letters joined."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_ZERO_WIDTH)
    if not text.isascii():
        text = "".join(
            c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
        )
    text = text.translate(_APOSTROPHES)
    text = _ELLIPSIS.sub(" ", text)
    return _SPACED.sub(lambda m: _SPACED_SEPARATORS.sub("", m.group(0)), text)


def split_sentences(text: str) -> list[list[list[str]]]:
    """Prepared text → sentences (cut at . ! ? ; and line breaks) → clauses (cut at , : and
    brackets) → raw words."""
    out = []
    for sentence in _SENTENCE_BREAK.split(text):
        clauses = [
            words for piece in _CLAUSE_BREAK.split(sentence) if (words := _WORD.findall(piece))
        ]
        if clauses:
            out.append(clauses)
    return out


def split_clauses(text: str) -> list[list[str]]:
    """Prepared text → clauses of raw words, sentence boundaries dropped."""
    return [clause for sentence in split_sentences(text) for clause in sentence]


def collapse(word: str) -> str:
    """Every run of one letter becomes one letter: "matiii" → "mati", "tinggal" → "tingal"."""
    return _REPEATS.sub(r"\1", word)


def _one(word: str) -> str:
    """Clean one hyphen-free word: digits as letters, repeated letters (a number stays as
    written: "100 butir" is not "10 butir")."""
    if word.isdigit():
        return word
    if not word.isalpha():
        word = word.translate(_LEET)
        word = "".join(c for c in word if c.isalnum() or c == "*")
    word = collapse(word)
    return next((laugh for laugh, typed in _LAUGHTER.items() if typed.fullmatch(word)), word)


def _reduplicated(first: str, second: str) -> list[str]:
    """'luka-luka' → luka luka, 'dipukul-pukul' → dipukul pukul (both words stay, so
    "pegang pegang" can differ from "pegang"); 'mati-matian' stays one other word."""
    if first == second or first.endswith(second):
        return [first, second]
    if second.startswith(first) and second[len(first) :] in _REDUP_ENDINGS:
        return [first, second]  # "barang2ku" → barang barangku, "bentur2in" → bentur benturin
    return [first + "~" + second]


def clean_word(raw: str) -> list[str]:
    """One raw word from `split_clauses` → one or more clean words."""
    if "-" not in raw:
        m = _REDUP_TWO.fullmatch(raw)
        if m:  # "mati2an", "luka2"
            return _reduplicated(collapse(m[1]), collapse(m[1] + m[2]))
        word = _one(raw)
        return [word] if word else []
    parts = [_one(p) for p in raw.split("-")]
    parts = [p for p in parts if p]
    if len(parts) == 2:
        first, second = parts
        if second in _HYPHEN_SUFFIXES:
            return [collapse(first + second)]
        if (
            first == second
            or (len(first) >= 3 and second.startswith(first))
            or (len(second) >= 3 and first.endswith(second))
        ):
            return _reduplicated(first, second)
    return parts


# ------------------------------------------------------------------ morphology


def _nasal(base: str, me: str) -> set[str]:
    """meN-/peN- forms: bunuh → membunuh, tusuk → menusuk, sayat → menyayat, iris → mengiris."""
    c, rest = base[0], base[1:]
    if c in VOWELS:
        return {me + "ng" + base}
    if c == "p":
        return {me + "m" + rest, me + "m" + base}  # memukul; memperkosa
    if c in "bfv":
        return {me + "m" + base}
    if c == "t":
        return {me + "n" + rest}
    if c in "dcjz":
        return {me + "n" + base}
    if c == "s":
        return {me + "ny" + rest}
    if c == "k":
        return {me + "ng" + rest}
    if c in "gh":
        return {me + "ng" + base}
    return {me + base}  # l r m n w y: melukai, merusak


def _colloquial(base: str) -> set[str]:
    """Spoken active forms: ngebunuh, mukul, nusuk, nyayat, nyekik, ngiris, ngilang, mbunuh."""
    c, rest = base[0], base[1:]
    out = {"nge" + base}
    if c in VOWELS:
        out.add("ng" + base)
    elif c == "p":
        out.add("m" + rest)
    elif c == "b":
        out.add("m" + base)
    elif c == "t":
        out.add("n" + rest)
    elif c in "dj":
        out.add("n" + base)
    elif c in "cs":
        out.add("ny" + rest)
    elif c == "k":
        out.add("ng" + rest)
    elif c == "g":
        out.add("ng" + base)
    elif c == "h":
        out.update(("ng" + rest, "ng" + base))
    return out


# Minangkabau says many Indonesian words with another ending: bunuh → bunuah, pukul →
# pukua, takut → takuik, pasung → pasuang, sakit → sakik, air → aia.
_MINANG_ENDINGS = (
    ("uh", "uah"),
    ("ul", "ua"),
    ("ut", "uik"),
    ("ung", "uang"),
    ("ing", "iang"),
    ("it", "ik"),
    ("ir", "ia"),
    ("ur", "ua"),
    ("us", "uih"),
    ("is", "ih"),
)


REGIONAL_BASE = 5  # regional prefixes only on longer words: "banyak" is not ba- + "nyak"


def _minang(base: str) -> set[str]:
    return {base[: -len(a)] + b for a, b in _MINANG_ENDINGS if base.endswith(a)}


def family(base: str) -> set[str]:
    """Every clean spelling that counts as a form of the clean base word.

    Short words (fewer than 4 letters: aku, mau, dia) only match themselves. Longer ones
    get the active prefixes (meN-, peN-, nge-, and the spoken nasal forms), di-, ku-, kau-,
    the endings -kan/-in/-i/-an, and ke-…-an. The prefix ter- is left out on purpose
    ("tergantung" means "it depends"), and so is the accidental ke- ("keiris pisau").
    Regional affixes too: Javanese tak-/dak- (taksimpen) and -ake/-ke, Sundanese nga- and ka-…-an
    (ngagantung, kapikiran), Balinese ka- (kapasung), Minang and Banjar maN-/ba- and the
    Minang endings (mambunuah, dipukua, bagawi).
    """
    if len(base) < 4 or not VOWELS.intersection(base):
        return {base}
    prefixed = {_join("di", base), _join("ku", base), _join("kau", base)}
    prefixed |= {_join("tak", base), _join("dak", base)} if len(base) >= REGIONAL_BASE else set()
    nasal = _nasal(base, "me") | _nasal(base, "pe") | _colloquial(base)
    regional = len(base) >= REGIONAL_BASE  # "kadang" is not ka- + Batak "dang"
    if regional:
        prefixed |= {_join("nga", base), _join("ka", base)}
        nasal |= _nasal(base, "ma")
    stems = {base} | prefixed | {collapse(stem) for stem in nasal}
    forms = {_join(stem, end) for stem in stems for end in _DERIVATIONAL}
    forms.add(_join(_join("ke", base), "an"))
    if regional:
        forms.add(_join(_join("ka", base), "an"))
        forms.add(_join("ba", base))
    for variant in _minang(base):
        forms |= {variant, _join("di", variant), _join("ba", variant)}
        forms |= {collapse(form) for form in _nasal(variant, "ma")}
    return forms


def _join(head: str, tail: str) -> str:
    """Two collapsed pieces joined as one collapsed word ("nga" + "abekep" → "ngabekep")."""
    if head and tail and head[-1] == tail[0]:
        return head + tail[1:]
    return head + tail


def split_clitic(word: str) -> list[tuple[str, str]]:
    """Candidate (word, pronoun) splits of -ku/-mu: "memukulku" → ("memukul", "ku"); and of
    the Makassar "-ka" (me, I am: "pukulka" → pukul ku, "takutka" → takut ku), on longer
    words only."""
    out = []
    for clitic in CLITICS:
        if word.endswith(clitic) and len(word) - len(clitic) >= 2:
            base = word[: -len(clitic)]
            if base[-1] != clitic[0]:
                out.append((base + clitic[0], clitic))  # "anakku" arrives as "anaku"
            out.append((base, clitic))
    if word.endswith("ka") and len(word) >= 6:
        out.append((word[:-2], "ku"))
    return out


def strip_particle(word: str) -> list[str]:
    """The word without one emphasis/person ending, if it leaves at least 2 letters (hpku);
    or without a regional possessive (Javanese -e/-ne, Sundanese and Madurese -na, krama
    -ipun), if it leaves at least 4 (getihe, bayine, sukuna, griyanipun).

    Letters were collapsed, so "anakku" arrives as "anaku": "anak" is tried before "ana"."""
    out = []
    for p in PARTICLES:
        if word.endswith(p) and len(word) - len(p) >= 2:
            base = word[: -len(p)]
            if base[-1] != p[0]:
                out.append(base + p[0])
            out.append(base)
    for p in REGIONAL_ENDINGS:
        if word.endswith(p) and len(word) - len(p) >= 4:
            out.append(word[: -len(p)])
    return out


_FILL = ("a", "i", "u", "e", "o")


def respellings(word: str) -> list[str]:
    """Spellings a censored or styled word may stand for, tried only when the word itself
    means nothing: a star for a hidden letter ("b*nuh" → bunuh, "m*ti" → mati) and "v" for
    "u" ("bvnvh" → bunuh)."""
    out = []
    stars = word.count("*")
    if stars:
        bare = word.replace("*", "")
        if 1 <= stars <= 2 and len(bare) >= 2:
            pieces = word.split("*")
            fills = [(f,) for f in _FILL] if stars == 1 else [(f, g) for f in _FILL for g in _FILL]
            for fill in fills:
                spelled = pieces[0]
                for letter, piece in zip(fill, pieces[1:], strict=True):
                    spelled += letter + piece
                out.append(collapse(spelled))
        out.append(bare)
    if "v" in word and len(word) >= 4:
        out.extend(r.replace("v", "u") for r in (out or [word]) if "v" in r)
    return out


def skeleton(word: str) -> str:
    """The consonants of a word: typed words often drop vowels ("bnh" → bunuh, "smg" → semoga)."""
    return "".join(c for c in word if c not in VOWELS)


def is_subsequence(short: str, long: str) -> bool:
    """Every letter of `short`, in order, inside `long` ("bunh" in "bunuh")."""
    letters = iter(long)
    return all(c in letters for c in short)
