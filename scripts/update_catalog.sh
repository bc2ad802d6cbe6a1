#!/usr/bin/env bash
# Refresh the Indonesian catalog of the messages Teman Jiwa itself prints (linter, CLI).
#
# Usage (from anywhere, with the project's virtualenv active):
#     scripts/update_catalog.sh
#
# Run it after adding or changing a `_("...")` string in flows/ or bot/. It
#   1. extracts every _() string (see babel.cfg) into flows/locale/temanjiwa.pot;
#      the .pot is left untouched when only its creation date would change;
#   2. merges the template into flows/locale/id/LC_MESSAGES/temanjiwa.po: new strings
#      arrive with an empty msgstr (or a guessed one marked "#, fuzzy"), strings removed
#      from the code become "#~" obsolete entries;
#   3. compiles the .po into temanjiwa.mo, which is what the program reads at run time;
#   4. prints how many strings are translated and lists the empty and fuzzy ones.
#
# Then translate every empty or "#, fuzzy" entry in the .po (remove the fuzzy line once
# the translation is right; fuzzy entries are not compiled), run this script again so the
# .mo is rebuilt, and commit the .pot, .po and .mo together.
# `python -m pytest tests/test_i18n.py` checks that nothing is left to do.
#
# Environment: PYTHON (default python3) must be a Python with Babel installed.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
pybabel() { "$PYTHON" -m babel.messages.frontend "$@"; }

DOMAIN=temanjiwa
LOCALE_DIR=flows/locale
POT="$LOCALE_DIR/$DOMAIN.pot"
VERSION="$("$PYTHON" -c 'import tomllib
print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')"
LANGS=(id)

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT

# 1. Extract. No source locations (#: file:line), so moving code does not churn the files;
#    messages stay in source order, each message next to its hint.
#    A comment starting with "TRANSLATORS:" right above a _() call is copied to the .pot.
pybabel --quiet extract -F babel.cfg -k _ --add-comments=TRANSLATORS: --no-location \
    --no-wrap --project="Teman Jiwa" --version="$VERSION" --copyright-holder="Teman Jiwa" -o "$tmp" .
if [[ -f "$POT" ]] && diff -q <(grep -v '^"POT-Creation-Date:' "$POT") \
                              <(grep -v '^"POT-Creation-Date:' "$tmp") >/dev/null; then
    echo "$POT is up to date"
else
    cp "$tmp" "$POT"
    echo "wrote $POT"
fi

# 2. Merge into each language's .po (created on first run).
for lang in "${LANGS[@]}"; do
    pybabel --quiet update -D "$DOMAIN" -i "$POT" -d "$LOCALE_DIR" -l "$lang" \
        --init-missing --no-wrap --ignore-pot-creation-date
done

# 3. Compile (fuzzy entries are skipped: the English text is shown for them).
for lang in "${LANGS[@]}"; do
    pybabel --quiet compile -D "$DOMAIN" -d "$LOCALE_DIR" -l "$lang"
done

# 4. Say what is left for a translator (Babel's own statistics count fuzzy entries as done).
for lang in "${LANGS[@]}"; do
    "$PYTHON" - "$LOCALE_DIR/$lang/LC_MESSAGES/$DOMAIN.po" <<'PY'
import sys
from babel.messages.pofile import read_po

path = sys.argv[1]
with open(path, "rb") as f:
    messages = [m for m in read_po(f) if m.id]
todo = [m for m in messages if not m.string or m.fuzzy]
print(f"{path}: {len(messages) - len(todo)} of {len(messages)} messages translated")
for m in todo:
    print(f"  {'fuzzy' if m.string else 'empty'}: {m.id!r}")
PY
done
