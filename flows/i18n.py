"""gettext for the messages the tool itself prints (linter, CLI).

Source strings are English; the Indonesian catalog ships in `flows/locale`. The language
follows TEMANJIWA_LANG (default "id"), so editors read the linter in Indonesian.
"""

from __future__ import annotations

import gettext
import os
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "temanjiwa"


def _translation() -> gettext.NullTranslations:
    lang = os.environ.get("TEMANJIWA_LANG", "id")
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)


_ = _translation().gettext
