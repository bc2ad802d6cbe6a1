"""The Indonesian catalog of the tool's own messages (linter, loader, CLI).

Checks that `temanjiwa lint` really speaks Indonesian (and English with TEMANJIWA_LANG=en),
that every message is translated with the same {placeholders}, and that the catalog is in
step with the source code. When one of these fails after you added or changed a _("...")
string: run scripts/update_catalog.sh, translate the new entries in the .po, run the script
again, and commit flows/locale/ together with the code.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "flows" / "locale"
POT = LOCALE / "temanjiwa.pot"
PO = LOCALE / "id" / "LC_MESSAGES" / "temanjiwa.po"
MO = PO.with_suffix(".mo")
FIXTURE_CONTENT = Path(__file__).parent / "fixtures" / "content"
SOURCE_DIRS = ("flows", "bot")  # the same folders as babel.cfg
FIX = "Run scripts/update_catalog.sh, translate the new or fuzzy entries in {po}, run it again."


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _ids(catalog) -> set[str]:
    return {m.id for m in catalog if m.id}


def _fields(text: str) -> list[str]:
    """The {placeholders} .format() fills in, e.g. ['key', 'where']; {{ }} are not fields."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        return [f"<unbalanced braces: {exc}>"]
    return sorted(f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}"
                  for _lit, name, spec, conv in parsed if name is not None)


def _brace_groups(text: str) -> list[str]:
    """Everything written in braces, escaped YAML examples ({{id: ya}}) included."""
    return sorted(re.findall(r"\{+[^{}]*\}+", text))


def _translation() -> dict[str, str]:
    return {m.id: m.string for m in _catalog(PO) if m.id and m.string and not m.fuzzy}


# -- the linter speaks the editors' language ----------------------------------------------

