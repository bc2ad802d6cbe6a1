"""Crisis-sign detection in free-text messages: pure Python, offline, deterministic.

    from flows.crisis import load_crisis
    detector = load_crisis(Path("content/id"))  # every file of content/id/crisis/
    detector.detect("pengen mati aja")  # Detection(level="check", category="suicide", ...)

The material lives in `content/id/crisis/`, written by editors: `lexicon.yaml` (phrases),
`cues.yaml` (the cue scorer's word classes and weights), one file per regional language,
and `model/weights.tsv` (the classifier, retrained by `python -m flows.crisis.train`).
`load_crisis` raises `ContentError` with file and line for every problem; `lint_crisis`
lists them. Three signals decide, in this order: a lexicon phrase (its level); the cue
scorer (flows/crisis/cues.py, `check`); the classifier (flows/crisis/classifier.py,
`check`, never against the lexicon's reading of context). Policy decisions, in plain words:

- Levels follow the project's clinical risk tiers: `check` = passive or unclear (wish
  to be dead, tired of living, "ga kuat lagi"): the bot asks directly; `high` = active
  thoughts of suicide, self-harm, wanting to hurt someone, disclosure of abuse, command
  voices; `urgent` = a plan, means at hand, an attempt in progress, a goodbye message, or
  an urgency cue (malam ini, sudah siap) with a `high` sign.
- Negated signs do not count ("aku tidak ada keinginan untuk mati", "gak pernah kepikiran
  bunuh diri"), except after a purpose word ("biar ga kepikiran bunuh diri terus" is a
  request for help and counts).
- Talk about the topic is not a crisis: an `info` word (artikel, berita, pencegahan, tanda,
  skripsi, orang, remaja…) before the sign, or just after it, with no "aku/saya" closer.
  "bagaimana mengenali tanda bunuh diri pada remaja?" → None. Nor are news frames, quotes
  (lyrics, films), hypotheticals ("kalau ada warga bilang…"), retractions ("… canda"),
  game moves, and signs told as past and over ("dulu…, sekarang sudah baik").
- Concern about a named person ("temanku mau bunuh diri", "adikku nyilet tangannya") is a
  detection with `subject="other"`; suicide and self-harm about another person are
  `check` (the bot asks and gives numbers to pass on) unless urgent (an attempt in progress
  needs emergency services whoever it is). Violence, abuse and psychosis keep their level:
  an armed relative on a rampage or a beaten child is a danger in the resident's home.
"""

from flows.crisis.detector import (
    CrisisDetector,
    Detection,
    check_lines,
    lint_crisis,
    load_crisis,
    load_detector,
    read_crisis,
)
from flows.crisis.lexicon import CATEGORIES, LEVELS, crisis_files, lint_lexicon

__all__ = [
    "CATEGORIES",
    "LEVELS",
    "CrisisDetector",
    "Detection",
    "check_lines",
    "crisis_files",
    "lint_crisis",
    "lint_lexicon",
    "load_crisis",
    "load_detector",
    "read_crisis",
]