@pytest.fixture
def broken_content(tmp_path: Path) -> Path:
    """A copy of the fixture content with two mistakes: a wrong next: and a misspelt key."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    quiz = target / "flows" / "quiz.yaml"
    text = quiz.read_text(encoding="utf-8")
    for old, new in [("    next: q2\n", "    next: q_2\n"),
                     ("    say: Pertanyaan dua?\n", "    say: Pertanyaan dua?\n    sya: x\n")]:
        assert old in text, f"tests/fixtures/content changed: {old!r} not in quiz.yaml"
        text = text.replace(old, new, 1)
    quiz.write_text(text, encoding="utf-8")
    return target


def _lint(directory: Path, lang: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TEMANJIWA_LANG"}
    if lang is not None:
        env["TEMANJIWA_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "bot.cli", "lint", str(directory)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def _expected(tr) -> list[str]:
    """The lines the broken content must produce, through the translation function `tr`."""
    return [
        tr("Node '{node}' goes to '{target}', but this flow has no such node.").format(
            node="q1", target="q_2"),
        tr("Unknown key '{key}' in {where}.").format(
            key="sya", where=tr("node '{node}'").format(node="q2")),
        tr("Did you mean '{close}'?").format(close="say"),
    ]


def _summary(tr) -> re.Pattern[str]:
    """The last line of a failed lint, any numbers and folder."""
    template = tr("{errors} error(s), {warnings} warning(s) in {dir}. The bot will keep serving "
                  "the last good content until they are fixed.")
    return re.compile(re.sub(r"\\\{\w+\\\}", ".+?", re.escape(template)))


@pytest.mark.parametrize("lang", ["id", None], ids=["TEMANJIWA_LANG=id", "default"])
def test_lint_speaks_indonesian(broken_content, lang):
    result = _lint(broken_content, lang)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    indonesian = _translation()
    for line in _expected(lambda msgid: indonesian.get(msgid, f"<untranslated: {msgid}>")):
        assert line in out, f"missing Indonesian line {line!r} in:\n{out}"
    for english in _expected(lambda msgid: msgid):
        assert english not in out, f"English line {english!r} in:\n{out}"
    assert _summary(lambda msgid: indonesian[msgid]).search(out), out
    assert re.search(r"\d+ kesalahan, \d+ peringatan di ", out), out
    assert "Traceback" not in out


def test_lint_speaks_english_with_lang_en(broken_content):
    result = _lint(broken_content, "en")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    for line in _expected(lambda msgid: msgid):
        assert line in out, f"missing English line {line!r} in:\n{out}"
    assert _summary(lambda msgid: msgid).search(out), out
    assert re.search(r"\d+ error\(s\), \d+ warning\(s\) in ", out), out
    assert "kesalahan" not in out and "Maksud Anda" not in out, out


# -- the catalog is complete and correct ---------------------------------------------------

def test_every_message_has_an_indonesian_translation_with_the_same_placeholders():
    template = _ids(_catalog(POT))
    po = {m.id: m for m in _catalog(PO) if m.id}
    problems = []
    for msgid in sorted(template):
        message = po.get(msgid)
        if message is None:
            problems.append(f"not in the .po: {msgid!r}")
            continue
        text = message.string
        if not text or not text.strip():
            problems.append(f"not translated: {msgid!r}")
            continue
        if message.fuzzy:
            problems.append(f"marked fuzzy (check it, then delete the '#, fuzzy' line): {msgid!r}")
        if _fields(text) != _fields(msgid):
            problems.append(f"placeholders differ: {msgid!r} has {_fields(msgid)}, "
                            f"the translation {text!r} has {_fields(text)}")
        elif _brace_groups(text) != _brace_groups(msgid):
            problems.append(f"text in braces differs: {msgid!r} has {_brace_groups(msgid)}, "
                            f"the translation {text!r} has {_brace_groups(text)}")
        if text.count("\n") != msgid.count("\n"):
            problems.append(f"line breaks differ: {msgid!r} → {text!r}")
        for side, a, b in [("leading", msgid[: len(msgid) - len(msgid.lstrip())],
                            text[: len(text) - len(text.lstrip())]),
                           ("trailing", msgid[len(msgid.rstrip()):], text[len(text.rstrip()):])]:
            if a != b:
                problems.append(f"{side} spaces differ: {msgid!r} → {text!r}")
    stale = sorted(set(po) - template)
    if stale:
        problems.append(f"in the .po but no longer in the .pot: {stale}")
    assert not problems, "\n".join([*problems, FIX.format(po=PO.relative_to(ROOT))])


def test_mo_is_compiled_from_the_current_po():
    with MO.open("rb") as f:
        compiled = dict(gettext.GNUTranslations(f)._catalog)  # type: ignore[attr-defined]
    compiled.pop("", None)
    expected = _translation()
    differ = sorted(k for k in compiled.keys() | expected.keys()
                    if compiled.get(k) != expected.get(k))
    assert not differ, (f"{MO.relative_to(ROOT)} does not match the .po for {differ[:5]} "
                        f"({len(differ)} messages): run scripts/update_catalog.sh")


def test_the_program_finds_the_catalog():
    translation = gettext.translation("temanjiwa", LOCALE, languages=["id"])
    assert translation.gettext("Did you mean '{close}'?") == "Maksud Anda '{close}'?"


# -- the catalog is in step with the source ------------------------------------------------

def test_pot_is_up_to_date_with_the_source(tmp_path):
    fresh = tmp_path / "fresh.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "--quiet", "extract", "-F",
         "babel.cfg", "-k", "_", "--no-location", "-o", str(fresh), "."],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=120,
    )
    source, committed = _ids(_catalog(fresh)), _ids(_catalog(POT))
    new, gone = sorted(source - committed), sorted(committed - source)
    assert not new and not gone, (
        f"{POT.relative_to(ROOT)} is out of date with the code.\n"
        f"New messages in the code: {new}\nMessages no longer in the code: {gone}\n"
        + FIX.format(po=PO.relative_to(ROOT))
    )


# Known and reported: the `temanjiwa cases list` column header is an _() inside an f-string,
# so it is not in the catalog and stays English. Delete the entry once bot/cli.py assigns it
# to a variable first (then run scripts/update_catalog.sh: "last reply" = "balasan terakhir").
KNOWN_IN_FSTRING = {("bot/cli.py", "last reply")}


def _source_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


def _binds_underscore(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == "_" and isinstance(node.ctx, ast.Store)
    return isinstance(node, ast.arg) and node.arg == "_"


def test_every_gettext_call_can_be_extracted():
    """_() needs one plain string literal, outside f-strings, or Babel cannot see it."""
    problems = []
    for path in _source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        if any(isinstance(n, ast.ImportFrom) and n.module == "flows.i18n" for n in tree.body):
            problems += [f"{path.relative_to(ROOT)}:{n.lineno}: '_' is reassigned here, so the "
                         "_() calls of this module stop translating; use another throwaway name"
                         for n in ast.walk(tree) if _binds_underscore(n)]
        in_fstring = {id(n) for f in ast.walk(tree) if isinstance(f, ast.JoinedStr)
                      for n in ast.walk(f) if isinstance(n, ast.Call)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_"):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            args = node.args
            if len(args) != 1 or node.keywords or not (
                    isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)):
                problems.append(f"{where}: _() must get one plain string literal, not "
                                f"{ast.unparse(node)!r}; format it afterwards with .format()")
            elif (id(node) in in_fstring
                  and (str(path.relative_to(ROOT)), args[0].value) not in KNOWN_IN_FSTRING):
                problems.append(f"{where}: _({args[0].value!r}) is inside an f-string, where "
                                "Babel does not find it on Python 3.11; assign it to a variable "
                                "first")
    assert not problems, "\n".join(problems)
